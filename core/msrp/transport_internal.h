/*
 * transport_internal.h — what transport.c (listener, connections, reading and writing) and
 * transport_connect.c (outgoing connections) share. Not part of the core's MSRP API.
 *
 * Thread: main thread.
 */
#ifndef SYLK_MSRP_TRANSPORT_INTERNAL_H
#define SYLK_MSRP_TRANSPORT_INTERNAL_H

#include "msrp/transport.h"

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <sys/socket.h>

#define MAX_CONNECTIONS   4096
#define CONNECT_TIMEOUT_S 10

struct sylk_msrp_transport {
    int fd;
    unsigned port;
    guint watch;
    gnutls_certificate_credentials_t cred;        /* NULL: plain TCP */
    GHashTable *endpoints;                        /* session id -> struct sylk_msrp_endpoint * */
    gnutls_certificate_credentials_t client_cred; /* made for the first msrps connect */
    GList *conns;
    GList *dying; /* closed, freed from an idle callback (or at stop) */
    unsigned reconnect_s;
    struct sylk_msrp_counters counters;
};

struct sylk_msrp_conn {
    struct sylk_msrp_transport *t;
    int fd;
    guint watch;
    GIOCondition watching;
    gnutls_session_t tls;
    bool handshaken;
    char peer[64];
    GByteArray *in;
    GQueue out;        /* GBytes waiting for the stage */
    GByteArray *stage; /* being written */
    size_t stage_off, out_queued;
    char *last_to_path, *last_sid; /* see session_id_for */
    bool above_low;                /* a send left out_queued above SYLK_MSRP_LOW_WATER */
    bool in_io;                    /* on_io is on the stack */
    bool closing;
    bool close_when_flushed; /* no session uses it any more: closed once its output is out */
    guint free_idle;
    /* An outgoing connection until its outcome is told: the endpoint is looked up by session
     * id in t->endpoints then, so one unregistered (and maybe freed) meanwhile is not called. */
    bool connecting; /* TCP connect() in progress */
    char *connect_sid;
    struct sylk_msrp_endpoint *connect_ep;
    int connect_error; /* a connect() that failed at once, told from connect_timer */
    guint connect_timer;
};

/** A connection on a connected (or connecting) socket, listed in t->conns; not watched yet. */
struct sylk_msrp_conn *sylk_msrp_conn_new(struct sylk_msrp_transport *t, int fd,
                                          const struct sockaddr_storage *ss);

/** Watches the connection's socket for what it waits for now. */
void sylk_msrp_conn_watch(struct sylk_msrp_conn *c);

/** Closes the connection (freed from an idle callback); `why` goes to the log. */
void sylk_msrp_conn_close(struct sylk_msrp_conn *c, const char *why);

/** Tells the endpoint of an outgoing connection its outcome, once (transport_connect.c). */
void sylk_msrp_connect_done(struct sylk_msrp_conn *c, int error, const char *why);

#endif
