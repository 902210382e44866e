/* Unit tests for the XMPP gateway's element trees and errors (plugins/xmppgw: xml_node,
 * errors): the serializer's round trip through the stream parser with escapes, namespaces,
 * xml:lang and mixed content; builders that refuse what XML cannot carry; stream errors (RFC
 * 6120 §4.9) and stanza errors (§8.3) as built and as read back. */
#include "errors.h"
#include "ns.h"
#include "xml_node.h"
#include "xml_stream.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define S2S_HEADER                                                                                 \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "                                   \
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>"

/* parse(serialize(tree)) == tree, with escapes, namespaces, xml:lang and mixed content. */
static void serializer_round_trip(void)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    g_assert_cmpint(xmpp_node_set_attr(m, "to", "juliet@jabber.org/b\"a'l<c>o&n\ty\r\n"), ==, 0);
    g_assert_cmpint(xmpp_node_set_attr_ns(m, XMPP_NS_XML, "lang", "en"), ==, 0);
    g_assert_cmpint(xmpp_node_set_attr_ns(m, "urn:p", "x", "1"), ==, 0);
    g_assert_cmpint(xmpp_node_set_attr_ns(m, "urn:q", "x", "2"), ==, 0);
    g_assert_cmpint(xmpp_node_set_attr_ns(m, "urn:p", "y", "3"), ==, 0);
    struct xmpp_node *body = xmpp_node_add_element(m, XMPP_NS_SERVER, "body");
    g_assert_cmpint(xmpp_node_add_text(body, "a < b && c > d ]]> \r\n\t'\"", -1), ==, 0);
    struct xmpp_node *html =
        xmpp_node_add_element(m, "http://jabber.org/protocol/xhtml-im", "html");
    struct xmpp_node *hb = xmpp_node_add_element(html, "http://www.w3.org/1999/xhtml", "body");
    xmpp_node_add_text(hb, "one ", -1);
    xmpp_node_add_text(xmpp_node_add_element(hb, "http://www.w3.org/1999/xhtml", "em"), "two", -1);
    xmpp_node_add_text(hb, " three", -1);
    xmpp_node_add_element(m, NULL, "nons");
    xmpp_node_add_element(m, XMPP_NS_STREAMS, "features");
    xmpp_node_add_element(m, XMPP_NS_DIALBACK, "result");

    struct xmpp_stream_header ours = {.content_ns = XMPP_NS_SERVER, .dialback = true};
    struct xmpp_scope scope = xmpp_stream_scope(&ours);
    g_autofree char *xml = xmpp_node_to_string(m, &scope);
    g_assert_cmpstr(xml, ==,
                    "<message to='juliet@jabber.org/b&quot;a&apos;l&lt;c&gt;o&amp;n&#9;y&#13;&#10;'"
                    " xml:lang='en' xmlns:a0='urn:p' a0:x='1' xmlns:a1='urn:q' a1:x='2' a0:y='3'>"
                    "<body>a &lt; b &amp;&amp; c &gt; d ]]&gt; &#13;\n\t'\"</body>"
                    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
                    "xmlns='http://www.w3.org/1999/xhtml'>one <em>two</em> three</body></html>"
                    "<nons xmlns=''/><stream:features/><db:result/></message>");
    g_autofree char *header = xmpp_stream_header_write(&ours);
    g_autofree char *doc = g_strconcat(header, xml, NULL);
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(XMPP_NS_SERVER, NULL);
    g_assert_cmpint(xmpp_stream_feed(p, doc, strlen(doc)), ==, 0);
    struct xmpp_stream_event ev;
    g_assert_true(xmpp_stream_next(p, &ev));
    xmpp_stream_event_clear(&ev);
    g_assert_true(xmpp_stream_next(p, &ev));
    g_assert_cmpint(ev.type, ==, XMPP_STREAM_EV_STANZA);
    g_assert_true(xmpp_node_equal(ev.stanza, m));
    struct xmpp_node *copy = xmpp_node_copy(m);
    g_assert_true(xmpp_node_equal(copy, ev.stanza));
    xmpp_node_set_attr(copy, "to", "x");
    g_assert_false(xmpp_node_equal(copy, ev.stanza));
    xmpp_node_free(copy);
    xmpp_stream_event_clear(&ev);
    xmpp_stream_parser_free(p);
    /* with no scope everything is declared */
    g_autofree char *bare = xmpp_node_to_string(xmpp_node_child(m, XMPP_NS_SERVER, "body"), NULL);
    g_assert_true(g_str_has_prefix(bare, "<body xmlns='jabber:server'>"));
    xmpp_node_free(m);
}

static void builders_refuse(void)
{
    struct xmpp_node *n = xmpp_node_new(XMPP_NS_SERVER, "message");
    g_assert_cmpint(xmpp_node_add_text(n, "bell\x07", -1), ==, -EINVAL);
    g_assert_cmpint(xmpp_node_add_text(n, "nul", 4), ==, -EINVAL);
    g_assert_cmpint(xmpp_node_add_text(n, "\xef\xbf\xbe", -1), ==, -EINVAL); /* U+FFFE */
    g_assert_cmpint(xmpp_node_add_text(n, "\xc3\x28", -1), ==, -EINVAL);
    g_assert_cmpint(xmpp_node_set_attr(n, "to", "a\x0b"), ==, -EINVAL);
    g_assert_cmpint(xmpp_node_set_attr(n, "xmlns", "urn:x"), ==, -EINVAL);
    g_assert_cmpint(xmpp_node_set_attr(n, "a:b", "1"), ==, -EINVAL);
    g_assert_cmpint(xmpp_node_set_attr_ns(n, XMPP_NS_XMLNS, "p", "urn:x"), ==, -EINVAL);
    g_assert_null(n->children);
    g_assert_null(n->attrs);
    g_assert_null(xmpp_node_new(NULL, "1a"));
    g_assert_null(xmpp_node_new(NULL, "a:b"));
    g_assert_null(xmpp_node_new(NULL, ""));
    g_assert_null(xmpp_node_new(XMPP_NS_XML, "a"));
    g_assert_null(xmpp_node_add_element(n, NULL, "a b"));
    g_assert_null(n->children);
    g_assert_cmpint(xmpp_node_add_text(n, "tab\tnewline\ncr\r", -1), ==, 0);
    /* a replaced attribute keeps its place */
    xmpp_node_set_attr(n, "a", "1");
    xmpp_node_set_attr(n, "b", "2");
    xmpp_node_set_attr(n, "a", "3");
    g_autofree char *xml = xmpp_node_to_string(n, NULL);
    g_assert_cmpstr(xml, ==,
                    "<message xmlns='jabber:server' a='3' b='2'>tab\tnewline\ncr&#13;"
                    "</message>");
    xmpp_node_remove_attr(n, "a");
    g_assert_null(xmpp_node_attr(n, "a"));
    xmpp_node_free(n);
}

static void stream_errors(void)
{
    struct xmpp_scope scope = {XMPP_NS_SERVER, true, false};
    struct xmpp_node *e = xmpp_stream_error_new(XMPP_STREAM_ERR_POLICY_VIOLATION, "too <big>");
    g_autofree char *xml = xmpp_node_to_string(e, &scope);
    g_assert_cmpstr(xml, ==,
                    "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                    "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>too "
                    "&lt;big&gt;</text></stream:error>");
    enum xmpp_stream_condition cond;
    g_autofree char *text = NULL;
    g_assert_true(xmpp_stream_error_read(e, &cond, &text));
    g_assert_cmpint(cond, ==, XMPP_STREAM_ERR_POLICY_VIOLATION);
    g_assert_cmpstr(text, ==, "too <big>");
    xmpp_node_free(e);
    for (int i = 0; i < XMPP_STREAM_ERR_COUNT; i++) {
        e = xmpp_stream_error_new((enum xmpp_stream_condition)i, NULL);
        g_assert_true(xmpp_stream_error_read(e, &cond, NULL));
        g_assert_cmpint(cond, ==, i);
        xmpp_node_free(e);
    }
    g_assert_cmpstr(xmpp_stream_condition_name(XMPP_STREAM_ERR_RESTRICTED_XML), ==,
                    "restricted-xml");
    g_assert_cmpstr(xmpp_stream_condition_name(XMPP_STREAM_ERR_UNSUPPORTED_VERSION), ==,
                    "unsupported-version");
}

static void stanza_errors(void)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", "romeo@jabber.org/balcony");
    xmpp_node_set_attr(m, "to", "sipuser@example.com");
    xmpp_node_set_attr(m, "id", "m1");
    xmpp_node_set_attr(m, "type", "chat");
    xmpp_node_add_text(xmpp_node_add_element(m, XMPP_NS_SERVER, "body"), "hi", -1);
    struct xmpp_node *r =
        xmpp_stanza_error_reply(m, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "no such user");
    struct xmpp_scope scope = {XMPP_NS_SERVER, true, true};
    g_autofree char *xml = xmpp_node_to_string(r, &scope);
    g_assert_cmpstr(xml, ==,
                    "<message to='romeo@jabber.org/balcony' from='sipuser@example.com' id='m1' "
                    "type='error'><error type='cancel'><service-unavailable "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no such user</text>"
                    "</error></message>");
    /* never an error in answer to an error */
    g_assert_null(xmpp_stanza_error_reply(r, XMPP_STANZA_ERR_BAD_REQUEST, NULL));
    enum xmpp_stanza_condition cond;
    enum xmpp_error_type type;
    g_autofree char *text = NULL;
    g_assert_true(xmpp_stanza_error_read(r, &cond, &type, &text));
    g_assert_cmpint(cond, ==, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE);
    g_assert_cmpint(type, ==, XMPP_ERROR_CANCEL);
    g_assert_cmpstr(text, ==, "no such user");
    g_assert_false(xmpp_stanza_error_read(m, &cond, &type, NULL));
    xmpp_node_free(r);
    /* the usual type of each condition (RFC 6120 §8.3.3) */
    struct {
        enum xmpp_stanza_condition cond;
        const char *name, *type;
    } table[] = {
        {XMPP_STANZA_ERR_BAD_REQUEST, "bad-request", "modify"},
        {XMPP_STANZA_ERR_FORBIDDEN, "forbidden", "auth"},
        {XMPP_STANZA_ERR_ITEM_NOT_FOUND, "item-not-found", "cancel"},
        {XMPP_STANZA_ERR_JID_MALFORMED, "jid-malformed", "modify"},
        {XMPP_STANZA_ERR_NOT_AUTHORIZED, "not-authorized", "auth"},
        {XMPP_STANZA_ERR_RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait"},
        {XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait"},
        {XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "service-unavailable", "cancel"},
        {XMPP_STANZA_ERR_UNEXPECTED_REQUEST, "unexpected-request", "wait"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        g_assert_cmpstr(xmpp_stanza_condition_name(table[i].cond), ==, table[i].name);
        g_assert_cmpstr(xmpp_error_type_name(xmpp_stanza_condition_type(table[i].cond)), ==,
                        table[i].type);
    }
    /* every condition reads back as itself; an unknown one as undefined-condition */
    for (int i = 0; i < XMPP_STANZA_ERR_COUNT; i++) {
        r = xmpp_stanza_error_reply(m, (enum xmpp_stanza_condition)i, NULL);
        g_assert_true(xmpp_stanza_error_read(r, &cond, &type, NULL));
        g_assert_cmpint(cond, ==, i);
        g_assert_cmpint(type, ==, xmpp_stanza_condition_type(cond));
        xmpp_node_free(r);
    }
    xmpp_node_free(m);
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(NULL, NULL);
    const char *doc = S2S_HEADER "<iq type='error' id='1'><error type='wait'><x "
                                 "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
    xmpp_stream_feed(p, doc, strlen(doc));
    struct xmpp_stream_event ev;
    xmpp_stream_next(p, &ev);
    xmpp_stream_event_clear(&ev);
    g_assert_true(xmpp_stream_next(p, &ev));
    g_assert_true(xmpp_stanza_error_read(ev.stanza, &cond, &type, NULL));
    g_assert_cmpint(cond, ==, XMPP_STANZA_ERR_UNDEFINED_CONDITION);
    g_assert_cmpint(type, ==, XMPP_ERROR_WAIT);
    xmpp_stream_event_clear(&ev);
    xmpp_stream_parser_free(p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmpp-node/serializer-round-trip", serializer_round_trip);
    g_test_add_func("/xmpp-node/builders-refuse", builders_refuse);
    g_test_add_func("/xmpp-node/stream-errors", stream_errors);
    g_test_add_func("/xmpp-node/stanza-errors", stanza_errors);
    return g_test_run();
}
