/*
 * sylk/types.h — opaque handles and plain C types shared by the plugin ABI.
 *
 * Every handle is owned by the core. A plugin never frees one; it learns that a handle is gone
 * through the `ended` callback of the handler it registered, after which the pointer is invalid.
 * All ABI calls and callbacks happen on the server's main thread.
 */
#ifndef SYLK_TYPES_H
#define SYLK_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A SIP INVITE dialog with its media streams. */
typedef struct sylk_session sylk_session;
/** One m= line of a session (audio, MSRP chat, MSRP file transfer, …). */
typedef struct sylk_stream sylk_stream;
/** A SUBSCRIBE dialog where the server is the notifier. */
typedef struct sylk_subscription sylk_subscription;
/** A received REFER (in or out of dialog) and its implicit "refer" subscription. */
typedef struct sylk_referral sylk_referral;
/** A received out-of-dialog SIP MESSAGE waiting for the plugin's response. */
typedef struct sylk_message sylk_message;
/** The plugin's own configuration file (`<plugin>.ini` beside the server's). */
typedef struct sylk_config sylk_config;
/** A main-loop timer created through the host. */
typedef struct sylk_timer sylk_timer;
/** An audio mixer of the media engine (ABI 1.1). */
typedef struct sylk_mixer sylk_mixer;
/** An image the core's web server serves at an unguessable URL, with a viewer page (ABI 1.6). */
typedef struct sylk_web_item sylk_web_item;
/** A file descriptor of the plugin's watched on the main loop (ABI 1.7). */
typedef struct sylk_fd_watch sylk_fd_watch;
/** A name resolution under way (ABI 1.7). */
typedef struct sylk_resolve sylk_resolve;
/** A SUBSCRIBE dialog where the server is the subscriber (ABI 1.7). */
typedef struct sylk_outgoing_subscription sylk_outgoing_subscription;
/** A REFER the server sent as the referrer, with its implicit subscription (ABI 1.8). */
typedef struct sylk_outgoing_referral sylk_outgoing_referral;
/** An RTP audio endpoint not tied to a SIP session (ABI 1.8). */
typedef struct sylk_media_endpoint sylk_media_endpoint;
/** A plugin's metrics collector, registered with metrics_collector_add (ABI 1.9). */
typedef struct sylk_metrics_collector sylk_metrics_collector;
/** Where a collector writes one scrape's samples: valid only inside its callback (ABI 1.9). */
typedef struct sylk_metric_writer sylk_metric_writer;

/** The Prometheus type of a metric written with metric_write (ABI 1.9). */
enum sylk_metric_type {
    SYLK_METRIC_COUNTER = 0, /* only goes up (from 0 when the server starts); named "…_total" */
    SYLK_METRIC_GAUGE = 1,   /* a value now: rooms open, participants */
};

/** Log levels for sylk_host.log. */
enum sylk_log_level {
    SYLK_LOG_ERROR = 0,
    SYLK_LOG_WARNING = 1,
    SYLK_LOG_INFO = 2,
    SYLK_LOG_DEBUG = 3,
};

/** What a file descriptor watch waits for, and what its callback reports (ABI 1.7). */
enum sylk_fd_events {
    SYLK_FD_READ = 1,   /* readable (or a listening socket has a connection to accept) */
    SYLK_FD_WRITE = 2,  /* writable (a connect() in progress has finished: see SO_ERROR) */
    SYLK_FD_CLOSED = 4, /* hang-up or error: reported whatever was asked (0 asks for nothing) */
};

/** What a stream carries, from its m= line. */
enum sylk_media_type {
    SYLK_MEDIA_UNKNOWN = 0,
    SYLK_MEDIA_AUDIO = 1,
    SYLK_MEDIA_VIDEO = 2,
    SYLK_MEDIA_CHAT = 3,          /* m=message, MSRP chat */
    SYLK_MEDIA_FILE_TRANSFER = 4, /* m=message with a=file-selector (RFC 5547) */
};

/** Media direction, from the local point of view once negotiated. */
enum sylk_direction {
    SYLK_DIR_INACTIVE = 0,
    SYLK_DIR_SENDONLY = 1,
    SYLK_DIR_RECVONLY = 2,
    SYLK_DIR_SENDRECV = 3,
};

/**
 * The SIP request behind a handle. Strings are NUL-terminated and live as long as the handle;
 * absent values are NULL. Appended fields are only present when struct_size covers them.
 */
struct sylk_request_info {
    uint32_t struct_size;
    const char *method;         /* "INVITE", "MESSAGE", … */
    const char *request_uri;    /* "sip:room@conference.example.com" */
    const char *from_uri;       /* URI of the From header, without display name or tag */
    const char *from_display;   /* display name of From, unquoted */
    const char *to_uri;         /* URI of the To header */
    const char *to_display;     /* display name of To */
    const char *call_id;        /* Call-ID */
    const char *remote_address; /* source of the request, "127.0.0.1:5071" or "[::1]:5071" */
    const char *transport;      /* "udp", "tcp" or "tls" */
    const char *user_agent;     /* User-Agent header */
    const char *content_type;   /* type/subtype of the body, without parameters */
    const void *body;           /* the body, NUL-terminated for convenience; NULL when none */
    size_t body_len;            /* body length in bytes, without the terminating NUL */
};

#ifdef __cplusplus
}
#endif
#endif /* SYLK_TYPES_H */
