/*
 * composing.c — RFC 3994 isComposing documents. See composing.h.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/composing.h"

#include <errno.h>
#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#define NS "urn:ietf:params:xml:ns:im-iscomposing"
/* Bytes of a contenttype or lastactive value: a MIME type or a date is far shorter, and even
 * escaped character by character (6 bytes each) two of them fit SYLK_COMPOSING_MAX_BYTES. */
#define MAX_VALUE 256

static int fail(char **error, const char *why)
{
    *error = g_strdup(why);
    return -EBADMSG;
}

static bool in_ns(const xmlNode *n)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, NS) == 0;
}

static char *text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = g_strstrip(g_strdup(t ? (const char *)t : ""));
    xmlFree(t);
    return s;
}

static int read_children(const xmlNode *root, struct sylk_composing *out, char **error)
{
    bool have_state = false;
    for (const xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || !in_ns(n))
            continue; /* extensions in other name spaces are ignored (RFC 3994 4) */
        g_autofree char *v = text_of(n);
        const char *name = (const char *)n->name;
        if (strcmp(name, "state") == 0) {
            if (strcmp(v, "active") != 0 && strcmp(v, "idle") != 0)
                return fail(error, "state is neither active nor idle");
            out->active = strcmp(v, "active") == 0;
            have_state = true;
        } else if (strcmp(name, "contenttype") == 0 && !out->content_type) {
            if (strlen(v) > MAX_VALUE) /* keeps what we write back under the size limit */
                return fail(error, "contenttype is too long");
            out->content_type = g_steal_pointer(&v);
        } else if (strcmp(name, "refresh") == 0) {
            char *end;
            guint64 r = g_ascii_strtoull(v, &end, 10);
            if (!*v || *end || r == 0 || r > 86400)
                return fail(error, "refresh is not a number of seconds");
            out->refresh = (unsigned)r;
        } else if (strcmp(name, "lastactive") == 0 && !out->last_active) {
            if (strlen(v) > MAX_VALUE)
                return fail(error, "lastactive is too long");
            out->last_active = g_steal_pointer(&v);
        }
    }
    return have_state ? 0 : fail(error, "no state element");
}

int sylk_composing_parse(const char *data, size_t len, struct sylk_composing *out, char **error)
{
    memset(out, 0, sizeof(*out));
    *error = NULL;
    if (len > SYLK_COMPOSING_MAX_BYTES)
        return fail(error, "document too large");
    /* No network, no DTD loading, no entity substitution: a notice is plain data. */
    xmlDoc *doc = xmlReadMemory(data, (int)len, "iscomposing.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return fail(error, "not well-formed XML");
    int rc = 0;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (doc->intSubset || doc->extSubset)
        rc = fail(error, "a DTD is not allowed");
    else if (!root || strcmp((const char *)root->name, "isComposing") != 0 || !in_ns(root))
        rc = fail(error, "the root is not isComposing in " NS);
    else
        rc = read_children(root, out, error);
    xmlFreeDoc(doc);
    if (rc < 0) {
        char *keep = *error;
        sylk_composing_clear(out);
        *error = keep;
    }
    return rc;
}

void sylk_composing_clear(struct sylk_composing *c)
{
    g_free(c->content_type);
    g_free(c->last_active);
    memset(c, 0, sizeof(*c));
}

/* Escaped text; a carriage return too, which XML would otherwise read back as a newline. */
static void append_escaped(GString *s, const char *text)
{
    g_autofree char *e = g_markup_escape_text(text, -1);
    for (const char *p = e; *p; p++) {
        if (*p == '\r')
            g_string_append(s, "&#13;");
        else
            g_string_append_c(s, *p);
    }
}

char *sylk_composing_format(const struct sylk_composing *c)
{
    GString *s = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<isComposing xmlns=\"" NS "\">\n");
    g_string_append_printf(s, "  <state>%s</state>\n", c->active ? "active" : "idle");
    if (c->last_active) {
        g_string_append(s, "  <lastactive>");
        append_escaped(s, c->last_active);
        g_string_append(s, "</lastactive>\n");
    }
    if (c->content_type) {
        g_string_append(s, "  <contenttype>");
        append_escaped(s, c->content_type);
        g_string_append(s, "</contenttype>\n");
    }
    if (c->refresh)
        g_string_append_printf(s, "  <refresh>%u</refresh>\n", c->refresh);
    g_string_append(s, "</isComposing>\n");
    return g_string_free(s, FALSE);
}
