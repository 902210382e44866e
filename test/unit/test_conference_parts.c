/* Unit tests for the conference plugin's pure parts: RFC 4575 documents (valid against the
 * RFC's schema, text escaped, users and endpoints in order, the AG Projects extensions) and
 * the access policy (allow,deny and deny,allow; all, domains, users; ports and case). */
#include "confinfo.h"
#include "files.h"
#include "policy.h"
#include "screen.h"

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdlib.h>
#include <string.h>

static bool valid(const char *doc, size_t len)
{
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(SCHEMA_DIR "/conference-info.xsd");
    xmlSchemaPtr schema = xmlSchemaParse(pc);
    g_assert_nonnull(schema);
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    xmlDocPtr d = xmlReadMemory(doc, (int)len, "confinfo.xml", NULL, XML_PARSE_NONET);
    bool ok = d && xmlSchemaValidateDoc(vc, d) == 0;
    xmlFreeDoc(d);
    xmlSchemaFreeValidCtxt(vc);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pc);
    return ok;
}

static void rfc_example_is_valid(void)
{
    g_autofree char *text = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(SCHEMA_DIR "/rfc4575-example.xml", &text, &len, NULL));
    g_assert_true(valid(text, len));
    const char *no_entity = "<conference-info xmlns=\"urn:ietf:params:xml:ns:conference-info\" "
                            "version=\"1\"/>";
    g_assert_false(valid(no_entity, strlen(no_entity)));
}

/* The string value of an XPath expression over a document (ci: and agp: name spaces). */
static char *xpath(const char *doc, size_t len, const char *expr)
{
    xmlDocPtr d = xmlReadMemory(doc, (int)len, "confinfo.xml", NULL, XML_PARSE_NONET);
    g_assert_nonnull(d);
    xmlXPathContextPtr ctx = xmlXPathNewContext(d);
    xmlXPathRegisterNs(ctx, BAD_CAST "ci", BAD_CAST CONFINFO_NS);
    xmlXPathRegisterNs(ctx, BAD_CAST "agp", BAD_CAST CONFINFO_AGP_NS);
    g_autofree char *wrapped = g_strdup_printf("string(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST wrapped, ctx);
    g_assert_nonnull(o);
    char *out = g_strdup((const char *)o->stringval);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(d);
    return out;
}

static int count(const char *doc, size_t len, const char *expr)
{
    g_autofree char *n = g_strdup_printf("count(%s)", expr);
    g_autofree char *got = xpath(doc, len, n);
    return atoi(got);
}

#define ASSERT_XPATH(doc, len, expr, want)                                                         \
    do {                                                                                           \
        g_autofree char *got_ = xpath(doc, len, expr);                                             \
        g_assert_cmpstr(got_, ==, want);                                                           \
    } while (0)

static const char sha1_pairs[] = "3b:a8:0f:22:1c:9e:00:ab:cd:ef:12:34:56:78:9a:bc:de:f0:01:ff";

static void room_document(void)
{
    const struct confinfo_media media[] = {{"audio", "audio", "sendrecv"},
                                           {"chat", "message", "sendrecv"}};
    const struct confinfo_endpoint eps[] = {
        {"sip:alice@10.0.0.1:5060", "<b>Al & \"co\"</b>", "connected", "2026-11-26T10:00:00Z",
         media, 2, false},
        {"sip:alice@10.0.0.2", NULL, "on-hold", "2026-11-26T10:01:00Z", media, 1, false},
        {"sip:bob@example.com", "Bob", "connected", "2026-11-26T10:02:00Z", media + 1, 1, true},
    };
    const struct confinfo_user users[] = {
        {"sip:alice@example.com", "<b>Al & \"co\"</b>", NULL, eps, 2},
        {"sip:bob@example.com", "Bob", "https://example.com/screen/abc", eps + 2, 1},
    };
    const struct confinfo_file files[] = {
        {"a<b>.txt", sha1_pairs, "sip:bob@example.com", "AG Projects", 42},
        {"b.pdf", sha1_pairs, "sip:carol@example.com", NULL, 151036},
        {"c.txt", sha1_pairs, "sip:dave@example.com", "Dave \"The\" <Boss>: \\o/", 1},
    };
    struct confinfo info = {.entity = "sip:room@conference.example.com",
                            .version = 7,
                            .display_text = "Conference room@conference.example.com",
                            .free_text = "Hosted by sylkserver-c",
                            .web_page = "https://example.com/",
                            .users = users,
                            .user_count = 2,
                            .files = files,
                            .file_count = 3};
    size_t len;
    g_autofree char *doc = confinfo_build(&info, &len);
    g_assert_cmpuint(strlen(doc), ==, len);
    g_assert_true(valid(doc, len));
    ASSERT_XPATH(doc, len, "/ci:conference-info/@version", "7");
    ASSERT_XPATH(doc, len, "//ci:user[1]/ci:display-text", "<b>Al & \"co\"</b>");
    g_assert_null(strstr(doc, "<b>"));
    ASSERT_XPATH(doc, len, "//ci:conference-state/ci:user-count", "2");
    ASSERT_XPATH(doc, len, "//ci:endpoint[@entity='sip:alice@10.0.0.2']/ci:status", "on-hold");
    /* the focus URI, as SylkServer lists it */
    ASSERT_XPATH(doc, len, "//ci:conference-description/ci:conf-uris/ci:entry/ci:uri",
                 "sip:room@conference.example.com");
    ASSERT_XPATH(doc, len, "//ci:conference-description/ci:conf-uris/ci:entry/ci:purpose",
                 "participation");
    /* RFC 4575 5.6.3: how each endpoint came in; the room called bob (REFER) */
    ASSERT_XPATH(doc, len, "//ci:endpoint[@entity='sip:alice@10.0.0.1:5060']/ci:joining-method",
                 "dialed-in");
    ASSERT_XPATH(doc, len, "//ci:endpoint[@entity='sip:bob@example.com']/ci:joining-method",
                 "dialed-out");
    /* sipsimple's ScreenImageURL: element text in the user */
    ASSERT_XPATH(doc, len, "//ci:user[@entity='sip:bob@example.com']/agp:screen_image_url",
                 "https://example.com/screen/abc");
    /*
     * sipsimple's FileResource, as SylkServer sends it: every field an attribute (no child
     * elements), the hash "sha1:" and upper-case pairs, the sender "Display <URI>" (quoted
     * when the name holds what would end it) or the URI alone.
     */
    const char *file = "//ci:conference-description/agp:resources/agp:files/agp:file";
    g_assert_cmpint(count(doc, len, file), ==, 3);
    g_assert_cmpint(count(doc, len, "//agp:file/*"), ==, 0);
    ASSERT_XPATH(doc, len, "//agp:file[1]/@name", "a<b>.txt");
    ASSERT_XPATH(doc, len, "//agp:file[1]/@hash",
                 "sha1:3B:A8:0F:22:1C:9E:00:AB:CD:EF:12:34:56:78:9A:BC:DE:F0:01:FF");
    ASSERT_XPATH(doc, len, "//agp:file[1]/@size", "42");
    ASSERT_XPATH(doc, len, "//agp:file[1]/@sender", "AG Projects <sip:bob@example.com>");
    ASSERT_XPATH(doc, len, "//agp:file[1]/@status", "OK");
    ASSERT_XPATH(doc, len, "//agp:file[2]/@sender", "sip:carol@example.com");
    ASSERT_XPATH(doc, len, "//agp:file[2]/@size", "151036");
    ASSERT_XPATH(doc, len, "//agp:file[3]/@sender",
                 "\"Dave \\\"The\\\" <Boss>: \\\\o/\" <sip:dave@example.com>");
    /* alice's two endpoints sit in her user element, before bob's */
    const char *alice = strstr(doc, "entity=\"sip:alice@example.com\"");
    const char *second = strstr(doc, "entity=\"sip:alice@10.0.0.2\"");
    const char *bob = strstr(doc, "entity=\"sip:bob@example.com\"");
    g_assert_true(alice && second && bob && alice < second && second < bob);

    struct confinfo empty = {.entity = "sip:room@x", .version = 1, .display_text = "x"};
    g_autofree char *none = confinfo_build(&empty, &len);
    g_assert_true(valid(none, len));
    ASSERT_XPATH(none, len, "//ci:conference-state/ci:active", "false");
    g_assert_cmpint(count(none, len, "//agp:resources"), ==, 0);
}

/* One document per change, stamped per subscriber: only the root's version changes. */
static void versions_stamped(void)
{
    struct confinfo info = {.entity = "sip:version=\"9\"@x", .version = 0, .display_text = "x"};
    size_t len, stamped_len;
    g_autofree char *doc = confinfo_build(&info, &len);
    g_autofree char *stamped = confinfo_with_version(doc, len, 4294967295u, &stamped_len);
    g_assert_nonnull(stamped);
    g_assert_true(valid(stamped, stamped_len));
    ASSERT_XPATH(stamped, stamped_len, "/ci:conference-info/@version", "4294967295");
    ASSERT_XPATH(stamped, stamped_len, "/ci:conference-info/@entity", "sip:version=\"9\"@x");
    g_assert_cmpuint(stamped_len, ==, len + 9);
    g_assert_null(confinfo_with_version("<x/>", 4, 1, &stamped_len));
    g_assert_null(confinfo_with_version("<conference-info version=\"1", 27, 1, &stamped_len));
}

static void uri_keys(void)
{
    const char *cases[][2] = {
        {"sip:Alice@Example.COM", "alice@example.com"},
        {"sips:alice@example.com:5061;transport=tls", "alice@example.com"},
        {"sip:room@[::1]:5060", "room@[::1]"},
        {"alice@example.com?subject=x", "alice@example.com"},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *key = conf_uri_key(cases[i][0]);
        g_assert_cmpstr(key, ==, cases[i][1]);
    }
}

static void policies(void)
{
    const char *all[] = {"all", NULL};
    const char *evil[] = {"evil.example.com", "sip:Mallory@example.com", NULL};
    const char *vip[] = {"alice@example.com", NULL};
    struct conf_policy open = {false, all, evil};
    g_assert_true(conf_policy_allows(&open, "sip:bob@example.com"));
    g_assert_false(conf_policy_allows(&open, "sip:eve@evil.example.com"));
    g_assert_false(conf_policy_allows(&open, "sip:mallory@example.com:5060"));
    g_assert_true(conf_policy_allows(&open, "sip:eve@notevil.example.com"));
    struct conf_policy closed = {false, vip, NULL};
    g_assert_true(conf_policy_allows(&closed, "sip:alice@example.com"));
    g_assert_false(conf_policy_allows(&closed, "sip:bob@example.com"));
    struct conf_policy deny_first = {true, vip, all}; /* deny everybody but alice */
    g_assert_true(conf_policy_allows(&deny_first, "sip:alice@example.com"));
    g_assert_false(conf_policy_allows(&deny_first, "sip:bob@example.com"));
    struct conf_policy nothing = {false, NULL, NULL};
    g_assert_false(conf_policy_allows(&nothing, "sip:alice@example.com"));
    struct conf_policy lenient = {true, NULL, NULL};
    g_assert_true(conf_policy_allows(&lenient, "sip:alice@example.com"));
}

static void stored_names(void)
{
    static const struct {
        const char *offered, *stored;
    } cases[] = {
        {"report.pdf", "report.pdf"},
        {"../../etc/passwd", "passwd"},
        {"C:\\Users\\me\\photo.jpg", "photo.jpg"},
        {".hidden", "hidden"},
        {"..", "file"},
        {"", "file"},
        {NULL, "file"},
        {"dir/", "file"},
        {"a\tb\nc:d\"e", "a_b_c_d_e"},
        {" .meta", "meta"},
        {"trailing  ", "trailing"},
        {"caf\xc3\xa9.txt", "caf\xc3\xa9.txt"},
        {"bad\xff\xfeutf8", "bad"},
        {"name  \x80 rest", "name"}, /* trimmed after the cut (a fuzzer find) */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = files_sanitize_name(cases[i].offered);
        g_assert_cmpstr(got, ==, cases[i].stored);
    }
    /* a decoded screen image is a whole JPEG, raw or base64 */
    static const guint8 jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0xff, 0xd9};
    g_autoptr(GBytes) raw = screen_decode(jpeg, sizeof(jpeg));
    g_assert_nonnull(raw);
    g_assert_cmpuint(g_bytes_get_size(raw), ==, sizeof(jpeg));
    g_autofree char *b64 = g_base64_encode(jpeg, sizeof(jpeg));
    g_autoptr(GBytes) decoded = screen_decode(b64, strlen(b64));
    g_assert_nonnull(decoded);
    g_assert_cmpmem(g_bytes_get_data(decoded, NULL), sizeof(jpeg), jpeg, sizeof(jpeg));
    g_assert_null(screen_decode("\x89PNG\r\n\x1a\n", 8));
    g_assert_null(screen_decode(jpeg, sizeof(jpeg) - 1)); /* cut short: no EOI */
    g_assert_null(screen_decode("aGVsbG8=", 8));          /* base64 of "hello" */
    g_assert_null(screen_decode("", 0));
    /* too short for any JPEG: refused before GLib's decoder, which asserts on one character */
    for (const char *c = "A= \n"; *c; c++)
        g_assert_null(screen_decode(c, 1));
    g_assert_null(screen_decode("AAAA", 4)); /* three bytes */
    g_assert_null(screen_decode("A===", 4));
    g_autofree char *long_name = g_strnfill(1000, 'x');
    g_autofree char *cut = files_sanitize_name(long_name);
    g_assert_cmpuint(strlen(cut), ==, 200);
    /* a multi-byte character cut at the limit leaves valid UTF-8 */
    GString *many = g_string_new("x");
    for (int i = 0; i < 150; i++)
        g_string_append(many, "\xc3\xa9");
    g_autofree char *cut2 = files_sanitize_name(many->str);
    g_string_free(many, TRUE);
    g_assert_true(g_utf8_validate(cut2, -1, NULL));
    g_assert_cmpuint(strlen(cut2), <=, 200);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conference/rfc4575-example-is-valid", rfc_example_is_valid);
    g_test_add_func("/conference/room-document", room_document);
    g_test_add_func("/conference/versions-stamped", versions_stamped);
    g_test_add_func("/conference/uri-keys", uri_keys);
    g_test_add_func("/conference/policies", policies);
    g_test_add_func("/conference/stored-names", stored_names);
    int rc = g_test_run();
    xmlCleanupParser();
    return rc;
}
