/*
 * errors.c — XMPP stream and stanza error conditions and elements. See errors.h.
 */
#define G_LOG_DOMAIN "sylk-xmpp"
#include "errors.h"

#include "ns.h"

#include <string.h>

static const char *const stream_names[XMPP_STREAM_ERR_COUNT] = {
    "bad-format",
    "bad-namespace-prefix",
    "conflict",
    "connection-timeout",
    "host-gone",
    "host-unknown",
    "improper-addressing",
    "internal-server-error",
    "invalid-from",
    "invalid-namespace",
    "invalid-xml",
    "not-authorized",
    "not-well-formed",
    "policy-violation",
    "remote-connection-failed",
    "reset",
    "resource-constraint",
    "restricted-xml",
    "see-other-host",
    "system-shutdown",
    "undefined-condition",
    "unsupported-encoding",
    "unsupported-feature",
    "unsupported-stanza-type",
    "unsupported-version",
};

static const struct {
    const char *name;
    enum xmpp_error_type type;
} stanza_conditions[XMPP_STANZA_ERR_COUNT] = {
    {"bad-request", XMPP_ERROR_MODIFY},
    {"conflict", XMPP_ERROR_CANCEL},
    {"feature-not-implemented", XMPP_ERROR_CANCEL},
    {"forbidden", XMPP_ERROR_AUTH},
    {"gone", XMPP_ERROR_CANCEL},
    {"internal-server-error", XMPP_ERROR_CANCEL},
    {"item-not-found", XMPP_ERROR_CANCEL},
    {"jid-malformed", XMPP_ERROR_MODIFY},
    {"not-acceptable", XMPP_ERROR_MODIFY},
    {"not-allowed", XMPP_ERROR_CANCEL},
    {"not-authorized", XMPP_ERROR_AUTH},
    {"policy-violation", XMPP_ERROR_MODIFY},
    {"recipient-unavailable", XMPP_ERROR_WAIT},
    {"redirect", XMPP_ERROR_MODIFY},
    {"registration-required", XMPP_ERROR_AUTH},
    {"remote-server-not-found", XMPP_ERROR_CANCEL},
    {"remote-server-timeout", XMPP_ERROR_WAIT},
    {"resource-constraint", XMPP_ERROR_WAIT},
    {"service-unavailable", XMPP_ERROR_CANCEL},
    {"subscription-required", XMPP_ERROR_AUTH},
    {"undefined-condition", XMPP_ERROR_CANCEL},
    {"unexpected-request", XMPP_ERROR_WAIT},
};

static const char *const type_names[] = {"auth", "cancel", "continue", "modify", "wait"};

const char *xmpp_stream_condition_name(enum xmpp_stream_condition cond)
{
    g_return_val_if_fail((unsigned)cond < XMPP_STREAM_ERR_COUNT, "undefined-condition");
    return stream_names[cond];
}

const char *xmpp_stanza_condition_name(enum xmpp_stanza_condition cond)
{
    g_return_val_if_fail((unsigned)cond < XMPP_STANZA_ERR_COUNT, "undefined-condition");
    return stanza_conditions[cond].name;
}

enum xmpp_error_type xmpp_stanza_condition_type(enum xmpp_stanza_condition cond)
{
    g_return_val_if_fail((unsigned)cond < XMPP_STANZA_ERR_COUNT, XMPP_ERROR_CANCEL);
    return stanza_conditions[cond].type;
}

const char *xmpp_error_type_name(enum xmpp_error_type type)
{
    g_return_val_if_fail((unsigned)type < G_N_ELEMENTS(type_names), "cancel");
    return type_names[type];
}

/* The condition element and optional <text xml:lang='en'/>, both in cond_ns, under parent. */
static void add_condition(struct xmpp_node *parent, const char *cond_ns, const char *name,
                          const char *text)
{
    xmpp_node_add_element(parent, cond_ns, name);
    if (!text || !*text || !xmpp_xml_text_valid(text, -1))
        return;
    struct xmpp_node *t = xmpp_node_add_element(parent, cond_ns, "text");
    xmpp_node_set_attr_ns(t, XMPP_NS_XML, "lang", "en");
    xmpp_node_add_text(t, text, -1);
}

struct xmpp_node *xmpp_stream_error_new(enum xmpp_stream_condition cond, const char *text)
{
    struct xmpp_node *error = xmpp_node_new(XMPP_NS_STREAMS, "error");
    add_condition(error, XMPP_NS_STREAM_ERR, xmpp_stream_condition_name(cond), text);
    return error;
}

/* The first child in cond_ns other than <text/>, and the text of <text/>. */
static const char *read_condition(const struct xmpp_node *parent, const char *cond_ns, char **text)
{
    const char *name = NULL;
    if (text)
        *text = NULL;
    for (guint i = 0; parent->children && i < parent->children->len; i++) {
        const struct xmpp_node *c = g_ptr_array_index(parent->children, i);
        if (c->kind != XMPP_NODE_ELEMENT || !c->ns || strcmp(c->ns, cond_ns) != 0)
            continue;
        if (strcmp(c->name, "text") == 0) {
            if (text && !*text)
                *text = xmpp_node_text(c);
        } else if (!name) {
            name = c->name;
        }
    }
    return name;
}

bool xmpp_stream_error_read(const struct xmpp_node *node, enum xmpp_stream_condition *cond,
                            char **text)
{
    if (!xmpp_node_is(node, XMPP_NS_STREAMS, "error"))
        return false;
    const char *name = read_condition(node, XMPP_NS_STREAM_ERR, text);
    *cond = XMPP_STREAM_ERR_UNDEFINED_CONDITION;
    for (int i = 0; name && i < XMPP_STREAM_ERR_COUNT; i++)
        if (strcmp(name, stream_names[i]) == 0)
            *cond = (enum xmpp_stream_condition)i;
    return true;
}

struct xmpp_node *xmpp_stanza_error_reply(const struct xmpp_node *stanza,
                                          enum xmpp_stanza_condition cond, const char *text)
{
    const char *type = xmpp_node_attr(stanza, "type");
    if (stanza->kind != XMPP_NODE_ELEMENT || (type && strcmp(type, "error") == 0))
        return NULL;
    struct xmpp_node *reply = xmpp_node_new(stanza->ns, stanza->name);
    const char *from = xmpp_node_attr(stanza, "from");
    const char *to = xmpp_node_attr(stanza, "to");
    const char *id = xmpp_node_attr(stanza, "id");
    /* The values come from a valid tree: setting them cannot fail. */
    if (from)
        xmpp_node_set_attr(reply, "to", from);
    if (to)
        xmpp_node_set_attr(reply, "from", to);
    if (id)
        xmpp_node_set_attr(reply, "id", id);
    xmpp_node_set_attr(reply, "type", "error");
    struct xmpp_node *error = xmpp_node_add_element(reply, stanza->ns, "error");
    xmpp_node_set_attr(error, "type", xmpp_error_type_name(xmpp_stanza_condition_type(cond)));
    add_condition(error, XMPP_NS_STANZA_ERR, xmpp_stanza_condition_name(cond), text);
    return reply;
}

bool xmpp_stanza_error_read(const struct xmpp_node *stanza, enum xmpp_stanza_condition *cond,
                            enum xmpp_error_type *type, char **text)
{
    const char *stype = xmpp_node_attr(stanza, "type");
    const struct xmpp_node *error = xmpp_node_child(stanza, stanza->ns, "error");
    if (!stype || strcmp(stype, "error") != 0 || !error)
        return false;
    const char *name = read_condition(error, XMPP_NS_STANZA_ERR, text);
    *cond = XMPP_STANZA_ERR_UNDEFINED_CONDITION;
    for (int i = 0; name && i < XMPP_STANZA_ERR_COUNT; i++)
        if (strcmp(name, stanza_conditions[i].name) == 0)
            *cond = (enum xmpp_stanza_condition)i;
    *type = xmpp_stanza_condition_type(*cond);
    const char *etype = xmpp_node_attr(error, "type");
    for (guint i = 0; etype && i < G_N_ELEMENTS(type_names); i++)
        if (strcmp(etype, type_names[i]) == 0)
            *type = (enum xmpp_error_type)i;
    return true;
}
