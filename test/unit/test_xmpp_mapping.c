/* Unit tests for the XMPP gateway's mapping, pure parts (plugins/xmppgw): RFC 7247 §7 error
 * tables row by row, message/cpim bodies (RFC 3862 §6 example), is-composing (RFC 3994 §6
 * examples, our documents against its schema) and XEP-0085 chat states, SIP MESSAGE bodies ->
 * XMPP messages and back in RFC 7572's examples (UTF-8 byte for byte, charsets, CPIM, HTML and
 * XHTML-IM), XEP-0184 receipts, presence stanzas, and PIDF built (validated against the RFC 3863
 * / RFC 4479 / RFC 4480 schemas in test/data/xmppgw) and read (RFC 3863 §6, RFC 4480 and
 * client-shaped documents). */
#include "chatstate.h"
#include "cpim.h"
#include "errmap.h"
#include "message.h"
#include "ns.h"
#include "pidf.h"
#include "presence.h"
#include "xhtml.h"

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <string.h>

#define SERVER_SCOPE (&(struct xmpp_scope){.default_ns = XMPP_NS_SERVER})

static char *xml_of(const struct xmpp_node *n)
{
    return xmpp_node_to_string(n, SERVER_SCOPE);
}

/* ------------------------------------------------------------ RFC 7247 §7 --- */

static void errmap_xmpp_to_sip(void)
{
    /* RFC 7247 §7.1, one row each (the first code where the table offers two) */
    static const struct {
        enum xmpp_stanza_condition cond;
        int status;
    } rows[] = {
        {XMPP_STANZA_ERR_BAD_REQUEST, 400},
        {XMPP_STANZA_ERR_CONFLICT, 400},
        {XMPP_STANZA_ERR_FEATURE_NOT_IMPLEMENTED, 501},
        {XMPP_STANZA_ERR_FORBIDDEN, 403},
        {XMPP_STANZA_ERR_GONE, 410},
        {XMPP_STANZA_ERR_INTERNAL_SERVER_ERROR, 500},
        {XMPP_STANZA_ERR_ITEM_NOT_FOUND, 404},
        {XMPP_STANZA_ERR_JID_MALFORMED, 484},
        {XMPP_STANZA_ERR_NOT_ACCEPTABLE, 406},
        {XMPP_STANZA_ERR_NOT_ALLOWED, 405},
        {XMPP_STANZA_ERR_NOT_AUTHORIZED, 401},
        {XMPP_STANZA_ERR_POLICY_VIOLATION, 403},
        {XMPP_STANZA_ERR_RECIPIENT_UNAVAILABLE, 480},
        {XMPP_STANZA_ERR_REDIRECT, 302},
        {XMPP_STANZA_ERR_REGISTRATION_REQUIRED, 400},
        {XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND, 404},
        {XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT, 408},
        {XMPP_STANZA_ERR_RESOURCE_CONSTRAINT, 500},
        {XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, 503},
        {XMPP_STANZA_ERR_SUBSCRIPTION_REQUIRED, 400},
        {XMPP_STANZA_ERR_UNDEFINED_CONDITION, 400},
        {XMPP_STANZA_ERR_UNEXPECTED_REQUEST, 491},
    };
    g_assert_cmpuint(G_N_ELEMENTS(rows), ==, XMPP_STANZA_ERR_COUNT);
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        const char *reason = NULL;
        g_test_message("%s", xmpp_stanza_condition_name(rows[i].cond));
        g_assert_cmpint(xgw_sip_status_for(rows[i].cond, &reason), ==, rows[i].status);
        g_assert_nonnull(reason);
    }
}

static void errmap_sip_to_xmpp(void)
{
    /* RFC 7247 §7.2, its 3xx, 4xx, 5xx and 6xx tables, one row each */
    static const struct {
        int status;
        const char *cond;
    } rows[] = {
        {300, "redirect"},
        {301, "gone"},
        {302, "redirect"},
        {305, "redirect"},
        {380, "redirect"},
        {400, "bad-request"},
        {401, "not-authorized"},
        {402, "bad-request"},
        {403, "forbidden"},
        {404, "item-not-found"},
        {405, "not-allowed"},
        {406, "not-acceptable"},
        {407, "not-authorized"},
        {408, "remote-server-timeout"},
        {410, "gone"},
        {413, "policy-violation"},
        {414, "policy-violation"},
        {415, "bad-request"},
        {416, "jid-malformed"},
        {420, "bad-request"},
        {421, "bad-request"},
        {423, "resource-constraint"},
        {480, "recipient-unavailable"},
        {481, "item-not-found"},
        {482, "not-acceptable"},
        {483, "not-acceptable"},
        {484, "item-not-found"},
        {485, "item-not-found"},
        {486, "recipient-unavailable"},
        {487, "service-unavailable"},
        {488, "not-acceptable"},
        {489, "bad-request"},
        {491, "unexpected-request"},
        {493, "bad-request"},
        {500, "internal-server-error"},
        {501, "feature-not-implemented"},
        {502, "remote-server-not-found"},
        {503, "service-unavailable"},
        {504, "remote-server-timeout"},
        {505, "not-acceptable"},
        {513, "policy-violation"},
        {600, "recipient-unavailable"},
        {603, "forbidden"},
        {604, "item-not-found"},
        {606, "not-acceptable"},
        /* codes in no row: by class */
        {399, "redirect"},
        {422, "bad-request"},
        {580, "internal-server-error"},
        {699, "service-unavailable"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_test_message("%d", rows[i].status);
        g_assert_cmpstr(xmpp_stanza_condition_name(xgw_condition_for(rows[i].status)), ==,
                        rows[i].cond);
    }
}

/* ---------------------------------------------------------------- CPIM --- */

static void cpim_rfc3862_example(void)
{
    /* RFC 3862 §6's example message */
    const char *msg = "From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
                      "To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
                      "DateTime: 2000-12-13T13:40:00-08:00\r\n"
                      "Subject: the weather will be fine today\r\n"
                      "Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n"
                      "NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
                      "Require: MyFeatures.VitalMessageOption\r\n"
                      "MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
                      "MyFeatures.WackyMessageOption: Use-silly-font\r\n"
                      "\r\n"
                      "Content-type: text/xml; charset=utf-8\r\n"
                      "Content-ID: <1234567890@foo.com>\r\n"
                      "\r\n"
                      "<body>\r\nHere is the text of my message.\r\n</body>\r\n";
    struct xgw_cpim c;
    const char *why = NULL;
    g_assert_cmpint(xgw_cpim_parse(msg, strlen(msg), &c, &why), ==, 0);
    g_assert_cmpuint(c.headers->len, ==, 9);
    g_assert_cmpstr(xgw_cpim_header(&c, "from"), ==, "MR SANDERS <im:piglet@100akerwood.com>");
    g_assert_cmpstr(xgw_cpim_header(&c, "Subject"), ==, "the weather will be fine today");
    g_assert_cmpstr(xgw_cpim_content_header(&c, "Content-Type"), ==, "text/xml; charset=utf-8");
    g_assert_cmpstr(c.body, ==, "<body>\r\nHere is the text of my message.\r\n</body>\r\n");
    g_autofree char *uri = xgw_cpim_address_uri(xgw_cpim_header(&c, "From"));
    g_assert_cmpstr(uri, ==, "im:piglet@100akerwood.com");
    xgw_cpim_clear(&c);

    /* what we write parses back */
    g_autoptr(GString) out =
        xgw_cpim_format("sip:romeo@xmpp.example", "sip:juliet@sip.example", "2024-05-01T12:00:00Z",
                        "text/plain;charset=utf-8", "hi\r\nthere", 9);
    g_assert_cmpint(xgw_cpim_parse(out->str, out->len, &c, &why), ==, 0);
    g_autofree char *to = xgw_cpim_address_uri(xgw_cpim_header(&c, "To"));
    g_assert_cmpstr(to, ==, "sip:juliet@sip.example");
    g_assert_cmpuint(c.body_len, ==, 9);
    g_assert_cmpint(memcmp(c.body, "hi\r\nthere", 9), ==, 0);
    xgw_cpim_clear(&c);
}

static void cpim_refused(void)
{
    const char *bad[] = {
        "",
        "From: <sip:a@b>\r\n",                             /* no blank line */
        "From: <sip:a@b>\r\n\r\nContent-Type: text/plain", /* content headers unterminated */
        "\r\nContent-Type: text/plain\r\n\r\nx",           /* no message headers */
        "no colon here\r\n\r\n\r\n",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct xgw_cpim c;
        const char *why = NULL;
        g_assert_cmpint(xgw_cpim_parse(bad[i], strlen(bad[i]), &c, &why), <, 0);
        g_assert_nonnull(why);
    }
    GString *many = g_string_new(NULL);
    for (int i = 0; i <= XGW_CPIM_MAX_HEADERS; i++)
        g_string_append_printf(many, "X-%d: v\r\n", i);
    g_string_append(many, "\r\n\r\n");
    struct xgw_cpim c;
    const char *why = NULL;
    g_assert_cmpint(xgw_cpim_parse(many->str, many->len, &c, &why), <, 0);
    g_assert_cmpstr(why, ==, "too many headers");
    g_string_free(many, TRUE);
}

/* ------------------------------------------------------- is-composing --- */

static bool valid_against(const char *xsd, const char *doc, size_t len)
{
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
    xmlSchemaPtr schema = xmlSchemaParse(pc);
    g_assert_nonnull(schema);
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    xmlDocPtr d = xmlReadMemory(doc, (int)len, "doc.xml", NULL, XML_PARSE_NONET);
    bool ok = d && xmlSchemaValidateDoc(vc, d) == 0;
    xmlFreeDoc(d);
    xmlSchemaFreeValidCtxt(vc);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pc);
    return ok;
}

static void composing_rfc3994(void)
{
    /* RFC 3994 §6 examples */
    const char *idle =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"\n"
        "  xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
        "  xsi:schemaLocation=\"urn:ietf:params:xml:ns:im-composing iscomposing.xsd\">\n"
        "  <state>idle</state>\n"
        "  <lastactive>2003-01-27T10:43:00Z</lastactive>\n"
        "  <contenttype>audio</contenttype>\n"
        "</isComposing>\n";
    const char *active = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\n"
                         "  <state>active</state>\n"
                         "  <contenttype>text</contenttype>\n"
                         "  <refresh>90</refresh>\n"
                         "</isComposing>\n";
    struct xgw_composing c;
    const char *why = NULL;
    g_assert_cmpint(xgw_composing_parse(idle, strlen(idle), &c, &why), ==, 0);
    g_assert_false(c.active);
    g_assert_cmpstr(c.content_type, ==, "audio");
    g_assert_cmpint(xgw_chat_state_from_composing(c.active), ==, XGW_CHAT_PAUSED);
    xgw_composing_clear(&c);
    g_assert_cmpint(xgw_composing_parse(active, strlen(active), &c, &why), ==, 0);
    g_assert_true(c.active);
    g_assert_cmpuint(c.refresh, ==, 90);
    g_assert_cmpint(xgw_chat_state_from_composing(c.active), ==, XGW_CHAT_COMPOSING);
    xgw_composing_clear(&c);

    /* ours: valid against the RFC's schema, and read back */
    for (int a = 0; a < 2; a++) {
        g_autofree char *doc =
            xgw_composing_format(a, XGW_COMPOSING_REFRESH, a ? "2024-05-01T12:00:00Z" : NULL);
        g_assert_true(valid_against(SCHEMA_DIR "/im-iscomposing.xsd", doc, strlen(doc)));
        g_assert_cmpint(xgw_composing_parse(doc, strlen(doc), &c, &why), ==, 0);
        g_assert_cmpint(c.active, ==, a);
        g_assert_cmpuint(c.refresh, ==, a ? XGW_COMPOSING_REFRESH : 0);
        xgw_composing_clear(&c);
    }
}

static void composing_refused(void)
{
    const char *bad[] = {
        "",
        "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'/>", /* no state */
        "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>typing</state>"
        "</isComposing>",
        "<isComposing><state>active</state></isComposing>", /* no namespace */
        "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>active</state>"
        "<refresh>0</refresh></isComposing>",
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol1 "
        "'&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]>"
        "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>&lol1;</state>"
        "</isComposing>",
        "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>active",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct xgw_composing c;
        const char *why = NULL;
        g_test_message("%u", i);
        g_assert_cmpint(xgw_composing_parse(bad[i], strlen(bad[i]), &c, &why), <, 0);
        g_assert_nonnull(why);
    }
    g_autofree char *big = g_strnfill(XGW_COMPOSING_MAX_BYTES + 1, ' ');
    struct xgw_composing c;
    const char *why = NULL;
    g_assert_cmpint(xgw_composing_parse(big, strlen(big), &c, &why), <, 0);
    g_assert_cmpstr(why, ==, "document too large");
}

static void chat_states(void)
{
    static const struct {
        enum xgw_chat_state state;
        bool send, active;
    } rows[] = {
        {XGW_CHAT_NONE, false, false},    {XGW_CHAT_ACTIVE, true, false},
        {XGW_CHAT_COMPOSING, true, true}, {XGW_CHAT_PAUSED, true, false},
        {XGW_CHAT_INACTIVE, true, false}, {XGW_CHAT_GONE, true, false},
    };
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        bool active = !rows[i].active;
        g_assert_cmpint(xgw_chat_state_to_composing(rows[i].state, &active), ==, rows[i].send);
        if (rows[i].send)
            g_assert_cmpint(active, ==, rows[i].active);
        struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
        xgw_chat_state_add(m, rows[i].state);
        g_assert_cmpint(xgw_chat_state_of(m), ==, rows[i].state);
        xmpp_node_free(m);
    }
}

/* ------------------------------------------------------ SIP -> XMPP --- */

static struct xmpp_node *from_sip(const char *type, const char *body, size_t len, int *status)
{
    struct xgw_sip_content c;
    const char *why = NULL;
    *status = xgw_sip_content_decode(type, body, len, &c, &why);
    if (*status) {
        g_assert_nonnull(why);
        return NULL;
    }
    struct xmpp_node *m = xgw_message_from_sip("romeo@sip.example", "juliet@xmpp.example", "m1", &c,
                                               NULL, NULL, XGW_CHAT_NONE);
    xgw_sip_content_clear(&c);
    return m;
}

static void sip_to_xmpp_rfc7572(void)
{
    /* RFC 7572 §4's example: a text/plain MESSAGE and the <message/> it becomes */
    const char *body = "Art thou not Romeo, and a Montague?";
    int status;
    struct xmpp_node *m = from_sip("text/plain", body, strlen(body), &status);
    g_autofree char *xml = xml_of(m);
    g_assert_cmpstr(xml, ==,
                    "<message from='romeo@sip.example' to='juliet@xmpp.example' type='chat' "
                    "id='m1'><body>Art thou not Romeo, and a Montague?</body></message>");
    xmpp_node_free(m);
}

static void sip_to_xmpp_utf8(void)
{
    /* UTF-8 (Greek, CJK, an emoji, CR LF, a combining mark not composed) byte for byte */
    const char *body = "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 "
                       "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80\r\ne\xcc\x81 <&>";
    int status;
    struct xmpp_node *m = from_sip("text/plain; charset=UTF-8", body, strlen(body), &status);
    g_assert_nonnull(m);
    g_autofree char *text = xmpp_node_text(xmpp_node_child(m, XMPP_NS_SERVER, "body"));
    g_assert_cmpstr(text, ==, body);
    /* and on the wire the CR survives XML's line-end normalization */
    g_autofree char *xml = xml_of(m);
    g_assert_nonnull(strstr(xml, "&#13;\n"));
    xmpp_node_free(m);

    /* another charset is converted: ISO-8859-1 "Grüße" */
    m = from_sip("text/plain;charset=\"ISO-8859-1\"",
                 "Gr\xfc\xdf"
                 "e",
                 5, &status);
    g_assert_nonnull(m);
    g_autofree char *conv = xmpp_node_text(xmpp_node_child(m, XMPP_NS_SERVER, "body"));
    g_assert_cmpstr(conv, ==,
                    "Gr\xc3\xbc\xc3\x9f"
                    "e");
    xmpp_node_free(m);
}

static void sip_content_refused(void)
{
    static const struct {
        const char *type, *body;
        int status;
    } rows[] = {
        {"text/plain", "caf\xe9", 400}, /* Latin-1 bytes said to be UTF-8 */
        {"text/plain;charset=x-no-such-charset", "hi", 415},
        {"image/png", "\x89PNG", 415},
        {"application/octet-stream", "x", 415},
        {"text/plain", "bell \x07", 400},             /* XML cannot carry it */
        {NULL, "hi", 400},                            /* no Content-Type */
        {"message/cpim", "From: <sip:a@b>\r\n", 400}, /* bad CPIM */
        {"message/cpim", "From: <sip:a@b>\r\n\r\nContent-Type: image/png\r\n\r\nx", 415},
        {"application/im-iscomposing+xml", "<x/>", 400},
        {"message/cpim", "From: <sip:a@b>\r\n\r\nContent-Type: \r\n\r\nx", 400}, /* empty */
        {"", "hi", 400},
    };
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        int status;
        g_test_message("%u", i);
        g_assert_null(from_sip(rows[i].type, rows[i].body, strlen(rows[i].body), &status));
        g_assert_cmpint(status, ==, rows[i].status);
    }
    g_autofree char *big = g_strnfill(XGW_MESSAGE_MAX_BYTES + 1, 'a');
    int status;
    g_assert_null(from_sip("text/plain", big, strlen(big), &status));
    g_assert_cmpint(status, ==, 413);
}

static void sip_to_xmpp_cpim(void)
{
    const char *body = "From: <sip:romeo@sip.example;gr=laptop>\r\n"
                       "To: <sip:juliet@xmpp.example>\r\n"
                       "DateTime: 2024-05-01T12:00:00Z\r\n"
                       "Subject: balcony\r\n"
                       "\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "\r\n"
                       "Wherefore art thou \xe2\x80\x94 Romeo?";
    struct xgw_sip_content c;
    const char *why = NULL;
    g_assert_cmpint(xgw_sip_content_decode("message/cpim", body, strlen(body), &c, &why), ==, 0);
    g_assert_cmpint(c.kind, ==, XGW_CONTENT_TEXT);
    g_assert_cmpstr(c.text, ==, "Wherefore art thou \xe2\x80\x94 Romeo?");
    g_assert_cmpstr(c.cpim_from, ==, "sip:romeo@sip.example;gr=laptop");
    g_assert_cmpstr(c.cpim_to, ==, "sip:juliet@xmpp.example");
    struct xmpp_node *m = xgw_message_from_sip("romeo@sip.example/laptop", "juliet@xmpp.example",
                                               NULL, &c, NULL, "en", XGW_CHAT_ACTIVE);
    g_autofree char *xml = xml_of(m);
    g_assert_cmpstr(xml, ==,
                    "<message from='romeo@sip.example/laptop' to='juliet@xmpp.example' "
                    "type='chat' xml:lang='en'><subject>balcony</subject><body>Wherefore art "
                    "thou \xe2\x80\x94 Romeo?</body><active "
                    "xmlns='http://jabber.org/protocol/chatstates'/></message>");
    xmpp_node_free(m);
    xgw_sip_content_clear(&c);

    /* is-composing inside CPIM becomes a standalone chat state */
    const char *comp = "From: <sip:romeo@sip.example>\r\nTo: <sip:juliet@xmpp.example>\r\n\r\n"
                       "Content-Type: application/im-iscomposing+xml\r\n\r\n"
                       "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'>"
                       "<state>active</state><refresh>60</refresh></isComposing>";
    int status;
    m = from_sip("message/cpim", comp, strlen(comp), &status);
    g_autofree char *xml2 = xml_of(m);
    g_assert_cmpstr(xml2, ==,
                    "<message from='romeo@sip.example' to='juliet@xmpp.example' type='chat' "
                    "id='m1'><composing xmlns='http://jabber.org/protocol/chatstates'/>"
                    "</message>");
    xmpp_node_free(m);
}

static void sip_to_xmpp_html(void)
{
    const char *html = "<html><head><title>t</title><script>alert(1)</script></head><body>"
                       "<p>Good <b>night</b>, <strong>good</strong> night!</p>"
                       "<p><a href=\"javascript:alert(1)\" onclick=\"x()\">parting</a> is "
                       "<a href=\"https://example.com/\">such</a><br>sweet "
                       "<span style=\"color: red\">sorrow</span>"
                       "<img src=\"data:image/png;base64,AA\" alt=\"rose\"></p>"
                       "<div onmouseover=\"x()\">&eacute;t&eacute;</div></body></html>";
    int status;
    struct xmpp_node *m = from_sip("text/html; charset=utf-8", html, strlen(html), &status);
    g_assert_nonnull(m);
    g_autofree char *text = xmpp_node_text(xmpp_node_child(m, XMPP_NS_SERVER, "body"));
    g_assert_cmpstr(text, ==,
                    "Good night, good night!\nparting is such\nsweet sorrow\n\xc3\xa9t\xc3\xa9");
    g_autofree char *xhtml =
        xmpp_node_to_string(xmpp_node_child(m, XGW_NS_XHTML_IM, "html"), SERVER_SCOPE);
    g_assert_cmpstr(xhtml, ==,
                    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
                    "xmlns='http://www.w3.org/1999/xhtml'><p>Good night, <strong>good</strong> "
                    "night!</p><p><a>parting</a> is <a href='https://example.com/'>such</a><br/>"
                    "sweet <span style='color: red'>sorrow</span><img alt='rose'/></p>"
                    "\xc3\xa9t\xc3\xa9</body></html>");
    xmpp_node_free(m);
}

/* ------------------------------------------------------ XMPP -> SIP --- */

/* libxml2 DOM -> our tree: a tiny reader for the test stanzas */
static struct xmpp_node *copy_dom(xmlNodePtr n)
{
    struct xmpp_node *e =
        xmpp_node_new(n->ns ? (const char *)n->ns->href : NULL, (const char *)n->name);
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
        xmpp_node_set_attr_ns(e, a->ns ? (const char *)a->ns->href : NULL, (const char *)a->name,
                              (const char *)v);
        xmlFree(v);
    }
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            xmpp_node_append(e, copy_dom(c));
        else if (c->type == XML_TEXT_NODE)
            xmpp_node_add_text(e, (const char *)c->content, -1);
    }
    return e;
}

static struct xmpp_node *parse_stanza(const char *xml)
{
    xmlDocPtr d = xmlReadMemory(xml, (int)strlen(xml), "s.xml", NULL, XML_PARSE_NONET);
    g_assert_nonnull(d);
    struct xmpp_node *out = copy_dom(xmlDocGetRootElement(d));
    xmlFreeDoc(d);
    return out;
}

static void xmpp_to_sip_rfc7572(void)
{
    /* RFC 7572 §5's example: juliet answers from a resource; the body, in the stanza's
     * language among others, goes as text/plain (and wrapped in CPIM) */
    struct xmpp_node *m =
        parse_stanza("<message xmlns='jabber:server' from='juliet@xmpp.example/yn0cl4bnw0yr3vym'"
                     " to='romeo@sip.example' type='chat' id='j1' xml:lang='en'>"
                     "<body xml:lang='fr'>Ni l'un ni l'autre</body>"
                     "<body>Neither, fair saint, if either thee dislike.</body>"
                     "<subject>Re: names\n</subject>"
                     "<request xmlns='urn:xmpp:receipts'/><active "
                     "xmlns='http://jabber.org/protocol/chatstates'/></message>");
    struct xgw_xmpp_content c;
    xgw_xmpp_content_read(m, &c);
    g_assert_cmpstr(c.body, ==, "Neither, fair saint, if either thee dislike.");
    g_assert_cmpstr(c.subject, ==, "Re: names ");
    g_assert_cmpstr(c.lang, ==, "en");
    g_assert_true(c.receipt_request);
    g_assert_cmpint(c.state, ==, XGW_CHAT_ACTIVE);
    g_assert_true(xgw_xmpp_content_has_text(&c));
    g_autofree char *type = NULL;
    g_autoptr(GString) plain = xgw_sip_body_for(&c, false, NULL, NULL, NULL, &type);
    g_assert_cmpstr(type, ==, "text/plain;charset=utf-8");
    g_assert_cmpstr(plain->str, ==, "Neither, fair saint, if either thee dislike.");
    g_autofree char *type2 = NULL;
    g_autoptr(GString) cpim =
        xgw_sip_body_for(&c, true, "sip:juliet@xmpp.example;gr=yn0cl4bnw0yr3vym",
                         "sip:romeo@sip.example", "2024-05-01T12:00:00Z", &type2);
    g_assert_cmpstr(type2, ==, "message/cpim");
    g_assert_cmpstr(cpim->str, ==,
                    "From: <sip:juliet@xmpp.example;gr=yn0cl4bnw0yr3vym>\r\n"
                    "To: <sip:romeo@sip.example>\r\nDateTime: 2024-05-01T12:00:00Z\r\n\r\n"
                    "Content-Type: text/plain;charset=utf-8\r\n\r\n"
                    "Neither, fair saint, if either thee dislike.");
    g_autofree char *headers = xgw_sip_headers_for(&c);
    g_assert_cmpstr(headers, ==, "Subject: Re: names \r\nContent-Language: en\r\n");

    /* XEP-0184's receipt for it */
    struct xmpp_node *r = xgw_receipt_for(m, "r1");
    g_autofree char *rx = xml_of(r);
    g_assert_cmpstr(rx, ==,
                    "<message from='romeo@sip.example' to='juliet@xmpp.example/yn0cl4bnw0yr3vym' "
                    "id='r1' type='chat'><received xmlns='urn:xmpp:receipts' id='j1'/></message>");
    xmpp_node_free(r);
    xgw_xmpp_content_clear(&c);
    xmpp_node_free(m);

    /* a chat state alone has no text to send */
    m = parse_stanza("<message xmlns='jabber:server' from='juliet@xmpp.example/a' "
                     "to='romeo@sip.example' type='chat'><composing "
                     "xmlns='http://jabber.org/protocol/chatstates'/></message>");
    xgw_xmpp_content_read(m, &c);
    g_assert_false(xgw_xmpp_content_has_text(&c));
    g_assert_cmpint(c.state, ==, XGW_CHAT_COMPOSING);
    g_assert_false(c.receipt_request);
    g_assert_null(xgw_sip_headers_for(&c));
    xgw_xmpp_content_clear(&c);
    xmpp_node_free(m);
}

static void xmpp_to_sip_xhtml(void)
{
    /* XEP-0071 §10 shaped message: the XHTML body goes as text/html, sanitized */
    struct xmpp_node *m = parse_stanza(
        "<message xmlns='jabber:server' from='juliet@xmpp.example/b' to='romeo@sip.example'>"
        "<body>O Romeo, Romeo! wherefore art thou Romeo?</body>"
        "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
        "xmlns='http://www.w3.org/1999/xhtml'><p style='font-weight:bold'>O Romeo, Romeo! "
        "<em>wherefore</em> art thou <a href='javascript:x()'>Romeo</a>?</p>"
        "<script>evil()</script><img src='http://example.com/x.png' onerror='x()' "
        "style='background:url(http://e/)'/></body></html></message>");
    struct xgw_xmpp_content c;
    xgw_xmpp_content_read(m, &c);
    g_assert_nonnull(c.xhtml);
    g_autofree char *type = NULL;
    g_autoptr(GString) html = xgw_sip_body_for(&c, false, NULL, NULL, NULL, &type);
    g_assert_cmpstr(type, ==, "text/html;charset=utf-8");
    g_assert_cmpstr(html->str, ==,
                    "<html><body><p style='font-weight:bold'>O Romeo, Romeo! <em>wherefore</em> "
                    "art thou <a>Romeo</a>?</p><img src='http://example.com/x.png'/>"
                    "</body></html>");
    /* and that HTML comes back through the SIP side as the same XHTML-IM body */
    struct xmpp_node *again = xgw_xhtml_from_html(html->str, html->len);
    g_assert_true(xmpp_node_equal(again, c.xhtml));
    g_autofree char *text = xgw_xhtml_text(again);
    g_assert_cmpstr(text, ==, "O Romeo, Romeo! wherefore art thou Romeo?");
    xmpp_node_free(again);
    xgw_xmpp_content_clear(&c);
    xmpp_node_free(m);
}

static void lang_tags(void)
{
    const char *good[] = {"en", "en-US", "zh-Hant-TW", "x-klingon", "i-default"};
    const char *bad[] = {"", "-en", "en-", "en--us", "en_US", "toolongsubtag", "en US", NULL};
    for (guint i = 0; i < G_N_ELEMENTS(good); i++)
        g_assert_true(xgw_lang_tag_valid(good[i]));
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(xgw_lang_tag_valid(bad[i]));
}

/* ------------------------------------------------------------ presence --- */

static void presence_stanzas(void)
{
    struct xmpp_node *s = parse_stanza(
        "<presence xmlns='jabber:server' from='juliet@xmpp.example/balcony' "
        "to='romeo@sip.example' xml:lang='en'><show>dnd</show><status xml:lang='fr'>Occup"
        "\xc3\xa9"
        "e</status><status>Busy</status><priority>5</priority></presence>");
    struct xgw_presence p;
    g_assert_true(xgw_presence_read(s, &p));
    g_assert_true(p.available);
    g_assert_cmpstr(p.resource, ==, "balcony");
    g_assert_cmpint(p.show, ==, XGW_SHOW_DND);
    g_assert_cmpstr(p.status, ==, "Busy");
    g_assert_cmpstr(p.status_lang, ==, "en");
    g_assert_cmpint(p.priority, ==, 5);
    struct xmpp_node *back =
        xgw_presence_stanza("juliet@xmpp.example/balcony", "romeo@sip.example", &p);
    g_autofree char *xml = xml_of(back);
    g_assert_cmpstr(xml, ==,
                    "<presence from='juliet@xmpp.example/balcony' to='romeo@sip.example'>"
                    "<show>dnd</show><status xml:lang='en'>Busy</status><priority>5</priority>"
                    "</presence>");
    xmpp_node_free(back);
    xgw_presence_clear(&p);
    xmpp_node_free(s);

    s = parse_stanza("<presence xmlns='jabber:server' from='juliet@xmpp.example/b' "
                     "to='romeo@sip.example' type='unavailable'><show>away</show></presence>");
    g_assert_true(xgw_presence_read(s, &p));
    g_assert_false(p.available);
    g_assert_cmpint(p.show, ==, XGW_SHOW_NONE);
    xgw_presence_clear(&p);
    xmpp_node_free(s);

    static const char *const others[] = {"subscribe",    "subscribed", "unsubscribe",
                                         "unsubscribed", "probe",      "error"};
    for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
        s = xgw_presence_typed("a@b.example", "c@d.example", others[i]);
        g_assert_false(xgw_presence_read(s, &p));
        xmpp_node_free(s);
    }

    /* the show <-> activity tables of presence.h */
    g_assert_cmpstr(xgw_show_activity(XGW_SHOW_AWAY), ==, "away");
    g_assert_cmpstr(xgw_show_activity(XGW_SHOW_XA), ==, "away");
    g_assert_cmpstr(xgw_show_activity(XGW_SHOW_DND), ==, "busy");
    g_assert_null(xgw_show_activity(XGW_SHOW_CHAT));
    g_assert_null(xgw_show_activity(XGW_SHOW_NONE));
    g_assert_cmpint(xgw_show_from_activity("on-the-phone"), ==, XGW_SHOW_DND);
    g_assert_cmpint(xgw_show_from_activity("vacation"), ==, XGW_SHOW_XA);
    g_assert_cmpint(xgw_show_from_activity("lunch"), ==, XGW_SHOW_AWAY);
    g_assert_cmpint(xgw_show_from_activity("unknown"), ==, XGW_SHOW_NONE);
}

#define PRESENCE_XSD SCHEMA_DIR "/presence.xsd"

static void pidf_built_valid(void)
{
    struct xgw_presence away = {.resource = "balcony",
                                .available = true,
                                .show = XGW_SHOW_AWAY,
                                .status = "Out \xe2\x80\x94 back <soon> & \"then\"\r\n",
                                .status_lang = "en",
                                .priority = 10};
    struct xgw_presence phone = {
        .resource = "phone \xe2\x98\x8e", .available = true, .show = XGW_SHOW_DND, .priority = 127};
    struct xgw_presence gone = {.resource = "old", .available = false, .status = "bye"};
    struct xgw_presence bare = {.available = true};
    const struct xgw_pidf_resource sets[][3] = {
        {{&away, "sip:juliet@xmpp.example;gr=balcony", "2024-05-01T12:00:00Z"}},
        {{&away, "sip:juliet@xmpp.example;gr=balcony", NULL},
         {&phone, "sip:juliet@xmpp.example;gr=phone%20%E2%98%8E", "2024-05-01T12:00:01Z"},
         {&gone, NULL, NULL}},
        {{&gone, "sip:juliet@xmpp.example;gr=old", NULL}},
        {{&bare, "sip:juliet@xmpp.example", NULL}},
    };
    const size_t counts[] = {1, 3, 1, 1};
    for (guint i = 0; i < G_N_ELEMENTS(sets); i++) {
        g_autofree char *doc = xgw_pidf_build("sip:juliet@xmpp.example", sets[i], counts[i]);
        g_test_message("%s", doc);
        g_assert_true(valid_against(PRESENCE_XSD, doc, strlen(doc)));
        /* read back: the same resources and states */
        struct xgw_pidf pidf;
        const char *why = NULL;
        g_assert_cmpint(xgw_pidf_parse(doc, strlen(doc), &pidf, &why), ==, 0);
        g_assert_cmpstr(pidf.entity, ==, "sip:juliet@xmpp.example");
        g_assert_cmpuint(pidf.tuples->len, ==, counts[i]);
        for (guint k = 0; k < counts[i]; k++) {
            const struct xgw_pidf_tuple *t = g_ptr_array_index(pidf.tuples, k);
            const struct xgw_presence *want = sets[i][k].presence;
            g_assert_cmpint(t->presence.available, ==, want->available);
            g_assert_cmpstr(t->contact, ==, sets[i][k].contact);
            if (sets[i][k].contact && want->resource)
                g_assert_cmpstr(t->presence.resource, ==, want->resource);
            if (want->status)
                g_assert_cmpstr(t->presence.status, ==, want->status);
            g_assert_cmpint(t->presence.priority, ==, want->available ? want->priority : 0);
        }
        xgw_pidf_clear(&pidf);
    }
    /* the person carries the best resource's activity (phone: priority 127, dnd -> busy) */
    g_autofree char *doc = xgw_pidf_build("sip:juliet@xmpp.example", sets[1], 3);
    g_assert_nonnull(strstr(doc, "<rpid:activities><rpid:busy/></rpid:activities>"));
    g_autofree char *one = xgw_pidf_build("sip:juliet@xmpp.example", sets[0], 1);
    g_assert_nonnull(strstr(one, "<rpid:activities><rpid:away/></rpid:activities>"));
    g_assert_nonnull(strstr(one, "<note xml:lang=\"en\">Out"));
    g_assert_nonnull(strstr(one, "<timestamp>2024-05-01T12:00:00Z</timestamp>"));
    g_assert_nonnull(strstr(one, "<contact priority=\"0.079\">"));
    /* nothing known yet: a document without tuples, still valid */
    g_autofree char *empty = xgw_pidf_build("sip:juliet@xmpp.example", NULL, 0);
    g_assert_true(valid_against(PRESENCE_XSD, empty, strlen(empty)));
    g_assert_null(strstr(empty, "<tuple"));
}

static struct xgw_pidf parse_ok(const char *doc)
{
    struct xgw_pidf pidf;
    const char *why = NULL;
    g_assert_cmpint(xgw_pidf_parse(doc, strlen(doc), &pidf, &why), ==, 0);
    return pidf;
}

#define TUPLE(pidf, i) ((const struct xgw_pidf_tuple *)g_ptr_array_index((pidf).tuples, i))

static void pidf_read_rfc3863(void)
{
    /* RFC 3863 §6's example */
    struct xgw_pidf p =
        parse_ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<impp:presence xmlns:impp=\"urn:ietf:params:xml:ns:pidf\"\n"
                 "    xmlns:myex=\"http://id.example.com/presence/\"\n"
                 "    entity=\"pres:someone@example.com\">\n"
                 "  <impp:tuple id=\"ck38g9\">\n"
                 "    <impp:status>\n"
                 "      <impp:basic>open</impp:basic>\n"
                 "    </impp:status>\n"
                 "    <myex:mytupletag>Foo</myex:mytupletag>\n"
                 "    <impp:contact priority=\"0.65\">tel:+09012345678</impp:contact>\n"
                 "  </impp:tuple>\n"
                 "  <impp:tuple id=\"md66je\">\n"
                 "    <impp:status>\n"
                 "      <impp:basic>open</impp:basic>\n"
                 "    </impp:status>\n"
                 "    <impp:contact priority=\"0.90\">im:someone@mobilecarrier.net</impp:contact>\n"
                 "    <impp:note xml:lang=\"en\">Don't Disturb Please!</impp:note>\n"
                 "    <impp:note xml:lang=\"fr\">Ne derangez pas, s'il vous plait</impp:note>\n"
                 "    <impp:timestamp>2001-10-27T16:49:29Z</impp:timestamp>\n"
                 "  </impp:tuple>\n"
                 "  <impp:note xml:lang=\"en\">I'll be in Tokyo next week</impp:note>\n"
                 "</impp:presence>\n");
    g_assert_cmpstr(p.entity, ==, "pres:someone@example.com");
    g_assert_cmpuint(p.tuples->len, ==, 2);
    g_assert_cmpstr(TUPLE(p, 0)->presence.resource, ==, "ck38g9"); /* no gr: the tuple id */
    g_assert_true(TUPLE(p, 0)->presence.available);
    g_assert_cmpint(TUPLE(p, 0)->presence.priority, ==, 83); /* 0.65 * 127 */
    g_assert_cmpstr(TUPLE(p, 1)->presence.status, ==, "Don't Disturb Please!");
    g_assert_cmpstr(TUPLE(p, 1)->presence.status_lang, ==, "en");
    g_assert_cmpint(TUPLE(p, 1)->presence.priority, ==, 114);
    xgw_pidf_clear(&p);
}

static void pidf_read_rpid(void)
{
    /* RFC 4480 §3.1-shaped: activities and note on the person */
    struct xgw_pidf p = parse_ok(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"
        "  xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\n"
        "  xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\n"
        "  entity=\"pres:someone@example.com\">\n"
        "  <tuple id=\"bs35r9\">\n"
        "    <status><basic>open</basic></status>\n"
        "    <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>\n"
        "    <contact priority=\"0.8\">sip:someone@example.com;gr=urn:uuid:f81d4fae</contact>\n"
        "  </tuple>\n"
        "  <dm:person id=\"p1\">\n"
        "    <rpid:activities from=\"2005-05-30T12:00:00+05:00\">\n"
        "      <rpid:note>Far away</rpid:note><rpid:on-the-phone/>\n"
        "    </rpid:activities>\n"
        "    <dm:note>Busy with a call</dm:note>\n"
        "  </dm:person>\n"
        "</presence>\n");
    g_assert_cmpuint(p.tuples->len, ==, 1);
    g_assert_cmpstr(TUPLE(p, 0)->presence.resource, ==, "urn:uuid:f81d4fae"); /* the GRUU's gr */
    g_assert_cmpint(TUPLE(p, 0)->presence.show, ==, XGW_SHOW_DND);
    g_assert_cmpstr(TUPLE(p, 0)->presence.status, ==, "Busy with a call");
    xgw_pidf_clear(&p);
}

static void pidf_read_clients(void)
{
    /* Blink / sipsimple shape (agp-pidf extensions, caps, device-info) */
    struct xgw_pidf p = parse_ok(
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
        "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
        "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" "
        "xmlns:caps=\"urn:ietf:params:xml:ns:pidf:caps\" "
        "xmlns:agp-pidf=\"urn:ag-projects:xml:ns:pidf\" entity=\"sip:alice@sip.example\">"
        "<tuple id=\"SID-7a1c\"><status><basic>open</basic>"
        "<agp-pidf:extended>away</agp-pidf:extended></status>"
        "<dm:deviceID>urn:uuid:7a1c</dm:deviceID>"
        "<caps:servcaps><caps:audio>true</caps:audio><caps:message>true</caps:message>"
        "</caps:servcaps><agp-pidf:device-info id=\"urn:uuid:7a1c\"><agp-pidf:description>"
        "laptop</agp-pidf:description></agp-pidf:device-info>"
        "<contact>sip:alice@sip.example;gr=urn:uuid:7a1c</contact>"
        "<note>Lunch \xf0\x9f\x8d\x9c</note><timestamp>2024-05-01T12:00:00+02:00</timestamp>"
        "</tuple><tuple id=\"SID-off\"><status><basic>open</basic>"
        "<agp-pidf:extended>offline</agp-pidf:extended></status></tuple>"
        "<dm:person id=\"PID-1\"><rpid:activities><rpid:busy/></rpid:activities></dm:person>"
        "</presence>");
    g_assert_cmpuint(p.tuples->len, ==, 2);
    g_assert_true(TUPLE(p, 0)->presence.available);
    g_assert_cmpint(TUPLE(p, 0)->presence.show, ==, XGW_SHOW_AWAY); /* the tuple's own */
    g_assert_cmpstr(TUPLE(p, 0)->presence.resource, ==, "urn:uuid:7a1c");
    g_assert_cmpstr(TUPLE(p, 0)->presence.status, ==, "Lunch \xf0\x9f\x8d\x9c");
    g_assert_false(TUPLE(p, 1)->presence.available); /* extended offline */
    xgw_pidf_clear(&p);

    /* Linphone shape (basic in the tuple, RPID activities and dm:note on the person) */
    p = parse_ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
                 "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
                 "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:bob@sip.example\">\n"
                 "  <tuple id=\"qbxhbr\">\n"
                 "    <status>\n      <basic>open</basic>\n    </status>\n"
                 "    <contact>sip:bob@192.0.2.10:5060</contact>\n"
                 "    <timestamp>2024-04-04T12:30:18Z</timestamp>\n"
                 "  </tuple>\n"
                 "  <dm:person id=\"pmrs4z\">\n"
                 "    <rpid:activities>\n      <rpid:away/>\n    </rpid:activities>\n"
                 "    <dm:note xml:lang=\"de\">Mittagessen</dm:note>\n"
                 "  </dm:person>\n"
                 "</presence>\n");
    g_assert_cmpuint(p.tuples->len, ==, 1);
    g_assert_true(TUPLE(p, 0)->presence.available);
    g_assert_cmpint(TUPLE(p, 0)->presence.show, ==, XGW_SHOW_AWAY);
    g_assert_cmpstr(TUPLE(p, 0)->presence.resource, ==, "qbxhbr");
    g_assert_cmpstr(TUPLE(p, 0)->presence.status, ==, "Mittagessen");
    g_assert_cmpstr(TUPLE(p, 0)->presence.status_lang, ==, "de");
    xgw_pidf_clear(&p);

    /* the older pidf:im values and a closed tuple */
    p = parse_ok("<presence xmlns='urn:ietf:params:xml:ns:pidf' "
                 "xmlns:im='urn:ietf:params:xml:ns:pidf:im' entity='sip:c@sip.example'>"
                 "<tuple id='a'><status><basic>open</basic><im:im>busy</im:im></status></tuple>"
                 "<tuple id='b'><status><basic>closed</basic></status></tuple></presence>");
    g_assert_cmpint(TUPLE(p, 0)->presence.show, ==, XGW_SHOW_DND);
    g_assert_false(TUPLE(p, 1)->presence.available);
    xgw_pidf_clear(&p);
}

static void pidf_refused(void)
{
    const char *bad[] = {
        "",
        "<presence entity='sip:a@b'/>", /* no namespace */
        "<pidf xmlns='urn:ietf:params:xml:ns:pidf'/>",
        "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple>",
        "<!DOCTYPE presence [<!ENTITY a 'aaaaaaaaaaaaaaaa'>]>"
        "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='&a;'/>",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct xgw_pidf p;
        const char *why = NULL;
        g_test_message("%u", i);
        g_assert_cmpint(xgw_pidf_parse(bad[i], strlen(bad[i]), &p, &why), <, 0);
        g_assert_nonnull(why);
    }
    GString *many = g_string_new("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:a@b'>");
    for (int i = 0; i <= XGW_PIDF_MAX_TUPLES; i++)
        g_string_append_printf(many,
                               "<tuple id='t%d'><status><basic>open</basic></status>"
                               "</tuple>",
                               i);
    g_string_append(many, "</presence>");
    struct xgw_pidf p;
    const char *why = NULL;
    g_assert_cmpint(xgw_pidf_parse(many->str, many->len, &p, &why), <, 0);
    g_assert_cmpstr(why, ==, "too many tuples");
    g_string_free(many, TRUE);
    g_autofree char *big = g_strnfill(XGW_PIDF_MAX_BYTES + 1, ' ');
    g_assert_cmpint(xgw_pidf_parse(big, strlen(big), &p, &why), <, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmpp_mapping/errmap/xmpp_to_sip", errmap_xmpp_to_sip);
    g_test_add_func("/xmpp_mapping/errmap/sip_to_xmpp", errmap_sip_to_xmpp);
    g_test_add_func("/xmpp_mapping/cpim/rfc3862", cpim_rfc3862_example);
    g_test_add_func("/xmpp_mapping/cpim/refused", cpim_refused);
    g_test_add_func("/xmpp_mapping/composing/rfc3994", composing_rfc3994);
    g_test_add_func("/xmpp_mapping/composing/refused", composing_refused);
    g_test_add_func("/xmpp_mapping/chat_states", chat_states);
    g_test_add_func("/xmpp_mapping/sip_to_xmpp/rfc7572", sip_to_xmpp_rfc7572);
    g_test_add_func("/xmpp_mapping/sip_to_xmpp/utf8", sip_to_xmpp_utf8);
    g_test_add_func("/xmpp_mapping/sip_to_xmpp/refused", sip_content_refused);
    g_test_add_func("/xmpp_mapping/sip_to_xmpp/cpim", sip_to_xmpp_cpim);
    g_test_add_func("/xmpp_mapping/sip_to_xmpp/html", sip_to_xmpp_html);
    g_test_add_func("/xmpp_mapping/xmpp_to_sip/rfc7572", xmpp_to_sip_rfc7572);
    g_test_add_func("/xmpp_mapping/xmpp_to_sip/xhtml", xmpp_to_sip_xhtml);
    g_test_add_func("/xmpp_mapping/lang_tags", lang_tags);
    g_test_add_func("/xmpp_mapping/presence/stanzas", presence_stanzas);
    g_test_add_func("/xmpp_mapping/pidf/built_valid", pidf_built_valid);
    g_test_add_func("/xmpp_mapping/pidf/rfc3863", pidf_read_rfc3863);
    g_test_add_func("/xmpp_mapping/pidf/rpid", pidf_read_rpid);
    g_test_add_func("/xmpp_mapping/pidf/clients", pidf_read_clients);
    g_test_add_func("/xmpp_mapping/pidf/refused", pidf_refused);
    return g_test_run();
}
