/*
 * chatstate.c — XEP-0085 chat states and RFC 3994 is-composing. See chatstate.h.
 */
#include "chatstate.h"

#include "xmldoc.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define MAX_VALUE 256 /* bytes of contenttype: a MIME type is far shorter */

static const char *const names[] = {
    [XGW_CHAT_ACTIVE] = "active", [XGW_CHAT_COMPOSING] = "composing",
    [XGW_CHAT_PAUSED] = "paused", [XGW_CHAT_INACTIVE] = "inactive",
    [XGW_CHAT_GONE] = "gone",
};

const char *xgw_chat_state_name(enum xgw_chat_state state)
{
    return state > XGW_CHAT_NONE && state <= XGW_CHAT_GONE ? names[state] : NULL;
}

enum xgw_chat_state xgw_chat_state_of(const struct xmpp_node *message)
{
    const struct xmpp_node *c = xmpp_node_child_in(message, XGW_NS_CHATSTATES);
    for (int s = XGW_CHAT_ACTIVE; c && s <= XGW_CHAT_GONE; s++)
        if (strcmp(c->name, names[s]) == 0)
            return (enum xgw_chat_state)s;
    return XGW_CHAT_NONE;
}

void xgw_chat_state_add(struct xmpp_node *message, enum xgw_chat_state state)
{
    const char *name = xgw_chat_state_name(state);
    if (name)
        xmpp_node_add_element(message, XGW_NS_CHATSTATES, name);
}

static int fail(const char **why, const char *text)
{
    *why = text;
    return -EBADMSG;
}

static int read_children(const xmlNode *root, struct xgw_composing *out, const char **why)
{
    bool have_state = false;
    for (const xmlNode *n = root->children; n; n = n->next) {
        if (!xgw_xml_is(n, XGW_NS_ISCOMPOSING, NULL))
            continue; /* extensions in other namespaces are ignored (RFC 3994 §4) */
        g_autofree char *v = xgw_xml_text(n, MAX_VALUE, true);
        const char *name = (const char *)n->name;
        if (!v)
            return fail(why, "element value too long or not UTF-8");
        if (strcmp(name, "state") == 0) {
            if (strcmp(v, "active") != 0 && strcmp(v, "idle") != 0)
                return fail(why, "state is neither active nor idle");
            out->active = strcmp(v, "active") == 0;
            have_state = true;
        } else if (strcmp(name, "refresh") == 0) {
            char *end;
            guint64 r = g_ascii_strtoull(v, &end, 10);
            if (!*v || *end || r == 0 || r > 86400)
                return fail(why, "refresh is not a number of seconds");
            out->refresh = (unsigned)r;
        } else if (strcmp(name, "contenttype") == 0 && !out->content_type) {
            out->content_type = g_steal_pointer(&v);
        }
    }
    return have_state ? 0 : fail(why, "no state element");
}

int xgw_composing_parse(const char *data, size_t len, struct xgw_composing *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    xmlDoc *doc = xgw_xml_read(data, len, XGW_COMPOSING_MAX_BYTES, why);
    if (!doc)
        return -EBADMSG;
    const xmlNode *root = xmlDocGetRootElement(doc);
    int rc = xgw_xml_is(root, XGW_NS_ISCOMPOSING, "isComposing")
                 ? read_children(root, out, why)
                 : fail(why, "the root is not isComposing in " XGW_NS_ISCOMPOSING);
    xmlFreeDoc(doc);
    if (rc < 0)
        xgw_composing_clear(out);
    return rc;
}

void xgw_composing_clear(struct xgw_composing *c)
{
    g_free(c->content_type);
    memset(c, 0, sizeof(*c));
}

char *xgw_composing_format(bool active, unsigned refresh, const char *last_active)
{
    GString *s = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<isComposing xmlns=\"" XGW_NS_ISCOMPOSING "\">\n");
    g_string_append_printf(s, "  <state>%s</state>\n", active ? "active" : "idle");
    if (last_active) {
        g_autofree char *e = g_markup_escape_text(last_active, -1);
        g_string_append_printf(s, "  <lastactive>%s</lastactive>\n", e);
    }
    g_string_append(s, "  <contenttype>text/plain</contenttype>\n");
    if (active && refresh)
        g_string_append_printf(s, "  <refresh>%u</refresh>\n", refresh);
    g_string_append(s, "</isComposing>\n");
    return g_string_free(s, FALSE);
}

enum xgw_chat_state xgw_chat_state_from_composing(bool active)
{
    return active ? XGW_CHAT_COMPOSING : XGW_CHAT_PAUSED;
}

bool xgw_chat_state_to_composing(enum xgw_chat_state state, bool *active)
{
    *active = state == XGW_CHAT_COMPOSING;
    return state != XGW_CHAT_NONE;
}
