/*
 * barrier.c — XEP-0199 pings as barriers behind written messages. See barrier.h.
 */
#include "barrier.h"

#include "gateway.h"
#include "mapping.h"
#include "ns.h"

#include <string.h>

#define LOG_DOMAIN      "xmppgw-barrier"
#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)
#define NS_PING         "urn:xmpp:ping"

struct pair {
    char *key; /* "local remote" */
    char *local, *remote;
    GArray *waiting;  /* guint serials written since the ping in flight was sent */
    GArray *pinged;   /* guint serials the ping in flight stands behind */
    char *ping_id;    /* NULL: none in flight */
    gint64 ping_sent; /* monotonic µs */
};

static struct {
    xgw_barrier_passed_fn passed;
    GHashTable *pairs; /* key -> struct pair */
    GHashTable *pings; /* ping id -> struct pair (borrowed) */
    guint serial;
} b;

static void pair_free(gpointer p)
{
    struct pair *pair = p;
    g_free(pair->key);
    g_free(pair->local);
    g_free(pair->remote);
    g_array_unref(pair->waiting);
    g_array_unref(pair->pinged);
    g_free(pair->ping_id);
    g_free(pair);
}

void xgw_barrier_init(xgw_barrier_passed_fn passed)
{
    b.passed = passed;
    b.pairs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, pair_free);
    b.pings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

void xgw_barrier_shutdown(void)
{
    g_clear_pointer(&b.pings, g_hash_table_unref);
    g_clear_pointer(&b.pairs, g_hash_table_unref);
    b.passed = NULL;
}

guint xgw_barrier_count(void)
{
    return b.pairs ? g_hash_table_size(b.pairs) : 0;
}

static void forget_ping(struct pair *pair)
{
    if (pair->ping_id)
        g_hash_table_remove(b.pings, pair->ping_id);
    g_clear_pointer(&pair->ping_id, g_free);
}

/* Sends the ping that the waiting messages stand behind. */
static void send_ping(struct pair *pair)
{
    forget_ping(pair);
    g_array_set_size(pair->pinged, 0); /* a stale ping's messages keep their own timeout */
    GArray *t = pair->pinged;
    pair->pinged = pair->waiting;
    pair->waiting = t;
    pair->ping_id = g_strdup_printf("sylk-barrier-%u", ++b.serial);
    pair->ping_sent = g_get_monotonic_time();
    g_hash_table_insert(b.pings, g_strdup(pair->ping_id), pair);
    struct xmpp_node *iq = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(iq, "type", "get");
    xmpp_node_set_attr(iq, "id", pair->ping_id);
    xmpp_node_set_attr(iq, "from", pair->local);
    xmpp_node_set_attr(iq, "to", pair->remote);
    xmpp_node_add_element(iq, NS_PING, "ping");
    xgw_send(iq, NULL, NULL); /* a failure to send fails the messages before it as well */
}

void xgw_barrier_written(const char *local, const char *remote, guint serial)
{
    if (!b.pairs)
        return;
    g_autofree char *key = g_strconcat(local, " ", remote, NULL);
    struct pair *pair = g_hash_table_lookup(b.pairs, key);
    if (!pair) {
        pair = g_new0(struct pair, 1);
        pair->key = g_steal_pointer(&key);
        pair->local = g_strdup(local);
        pair->remote = g_strdup(remote);
        pair->waiting = g_array_new(FALSE, FALSE, sizeof(guint));
        pair->pinged = g_array_new(FALSE, FALSE, sizeof(guint));
        g_hash_table_insert(b.pairs, pair->key, pair);
    }
    g_array_append_val(pair->waiting, serial);
    gint64 now = g_get_monotonic_time();
    if (pair->ping_id && now - pair->ping_sent >= (gint64)XGW_BARRIER_STALE_MS * 1000) {
        LOG(SYLK_LOG_DEBUG, "ping %s to %s unanswered: giving it up", pair->ping_id, remote);
        forget_ping(pair);
    }
    if (!pair->ping_id)
        send_ping(pair);
}

bool xgw_barrier_iq(const struct xmpp_node *iq)
{
    const char *id = xmpp_node_attr(iq, "id");
    const char *type = xmpp_node_attr(iq, "type");
    if (!b.pings || !id || !type || (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
        return false;
    struct pair *pair = g_hash_table_lookup(b.pings, id);
    if (!pair)
        return g_str_has_prefix(id, "sylk-barrier-"); /* one given up: nothing to do */
    forget_ping(pair);
    g_autoptr(GArray) passed = pair->pinged;
    pair->pinged = g_array_new(FALSE, FALSE, sizeof(guint));
    if (pair->waiting->len)
        send_ping(pair);
    else
        g_hash_table_remove(b.pairs, pair->key); /* nothing in flight: forgotten */
    for (guint i = 0; i < passed->len; i++)
        b.passed(g_array_index(passed, guint, i)); /* may write more: pair may be gone */
    return true;
}
