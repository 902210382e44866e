/*
 * session_internal.h — what the three parts of an MSRP session share (see session.h):
 * session.c (the session, its connection: binding, loss, reconnects, giving up; requests
 * dispatched), outgoing.c (messages we send: chunks, transactions, sending again after a
 * reconnect), incoming.c (SENDs received: reassembly, files, REPORTs, duplicates) and
 * nickname.c (NICKNAME requests we send).
 * Not a public header: only core/msrp/ includes it.
 *
 * Thread: main thread.
 */
#ifndef SYLK_MSRP_SESSION_INTERNAL_H
#define SYLK_MSRP_SESSION_INTERNAL_H

#include "msrp/session.h"
#include "msrp/uri.h"

#define SYLK_MSRP_MAX_CONTROL   64  /* responses and REPORTs held while there is no connection */
#define SYLK_MSRP_MAX_DELIVERED 256 /* Message-IDs remembered to recognise a resent message */

struct incoming;
struct outgoing;

struct sylk_msrp_session {
    struct sylk_msrp_endpoint ep; /* first: the transport hands us this pointer; ep.conn is the
                                     session's current connection, where everything goes */
    struct sylk_msrp_transport *transport;
    char *session_id, *uri;
    char *peer_path;           /* To-Path of what we send */
    struct sylk_msrp_uri peer; /* the last URI of the peer's path: its own */
    bool have_peer;
    bool active;     /* we open the connection (RFC 6135), and open it again when it is lost */
    bool connecting; /* an active connect is under way */
    bool gone;       /* lost and not back in time: nothing more is sent or taken */
    bool pumping;
    size_t max_message, chunk_size;
    bool chunk_size_set; /* by set_chunk_size, not from the path */
    GRand *rand;         /* transaction and message ids: no global lock per character */
    unsigned transaction_s, reconnect_s;
    const struct sylk_msrp_session_events *events;
    void *user_data;

    /* a lost connection (session.c) */
    gint64 lost_at;           /* monotonic time of the loss; 0 while connected (or never) */
    guint give_up_timer;      /* reconnect_s after the loss */
    guint reconnect_timer;    /* active side: the next connect attempt */
    unsigned reconnect_delay; /* ms before the attempt after the next failure */
    GQueue control;           /* GBytes: responses and REPORTs waiting for a connection */

    /* incoming.c */
    int file_fd;           /* receive_file: where the next message goes, or -1 */
    struct incoming *file; /* that message, once it started */
    GHashTable *incoming;  /* Message-ID -> struct incoming */
    GHashTable *delivered; /* Message-ID -> GINT_TO_POINTER(status of its last chunk) */
    GQueue delivered_order;

    /* outgoing.c */
    GHashTable *outgoing;     /* Message-ID -> struct outgoing */
    GQueue send_queue;        /* struct outgoing with chunks still to make, in order */
    uint64_t queued_bytes;    /* bodies in memory of the messages in `outgoing` */
    GHashTable *transactions; /* transaction id -> struct transaction */
    guint sweep;              /* 1 s timer while transactions are pending */
    uint64_t next_seq;        /* order of the messages, kept when they are sent again */

    /* nickname.c */
    GQueue nicknames; /* NICKNAME requests sent or waiting for a connection, in order */
};

/* ------------------------------------------------------------------ session.c --- */

/** A transaction or message id unique within the session. */
char *sylk_msrp_session_ident(struct sylk_msrp_session *s, unsigned len);
/** A request from us; NULL when the body holds the end-line of `tid` (take another id). */
GBytes *sylk_msrp_session_request(const char *tid, const char *method, const char *to_path,
                                  const char *from_path, const char *const *headers,
                                  const void *body, size_t len, char flag);
/** A response or REPORT out on the session's connection, or held until there is one. */
void sylk_msrp_session_out(struct sylk_msrp_session *s, GBytes *wire);

/** Reads [off, off+n) of a file (sending it, or hashing what was received); false on a read
 * error or a file that shrank. */
bool sylk_msrp_read_file_at(int fd, uint64_t off, uint8_t *buf, size_t n);
/** Answers a request (unless Failure-Report says not to), on the session's connection. */
void sylk_msrp_session_respond(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f,
                               int status);

/* ----------------------------------------------------------------- outgoing.c --- */

void sylk_msrp_outgoing_free(gpointer outgoing);
/** Makes chunks while the connection holds less than SYLK_MSRP_HIGH_WATER unwritten bytes. */
void sylk_msrp_out_pump(struct sylk_msrp_session *s);
/** A response to one of our chunks. */
void sylk_msrp_out_response(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f);
/**
 * The connection is gone: chunks without a response are forgotten and their messages go back
 * in the queue, in their order, from their first byte not acknowledged. Returns that count of
 * chunks; *messages says how many messages are waiting now.
 */
unsigned sylk_msrp_out_rewind(struct sylk_msrp_session *s, unsigned *messages);
/** Every message not yet delivered fails with `status`. */
void sylk_msrp_out_fail_all(struct sylk_msrp_session *s, int status);

/* ----------------------------------------------------------------- incoming.c --- */

void sylk_msrp_incoming_free(gpointer incoming);
/** A SEND from the peer: placed, answered, handed over when whole. */
void sylk_msrp_in_send(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f);
/** Every message being received is dropped; a file's owner hears `status`. */
void sylk_msrp_in_drop_all(struct sylk_msrp_session *s, int status);

/* ----------------------------------------------------------------- nickname.c --- */

/** A connection is bound: the NICKNAMEs waiting for one go. */
void sylk_msrp_nick_flush(struct sylk_msrp_session *s);
/** The connection is gone: NICKNAMEs sent on it fail 408; those waiting keep waiting. */
void sylk_msrp_nick_lost(struct sylk_msrp_session *s);
/** Every NICKNAME fails with `status`. */
void sylk_msrp_nick_fail_all(struct sylk_msrp_session *s, int status);
/** A response to one of our NICKNAMEs is reported (true); false when it is not one. */
bool sylk_msrp_nick_response(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f);
/** Forgets them all without a word (the session is freed). */
void sylk_msrp_nick_free_all(struct sylk_msrp_session *s);

#endif
