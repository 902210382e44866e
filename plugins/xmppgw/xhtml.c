/*
 * xhtml.c — text/html <-> XHTML-IM through one whitelist. See xhtml.h.
 */
#include "xhtml.h"

#include <glib.h>
#include <libxml/HTMLparser.h>
#include <string.h>

static const char *const kept[] = {"a",  "blockquote", "br", "cite", "em",     "img",
                                   "li", "ol",         "p",  "span", "strong", "ul"};
static const char *const dropped[] = {"script", "style",  "head",   "title", "object",
                                      "embed",  "iframe", "applet", "form",  "noscript"};
static const char *const blocks[] = {"p",  "li", "blockquote", "div", "ul", "ol", "tr",
                                     "h1", "h2", "h3",         "h4",  "h5", "h6"};

static bool in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (g_ascii_strcasecmp(name, list[i]) == 0)
            return true;
    return false;
}
#define IN(name, list) in(name, list, G_N_ELEMENTS(list))

static bool attr_allowed(const char *element, const char *attr)
{
    if (strcmp(attr, "style") == 0)
        return true;
    if (strcmp(element, "a") == 0)
        return strcmp(attr, "href") == 0;
    if (strcmp(element, "img") == 0)
        return strcmp(attr, "alt") == 0 || strcmp(attr, "height") == 0 ||
               strcmp(attr, "src") == 0 || strcmp(attr, "width") == 0;
    return false;
}

static bool value_allowed(const char *attr, const char *value)
{
    g_autofree char *low = g_ascii_strdown(value, -1);
    if (strcmp(attr, "style") == 0)
        return !strstr(low, "url(") && !strstr(low, "expression");
    if (strcmp(attr, "href") == 0 || strcmp(attr, "src") == 0) {
        static const char *const schemes[] = {
            "http:", "https:", "mailto:", "xmpp:", "sip:", "sips:", "tel:"};
        g_strstrip(low);
        for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++)
            if (g_str_has_prefix(low, schemes[i]))
                return true;
        return false;
    }
    return true;
}

/* One element or text of the source, whatever its tree type, as the walker needs it. */
struct source {
    bool (*is_text)(const void *n);
    const char *(*text)(const void *n); /* text node's characters */
    const char *(*name)(const void *n); /* element's local name */
    bool (*in_xhtml)(const void *n);    /* element in the XHTML (or HTML's null) namespace */
    const char *(*attr)(const void *n, const char *name);
    /* the i-th child (prev: the (i-1)-th, NULL for the first), NULL past the last */
    const void *(*child)(const void *n, const void *prev, size_t i);
};

static void copy_children(const struct source *src, const void *from, struct xmpp_node *to,
                          unsigned depth);

static void copy_node(const struct source *src, const void *n, struct xmpp_node *to, unsigned depth)
{
    if (src->is_text(n)) {
        const char *t = src->text(n);
        if (t && *t)
            xmpp_node_add_text(to, t, -1); /* refused when XML cannot carry it */
        return;
    }
    const char *name = src->name(n);
    if (!name || IN(name, dropped))
        return;
    if (!src->in_xhtml(n) || !IN(name, kept) || depth >= XGW_XHTML_MAX_DEPTH) {
        copy_children(src, n, to, depth); /* markup given up, text kept */
        return;
    }
    g_autofree char *low = g_ascii_strdown(name, -1);
    struct xmpp_node *e = xmpp_node_add_element(to, XGW_NS_XHTML, low);
    static const char *const attrs[] = {"style", "href", "alt", "height", "src", "width"};
    for (size_t i = 0; e && i < G_N_ELEMENTS(attrs); i++) {
        const char *v = attr_allowed(low, attrs[i]) ? src->attr(n, attrs[i]) : NULL;
        if (v && value_allowed(attrs[i], v))
            xmpp_node_set_attr(e, attrs[i], v);
    }
    if (e)
        copy_children(src, n, e, depth + 1);
}

static void copy_children(const struct source *src, const void *from, struct xmpp_node *to,
                          unsigned depth)
{
    const void *c = NULL;
    for (size_t i = 0; (c = src->child(from, c, i)); i++)
        copy_node(src, c, to, depth);
}

/* ---- libxml2 HTML trees ---- */

static bool html_is_text(const void *n)
{
    const xmlNode *x = n;
    return x->type == XML_TEXT_NODE || x->type == XML_CDATA_SECTION_NODE;
}
static const char *html_text(const void *n)
{
    return (const char *)((const xmlNode *)n)->content;
}
static const char *html_name(const void *n)
{
    const xmlNode *x = n;
    return x->type == XML_ELEMENT_NODE ? (const char *)x->name : NULL;
}
static bool html_in_xhtml(const void *n)
{
    (void)n;
    return true; /* the HTML parser has no namespaces */
}
static const char *html_attr(const void *n, const char *name)
{
    for (xmlAttr *a = ((const xmlNode *)n)->properties; a; a = a->next)
        if (g_ascii_strcasecmp((const char *)a->name, name) == 0 && a->children &&
            a->children->type == XML_TEXT_NODE)
            return (const char *)a->children->content;
    return NULL;
}
static const void *html_child(const void *n, const void *prev, size_t i)
{
    (void)i;
    return prev ? ((const xmlNode *)prev)->next : ((const xmlNode *)n)->children;
}
static const struct source html_source = {html_is_text,  html_text, html_name,
                                          html_in_xhtml, html_attr, html_child};

/* The <body> element of an HTML tree, or its root when it has none. */
static const xmlNode *find_body(const xmlNode *n, unsigned depth)
{
    for (const xmlNode *c = n; c && depth < 8; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && g_ascii_strcasecmp((const char *)c->name, "body") == 0)
            return c;
        const xmlNode *b = find_body(c->children, depth + 1);
        if (b)
            return b;
    }
    return NULL;
}

struct xmpp_node *xgw_xhtml_from_html(const char *html, size_t len)
{
    htmlDocPtr doc = htmlReadMemory(html, (int)len, "message.html", "UTF-8",
                                    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NOIMPLIED);
    if (!doc)
        return NULL;
    struct xmpp_node *body = xmpp_node_new(XGW_NS_XHTML, "body");
    const xmlNode *root = find_body(doc->children, 0);
    if (root)
        copy_children(&html_source, root, body, 0);
    else
        for (const xmlNode *c = doc->children; c; c = c->next)
            copy_node(&html_source, c, body, 0);
    xmlFreeDoc(doc);
    return body;
}

/* ---- our own trees ---- */

static bool node_is_text(const void *n)
{
    return ((const struct xmpp_node *)n)->kind == XMPP_NODE_TEXT;
}
static const char *node_text(const void *n)
{
    return ((const struct xmpp_node *)n)->text->str;
}
static const char *node_name(const void *n)
{
    return ((const struct xmpp_node *)n)->name;
}
static bool node_in_xhtml(const void *n)
{
    return g_strcmp0(((const struct xmpp_node *)n)->ns, XGW_NS_XHTML) == 0;
}
static const char *node_attr(const void *n, const char *name)
{
    return xmpp_node_attr(n, name);
}
static const void *node_child(const void *n, const void *prev, size_t i)
{
    (void)prev;
    const struct xmpp_node *x = n;
    return x->children && i < x->children->len ? g_ptr_array_index(x->children, i) : NULL;
}
static const struct source node_source = {node_is_text,  node_text, node_name,
                                          node_in_xhtml, node_attr, node_child};

struct xmpp_node *xgw_xhtml_sanitize(const struct xmpp_node *body)
{
    struct xmpp_node *copy = xmpp_node_new(XGW_NS_XHTML, "body");
    copy_children(&node_source, body, copy, 0);
    return copy;
}

static void append_break(GString *s)
{
    if (s->len && s->str[s->len - 1] != '\n')
        g_string_append_c(s, '\n');
}

static void text_of(const struct xmpp_node *n, GString *out)
{
    if (n->kind == XMPP_NODE_TEXT) {
        g_string_append_len(out, n->text->str, (gssize)n->text->len);
        return;
    }
    if (strcmp(n->name, "br") == 0) {
        g_string_append_c(out, '\n');
        return;
    }
    bool block = IN(n->name, blocks);
    if (block)
        append_break(out);
    for (guint i = 0; n->children && i < n->children->len; i++)
        text_of(g_ptr_array_index(n->children, i), out);
    if (block)
        append_break(out);
}

char *xgw_xhtml_text(const struct xmpp_node *body)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; body->children && i < body->children->len; i++)
        text_of(g_ptr_array_index(body->children, i), s);
    /* the breaks added around blocks at either end are not part of the text */
    while (s->len && s->str[s->len - 1] == '\n')
        g_string_truncate(s, s->len - 1);
    size_t lead = 0;
    while (lead < s->len && s->str[lead] == '\n')
        lead++;
    g_string_erase(s, 0, (gssize)lead);
    return g_string_free(s, FALSE);
}

char *xgw_xhtml_to_html(const struct xmpp_node *body)
{
    GString *s = g_string_new("<html><body>");
    const struct xmpp_scope scope = {.default_ns = XGW_NS_XHTML};
    for (guint i = 0; body->children && i < body->children->len; i++)
        xmpp_node_write(g_ptr_array_index(body->children, i), &scope, s);
    g_string_append(s, "</body></html>");
    return g_string_free(s, FALSE);
}
