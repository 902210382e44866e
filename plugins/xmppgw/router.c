/*
 * router.c — xgw_send, the checks of inbound stanzas and their delivery. See router.h.
 */
#define XGW_LOG_DOMAIN "xmppgw"
#include "router.h"

#include "component.h"
#include "disco.h"
#include "jid.h"
#include "muc.h"
#include "ns.h"
#include "s2s.h"

#include <errno.h>
#include <string.h>

/* An outcome waiting to be reported from the loop. */
struct outcome {
    xgw_sent_fn sent;
    void *user_data;
    int status;
    enum xmpp_stanza_condition condition;
};

static struct {
    const struct xgw_settings *settings;
    GQueue outcomes; /* struct outcome * */
    sylk_timer *outcome_timer;
    bool running; /* xgw_send routes stanzas */
    bool quiet;   /* after xgw_router_quiesce: outcomes are dropped */
} r;

/* ------------------------------------------------------------------ outcomes --- */

static void report_outcomes(void)
{
    struct outcome *o;
    while ((o = g_queue_pop_head(&r.outcomes))) {
        o->sent(o->status, o->condition, o->user_data);
        g_free(o);
    }
}

static void on_outcomes(sylk_timer *t, void *user_data)
{
    (void)t, (void)user_data;
    r.outcome_timer = NULL;
    report_outcomes();
}

void xgw_pending_done(struct xgw_pending *p, int status, enum xmpp_stanza_condition condition)
{
    if (p->sent && !r.quiet) {
        struct outcome *o = g_new0(struct outcome, 1);
        *o = (struct outcome){p->sent, p->user_data, status < 0 ? status : 0, condition};
        g_queue_push_tail(&r.outcomes, o);
        if (!r.outcome_timer)
            r.outcome_timer = xgw_host()->timer_add(0, false, on_outcomes, NULL);
    }
    xmpp_node_free(p->stanza);
    g_free(p);
}

/* --------------------------------------------------------------- namespaces --- */

static bool stanza_ns(const char *ns)
{
    return !ns || strcmp(ns, XMPP_NS_SERVER) == 0 || strcmp(ns, XMPP_NS_CLIENT) == 0 ||
           strcmp(ns, XMPP_NS_COMPONENT) == 0;
}

bool xgw_is_stanza(const struct xmpp_node *n)
{
    return n->kind == XMPP_NODE_ELEMENT && stanza_ns(n->ns) &&
           (strcmp(n->name, "message") == 0 || strcmp(n->name, "presence") == 0 ||
            strcmp(n->name, "iq") == 0);
}

static struct xmpp_node *copy_in_ns(const struct xmpp_node *n, const char *from, const char *to)
{
    bool moved = g_strcmp0(n->ns, from) == 0;
    struct xmpp_node *c = xmpp_node_new(moved ? to : n->ns, n->name);
    for (guint i = 0; n->attrs && i < n->attrs->len; i++) {
        const struct xmpp_attr *a = &g_array_index(n->attrs, struct xmpp_attr, i);
        xmpp_node_set_attr_ns(c, a->ns, a->name, a->value);
    }
    for (guint i = 0; n->children && i < n->children->len; i++) {
        const struct xmpp_node *child = g_ptr_array_index(n->children, i);
        if (child->kind == XMPP_NODE_TEXT)
            xmpp_node_add_text(c, child->text->str, (gssize)child->text->len);
        else
            xmpp_node_append(c, copy_in_ns(child, from, to));
    }
    return c;
}

struct xmpp_node *xgw_stanza_in_ns(const struct xmpp_node *stanza, const char *ns)
{
    if (g_strcmp0(stanza->ns, ns) == 0)
        return NULL;
    return copy_in_ns(stanza, stanza->ns, ns);
}

/* ------------------------------------------------------------------ domains --- */

static bool is_muc_domain(const char *domain)
{
    const struct xgw_config *c = xgw_config();
    size_t n = strlen(c->muc_prefix);
    return strncmp(domain, c->muc_prefix, n) == 0 && domain[n] == '.' &&
           xgw_is_our_domain(domain + n + 1);
}

bool xgw_router_serves(const char *domain)
{
    return xgw_is_our_domain(domain) || is_muc_domain(domain);
}

/* --------------------------------------------------------------------- out --- */

static void refuse_send(struct xgw_pending *p, enum xmpp_stanza_condition cond, const char *why)
{
    XGW_LOG(SYLK_LOG_WARNING, "not sent: %s", why);
    xgw_pending_done(p, -1, cond);
}

void xgw_send(struct xmpp_node *stanza, xgw_sent_fn sent, void *user_data)
{
    struct xgw_pending *p = xgw_pending_new(stanza, sent, user_data);
    if (!stanza || !xgw_is_stanza(stanza)) {
        refuse_send(p, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "not a stanza");
        return;
    }
    if (!r.running) {
        refuse_send(p, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "the gateway is not running");
        return;
    }
    struct xmpp_jid from = {0}, to = {0};
    const char *f = xmpp_node_attr(stanza, "from"), *t = xmpp_node_attr(stanza, "to");
    if (!f || xmpp_jid_parse(f, &from, NULL) < 0 || !xgw_router_serves(from.domain)) {
        g_autofree char *why = g_strdup_printf("from %s is not one of our addresses", f ? f : "-");
        refuse_send(p, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, why);
        goto out;
    }
    if (!t || xmpp_jid_parse(t, &to, NULL) < 0 || xgw_router_serves(to.domain)) {
        g_autofree char *why = g_strdup_printf("to %s is not a remote address", t ? t : "-");
        refuse_send(p, XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND, why);
        goto out;
    }
    struct xmpp_node *moved = xgw_stanza_in_ns(stanza, XMPP_NS_SERVER);
    if (moved) {
        xmpp_node_free(p->stanza);
        p->stanza = moved;
    }
    if (r.settings->mode == XGW_MODE_COMPONENT)
        xgw_component_send(p, from.domain);
    else
        xgw_s2s_send(p, from.domain, to.domain);
out:
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

/* ---------------------------------------------------------------------- in --- */

void xgw_router_refuse(const struct xmpp_node *stanza, enum xmpp_stanza_condition condition,
                       const char *text)
{
    struct xmpp_node *reply = xmpp_stanza_error_reply(stanza, condition, text);
    if (reply)
        xgw_send(reply, NULL, NULL);
}

static bool has_type(const struct xmpp_node *n, const char *type)
{
    return g_strcmp0(xmpp_node_attr(n, "type"), type) == 0;
}

static unsigned child_elements(const struct xmpp_node *n)
{
    unsigned count = 0;
    for (guint i = 0; n->children && i < n->children->len; i++)
        count += ((const struct xmpp_node *)g_ptr_array_index(n->children, i))->kind ==
                 XMPP_NODE_ELEMENT;
    return count;
}

/* A checked stanza, in jabber:server, to one of our addresses. */
static void deliver(struct xmpp_node *stanza, const struct xmpp_jid *to)
{
    bool iq = strcmp(stanza->name, "iq") == 0;
    bool request = iq && (has_type(stanza, "get") || has_type(stanza, "set"));
    if (request && child_elements(stanza) != 1) { /* RFC 6120 §8.2.3 */
        xgw_router_refuse(stanza, XMPP_STANZA_ERR_BAD_REQUEST,
                          "an iq get or set has exactly one payload element");
        xmpp_node_free(stanza);
        return;
    }
    if (is_muc_domain(to->domain)) { /* the multi-user chat service (muc.c) */
        xgw_muc_in(stanza);
        return;
    }
    if (request && !to->local && !to->resource && xgw_disco_handle(stanza))
        return;
    if (iq)
        xgw_iq_in(stanza);
    else if (strcmp(stanza->name, "message") == 0)
        xgw_message_in(stanza);
    else
        xgw_presence_in(stanza);
}

/* Our domain in an address that is not a JID (RFC 7622 §3.2's split), or our first domain:
 * the error about it needs a 'from' of ours. */
static char *our_domain_in(const char *address)
{
    g_autofree char *bare = g_strndup(address, strcspn(address, "/"));
    const char *at = strchr(bare, '@');
    struct xmpp_jid d;
    char *found = NULL;
    if (xmpp_jid_parse(at ? at + 1 : bare, &d, NULL) == 0 && xgw_router_serves(d.domain))
        found = g_strdup(d.domain);
    xmpp_jid_clear(&d); /* parse leaves it empty on failure */
    return found ? found : g_strdup(xgw_config()->domains[0]);
}

/* jid-malformed for a stanza whose 'to' is not a JID: answered from our domain. */
static void refuse_bad_to(const struct xmpp_node *el, const char *to, const char *why)
{
    struct xmpp_node *reply = xmpp_stanza_error_reply(el, XMPP_STANZA_ERR_JID_MALFORMED, why);
    if (!reply)
        return;
    g_autofree char *from = our_domain_in(to);
    xmpp_node_set_attr(reply, "from", from);
    xgw_send(reply, NULL, NULL);
}

static int stream_refusal(enum xmpp_stream_condition *condition, char **text,
                          enum xmpp_stream_condition cond, char *why)
{
    *condition = cond;
    *text = why;
    return -EPROTO;
}

int xgw_router_inbound(struct xmpp_node *el, const char *content_ns, const char *label,
                       xgw_authorized_fn authorized, void *user_data,
                       enum xmpp_stream_condition *condition, char **text)
{
    int rc = 0;
    struct xmpp_jid from = {0}, to = {0};
    const char *why = NULL;
    if (!xgw_is_stanza(el) || g_strcmp0(el->ns, content_ns) != 0) {
        rc = stream_refusal(
            condition, text, XMPP_STREAM_ERR_UNSUPPORTED_STANZA_TYPE,
            g_strdup_printf("<%s xmlns='%s'> is not a stanza", el->name, el->ns ? el->ns : ""));
        goto out;
    }
    const char *f = xmpp_node_attr(el, "from"), *t = xmpp_node_attr(el, "to");
    if (!f || !t) {
        rc = stream_refusal(condition, text, XMPP_STREAM_ERR_IMPROPER_ADDRESSING,
                            g_strdup_printf("a <%s> without %s", el->name, f ? "to" : "from"));
        goto out;
    }
    if (xmpp_jid_parse(f, &from, &why) < 0) {
        rc = stream_refusal(condition, text, XMPP_STREAM_ERR_IMPROPER_ADDRESSING,
                            g_strdup_printf("the from address is not a JID (%s)", why));
        goto out;
    }
    enum xmpp_stream_condition refusal = XMPP_STREAM_ERR_NOT_AUTHORIZED;
    if (!authorized(from.domain, user_data, &refusal)) {
        rc = stream_refusal(condition, text, refusal,
                            g_strdup_printf("%s may not send on this stream", from.domain));
        goto out;
    }
    if (xmpp_jid_parse(t, &to, &why) < 0) {
        XGW_LOG(SYLK_LOG_WARNING, "%s: a <%s> from %s to a bad address: %s", label, el->name, f,
                why);
        refuse_bad_to(el, t, why);
        goto out;
    }
    if (!xgw_router_serves(to.domain)) {
        rc = stream_refusal(condition, text, XMPP_STREAM_ERR_HOST_UNKNOWN,
                            g_strdup_printf("we do not serve %s", to.domain));
        goto out;
    }
    struct xmpp_node *moved = xgw_stanza_in_ns(el, XMPP_NS_SERVER);
    if (moved) {
        xmpp_node_free(el);
        el = moved;
    }
    deliver(g_steal_pointer(&el), &to);
out:
    xmpp_node_free(el);
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
    return rc;
}

/* --------------------------------------------------------------- lifecycle --- */

int xgw_router_start(const struct xgw_settings *settings)
{
    r.settings = settings;
    g_queue_init(&r.outcomes);
    r.quiet = false;
    r.running = true;
    return 0;
}

void xgw_router_quiesce(void)
{
    xgw_host()->timer_cancel(r.outcome_timer);
    r.outcome_timer = NULL;
    report_outcomes();
    r.quiet = true;
}

void xgw_router_stop(void)
{
    xgw_router_quiesce();
    r.running = false;
}
