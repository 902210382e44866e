/* Unit tests for the XMPP gateway's stream layer (plugins/xmppgw/xml_stream): stream headers
 * as RFC 6120 §4.7 and XEP-0114/0220 write them, stanzas split at every byte, each kind of bad
 * input and the stream error RFC 6120 §4.9 names for it, limits on size, depth and names that
 * hold while the bytes arrive, restarts, our header, and silence on stderr. */
#include "errors.h"
#include "ns.h"
#include "xml_node.h"
#include "xml_stream.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <string.h>
#include <unistd.h>

#define S2S_HEADER "<?xml version='1.0'?>" S2S_OPEN
#define S2S_OPEN                                                                                   \
    "<stream:stream xmlns='jabber:server' "                                                        \
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "           \
    "from='example.com' to='jabber.org' version='1.0' xml:lang='en'>"

/* One line per event; stanzas written in the stream's scope (a newline in them as "\\n").
 * Error texts are left out: they carry libxml2's wording, the condition is what the peer gets. */
static void describe(GString *out, struct xmpp_stream_event *ev)
{
    static const struct xmpp_scope scope = {XMPP_NS_SERVER, true, true};
    switch (ev->type) {
    case XMPP_STREAM_EV_OPEN:
        g_string_append_printf(
            out, "OPEN ns=%s db=%d to=%s from=%s id=%s version=%s lang=%s\n",
            ev->header->content_ns, ev->header->dialback, ev->header->to ? ev->header->to : "-",
            ev->header->from ? ev->header->from : "-", ev->header->id ? ev->header->id : "-",
            ev->header->version ? ev->header->version : "-",
            ev->header->lang ? ev->header->lang : "-");
        break;
    case XMPP_STREAM_EV_STANZA: {
        g_autofree char *xml = xmpp_node_to_string(ev->stanza, &scope);
        g_auto(GStrv) lines = g_strsplit(xml, "\n", -1);
        g_autofree char *joined = g_strjoinv("\\n", lines);
        g_string_append_printf(out, "STANZA %s\n", joined);
        break;
    }
    case XMPP_STREAM_EV_CLOSE:
        g_string_append(out, "CLOSE\n");
        break;
    case XMPP_STREAM_EV_ERROR:
        g_string_append_printf(out, "ERROR %s\n", xmpp_stream_condition_name(ev->condition));
        break;
    }
}

static void drain(struct xmpp_stream_parser *p, GString *out)
{
    struct xmpp_stream_event ev;
    while (xmpp_stream_next(p, &ev)) {
        describe(out, &ev);
        xmpp_stream_event_clear(&ev);
    }
}

/* The transcript of data fed in pieces of `step` bytes (0: at once), or cut once at `cut`. */
static char *run(const char *data, size_t len, size_t step, size_t cut, const char *ns,
                 const struct xmpp_stream_limits *limits)
{
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(ns, limits);
    g_assert_nonnull(p);
    GString *out = g_string_new(NULL);
    if (cut) {
        xmpp_stream_feed(p, data, cut);
        xmpp_stream_feed(p, data + cut, len - cut);
    } else {
        for (size_t i = 0; i < len; i += step ? step : len)
            xmpp_stream_feed(p, data + i, MIN(step ? step : len, len - i));
    }
    drain(p, out);
    xmpp_stream_parser_free(p);
    return g_string_free(out, FALSE);
}

static char *run_all(const char *data)
{
    return run(data, strlen(data), 0, 0, XMPP_NS_SERVER, NULL);
}

/* The condition of the stream error data ends in (it must end in one). */
static const char *error_of(const char *data, const char *ns)
{
    static char last[64];
    g_autofree char *t = run(data, strlen(data), 0, 0, ns, NULL);
    const char *e = strstr(t, "ERROR ");
    g_assert_nonnull(e);
    g_assert_true(strchr(e, '\n') == t + strlen(t) - 1); /* nothing after the error */
    g_strlcpy(last, e + 6, sizeof last);
    last[strcspn(last, "\n")] = '\0';
    return last;
}

static void s2s_header(void)
{
    g_autofree char *t = run_all(S2S_HEADER);
    g_assert_cmpstr(t, ==,
                    "OPEN ns=jabber:server db=1 to=jabber.org from=example.com id=- version=1.0 "
                    "lang=en\n");
    /* prosody sends id='' and from='' when it has none: empty is absent */
    g_autofree char *empty = run_all(
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "id='' from='' to='example.com' version='1.0'>");
    g_assert_cmpstr(empty, ==,
                    "OPEN ns=jabber:server db=0 to=example.com from=- id=- version=1.0 lang=-\n");
}

static void component_header(void)
{
    const char *h = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                    "xmlns='jabber:component:accept' from='sip.example.com' id='3BF96D32' "
                    "xml:lang='en'>";
    g_autofree char *t = run(h, strlen(h), 0, 0, XMPP_NS_COMPONENT, NULL);
    g_assert_cmpstr(t, ==,
                    "OPEN ns=jabber:component:accept db=0 to=- from=sip.example.com id=3BF96D32 "
                    "version=- lang=en\n");
    /* the same header where jabber:server is expected */
    g_assert_cmpstr(error_of(h, XMPP_NS_SERVER), ==, "invalid-namespace");
    /* NULL accepts the three content namespaces */
    g_autofree char *any = run(h, strlen(h), 0, 0, NULL, NULL);
    g_assert_true(g_str_has_prefix(any, "OPEN ns=jabber:component:accept"));
}

static void header_checks(void)
{
    const char *streams = "xmlns:stream='http://etherx.jabber.org/streams'";
    struct {
        const char *attrs;
        const char *error;
    } cases[] = {
        {"xmlns='jabber:client' version='1.0'", NULL},
        {"xmlns='jabber:server' version='1.5'", NULL},
        {"xmlns='jabber:server' version='01.0'", NULL},
        {"xmlns='jabber:server' version='2.0'", "unsupported-version"},
        {"xmlns='jabber:server' version='1'", "unsupported-version"},
        {"xmlns='jabber:server' version='one.zero'", "unsupported-version"},
        {"version='1.0'", "invalid-namespace"},
        {"xmlns='jabber:other' version='1.0'", "invalid-namespace"},
        {"xmlns='jabber:server' to='exa mple.com'", "improper-addressing"},
        {"xmlns='jabber:server' from='a@b@c'", "improper-addressing"},
        {"xmlns='jabber:server' to='[::1'", "improper-addressing"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *h = g_strdup_printf("<stream:stream %s %s>", streams, cases[i].attrs);
        g_autofree char *t = run(h, strlen(h), 0, 0, NULL, NULL);
        if (cases[i].error)
            g_assert_cmpstr(error_of(h, NULL), ==, cases[i].error);
        else
            g_assert_true(g_str_has_prefix(t, "OPEN "));
    }
    /* a 3000-byte domain in the header */
    g_autofree char *label = g_strnfill(3000, 'a');
    g_autofree char *longto =
        g_strdup_printf("<stream:stream %s xmlns='jabber:server' to='%s'>", streams, label);
    g_assert_cmpstr(error_of(longto, NULL), ==, "improper-addressing");
    /* the root element */
    g_assert_cmpstr(error_of("<stream xmlns='jabber:server'>", NULL), ==, "invalid-namespace");
    g_assert_cmpstr(error_of("<stream:features xmlns:stream='http://etherx.jabber.org/streams' "
                             "xmlns='jabber:server'>",
                             NULL),
                    ==, "bad-format");
    g_assert_cmpstr(error_of("<x:stream xmlns:x='http://etherx.jabber.org/streams' "
                             "xmlns='jabber:server'><y:message/>",
                             NULL),
                    ==, "bad-namespace-prefix");
}

/* A stream with the stanzas of an s2s session: dialback, messages with bodies, XHTML-IM and
 * chat states, presence, iq, references, CDATA, a stanza error, whitespace keepalives. */
static const char conversation[] = S2S_HEADER
    "<db:result from='example.com' to='jabber.org'>37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2"
    "686482ba5b89323075643</db:result> \n"
    "<message from='romeo@example.com/orchard' to='juliet@jabber.org' type='chat' id='m&amp;1'>"
    "<body>Art thou not Romeo, &amp; a Montague? 1 &lt; 2 &gt; 0 &#x263A; &#38;</body>"
    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'"
    "><p>Art <em>thou</em> not <strong>Romeo</strong>?</p></body></html>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    "<message from='juliet@jabber.org/balcony' to='romeo@example.com' type='chat'>"
    "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
    "<presence from='juliet@jabber.org/balcony' to='romeo@example.com' xml:lang='fr'>"
    "<show>away</show><status>  dans\tle\r\njardin  </status><priority>5</priority></presence>"
    "<iq type='get' id='v1' from='example.com' to='jabber.org'><query "
    "xmlns='jabber:iq:version'/></iq>"
    "<message to='a@example.com' from='b@jabber.org'><body><![CDATA[<b>&x;</b> 'q']]></body>"
    "</message>"
    "<message to='a@example.com' from='b@jabber.org' type='error' id='e1'><error type='cancel'>"
    "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    "<iq type='set' id='x' to='a@example.com' from='b@jabber.org'><q xmlns='urn:x' "
    "xmlns:p='urn:p' p:a=\"&quot;'&lt;\" b='\n\t'/></iq>"
    "\n</stream:stream>";

static void stanzas(void)
{
    g_autofree char *t = run_all(conversation);
    g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 11); /* open, 8 stanzas, close, "" */
    g_assert_cmpstr(lines[1], ==,
                    "STANZA <db:result from='example.com' to='jabber.org'>37c69b1cf07a3f67c04a5ef"
                    "5902fa5114f2c76fe4a2686482ba5b89323075643</db:result>");
    g_assert_true(g_str_has_prefix(lines[2], "STANZA <message from='romeo@example.com/orchard' "
                                             "to='juliet@jabber.org' type='chat' id='m&amp;1'>"
                                             "<body>Art thou not Romeo, &amp; a Montague? 1 &lt; 2 "
                                             "&gt; 0 \xe2\x98\xba &amp;</body><html "
                                             "xmlns='http://jabber.org/protocol/xhtml-im'><body "
                                             "xmlns='http://www.w3.org/1999/xhtml'><p>Art "
                                             "<em>thou</em> not <strong>Romeo</strong>?</p>"));
    /* \r\n became \n in the text (XML end-of-line handling); the tab stays */
    g_assert_nonnull(strstr(lines[4], "<status>  dans\tle\\njardin  </status>"));
    g_assert_nonnull(strstr(lines[4], "xml:lang='fr'"));
    g_assert_nonnull(strstr(lines[6], "<body>&lt;b&gt;&amp;x;&lt;/b&gt; 'q'</body>"));
    /* attribute values: references kept, literal whitespace normalized to spaces */
    g_assert_nonnull(strstr(lines[8], "<q xmlns='urn:x' xmlns:a0='urn:p' a0:a='&quot;&apos;&lt;' "
                                      "b='  '/>"));
    g_assert_cmpstr(lines[9], ==, "CLOSE");
}

/* Every split of the stream in two, and byte by byte, gives the same events. */
static void every_split(void)
{
    size_t len = strlen(conversation);
    g_autofree char *whole = run_all(conversation);
    g_autofree char *bytewise = run(conversation, len, 1, 0, XMPP_NS_SERVER, NULL);
    g_assert_cmpstr(bytewise, ==, whole);
    for (size_t cut = 1; cut < len; cut++) {
        g_autofree char *t = run(conversation, len, 0, cut, XMPP_NS_SERVER, NULL);
        if (strcmp(t, whole) != 0)
            g_error("cut at %zu:\n%s\nwhole:\n%s", cut, t, whole);
    }
}

static void many_stanzas(void)
{
    GString *s = g_string_new(S2S_HEADER);
    for (int i = 0; i < 10000; i++)
        g_string_append_printf(s,
                               "<message from='a@example.com' to='b@jabber.org' id='%d'>"
                               "<body>message %d</body></message>",
                               i, i);
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(XMPP_NS_SERVER, NULL);
    g_assert_cmpint(xmpp_stream_feed(p, s->str, s->len), ==, 0);
    struct xmpp_stream_event ev;
    g_assert_true(xmpp_stream_next(p, &ev));
    g_assert_cmpint(ev.type, ==, XMPP_STREAM_EV_OPEN);
    xmpp_stream_event_clear(&ev);
    for (int i = 0; i < 10000; i++) {
        g_assert_true(xmpp_stream_next(p, &ev));
        g_assert_cmpint(ev.type, ==, XMPP_STREAM_EV_STANZA);
        g_autofree char *id = g_strdup_printf("%d", i);
        g_assert_cmpstr(xmpp_node_attr(ev.stanza, "id"), ==, id);
        g_autofree char *body = xmpp_node_text(xmpp_node_child(ev.stanza, XMPP_NS_SERVER, "body"));
        g_assert_cmpstr(body + 8, ==, id);
        xmpp_stream_event_clear(&ev);
    }
    g_assert_false(xmpp_stream_next(p, &ev));
    xmpp_stream_parser_free(p);
    g_string_free(s, TRUE);
}

static void bad_xml(void)
{
    g_assert_cmpstr(error_of(S2S_HEADER "<message><body>x</message>", NULL), ==, "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "<message to=a/>", NULL), ==, "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "<message a='1' a='2'/>", NULL), ==, "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "<message><body>x\x01</body></message>", NULL), ==,
                    "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "<message></stream:stream>", NULL), ==, "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "<message xmlns:a=''/>", NULL), ==, "not-well-formed");
    g_assert_cmpstr(error_of("<<stream:stream>", NULL), ==, "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "hello<message/>", NULL), ==, "bad-format");
}

static void restricted_xml(void)
{
    /* billion laughs: stopped at the DOCTYPE, nothing expanded, no stanza */
    GString *lol = g_string_new("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol0 'lol'>");
    for (int i = 1; i < 10; i++) {
        g_string_append_printf(lol, "<!ENTITY lol%d '", i);
        for (int k = 0; k < 10; k++)
            g_string_append_printf(lol, "&lol%d;", i - 1);
        g_string_append(lol, "'>");
    }
    g_string_append(lol, "]><stream:stream xmlns='jabber:server' "
                         "xmlns:stream='http://etherx.jabber.org/streams'><message><body>&lol9;"
                         "</body></message>");
    g_autofree char *t = run(lol->str, lol->len, 0, 0, NULL, NULL);
    g_assert_cmpstr(t, ==, "ERROR restricted-xml\n");
    g_string_free(lol, TRUE);
    g_assert_cmpstr(error_of("<!DOCTYPE s SYSTEM 'http://example.com/x.dtd'>" S2S_HEADER, NULL), ==,
                    "restricted-xml");
    g_assert_cmpstr(error_of(S2S_HEADER "<!-- hello --><message/>", NULL), ==, "restricted-xml");
    g_assert_cmpstr(error_of(S2S_HEADER "<message><!-- x --></message>", NULL), ==,
                    "restricted-xml");
    g_assert_cmpstr(error_of(S2S_HEADER "<?php echo 1; ?>", NULL), ==, "restricted-xml");
    g_assert_cmpstr(error_of("<?xml version='1.0'?><?xml-stylesheet href='a'?>" S2S_HEADER, NULL),
                    ==, "restricted-xml");
    g_assert_cmpstr(error_of(S2S_HEADER "<message><body>&nbsp;</body></message>", NULL), ==,
                    "restricted-xml");
}

static void encodings(void)
{
    g_assert_cmpstr(error_of(S2S_HEADER "<message><body>caf\xe9</body></message>", NULL), ==,
                    "not-well-formed");
    g_assert_cmpstr(error_of(S2S_HEADER "<message><body>\xed\xa0\x80</body></message>", NULL), ==,
                    "not-well-formed");
    g_assert_cmpstr(error_of("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream "
                             "xmlns='jabber:server' "
                             "xmlns:stream='http://etherx.jabber.org/streams'>",
                             NULL),
                    ==, "unsupported-encoding");
    /* UTF-16LE with its byte order mark */
    const char *ascii = "<stream:stream xmlns='jabber:server' "
                        "xmlns:stream='http://etherx.jabber.org/streams'>";
    GByteArray *u16 = g_byte_array_new();
    g_byte_array_append(u16, (const guint8 *)"\xff\xfe", 2);
    for (const char *c = ascii; *c; c++)
        g_byte_array_append(u16, (const guint8[]){(guint8)*c, 0}, 2);
    g_autofree char *t = run((const char *)u16->data, u16->len, 0, 0, NULL, NULL);
    g_assert_cmpstr(t, ==, "ERROR unsupported-encoding\n");
    g_byte_array_unref(u16);
    /* UTF-8, declared or with its byte order mark, is fine */
    g_autofree char *decl = run_all("<?xml version='1.0' encoding='utf-8'?>" S2S_OPEN);
    g_assert_true(g_str_has_prefix(decl, "OPEN "));
    g_autofree char *bom = run_all("\xef\xbb\xbf" S2S_OPEN);
    g_assert_true(g_str_has_prefix(bom, "OPEN "));
}

/* Feeds the header, then `open`, then fill bytes forever in pieces of `step`: the stream must
 * fail with policy-violation before max + one piece has gone in after the header. */
static void cut_at_limit(const char *open, char fill, size_t step)
{
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(XMPP_NS_SERVER, NULL);
    xmpp_stream_feed(p, S2S_HEADER, strlen(S2S_HEADER));
    g_assert_cmpint(xmpp_stream_feed(p, open, strlen(open)), ==, 0);
    size_t fed = strlen(open);
    char *piece = g_malloc(step);
    memset(piece, fill, step);
    int r = 0;
    while (r == 0 && fed < 10 * 1024 * 1024) {
        r = xmpp_stream_feed(p, piece, step);
        fed += step;
    }
    g_free(piece);
    g_assert_cmpint(r, ==, -EPROTO);
    g_assert_cmpuint(fed, <=, XMPP_STREAM_DEFAULT_MAX_STANZA + step);
    g_assert_cmpuint(fed, >, XMPP_STREAM_DEFAULT_MAX_STANZA);
    GString *t = g_string_new(NULL);
    drain(p, t);
    g_assert_cmpstr(t->str, ==,
                    "OPEN ns=jabber:server db=1 to=jabber.org from=example.com id=- version=1.0 "
                    "lang=en\nERROR policy-violation\n");
    g_string_free(t, TRUE);
    xmpp_stream_parser_free(p);
}

static void size_limit(void)
{
    /* a 10 MB body, a 10 MB attribute value, a 10 MB start tag full of quoted '>' (fed byte by
     * byte: see the next test), a 10 MB stream header */
    cut_at_limit("<message><body>", 'x', 4096);
    cut_at_limit("<message to='", 'x', 4096);
    cut_at_limit("<message to='", '>', 4096);
    cut_at_limit("<message><body><![CDATA[", 'x', 4096);
    cut_at_limit("<message><x", 'y', 4096);
    g_autofree char *filler = g_strnfill(XMPP_STREAM_DEFAULT_MAX_STANZA + 10, 'x');
    g_autofree char *header =
        g_strdup_printf("<stream:stream xmlns='jabber:server' id='%s'", filler);
    g_assert_cmpstr(error_of(header, NULL), ==, "policy-violation");
    /* a stanza just under the limit passes, just over it does not, fed at once */
    struct xmpp_stream_limits small = {1000, 16};
    const char *head = "<message><body>";
    const char *tail = "</body></message>";
    for (int over = 0; over <= 1; over++) {
        size_t body = 1000 - strlen(head) - strlen(tail) + (size_t)over;
        g_autofree char *fill = g_strnfill(body, 'b');
        g_autofree char *doc = g_strdup_printf(S2S_HEADER "%s%s%s<iq/>", head, fill, tail);
        g_autofree char *t = run(doc, strlen(doc), 0, 0, NULL, &small);
        g_assert_cmpint(strstr(t, "ERROR policy-violation") != NULL, ==, over);
        g_assert_cmpint(strstr(t, "STANZA <message>") != NULL, ==, !over);
    }
    /* whitespace keepalives between stanzas are not a stanza: 2 MB of them pass */
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(NULL, NULL);
    xmpp_stream_feed(p, S2S_HEADER, strlen(S2S_HEADER));
    for (int i = 0; i < 2048; i++) {
        char spaces[1024];
        memset(spaces, ' ', sizeof spaces);
        g_assert_cmpint(xmpp_stream_feed(p, spaces, sizeof spaces), ==, 0);
    }
    g_assert_cmpint(xmpp_stream_feed(p, "<iq/>", 5), ==, 0);
    GString *t = g_string_new(NULL);
    drain(p, t);
    g_assert_true(g_str_has_suffix(t->str, "STANZA <iq/>\n"));
    g_string_free(t, TRUE);
    xmpp_stream_parser_free(p);
}

/* A start tag that arrives a byte at a time costs libxml2 a reparse per chunk once it holds a
 * '>', even a quoted one; the parser hands such a tag over when it is complete. */
static void slow_start_tag(void)
{
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(XMPP_NS_SERVER, NULL);
    xmpp_stream_feed(p, S2S_HEADER "<message to='", strlen(S2S_HEADER) + 13);
    size_t before = xmpp_stream_parse_calls(p);
    size_t n = 64 * 1024;
    for (size_t i = 0; i < n; i++)
        g_assert_cmpint(xmpp_stream_feed(p, i % 2 ? ">" : "\"", 1), ==, 0);
    g_assert_cmpint(xmpp_stream_feed(p, "'><body>hi</body></message>", 27), ==, 0);
    g_assert_cmpuint(xmpp_stream_parse_calls(p) - before, <=, n / 4096 + 4);
    GString *t = g_string_new(NULL);
    drain(p, t);
    g_assert_true(g_str_has_suffix(t->str, "&quot;&gt;'><body>hi</body></message>\n"));
    g_string_free(t, TRUE);
    xmpp_stream_parser_free(p);
}

/* libxml2 keeps every element name, prefix and namespace URI of a document in a dictionary:
 * on a stream that lasts for days fresh names must not grow it without end. */
static void name_dictionary(void)
{
    for (int fresh = 0; fresh <= 1; fresh++) {
        struct xmpp_stream_parser *p = xmpp_stream_parser_new(XMPP_NS_SERVER, NULL);
        xmpp_stream_feed(p, S2S_HEADER, strlen(S2S_HEADER));
        int r = 0, i;
        for (i = 0; i < 200000 && r == 0; i++) {
            g_autofree char *stanza =
                fresh ? g_strdup_printf("<n%d xmlns='urn:example:%d'/>", i, i)
                      : g_strdup_printf("<iq id='%d'><ping xmlns='urn:xmpp:ping'/></iq>", i);
            r = xmpp_stream_feed(p, stanza, strlen(stanza));
            struct xmpp_stream_event ev;
            while (xmpp_stream_next(p, &ev)) {
                if (ev.type == XMPP_STREAM_EV_ERROR)
                    g_assert_cmpstr(xmpp_stream_condition_name(ev.condition), ==,
                                    "policy-violation");
                xmpp_stream_event_clear(&ev);
            }
        }
        g_assert_cmpint(r, ==, fresh ? -EPROTO : 0);
        g_assert_cmpint(i, <, fresh ? 200000 : 200001);
        xmpp_stream_parser_free(p);
    }
}

static void depth_limit(void)
{
    GString *s = g_string_new(S2S_HEADER);
    for (int i = 0; i < 10000; i++)
        g_string_append(s, "<a>");
    g_autofree char *t = run(s->str, s->len, 0, 0, NULL, NULL);
    g_assert_cmpstr(strchr(t, '\n') + 1, ==, "ERROR policy-violation\n");
    g_string_free(s, TRUE);
    /* exactly the limit passes, one more does not */
    for (int extra = 0; extra <= 1; extra++) {
        GString *d = g_string_new(S2S_HEADER);
        for (int i = 0; i < XMPP_STREAM_DEFAULT_MAX_DEPTH + extra; i++)
            g_string_append(d, "<a>");
        for (int i = 0; i < XMPP_STREAM_DEFAULT_MAX_DEPTH + extra; i++)
            g_string_append(d, "</a>");
        g_autofree char *r = run(d->str, d->len, 0, 0, NULL, NULL);
        g_assert_cmpint(strstr(r, "ERROR policy-violation") != NULL, ==, extra);
        g_string_free(d, TRUE);
    }
    struct xmpp_stream_limits bad = {1000, XMPP_STREAM_MAX_DEPTH_LIMIT + 1};
    g_assert_null(xmpp_stream_parser_new(NULL, &bad));
}

static void close_reset_finish(void)
{
    /* after </stream:stream> input is ignored */
    g_autofree char *t = run_all(S2S_HEADER "<iq/></stream:stream><garbage");
    g_assert_cmpstr(strchr(t, '\n') + 1, ==, "STANZA <iq/>\nCLOSE\n");
    /* STARTTLS: the stream restarts; what came after <starttls/> in the same read is dropped */
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(XMPP_NS_SERVER, NULL);
    const char *first = S2S_HEADER "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><inject/>";
    xmpp_stream_feed(p, first, strlen(first));
    struct xmpp_stream_event ev;
    g_assert_true(xmpp_stream_next(p, &ev));
    xmpp_stream_event_clear(&ev);
    g_assert_true(xmpp_stream_next(p, &ev));
    g_assert_true(xmpp_node_is(ev.stanza, XMPP_NS_TLS, "starttls"));
    xmpp_stream_event_clear(&ev);
    xmpp_stream_reset(p);
    g_assert_false(xmpp_stream_next(p, &ev));
    g_assert_cmpint(xmpp_stream_feed(p, S2S_HEADER "<iq/>", strlen(S2S_HEADER) + 5), ==, 0);
    GString *s = g_string_new(NULL);
    drain(p, s);
    g_assert_true(g_str_has_prefix(s->str, "OPEN "));
    g_assert_true(g_str_has_suffix(s->str, "\nSTANZA <iq/>\n"));
    /* the connection ends inside a stanza, or without closing the stream */
    g_string_truncate(s, 0);
    xmpp_stream_feed(p, "<message><body>", 15);
    xmpp_stream_finish(p);
    drain(p, s);
    g_assert_cmpstr(s->str, ==, "ERROR not-well-formed\n");
    g_assert_cmpint(xmpp_stream_feed(p, "<iq/>", 5), ==, -EPROTO);
    xmpp_stream_reset(p);
    g_string_truncate(s, 0);
    xmpp_stream_feed(p, S2S_HEADER, strlen(S2S_HEADER));
    xmpp_stream_finish(p);
    drain(p, s);
    g_assert_true(g_str_has_suffix(s->str, "\nERROR not-well-formed\n"));
    /* a closed stream ending is fine */
    xmpp_stream_reset(p);
    g_string_truncate(s, 0);
    xmpp_stream_feed(p, S2S_HEADER "</stream:stream>", strlen(S2S_HEADER) + 16);
    xmpp_stream_finish(p);
    drain(p, s);
    g_assert_true(g_str_has_suffix(s->str, "\nCLOSE\n"));
    g_string_free(s, TRUE);
    xmpp_stream_parser_free(p);
}

static void header_writer(void)
{
    struct xmpp_stream_header h = {.content_ns = XMPP_NS_SERVER,
                                   .dialback = true,
                                   .from = "sip.example.com",
                                   .to = "jabber.org",
                                   .id = "a'b",
                                   .version = "1.0",
                                   .lang = "en"};
    g_autofree char *w = xmpp_stream_header_write(&h);
    g_assert_cmpstr(w, ==,
                    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                    "xmlns:stream='http://etherx.jabber.org/streams' "
                    "xmlns:db='jabber:server:dialback' from='sip.example.com' to='jabber.org' "
                    "id='a&apos;b' version='1.0' xml:lang='en'>");
    g_autofree char *t = run_all(w);
    g_assert_cmpstr(t, ==,
                    "OPEN ns=jabber:server db=1 to=jabber.org from=sip.example.com id=a'b "
                    "version=1.0 lang=en\n");
    g_assert_cmpstr(xmpp_stream_footer(), ==, "</stream:stream>");
    h.id = "bad\x01";
    g_assert_null(xmpp_stream_header_write(&h));
    unsigned major, minor;
    g_assert_true(xmpp_stream_version_parse("1.0", &major, &minor));
    g_assert_cmpuint(major, ==, 1);
    g_assert_cmpuint(minor, ==, 0);
    g_assert_true(xmpp_stream_version_parse("001.0010", &major, &minor));
    g_assert_cmpuint(minor, ==, 10);
    g_assert_false(xmpp_stream_version_parse("1.", &major, &minor));
    g_assert_false(xmpp_stream_version_parse("-1.0", &major, &minor));
    g_assert_false(xmpp_stream_version_parse("99999999999.0", &major, &minor));
}

/* Runs every bad input above with fd 2 pointing at a file, which must stay empty. First, that
 * the capture works: libxml2's default handler writes a parse error there. */
static void nothing_on_stderr(void)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("xmpp-stderr-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    xmlDocPtr d = xmlReadMemory("<a><b></a>", 10, "control.xml", NULL, 0);
    g_assert_null(d);
    fflush(stderr);
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    bool captured = st.st_size > 0;
    g_assert_cmpint(ftruncate(fd, 0), ==, 0);
    lseek(fd, 0, SEEK_SET);

    header_checks();
    bad_xml();
    restricted_xml();
    encodings();
    depth_limit();
    close_reset_finish();
    /* an encoding libxml2 converts, then a byte that does not convert */
    const char *utf16 = "<?xml version='1.0' encoding='UTF-16'?><a>";
    g_free(run("\x4c\x6f\xa7\x94\xff\xff\xff", 7, 0, 0, NULL, NULL));
    g_free(run(utf16, strlen(utf16), 0, 0, NULL, NULL));
    g_free(run("\xff\xfe<\0a\0\x00\xd8\x00\x00", 10, 0, 0, NULL, NULL));

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    g_assert_true(captured);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_autofree char *leaked = NULL;
    g_file_get_contents(path, &leaked, NULL, NULL);
    if (st.st_size != 0)
        g_error("libxml2 wrote to stderr: %s", leaked);
    close(fd);
    g_unlink(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmpp-stream/s2s-header", s2s_header);
    g_test_add_func("/xmpp-stream/component-header", component_header);
    g_test_add_func("/xmpp-stream/header-checks", header_checks);
    g_test_add_func("/xmpp-stream/stanzas", stanzas);
    g_test_add_func("/xmpp-stream/every-split", every_split);
    g_test_add_func("/xmpp-stream/many-stanzas", many_stanzas);
    g_test_add_func("/xmpp-stream/bad-xml", bad_xml);
    g_test_add_func("/xmpp-stream/restricted-xml", restricted_xml);
    g_test_add_func("/xmpp-stream/encodings", encodings);
    g_test_add_func("/xmpp-stream/size-limit", size_limit);
    g_test_add_func("/xmpp-stream/slow-start-tag", slow_start_tag);
    g_test_add_func("/xmpp-stream/name-dictionary", name_dictionary);
    g_test_add_func("/xmpp-stream/depth-limit", depth_limit);
    g_test_add_func("/xmpp-stream/close-reset-finish", close_reset_finish);
    g_test_add_func("/xmpp-stream/header-writer", header_writer);
    g_test_add_func("/xmpp-stream/nothing-on-stderr", nothing_on_stderr);
    return g_test_run();
}
