/*
 * xml_node.h — the element tree of one XMPP stanza: elements with a namespace URI, a local
 * name, attributes (xml:lang is an attribute in the XML namespace) and children, text nodes
 * among the children in document order (mixed content, as XHTML-IM bodies have it), builders,
 * look-ups, comparison and the serializer.
 *
 * Everything a builder accepts can be written as well-formed namespace-aware XML 1.0: names
 * are NCNames, text and attribute values are valid UTF-8 made only of XML characters
 * (controls other than \t \n \r, U+FFFE and U+FFFF are refused with -EINVAL), and the
 * reserved xml/xmlns namespaces are refused where XML forbids them. So whatever the tree
 * holds, xmpp_node_write produces XML that parses back to the same tree.
 *
 * The serializer writes a namespace declaration only where an element's namespace differs
 * from the one in force (the stream's default namespace, jabber:server or
 * jabber:component:accept, is inherited from the stream header: see struct xmpp_scope), uses
 * the stream header's `stream:` and `db:` prefixes for elements in those namespaces, and
 * declares a generated prefix on the element for a namespaced attribute.
 *
 * Ownership: a node owns its attributes and children; xmpp_node_append takes the child.
 * Thread: pure functions, any thread; a tree belongs to one thread at a time.
 */
#ifndef XMPPGW_XML_NODE_H
#define XMPPGW_XML_NODE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

enum xmpp_node_kind {
    XMPP_NODE_ELEMENT,
    XMPP_NODE_TEXT,
};

struct xmpp_attr {
    char *ns; /* NULL: no namespace (the usual case: to, from, id, type) */
    char *name;
    char *value;
};

/* Read the fields freely; change a tree only through the functions below. */
struct xmpp_node {
    enum xmpp_node_kind kind;
    char *ns;            /* element: namespace URI, NULL for none */
    char *name;          /* element: local name */
    GArray *attrs;       /* element: struct xmpp_attr in order, NULL when none */
    GPtrArray *children; /* element: struct xmpp_node * in document order, NULL when none */
    GString *text;       /* text node: its characters; adjacent text is kept in one node */
};

/* Where a node is written: the namespaces its context has already declared. */
struct xmpp_scope {
    const char *default_ns; /* the stream's default namespace, or NULL */
    bool stream_prefix;     /* "stream" is bound to XMPP_NS_STREAMS */
    bool db_prefix;         /* "db" is bound to XMPP_NS_DIALBACK */
};

/** True when [s, s+len) is valid UTF-8 made only of XML 1.0 characters (len -1: to NUL). */
bool xmpp_xml_text_valid(const char *s, gssize len);

/** A new element; NULL when name is not an NCName or ns is a reserved namespace ("" = NULL). */
struct xmpp_node *xmpp_node_new(const char *ns, const char *name);

void xmpp_node_free(struct xmpp_node *node);

/** Sets (or replaces) an attribute in no namespace. 0, or -EINVAL for a bad name or value. */
int xmpp_node_set_attr(struct xmpp_node *node, const char *name, const char *value);

/** Sets (or replaces) an attribute in namespace ns (NULL: none; XMPP_NS_XML for xml:lang). */
int xmpp_node_set_attr_ns(struct xmpp_node *node, const char *ns, const char *name,
                          const char *value);

/** Removes an attribute (no namespace); nothing when absent. */
void xmpp_node_remove_attr(struct xmpp_node *node, const char *name);

/** Appends child (element or text) to node and takes it; returns child. */
struct xmpp_node *xmpp_node_append(struct xmpp_node *node, struct xmpp_node *child);

/** Appends a new child element; NULL (and nothing appended) for a bad name or namespace. */
struct xmpp_node *xmpp_node_add_element(struct xmpp_node *node, const char *ns, const char *name);

/** Appends text (len -1: to NUL), merged into a text node just before it. 0, or -EINVAL. */
int xmpp_node_add_text(struct xmpp_node *node, const char *text, gssize len);

/** The value of an attribute in no namespace, or NULL. */
const char *xmpp_node_attr(const struct xmpp_node *node, const char *name);

/** The value of an attribute in namespace ns (NULL: none), or NULL. */
const char *xmpp_node_attr_ns(const struct xmpp_node *node, const char *ns, const char *name);

/** True when node is an element named name in namespace ns (NULL: none). */
bool xmpp_node_is(const struct xmpp_node *node, const char *ns, const char *name);

/** The first child element named name in namespace ns (NULL: none), or NULL. */
struct xmpp_node *xmpp_node_child(const struct xmpp_node *node, const char *ns, const char *name);

/**
 * Of the child elements named name in namespace ns, the one whose xml:lang is lang
 * (case-insensitive; lang may be NULL), else the first without xml:lang, else the first
 * (RFC 6120 §8.1.4: <body/>, <status/>, <subject/> repeated per language), or NULL.
 */
const struct xmpp_node *xmpp_node_child_in_lang(const struct xmpp_node *node, const char *ns,
                                                const char *name, const char *lang);

/** The first child element in namespace ns whatever its name (stanza error conditions). */
struct xmpp_node *xmpp_node_child_in(const struct xmpp_node *node, const char *ns);

/** The concatenated text of node's own text children (not of its descendants); "" if none. */
char *xmpp_node_text(const struct xmpp_node *node);

/** Deep copy. */
struct xmpp_node *xmpp_node_copy(const struct xmpp_node *node);

/** Same names, namespaces, attributes (in order) and children (in order). */
bool xmpp_node_equal(const struct xmpp_node *a, const struct xmpp_node *b);

/** Appends node as XML to out, in the context scope (NULL: nothing declared). */
void xmpp_node_write(const struct xmpp_node *node, const struct xmpp_scope *scope, GString *out);

/** node as XML in a new string (scope as for xmpp_node_write). */
char *xmpp_node_to_string(const struct xmpp_node *node, const struct xmpp_scope *scope);

/** Appends s (len -1: to NUL) escaped for an attribute value in single or double quotes. */
void xmpp_xml_escape_attr(GString *out, const char *s, gssize len);

/** Appends s escaped for character data. */
void xmpp_xml_escape_text(GString *out, const char *s, gssize len);

#endif
