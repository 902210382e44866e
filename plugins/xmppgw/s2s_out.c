/*
 * s2s_out.c — the streams we open to remote servers, one per (our domain, remote domain). See
 * s2s.h.
 *
 * Set-up: static route or DNS (SRV _xmpp-server._tcp, then A/AAAA on 5269) → TCP to each
 * address in turn → our header → the peer's header (its stream id) and features → STARTTLS
 * when offered (transport = tls) and a new stream → db:result with our key (and the db:verify
 * requests s2s_in asked for) → db:result type='valid': the stream is ready and the queued
 * stanzas go out, oldest first. Each stanza's outcome is known once its bytes are written; a
 * stream that breaks puts what it had not written back in front of the queue and is set up
 * again while anything waits. A set-up that does not end within connect_timeout, or fails,
 * fails what waits (remote-server-not-found when the domain has no address, else
 * remote-server-timeout). A ready stream idle for idle_timeout is closed.
 */
#define XGW_LOG_DOMAIN "xmppgw-s2s"
#include "conn.h"
#include "keys.h"
#include "ns.h"
#include "router.h"
#include "s2s.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define XMPP_SERVER_PORT 5269

enum out_state {
    OUT_RESOLVING,
    OUT_CONNECTING,  /* TCP, then our header */
    OUT_NEGOTIATING, /* waiting for the peer's header and features */
    OUT_STARTTLS,    /* <starttls/> sent */
    OUT_DIALBACK,    /* db:result sent */
    OUT_READY,       /* authenticated: stanzas flow */
    OUT_CLOSING,     /* closed for idleness: set up again if a stanza comes meanwhile */
};

/* A db:verify to send for s2s_in once dialback can start on the stream. */
struct verify {
    char *id, *key;
};

struct s2s_out {
    char *name; /* "local remote" */
    char *local, *remote, *label;
    enum out_state state;
    sylk_resolve *query;
    struct xconn *conn;
    char *id; /* the receiving server's stream id */
    bool secured;
    struct xgw_queue queue; /* waiting for the stream */
    GQueue inflight;        /* struct xgw_pending *: written, bytes not out yet */
    GQueue retry;           /* inflight ones the broken stream did not write */
    GQueue verifies;        /* struct verify *: db:verify requests not sent yet */
    GHashTable *verifying;  /* id → start (monotonic µs, boxed): db:verify sent */
    gint64 since;           /* this set-up's start */
    bool was_ready;
};

static struct {
    GHashTable *streams; /* name → struct s2s_out * */
    bool quiescing;
} out;

static const struct xgw_settings *settings(void)
{
    return xgw_s2s_settings();
}

static void verify_free(gpointer data)
{
    struct verify *v = data;
    g_free(v->id);
    g_free(v->key);
    g_free(v);
}

static void put(struct s2s_out *o, struct xmpp_node *el)
{
    xconn_send(o->conn, el, NULL, NULL);
    xmpp_node_free(el);
}

/* ------------------------------------------------------------------ ending --- */

/* The db:verify requests sent on a stream that broke: their answers will not come. */
static void fail_verifying(struct s2s_out *o, enum xmpp_stanza_condition cond)
{
    GList *ids = g_hash_table_get_keys(o->verifying);
    for (GList *l = ids; l; l = l->next)
        xgw_s2s_in_verified(o->remote, o->local, l->data, XGW_DB_ERROR, cond);
    g_list_free(ids);
    g_hash_table_remove_all(o->verifying);
}

/* Every db:verify request of s2s_in on this stream, sent or not. */
static void fail_verifies(struct s2s_out *o, enum xmpp_stanza_condition cond)
{
    struct verify *v;
    while ((v = g_queue_pop_head(&o->verifies))) {
        xgw_s2s_in_verified(o->remote, o->local, v->id, XGW_DB_ERROR, cond);
        verify_free(v);
    }
    fail_verifying(o, cond);
}

/* Written ones the stream lost go back in front of the queue, in their order. */
static void requeue_retry(struct s2s_out *o)
{
    struct xgw_pending *p;
    while ((p = g_queue_pop_tail(&o->retry)))
        xgw_queue_push_front(&o->queue, p);
}

static void stream_free(struct s2s_out *o, enum xmpp_stanza_condition cond)
{
    g_hash_table_steal(out.streams, o->name);
    xgw_host()->resolve_cancel(o->query);
    o->query = NULL;
    xconn_free(g_steal_pointer(&o->conn)); /* its lost writes come back in o->retry */
    requeue_retry(o);
    struct xgw_pending *p;
    while ((p = g_queue_pop_head(&o->inflight)))
        xgw_pending_done(p, -1, cond);
    xgw_queue_fail_all(&o->queue, cond);
    fail_verifies(o, cond);
    g_hash_table_unref(o->verifying);
    g_free(o->name);
    g_free(o->local);
    g_free(o->remote);
    g_free(o->label);
    g_free(o->id);
    g_free(o);
}

/* The set-up failed: whatever waits fails with cond. */
static void fail(struct s2s_out *o, enum xmpp_stanza_condition cond, const char *why)
{
    unsigned n = xgw_queue_length(&o->queue) + g_queue_get_length(&o->retry) +
                 g_queue_get_length(&o->inflight);
    XGW_LOG(SYLK_LOG_WARNING, "%s: cannot reach %s: %s%s", o->label, o->remote, why,
            n ? "; the stanzas waiting fail" : "");
    stream_free(o, cond);
}

/* ---------------------------------------------------------------- writing --- */

static void on_written(bool written, void *user_data)
{
    struct s2s_out *o = user_data;
    struct xgw_pending *p = g_queue_pop_head(&o->inflight);
    if (!p)
        return;
    if (written)
        xgw_pending_done(p, 0, 0);
    else
        g_queue_push_tail(&o->retry, p);
}

/* Writes p on the ready stream; false when the stream no longer takes anything (p waits). */
static bool write_pending(struct s2s_out *o, struct xgw_pending *p)
{
    int rc = xconn_send(o->conn, p->stanza, on_written, o);
    if (rc == 0 || rc == -ENOBUFS) { /* with -ENOBUFS on_written(false) follows */
        g_queue_push_tail(&o->inflight, p);
        return rc == 0;
    }
    if (!xgw_queue_push(&o->queue, p)) /* closing: the next stream takes it */
        xgw_pending_done(p, -1, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    return false;
}

static void ready(struct s2s_out *o)
{
    o->state = OUT_READY;
    o->was_ready = true;
    XGW_LOG(SYLK_LOG_INFO, "%s: authenticated by dialback as %s to %s (%s%s)", o->label, o->local,
            o->remote, xconn_peer(o->conn), o->secured ? ", TLS" : ", no TLS");
    struct xgw_pending *p;
    while ((p = xgw_queue_pop(&o->queue)) && write_pending(o, p))
        ;
}

/* ----------------------------------------------------------------- set-up --- */

/* The db:verify requests of s2s_in go out once dialback may start on the stream. */
static void send_verifies(struct s2s_out *o)
{
    struct verify *v;
    while ((v = g_queue_pop_head(&o->verifies))) {
        put(o, xgw_db_element("verify", o->local, o->remote, v->id, NULL, v->key));
        gint64 *since = g_new(gint64, 1);
        *since = g_get_monotonic_time();
        g_hash_table_insert(o->verifying, g_steal_pointer(&v->id), since);
        verify_free(v);
    }
}

static void begin_dialback(struct s2s_out *o)
{
    o->state = OUT_DIALBACK;
    send_verifies(o);
    g_autofree char *key = xgw_dialback_key(xgw_s2s_secret_hash(), o->remote, o->local, o->id);
    put(o, xgw_db_element("result", o->local, o->remote, NULL, NULL, key));
}

static void send_header(struct s2s_out *o)
{
    struct xmpp_stream_header h = {.content_ns = XMPP_NS_SERVER,
                                   .dialback = true,
                                   .from = o->local,
                                   .to = o->remote,
                                   .version = "1.0",
                                   .lang = "en"};
    xconn_send_header(o->conn, &h);
    o->state = OUT_NEGOTIATING;
}

static void on_connected(struct xconn *c, void *user_data)
{
    struct s2s_out *o = user_data;
    xconn_set_local_name(c, o->local);
    send_header(o);
}

static void on_opened(struct xconn *c, const struct xmpp_stream_header *h, void *user_data)
{
    struct s2s_out *o = user_data;
    if (!h->id) { /* RFC 6120 §4.7.3: the receiving entity must give one (dialback keys use it) */
        xconn_stream_error(c, XMPP_STREAM_ERR_UNDEFINED_CONDITION, "no stream id");
        return;
    }
    g_free(o->id);
    o->id = g_strdup(h->id);
    if (!h->version) { /* a pre-1.0 server: no features, dialback at once */
        if (settings()->require_tls)
            xconn_stream_error(c, XMPP_STREAM_ERR_POLICY_VIOLATION, "TLS is required");
        else
            begin_dialback(o);
    }
}

static void on_features(struct s2s_out *o, const struct xmpp_node *features)
{
    if (o->state != OUT_NEGOTIATING)
        return;
    const struct xmpp_node *starttls = xmpp_node_child(features, XMPP_NS_TLS, "starttls");
    bool required = starttls && xmpp_node_child(starttls, XMPP_NS_TLS, "required");
    if (starttls && settings()->tls && !o->secured) {
        put(o, xmpp_node_new(XMPP_NS_TLS, "starttls"));
        o->state = OUT_STARTTLS;
        return;
    }
    if (!o->secured && settings()->require_tls) {
        xconn_stream_error(o->conn, XMPP_STREAM_ERR_POLICY_VIOLATION,
                           "TLS is required (require_tls) and the server does not offer it");
        return;
    }
    if (required && !o->secured) {
        xconn_stream_error(o->conn, XMPP_STREAM_ERR_POLICY_VIOLATION,
                           "the server requires TLS and transport is tcp");
        return;
    }
    begin_dialback(o);
}

/* The answer to our db:result (XEP-0220 §2.1.3). */
static void on_db_result(struct s2s_out *o, const struct xmpp_node *el)
{
    if (g_strcmp0(xmpp_node_attr(el, "from"), o->remote) != 0 ||
        g_strcmp0(xmpp_node_attr(el, "to"), o->local) != 0 || o->state != OUT_DIALBACK)
        return;
    enum xmpp_stanza_condition cond;
    switch (xgw_db_verdict_of(el, &cond)) {
    case XGW_DB_VALID:
        ready(o);
        return;
    case XGW_DB_INVALID:
        XGW_LOG(SYLK_LOG_WARNING, "%s: %s refused our dialback key", o->label, o->remote);
        break;
    case XGW_DB_ERROR:
        XGW_LOG(SYLK_LOG_WARNING, "%s: %s could not check our dialback key: %s", o->label,
                o->remote, xmpp_stanza_condition_name(cond));
        break;
    }
    xconn_close(o->conn); /* `closed` fails what waits */
}

/* The answer to a db:verify we sent for s2s_in (XEP-0220 §2.3). */
static void on_db_verify(struct s2s_out *o, const struct xmpp_node *el)
{
    const char *id = xmpp_node_attr(el, "id");
    if (!id || g_strcmp0(xmpp_node_attr(el, "from"), o->remote) != 0 ||
        g_strcmp0(xmpp_node_attr(el, "to"), o->local) != 0 ||
        !g_hash_table_remove(o->verifying, id))
        return;
    enum xmpp_stanza_condition cond = XMPP_STANZA_ERR_UNDEFINED_CONDITION;
    enum xgw_db_verdict verdict = xgw_db_verdict_of(el, &cond);
    xgw_s2s_in_verified(o->remote, o->local, id, verdict, cond);
}

static void on_element(struct xconn *c, struct xmpp_node *el, void *user_data)
{
    struct s2s_out *o = user_data;
    if (xmpp_node_is(el, XMPP_NS_STREAMS, "features"))
        on_features(o, el);
    else if (xmpp_node_is(el, XMPP_NS_TLS, "proceed") && o->state == OUT_STARTTLS)
        xconn_starttls(c, false);
    else if (xmpp_node_is(el, XMPP_NS_TLS, "failure"))
        xconn_stream_error(c, XMPP_STREAM_ERR_POLICY_VIOLATION, "the server refused STARTTLS");
    else if (xmpp_node_is(el, XMPP_NS_DIALBACK, "result"))
        on_db_result(o, el);
    else if (xmpp_node_is(el, XMPP_NS_DIALBACK, "verify"))
        on_db_verify(o, el);
    else /* streams are one-way (RFC 6120 §4.2; no XEP-0288 bidi): nothing else may come */
        xconn_stream_error(c, XMPP_STREAM_ERR_UNSUPPORTED_STANZA_TYPE,
                           "this stream is ours to send on");
    xmpp_node_free(el);
}

static void on_secured(struct xconn *c, void *user_data)
{
    struct s2s_out *o = user_data;
    (void)c;
    o->secured = true;
    send_header(o);
}

static void start(struct s2s_out *o);

static void on_closed(struct xconn *c, const char *why, void *user_data)
{
    struct s2s_out *o = user_data;
    o->conn = NULL;
    xconn_free(c);
    requeue_retry(o);
    bool waiting = xgw_queue_length(&o->queue) || g_queue_get_length(&o->verifies);
    bool was_up = o->state == OUT_READY || o->state == OUT_CLOSING;
    if (was_up && waiting && !out.quiescing) {
        XGW_LOG(SYLK_LOG_INFO, "%s: stream closed (%s); setting it up again for what waits",
                o->label, why);
        fail_verifying(o, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT); /* answers lost */
        start(o);
        return;
    }
    if (was_up) {
        XGW_LOG(SYLK_LOG_INFO, "%s: stream closed: %s", o->label, why);
        stream_free(o, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
        return;
    }
    fail(o, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT, why);
}

static const struct xconn_handler handler = {
    .connected = on_connected,
    .opened = on_opened,
    .element = on_element,
    .secured = on_secured,
    .closed = on_closed,
};

static void connect_to(struct s2s_out *o, const struct xconn_address *addresses, size_t count)
{
    const struct xgw_settings *st = settings();
    struct xconn_params p = {.label = o->label,
                             .content_ns = XMPP_NS_SERVER,
                             .dialback = true,
                             .max_stanza_bytes = st->max_stanza_bytes,
                             .send_buffer_bytes = st->send_buffer_bytes,
                             .trace = xgw_config()->trace_xmpp,
                             .handler = &handler,
                             .user_data = o};
    o->state = OUT_CONNECTING;
    o->conn = xconn_connect(addresses, count, false, o->remote, &p);
}

static void on_resolved(sylk_resolve *query, int status,
                        const struct sylk_resolved_address *addresses, size_t count,
                        void *user_data)
{
    struct s2s_out *o = user_data;
    (void)query;
    o->query = NULL;
    if (status < 0 || count == 0) {
        g_autofree char *why = g_strdup_printf("no address for %s: %s", o->remote,
                                               status == -ENOENT      ? "no such name or service"
                                               : status == -ETIMEDOUT ? "DNS timed out"
                                                                      : g_strerror(-status));
        fail(o,
             status == -ETIMEDOUT ? XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT
                                  : XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
             why);
        return;
    }
    g_autofree struct xconn_address *list = g_new0(struct xconn_address, count);
    for (size_t i = 0; i < count; i++)
        list[i] = (struct xconn_address){(char *)addresses[i].address, addresses[i].port};
    connect_to(o, list, count);
}

static bool ip_literal(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* A set-up: static route or DNS, then connect. */
static void start(struct s2s_out *o)
{
    o->state = OUT_RESOLVING;
    o->secured = false;
    o->since = g_get_monotonic_time();
    const struct xgw_route *route = xgw_routes_find(settings()->static_routes, o->remote);
    if (route && ip_literal(route->host)) {
        struct xconn_address a = {route->host, route->port};
        connect_to(o, &a, 1);
        return;
    }
    o->query = route ? xgw_host()->resolve(NULL, NULL, route->host, route->port, on_resolved, o)
                     : xgw_host()->resolve("xmpp-server", "tcp", o->remote, XMPP_SERVER_PORT,
                                           on_resolved, o);
    if (!o->query) /* only for bad arguments: names were checked before */
        XGW_LOG(SYLK_LOG_ERROR, "%s: cannot resolve %s", o->label, o->remote);
}

static struct s2s_out *get(const char *local, const char *remote)
{
    if (!out.streams)
        out.streams = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *name = g_strdup_printf("%s %s", local, remote);
    struct s2s_out *o = g_hash_table_lookup(out.streams, name);
    if (o)
        return o;
    o = g_new0(struct s2s_out, 1);
    o->name = g_steal_pointer(&name);
    o->local = g_strdup(local);
    o->remote = g_strdup(remote);
    o->label = g_strdup_printf("s2s out %s -> %s", local, remote);
    xgw_queue_init(&o->queue, settings()->queue_limit);
    g_queue_init(&o->inflight);
    g_queue_init(&o->retry);
    g_queue_init(&o->verifies);
    o->verifying = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert(out.streams, o->name, o);
    start(o);
    return o;
}

/* ------------------------------------------------------------------- entries --- */

void xgw_s2s_out_send(struct xgw_pending *p, const char *local, const char *remote)
{
    if (out.quiescing) { /* shutting down: only streams that are up take it */
        g_autofree char *name = g_strdup_printf("%s %s", local, remote);
        struct s2s_out *o = out.streams ? g_hash_table_lookup(out.streams, name) : NULL;
        if (o && o->state == OUT_READY)
            write_pending(o, p);
        else
            xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        return;
    }
    struct s2s_out *o = get(local, remote);
    if (o->state == OUT_READY) {
        write_pending(o, p);
        return;
    }
    if (!xgw_queue_push(&o->queue, p)) {
        XGW_LOG(SYLK_LOG_WARNING, "%s: %u stanzas wait already (queue_limit): one more fails",
                o->label, o->queue.limit);
        xgw_pending_done(p, -1, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    }
}

void xgw_s2s_out_verify(const char *local, const char *remote, const char *id, const char *key)
{
    if (out.quiescing) {
        xgw_s2s_in_verified(remote, local, id, XGW_DB_ERROR, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
        return;
    }
    struct s2s_out *o = get(local, remote);
    struct verify *v = g_new0(struct verify, 1);
    *v = (struct verify){g_strdup(id), g_strdup(key)};
    g_queue_push_tail(&o->verifies, v);
    if (o->state == OUT_DIALBACK || o->state == OUT_READY)
        send_verifies(o);
}

void xgw_s2s_out_sweep(gint64 now)
{
    if (!out.streams)
        return;
    const struct xgw_settings *st = settings();
    gint64 deadline = (gint64)st->connect_timeout * G_USEC_PER_SEC;
    GList *all = g_hash_table_get_values(out.streams);
    for (GList *l = all; l; l = l->next) {
        struct s2s_out *o = l->data;
        if (o->state != OUT_READY && o->state != OUT_CLOSING) {
            if (now - o->since > deadline) {
                g_autofree char *why =
                    g_strdup_printf("not authenticated within %u s", st->connect_timeout);
                fail(o, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT, why);
            }
            continue;
        }
        GHashTableIter it;
        gpointer id, since;
        g_hash_table_iter_init(&it, o->verifying);
        while (g_hash_table_iter_next(&it, &id, &since)) {
            if (now - *(gint64 *)since > deadline) {
                xgw_s2s_in_verified(o->remote, o->local, id, XGW_DB_ERROR,
                                    XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
                g_hash_table_iter_remove(&it);
            }
        }
        bool busy = g_queue_get_length(&o->inflight) || g_hash_table_size(o->verifying);
        if (o->state == OUT_READY && !busy && o->conn &&
            now - xconn_last_activity(o->conn) > (gint64)st->idle_timeout * G_USEC_PER_SEC) {
            XGW_LOG(SYLK_LOG_DEBUG, "%s: idle for %u s: closing", o->label, st->idle_timeout);
            o->state = OUT_CLOSING;
            xconn_close(o->conn);
        }
    }
    g_list_free(all);
}

void xgw_s2s_out_quiesce(void)
{
    out.quiescing = true;
    if (!out.streams)
        return;
    GList *all = g_hash_table_get_values(out.streams);
    for (GList *l = all; l; l = l->next) {
        struct s2s_out *o = l->data;
        if (o->conn)
            xconn_flush_now(o->conn);
    }
    g_list_free(all);
    /* flushing may have ended streams: look again */
    all = g_hash_table_get_values(out.streams);
    for (GList *l = all; l; l = l->next) {
        struct s2s_out *o = l->data;
        if (o->state != OUT_READY) {
            stream_free(o, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
            continue;
        }
        struct xgw_pending *p;
        while ((p = g_queue_pop_head(&o->inflight))) /* its bytes may still go out at stop */
            xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        xgw_queue_fail_all(&o->queue, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        fail_verifies(o, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    }
    g_list_free(all);
}

void xgw_s2s_out_close_all(void)
{
    if (!out.streams)
        return;
    GList *all = g_hash_table_get_values(out.streams);
    for (GList *l = all; l; l = l->next) {
        struct s2s_out *o = l->data;
        xconn_shutdown(g_steal_pointer(&o->conn));
        stream_free(o, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
    }
    g_list_free(all);
    g_clear_pointer(&out.streams, g_hash_table_unref);
    out.quiescing = false;
}
