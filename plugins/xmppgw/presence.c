/*
 * presence.c — XMPP presence of one resource. See presence.h.
 */
#include "presence.h"

#include "jid.h"
#include "ns.h"

#include <glib.h>
#include <string.h>

static const char *const show_names[] = {[XGW_SHOW_CHAT] = "chat",
                                         [XGW_SHOW_AWAY] = "away",
                                         [XGW_SHOW_XA] = "xa",
                                         [XGW_SHOW_DND] = "dnd"};

const char *xgw_show_name(enum xgw_show show)
{
    return show > XGW_SHOW_NONE && show <= XGW_SHOW_DND ? show_names[show] : NULL;
}

const char *xgw_show_activity(enum xgw_show show)
{
    switch (show) {
    case XGW_SHOW_AWAY:
    case XGW_SHOW_XA:
        return "away";
    case XGW_SHOW_DND:
        return "busy";
    default:
        return NULL;
    }
}

enum xgw_show xgw_show_from_activity(const char *a)
{
    static const struct {
        const char *activity;
        enum xgw_show show;
    } map[] = {
        {"away", XGW_SHOW_AWAY},
        {"appointment", XGW_SHOW_AWAY},
        {"breakfast", XGW_SHOW_AWAY},
        {"dinner", XGW_SHOW_AWAY},
        {"lunch", XGW_SHOW_AWAY},
        {"meal", XGW_SHOW_AWAY},
        {"in-transit", XGW_SHOW_AWAY},
        {"shopping", XGW_SHOW_AWAY},
        {"travel", XGW_SHOW_AWAY},
        {"steering", XGW_SHOW_AWAY},
        {"busy", XGW_SHOW_DND},
        {"meeting", XGW_SHOW_DND},
        {"on-the-phone", XGW_SHOW_DND},
        {"performance", XGW_SHOW_DND},
        {"presentation", XGW_SHOW_DND},
        {"holiday", XGW_SHOW_XA},
        {"vacation", XGW_SHOW_XA},
        {"sleeping", XGW_SHOW_XA},
        {"permanent-absence", XGW_SHOW_XA},
    };
    for (guint i = 0; a && i < G_N_ELEMENTS(map); i++)
        if (strcmp(a, map[i].activity) == 0)
            return map[i].show;
    return XGW_SHOW_NONE;
}

bool xgw_presence_read(const struct xmpp_node *stanza, struct xgw_presence *out)
{
    memset(out, 0, sizeof(*out));
    const char *type = xmpp_node_attr(stanza, "type");
    if (type && strcmp(type, "unavailable") != 0)
        return false;
    out->available = !type;
    struct xmpp_jid jid;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from") ? xmpp_node_attr(stanza, "from") : "", &jid,
                       NULL) == 0) {
        out->resource = g_steal_pointer(&jid.resource);
        xmpp_jid_clear(&jid);
    }
    const struct xmpp_node *show = xmpp_node_child(stanza, stanza->ns, "show");
    if (show && out->available) {
        g_autofree char *v = xmpp_node_text(show);
        for (int s = XGW_SHOW_CHAT; s <= XGW_SHOW_DND; s++)
            if (strcmp(g_strstrip(v), show_names[s]) == 0)
                out->show = (enum xgw_show)s;
    }
    const char *lang = xmpp_node_attr_ns(stanza, XMPP_NS_XML, "lang");
    const struct xmpp_node *status = xmpp_node_child_in_lang(stanza, stanza->ns, "status", lang);
    if (status) {
        out->status = xmpp_node_text(status);
        const char *l = xmpp_node_attr_ns(status, XMPP_NS_XML, "lang");
        out->status_lang = g_strdup(l ? l : lang);
    }
    const struct xmpp_node *prio = xmpp_node_child(stanza, stanza->ns, "priority");
    if (prio) {
        g_autofree char *v = xmpp_node_text(prio);
        char *end;
        gint64 p = g_ascii_strtoll(g_strstrip(v), &end, 10);
        if (*v && !*end && p >= -128 && p <= 127)
            out->priority = (int)p;
    }
    return true;
}

void xgw_presence_clear(struct xgw_presence *p)
{
    g_free(p->resource);
    g_free(p->status);
    g_free(p->status_lang);
    memset(p, 0, sizeof(*p));
}

void xgw_presence_copy(struct xgw_presence *to, const struct xgw_presence *from)
{
    *to = *from;
    to->resource = g_strdup(from->resource);
    to->status = g_strdup(from->status);
    to->status_lang = g_strdup(from->status_lang);
}

struct xmpp_node *xgw_presence_stanza(const char *from, const char *to,
                                      const struct xgw_presence *p)
{
    struct xmpp_node *s = xmpp_node_new(XMPP_NS_SERVER, "presence");
    xmpp_node_set_attr(s, "from", from);
    xmpp_node_set_attr(s, "to", to);
    if (!p->available)
        xmpp_node_set_attr(s, "type", "unavailable");
    if (p->available && xgw_show_name(p->show))
        xmpp_node_add_text(xmpp_node_add_element(s, XMPP_NS_SERVER, "show"), xgw_show_name(p->show),
                           -1);
    if (p->status && xmpp_xml_text_valid(p->status, -1)) {
        struct xmpp_node *st = xmpp_node_add_element(s, XMPP_NS_SERVER, "status");
        if (p->status_lang)
            xmpp_node_set_attr_ns(st, XMPP_NS_XML, "lang", p->status_lang);
        xmpp_node_add_text(st, p->status, -1);
    }
    if (p->available && p->priority) {
        char buf[8];
        g_snprintf(buf, sizeof(buf), "%d", CLAMP(p->priority, -128, 127));
        xmpp_node_add_text(xmpp_node_add_element(s, XMPP_NS_SERVER, "priority"), buf, -1);
    }
    return s;
}

struct xmpp_node *xgw_presence_typed(const char *from, const char *to, const char *type)
{
    struct xmpp_node *s = xmpp_node_new(XMPP_NS_SERVER, "presence");
    xmpp_node_set_attr(s, "from", from);
    xmpp_node_set_attr(s, "to", to);
    xmpp_node_set_attr(s, "type", type);
    return s;
}
