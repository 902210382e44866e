/*
 * session.h — one MSRP session (RFC 4975) of a chat or file-transfer stream: our URI, the
 * peer's path, incoming SENDs answered and reassembled from their chunks, REPORTs when asked,
 * and outgoing messages chunked, each chunk a transaction answered within 30 s or failed 408.
 *
 * Session matching (RFC 4975 §7.3): a request is taken only when the last URI of its From-Path
 * is the peer's own URI from its a=path (the first frame binds the connection); otherwise 481.
 * Messages are bounded (max_message_bytes, 413 beyond); chunks may arrive in any order within a
 * message and are placed by their Byte-Range; an aborted (#) message is dropped.
 *
 * Thread: main thread.
 */
#ifndef SYLK_MSRP_SESSION_H
#define SYLK_MSRP_SESSION_H

#include "msrp/transport.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define SYLK_MSRP_CHUNK_SIZE      2048 /* what relays take (Kamailio: ~11 KB at most) */
#define SYLK_MSRP_TRANSACTION_S   30
#define SYLK_MSRP_MAX_MESSAGE     (16u << 20)
#define SYLK_MSRP_MAX_IN_PROGRESS 16 /* messages being reassembled at once */

struct sylk_msrp_session;

struct sylk_msrp_session_events {
    /** A whole message received (content type, body); the body is the callee's to keep. */
    void (*message)(struct sylk_msrp_session *s, const char *content_type, GBytes *body,
                    void *user_data);
    /** A message we sent is delivered (every chunk got 200), or failed (status, e.g. 408). */
    void (*sent)(struct sylk_msrp_session *s, const char *message_id, int status, void *user_data);
    /** The connection went away. */
    void (*closed)(struct sylk_msrp_session *s, void *user_data);
};

/**
 * A session on `transport`, reachable at `host` (the advertised address). The peer's path is
 * set with sylk_msrp_session_set_peer once its SDP is known.
 */
struct sylk_msrp_session *sylk_msrp_session_new(struct sylk_msrp_transport *transport,
                                                const char *host,
                                                const struct sylk_msrp_session_events *events,
                                                void *user_data);
void sylk_msrp_session_free(struct sylk_msrp_session *s);

/** Our URI, for a=path: msrp[s]://host:port/<random session id>;tcp */
const char *sylk_msrp_session_uri(const struct sylk_msrp_session *s);

/** The peer's a=path (space-separated URIs); 0 or -EINVAL (*error) when it is no path. */
int sylk_msrp_session_set_peer(struct sylk_msrp_session *s, const char *path, char **error);

/** Seconds a chunk may wait for its response (default SYLK_MSRP_TRANSACTION_S). */
void sylk_msrp_session_set_transaction_timeout(struct sylk_msrp_session *s, unsigned seconds);

/** Largest message accepted (default SYLK_MSRP_MAX_MESSAGE). */
void sylk_msrp_session_set_max_message(struct sylk_msrp_session *s, size_t bytes);

/**
 * Sends a message in chunks of SYLK_MSRP_CHUNK_SIZE; returns its Message-ID (owned by the
 * session until `sent` reports it), or NULL when there is no connection yet (-ENOTCONN) .
 */
const char *sylk_msrp_session_send(struct sylk_msrp_session *s, const char *content_type,
                                   const void *body, size_t len);

#endif
