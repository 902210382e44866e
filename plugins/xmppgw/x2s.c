/*
 * x2s.c — XMPP users watching SIP users (RFC 7248 §4-5, XMPP -> SIP). Main thread.
 *
 * A <presence type='subscribe'/> (or a probe when none exists: the watcher's server believes it
 * is subscribed and asks for the current presence) from romeo@<XMPP domain> to alice@<our
 * domain> makes a watch, one per (romeo, alice) pair, carried by one SIP subscription the core
 * keeps refreshed: SUBSCRIBE sip:alice@<our domain>, From sip:romeo@<XMPP domain>, Event
 * presence, Accept application/pidf+xml, through [sip] outbound_proxy.
 *   - NOTIFY active: <presence type='subscribed'/> once (only for a subscribe: a probe has
 *     one already); each NOTIFY's PIDF becomes one <presence/> per tuple from
 *     alice@dom/<resource> (pidf.h) to romeo, and an unavailable one for each resource
 *     reported before and missing now; pending: nothing yet.
 *   - the SUBSCRIBE refused: 403 and 603 are a refusal (<presence type='unsubscribed'/>,
 *     RFC 6121 §3.2), other codes a presence error with the RFC 7247 condition.
 *   - terminated by the notifier with reason rejected or noresource: unsubscribed; with
 *     another reason (deactivated, probation, timeout, giveup) or a refresh lost: subscribed
 *     again after XGW_X2S_RETRY_S, at most XGW_X2S_RETRIES times in a row before giving up.
 *   - <presence type='unsubscribe'/> from romeo: un-SUBSCRIBE; so does romeo going offline
 *     (unavailable from his last resource we saw online): his server probes again when he
 *     comes back. Either way alice's resources are reported unavailable to romeo, and nothing
 *     is left: no subscription outlives the XMPP watcher's interest.
 *   - a probe while the watch is up: the current presence again (unavailable when none).
 * At most XGW_MAX_SUBSCRIPTIONS watches (resource-constraint beyond).
 */
#include "errmap.h"
#include "mapping.h"
#include "message.h"
#include "pidf.h"
#include "presence.h"

#include <string.h>

#define LOG_DOMAIN      "xmppgw-presence"
#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)
#define XGW_X2S_EXPIRES 600 /* seconds asked for; the core refreshes before they run out */
#define XGW_X2S_RETRY_S 5
#define XGW_X2S_RETRIES 3

struct watch {
    char *key;                       /* "romeo@remote alice@dom" */
    char *watcher;                   /* romeo@remote */
    char *user;                      /* alice@dom */
    sylk_outgoing_subscription *sub; /* NULL between attempts */
    sylk_timer *retry;
    unsigned retries;
    bool announce; /* a subscribe asked: send subscribed once active */
    bool announced;
    bool leaving;               /* un-SUBSCRIBEd: the end is ours */
    struct xmpp_node *request;  /* the subscribe or probe, for an error reply */
    GPtrArray *reported;        /* struct xgw_presence *: alice's resources available to romeo */
    GHashTable *watcher_online; /* romeo's resources seen available */
};

static struct {
    GHashTable *watches; /* key -> struct watch */
} x2s;

static void watch_free(gpointer p)
{
    struct watch *w = p;
    if (w->retry)
        xgw_host()->timer_cancel(w->retry);
    if (w->request)
        xmpp_node_free(w->request);
    g_ptr_array_unref(w->reported);
    g_hash_table_unref(w->watcher_online);
    g_free(w->key);
    g_free(w->watcher);
    g_free(w->user);
    g_free(w);
}

static void watch_end(struct watch *w, const char *why)
{
    LOG(SYLK_LOG_INFO, "presence: %s no longer watches %s (%s); %u watch(es) left", w->watcher,
        w->user, why, g_hash_table_size(x2s.watches) - 1);
    g_hash_table_remove(x2s.watches, w->key);
}

static void send_stanza(struct xmpp_node *stanza)
{
    xgw_send(stanza, NULL, NULL);
}

static void presence_free(gpointer p)
{
    xgw_presence_clear(p);
    g_free(p);
}

/* alice's resources reported available become unavailable for romeo. */
static void report_gone(struct watch *w)
{
    for (guint i = 0; i < w->reported->len; i++) {
        const struct xgw_presence *p = g_ptr_array_index(w->reported, i);
        g_autofree char *from = g_strconcat(w->user, "/", p->resource, NULL);
        send_stanza(xgw_presence_typed(from, w->watcher, "unavailable"));
    }
    g_ptr_array_set_size(w->reported, 0);
}

static const struct xgw_presence *find(const GPtrArray *list, const char *resource)
{
    for (guint i = 0; i < list->len; i++) {
        const struct xgw_presence *p = g_ptr_array_index(list, i);
        if (strcmp(p->resource, resource) == 0)
            return p;
    }
    return NULL;
}

static void send_presence(const struct watch *w, const struct xgw_presence *p)
{
    g_autofree char *from = g_strconcat(w->user, "/", p->resource, NULL);
    send_stanza(xgw_presence_stanza(from, w->watcher, p));
}

/* One NOTIFY's PIDF as presence for romeo: each tuple available, or closed and available
 * before; then unavailable for the resources reported before that the document lost. */
static void relay_pidf(struct watch *w, const char *body, size_t len)
{
    struct xgw_pidf pidf;
    const char *why = NULL;
    if (xgw_pidf_parse(body, len, &pidf, &why) < 0) {
        LOG(SYLK_LOG_WARNING, "presence: NOTIFY for %s about %s has a bad PIDF: %s", w->watcher,
            w->user, why);
        return;
    }
    if (xgw_config()->log_presence)
        LOG(SYLK_LOG_INFO, "presence: %s -> %s\n%.*s", w->user, w->watcher, (int)len, body);
    GPtrArray *now = g_ptr_array_new_with_free_func(presence_free);
    g_autoptr(GHashTable) said = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < pidf.tuples->len; i++) {
        const struct xgw_pidf_tuple *t = g_ptr_array_index(pidf.tuples, i);
        struct xmpp_jid jid;
        g_autofree char *full = g_strconcat(w->user, "/", t->presence.resource, NULL);
        if (xmpp_jid_parse(full, &jid, NULL) < 0 || !jid.resource) {
            LOG(SYLK_LOG_INFO, "presence: tuple %s of %s: resource not usable", t->id, w->user);
            xmpp_jid_clear(&jid);
            continue;
        }
        struct xgw_presence p;
        xgw_presence_copy(&p, &t->presence);
        g_free(p.resource);
        p.resource = g_strdup(jid.resource); /* as prepared */
        xmpp_jid_clear(&jid);
        if (g_hash_table_contains(said, p.resource) ||
            (!p.available && !find(w->reported, p.resource))) {
            xgw_presence_clear(&p);
            continue;
        }
        g_hash_table_add(said, g_strdup(p.resource));
        send_presence(w, &p);
        if (p.available)
            g_ptr_array_add(now, g_memdup2(&p, sizeof(p)));
        else
            xgw_presence_clear(&p);
    }
    for (guint i = 0; i < w->reported->len; i++) {
        const struct xgw_presence *p = g_ptr_array_index(w->reported, i);
        if (!g_hash_table_contains(said, p->resource)) {
            g_autofree char *from = g_strconcat(w->user, "/", p->resource, NULL);
            send_stanza(xgw_presence_typed(from, w->watcher, "unavailable"));
        }
    }
    g_ptr_array_unref(w->reported);
    w->reported = now;
    xgw_pidf_clear(&pidf);
}

static void subscribe(struct watch *w);

static void on_retry(sylk_timer *timer, void *user_data)
{
    (void)timer;
    struct watch *w = user_data;
    w->retry = NULL;
    subscribe(w);
}

static void on_notify(sylk_outgoing_subscription *sub, const char *state, const char *type,
                      const void *body, size_t len, void *user_data)
{
    (void)sub;
    struct watch *w = user_data;
    if (g_strcmp0(state, "active") == 0) {
        w->retries = 0;
        if (w->announce && !w->announced) {
            send_stanza(xgw_presence_typed(w->user, w->watcher, "subscribed"));
            w->announced = true;
        }
    }
    if (g_strcmp0(state, "terminated") == 0 || !type || !len)
        return;
    if (g_ascii_strncasecmp(type, XGW_PIDF_TYPE, strlen(XGW_PIDF_TYPE)) != 0) {
        LOG(SYLK_LOG_INFO, "presence: NOTIFY about %s in %s ignored", w->user, type);
        return;
    }
    relay_pidf(w, body, len);
}

static bool refusal(int status)
{
    return status == 403 || status == 603;
}

static void on_ended(sylk_outgoing_subscription *sub, int status, const char *reason,
                     void *user_data)
{
    (void)sub;
    struct watch *w = user_data;
    w->sub = NULL;
    LOG(SYLK_LOG_DEBUG, "presence: SIP subscription of %s to %s ended: %d %s", w->watcher, w->user,
        status, reason ? reason : "");
    if (w->leaving || status == 503) { /* ours, or the server stops */
        watch_end(w, w->leaving ? "unsubscribed" : "shutdown");
        return;
    }
    if (status >= 300 && !w->announced) {
        report_gone(w);
        if (refusal(status)) {
            send_stanza(xgw_presence_typed(w->user, w->watcher, "unsubscribed"));
        } else if (w->request) {
            g_autofree char *text = g_strdup_printf("SIP %d %s", status, reason ? reason : "");
            struct xmpp_node *e =
                xmpp_stanza_error_reply(w->request, xgw_condition_for(status), text);
            if (e)
                send_stanza(e);
        }
        watch_end(w, "refused");
        return;
    }
    if (g_strcmp0(reason, "rejected") == 0 || g_strcmp0(reason, "noresource") == 0 ||
        refusal(status)) {
        report_gone(w);
        send_stanza(xgw_presence_typed(w->user, w->watcher, "unsubscribed"));
        watch_end(w, reason ? reason : "refused");
        return;
    }
    if (++w->retries > XGW_X2S_RETRIES) {
        report_gone(w);
        watch_end(w, "gave up");
        return;
    }
    w->retry = xgw_host()->timer_add(XGW_X2S_RETRY_S * 1000 * w->retries, false, on_retry, w);
}

static const struct sylk_outgoing_subscription_handler handler = {
    .struct_size = sizeof(handler),
    .notify = on_notify,
    .ended = on_ended,
};

static void subscribe(struct watch *w)
{
    struct xmpp_jid watcher, user;
    xmpp_jid_parse(w->watcher, &watcher, NULL);
    xmpp_jid_parse(w->user, &user, NULL);
    g_autofree char *from = xgw_map_sip_uri(&watcher, false);
    g_autofree char *to = xgw_map_sip_uri(&user, false);
    xmpp_jid_clear(&watcher);
    xmpp_jid_clear(&user);
    const struct sylk_subscribe_params params = {
        .struct_size = sizeof(params),
        .from = from,
        .to = to,
        .event = "presence",
        .accept = XGW_PIDF_TYPE,
        .expires = XGW_X2S_EXPIRES,
        .handler = &handler,
        .user_data = w,
    };
    w->sub = from && to ? xgw_host()->subscribe(&params) : NULL;
    if (!w->sub) {
        LOG(SYLK_LOG_WARNING, "presence: cannot subscribe %s to %s", w->watcher, w->user);
        if (w->request) {
            struct xmpp_node *e =
                xmpp_stanza_error_reply(w->request, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, NULL);
            if (e)
                send_stanza(e);
        }
        report_gone(w);
        watch_end(w, "no subscription");
    }
}

static void leave(struct watch *w, const char *why)
{
    report_gone(w);
    if (w->sub && !w->leaving) {
        w->leaving = true;
        if (xgw_host()->unsubscribe(w->sub) == 0)
            return; /* `ended` follows */
    }
    if (w->sub)
        return; /* already ending: `ended` frees it */
    watch_end(w, why);
}

/* A subscribe or probe while the watch is up: the answer and the presence we know. */
static void resend(struct watch *w, bool sub)
{
    if (sub && w->announced)
        send_stanza(xgw_presence_typed(w->user, w->watcher, "subscribed"));
    if (!w->sub)
        return; /* between attempts: the next NOTIFY will tell */
    for (guint i = 0; i < w->reported->len; i++)
        send_presence(w, g_ptr_array_index(w->reported, i));
    if (w->reported->len == 0)
        send_stanza(xgw_presence_typed(w->user, w->watcher, "unavailable"));
}

static struct watch *watch_new(const char *key, const char *watcher, const char *user,
                               const struct xmpp_node *request)
{
    struct watch *w = g_new0(struct watch, 1);
    w->key = g_strdup(key);
    w->watcher = g_strdup(watcher);
    w->user = g_strdup(user);
    w->reported = g_ptr_array_new_with_free_func(presence_free);
    w->watcher_online = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->request = xmpp_node_copy(request);
    g_hash_table_insert(x2s.watches, w->key, w);
    return w;
}

/* romeo's own presence: we follow his resources to know when he has gone offline. */
static void watcher_presence(struct watch *w, const struct xmpp_jid *from, bool available)
{
    const char *r = from->resource ? from->resource : "";
    if (available) {
        g_hash_table_add(w->watcher_online, g_strdup(r));
        return;
    }
    bool had = g_hash_table_size(w->watcher_online) > 0;
    if (from->resource)
        g_hash_table_remove(w->watcher_online, r);
    else
        g_hash_table_remove_all(w->watcher_online);
    if (had && g_hash_table_size(w->watcher_online) == 0)
        leave(w, "watcher offline");
}

void xgw_x2s_presence(const struct xmpp_node *stanza)
{
    struct xmpp_jid from, to;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0)
        return;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "to"), &to, NULL) < 0 || !to.local) {
        xmpp_jid_clear(&from);
        return;
    }
    g_autofree char *watcher = xmpp_jid_format(&from, false);
    g_autofree char *user = xmpp_jid_format(&to, false);
    g_autofree char *key = g_strconcat(watcher, " ", user, NULL);
    struct watch *w = g_hash_table_lookup(x2s.watches, key);
    const char *type = xmpp_node_attr(stanza, "type");
    bool sub = g_strcmp0(type, "subscribe") == 0, probe = g_strcmp0(type, "probe") == 0;
    if (!type || g_strcmp0(type, "unavailable") == 0) {
        if (w)
            watcher_presence(w, &from, !type);
    } else if (g_strcmp0(type, "unsubscribe") == 0) {
        if (w)
            leave(w, "unsubscribe");
    } else if ((sub || probe) && w) {
        if (sub)
            w->announce = true;
        if (!w->leaving)
            resend(w, sub);
    } else if (sub || probe) {
        if (g_hash_table_size(x2s.watches) >= XGW_MAX_SUBSCRIPTIONS) {
            LOG(SYLK_LOG_WARNING, "presence: too many watches, %s -> %s refused", watcher, user);
            struct xmpp_node *e =
                xmpp_stanza_error_reply(stanza, XMPP_STANZA_ERR_RESOURCE_CONSTRAINT, NULL);
            if (e)
                send_stanza(e);
        } else {
            w = watch_new(key, watcher, user, stanza);
            w->announce = sub;
            LOG(SYLK_LOG_INFO, "presence: %s watches %s (%s; %u watch(es))", watcher, user, type,
                g_hash_table_size(x2s.watches));
            subscribe(w);
        }
    }
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

void xgw_x2s_init(void)
{
    x2s.watches = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, watch_free);
}

void xgw_x2s_shutdown(void)
{
    /* the core ended every SIP subscription (503) before the plugin's shutdown */
    g_clear_pointer(&x2s.watches, g_hash_table_unref);
}

void xgw_x2s_counts(struct xgw_mapping_counts *counts)
{
    counts->x2s = x2s.watches ? g_hash_table_size(x2s.watches) : 0;
}
