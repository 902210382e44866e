/*
 * confinfo.c — RFC 4575 documents with libxml2. See confinfo.h.
 *
 * Element order follows the RFC 4575 schema (section 5): conference-description, host-info,
 * conference-state, users; in a user display-text then its endpoints; in an endpoint
 * display-text, status, joining-method, joining-info, media. The AG Projects extensions sit
 * where the schema allows other name spaces: at the end of conference-description (resources)
 * and of user (screen_image_url). Their shape is what sipsimple (python3-sipsimple,
 * sipsimple/payloads/conference.py) parses, so what Blink shows: a file's fields are
 * attributes (a required one missing and the file is dropped), screen_image_url is text.
 */
#include "confinfo.h"

#include <glib.h>
#include <libxml/tree.h>
#include <string.h>

static xmlNodePtr child(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    /* xmlNewTextChild escapes the text: <, >, & and quotes chosen by participants */
    return xmlNewTextChild(parent, ns, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static void add_endpoint(xmlNodePtr user, xmlNsPtr ns, const struct confinfo_endpoint *e)
{
    xmlNodePtr ep = xmlNewChild(user, ns, BAD_CAST "endpoint", NULL);
    xmlNewProp(ep, BAD_CAST "entity", BAD_CAST e->entity);
    if (e->display_text)
        child(ep, ns, "display-text", e->display_text);
    child(ep, ns, "status", e->status ? e->status : "connected");
    child(ep, ns, "joining-method", e->dialed_out ? "dialed-out" : "dialed-in");
    if (e->joined_at) {
        xmlNodePtr info = xmlNewChild(ep, ns, BAD_CAST "joining-info", NULL);
        child(info, ns, "when", e->joined_at);
    }
    for (size_t i = 0; i < e->media_count; i++) {
        const struct confinfo_media *m = &e->media[i];
        xmlNodePtr media = xmlNewChild(ep, ns, BAD_CAST "media", NULL);
        xmlNewProp(media, BAD_CAST "id", BAD_CAST m->id);
        child(media, ns, "type", m->type);
        child(media, ns, "status", m->status);
    }
}

/* Characters that end a plain display name for a SIP parser (pjsip's, Blink's): quote it. */
static bool needs_quotes(const char *name)
{
    return strpbrk(name, "\"<>:\\") != NULL;
}

/*
 * The sender attribute: "Display <sip:user@host>" as SylkServer writes it (sipsimple's
 * ChatIdentity), a quoted display name when plain text would not parse back (RFC 3261
 * quoted-string), or the URI alone. Control characters, which no display name may hold, become
 * spaces.
 */
static char *file_sender(const struct confinfo_file *f)
{
    if (!f->sender_name || !*f->sender_name)
        return g_strdup(f->sender_uri);
    bool quote = needs_quotes(f->sender_name);
    GString *s = g_string_new(quote ? "\"" : NULL);
    for (const char *c = f->sender_name; *c; c++) {
        if (quote && (*c == '"' || *c == '\\'))
            g_string_append_c(s, '\\');
        g_string_append_c(s, (unsigned char)*c < 0x20 || *c == 0x7f ? ' ' : *c);
    }
    g_string_append_printf(s, "%s <%s>", quote ? "\"" : "", f->sender_uri);
    return g_string_free(s, FALSE);
}

static void add_files(xmlNodePtr description, xmlNsPtr agp, const struct confinfo *info)
{
    xmlNodePtr resources = xmlNewChild(description, agp, BAD_CAST "resources", NULL);
    xmlNodePtr files = xmlNewChild(resources, agp, BAD_CAST "files", NULL);
    for (size_t i = 0; i < info->file_count; i++) {
        const struct confinfo_file *f = &info->files[i];
        xmlNodePtr file = xmlNewChild(files, agp, BAD_CAST "file", NULL);
        char size[24];
        g_snprintf(size, sizeof(size), "%" G_GUINT64_FORMAT, f->size);
        g_autofree char *upper = g_ascii_strup(f->hash, -1);
        g_autofree char *hash = g_strconcat("sha1:", upper, NULL);
        g_autofree char *sender = file_sender(f);
        /* xmlNewProp escapes the values: names and senders are chosen by participants */
        xmlNewProp(file, BAD_CAST "name", BAD_CAST f->name);
        xmlNewProp(file, BAD_CAST "hash", BAD_CAST hash);
        xmlNewProp(file, BAD_CAST "size", BAD_CAST size);
        xmlNewProp(file, BAD_CAST "sender", BAD_CAST sender);
        xmlNewProp(file, BAD_CAST "status", BAD_CAST "OK");
    }
}

char *confinfo_build(const struct confinfo *info, size_t *len)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "conference-info");
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST CONFINFO_NS, NULL);
    xmlNsPtr agp = xmlNewNs(root, BAD_CAST CONFINFO_AGP_NS, BAD_CAST "agp-conf");
    xmlSetNs(root, ns);
    xmlDocSetRootElement(doc, root);
    char version[16];
    g_snprintf(version, sizeof(version), "%u", info->version);
    xmlNewProp(root, BAD_CAST "entity", BAD_CAST info->entity);
    xmlNewProp(root, BAD_CAST "state", BAD_CAST "full");
    xmlNewProp(root, BAD_CAST "version", BAD_CAST version);

    xmlNodePtr description = xmlNewChild(root, ns, BAD_CAST "conference-description", NULL);
    child(description, ns, "display-text", info->display_text);
    if (info->subject)
        child(description, ns, "subject", info->subject);
    if (info->free_text)
        child(description, ns, "free-text", info->free_text);
    xmlNodePtr entry = xmlNewChild(xmlNewChild(description, ns, BAD_CAST "conf-uris", NULL), ns,
                                   BAD_CAST "entry", NULL);
    child(entry, ns, "uri", info->entity);
    child(entry, ns, "purpose", "participation");
    if (info->file_count)
        add_files(description, agp, info);

    if (info->web_page) {
        xmlNodePtr host = xmlNewChild(root, ns, BAD_CAST "host-info", NULL);
        child(host, ns, "web-page", info->web_page);
    }

    xmlNodePtr state = xmlNewChild(root, ns, BAD_CAST "conference-state", NULL);
    char count[16];
    g_snprintf(count, sizeof(count), "%zu", info->user_count);
    child(state, ns, "user-count", count);
    child(state, ns, "active", info->user_count ? "true" : "false");

    xmlNodePtr users = xmlNewChild(root, ns, BAD_CAST "users", NULL);
    for (size_t i = 0; i < info->user_count; i++) {
        const struct confinfo_user *u = &info->users[i];
        xmlNodePtr user = xmlNewChild(users, ns, BAD_CAST "user", NULL);
        xmlNewProp(user, BAD_CAST "entity", BAD_CAST u->entity);
        if (u->display_text)
            child(user, ns, "display-text", u->display_text);
        for (size_t k = 0; k < u->endpoint_count; k++)
            add_endpoint(user, ns, &u->endpoints[k]);
        if (u->screen_image_url)
            child(user, agp, "screen_image_url", u->screen_image_url);
    }

    xmlChar *out = NULL;
    int n = 0;
    xmlDocDumpFormatMemoryEnc(doc, &out, &n, "UTF-8", 1);
    xmlFreeDoc(doc);
    char *copy = g_strndup((const char *)out, (gsize)n);
    xmlFree(out);
    *len = (size_t)n;
    return copy;
}

char *confinfo_with_version(const char *doc, size_t len, unsigned version, size_t *out_len)
{
    /* The root's attributes are written in the order set: entity, state, version; entity is
     * escaped, so the first ' version="' after the root's name is the root's. */
    static const char attr[] = " version=\"";
    const char *root = g_strstr_len(doc, (gssize)len, "<conference-info");
    const char *at = root ? g_strstr_len(root, (gssize)(len - (size_t)(root - doc)), attr) : NULL;
    if (!at)
        return NULL;
    const char *value = at + strlen(attr);
    const char *end = memchr(value, '"', len - (size_t)(value - doc));
    if (!end)
        return NULL;
    g_autofree char *number = g_strdup_printf("%u", version);
    GString *out = g_string_sized_new(len + 8);
    g_string_append_len(out, doc, value - doc);
    g_string_append(out, number);
    g_string_append_len(out, end, (gssize)(len - (size_t)(end - doc)));
    *out_len = out->len;
    return g_string_free(out, FALSE);
}
