/*
 * xhtml.h — rich text between SIP (text/html bodies) and XMPP (XEP-0071 XHTML-IM).
 *
 * Both ways the markup is rebuilt from a whitelist, XEP-0071's recommended profile (§7, and its
 * security advice in §9): a blockquote br cite em img li ol p span strong ul, with style on
 * each, href on a, alt height src width on img. Links keep only http, https, mailto, xmpp, sip,
 * sips and tel targets; a style with "url(" or "expression" is dropped. Other elements give up
 * their markup but keep their text, except script, style, head, title, object, embed, iframe,
 * applet, form and noscript, which are dropped with their content. Deeper than
 * XGW_XHTML_MAX_DEPTH elements, only text is kept.
 *
 * HTML from SIP is parsed with libxml2's HTML parser (no network, reports off), at most the
 * size the caller checked.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_XHTML_H
#define XMPPGW_XHTML_H

#include "xml_node.h"

#include <stddef.h>

#define XGW_NS_XHTML_IM     "http://jabber.org/protocol/xhtml-im"
#define XGW_NS_XHTML        "http://www.w3.org/1999/xhtml"
#define XGW_XHTML_MAX_DEPTH 32

/** <body xmlns='http://www.w3.org/1999/xhtml'> made from an HTML document or fragment; NULL
 * when libxml2 makes nothing of it. */
struct xmpp_node *xgw_xhtml_from_html(const char *html, size_t len);

/** A whitelisted copy of an XHTML-IM <body/> (any element: its children are what counts). */
struct xmpp_node *xgw_xhtml_sanitize(const struct xmpp_node *body);

/** The plain text of a (sanitized) XHTML body: text, a line break for br and between blocks. */
char *xgw_xhtml_text(const struct xmpp_node *body);

/** A (sanitized) XHTML body as an HTML document for a SIP text/html body (g_free). */
char *xgw_xhtml_to_html(const struct xmpp_node *body);

#endif
