/*
 * transport.h — the MSRP listener (RFC 4975 over TCP, or TLS with gnutls) and its connections.
 *
 * One port serves every MSRP session (RFC 6135: the server answers a=setup:passive and its
 * peers connect). Each connection reads frames with the bounded parser (msrp/frame.h) and
 * hands each one to the endpoint registered for the session id of its To-Path's last URI (our
 * own URI), whichever connection it came on; the endpoint binds a connection (sets ep->conn)
 * once a frame proves it comes from its peer, and may move to a newer one (the older is then
 * released). A request for a session nobody registered gets 481; a frame that does not parse
 * closes the connection (MSRP cannot resynchronize) with a log line saying why.
 *
 * For a session the server originates (it offered a=setup:active, or the peer answered
 * passive), sylk_msrp_transport_connect opens the connection instead: the same connection
 * object afterwards, handed to the endpoint's `connected`.
 *
 * Thread: main thread (GLib main loop); every endpoint callback is called from it, never from
 * within the endpoint's own call into the transport.
 */
#ifndef SYLK_MSRP_TRANSPORT_H
#define SYLK_MSRP_TRANSPORT_H

#include "msrp/frame.h"
#include "msrp/uri.h"

#include <gnutls/gnutls.h>

struct sylk_msrp_transport;
struct sylk_msrp_conn;

/** What a session registers to receive its frames. */
struct sylk_msrp_endpoint {
    /** A frame for this session, on `conn` (bound to it or not); the frame is the callee's to
     * keep or clear. */
    void (*frame)(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn,
                  struct sylk_msrp_frame *frame);
    /** The bound connection closed (peer reset, bad frame, shutdown); ep->conn is NULL now. */
    void (*closed)(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn);
    /* The bound connection, or NULL: set by the endpoint (or by the transport for a connect
     * without a `connected` callback), cleared by the transport when it closes. */
    struct sylk_msrp_conn *conn;
    /** (may be NULL) The bound connection's write queue fell to SYLK_MSRP_LOW_WATER bytes or below,
     * after a send left it above: a session streaming a large message queues more now. */
    void (*writable)(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn);
    /** (may be NULL) The outcome of sylk_msrp_transport_connect: 0 with the new connection
     * (TLS handshake done; the endpoint binds it), or a negative errno (-ECONNREFUSED,
     * -ETIMEDOUT after 10 s, -EPROTO for a failed TLS handshake, …) with `conn` NULL; the
     * reason is logged. */
    void (*connected)(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn, int error);
};

#define SYLK_MSRP_LOW_WATER   (256u << 10)
#define SYLK_MSRP_RECONNECT_S 30 /* default of sylk_msrp_transport_set_reconnect_timeout */

/**
 * Listens on ip:port (0: any free port); TLS when `cred` is non-NULL (kept, not owned).
 * 0, or a negative errno with *error.
 */
int sylk_msrp_transport_start(const char *ip, unsigned port, gnutls_certificate_credentials_t cred,
                              struct sylk_msrp_transport **out, char **error);
/** Closes the listener and every connection (bound endpoints get `closed`). */
void sylk_msrp_transport_stop(struct sylk_msrp_transport *t);

/* Traffic since the start: frames by kind (requests: SEND chunks, REPORT, NICKNAME, AUTH;
 * responses), bytes (MSRP's own, inside TLS when there is TLS); and connections open now. */
struct sylk_msrp_counters {
    uint64_t requests_in, requests_out, responses_in, responses_out, bytes_in, bytes_out;
    unsigned connections; /* filled by sylk_msrp_transport_counters */
};
/** The counters (main thread). */
struct sylk_msrp_counters sylk_msrp_transport_counters(const struct sylk_msrp_transport *t);
unsigned sylk_msrp_transport_port(const struct sylk_msrp_transport *t);
bool sylk_msrp_transport_tls(const struct sylk_msrp_transport *t);

/**
 * Opens a connection to the peer whose MSRP URI is `to` (the first URI of its a=path; msrps:
 * TLS as a client, msrp: plain TCP) for a session the server originated (RFC 6135 active
 * side). It is bound to `ep` once up and `ep->connected` reports the outcome; frames on it are
 * dispatched by To-Path session id like any other. 0 when the connect started, or a negative
 * errno with *error (bad host, no such address family). Unbinding/unregistering the endpoint
 * before the outcome cancels it silently (no callback after sylk_msrp_transport_unregister of
 * the endpoint's session id, or after the transport stops).
 */
int sylk_msrp_transport_connect(struct sylk_msrp_transport *t, const struct sylk_msrp_uri *to,
                                struct sylk_msrp_endpoint *ep, char **error);

/**
 * Seconds a session whose connection was lost waits for a new one (the peer reconnecting, or
 * our own reconnects for a session we opened) before what it had to send fails; 0: at once.
 * Sessions made afterwards take it ([msrp] reconnect_timeout).
 */
void sylk_msrp_transport_set_reconnect_timeout(struct sylk_msrp_transport *t, unsigned seconds);
unsigned sylk_msrp_transport_reconnect_timeout(const struct sylk_msrp_transport *t);

/** Frames whose To-Path ends in `session_id` go to `ep` from now on. */
void sylk_msrp_transport_register(struct sylk_msrp_transport *t, const char *session_id,
                                  struct sylk_msrp_endpoint *ep);
/** No more frames for `session_id`; its bound connection stays while other sessions use it,
 *  and is closed once its queued output is written when none does (left open, two ends that
 *  each wait for the other would keep it until the server stops). */
void sylk_msrp_transport_unregister(struct sylk_msrp_transport *t, const char *session_id);

/** Closes the connection, with `why` logged, unless an endpoint is bound to it. */
void sylk_msrp_conn_release(struct sylk_msrp_conn *conn, const char *why);

/** Queues bytes on a connection (written as the socket takes them). */
void sylk_msrp_conn_send(struct sylk_msrp_conn *conn, GBytes *bytes);
/** Queues a response to `request` (To-Path and From-Path swapped, first URI only). */
void sylk_msrp_conn_respond(struct sylk_msrp_conn *conn, const struct sylk_msrp_frame *request,
                            int status, const char *comment);
/** Bytes queued on the connection and not yet written to the socket. */
size_t sylk_msrp_conn_queued(const struct sylk_msrp_conn *conn);
/** "127.0.0.1:40000" */
const char *sylk_msrp_conn_peer(const struct sylk_msrp_conn *conn);

#endif
