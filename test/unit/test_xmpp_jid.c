/* Unit tests for the XMPP gateway's addresses (plugins/xmppgw/jid): RFC 7622 §3.5 examples
 * of valid and invalid JIDs, preparation and comparison, lengths, XEP-0106 escaping (its §5
 * examples), the SIP <-> JID mapping of RFC 7247 §5 as jid.h documents it, round trips, and
 * the jid-malformed answer to a stanza with a bad address. */
#include "errors.h"
#include "jid.h"
#include "ns.h"

#include <glib.h>
#include <string.h>

/* prepared full form of s, or NULL when refused */
static char *prepared(const char *s)
{
    struct xmpp_jid jid;
    const char *why = NULL;
    if (xmpp_jid_parse(s, &jid, &why) != 0) {
        g_assert_nonnull(why);
        return NULL;
    }
    char *out = xmpp_jid_format(&jid, true);
    xmpp_jid_clear(&jid);
    return out;
}

static void rfc7622_examples(void)
{
    const struct {
        const char *in, *out;
    } valid[] = {
        {"juliet@example.com", "juliet@example.com"},
        {"juliet@example.com/foo", "juliet@example.com/foo"},
        {"juliet@example.com/foo bar", "juliet@example.com/foo bar"},
        {"juliet@example.com/foo@bar", "juliet@example.com/foo@bar"},
        {"foo\\20bar@example.com", "foo\\20bar@example.com"},
        {"fussball@example.com", "fussball@example.com"},
        {"fu\xc3\x9f"
         "ball@example.com",
         "fu\xc3\x9f"
         "ball@example.com"},
        {"\xcf\x80@example.com", "\xcf\x80@example.com"},                   /* π */
        {"\xce\xa3@example.com/foo", "\xcf\x83@example.com/foo"},           /* Σ -> σ */
        {"\xcf\x83@example.com/foo", "\xcf\x83@example.com/foo"},           /* σ */
        {"\xcf\x82@example.com/foo", "\xcf\x82@example.com/foo"},           /* ς */
        {"king@example.com/\xe2\x99\x9a", "king@example.com/\xe2\x99\x9a"}, /* ♚ */
        {"example.com", "example.com"},
        {"example.com/foobar", "example.com/foobar"},
        {"a.example.com/b@example.net", "a.example.com/b@example.net"},
        {"juliet@example.com/ foo", "juliet@example.com/ foo"},
        /* preparation */
        {"Juliet@EXAMPLE.com./Balcony", "juliet@example.com/Balcony"},
        {"bob@xn--mnchen-3ya.de", "bob@m\xc3\xbcnchen.de"},
        {"bob@M\xc3\x9cnchen.DE", "bob@m\xc3\xbcnchen.de"},
        {"e\xcc\x81@example.com", "\xc3\xa9@example.com"}, /* NFC */
        {"user@[2001:DB8::1]/r", "user@[2001:db8::1]/r"},
        {"user@192.0.2.1", "user@192.0.2.1"},
        {"localhost", "localhost"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(valid); i++) {
        g_autofree char *out = prepared(valid[i].in);
        g_assert_cmpstr(out, ==, valid[i].out);
        g_autofree char *again = prepared(out); /* prepared is stable */
        g_assert_cmpstr(again, ==, out);
    }
    const char *invalid[] = {
        "\"juliet\"@example.com",
        "foo bar@example.com",
        "juliet@example.com/",
        "@example.com/",
        "@example.com",
        "juliet@",
        "",
        "/foo",
        "henry\xe2\x85\xa3@example.com", /* Roman numeral four: not a letter or digit */
        "\xe2\x99\x9a@example.com",      /* ♚ in a localpart */
        "juliet@example@com",
        "jul\x01iet@example.com",
        "juliet@example.com/a\x7f",
        "juliet@example.com/\xef\xbf\xbe",
        "juli\xc3@example.com",
        "juliet@exa mple.com",
        "juliet@a_b.com",
        "juliet@-a.com",
        "juliet@a..b",
        "juliet@[::1",
        "juliet@[",
        "juliet@[]",
        "[",
        "juliet@[zz]",
        "juliet@xn--zz.com",
        "juliet@example.com:5222",
    };
    for (guint i = 0; i < G_N_ELEMENTS(invalid); i++) {
        g_autofree char *out = prepared(invalid[i]);
        if (out)
            g_error("'%s' accepted as '%s'", invalid[i], out);
    }
}

static void lengths(void)
{
    g_autofree char *l1023 = g_strnfill(1023, 'a');
    g_autofree char *l1024 = g_strnfill(1024, 'a');
    g_autofree char *l3000 = g_strnfill(3000, 'a');
    g_autofree char *ok = g_strdup_printf("%s@example.com/%s", l1023, l1023);
    g_assert_true(xmpp_jid_valid(ok));
    g_autofree char *long_local = g_strdup_printf("%s@example.com", l1024);
    g_autofree char *long_resource = g_strdup_printf("a@example.com/%s", l1024);
    g_autofree char *huge = g_strdup_printf("%s@example.com", l3000);
    g_assert_false(xmpp_jid_valid(long_local));
    g_assert_false(xmpp_jid_valid(long_resource));
    g_assert_false(xmpp_jid_valid(huge));
    /* a domain: labels up to 63, the name up to 253 bytes in ASCII */
    g_autofree char *label63 = g_strnfill(63, 'd');
    g_autofree char *label64 = g_strnfill(64, 'd');
    g_autofree char *d63 = g_strdup_printf("a@%s.example.com", label63);
    g_autofree char *d64 = g_strdup_printf("a@%s.example.com", label64);
    g_assert_true(xmpp_jid_valid(d63));
    g_assert_false(xmpp_jid_valid(d64));
    g_autofree char *label61 = g_strnfill(61, 'e');
    g_autofree char *label62 = g_strnfill(62, 'e');
    g_autofree char *d253 = g_strdup_printf("%s.%s.%s.%s", label63, label63, label63, label61);
    g_autofree char *d254 = g_strdup_printf("%s.%s.%s.%s", label63, label63, label63, label62);
    g_assert_true(xmpp_jid_valid(d253));
    g_assert_false(xmpp_jid_valid(d254));
    /* 1023 bytes of two-byte letters: 1022 pass, 1024 do not */
    GString *wide = g_string_new(NULL);
    for (int i = 0; i < 511; i++)
        g_string_append(wide, "\xc3\xa9");
    g_string_append(wide, "@example.com");
    g_assert_true(xmpp_jid_valid(wide->str));
    g_string_prepend(wide, "\xc3\xa9");
    g_assert_false(xmpp_jid_valid(wide->str));
    g_string_free(wide, TRUE);
}

static void comparison(void)
{
    struct xmpp_jid a, b, c;
    g_assert_cmpint(xmpp_jid_parse("Juliet@Example.COM/Balcony", &a, NULL), ==, 0);
    g_assert_cmpint(xmpp_jid_parse("juliet@example.com/Balcony", &b, NULL), ==, 0);
    g_assert_cmpint(xmpp_jid_parse("juliet@example.com/balcony", &c, NULL), ==, 0);
    g_assert_true(xmpp_jid_equal(&a, &b, true));
    g_assert_false(xmpp_jid_equal(&b, &c, true)); /* resources keep their case */
    g_assert_true(xmpp_jid_equal(&b, &c, false));
    g_autofree char *bare = xmpp_jid_format(&a, false);
    g_autofree char *full = xmpp_jid_format(&a, true);
    g_assert_cmpstr(bare, ==, "juliet@example.com");
    g_assert_cmpstr(full, ==, "juliet@example.com/Balcony");
    xmpp_jid_clear(&a);
    xmpp_jid_clear(&b);
    xmpp_jid_clear(&c);
    g_assert_cmpint(xmpp_jid_parse("example.com", &a, NULL), ==, 0);
    g_assert_null(a.local);
    g_assert_null(a.resource);
    xmpp_jid_clear(&a);
}

/* XEP-0106 §5's examples: unescaped -> escaped, and back. */
static void xep0106(void)
{
    const struct {
        const char *raw, *escaped;
    } table[] = {
        {"space cadet", "space\\20cadet"},
        {"call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"},
        {"at&t guy", "at\\26t\\20guy"},
        {"d'artagnan", "d\\27artagnan"},
        {"/.fanboy", "\\2f.fanboy"},
        {"::foo::", "\\3a\\3afoo\\3a\\3a"},
        {"<foo>", "\\3cfoo\\3e"},
        {"user@host", "user\\40host"},
        {"c:\\net", "c\\3a\\net"},
        {"c:\\\\net", "c\\3a\\\\net"},
        {"c:\\cool stuff", "c\\3a\\cool\\20stuff"},
        {"c:\\5commas", "c\\3a\\5c5commas"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        g_autofree char *e = xmpp_jid_escape_local(table[i].raw);
        g_assert_cmpstr(e, ==, table[i].escaped);
        g_autofree char *u = xmpp_jid_unescape_local(e);
        g_assert_cmpstr(u, ==, table[i].raw);
        g_autofree char *jid = g_strdup_printf("%s@example.com", e);
        g_assert_true(xmpp_jid_valid(jid));
    }
    g_assert_null(xmpp_jid_escape_local(" lead"));
    g_assert_null(xmpp_jid_escape_local("trail "));
    /* "\5c" alone would come back as "\" and escape to "\" again: not reversible */
    g_assert_null(xmpp_jid_unescape_local("a\\5c"));
    g_assert_null(xmpp_jid_unescape_local("\\20lead"));
    g_autofree char *plain = xmpp_jid_unescape_local("a\\b");
    g_assert_cmpstr(plain, ==, "a\\b");
}

static char *sip_to_jid(const char *uri)
{
    struct xmpp_jid jid;
    const char *why = NULL;
    if (xmpp_jid_from_sip_uri(uri, &jid, &why) != 0) {
        g_assert_nonnull(why);
        return NULL;
    }
    char *s = xmpp_jid_format(&jid, true);
    xmpp_jid_clear(&jid);
    return s;
}

static char *jid_to_sip(const char *s)
{
    struct xmpp_jid jid;
    g_assert_cmpint(xmpp_jid_parse(s, &jid, NULL), ==, 0);
    const char *why = NULL;
    char *uri = xmpp_jid_to_sip_uri(&jid, true, &why);
    g_assert_true(uri || why);
    xmpp_jid_clear(&jid);
    return uri;
}

static void sip_mapping(void)
{
    const struct {
        const char *sip, *jid;
    } to_jid[] = {
        {"sip:alice@example.com", "alice@example.com"},
        {"sips:Alice@EXAMPLE.com:5061;transport=tls", "alice@example.com"},
        {"sip:alice@example.com;gr=balcony", "alice@example.com/balcony"},
        {"SIP:alice@example.com;GR=balcony?subject=hi", "alice@example.com/balcony"},
        {"sip:a%20b%40c@example.com", "a\\20b\\40c@example.com"},
        {"sip:j%C3%BCrgen@example.com", "j\xc3\xbcrgen@example.com"},
        {"sip:example.com", "example.com"},
        {"sip:bob@xn--mnchen-3ya.de", "bob@m\xc3\xbcnchen.de"},
        {"sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
         "alice@example.com/urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
        {"sip:romeo@example.net;gr=dr4hcr0st3lup4c", "romeo@example.net/dr4hcr0st3lup4c"},
        {"sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr",
         "tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com"},
        {"sip:alice@[2001:db8::1]:5060", "alice@[2001:db8::1]"},
        {"sip:+15551234567;x=1@example.com", "+15551234567;x=1@example.com"},
        {"sip:a&b@example.com", "a\\26b@example.com"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(to_jid); i++) {
        g_autofree char *j = sip_to_jid(to_jid[i].sip);
        g_assert_cmpstr(j, ==, to_jid[i].jid);
    }
    const struct {
        const char *jid, *sip;
    } to_sip[] = {
        {"juliet@example.com/balcony", "sip:juliet@example.com;gr=balcony"},
        {"juliet@example.com/bal cony", "sip:juliet@example.com;gr=bal%20cony"},
        {"juliet@example.com/a;b?c=d%e", "sip:juliet@example.com;gr=a%3Bb%3Fc%3Dd%25e"},
        {"a\\20b@example.com", "sip:a%20b@example.com"},
        {"at\\26t\\20guy@example.com", "sip:at&t%20guy@example.com"},
        {"bob@m\xc3\xbcnchen.de", "sip:bob@xn--mnchen-3ya.de"},
        {"j\xc3\xbcrgen@example.com", "sip:j%C3%BCrgen@example.com"},
        {"example.com", "sip:example.com"},
        {"user@[2001:db8::1]/r", "sip:user@[2001:db8::1];gr=r"},
        {"romeo@example.net/\xe2\x99\x9a", "sip:romeo@example.net;gr=%E2%99%9A"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(to_sip); i++) {
        g_autofree char *s = jid_to_sip(to_sip[i].jid);
        g_assert_cmpstr(s, ==, to_sip[i].sip);
        g_autofree char *back = sip_to_jid(s);
        g_assert_cmpstr(back, ==, to_sip[i].jid);
    }
    /* without the resource */
    struct xmpp_jid j;
    g_assert_cmpint(xmpp_jid_parse("juliet@example.com/balcony", &j, NULL), ==, 0);
    g_autofree char *aor = xmpp_jid_to_sip_uri(&j, false, NULL);
    g_assert_cmpstr(aor, ==, "sip:juliet@example.com");
    xmpp_jid_clear(&j);
    /* a localpart whose escapes cannot be undone has no SIP form */
    g_assert_null(jid_to_sip("a\\5c@example.com"));
}

static void sip_refused(void)
{
    const char *refused[] = {
        "tel:+15551234567",
        "xmpp:juliet@example.com",
        "sip:",
        "sip:@example.com",
        "sip:alice:secret@example.com",
        "sip:alice@",
        "sip:alice@example.com:",
        "sip:alice@example.com:50x",
        "sip:alice@exa mple.com",
        "sip:alice@a_b.com",
        "sip:alice@[::1",
        "sip:%20alice@example.com",
        "sip:alice%20@example.com",
        "sip:al%01ice@example.com",
        "sip:al%00ice@example.com",
        "sip:al%zzice@example.com",
        "sip:alice%4@example.com",
        "sip:al%FFice@example.com",
        "sip:al ice@example.com",
        "sip:alice@example.com;gr=",
        "sip:alice@example.com;gr=a;gr=b",
        "sip:alice@example.com;gr=a%01b",
        "sip:alice@example.com;gr=%zz",
        "sip:%E2%99%9A@example.com",
        "sip:alice@m\xc3\xbcnchen.de",
    };
    for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autofree char *j = sip_to_jid(refused[i]);
        if (j)
            g_error("'%s' mapped to '%s'", refused[i], j);
    }
    g_autofree char *user = g_strnfill(1024, 'u');
    g_autofree char *uri = g_strdup_printf("sip:%s@example.com", user);
    g_assert_null(sip_to_jid(uri));
}

/* jid -> sip -> jid is the identity; sip -> jid -> sip -> jid is stable. */
static void round_trips(void)
{
    const char *jids[] = {
        "a@b.c",
        "a.b-c_d+e=f$g,h@example.com/x y/z@w",
        "\\22quoted\\22\\20name@example.com/res",
        "c\\3a\\5c5commas@example.com",
        "caf\xc3\xa9@m\xc3\xbcnchen.de/\xe2\x99\x9a \xe2\x99\x9b",
        "x@[::ffff:192.0.2.1]",
        "192.0.2.1/r",
        "!#$%*+-=?^_`{|}~@example.com/%41",
    };
    for (guint i = 0; i < G_N_ELEMENTS(jids); i++) {
        g_autofree char *p = prepared(jids[i]);
        g_assert_nonnull(p);
        g_autofree char *s = jid_to_sip(p);
        g_assert_nonnull(s);
        g_autofree char *back = sip_to_jid(s);
        g_assert_cmpstr(back, ==, p);
    }
    const char *uris[] = {
        "sip:Bob.Smith+tag@Example.COM:5070;user=ip;gr=Z%20z",
        "sips:%2B1%20555%20123@example.com",
        "sip:a'b(c)!~*@example.com;lr;gr=x",
    };
    for (guint i = 0; i < G_N_ELEMENTS(uris); i++) {
        g_autofree char *j = sip_to_jid(uris[i]);
        g_assert_nonnull(j);
        g_autofree char *s = jid_to_sip(j);
        g_autofree char *j2 = sip_to_jid(s);
        g_assert_cmpstr(j2, ==, j);
    }
}

/* The stream layer hands a stanza over whatever its addresses; the router checks them with
 * xmpp_jid_valid and answers jid-malformed (modify). */
static void jid_malformed_reply(void)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", "romeo@jabber.org/orchard");
    xmpp_node_set_attr(m, "to", "sip user@example.com");
    xmpp_node_set_attr(m, "id", "k1");
    g_assert_false(xmpp_jid_valid(xmpp_node_attr(m, "to")));
    struct xmpp_node *r = xmpp_stanza_error_reply(m, XMPP_STANZA_ERR_JID_MALFORMED, NULL);
    struct xmpp_scope scope = {XMPP_NS_SERVER, true, true};
    g_autofree char *xml = xmpp_node_to_string(r, &scope);
    g_assert_cmpstr(xml, ==,
                    "<message to='romeo@jabber.org/orchard' from='sip user@example.com' id='k1' "
                    "type='error'><error type='modify'><jid-malformed "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    xmpp_node_free(r);
    xmpp_node_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmpp-jid/rfc7622-examples", rfc7622_examples);
    g_test_add_func("/xmpp-jid/lengths", lengths);
    g_test_add_func("/xmpp-jid/comparison", comparison);
    g_test_add_func("/xmpp-jid/xep0106", xep0106);
    g_test_add_func("/xmpp-jid/sip-mapping", sip_mapping);
    g_test_add_func("/xmpp-jid/sip-refused", sip_refused);
    g_test_add_func("/xmpp-jid/round-trips", round_trips);
    g_test_add_func("/xmpp-jid/jid-malformed-reply", jid_malformed_reply);
    return g_test_run();
}
