/*
 * s2x.c — SIP users watching XMPP contacts (RFC 7248 §4-5, SIP -> XMPP). Main thread.
 *
 * A SUBSCRIBE (Event: presence) from sip:alice@<our domain> to sip:romeo@<XMPP domain> makes a
 * watch, one per (alice, romeo) pair whatever the number of SIP dialogs (devices) on it:
 *   - first dialog: <presence type='subscribe' from='alice@dom' to='romeo@remote'/>. The
 *     SUBSCRIBE is answered once the transport has written it (200, then a NOTIFY with what is
 *     known: a PIDF without tuples until the contact's presence comes), or refused with the
 *     RFC 7247 status for the transport's condition (404, 408, 503);
 *   - later dialogs are accepted at once and get the current document; so is a fetch
 *     (Expires: 0), which without a watch gets a document without tuples and makes none;
 *   - <presence/> and <presence type='unavailable'/> from romeo's resources to alice update
 *     the document (pidf.h) and every dialog gets it in a NOTIFY; a resource gone unavailable
 *     appears once as closed, then leaves the document;
 *   - <presence type='unsubscribed'/> (romeo refused, or revoked, the subscription) and a
 *     presence error to the subscribe (no such contact or domain) end every dialog
 *     (terminated;reason=rejected, or noresource for item-not-found and its kin);
 *   - a refresh gets the current document (RFC 6665 §4.2.1.2); the watch ends with its last
 *     dialog. When that dialog ended by an un-SUBSCRIBE the SIP user cancelled the
 *     subscription, so romeo hears <presence type='unsubscribe'/> (RFC 7248 §4.3); when it
 *     expired or the server stops, the XMPP subscription is left as it is (a device that went
 *     away is no cancellation) and only the gateway's state goes.
 * At most XGW_MAX_SUBSCRIPTIONS watches (503 beyond).
 */
#include "errmap.h"
#include "mapping.h"
#include "message.h"
#include "pidf.h"
#include "presence.h"

#include <string.h>

#define LOG_DOMAIN      "xmppgw-presence"
#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)

enum watch_state {
    WATCH_SENDING, /* the subscribe is on its way: dialogs wait for their answer */
    WATCH_PENDING, /* written; romeo has not answered */
    WATCH_ACTIVE,  /* subscribed */
};

struct resource {
    struct xgw_presence presence;
    char *contact;   /* sip:romeo@remote;gr=resource */
    char *timestamp; /* when we received it */
};

struct watch {
    guint serial;
    char *key;     /* "alice@dom romeo@remote" */
    char *watcher; /* alice@dom */
    char *contact; /* romeo@remote */
    char *entity;  /* sip:romeo@remote: the PIDF entity */
    enum watch_state state;
    GPtrArray *dialogs;   /* struct dialog * */
    GPtrArray *resources; /* struct resource *, in the order first received */
    unsigned busy;        /* inside each_dialog: the core may end dialogs under our feet */
    char *last_reason;    /* why the last dialog ended, while busy */
};

struct dialog {
    struct watch *watch;
    sylk_subscription *sub;
    bool accepted;
    bool terminating; /* subscription_terminate called: `ended` follows */
};

static struct {
    GHashTable *watches; /* key -> struct watch */
    GHashTable *serials; /* serial -> struct watch (for the transport's outcome) */
    guint serial;
} s2x;

static void resource_free(gpointer p)
{
    struct resource *r = p;
    xgw_presence_clear(&r->presence);
    g_free(r->contact);
    g_free(r->timestamp);
    g_free(r);
}

static void watch_free(gpointer p)
{
    struct watch *w = p;
    g_hash_table_remove(s2x.serials, GUINT_TO_POINTER(w->serial));
    g_ptr_array_unref(w->dialogs);
    g_ptr_array_unref(w->resources);
    g_free(w->key);
    g_free(w->watcher);
    g_free(w->contact);
    g_free(w->entity);
    g_free(w->last_reason);
    g_free(w);
}

static void watch_end(struct watch *w, const char *why)
{
    LOG(SYLK_LOG_INFO, "presence: %s no longer watches %s (%s); %u watch(es) left", w->watcher,
        w->contact, why, g_hash_table_size(s2x.watches) - 1);
    g_hash_table_remove(s2x.watches, w->key);
}

static char *document(const struct watch *w)
{
    g_autofree struct xgw_pidf_resource *rs =
        g_new0(struct xgw_pidf_resource, w->resources->len + 1);
    for (guint i = 0; i < w->resources->len; i++) {
        const struct resource *r = g_ptr_array_index(w->resources, i);
        rs[i] = (struct xgw_pidf_resource){&r->presence, r->contact, r->timestamp};
    }
    return xgw_pidf_build(w->entity, rs, w->resources->len);
}

static void notify(struct dialog *d, const char *doc)
{
    if (!d->accepted || d->terminating)
        return;
    int rc = xgw_host()->subscription_notify(d->sub, XGW_PIDF_TYPE, doc, strlen(doc));
    if (rc < 0)
        LOG(SYLK_LOG_DEBUG, "presence: NOTIFY to %s not sent (%d)", d->watch->watcher, rc);
}

static void watch_closed(struct watch *w, const char *reason);

/* Calls fn on each dialog; fn may make the core end dialogs (and call on_ended) at once. */
static void each_dialog(struct watch *w, void (*fn)(struct dialog *d, void *data), void *data)
{
    w->busy++;
    GPtrArray *snapshot = g_ptr_array_sized_new(w->dialogs->len); /* without a free func */
    for (guint i = 0; i < w->dialogs->len; i++)
        g_ptr_array_add(snapshot, g_ptr_array_index(w->dialogs, i));
    for (guint i = 0; i < snapshot->len; i++) {
        struct dialog *d = g_ptr_array_index(snapshot, i);
        if (g_ptr_array_find(w->dialogs, d, NULL))
            fn(d, data);
    }
    g_ptr_array_unref(snapshot);
    if (--w->busy == 0 && w->dialogs->len == 0)
        watch_closed(w, w->last_reason);
}

static void notify_one(struct dialog *d, void *doc)
{
    notify(d, doc);
}

static void notify_all(struct watch *w)
{
    g_autofree char *doc = document(w);
    if (xgw_config()->log_presence)
        LOG(SYLK_LOG_INFO, "presence: %s -> %s\n%s", w->contact, w->watcher, doc);
    each_dialog(w, notify_one, doc);
}

static void accept_dialog(struct dialog *d)
{
    if (xgw_host()->subscription_accept(d->sub) < 0)
        return; /* too late: the core answered; `ended` follows */
    d->accepted = true;
    g_autofree char *doc = document(d->watch);
    notify(d, doc);
}

struct termination {
    const char *reason; /* Subscription-State reason for accepted dialogs */
    int status;         /* the refusal of the others */
    const char *phrase;
};

static void terminate_one(struct dialog *d, void *data)
{
    const struct termination *t = data;
    if (d->terminating)
        return;
    d->terminating = true;
    if (d->accepted)
        xgw_host()->subscription_terminate(d->sub, t->reason);
    else
        xgw_host()->subscription_reject(d->sub, t->status, t->phrase);
}

/* Ends every dialog of the watch: accepted ones with a final NOTIFY, others refused. */
static void terminate_all(struct watch *w, const char *reason, int status, const char *phrase)
{
    struct termination t = {reason, status, phrase};
    each_dialog(w, terminate_one, &t);
}

/* ------------------------------------------------------------- SIP side --- */

/* The last dialog ended. */
static void watch_closed(struct watch *w, const char *reason)
{
    if (g_strcmp0(reason, "unsubscribed") == 0 && w->state != WATCH_SENDING) {
        /* the SIP user cancelled the subscription (RFC 7248 §4.3) */
        xgw_send(xgw_presence_typed(w->watcher, w->contact, "unsubscribe"), NULL, NULL);
    }
    watch_end(w, reason ? reason : "ended");
}

static void on_ended(sylk_subscription *sub, const char *reason, void *user_data)
{
    (void)sub;
    struct dialog *d = user_data;
    struct watch *w = d->watch;
    g_ptr_array_remove(w->dialogs, d); /* frees d */
    if (w->dialogs->len > 0)
        return;
    if (w->busy) { /* each_dialog closes it when done */
        g_free(w->last_reason);
        w->last_reason = g_strdup(reason);
        return;
    }
    watch_closed(w, reason);
}

static void on_refreshed(sylk_subscription *sub, unsigned expires, void *user_data)
{
    (void)sub;
    (void)expires;
    struct dialog *d = user_data;
    g_autofree char *doc = document(d->watch);
    notify(d, doc);
}

static const struct sylk_subscription_handler handler = {
    .struct_size = sizeof(handler),
    .ended = on_ended,
    .refreshed = on_refreshed,
};

static void accept_waiting(struct dialog *d, void *data)
{
    (void)data;
    if (!d->accepted && !d->terminating)
        accept_dialog(d);
}

static void on_subscribe_sent(int status, enum xmpp_stanza_condition cond, void *user_data)
{
    struct watch *w = g_hash_table_lookup(s2x.serials, user_data);
    if (!w || w->state != WATCH_SENDING)
        return;
    if (status != 0) {
        const char *phrase;
        int code = xgw_sip_status_for(cond, &phrase);
        LOG(SYLK_LOG_INFO, "presence: subscribe from %s to %s not sent: %s", w->watcher, w->contact,
            xmpp_stanza_condition_name(cond));
        terminate_all(w, "noresource", code, phrase);
        return;
    }
    w->state = WATCH_PENDING;
    each_dialog(w, accept_waiting, NULL);
}

static void dialog_free(gpointer p)
{
    g_free(p);
}

static struct watch *watch_new(const struct xmpp_jid *watcher, const struct xmpp_jid *contact,
                               const char *key)
{
    struct watch *w = g_new0(struct watch, 1);
    if (++s2x.serial == 0)
        s2x.serial = 1;
    w->serial = s2x.serial;
    w->key = g_strdup(key);
    w->watcher = xmpp_jid_format(watcher, false);
    w->contact = xmpp_jid_format(contact, false);
    w->entity = xgw_map_sip_uri(contact, false);
    w->dialogs = g_ptr_array_new_with_free_func(dialog_free);
    w->resources = g_ptr_array_new_with_free_func(resource_free);
    g_hash_table_insert(s2x.watches, w->key, w);
    g_hash_table_insert(s2x.serials, GUINT_TO_POINTER(w->serial), w);
    return w;
}

static char *watch_key(const char *watcher, const char *contact)
{
    return g_strconcat(watcher, " ", contact, NULL);
}

void xgw_s2x_subscription(sylk_subscription *sub)
{
    const struct sylk_host *host = xgw_host();
    const struct sylk_request_info *info = host->subscription_request(sub);
    const char *event = host->subscription_event(sub);
    if (g_strcmp0(event, "presence") != 0) {
        host->subscription_reject(sub, 489, "Bad Event");
        return;
    }
    struct xmpp_jid from, to;
    const char *reason = NULL;
    int status = xgw_map_sip_parties(info, &from, &to, &reason);
    if (status) {
        host->subscription_reject(sub, status, reason);
        return;
    }
    g_autofree char *watcher = xmpp_jid_format(&from, false);
    g_autofree char *contact = xmpp_jid_format(&to, false);
    g_autofree char *key = watch_key(watcher, contact);
    struct watch *w = g_hash_table_lookup(s2x.watches, key);
    const char *expires = host->request_header(info, "Expires");
    if (!w && expires && g_ascii_strtoull(expires, NULL, 10) == 0) {
        /* a fetch (RFC 6665 §4.4.3) with no watch: nothing is known, and asking romeo for a
         * subscription he would have to approve for a one-time look is too much */
        g_autofree char *entity = xgw_map_sip_uri(&to, false);
        g_autofree char *doc = xgw_pidf_build(entity, NULL, 0);
        if (host->subscription_accept(sub) == 0)
            host->subscription_notify(sub, XGW_PIDF_TYPE, doc, strlen(doc));
        goto out;
    }
    if (!w && g_hash_table_size(s2x.watches) >= XGW_MAX_SUBSCRIPTIONS) {
        LOG(SYLK_LOG_WARNING, "presence: too many watches, %s -> %s refused", watcher, contact);
        host->subscription_reject(sub, 503, "Service Unavailable");
        goto out;
    }
    bool created = !w;
    if (created) {
        w = watch_new(&from, &to, key);
        LOG(SYLK_LOG_INFO, "presence: %s watches %s (%u watch(es))", watcher, contact,
            g_hash_table_size(s2x.watches));
    }
    struct dialog *d = g_new0(struct dialog, 1);
    d->watch = w;
    d->sub = sub;
    g_ptr_array_add(w->dialogs, d);
    host->subscription_set_handler(sub, &handler, d);
    if (created)
        xgw_send(xgw_presence_typed(watcher, contact, "subscribe"), on_subscribe_sent,
                 GUINT_TO_POINTER(w->serial));
    else if (w->state != WATCH_SENDING)
        accept_dialog(d);
out:
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

/* ------------------------------------------------------------ XMPP side --- */

static struct resource *find_resource(struct watch *w, const char *resource)
{
    for (guint i = 0; i < w->resources->len; i++) {
        struct resource *r = g_ptr_array_index(w->resources, i);
        if (g_strcmp0(r->presence.resource, resource) == 0)
            return r;
    }
    return NULL;
}

static void update(struct watch *w, const struct xmpp_node *stanza)
{
    struct xgw_presence p;
    if (!xgw_presence_read(stanza, &p))
        return;
    if (!p.resource && !p.available) {
        /* unavailable from the bare JID: every resource */
        for (guint i = 0; i < w->resources->len; i++)
            ((struct resource *)g_ptr_array_index(w->resources, i))->presence.available = false;
        xgw_presence_clear(&p);
    } else {
        struct resource *r = find_resource(w, p.resource);
        if (!r) {
            if (w->resources->len >= XGW_PIDF_MAX_TUPLES || !p.available) {
                xgw_presence_clear(&p);
                return;
            }
            r = g_new0(struct resource, 1);
            struct xmpp_jid jid;
            if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &jid, NULL) == 0) {
                r->contact = xgw_map_sip_uri(&jid, true);
                xmpp_jid_clear(&jid);
            }
            g_ptr_array_add(w->resources, r);
        }
        xgw_presence_clear(&r->presence);
        r->presence = p;
        g_free(r->timestamp);
        r->timestamp = xgw_datetime_now();
    }
    if (w->state == WATCH_PENDING)
        w->state = WATCH_ACTIVE; /* presence flows: romeo said yes */
    notify_all(w);
    /* closed resources were reported once: they leave the next document */
    for (guint i = w->resources->len; i-- > 0;) {
        struct resource *r = g_ptr_array_index(w->resources, i);
        if (!r->presence.available)
            g_ptr_array_remove_index(w->resources, i);
    }
}

static bool noresource(enum xmpp_stanza_condition cond)
{
    return cond == XMPP_STANZA_ERR_ITEM_NOT_FOUND || cond == XMPP_STANZA_ERR_GONE ||
           cond == XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
}

void xgw_s2x_presence(const struct xmpp_node *stanza)
{
    struct xmpp_jid from, to;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0)
        return;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "to"), &to, NULL) < 0) {
        xmpp_jid_clear(&from);
        return;
    }
    g_autofree char *contact = xmpp_jid_format(&from, false);
    g_autofree char *watcher = xmpp_jid_format(&to, false);
    g_autofree char *key = watch_key(watcher, contact);
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
    struct watch *w = g_hash_table_lookup(s2x.watches, key);
    if (!w)
        return; /* nobody on the SIP side watches (any more) */
    const char *type = xmpp_node_attr(stanza, "type");
    if (g_strcmp0(type, "subscribed") == 0) {
        LOG(SYLK_LOG_INFO, "presence: %s lets %s watch", contact, watcher);
        if (w->state != WATCH_SENDING)
            w->state = WATCH_ACTIVE;
    } else if (g_strcmp0(type, "unsubscribed") == 0) {
        LOG(SYLK_LOG_INFO, "presence: %s does not let %s watch", contact, watcher);
        terminate_all(w, "rejected", 403, "Forbidden");
    } else if (g_strcmp0(type, "error") == 0) {
        enum xmpp_stanza_condition cond;
        enum xmpp_error_type etype;
        g_autofree char *text = NULL;
        if (!xmpp_stanza_error_read(stanza, &cond, &etype, &text))
            cond = XMPP_STANZA_ERR_UNDEFINED_CONDITION;
        LOG(SYLK_LOG_INFO, "presence: error %s from %s to %s", xmpp_stanza_condition_name(cond),
            contact, watcher);
        if (w->state != WATCH_ACTIVE) {
            const char *phrase;
            int code = xgw_sip_status_for(cond, &phrase);
            terminate_all(w, noresource(cond) ? "noresource" : "rejected", code, phrase);
        }
    } else {
        update(w, stanza);
    }
}

/* ------------------------------------------------------------------- life --- */

void xgw_s2x_init(void)
{
    s2x.watches = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, watch_free);
    s2x.serials = g_hash_table_new(NULL, NULL);
}

void xgw_s2x_shutdown(void)
{
    /* the core ended every dialog before the plugin's shutdown: nothing should be left */
    g_clear_pointer(&s2x.watches, g_hash_table_unref);
    g_clear_pointer(&s2x.serials, g_hash_table_unref);
}

void xgw_s2x_counts(struct xgw_mapping_counts *counts)
{
    counts->s2x = s2x.watches ? g_hash_table_size(s2x.watches) : 0;
    GHashTableIter it;
    gpointer value;
    if (!s2x.watches)
        return;
    g_hash_table_iter_init(&it, s2x.watches);
    while (g_hash_table_iter_next(&it, NULL, &value))
        counts->s2x_dialogs += ((struct watch *)value)->dialogs->len;
}
