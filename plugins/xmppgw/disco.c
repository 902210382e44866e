/*
 * disco.c — disco#info, disco#items, ping and version of our domains. See disco.h.
 */
#include "disco.h"

#include "gateway.h"
#include "ns.h"

#include <string.h>

#define SERVER_NAME "SylkServer"

/* <iq type='result'> answering iq: addresses swapped, same id, in the same namespace. */
static struct xmpp_node *result_of(const struct xmpp_node *iq)
{
    struct xmpp_node *r = xmpp_node_new(iq->ns, "iq");
    const char *from = xmpp_node_attr(iq, "from"), *to = xmpp_node_attr(iq, "to");
    const char *id = xmpp_node_attr(iq, "id");
    if (to)
        xmpp_node_set_attr(r, "from", to);
    if (from)
        xmpp_node_set_attr(r, "to", from);
    if (id)
        xmpp_node_set_attr(r, "id", id);
    xmpp_node_set_attr(r, "type", "result");
    return r;
}

static void add_identity(struct xmpp_node *query, const char *category, const char *type)
{
    struct xmpp_node *i = xmpp_node_add_element(query, XMPP_NS_DISCO_INFO, "identity");
    xmpp_node_set_attr(i, "category", category);
    xmpp_node_set_attr(i, "type", type);
    xmpp_node_set_attr(i, "name", SERVER_NAME);
}

static void add_feature(struct xmpp_node *query, const char *var)
{
    xmpp_node_set_attr(xmpp_node_add_element(query, XMPP_NS_DISCO_INFO, "feature"), "var", var);
}

static struct xmpp_node *disco_info(const struct xmpp_node *iq)
{
    struct xmpp_node *r = result_of(iq);
    struct xmpp_node *q = xmpp_node_add_element(r, XMPP_NS_DISCO_INFO, "query");
    add_identity(q, "gateway", "simple"); /* XEP-0030 registry: "simple" is SIP/SIMPLE */
    add_identity(q, "server", "im");
    add_feature(q, XMPP_NS_DISCO_INFO);
    add_feature(q, XMPP_NS_DISCO_ITEMS);
    add_feature(q, XMPP_NS_PING);
    add_feature(q, XMPP_NS_VERSION);
    return r;
}

static struct xmpp_node *version(const struct xmpp_node *iq, const char *server_version)
{
    struct xmpp_node *r = result_of(iq);
    struct xmpp_node *q = xmpp_node_add_element(r, XMPP_NS_VERSION, "query");
    xmpp_node_add_text(xmpp_node_add_element(q, XMPP_NS_VERSION, "name"), SERVER_NAME, -1);
    xmpp_node_add_text(xmpp_node_add_element(q, XMPP_NS_VERSION, "version"),
                       server_version ? server_version : "unknown", -1);
    return r;
}

struct xmpp_node *xgw_disco_answer(const struct xmpp_node *iq, const char *server_version)
{
    const char *type = xmpp_node_attr(iq, "type");
    bool get = type && strcmp(type, "get") == 0;
    struct xmpp_node *payload = NULL;
    for (guint i = 0; iq->children && i < iq->children->len && !payload; i++) {
        struct xmpp_node *child = g_ptr_array_index(iq->children, i);
        if (child->kind == XMPP_NODE_ELEMENT)
            payload = child;
    }
    if (!payload || !type || (!get && strcmp(type, "set") != 0))
        return NULL;
    bool info = xmpp_node_is(payload, XMPP_NS_DISCO_INFO, "query");
    bool items = xmpp_node_is(payload, XMPP_NS_DISCO_ITEMS, "query");
    bool ping = xmpp_node_is(payload, XMPP_NS_PING, "ping");
    bool ver = xmpp_node_is(payload, XMPP_NS_VERSION, "query");
    if (!info && !items && !ping && !ver)
        return NULL;
    if (!get) /* each of these is a get (RFC 6120 §8.3.3.1: bad-request for the wrong type) */
        return xmpp_stanza_error_reply(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
    if ((info || items) && xmpp_node_attr(payload, "node")) /* we have no nodes (XEP-0030 §7) */
        return xmpp_stanza_error_reply(iq, XMPP_STANZA_ERR_ITEM_NOT_FOUND, NULL);
    if (info)
        return disco_info(iq);
    if (ver)
        return version(iq, server_version);
    struct xmpp_node *r = result_of(iq);
    if (items) /* the MUC service (muc_prefix.DOMAIN) is listed once it exists (issue 14) */
        xmpp_node_add_element(r, XMPP_NS_DISCO_ITEMS, "query");
    return r;
}

bool xgw_disco_handle(struct xmpp_node *iq)
{
    struct xmpp_node *reply = xgw_disco_answer(iq, xgw_host()->server_version);
    if (!reply)
        return false;
    xgw_send(reply, NULL, NULL);
    xmpp_node_free(iq);
    return true;
}
