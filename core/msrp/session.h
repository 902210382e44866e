/*
 * session.h — one MSRP session (RFC 4975) of a chat or file-transfer stream: our URI, the
 * peer's path, incoming SENDs answered and reassembled from their chunks, REPORTs when asked,
 * NICKNAME requests (RFC 7701), and outgoing messages streamed in chunks as the connection
 * takes them, each chunk a transaction answered within 30 s or failed 408.
 *
 * Session matching (RFC 4975 §7.3): a request is taken only when the last URI of its From-Path
 * is the peer's own URI from its a=path (the first frame binds the connection); otherwise 481.
 * Messages are bounded (max_message_bytes, 413 beyond); chunks may arrive in any order within a
 * message and are placed by their Byte-Range; an aborted (#) message is dropped.
 *
 * Incoming messages are kept in memory, or, for a file transfer (receive_file), written to a
 * file descriptor at their Byte-Range as they come, with their SHA-1 computed on the way.
 * Outgoing messages (memory or a file) are never queued whole: chunks are made while the
 * connection holds less than SYLK_MSRP_HIGH_WATER unwritten bytes, and more when it drains.
 *
 * Connections: the peer connects to our listener (we answered a=setup:passive), or, for a
 * session the server originated, sylk_msrp_session_connect opens one (RFC 6135 active side)
 * and sends the empty SEND that binds it. Everything the session sends (chunks, responses,
 * REPORTs) goes on its current connection. When that one is lost the session waits (the
 * transport's reconnect timeout, [msrp] reconnect_timeout): for the peer to connect again and
 * bind it with a request, or, on the active side, for its own reconnects (at once, then after
 * 250 ms, 500 ms, … up to 4 s apart). Meanwhile messages may still be sent and wait; once a
 * connection is back, the chunks the peer had not acknowledged go again (same Message-ID and
 * Byte-Range, RFC 4975 5.4), then the rest, in order. A request from the peer on a second
 * connection moves the session to it (the newest wins; the older is closed unless another
 * session uses it): a client that changed network need not wait for its old connection to
 * time out. A whole message received again under a Message-ID already handed over is answered
 * as before and not handed over twice. Nobody back in time: what was pending fails (408) and
 * `closed` is called; requests for the session get 481 from then on.
 *
 * Thread: main thread.
 */
#ifndef SYLK_MSRP_SESSION_H
#define SYLK_MSRP_SESSION_H

#include "msrp/transport.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_MSRP_CHUNK_SIZE        2048  /* through relays (Kamailio takes ~11 KB at most) */
#define SYLK_MSRP_DIRECT_CHUNK_SIZE 16384 /* to a peer with no relay in its path */
#define SYLK_MSRP_TRANSACTION_S     30
#define SYLK_MSRP_MAX_MESSAGE       (16u << 20)
#define SYLK_MSRP_MAX_IN_PROGRESS   16         /* messages being reassembled at once */
#define SYLK_MSRP_HIGH_WATER        (1u << 20) /* unwritten bytes before chunking pauses */
#define SYLK_MSRP_PROGRESS_MS       200        /* progress events at most this often */
/* Bytes of in-memory messages a session may hold unsent or unacknowledged: a peer that stops
 * reading, or is away within its reconnect window, cannot make the server hold without bound
 * what others send it (a room's chat, screen images). Files sent from disk do not count. */
#define SYLK_MSRP_MAX_QUEUED_BYTES (16u << 20)
#define SYLK_MSRP_MAX_NICKNAME     256 /* bytes of a Use-Nickname value, unquoted */

struct sylk_msrp_session;

/** A whole message received in memory. */
struct sylk_msrp_received {
    const char *message_id;
    const char *content_type; /* or NULL */
    GBytes *body;             /* followed in memory by a NUL byte it does not count */
};

struct sylk_msrp_session_events {
    /**
     * A whole message received in memory. Returns the status of the SEND that completed it:
     * 200, or a refusal (400, 403, 404, 413, 415, …) sent in its place (no success REPORT
     * then). The session may be freed inside the callback only through a later main-loop turn.
     */
    int (*message)(struct sylk_msrp_session *s, const struct sylk_msrp_received *m,
                   void *user_data);
    /** A message we sent is delivered (every chunk got 200), or failed (status, e.g. 408). */
    void (*sent)(struct sylk_msrp_session *s, const char *message_id, void *token, int status,
                 void *user_data);
    /** The connection went away and no new one came within the reconnect timeout, or the
     * first active connect failed: the session is over (what was pending failed first). */
    void (*closed)(struct sylk_msrp_session *s, void *user_data);
    /** (may be NULL) A NICKNAME request (RFC 7701): returns its status (200, 425, 403…). */
    int (*nickname)(struct sylk_msrp_session *s, const char *nickname, void *user_data);
    /**
     * (may be NULL) Progress of a file: received (`token` NULL, receive_file) or acknowledged
     * by the peer (the token of the message sent). At most every SYLK_MSRP_PROGRESS_MS.
     */
    void (*progress)(struct sylk_msrp_session *s, void *token, uint64_t bytes, uint64_t total,
                     void *user_data);
    /**
     * (may be NULL) The file of receive_file is complete (status 200, its SHA-1 as 40 hex
     * digits, its size) or failed (aborted by the sender, too large, connection lost: status
     * 400/413/408/499, hash NULL). Called once.
     */
    void (*file_received)(struct sylk_msrp_session *s, int status, const char *sha1_hex,
                          uint64_t size, void *user_data);
    /**
     * (may be NULL) The response status to a NICKNAME of send_nickname, or 408 (none within
     * the transaction time, the connection it went on was lost, or the session gave up).
     */
    void (*nickname_result)(struct sylk_msrp_session *s, void *token, int status, void *user_data);
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

/** The connection the session uses now, or NULL (none yet, or lost). */
struct sylk_msrp_conn *sylk_msrp_session_conn(const struct sylk_msrp_session *s);

/** The peer's a=path (space-separated URIs); 0 or -EINVAL (*error) when it is no path. */
int sylk_msrp_session_set_peer(struct sylk_msrp_session *s, const char *path, char **error);

/**
 * Connects to the first URI of the peer's path (the peer, or its relay) for a session we
 * offered and the peer answered a=setup:passive. Messages sent meanwhile wait for the
 * connection; if it fails they fail (408) and `closed` follows. 0, or a negative errno.
 */
int sylk_msrp_session_connect(struct sylk_msrp_session *s);

/** Seconds a chunk may wait for its response (default SYLK_MSRP_TRANSACTION_S). */
void sylk_msrp_session_set_transaction_timeout(struct sylk_msrp_session *s, unsigned seconds);

/** Seconds a lost connection may take to come back (default: the transport's); 0: none. */
void sylk_msrp_session_set_reconnect_timeout(struct sylk_msrp_session *s, unsigned seconds);

/** Largest message accepted (default SYLK_MSRP_MAX_MESSAGE). */
void sylk_msrp_session_set_max_message(struct sylk_msrp_session *s, size_t bytes);

/** Largest chunk we send (default: SYLK_MSRP_DIRECT_CHUNK_SIZE when the peer's path has no
 * relay, else SYLK_MSRP_CHUNK_SIZE; at least 64). */
void sylk_msrp_session_set_chunk_size(struct sylk_msrp_session *s, size_t bytes);

/**
 * The next message received goes to `fd` (kept open by the caller, written with pwrite)
 * instead of memory, up to max_message bytes; `file_received` reports the end. 0, or -EBUSY
 * when a file is already being received.
 */
int sylk_msrp_session_receive_file(struct sylk_msrp_session *s, int fd);

/** Whether `len` more bytes of in-memory messages stay within SYLK_MSRP_MAX_QUEUED_BYTES. */
bool sylk_msrp_session_has_room(const struct sylk_msrp_session *s, size_t len);

/**
 * Sends a message; returns its Message-ID (owned by the session until `sent` reports it), or
 * NULL when the peer's path is not known yet, the session is over (`closed`) or its in-memory
 * messages would pass SYLK_MSRP_MAX_QUEUED_BYTES (see sylk_msrp_session_has_room). Without a
 * connection the message waits for one. Either `body` is set, or the
 * message is the `size` bytes of `fd` from offset 0 (the session then owns fd and closes it).
 * `token` comes back in `sent` and `progress`.
 */
const char *sylk_msrp_session_send_message(struct sylk_msrp_session *s, const char *content_type,
                                           GBytes *body, int fd, uint64_t size, void *token);

/**
 * Sends a NICKNAME request (RFC 7701) for `nickname` ("" clears it); `nickname_result`
 * reports its status with `token`. Without a connection it waits for one. 0, -EINVAL (over
 * SYLK_MSRP_MAX_NICKNAME bytes, not UTF-8, a line break), -ENOTCONN (no peer path yet, or the
 * session is over).
 */
int sylk_msrp_session_send_nickname(struct sylk_msrp_session *s, const char *nickname, void *token);

/** sylk_msrp_session_send_message of a copy of `body`, no token. */
const char *sylk_msrp_session_send(struct sylk_msrp_session *s, const char *content_type,
                                   const void *body, size_t len);

#endif
