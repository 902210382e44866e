/*
 * conn_priv.h — what the files of one XMPP connection share (conn.c: lifetime, writing,
 * closing, reading, I/O; conn_tls.c: credentials, STARTTLS and direct TLS; conn_connect.c:
 * outgoing connections). Not for the connection's owners: they use conn.h.
 *
 * Thread: main thread.
 */
#ifndef XMPPGW_CONN_PRIV_H
#define XMPPGW_CONN_PRIV_H

#include "conn.h"

enum state {
    ST_CONNECTING, /* TCP connect() in progress */
    ST_HANDSHAKE,  /* TLS handshake in progress */
    ST_OPEN,       /* the stream flows */
    ST_CLOSING,    /* our </stream:stream> queued: waiting for the peer's, or the time limit */
    ST_DEAD,       /* socket closed, `closed` reported (or freed) */
};

struct mark {
    guint64 end; /* the write is done once this many bytes went out */
    xconn_written_fn fn;
    void *user_data;
};

struct xconn {
    enum state state;
    struct xconn_params p;
    char *label, *peer, *local_name, *server_name;
    int fd;
    sylk_fd_watch *watch;
    gnutls_session_t tls;
    bool tls_server;       /* our role in the TLS session */
    bool direct_tls;       /* TLS from the first byte */
    bool starttls_pending; /* as server: TLS starts once plain_until bytes went out */
    guint64 plain_until;
    bool starttls_done; /* the handshake was a STARTTLS one (`secured` follows) */
    size_t tls_again;   /* gnutls wants the last send repeated (as NULL, 0) */
    struct xmpp_stream_parser *parser;
    struct xmpp_stream_header *ours; /* the header we sent last */
    GByteArray *out;
    size_t out_off;
    guint64 written, queued; /* bytes handed to the kernel, bytes queued, since the start */
    GQueue marks;            /* struct mark *, in write order */
    bool footer_sent;
    bool peer_closed; /* its </stream:stream> came */
    bool shut_wr;
    char *close_why; /* why we are closing (the closed callback's reason) */
    bool have_peer_error;
    enum xmpp_stream_condition peer_error;
    struct xconn_address *addrs;
    size_t naddrs, next_addr;
    char *connect_error;
    sylk_timer *timer;  /* connect attempt, or close wait */
    sylk_timer *defer;  /* a failure noticed inside a call of the owner, acted on from the loop */
    sylk_timer *resume; /* reading resumed: what gnutls holds is read from the loop */
    GList *link;        /* in the list of every connection (conn.c) */
    gint64 last_activity;
    int busy;
    bool freed;
};

/* conn.c */
struct xconn *xconn_new(const struct xconn_params *p);
/* Entries of our own (fd watch, timers) are framed by these: a connection freed by its owner
 * inside a callback goes when the outermost entry returns. */
void xconn_enter(struct xconn *c);
void xconn_leave(struct xconn *c);
/** Not freed, not torn down. */
bool xconn_alive(const struct xconn *c);
/** Alive, and the stream can carry bytes (open or closing). */
bool xconn_flowing(const struct xconn *c);
void xconn_cancel_timer(sylk_timer **t);
void xconn_close_socket(struct xconn *c);
/** The end: socket closed, writes not done reported, then `closed` (unless freed). */
void xconn_teardown(struct xconn *c, const char *why);
void xconn_update_watch(struct xconn *c);
void xconn_on_watch(sylk_fd_watch *w, int fd, unsigned events, void *user_data);

/* conn_tls.c */
/** A TLS session on the socket, in either role; false when it could not be made (torn down). */
bool xconn_start_tls(struct xconn *c, bool server);
/** One step of the handshake; on success `secured` (STARTTLS) or `connected` (direct TLS). */
void xconn_handshake(struct xconn *c);

/* conn_connect.c */
/** An outgoing connection is up: the owner hears `connected`. */
void xconn_connected(struct xconn *c);
/** The connect() in progress ended: up, or the next address. */
void xconn_finish_connect(struct xconn *c);

#endif
