/*
 * xmldoc.h — small XML documents that SIP peers send the gateway (PIDF presence, RFC 3994
 * is-composing) read with libxml2 as plain data: no network, no DTD (a document with one is
 * refused), no entity substitution, a size limit checked before parsing. libxml2's own reports
 * are not printed (XML_PARSE_NOERROR); the few it makes anyway go to the thread's handler,
 * which the server installs on the main thread.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_XMLDOC_H
#define XMPPGW_XMLDOC_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

/** The document, or NULL with *why (static text): too large, not well-formed, or with a DTD. */
xmlDoc *xgw_xml_read(const char *data, size_t len, size_t max_bytes, const char **why);

/** True when n is an element named name (NULL: any) in namespace ns. */
bool xgw_xml_is(const xmlNode *n, const char *ns, const char *name);

/** The first child element of n named name in ns, or NULL. */
xmlNode *xgw_xml_child(const xmlNode *n, const char *ns, const char *name);

/** The text content of n (g_free), with surrounding white space removed when trim is set; at
 * most max bytes (NULL when longer, or not valid UTF-8). */
char *xgw_xml_text(const xmlNode *n, size_t max, bool trim);

/** The xml:lang in force on n (its own or an ancestor's), or NULL; points into the tree. */
const char *xgw_xml_lang(const xmlNode *n);

#endif
