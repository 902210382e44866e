/*
 * conn.h — one XMPP connection: a non-blocking TCP socket watched on the main loop through the
 * host's fd watches, TLS with gnutls (STARTTLS in either role, or direct TLS from the first
 * byte), the stream parser of xml_stream.h fed with what is read, a bounded write buffer, our
 * stream header, stream errors and the closing handshake (RFC 6120 §4.4, §4.9). It knows
 * nothing of s2s or components: its owner (s2s_in.c, s2s_out.c, component.c) decides what to
 * send and what the peer's elements mean.
 *
 * Outgoing connections try the addresses they are given in order, each for up to
 * XCONN_ATTEMPT_SECONDS. A stream error (ours, or the parser's for bad input) is logged, sent
 * after our header (sent first when it was not yet), followed by </stream:stream>; the
 * connection then closes once written, or after XCONN_CLOSE_WAIT_SECONDS at most. The peer's
 * </stream:stream> is answered with ours. Whatever ends the connection, the handler's
 * `closed` is called once, and the owner frees the connection with xconn_free (inside a
 * callback too).
 *
 * Thread: main thread. Handler callbacks run from the connection's own fd watch and timers,
 * never inside a call the owner makes on it.
 */
#ifndef XMPPGW_CONN_H
#define XMPPGW_CONN_H

#include "settings.h"
#include "xml_stream.h"

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

#define XCONN_ATTEMPT_SECONDS    10
#define XCONN_CLOSE_WAIT_SECONDS 3

struct xconn;

struct xconn_handler {
    /** Outgoing: the connection is up (and its direct TLS handshake done): send a header. */
    void (*connected)(struct xconn *c, void *user_data);
    /** The peer's stream header, checked by the parser; valid during the call. */
    void (*opened)(struct xconn *c, const struct xmpp_stream_header *header, void *user_data);
    /** A top-level element of the stream (stanza, dialback, features…); the handler owns it. */
    void (*element)(struct xconn *c, struct xmpp_node *element, void *user_data);
    /** The STARTTLS handshake is done: the stream starts again (RFC 6120 §5.4.3.3). */
    void (*secured)(struct xconn *c, void *user_data);
    /** The connection is over; `why` says why (for the log). Free the connection. */
    void (*closed)(struct xconn *c, const char *why, void *user_data);
};

struct xconn_params {
    const char *label;      /* for the log: what the connection is for */
    const char *content_ns; /* the stream's namespace: XMPP_NS_SERVER or XMPP_NS_COMPONENT */
    bool dialback;          /* our header declares the db prefix (s2s) */
    size_t max_stanza_bytes;
    size_t send_buffer_bytes; /* bytes not yet written beyond which the connection is dropped */
    bool trace;               /* every element in and out logged at debug level */
    const struct xconn_handler *handler;
    void *user_data;
};

/** One address to try (a copy of what resolve gave, or a static route). */
struct xconn_address {
    char *address; /* numeric */
    uint16_t port;
};

/** Called once a write that asked for it is handed to the kernel (true), or lost (false). */
typedef void (*xconn_written_fn)(bool written, void *user_data);

/**
 * TLS credentials for every connection: ours (settings->certificate, or a self-signed one for
 * `host` kept in <spool>/xmppgw/tls/xmppgw.pem) and those for connecting (settings->tls_verify:
 * checked against ca_file or the system's trust). 0, or a negative errno with *why.
 */
int xconn_tls_init(const struct xgw_settings *settings, const char *spool_dir, const char *host,
                   char **why);
void xconn_tls_shutdown(void);

/** A connection accepted on a listener (fd non-blocking, now the connection's). NULL: closed. */
struct xconn *xconn_accept(int fd, const char *peer, bool direct_tls,
                           const struct xconn_params *params);

/**
 * Connects to the first address that answers; `server_name`, when not NULL, is the TLS server
 * name (SNI, and the name checked with tls_verify). Never NULL; failure comes as `closed`.
 */
struct xconn *xconn_connect(const struct xconn_address *addresses, size_t count, bool direct_tls,
                            const char *server_name, const struct xconn_params *params);

/**
 * Frees the connection: it closes at once (nothing more is written) and its handler hears no
 * more, but for the `written` callbacks of writes not done, called (with false) from here.
 */
void xconn_free(struct xconn *c);
/** Connections whose stream can carry bytes now (metrics). */
size_t xconn_flowing_count(void);

/** Writes what the socket takes now (shutdown: the loop no longer runs). */
void xconn_flush_now(struct xconn *c);

/** Shutdown: </stream:stream> and what the socket takes now, then xconn_free. */
void xconn_shutdown(struct xconn *c);

/** Sends our stream header (a new one after STARTTLS); stanzas are written in its scope. */
int xconn_send_header(struct xconn *c, const struct xmpp_stream_header *header);

/**
 * Writes an element. `written` (may be NULL) learns whether it reached the kernel. 0, or
 * -ENOTCONN (closing or closed: `written` is not called), or -ENOBUFS (the send buffer is full:
 * the connection is dropped, `written` is then called with false).
 */
int xconn_send(struct xconn *c, const struct xmpp_node *element, xconn_written_fn written,
               void *user_data);

/** Logs the error and sends it (after a header of ours when none was sent), then closes. */
void xconn_stream_error(struct xconn *c, enum xmpp_stream_condition condition, const char *text);

/** Closes the stream (</stream:stream>) and the connection once the peer closed or after a while.
 */
void xconn_close(struct xconn *c);

/**
 * Starts TLS on the connection (STARTTLS): as the server once what was written (<proceed/>)
 * has gone out, as the client at once. The parser starts a new stream. 0, or -EINVAL without
 * credentials or when TLS is already on.
 */
int xconn_starttls(struct xconn *c, bool server);

/** The name our header claims, used for a stream error sent before any header of ours. */
void xconn_set_local_name(struct xconn *c, const char *name);

bool xconn_tls_active(const struct xconn *c);
bool xconn_header_sent(const struct xconn *c);
/** The id of the stream header we sent last (NULL before). */
const char *xconn_stream_id(const struct xconn *c);
const char *xconn_label(const struct xconn *c);
/** "address:port" of the peer (once connected). */
const char *xconn_peer(const struct xconn *c);
/** Monotonic µs of the last byte read or written. */
gint64 xconn_last_activity(const struct xconn *c);
/** Bytes waiting to be written. */
size_t xconn_unsent(const struct xconn *c);
/** True when the peer sent a stream error (its condition in *condition). */
bool xconn_peer_error(const struct xconn *c, enum xmpp_stream_condition *condition);

void xconn_address_clear(struct xconn_address *a);

#endif
