/*
 * component.c — XEP-0114 connections, one per domain. See component.h.
 */
#define XGW_LOG_DOMAIN "xmppgw-component"
#include "component.h"

#include "conn.h"
#include "keys.h"
#include "ns.h"
#include "router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   30000
#define SWEEP_MS         1000

enum link_state {
    LINK_WAITING,    /* for the backoff timer */
    LINK_RESOLVING,  /* component_host is a name */
    LINK_CONNECTING, /* TCP, then our header */
    LINK_HANDSHAKE,  /* <handshake/> sent */
    LINK_READY,
};

struct link {
    char *domain, *label;
    enum link_state state;
    struct xconn *conn;
    sylk_resolve *query;
    sylk_timer *retry;
    unsigned backoff_ms;
    struct xgw_queue queue;
    GQueue inflight, retry_items;
    unsigned failures; /* since the last success: logged in full the first time */
};

static struct {
    const struct xgw_settings *settings;
    GPtrArray *links; /* struct link * */
    sylk_timer *sweep;
    bool quiescing;
} co;

static void connect_link(struct link *l);

/* ---------------------------------------------------------------- writing --- */

static void on_written(bool written, void *user_data)
{
    struct link *l = user_data;
    struct xgw_pending *p = g_queue_pop_head(&l->inflight);
    if (!p)
        return;
    if (written)
        xgw_pending_done(p, 0, 0);
    else
        g_queue_push_tail(&l->retry_items, p);
}

/* Writes p in the component namespace; false when the connection takes nothing more. */
static bool write_pending(struct link *l, struct xgw_pending *p)
{
    struct xmpp_node *moved = xgw_stanza_in_ns(p->stanza, XMPP_NS_COMPONENT);
    int rc = xconn_send(l->conn, moved ? moved : p->stanza, on_written, l);
    xmpp_node_free(moved);
    if (rc == 0 || rc == -ENOBUFS) {
        g_queue_push_tail(&l->inflight, p);
        return rc == 0;
    }
    if (!xgw_queue_push(&l->queue, p))
        xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
    return false;
}

static void requeue_retry(struct link *l)
{
    struct xgw_pending *p;
    while ((p = g_queue_pop_tail(&l->retry_items)))
        xgw_queue_push_front(&l->queue, p);
}

/* ------------------------------------------------------------- connection --- */

static void on_connected(struct xconn *c, void *user_data)
{
    struct link *l = user_data;
    xconn_set_local_name(c, l->domain);
    struct xmpp_stream_header h = {.content_ns = XMPP_NS_COMPONENT, .to = l->domain};
    xconn_send_header(c, &h);
}

static void on_opened(struct xconn *c, const struct xmpp_stream_header *h, void *user_data)
{
    struct link *l = user_data;
    if (!h->id) {
        xconn_stream_error(c, XMPP_STREAM_ERR_UNDEFINED_CONDITION, "no stream id");
        return;
    }
    g_autofree char *digest = xgw_component_handshake(h->id, co.settings->component_secret);
    struct xmpp_node *hs = xmpp_node_new(XMPP_NS_COMPONENT, "handshake");
    xmpp_node_add_text(hs, digest, -1);
    xconn_send(c, hs, NULL, NULL);
    xmpp_node_free(hs);
    l->state = LINK_HANDSHAKE;
}

static void ready(struct link *l)
{
    l->state = LINK_READY;
    l->backoff_ms = 0;
    l->failures = 0;
    XGW_LOG(SYLK_LOG_INFO, "%s: connected to %s as component %s (handshake accepted)", l->label,
            xconn_peer(l->conn), l->domain);
    requeue_retry(l);
    struct xgw_pending *p;
    while ((p = xgw_queue_pop(&l->queue)) && write_pending(l, p))
        ;
}

/* A stanza from the server: from any domain but ours (the server's users, remote domains). */
static bool authorized(const char *domain, void *user_data, enum xmpp_stream_condition *refusal)
{
    (void)user_data;
    *refusal = XMPP_STREAM_ERR_INVALID_FROM;
    return !xgw_router_serves(domain);
}

static void on_element(struct xconn *c, struct xmpp_node *el, void *user_data)
{
    struct link *l = user_data;
    if (l->state == LINK_HANDSHAKE) {
        if (xmpp_node_is(el, XMPP_NS_COMPONENT, "handshake"))
            ready(l);
        else
            xconn_stream_error(c, XMPP_STREAM_ERR_NOT_AUTHORIZED, "stanza before the handshake");
        xmpp_node_free(el);
        return;
    }
    enum xmpp_stream_condition cond;
    char *text = NULL;
    if (xgw_router_inbound(el, XMPP_NS_COMPONENT, l->label, authorized, l, &cond, &text) < 0)
        xconn_stream_error(c, cond, text);
    g_free(text);
}

static void on_retry(sylk_timer *t, void *user_data)
{
    struct link *l = user_data;
    (void)t;
    l->retry = NULL;
    connect_link(l);
}

/* Down: try again after the backoff. */
static void schedule_retry(struct link *l, const char *why)
{
    enum sylk_log_level level = l->failures++ ? SYLK_LOG_DEBUG : SYLK_LOG_WARNING;
    l->backoff_ms =
        l->backoff_ms ? MIN(l->backoff_ms * 2, (unsigned)BACKOFF_MAX_MS) : BACKOFF_FIRST_MS;
    XGW_LOG(level, "%s: %s; connecting again in %u s%s", l->label, why, l->backoff_ms / 1000,
            level == SYLK_LOG_DEBUG ? "" : " (and so on, with a longer wait each time)");
    l->state = LINK_WAITING;
    l->retry = xgw_host()->timer_add(l->backoff_ms, false, on_retry, l);
}

static void on_closed(struct xconn *c, const char *why, void *user_data)
{
    struct link *l = user_data;
    enum xmpp_stream_condition cond;
    bool refused = l->state == LINK_HANDSHAKE && xconn_peer_error(c, &cond) &&
                   cond == XMPP_STREAM_ERR_NOT_AUTHORIZED;
    bool was_ready = l->state == LINK_READY;
    l->conn = NULL;
    xconn_free(c);
    requeue_retry(l);
    if (co.quiescing)
        return;
    if (refused) {
        XGW_LOG(SYLK_LOG_ERROR,
                "%s: the server refused the handshake as component %s (not-authorized): is "
                "component_secret the server's?",
                l->label, l->domain);
        l->failures++;
    }
    g_autofree char *text = g_strdup_printf("%s%s", was_ready ? "connection lost: " : "", why);
    schedule_retry(l, text);
}

static const struct xconn_handler handler = {
    .connected = on_connected,
    .opened = on_opened,
    .element = on_element,
    .closed = on_closed,
};

static void connect_to(struct link *l, const struct xconn_address *a, size_t count)
{
    const struct xgw_settings *s = co.settings;
    struct xconn_params p = {.label = l->label,
                             .content_ns = XMPP_NS_COMPONENT,
                             .max_stanza_bytes = s->max_stanza_bytes,
                             .send_buffer_bytes = s->send_buffer_bytes,
                             .trace = xgw_config()->trace_xmpp,
                             .handler = &handler,
                             .user_data = l};
    l->state = LINK_CONNECTING;
    l->conn = xconn_connect(a, count, false, NULL, &p);
}

static void on_resolved(sylk_resolve *query, int status,
                        const struct sylk_resolved_address *addresses, size_t count,
                        void *user_data)
{
    struct link *l = user_data;
    (void)query;
    l->query = NULL;
    if (status < 0 || count == 0) {
        g_autofree char *why = g_strdup_printf("no address for %s", co.settings->component_host);
        schedule_retry(l, why);
        return;
    }
    g_autofree struct xconn_address *list = g_new0(struct xconn_address, count);
    for (size_t i = 0; i < count; i++)
        list[i] = (struct xconn_address){(char *)addresses[i].address, addresses[i].port};
    connect_to(l, list, count);
}

static void connect_link(struct link *l)
{
    const struct xgw_settings *s = co.settings;
    unsigned char a[16];
    if (inet_pton(AF_INET, s->component_host, a) == 1 ||
        inet_pton(AF_INET6, s->component_host, a) == 1) {
        struct xconn_address addr = {s->component_host, (uint16_t)s->component_port};
        connect_to(l, &addr, 1);
        return;
    }
    l->state = LINK_RESOLVING;
    l->query = xgw_host()->resolve(NULL, NULL, s->component_host, (uint16_t)s->component_port,
                                   on_resolved, l);
    if (!l->query)
        schedule_retry(l, "cannot resolve component_host");
}

/* --------------------------------------------------------------- lifecycle --- */

static void on_sweep(sylk_timer *t, void *user_data)
{
    (void)t, (void)user_data;
    gint64 before = g_get_monotonic_time() - (gint64)co.settings->connect_timeout * G_USEC_PER_SEC;
    for (guint i = 0; i < co.links->len; i++) {
        struct link *l = g_ptr_array_index(co.links, i);
        unsigned n = l->state == LINK_READY
                         ? 0
                         : xgw_queue_expire(&l->queue, before, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        if (n)
            XGW_LOG(SYLK_LOG_WARNING, "%s: %u stanza%s waited %u s for the connection: failed",
                    l->label, n, n == 1 ? "" : "s", co.settings->connect_timeout);
    }
}

int xgw_component_start(const struct xgw_settings *settings, char **why)
{
    co.settings = settings;
    co.quiescing = false;
    co.links = g_ptr_array_new();
    for (char **d = xgw_config()->domains; d && *d; d++) {
        struct link *l = g_new0(struct link, 1);
        l->domain = g_strdup(*d);
        l->label = g_strdup_printf("component %s", *d);
        xgw_queue_init(&l->queue, settings->queue_limit);
        g_queue_init(&l->inflight);
        g_queue_init(&l->retry_items);
        g_ptr_array_add(co.links, l);
        XGW_LOG(SYLK_LOG_INFO, "%s: connecting to %s port %u", l->label, settings->component_host,
                settings->component_port);
        connect_link(l);
    }
    (void)why;
    co.sweep = xgw_host()->timer_add(SWEEP_MS, true, on_sweep, NULL);
    return 0;
}

static struct link *find(const char *domain)
{
    for (guint i = 0; co.links && i < co.links->len; i++) {
        struct link *l = g_ptr_array_index(co.links, i);
        if (strcmp(l->domain, domain) == 0)
            return l;
    }
    return NULL;
}

void xgw_component_send(struct xgw_pending *p, const char *local)
{
    struct link *l = find(local);
    if (!l) { /* e.g. a MUC domain: a component of its own, not connected (issue 14) */
        XGW_LOG(SYLK_LOG_WARNING, "no component connection for %s", local);
        xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        return;
    }
    if (l->state == LINK_READY) {
        write_pending(l, p);
        return;
    }
    if (co.quiescing || !xgw_queue_push(&l->queue, p)) {
        if (!co.quiescing)
            XGW_LOG(SYLK_LOG_WARNING, "%s: %u stanzas wait already (queue_limit): one more fails",
                    l->label, l->queue.limit);
        xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
    }
}

void xgw_component_quiesce(void)
{
    co.quiescing = true;
    for (guint i = 0; co.links && i < co.links->len; i++) {
        struct link *l = g_ptr_array_index(co.links, i);
        if (l->conn)
            xconn_flush_now(l->conn);
        struct xgw_pending *p;
        while ((p = g_queue_pop_head(&l->inflight)))
            xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        requeue_retry(l);
        xgw_queue_fail_all(&l->queue, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
    }
}

void xgw_component_stop(void)
{
    if (!co.links)
        return;
    co.quiescing = true;
    xgw_host()->timer_cancel(co.sweep);
    co.sweep = NULL;
    for (guint i = 0; i < co.links->len; i++) {
        struct link *l = g_ptr_array_index(co.links, i);
        xgw_host()->timer_cancel(l->retry);
        xgw_host()->resolve_cancel(l->query);
        xconn_shutdown(g_steal_pointer(&l->conn));
        requeue_retry(l);
        struct xgw_pending *p;
        while ((p = g_queue_pop_head(&l->inflight)))
            xgw_pending_done(p, -1, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        xgw_queue_fail_all(&l->queue, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
        g_free(l->domain);
        g_free(l->label);
        g_free(l);
    }
    g_clear_pointer(&co.links, g_ptr_array_unref);
}
