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
     * `status` is the SIP status that ended it (200 for a BYE). Its audio has already stopped
     * and left any mixer. The handle and its streams are invalid once this returns.
     */
    void (*ended)(sylk_session *session, int status, const char *reason, void *user_data);
    /**
     * A DTMF digit received on an audio stream as an RFC 4733 telephone-event ('0'-'9', '*',
     * '#', 'A'-'D'), once per key press, when it ends; `duration_ms` is how long it lasted.
     */
    void (*dtmf)(sylk_session *session, sylk_stream *stream, char digit, unsigned duration_ms,
                 void *user_data);
    /**
     * (1.2) A re-INVITE offers a stream the session did not have. Return true to take it (for
     * a chat stream, set its chat handler here); false, or no callback, refuses it (port 0).
     * It then appears in session_stream_count/session_stream like the others.
     */
    bool (*stream_added)(sylk_session *session, sylk_stream *stream, void *user_data);
    /**
     * (1.4) A re-INVITE was answered: directions (hold: the peer sendonly or inactive) or
     * streams it disabled (port 0: stream_enabled false, a chat stream's MSRP session closed)
     * may have changed. Streams it added were offered to stream_added first.
     */
    void (*updated)(sylk_session *session, void *user_data);
};

/** Events of a subscription, registered with subscription_set_handler. */
struct sylk_subscription_handler {
    uint32_t struct_size; /* sizeof(struct sylk_subscription_handler) */
    /**
     * Unsubscribed, expired, or terminated ("unsubscribed", "timeout", "terminated",
     * "rejected", "shutdown"): the handle is invalid once this returns.
     */
    void (*ended)(sylk_subscription *subscription, const char *reason, void *user_data);
    /* --- 1.7 --- */
    /**
     * The subscriber refreshed the subscription for `expires` seconds, or ended it (0: an
     * un-SUBSCRIBE). Send the current state now with subscription_notify (RFC 6665: a NOTIFY
     * follows every SUBSCRIBE; a package with versioned documents sends a new version). For
     * an un-SUBSCRIBE that NOTIFY is the final one (terminated) and `ended` follows; without
     * it the final NOTIFY has no body. Without this callback the core sends a NOTIFY without
     * a body after a refresh.
     */
    void (*refreshed)(sylk_subscription *subscription, unsigned expires, void *user_data);
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
    /* --- 1.3 --- */
    /** For each SYLK_MEDIA_FILE_TRANSFER in `media`, in order: the file the server offers to
     * send (a=sendonly; name, type and size at least); send it with file_send once the
     * session is established. SYLK_MEDIA_CHAT offers chat (the server connects to the
     * answerer's MSRP path, RFC 6135 active side). */
    const struct sylk_file_info *files;
    size_t file_count;
    /* --- 1.5 --- */
    /** Our Contact carries isfocus (RFC 4579): the plugin is a conference focus. */
    bool focus;
    /* --- 1.8 --- */
    /** a=chatroom (RFC 7701) on the offer's chat streams, e.g. "nickname private-messages": a
     * room calling a participant says what its chat takes. NULL: none. */
    const char *chatroom;
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

/**
 * A prompt (play_file, play_tone) has been played out. Not called when its stream ends or its
 * mixer is freed first. (ABI 1.1)
 */
typedef void (*sylk_play_done_fn)(void *user_data);

/**
 * A chat message received on a chat stream (MSRP, RFC 4975). When it came wrapped in CPIM
 * (message/cpim, RFC 3862) the core unwrapped it: content_type and body are the payload's and
 * the cpim_* fields carry the wrapper's headers. Strings are valid during the callback. (1.2)
 */
struct sylk_chat_message {
    uint32_t struct_size;     /* sizeof(struct sylk_chat_message) */
    const char *content_type; /* "text/plain", "text/html", "image/png", … */
    const void *body;         /* NUL-terminated for convenience */
    size_t body_len;
    bool cpim;                 /* it came as message/cpim */
    const char *cpim_from;     /* CPIM From ("Name <sip:a@b>"), or NULL */
    const char *cpim_to;       /* the first CPIM To, or NULL */
    const char *cpim_datetime; /* CPIM DateTime, or NULL */
    /* --- 1.3 --- */
    const char *message_id; /* the MSRP Message-ID */
    /** Every CPIM header as name/value pairs, NULL-terminated, names as sent ("To" may occur
     * several times; "agp.Message-Type" with its prefix; NS lines included); NULL when the
     * message was not wrapped. */
    const char *const *cpim_headers;
};

/** An is-composing indication (RFC 3994) received or to send. (1.3) */
struct sylk_chat_composing {
    uint32_t struct_size;     /* sizeof(struct sylk_chat_composing) */
    bool active;              /* state "active" (typing), else "idle" */
    const char *content_type; /* what is being composed ("text/plain"), or NULL */
    unsigned refresh;         /* seconds until the next active indication, 0 when absent */
    const char *last_active;  /* received: lastactive (date-time), or NULL; ignored on send */
    /* CPIM wrapper: received, the wrapper's (or NULL); on send, as in sylk_chat_send_params */
    const char *cpim_from;
    const char *cpim_to;
    const char *const *cpim_headers;
};

/** Events of a chat stream, registered with chat_set_handler. (1.2) */
struct sylk_chat_handler {
    uint32_t struct_size; /* sizeof(struct sylk_chat_handler) */
    void (*message)(sylk_stream *stream, const struct sylk_chat_message *message, void *user_data);
    /** The peer's MSRP connection went away and none came back within [msrp]
     * reconnect_timeout (until then messages wait for a reconnect); what was not delivered
     * failed first. The SIP session may go on. */
    void (*closed)(sylk_stream *stream, void *user_data);
    /* --- 1.3 --- */
    /**
     * An is-composing indication (application/im-iscomposing+xml, unwrapped from CPIM when
     * wrapped). Without this callback such messages reach `message` like any other.
     */
    void (*composing)(sylk_stream *stream, const struct sylk_chat_composing *composing,
                      void *user_data);
    /**
     * A NICKNAME request (RFC 7701) with its Use-Nickname value ("" asks to clear it). Return
     * 200 to grant it, 425 when another participant holds it, or another MSRP status (403,
     * 423…). Without this callback the request gets 501.
     */
    int (*nickname)(sylk_stream *stream, const char *nickname, void *user_data);
    /**
     * A message of chat_send with a `token` was delivered (200: every chunk accepted by the
     * peer) or not (its failure status; 408 for no answer in 30 s or a lost connection).
     */
    void (*sent)(sylk_stream *stream, void *token, int status, void *user_data);
    /* --- 1.8 --- */
    /**
     * The outcome of chat_send_nickname with its `token`: the status of the peer's response
     * to the NICKNAME (200 granted, 425 in use or reserved, 423 too long, 403 not allowed,
     * 501 not supported…), or 408 when no response came within 30 s or the connection it was
     * sent on was lost. Called once per request; not after the session ended.
     */
    void (*nickname_result)(sylk_stream *stream, void *token, int status, void *user_data);
};

/** An RFC 5547 file description: a=file-selector and a=file-transfer-id. (1.3) */
struct sylk_file_info {
    uint32_t struct_size;    /* sizeof(struct sylk_file_info) */
    const char *name;        /* file name as offered (no path), or NULL */
    const char *type;        /* MIME type, or NULL */
    uint64_t size;           /* bytes, 0 when not given */
    const char *hash_sha1;   /* "3B:A8:…" (20 hex pairs, upper case), or NULL */
    const char *transfer_id; /* a=file-transfer-id, or NULL */
};

/** Events of a file transfer (file_receive, file_send). (1.3) */
struct sylk_file_handler {
    uint32_t struct_size; /* sizeof(struct sylk_file_handler) */
    /** Bytes received, or acknowledged by the peer, so far; at most 5 times a second. */
    void (*progress)(sylk_stream *stream, uint64_t bytes, uint64_t total, void *user_data);
    /**
     * The transfer is over. status 200: every byte is in place (received: the file's SHA-1 in
     * `hash_sha1` as the selector writes it, and its size); otherwise an MSRP status: 400
     * aborted by the sender, 413 too large or the disk would not take it, 408 the connection
     * was lost or the peer stopped answering. Called once; not after the session ended.
     */
    void (*done)(sylk_stream *stream, int status, const char *hash_sha1, uint64_t size,
                 void *user_data);
};

/** A chat message to send (chat_send). (1.2) */
struct sylk_chat_send_params {
    uint32_t struct_size; /* sizeof(struct sylk_chat_send_params) */
    const char *content_type;
    const void *body;
    size_t body_len;
    /* With cpim_from set, the core wraps the payload in message/cpim with these headers and
     * a DateTime (now, unless cpim_headers has one); extra CPIM headers are name/value pairs
     * ending with NULL, or NULL. */
    const char *cpim_from;
    const char *cpim_to;
    const char *const *cpim_headers;
    /* --- 1.3 --- */
    void *token; /* non-NULL: the chat handler's `sent` reports this message's outcome */
};

/**
 * A watched file descriptor is ready: `events` is a mask of enum sylk_fd_events. (1.7)
 */
typedef void (*sylk_fd_fn)(sylk_fd_watch *watch, int fd, unsigned events, void *user_data);

/** One address to connect to, as resolve found it. (1.7) */
struct sylk_resolved_address {
    uint32_t struct_size; /* sizeof(struct sylk_resolved_address) */
    const char *address;  /* numeric: "192.0.2.1" or "2001:db8::1" */
    uint16_t port;
    const char *target; /* the SRV target (or the domain, or the literal) it belongs to */
};

/**
 * The outcome of resolve, once: status 0 with the addresses in the order to try them (each
 * target's in the order the system resolver gives them), or a negative errno with none:
 * -ENOENT (no such name, no address, no SRV record and no fallback port, or an SRV target "."),
 * -ETIMEDOUT (no complete answer within 10 s, or a temporary DNS failure; what was found by
 * then is delivered instead, with status 0), -EIO (another failure). The array and its
 * strings are valid during the callback; the query is freed when it returns. (1.7)
 */
typedef void (*sylk_resolve_fn)(sylk_resolve *query, int status,
                                const struct sylk_resolved_address *addresses, size_t count,
                                void *user_data);

/** Events of a subscription the plugin made (subscribe). (1.7) */
struct sylk_outgoing_subscription_handler {
    uint32_t struct_size; /* sizeof(struct sylk_outgoing_subscription_handler) */
    /**
     * A NOTIFY (the core answers it 200): its Subscription-State value ("active", "pending",
     * "terminated") and its body (content_type NULL and body_len 0 when it has none). A
     * terminated one is followed by `ended`, whatever its reason: with "deactivated" or
     * "probation" (RFC 6665: the subscriber may subscribe again) the core does not, the plugin
     * may.
     */
    void (*notify)(sylk_outgoing_subscription *subscription, const char *state,
                   const char *content_type, const void *body, size_t body_len, void *user_data);
    /**
     * The subscription is over; the handle is invalid once this returns. `status`: the final
     * status of a SUBSCRIBE that was refused or failed (>= 300; 408 for no answer), or 200
     * when it ended after being accepted (the notifier terminated it, the plugin unsubscribed,
     * or a refresh was refused); 408 "No NOTIFY" when no NOTIFY came within 32 s of the
     * SUBSCRIBE, even after a 200 (RFC 6665 Timer N); 503 "Server Shutting Down" when the
     * server stops (before the plugins' shutdown). `reason`: the Subscription-State reason
     * ("timeout", "noresource", "rejected", "deactivated", "giveup"…) or the response's
     * phrase; may be NULL. A subscription still active is un-SUBSCRIBEd as it ends.
     */
    void (*ended)(sylk_outgoing_subscription *subscription, int status, const char *reason,
                  void *user_data);
};

/** A SUBSCRIBE the plugin originates (subscribe). (1.7) */
struct sylk_subscribe_params {
    uint32_t struct_size;      /* sizeof(struct sylk_subscribe_params) */
    const char *from;          /* From, "Name <sip:a@b>" or a bare URI */
    const char *to;            /* To, same forms */
    const char *request_uri;   /* NULL: the URI of `to` */
    const char *event;         /* the event package, "presence" */
    const char *accept;        /* Accept, "application/pidf+xml", or NULL */
    unsigned expires;          /* seconds to ask for (nua refreshes about half way); 0: 3600 */
    const char *extra_headers; /* "Name: value\r\n…" added to the SUBSCRIBE, or NULL */
    const struct sylk_outgoing_subscription_handler *handler; /* required */
    void *user_data;
};

/** Events of a REFER the plugin sent (refer). (1.8) */
struct sylk_outgoing_referral_handler {
    uint32_t struct_size; /* sizeof(struct sylk_outgoing_referral_handler) */
    /**
     * A NOTIFY of the REFER's implicit subscription (the core answers it 200): the status and
     * phrase of its message/sipfrag body ("SIP/2.0 180 Ringing": 180, "Ringing"). Called for
     * every NOTIFY with a sipfrag, the final one (>= 200) included, before `ended`.
     */
    void (*progress)(sylk_outgoing_referral *referral, int status, const char *reason,
                     void *user_data);
    /**
     * Over, once; the handle is invalid once this returns. `status`: the final sipfrag status
     * (200 when the referred request succeeded, its failure otherwise), or the REFER's own
     * failure (>= 300; 408 when it got no answer), or 408 "No NOTIFY" when no final NOTIFY
     * came within 32 s of the REFER's 2xx or of the last NOTIFY, or 200 when the subscription
     * was terminated without a final sipfrag, or 503 when the server shuts down. `reason`:
     * the phrase, may be NULL.
     */
    void (*ended)(sylk_outgoing_referral *referral, int status, const char *reason,
                  void *user_data);
};

/** A REFER the plugin originates (refer), out of dialog (RFC 3515, RFC 4579). (1.8) */
struct sylk_refer_params {
    uint32_t struct_size;    /* sizeof(struct sylk_refer_params) */
    const char *from;        /* From, "Name <sip:a@b>" or a bare URI */
    const char *to;          /* To, same forms */
    const char *request_uri; /* NULL: the URI of `to` */
    /** Refer-To: a URI ("sip:bob@example.com") or a name-addr whose URI may carry a method
     * ("<sip:bob@example.com;method=BYE>", RFC 4579); INVITE when it has none. Required. */
    const char *refer_to;
    const char *referred_by;   /* Referred-By (RFC 3892), same forms; NULL: the From's */
    const char *extra_headers; /* "Name: value\r\n…" added to the REFER, or NULL */
    const struct sylk_outgoing_referral_handler *handler; /* required */
    void *user_data;
};

/** Events of a media endpoint (media_endpoint_new). (1.8) */
struct sylk_media_endpoint_handler {
    uint32_t struct_size; /* sizeof(struct sylk_media_endpoint_handler) */
    /** An RFC 4733 digit received (as sylk_session_handler.dtmf). */
    void (*dtmf)(sylk_media_endpoint *endpoint, char digit, unsigned duration_ms, void *user_data);
    /** No RTP came for [rtp] timeout seconds since the endpoint was negotiated (or since the
     *  last packet); called once. XEP-0177 ends such a session with <timeout/>. */
    void (*timeout)(sylk_media_endpoint *endpoint, void *user_data);
};

/**
 * A plugin's metrics collector (ABI 1.9): called on the main thread during each scrape of the
 * server's /metrics ([web] metrics = yes), to write the plugin's samples now through
 * metric_write. It must not block, and should only read the plugin's state: log and
 * metric_write are the host functions meant for it (not metrics_collector_remove).
 */
typedef void (*sylk_metrics_fn)(sylk_metric_writer *writer, void *user_data);

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
    /**
     * Play an audio stream's own audio back to it: decoded, delayed by delay_ms (0..10000),
     * re-encoded in its codec (with SRTP when the call has it).
     */
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

    /*
     * --- ABI 1.1: audio mixers and prompts (media engine) ---
     * A mixer mixes its audio streams so that each participant hears everybody but itself, in
     * its own codec. Only the `max_speakers` loudest participants are mixed (0: 3). A stream
     * is in at most one mixer; it leaves on mixer_remove, when its session ends, or when the
     * mixer is freed. The plugin frees its mixers (mixer_free), at the latest in shutdown.
     * Stream arguments must be audio streams (-EINVAL otherwise) with media: accepted, not
     * refused, not ended (-ENOTCONN otherwise).
     */
    sylk_mixer *(*mixer_new)(unsigned max_speakers);
    void (*mixer_free)(sylk_mixer *mixer);
    /** 0, or -EALREADY when the stream is already in a mixer. */
    int (*mixer_add)(sylk_mixer *mixer, sylk_stream *stream);
    /** 0, or -ENOENT when the stream is not in this mixer. */
    int (*mixer_remove)(sylk_mixer *mixer, sylk_stream *stream);
    /** Muted: the participant still hears the room but nobody hears it. */
    int (*mixer_mute)(sylk_mixer *mixer, sylk_stream *stream, bool muted);
    /** On hold: the participant neither hears nor is heard. */
    int (*mixer_hold)(sylk_mixer *mixer, sylk_stream *stream, bool held);
    /** Participants in the mixer. */
    size_t (*mixer_count)(sylk_mixer *mixer);
    /**
     * Play a WAV file (PCM 8/16-bit, mono or stereo, 8..48 kHz, up to 32 MiB) to one stream
     * (`mixer` NULL) or to every participant of a mixer (`stream` NULL). Prompts queue and
     * play one after the other, mixed over the rest of the audio. -ENOENT for a missing file,
     * -EIO for one that cannot be read, -EFBIG for one too large, -EINVAL for one that is not
     * such a WAV file (the reason is logged).
     */
    int (*play_file)(sylk_stream *stream, sylk_mixer *mixer, const char *path,
                     sylk_play_done_fn done, void *user_data);
    /** Play a sine tone (20..20000 Hz, 1 ms..600 s), to one stream or a mixer as play_file. */
    int (*play_tone)(sylk_stream *stream, sylk_mixer *mixer, unsigned freq_hz, unsigned duration_ms,
                     sylk_play_done_fn done, void *user_data);

    /*
     * --- ABI 1.2: chat streams (MSRP) ---
     * A chat stream the plugin accepted (session_accept) carries MSRP chat: the server answers
     * a=setup:passive and the peer connects to its [msrp] port.
     */
    void (*chat_set_handler)(sylk_stream *stream, const struct sylk_chat_handler *handler,
                             void *user_data);
    /**
     * Sends a message on an accepted chat stream: 0, -EINVAL (not a chat stream, bad params),
     * -ENOTCONN (the peer has not connected yet, or went away), -ENOBUFS (the peer is not
     * taking what it is sent: 16 MiB of messages already wait for it; since 1.7).
     */
    int (*chat_send)(sylk_stream *stream, const struct sylk_chat_send_params *params);

    /*
     * --- ABI 1.3: chat details, file transfer (RFC 5547) ---
     * Messages chat_send queues before the peer has connected wait for the connection.
     */
    /**
     * Only inside the chat handler's `message` callback: refuse the message with an MSRP
     * status (400..499: 403 not allowed, 404 unknown recipient, 413 too large, 415 type not
     * taken), sent in place of the 200 of its last chunk (and no success REPORT). -EINVAL
     * outside the callback or for a bad status.
     */
    int (*chat_refuse)(sylk_stream *stream, int status);
    /** Sends an is-composing indication (RFC 3994), wrapped in CPIM when cpim_from is set. */
    int (*chat_send_composing)(sylk_stream *stream, const struct sylk_chat_composing *composing);
    /** The file a file-transfer stream offers or asks for: 0, or -EINVAL (not such a stream). */
    int (*stream_file_info)(sylk_stream *stream, struct sylk_file_info *info);
    /**
     * Receives the file of an accepted file-transfer stream the peer sends (its a=sendonly)
     * into `path` (created or truncated, mode 0600), written as the chunks come; at most the
     * offered size (16 MiB when the offer gives none). Call it before session_accept or from
     * `established`. 0, -EINVAL, -EBUSY (already receiving), or the errno of opening `path`.
     */
    int (*file_receive)(sylk_stream *stream, const char *path,
                        const struct sylk_file_handler *handler, void *user_data);
    /**
     * Sends the file at `path` on an accepted file-transfer stream the peer receives (it asked
     * for it: a=recvonly pull, or the plugin offered it with session_connect), read from disk
     * as the connection takes it, as one message of the selector's type. 0, -EINVAL, -ENOTCONN,
     * or the errno of opening `path`.
     */
    int (*file_send)(sylk_stream *stream, const char *path, const struct sylk_file_handler *handler,
                     void *user_data);

    /* --- ABI 1.4: stream state and MSRP attributes (conference) --- */
    /** False once the stream is refused or disabled (port 0) or its session is ending. */
    bool (*stream_enabled)(sylk_stream *stream);
    /**
     * An MSRP attribute of the peer's m= line as written ("accept-types",
     * "accept-wrapped-types", "chatroom", "setup", "path", "file-selector",
     * "file-transfer-id"), or NULL when absent or not an MSRP stream.
     */
    const char *(*stream_remote_attribute)(sylk_stream *stream, const char *name);
    /**
     * Sets "accept-types", "accept-wrapped-types" or "chatroom" in our answer for an MSRP
     * stream (NULL or "" leaves it out; unset, the offer's value is mirrored). Before
     * session_accept, or in stream_added: -EALREADY afterwards, -ENOTSUP for another name or
     * stream type, -EINVAL for a value with a line break or over 1024 bytes.
     */
    int (*stream_set_local_attribute)(sylk_stream *stream, const char *name, const char *value);

    /* --- ABI 1.5: conference focus, prompts that stop --- */
    /**
     * Our Contact in the dialog of a session received carries isfocus (RFC 4579 section 3),
     * with the Request-URI's user: call before session_accept (sessions the plugin starts
     * take sylk_session_params.focus). 0, -EINVAL (not a session received), -EALREADY.
     */
    int (*session_set_focus)(sylk_session *session);
    /**
     * Stops what plays to one stream or to a mixer (exactly one of them): the prompt playing
     * and those queued, whose `done` callbacks are then never called. 0 or -EINVAL.
     */
    int (*play_stop)(sylk_stream *stream, sylk_mixer *mixer);

    /* --- ABI 1.6: images on the core's web server (screen sharing) --- */
    /**
     * A page the web server ([web] in the server's configuration) serves at an unguessable URL
     * (a 128-bit random token): a viewer page at <public_url>/screen/<token>/ that shows the
     * item's image and reloads it about once a second, and the image itself at
     * <public_url>/screen/<token>/image (404 until web_item_set). `title` (may be NULL) is
     * shown on the page, HTML-escaped. NULL when the web server is off. The plugin frees it
     * with web_item_free (at the latest in its shutdown).
     */
    sylk_web_item *(*web_item_new)(const char *title);
    /**
     * Replaces the image with a copy of `data`: viewers get the old or the new one whole.
     * 0, -EINVAL (content type other than image/jpeg or image/png, no data), -EFBIG (over
     * 8 MiB).
     */
    int (*web_item_set)(sylk_web_item *item, const char *content_type, const void *data,
                        size_t len);
    /** The viewer page's URL (valid until web_item_free). */
    const char *(*web_item_url)(sylk_web_item *item);
    /** The image's URL (valid until web_item_free). */
    const char *(*web_item_image_url)(sylk_web_item *item);
    /** Removes the item: its URLs answer 404 from then on. NULL is ignored. */
    void (*web_item_free)(sylk_web_item *item);
    /**
     * The server's spool directory ([server] spool_dir), for state that outlives a restart;
     * a plugin keeps its own in a sub-directory it makes there, named after itself.
     */
    const char *(*spool_dir)(void);

    /* --- ABI 1.7: sockets on the main loop, name resolution, outgoing subscriptions --- */
    /**
     * Watches a file descriptor the plugin owns (make it non-blocking) on the main loop: `fn`
     * runs when it is readable or writable, as `events` asks (SYLK_FD_READ, SYLK_FD_WRITE),
     * and with SYLK_FD_CLOSED on hang-up or error. SYLK_FD_CLOSED is reported once: the watch
     * is then paused until fd_watch_update resumes it (a UDP socket whose error was read) or
     * it is removed. The watch never closes the descriptor; remove the watch before closing
     * it. Watches left at the plugin's shutdown are removed by the server (and logged). NULL
     * for a bad argument.
     */
    sylk_fd_watch *(*fd_watch_add)(int fd, unsigned events, sylk_fd_fn fn, void *user_data);
    /**
     * Changes what a watch waits for. 0 pauses it: the descriptor is not polled at all, so
     * nothing is reported, not even a hang-up, until the watch resumes. 0 or -EINVAL.
     */
    int (*fd_watch_update)(sylk_fd_watch *watch, unsigned events);
    /** Stops a watch; allowed inside its own callback. NULL is ignored. */
    void (*fd_watch_remove)(sylk_fd_watch *watch);
    /**
     * Finds where to connect, without blocking: the SRV records of _service._protocol.domain
     * (`service` "xmpp-server", `protocol` "tcp"; a leading underscore is allowed) in RFC 2782
     * order (by priority, then weighted at random) and each target's A and AAAA addresses;
     * without SRV records (only then: a target "." is -ENOENT), or with `service` NULL, the A
     * and AAAA addresses of `domain` with `fallback_port` (0 with a service: no fallback). An
     * IP address literal ("192.0.2.1", "[2001:db8::1]") resolves to itself with
     * `fallback_port`, without a lookup. `fn` runs once, on the main loop, later (never inside
     * this call), within about 10 s, and never after resolve_cancel. NULL for a bad argument
     * (no domain or fn, a service without a protocol, no service and no port).
     */
    sylk_resolve *(*resolve)(const char *service, const char *protocol, const char *domain,
                             uint16_t fallback_port, sylk_resolve_fn fn, void *user_data);
    /**
     * Cancels a resolution whose callback has not run yet (not from inside that callback:
     * there it is a no-op). NULL is ignored. Resolutions left at the plugin's shutdown are
     * cancelled by the server (and logged).
     */
    void (*resolve_cancel)(sylk_resolve *query);
    /**
     * Subscribes (RFC 6665) through the outbound proxy (or to the Request-URI's host): the
     * core refreshes the subscription before it expires, answers every NOTIFY and hands it to
     * handler->notify, and ends it with handler->ended, which always comes, never inside this
     * call. NULL on a bad argument (from, to, event or handler missing, unparsable addresses)
     * or while the server shuts down.
     */
    sylk_outgoing_subscription *(*subscribe)(const struct sylk_subscribe_params *params);
    /**
     * Ends a subscription (un-SUBSCRIBE, Expires: 0); `ended` follows when the notifier's
     * final NOTIFY comes, or its refusal, or after 32 s without it. 0, -EINVAL for NULL, or
     * -ENOTCONN when it is already ending (unsubscribed, or a terminated NOTIFY came: also
     * inside notify and ended).
     */
    int (*unsubscribe)(sylk_outgoing_subscription *subscription);

    /* --- ABI 1.8: nicknames sent (RFC 7701), REFER as the referrer (RFC 3515) --- */
    /**
     * Sends an MSRP NICKNAME request (RFC 7701: Use-Nickname, quoted; "" asks to clear it) on
     * a chat stream of a session the plugin originated or accepted; the peer's status comes to
     * the chat handler's `nickname_result` with `token` (any value, NULL included). Without a
     * connection yet (or during a reconnect) it waits for one, like chat_send. 0, -EINVAL (not
     * a chat stream, NULL nickname, over 256 bytes or not UTF-8), -ENOTCONN (the stream is
     * refused or disabled, its MSRP session is over, or the session is ending), -EOPNOTSUPP
     * (the peer's a=chatroom does not list "nickname").
     */
    int (*chat_send_nickname)(sylk_stream *stream, const char *nickname, void *token);
    /**
     * Sends an out-of-dialog REFER (RFC 3515) through the outbound proxy (or to the
     * Request-URI's host), like message_send. The core answers the NOTIFYs of its implicit
     * subscription and reports them to handler->progress; handler->ended always comes once,
     * never inside this call (unless refer_cancel comes first). NULL on a bad argument (from,
     * to, refer_to or handler missing, unparsable addresses, a Refer-To with a line break) or
     * while the server shuts down.
     */
    sylk_outgoing_referral *(*refer)(const struct sylk_refer_params *params);
    /**
     * Forgets a REFER: no callback comes for it afterwards and the handle is invalid; NOTIFYs
     * that still come for it are answered 481. NULL is ignored; not from inside its `ended`.
     */
    void (*refer_cancel)(sylk_outgoing_referral *referral);
    /*
     * Media endpoints: one RTP audio stream on the [rtp] port range and [sip] local_ip that
     * belongs to no SIP session (a gateway's other leg, e.g. Jingle). It is negotiated with SDP
     * text the plugin writes or reads (one audio m= line; others are refused), against the same
     * [rtp] audio_codecs and srtp policy as a session's audio, and its stream is used like a
     * session's audio stream: a 2-participant mixer of it and a call's audio bridges the two
     * legs, each in its own codec (the mixer transcodes).
     */
    /**
     * A new endpoint with its RTP/RTCP ports bound, not yet negotiated (it sends nothing).
     * `handler` may be NULL. NULL when no RTP port pair is free.
     */
    sylk_media_endpoint *(*media_endpoint_new)(const struct sylk_media_endpoint_handler *handler,
                                               void *user_data);
    /**
     * Answers an SDP offer: the first usable audio m= line gets our port and the first codec
     * of [rtp] audio_codecs it lists (telephone-event kept when offered), the other lines are
     * refused (port 0); media starts at once. `*answer` is our SDP, valid until the next call
     * on the endpoint or its free. 0, -EINVAL (NULL argument or not SDP), -ENOTSUP (no usable
     * audio line: no common codec, a refused connection address or SRTP policy), -EALREADY
     * (already negotiated or offered).
     */
    int (*media_endpoint_answer)(sylk_media_endpoint *endpoint, const char *offer_sdp,
                                 const char **answer);
    /**
     * Our offer: one audio line with every codec of [rtp] audio_codecs and telephone-event
     * 101 (and an SDES key unless [rtp] srtp = disabled), valid as media_endpoint_answer's. The
     * peer's answer goes to media_endpoint_set_answer. 0, -EINVAL, -EALREADY.
     */
    int (*media_endpoint_offer)(sylk_media_endpoint *endpoint, const char **offer);
    /**
     * The answer to media_endpoint_offer; media starts at once. 0, -EINVAL (NULL or not SDP),
     * -ENOTSUP (no audio line or no codec of ours, or the SRTP answer does not match),
     * -EALREADY (no offer outstanding).
     */
    int (*media_endpoint_set_answer)(sylk_media_endpoint *endpoint, const char *answer_sdp);
    /**
     * The endpoint as a stream: mixer_add, mixer_remove, mixer_mute, mixer_hold, play_file,
     * play_tone, play_stop, audio_loopback, stream_type (SYLK_MEDIA_AUDIO), stream_direction,
     * stream_enabled (once negotiated) and stream_codec take it; stream_session gives NULL.
     * Valid until media_endpoint_free. NULL for NULL.
     */
    sylk_stream *(*media_endpoint_stream)(sylk_media_endpoint *endpoint);
    /** Closes the endpoint's sockets (it leaves its mixer); no callback comes afterwards.
     *  NULL is ignored. */
    void (*media_endpoint_free)(sylk_media_endpoint *endpoint);
    /**
     * ICE-lite (RFC 8445 §2.5) on the endpoint's RTP and RTCP ports: connectivity checks whose
     * USERNAME starts with `ufrag` and whose MESSAGE-INTEGRITY is keyed with `pwd` (the
     * credentials the plugin gave the peer, e.g. in a Jingle ICE-UDP transport) are answered
     * with a Binding Success; others get no answer. NULL and NULL stop answering. 0, or
     * -EINVAL (ufrag under 4 or pwd under 22 characters, RFC 8445 §5.3, or only one given).
     */
    int (*media_endpoint_set_ice)(sylk_media_endpoint *endpoint, const char *ufrag,
                                  const char *pwd);
    /**
     * ICE as the controlling agent, after media_endpoint_set_ice and the peer's answer: checks
     * with USE-CANDIDATE (aggressive nomination) go to the answer's address every 100 ms, keyed
     * with the peer's `remote_pwd`, until one is answered; media then goes where the answer came
     * from. 0, or -EINVAL (no local credentials set, or a missing argument).
     */
    int (*media_endpoint_ice_connect)(sylk_media_endpoint *endpoint, const char *remote_ufrag,
                                      const char *remote_pwd);

    /* --- ABI 1.9: metrics (Prometheus text format on the core's web server) --- */
    /**
     * Registers `fn`, called with `user_data` on every scrape of /metrics while registered.
     * The samples it writes are named "sylk_<plugin>_<name>" (<plugin> the plugin's name, any
     * character other than a letter, digit or '_' made '_'). NULL for a NULL `fn`, one that
     * is not the calling plugin's code, or a plugin named like one of the core's families
     * (build, media, msrp, rtp, sessions, sip, subscriptions, web). Collectors left at the
     * plugin's shutdown, or when its init fails, are removed by the server (and logged).
     */
    sylk_metrics_collector *(*metrics_collector_add)(sylk_metrics_fn fn, void *user_data);
    /** Unregisters a collector; NULL is ignored. Not from inside a collector. */
    void (*metrics_collector_remove)(sylk_metrics_collector *collector);
    /**
     * Writes one sample, inside a collector's callback only. `name` ([a-zA-Z_:][a-zA-Z0-9_:]*,
     * "…_total" for a counter) gets the prefix above; `help` is one line (the same for every
     * sample of a name); `labels` is NULL or a NULL-terminated list of label name, value
     * pairs (names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"; values any UTF-8, escaped
     * by the server). 0, or -EINVAL (a bad name, label, type or value; a name written before
     * with another type or help), -EEXIST (the same name and labels twice in one scrape).
     */
    int (*metric_write)(sylk_metric_writer *writer, const char *name, const char *help,
                        enum sylk_metric_type type, const char *const *labels, double value);
};

#ifdef __cplusplus
}
#endif
#endif /* SYLK_HOST_H */
