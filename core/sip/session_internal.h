/*
 * session_internal.h — what the parts of an INVITE session share (see session.h): the session
 * and stream structures, and the session's life in session.c that every part may end. Each
 * part has its own header for what it offers the others:
 *
 *   session.c          the dialog: an incoming INVITE handed to its plugin, the plugin's
 *                      answer (ring, accept, reject, terminate), nua's events, the end
 *   session_offer.c    SDP offer/answer: late offers, answers in ACKs, re-INVITEs
 *   session_streams.c  stream bookkeeping and the SDK's stream accessors
 *   session_media.c    the remote description applied to the streams (RTP, SRTP, DTMF, MSRP
 *                      peers) and the RTP timeout
 *   session_msrp.c     chat and file-transfer streams over MSRP
 *   session_out.c      INVITEs the server originates (sylk_session_connect) and their answers
 *   session_focus.c    our Contact as a conference focus (RFC 4579)
 *
 * Not a public header: only core/sip/session*.c include it. Thread: main thread.
 */
#ifndef SYLK_SESSION_INTERNAL_H
#define SYLK_SESSION_INTERNAL_H

#include "msrp/file_selector.h"
#include "sdp/sdp.h"
#include "server.h"
#include "sip/request.h"
#include "sip/session.h"

enum state {
    S_INCOMING,    /* waiting for the plugin to answer */
    S_EARLY,       /* 180 sent */
    S_ACCEPTED,    /* 200 sent, waiting for ACK */
    S_CALLING,     /* outgoing INVITE sent */
    S_ESTABLISHED, /* confirmed */
    S_ENDING,      /* BYE/CANCEL/error sent or received */
};

struct sylk_stream {
    struct sylk_session *session;         /* NULL for a media endpoint's stream */
    struct sylk_media_endpoint *endpoint; /* the endpoint (endpoint.c) it is, or NULL */
    unsigned index;                       /* m= line */
    struct sylk_rtp_socket *rtp;
    char codec[32];
    bool keyed; /* SRTP contexts exist, made from these two keys */
    struct sylk_sdes key_local, key_remote;
    struct sylk_msrp_session *msrp; /* an accepted chat or file-transfer stream */
    struct sylk_chat_handler chat;
    void *chat_data;
    bool in_message;       /* inside chat.message: chat_refuse may set refuse_status */
    int refuse_status;     /* 0, or the MSRP status the plugin refused the message with */
    gint64 full_warned_at; /* last warning that the peer had too much waiting (chat_send) */
    /* file transfer */
    struct sylk_file_selector selector; /* parsed on first use */
    bool selector_parsed, selector_bad;
    struct sylk_file_handler file;
    void *file_data;
    bool file_busy;     /* file_receive or file_send under way: file.done is owed */
    int file_fd;        /* the file being received, or -1 */
    uint64_t file_size; /* of the file being sent */
    /* set_local_attribute: accept-types, accept-wrapped-types, chatroom of our answer; NULL
     * mirrors the offer, "" leaves the attribute out */
    char *local_attrs[3];
};

struct sylk_session {
    struct sylk_owner owner;
    struct sylk_sip_stack *stack;
    nua_handle_t *nh;
    const struct sylk_loaded_plugin *plugin;
    struct sylk_request *request; /* the INVITE received, or the one we sent */
    enum state state;
    bool incoming, late_offer, established_reported;
    bool answer_in_ack;     /* our 2xx carried an offer: the ACK carries the answer */
    struct sylk_sdp remote; /* last offer or answer received */
    struct sylk_sdp local;  /* last description sent */
    GPtrArray *streams;     /* struct sylk_stream *, presented to the plugin */
    guint64 sess_id;
    unsigned sdp_version;
    struct sylk_session_handler handler;
    void *user_data;
    guint answer_timer;
    bool media_watched; /* its RTP timeout is checked (check_all_media), once established */
    gint64 established_us;
    int end_status;
    char *end_reason;
    char *transport;     /* of the INVITE received: "udp", "tcp", "tls" */
    char *focus_contact; /* our Contact with isfocus (RFC 4579), or NULL: the stack's own */
};

/* The server's configuration, read by every part. */
static inline struct sylk_server_config *cfg(void)
{
    return &sylk_server_get()->config;
}

/* ------------------------------------------------------------------ session.c --- */

/** A session on `nh`, bound to it and listed in the stack. */
struct sylk_session *sylk_session_new(struct sylk_sip_stack *stack, nua_handle_t *nh);
/** Records why the session ends; the first reason stays. */
void sylk_session_set_end(struct sylk_session *s, int status, const char *reason);
/** The single exit: tell the plugin, release everything, destroy the handle, free `s`. */
void sylk_session_finish(struct sylk_session *s, int status, const char *phrase);
/** An error response to the INVITE (with a Warning when `warning` is set); the session ends. */
void sylk_session_respond_error(struct sylk_session *s, int status, const char *reason,
                                const char *warning);
/**
 * Ends the session as its state allows: `unanswered_status` to an INVITE not yet answered,
 * CANCEL to ours, BYE once answered; -ENOTCONN when it is already ending.
 */
int sylk_session_terminate_with(struct sylk_session *s, int unanswered_status, const char *reason);

#endif
