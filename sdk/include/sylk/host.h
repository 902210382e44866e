/*
 * sylk/host.h — the functions the server offers to plugins, as one table.
 *
 * A plugin receives `const struct sylk_host *` in its init callback and reaches the core only
 * through it. New functions are appended (minor ABI bump): before calling a function added
 * after 1.0, check `SYLK_HOST_HAS(host, member)`.
 *
 * Threads: call every function from the main thread (inside a plugin callback or a timer).
 * Return values: 0 or a positive count on success, a negative errno on failure (-EINVAL bad
 * argument, -EALREADY answered twice, -ENOTCONN handle already ending, -ENOMEM, -ENOTSUP).
 */
#ifndef SYLK_HOST_H
#define SYLK_HOST_H

#include <stdarg.h>
#include <sylk/plugin.h>
#include <sylk/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** True when the host table is large enough to contain `member`. */
#define SYLK_HOST_HAS(host, member)                                                                \
    ((host)->struct_size >= offsetof(struct sylk_host, member) + sizeof((host)->member) &&         \
     (host)->member != NULL)

/** Events of a session, registered with session_set_handler. Any member may be NULL. */
struct sylk_session_handler {
    uint32_t struct_size; /* sizeof(struct sylk_session_handler) */
    /** A provisional response (1xx) to a session the plugin originated. */
    void (*progress)(sylk_session *session, int status, const char *reason, void *user_data);
    /** The session is confirmed: ACK received (incoming) or 2xx received (outgoing). */
    void (*established)(sylk_session *session, void *user_data);
    /**
     * The session is over: BYE from either side, CANCEL, rejection, failure or shutdown.
     * `status` is the SIP status that ended it (200 for a BYE). The handle and its streams are
     * invalid once this returns.
     */
    void (*ended)(sylk_session *session, int status, const char *reason, void *user_data);
    /**
     * A DTMF digit received on an audio stream as an RFC 4733 telephone-event ('0'-'9', '*',
     * '#', 'A'-'D'), once per key press, when it ends; `duration_ms` is how long it lasted.
     */
    void (*dtmf)(sylk_session *session, sylk_stream *stream, char digit, unsigned duration_ms,
                 void *user_data);
};

/** Events of a subscription, registered with subscription_set_handler. */
struct sylk_subscription_handler {
    uint32_t struct_size; /* sizeof(struct sylk_subscription_handler) */
    /** Unsubscribed, expired, or terminated: the handle is invalid once this returns. */
    void (*ended)(sylk_subscription *subscription, const char *reason, void *user_data);
};

/** An INVITE the plugin originates (session_connect). */
struct sylk_session_params {
    uint32_t struct_size;              /* sizeof(struct sylk_session_params) */
    const char *from;                  /* From, "Name <sip:a@b>" or a bare URI */
    const char *to;                    /* To, same forms */
    const char *request_uri;           /* NULL: the URI of `to` */
    const enum sylk_media_type *media; /* the streams to offer, in m= line order */
    size_t media_count;                /* at least one */
    const char *extra_headers;         /* "Name: value\r\n…" added to the INVITE, or NULL */
    const struct sylk_session_handler *handler;
    void *user_data;
};

/** A MESSAGE the plugin originates (message_send). The result callback is optional. */
struct sylk_message_params {
    uint32_t struct_size;     /* sizeof(struct sylk_message_params) */
    const char *from;         /* From, "Name <sip:a@b>" or a bare URI */
    const char *to;           /* To, same forms */
    const char *request_uri;  /* NULL: the URI of `to` */
    const char *content_type; /* e.g. "text/plain" or "message/cpim" */
    const void *body;
    size_t body_len;
    const char *extra_headers; /* "Name: value\r\n…" or NULL */
    /** Final response (or 408/503 on timeout/transport failure). */
    void (*result)(int status, const char *reason, void *user_data);
    void *user_data;
};

typedef void (*sylk_timer_fn)(sylk_timer *timer, void *user_data);

/** The host function table. */
struct sylk_host {
    uint32_t struct_size; /* sizeof(struct sylk_host) in the server */
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *server_version;

    /* --- logging: `domain` is shown with each line, e.g. the plugin name --- */
    void (*log)(const char *domain, enum sylk_log_level level, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
    void (*logv)(const char *domain, enum sylk_log_level level, const char *format, va_list ap);

    /* --- the plugin's configuration file; values live as long as the config --- */
    const char *(*config_get_string)(sylk_config *config, const char *section, const char *key,
                                     const char *fallback);
    long (*config_get_int)(sylk_config *config, const char *section, const char *key,
                           long fallback);
    bool (*config_get_bool)(sylk_config *config, const char *section, const char *key,
                            bool fallback);
    /** Comma-separated list; `*items` is NULL-terminated and owned by the config. */
    size_t (*config_get_list)(sylk_config *config, const char *section, const char *key,
                              const char *const **items);
    /** All section names, NULL-terminated, owned by the config. */
    size_t (*config_sections)(sylk_config *config, const char *const **sections);

    /* --- main-loop timers: a one-shot timer is freed after its callback returns --- */
    sylk_timer *(*timer_add)(unsigned interval_ms, bool repeat, sylk_timer_fn fn, void *user_data);
    void (*timer_cancel)(sylk_timer *timer);

    /* --- any request: a header by name (first occurrence, value only), or NULL --- */
    const char *(*request_header)(const struct sylk_request_info *request, const char *name);

    /* --- sessions --- */
    const struct sylk_request_info *(*session_request)(sylk_session *session);
    void (*session_set_handler)(sylk_session *session, const struct sylk_session_handler *handler,
                                void *user_data);
    void *(*session_user_data)(sylk_session *session);
    /** The usable streams of the offer (unusable m= lines are refused by the core). */
    size_t (*session_stream_count)(sylk_session *session);
    sylk_stream *(*session_stream)(sylk_session *session, size_t index);
    /** Send 180 Ringing. */
    int (*session_ring)(sylk_session *session);
    /**
     * Answer 200 with an SDP built by the core, accepting `streams` (a subset of the session's
     * streams) and refusing the others. For an INVITE without SDP the streams are the core's
     * proposal and the 200 carries the offer.
     */
    int (*session_accept)(sylk_session *session, sylk_stream *const *streams, size_t count);
    /** Answer with a final error status (400..699) before the session is accepted. */
    int (*session_reject)(sylk_session *session, int status, const char *reason);
    /** End the session: BYE when established, CANCEL/487 before. `ended` follows. */
    int (*session_terminate)(sylk_session *session);
    /** Originate an INVITE through the outbound proxy; NULL on a bad argument. */
    sylk_session *(*session_connect)(const struct sylk_session_params *params);

    /* --- streams --- */
    enum sylk_media_type (*stream_type)(sylk_stream *stream);
    enum sylk_direction (*stream_direction)(sylk_stream *stream);
    sylk_session *(*stream_session)(sylk_stream *stream);
    /** Negotiated codec, "PCMU/8000"; NULL before negotiation or for non-RTP streams. */
    const char *(*stream_codec)(sylk_stream *stream);
    /** Send every RTP packet received on an audio stream back to its sender after delay_ms. */
    int (*audio_loopback)(sylk_stream *stream, unsigned delay_ms);

    /* --- MESSAGE --- */
    const struct sylk_request_info *(*message_request)(sylk_message *message);
    /**
     * The one response to a received MESSAGE; the handle is invalid afterwards. When the
     * plugin has not responded within 30 s (or the server shuts down) the server answers 500
     * (503) itself; the handle then stays valid until this call, which returns -ETIMEDOUT.
     */
    int (*message_respond)(sylk_message *message, int status, const char *reason);
    int (*message_send)(const struct sylk_message_params *params);

    /* --- subscriptions (server as notifier) --- */
    const struct sylk_request_info *(*subscription_request)(sylk_subscription *subscription);
    const char *(*subscription_event)(sylk_subscription *subscription);
    void (*subscription_set_handler)(sylk_subscription *subscription,
                                     const struct sylk_subscription_handler *handler,
                                     void *user_data);
    /**
     * 200 OK; send the initial NOTIFY right after. A SUBSCRIBE not answered within 32 s gets
     * 500 from the server: with a handler set, `ended` follows; otherwise the plugin's late
     * accept or reject returns -ETIMEDOUT and releases the handle.
     */
    int (*subscription_accept)(sylk_subscription *subscription);
    int (*subscription_reject)(sylk_subscription *subscription, int status, const char *reason);
    int (*subscription_notify)(sylk_subscription *subscription, const char *content_type,
                               const void *body, size_t body_len);
    /** Final NOTIFY with Subscription-State: terminated;reason=…; `ended` follows. */
    int (*subscription_terminate)(sylk_subscription *subscription, const char *reason);

    /* --- referrals (REFER; RFC 3515 with sipfrag NOTIFYs) --- */
    const struct sylk_request_info *(*referral_request)(sylk_referral *referral);
    /** The Refer-To URI, without its method parameter. */
    const char *(*referral_refer_to)(sylk_referral *referral);
    /** The method in Refer-To ("INVITE" unless a method= parameter says otherwise). */
    const char *(*referral_refer_method)(sylk_referral *referral);
    /** The session the REFER arrived in, or NULL for an out-of-dialog REFER. */
    sylk_session *(*referral_session)(sylk_referral *referral);
    /**
     * 202 Accepted; report progress with referral_notify (100 first, then the final status).
     * The handle lives until referral_reject or a final referral_notify; at shutdown the
     * server answers or ends it itself and those calls return -ENOTCONN.
     */
    int (*referral_accept)(sylk_referral *referral);
    int (*referral_reject)(sylk_referral *referral, int status, const char *reason);
    /** NOTIFY with a sipfrag "SIP/2.0 <status> <reason>"; status >= 200 ends the referral. */
    int (*referral_notify)(sylk_referral *referral, int status, const char *reason);
};

#ifdef __cplusplus
}
#endif
#endif /* SYLK_HOST_H */
