/*
 * pidf.c — PIDF documents <-> XMPP presence. See pidf.h.
 */
#include "pidf.h"

#include "jid.h"
#include "xmldoc.h"

#include <errno.h>
#include <string.h>

#define NS_PIDF_IM "urn:ietf:params:xml:ns:pidf:im" /* the older <im:im>away</im:im> */
#define MAX_VALUE  4096                             /* bytes of a note, contact or id */

char *xgw_pidf_tuple_id(const char *resource)
{
    if (!resource)
        return g_strdup("r0");
    g_autofree char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, resource, -1);
    return g_strdup_printf("r%.16s", hex);
}

static void append_escaped(GString *s, const char *text)
{
    g_autofree char *e = g_markup_escape_text(text, -1);
    for (const char *p = e; *p; p++) {
        if (*p == '\r')
            g_string_append(s, "&#13;"); /* kept through XML's line-end normalization */
        else
            g_string_append_c(s, *p);
    }
}

static void append_note(GString *s, const char *prefix, const struct xgw_presence *p,
                        const char *indent)
{
    if (!p->status || !*p->status)
        return;
    g_string_append_printf(s, "%s<%snote", indent, prefix);
    if (p->status_lang) {
        g_string_append(s, " xml:lang=\"");
        append_escaped(s, p->status_lang);
        g_string_append_c(s, '"');
    }
    g_string_append_c(s, '>');
    append_escaped(s, p->status);
    g_string_append_printf(s, "</%snote>\n", prefix);
}

static void append_tuple(GString *s, const struct xgw_pidf_resource *r)
{
    const struct xgw_presence *p = r->presence;
    g_autofree char *id = xgw_pidf_tuple_id(p->resource);
    g_string_append_printf(s, "  <tuple id=\"%s\">\n    <status><basic>%s</basic></status>\n", id,
                           p->available ? "open" : "closed");
    if (r->contact) {
        g_string_append(s, "    <contact");
        if (p->available && p->priority > 0)
            g_string_append_printf(s, " priority=\"%.3f\"", MIN(p->priority, 127) / 127.0);
        g_string_append_c(s, '>');
        append_escaped(s, r->contact);
        g_string_append(s, "</contact>\n");
    }
    append_note(s, "", p, "    ");
    if (r->timestamp)
        g_string_append_printf(s, "    <timestamp>%s</timestamp>\n", r->timestamp);
    g_string_append(s, "  </tuple>\n");
}

/* The available resource with the highest priority (the first of equals), or NULL. */
static const struct xgw_presence *best(const struct xgw_pidf_resource *resources, size_t n)
{
    const struct xgw_presence *b = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct xgw_presence *p = resources[i].presence;
        if (p->available && (!b || p->priority > b->priority))
            b = p;
    }
    return b;
}

char *xgw_pidf_build(const char *entity, const struct xgw_pidf_resource *resources, size_t n)
{
    GString *s = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<presence xmlns=\"" XGW_NS_PIDF "\" xmlns:dm=\"" XGW_NS_PIDF_DM
                              "\" xmlns:rpid=\"" XGW_NS_PIDF_RPID "\" entity=\"");
    append_escaped(s, entity);
    g_string_append(s, "\">\n");
    for (size_t i = 0; i < n; i++)
        append_tuple(s, &resources[i]);
    const struct xgw_presence *b = best(resources, n);
    const char *activity = b ? xgw_show_activity(b->show) : NULL;
    if (b && (activity || (b->status && *b->status))) {
        g_string_append(s, "  <dm:person id=\"p\">\n");
        if (activity)
            g_string_append_printf(s, "    <rpid:activities><rpid:%s/></rpid:activities>\n",
                                   activity);
        append_note(s, "dm:", b, "    ");
        g_string_append(s, "  </dm:person>\n");
    }
    g_string_append(s, "</presence>\n");
    return g_string_free(s, FALSE);
}

/* ---- reading ---- */

static void tuple_free(gpointer p)
{
    struct xgw_pidf_tuple *t = p;
    g_free(t->id);
    g_free(t->contact);
    xgw_presence_clear(&t->presence);
    g_free(t);
}

/* The show an RPID <activities/> gives: its first activity we map. */
static enum xgw_show activities_show(const xmlNode *activities)
{
    for (const xmlNode *a = activities ? activities->children : NULL; a; a = a->next) {
        enum xgw_show s = xgw_xml_is(a, XGW_NS_PIDF_RPID, NULL)
                              ? xgw_show_from_activity((const char *)a->name)
                              : XGW_SHOW_NONE;
        if (s != XGW_SHOW_NONE)
            return s;
    }
    return XGW_SHOW_NONE;
}

/* sipsimple's agp-pidf:extended (available, away, busy, extended-away, offline) or the older
 * pidf:im values, read from <status/>: the show, and *offline for "offline". */
static enum xgw_show status_extension_show(const xmlNode *status, bool *offline)
{
    *offline = false;
    static const struct {
        const char *value;
        enum xgw_show show;
    } map[] = {{"away", XGW_SHOW_AWAY},       {"berightback", XGW_SHOW_AWAY},
               {"lunch", XGW_SHOW_AWAY},      {"extended-away", XGW_SHOW_XA},
               {"busy", XGW_SHOW_DND},        {"onthephone", XGW_SHOW_DND},
               {"on-the-phone", XGW_SHOW_DND}};
    const xmlNode *e = xgw_xml_child(status, XGW_NS_AGP_PIDF, "extended");
    if (!e)
        e = xgw_xml_child(status, NS_PIDF_IM, "im");
    g_autofree char *v = e ? xgw_xml_text(e, 64, true) : NULL;
    if (!v)
        return XGW_SHOW_NONE;
    *offline = strcmp(v, "offline") == 0;
    for (guint i = 0; i < G_N_ELEMENTS(map); i++)
        if (strcmp(v, map[i].value) == 0)
            return map[i].show;
    return XGW_SHOW_NONE;
}

/* The first note child of n in ns, into status and status_lang. */
static void read_note(const xmlNode *n, const char *ns, struct xgw_presence *p)
{
    const xmlNode *note = xgw_xml_child(n, ns, "note");
    char *text = note ? xgw_xml_text(note, MAX_VALUE, false) : NULL;
    if (!text || !*text) {
        g_free(text);
        return;
    }
    p->status = text;
    const char *lang = xgw_xml_lang(note);
    p->status_lang = lang && strlen(lang) <= 64 ? g_strdup(lang) : NULL;
}

static struct xgw_pidf_tuple *read_tuple(const xmlNode *t, guint index)
{
    struct xgw_pidf_tuple *tuple = g_new0(struct xgw_pidf_tuple, 1);
    xmlChar *id = xmlGetNoNsProp(t, (const xmlChar *)"id");
    tuple->id = id && strlen((const char *)id) <= 256 && g_utf8_validate((const char *)id, -1, NULL)
                    ? g_strdup((const char *)id)
                    : g_strdup_printf("t%u", index);
    xmlFree(id);
    const xmlNode *status = xgw_xml_child(t, XGW_NS_PIDF, "status");
    const xmlNode *basic = xgw_xml_child(status, XGW_NS_PIDF, "basic");
    g_autofree char *b = basic ? xgw_xml_text(basic, 16, true) : NULL;
    bool offline;
    struct xgw_presence *p = &tuple->presence;
    p->show = status_extension_show(status, &offline);
    p->available = b ? strcmp(b, "open") == 0 && !offline : status && !offline && p->show;
    if (p->show == XGW_SHOW_NONE)
        p->show = activities_show(xgw_xml_child(status, XGW_NS_PIDF_RPID, "activities"));
    const xmlNode *contact = xgw_xml_child(t, XGW_NS_PIDF, "contact");
    if (contact) {
        tuple->contact = xgw_xml_text(contact, MAX_VALUE, true);
        xmlChar *prio = xmlGetNoNsProp(contact, (const xmlChar *)"priority");
        double q = prio ? g_ascii_strtod((const char *)prio, NULL) : 0;
        xmlFree(prio);
        if (q > 0 && q <= 1)
            p->priority = (int)(q * 127 + 0.5);
    }
    struct xmpp_jid jid;
    if (tuple->contact && xmpp_jid_from_sip_uri(tuple->contact, &jid, NULL) == 0) {
        p->resource = g_steal_pointer(&jid.resource);
        xmpp_jid_clear(&jid);
    }
    if (!p->resource)
        p->resource = g_strdup(tuple->id);
    read_note(t, XGW_NS_PIDF, p);
    return tuple;
}

/* The person's activities and note fill what the tuples do not say. */
static void apply_person(const xmlNode *root, struct xgw_pidf *out)
{
    const xmlNode *person = xgw_xml_child(root, XGW_NS_PIDF_DM, "person");
    if (!person)
        return;
    enum xgw_show show = activities_show(xgw_xml_child(person, XGW_NS_PIDF_RPID, "activities"));
    struct xgw_presence note = {0};
    read_note(person, XGW_NS_PIDF_DM, &note);
    for (guint i = 0; i < out->tuples->len; i++) {
        struct xgw_pidf_tuple *t = g_ptr_array_index(out->tuples, i);
        if (t->presence.available && t->presence.show == XGW_SHOW_NONE)
            t->presence.show = show;
        if (!t->presence.status && note.status) {
            t->presence.status = g_strdup(note.status);
            t->presence.status_lang = g_strdup(note.status_lang);
        }
    }
    xgw_presence_clear(&note);
}

int xgw_pidf_parse(const char *data, size_t len, struct xgw_pidf *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    xmlDoc *doc = xgw_xml_read(data, len, XGW_PIDF_MAX_BYTES, why);
    if (!doc)
        return -EBADMSG;
    const xmlNode *root = xmlDocGetRootElement(doc);
    int rc = 0;
    if (!xgw_xml_is(root, XGW_NS_PIDF, "presence")) {
        *why = "the root is not presence in " XGW_NS_PIDF;
        rc = -EBADMSG;
        goto out;
    }
    xmlChar *entity = xmlGetNoNsProp(root, (const xmlChar *)"entity");
    out->entity = entity ? g_strdup((const char *)entity) : NULL;
    xmlFree(entity);
    out->tuples = g_ptr_array_new_with_free_func(tuple_free);
    for (const xmlNode *t = root->children; t; t = t->next) {
        if (!xgw_xml_is(t, XGW_NS_PIDF, "tuple"))
            continue;
        if (out->tuples->len == XGW_PIDF_MAX_TUPLES) {
            *why = "too many tuples";
            rc = -EBADMSG;
            goto out;
        }
        g_ptr_array_add(out->tuples, read_tuple(t, out->tuples->len));
    }
    apply_person(root, out);
out:
    xmlFreeDoc(doc);
    if (rc < 0)
        xgw_pidf_clear(out);
    return rc;
}

void xgw_pidf_clear(struct xgw_pidf *pidf)
{
    g_free(pidf->entity);
    if (pidf->tuples)
        g_ptr_array_unref(pidf->tuples);
    memset(pidf, 0, sizeof(*pidf));
}
