/*
 * xml_node.c — stanza element trees: builders, look-ups, comparison, serializer. See
 * xml_node.h.
 */
#define G_LOG_DOMAIN "sylk-xmpp"
#include "xml_node.h"

#include "ns.h"

#include <errno.h>
#include <libxml/tree.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool xml_char(gunichar c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

bool xmpp_xml_text_valid(const char *s, gssize len)
{
    if (len < 0)
        len = (gssize)strlen(s);
    if (!g_utf8_validate_len(s, (gsize)len, NULL))
        return false;
    for (const char *p = s; p < s + len; p = g_utf8_next_char(p))
        if (!xml_char(g_utf8_get_char(p)))
            return false;
    return true;
}

static bool ncname(const char *name)
{
    return name && *name && xmpp_xml_text_valid(name, -1) &&
           xmlValidateNCName((const xmlChar *)name, 0) == 0;
}

/* A namespace URI an element may be in: XML reserves its own two (Namespaces in XML §3). */
static bool element_ns_ok(const char *ns)
{
    return !ns || (xmpp_xml_text_valid(ns, -1) && strcmp(ns, XMPP_NS_XML) != 0 &&
                   strcmp(ns, XMPP_NS_XMLNS) != 0);
}

static char *ns_dup(const char *ns)
{
    return ns && *ns ? g_strdup(ns) : NULL;
}

struct xmpp_node *xmpp_node_new(const char *ns, const char *name)
{
    if (ns && !*ns)
        ns = NULL;
    if (!ncname(name) || !element_ns_ok(ns))
        return NULL;
    struct xmpp_node *node = g_new0(struct xmpp_node, 1);
    node->kind = XMPP_NODE_ELEMENT;
    node->ns = ns_dup(ns);
    node->name = g_strdup(name);
    return node;
}

static struct xmpp_node *text_node_new(const char *text, gssize len)
{
    struct xmpp_node *node = g_new0(struct xmpp_node, 1);
    node->kind = XMPP_NODE_TEXT;
    node->text = g_string_new_len(text, len);
    return node;
}

static void attr_clear(gpointer p)
{
    struct xmpp_attr *a = p;
    g_free(a->ns);
    g_free(a->name);
    g_free(a->value);
}

void xmpp_node_free(struct xmpp_node *node)
{
    if (!node)
        return;
    g_free(node->ns);
    g_free(node->name);
    if (node->attrs)
        g_array_unref(node->attrs);
    if (node->children)
        g_ptr_array_unref(node->children);
    if (node->text)
        g_string_free(node->text, TRUE);
    g_free(node);
}

static struct xmpp_attr *find_attr(const struct xmpp_node *node, const char *ns, const char *name)
{
    if (!node->attrs)
        return NULL;
    for (guint i = 0; i < node->attrs->len; i++) {
        struct xmpp_attr *a = &g_array_index(node->attrs, struct xmpp_attr, i);
        if (same(a->ns, ns) && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

int xmpp_node_set_attr_ns(struct xmpp_node *node, const char *ns, const char *name,
                          const char *value)
{
    g_return_val_if_fail(node && node->kind == XMPP_NODE_ELEMENT, -EINVAL);
    if (ns && !*ns)
        ns = NULL;
    /* Declarations are not attributes here: the serializer writes them from the namespaces. */
    if (!ncname(name) || !value || !xmpp_xml_text_valid(value, -1) ||
        (ns && (!xmpp_xml_text_valid(ns, -1) || strcmp(ns, XMPP_NS_XMLNS) == 0)) ||
        (!ns && strcmp(name, "xmlns") == 0))
        return -EINVAL;
    struct xmpp_attr *old = find_attr(node, ns, name);
    if (old) {
        g_free(old->value);
        old->value = g_strdup(value);
        return 0;
    }
    if (!node->attrs) {
        node->attrs = g_array_new(FALSE, FALSE, sizeof(struct xmpp_attr));
        g_array_set_clear_func(node->attrs, attr_clear);
    }
    struct xmpp_attr a = {ns_dup(ns), g_strdup(name), g_strdup(value)};
    g_array_append_val(node->attrs, a);
    return 0;
}

int xmpp_node_set_attr(struct xmpp_node *node, const char *name, const char *value)
{
    return xmpp_node_set_attr_ns(node, NULL, name, value);
}

void xmpp_node_remove_attr(struct xmpp_node *node, const char *name)
{
    struct xmpp_attr *a = find_attr(node, NULL, name);
    if (a)
        g_array_remove_index(node->attrs,
                             (guint)(a - &g_array_index(node->attrs, struct xmpp_attr, 0)));
}

struct xmpp_node *xmpp_node_append(struct xmpp_node *node, struct xmpp_node *child)
{
    g_return_val_if_fail(node && node->kind == XMPP_NODE_ELEMENT && child, NULL);
    if (!node->children)
        node->children = g_ptr_array_new_with_free_func((GDestroyNotify)xmpp_node_free);
    g_ptr_array_add(node->children, child);
    return child;
}

struct xmpp_node *xmpp_node_add_element(struct xmpp_node *node, const char *ns, const char *name)
{
    struct xmpp_node *child = xmpp_node_new(ns, name);
    return child ? xmpp_node_append(node, child) : NULL;
}

int xmpp_node_add_text(struct xmpp_node *node, const char *text, gssize len)
{
    g_return_val_if_fail(node && node->kind == XMPP_NODE_ELEMENT && text, -EINVAL);
    if (len < 0)
        len = (gssize)strlen(text);
    if (!xmpp_xml_text_valid(text, len))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct xmpp_node *last = node->children && node->children->len
                                 ? g_ptr_array_index(node->children, node->children->len - 1)
                                 : NULL;
    if (last && last->kind == XMPP_NODE_TEXT)
        g_string_append_len(last->text, text, len);
    else
        xmpp_node_append(node, text_node_new(text, len));
    return 0;
}

const char *xmpp_node_attr_ns(const struct xmpp_node *node, const char *ns, const char *name)
{
    if (!node || node->kind != XMPP_NODE_ELEMENT)
        return NULL;
    struct xmpp_attr *a = find_attr(node, ns && *ns ? ns : NULL, name);
    return a ? a->value : NULL;
}

const char *xmpp_node_attr(const struct xmpp_node *node, const char *name)
{
    return xmpp_node_attr_ns(node, NULL, name);
}

bool xmpp_node_is(const struct xmpp_node *node, const char *ns, const char *name)
{
    return node && node->kind == XMPP_NODE_ELEMENT && same(node->ns, ns && *ns ? ns : NULL) &&
           strcmp(node->name, name) == 0;
}

struct xmpp_node *xmpp_node_child(const struct xmpp_node *node, const char *ns, const char *name)
{
    if (!node || !node->children)
        return NULL;
    for (guint i = 0; i < node->children->len; i++) {
        struct xmpp_node *c = g_ptr_array_index(node->children, i);
        if (xmpp_node_is(c, ns, name))
            return c;
    }
    return NULL;
}

const struct xmpp_node *xmpp_node_child_in_lang(const struct xmpp_node *node, const char *ns,
                                                const char *name, const char *lang)
{
    const struct xmpp_node *first = NULL, *plain = NULL;
    for (guint i = 0; node->children && i < node->children->len; i++) {
        const struct xmpp_node *c = g_ptr_array_index(node->children, i);
        if (!xmpp_node_is(c, ns, name))
            continue;
        const char *l = xmpp_node_attr_ns(c, XMPP_NS_XML, "lang");
        if (lang && l && g_ascii_strcasecmp(l, lang) == 0)
            return c;
        if (!first)
            first = c;
        if (!l && !plain)
            plain = c;
    }
    return plain ? plain : first;
}

struct xmpp_node *xmpp_node_child_in(const struct xmpp_node *node, const char *ns)
{
    if (!node || !node->children)
        return NULL;
    for (guint i = 0; i < node->children->len; i++) {
        struct xmpp_node *c = g_ptr_array_index(node->children, i);
        if (c->kind == XMPP_NODE_ELEMENT && same(c->ns, ns))
            return c;
    }
    return NULL;
}

char *xmpp_node_text(const struct xmpp_node *node)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; node && node->children && i < node->children->len; i++) {
        struct xmpp_node *c = g_ptr_array_index(node->children, i);
        if (c->kind == XMPP_NODE_TEXT)
            g_string_append_len(s, c->text->str, (gssize)c->text->len);
    }
    return g_string_free(s, FALSE);
}

struct xmpp_node *xmpp_node_copy(const struct xmpp_node *node)
{
    if (node->kind == XMPP_NODE_TEXT)
        return text_node_new(node->text->str, (gssize)node->text->len);
    struct xmpp_node *copy = g_new0(struct xmpp_node, 1);
    copy->kind = XMPP_NODE_ELEMENT;
    copy->ns = g_strdup(node->ns);
    copy->name = g_strdup(node->name);
    for (guint i = 0; node->attrs && i < node->attrs->len; i++) {
        struct xmpp_attr *a = &g_array_index(node->attrs, struct xmpp_attr, i);
        xmpp_node_set_attr_ns(copy, a->ns, a->name, a->value);
    }
    for (guint i = 0; node->children && i < node->children->len; i++)
        xmpp_node_append(copy, xmpp_node_copy(g_ptr_array_index(node->children, i)));
    return copy;
}

static guint count(const GArray *a)
{
    return a ? a->len : 0;
}

static guint count_children(const GPtrArray *a)
{
    return a ? a->len : 0;
}

bool xmpp_node_equal(const struct xmpp_node *a, const struct xmpp_node *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == XMPP_NODE_TEXT)
        return g_string_equal(a->text, b->text);
    if (!same(a->ns, b->ns) || strcmp(a->name, b->name) != 0 ||
        count(a->attrs) != count(b->attrs) ||
        count_children(a->children) != count_children(b->children))
        return false;
    for (guint i = 0; i < count(a->attrs); i++) {
        struct xmpp_attr *x = &g_array_index(a->attrs, struct xmpp_attr, i);
        struct xmpp_attr *y = &g_array_index(b->attrs, struct xmpp_attr, i);
        if (!same(x->ns, y->ns) || strcmp(x->name, y->name) != 0 || strcmp(x->value, y->value))
            return false;
    }
    for (guint i = 0; i < count_children(a->children); i++)
        if (!xmpp_node_equal(g_ptr_array_index(a->children, i), g_ptr_array_index(b->children, i)))
            return false;
    return true;
}

/* Attribute values lose \t \n \r to whitespace normalization unless written as references. */
void xmpp_xml_escape_attr(GString *out, const char *s, gssize len)
{
    if (len < 0)
        len = (gssize)strlen(s);
    for (const char *p = s; p < s + len; p++) {
        switch (*p) {
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '"':
            g_string_append(out, "&quot;");
            break;
        case '\'':
            g_string_append(out, "&apos;");
            break;
        case '\t':
            g_string_append(out, "&#9;");
            break;
        case '\n':
            g_string_append(out, "&#10;");
            break;
        case '\r':
            g_string_append(out, "&#13;");
            break;
        default:
            g_string_append_c(out, *p);
        }
    }
}

/* A bare \r would come back as \n (end-of-line handling), so it is written as a reference. */
void xmpp_xml_escape_text(GString *out, const char *s, gssize len)
{
    if (len < 0)
        len = (gssize)strlen(s);
    for (const char *p = s; p < s + len; p++) {
        switch (*p) {
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '\r':
            g_string_append(out, "&#13;");
            break;
        default:
            g_string_append_c(out, *p);
        }
    }
}

/* A namespaced attribute gets a prefix declared on its element: a0, a1, ... in order of first
 * use, so that two attributes in one namespace share one declaration. */
static void write_attrs(const struct xmpp_node *node, GString *out)
{
    GPtrArray *declared = NULL; /* namespace of prefix a<k> at index k */
    for (guint i = 0; i < count(node->attrs); i++) {
        struct xmpp_attr *a = &g_array_index(node->attrs, struct xmpp_attr, i);
        g_string_append_c(out, ' ');
        if (a->ns && strcmp(a->ns, XMPP_NS_XML) == 0) {
            g_string_append(out, "xml:");
        } else if (a->ns) {
            if (!declared)
                declared = g_ptr_array_new();
            guint k = 0;
            while (k < declared->len && strcmp(g_ptr_array_index(declared, k), a->ns) != 0)
                k++;
            if (k == declared->len) {
                g_ptr_array_add(declared, a->ns);
                g_string_append_printf(out, "xmlns:a%u='", k);
                xmpp_xml_escape_attr(out, a->ns, -1);
                g_string_append(out, "' ");
            }
            g_string_append_printf(out, "a%u:", k);
        }
        g_string_append_printf(out, "%s='", a->name);
        xmpp_xml_escape_attr(out, a->value, -1);
        g_string_append_c(out, '\'');
    }
    if (declared)
        g_ptr_array_unref(declared);
}

static void write_node(const struct xmpp_node *node, const char *default_ns,
                       const struct xmpp_scope *scope, GString *out)
{
    if (node->kind == XMPP_NODE_TEXT) {
        xmpp_xml_escape_text(out, node->text->str, (gssize)node->text->len);
        return;
    }
    const char *prefix = NULL;
    if (scope->stream_prefix && same(node->ns, XMPP_NS_STREAMS))
        prefix = "stream:";
    else if (scope->db_prefix && same(node->ns, XMPP_NS_DIALBACK))
        prefix = "db:";
    if (!prefix)
        prefix = "";
    g_string_append_printf(out, "<%s%s", prefix, node->name);
    const char *inner_ns = default_ns;
    if (!*prefix && !same(node->ns, default_ns)) {
        g_string_append(out, " xmlns='");
        if (node->ns)
            xmpp_xml_escape_attr(out, node->ns, -1);
        g_string_append_c(out, '\'');
        inner_ns = node->ns;
    }
    write_attrs(node, out);
    if (!count_children(node->children)) {
        g_string_append(out, "/>");
        return;
    }
    g_string_append_c(out, '>');
    for (guint i = 0; i < node->children->len; i++)
        write_node(g_ptr_array_index(node->children, i), inner_ns, scope, out);
    g_string_append_printf(out, "</%s%s>", prefix, node->name);
}

void xmpp_node_write(const struct xmpp_node *node, const struct xmpp_scope *scope, GString *out)
{
    static const struct xmpp_scope none = {0};
    write_node(node, scope ? scope->default_ns : NULL, scope ? scope : &none, out);
}

char *xmpp_node_to_string(const struct xmpp_node *node, const struct xmpp_scope *scope)
{
    GString *out = g_string_new(NULL);
    xmpp_node_write(node, scope, out);
    return g_string_free(out, FALSE);
}
