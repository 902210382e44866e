/*
 * stack.h — sofia-sip's nua on the GLib main loop: transports from [sip], the one nua event
 * callback, and dispatch to sessions, messages, subscriptions (both sides) and referrals.
 *
 * Main thread only. Every nua handle is bound (nua_handle_bind) to an object that starts with
 * struct sylk_owner; its owner destroys the handle when it dies.
 */
#ifndef SYLK_STACK_H
#define SYLK_STACK_H

#include <glib.h>
#include <stdbool.h>

#define NUA_MAGIC_T  struct sylk_sip_stack
#define NUA_HMAGIC_T struct sylk_owner
#include <sofia-sip/nua.h>
#include <sofia-sip/su_glib.h>

struct sylk_server;
struct sylk_loaded_plugin;
struct sylk_sip_transport;
struct sylk_wire;

enum sylk_owner_kind {
    SYLK_OWNER_SESSION = 1,
    SYLK_OWNER_MESSAGE_IN,
    SYLK_OWNER_MESSAGE_OUT,
    SYLK_OWNER_SUBSCRIPTION,
    SYLK_OWNER_REFERRAL,
    SYLK_OWNER_SUBSCRIBER, /* a SUBSCRIBE a plugin sent (subscriber.c) */
    SYLK_OWNER_REFERRER,   /* a REFER a plugin sent (referrer.c) */
};

struct sylk_owner {
    enum sylk_owner_kind kind;
};

/* Methods counted by name (sofia's sip_method_t, 1..PUBLISH); index 0 is any other method. */
#define SYLK_SIP_METHODS (sip_method_publish + 1)

/* SIP traffic since the start, as nua reports it (retransmissions absorbed by nta are not
 * counted): requests received by method, responses received by method and class 1xx..6xx;
 * requests and responses sent, counted where the core asks nua to send them and where nua
 * reports one it sent by itself (README, Metrics, lists what neither shows). */
struct sylk_sip_counters {
    uint64_t requests_in[SYLK_SIP_METHODS];
    uint64_t responses_in[SYLK_SIP_METHODS][6];
    uint64_t requests_out[SYLK_SIP_METHODS];
    uint64_t responses_out[SYLK_SIP_METHODS][6];
};

/** The label of a method index of struct sylk_sip_counters ("INVITE", …, "other"). */
const char *sylk_sip_method_label(unsigned index);

/** Counts a request of `method` sent (the running server's stack; nothing without one). */
void sylk_sip_count_request(sip_method_t method);

/** Counts a response with `status` sent to a request of `method`. */
void sylk_sip_count_response(sip_method_t method, int status);

/** The method of a request message (nua_current_request, nua_saved_event_request). */
sip_method_t sylk_sip_request_method(msg_t *request);

/*
 * nua_respond, counted: every response the core sends goes through it. `method` is that of the
 * request answered (nua does not say which one a handle's response goes to).
 */
#define sylk_sip_respond(method, nh, status, ...)                                                  \
    (sylk_sip_count_response((method), (status)), nua_respond((nh), (status), __VA_ARGS__))

struct sylk_sip_stack {
    struct sylk_server *server;
    su_root_t *root;
    nua_t *nua;
    guint source_id;
    GList *sessions;      /* struct sylk_session *, live */
    guint media_check;    /* one 1 s timer for every session's RTP timeout (session.c) */
    GList *subscriptions; /* struct sylk_subscription * */
    GList *referrals;     /* struct sylk_referral * */
    GQueue messages;      /* struct sylk_message * awaiting the plugin's response, oldest first */
    guint messages_timer; /* their one response timeout (message.c) */
    GList *outgoing;      /* struct sylk_outgoing_message * awaiting a final response */
    GList *subscribers;   /* struct sylk_outgoing_subscription *, until ended */
    GList *referrers;     /* struct sylk_outgoing_referral *, until ended */
    bool shutting_down;
    bool shutdown_done;
    char *tls_dir;
    struct sylk_wire *wire;               /* the message class nta parses with (wire.c) */
    struct sylk_sip_transport *transport; /* UDP buffer, connection limits; NULL: none */
    GHashTable *phrases;                  /* reason phrases kept for nta (sylk_sip_phrase) */
    struct sylk_sip_counters counters;    /* read by metrics on the main thread */
};

/** Creates the stack and binds the transports; false with `error` set on failure. */
bool sylk_sip_stack_start(struct sylk_sip_stack *stack, struct sylk_server *server, GError **error);

/** Switches the transports' message dump (TPTAG_LOG, the SIP trace) on or off while running. */
void sylk_sip_stack_set_trace(struct sylk_sip_stack *stack, bool on);

/** Ends every dialog and starts nua_shutdown; shutdown_done turns true when it completed. */
void sylk_sip_stack_shutdown(struct sylk_sip_stack *stack);

/** nua_destroy and su_root_destroy; only after shutdown_done (or if start failed). */
void sylk_sip_stack_destroy(struct sylk_sip_stack *stack);

/** The stack of the running server (for the modules below it). */
struct sylk_sip_stack *sylk_sip_stack_get(void);

/**
 * A handle for a request the server originates. `to` and `from` are "Name <uri>" or bare URIs
 * (a bare URI's parameters are the URI's: it is put in <>); the Request-URI is `request_uri`
 * when given, else the URI of `to`. NULL when unparsable.
 */
nua_handle_t *sylk_sip_handle_new(struct sylk_sip_stack *stack, struct sylk_owner *owner,
                                  const char *request_uri, const char *from, const char *to);

/* Distinct reason phrases kept (sylk_sip_phrase); past this many the standard one is used. */
#define SYLK_SIP_MAX_PHRASES 1024

/**
 * A reason phrase for nua_respond that lives as long as the server: nua and nta keep a pointer to
 * it (sip_status_create does not copy it) in the response, which its server transaction keeps
 * and encodes again for a retransmitted request long after the handle is gone (RFC 3261 §17.2.2:
 * 32 s over UDP). The status's standard phrase is sofia's static text; others are kept once each
 * in the stack, at most SYLK_SIP_MAX_PHRASES (then the standard phrase, logged). NULL: the
 * standard phrase.
 */
const char *sylk_sip_phrase(int status, const char *phrase);

/** Answers a request that has no owner yet and destroys its handle. */
void sylk_sip_reject_unowned(nua_t *nua, nua_handle_t *nh, int status, const char *reason,
                             const char *warning);

#endif
