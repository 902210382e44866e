/* Unit tests for core/msrp/cpim.c: the RFC 3862 example and a SylkServer-style status notice
 * parse, resolve name spaces and round-trip; addresses; malformed and oversized input. */
#include "msrp/cpim.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

/* RFC 3862 §6 (the example message), with CRLFs. */
static const char rfc3862[] = "From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
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
                              "<body>\r\n"
                              "Here is the text of my message.\r\n"
                              "</body>\r\n";

static const char notice[] = "From: Conference Room <sip:room@conference.example.com>\r\n"
                             "To: <sip:alice@example.com>\r\n"
                             "To: <sip:bob@example.com>\r\n"
                             "DateTime: 2026-11-25T12:00:00+00:00\r\n"
                             "NS: agp <urn:ag-projects:xml:ns:cpim>\r\n"
                             "agp.Message-Type: status\r\n"
                             "\r\n"
                             "Content-Type: text/plain\r\n"
                             "\r\n"
                             "Alice has joined the room";

static void parse_ok(const char *text, struct sylk_cpim *m)
{
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_cpim_parse((const uint8_t *)text, strlen(text), m, &error), ==, 0);
    g_assert_null(error);
}

static void rfc_example(void)
{
    struct sylk_cpim m;
    parse_ok(rfc3862, &m);
    g_assert_cmpstr(sylk_cpim_get(&m, NULL, "from"), ==, "MR SANDERS <im:piglet@100akerwood.com>");
    g_assert_cmpstr(sylk_cpim_get(&m, NULL, "DateTime"), ==, "2000-12-13T13:40:00-08:00");
    g_assert_cmpstr(sylk_cpim_get(&m, "mid:MessageFeatures@id.foo.com", "VitalMessageOption"), ==,
                    "Confirmation-requested");
    g_assert_null(sylk_cpim_get(&m, "urn:other", "VitalMessageOption"));
    const struct sylk_cpim_header *fr = &g_array_index(m.headers, struct sylk_cpim_header, 4);
    g_assert_cmpstr(fr->params, ==, ";lang=fr");
    g_assert_cmpstr(fr->value, ==, "beau temps prevu pour aujourd'hui");
    g_assert_cmpstr(sylk_cpim_content(&m, "Content-Type"), ==, "text/xml; charset=utf-8");
    const char *body = "<body>\r\nHere is the text of my message.\r\n</body>\r\n";
    g_assert_cmpmem(m.body, m.body_len, body, strlen(body));
    g_autoptr(GBytes) again = sylk_cpim_format(&m);
    gsize n;
    const char *wire = g_bytes_get_data(again, &n);
    g_assert_cmpmem(wire, n, rfc3862, strlen(rfc3862));
    sylk_cpim_clear(&m);
}

static void status_notice(void)
{
    struct sylk_cpim m;
    parse_ok(notice, &m);
    g_assert_cmpstr(sylk_cpim_get(&m, "urn:ag-projects:xml:ns:cpim", "Message-Type"), ==, "status");
    g_autoptr(GPtrArray) to = sylk_cpim_get_all(&m, "To");
    g_assert_cmpuint(to->len, ==, 3); /* two and the NULL */
    g_assert_cmpstr(g_ptr_array_index(to, 1), ==, "<sip:bob@example.com>");
    g_assert_cmpstr((const char *)m.body, ==, "Alice has joined the room");

    /* built from parts, it is the same bytes */
    struct sylk_cpim b;
    sylk_cpim_init(&b);
    for (guint i = 0; i < m.headers->len; i++) {
        const struct sylk_cpim_header *h = &g_array_index(m.headers, struct sylk_cpim_header, i);
        sylk_cpim_add(&b, h->name, h->value);
    }
    sylk_cpim_add_content(&b, "Content-Type", "text/plain");
    sylk_cpim_set_body(&b, "Alice has joined the room", 25);
    g_autoptr(GBytes) wire = sylk_cpim_format(&b);
    gsize n;
    g_assert_cmpmem(g_bytes_get_data(wire, &n), n, notice, strlen(notice));
    sylk_cpim_clear(&b);
    sylk_cpim_clear(&m);
}

static void bare_newlines(void)
{
    const char *text = "From: <sip:a@b>\nTo: <sip:c@d>\n\nContent-Type: text/plain\n\nhi\n";
    struct sylk_cpim m;
    parse_ok(text, &m);
    g_assert_cmpstr(sylk_cpim_get(&m, NULL, "To"), ==, "<sip:c@d>");
    g_assert_cmpstr((const char *)m.body, ==, "hi\n");
    sylk_cpim_clear(&m);
}

static void addresses(void)
{
    static const struct {
        const char *value, *display, *uri;
    } ok[] = {
        {"MR SANDERS <im:piglet@100akerwood.com>", "MR SANDERS", "im:piglet@100akerwood.com"},
        {"\"Alice \\\"A\\\" Smith\" <sip:alice@example.com>", "Alice \"A\" Smith",
         "sip:alice@example.com"},
        {"<sip:room@conference.example.com>", NULL, "sip:room@conference.example.com"},
        {"  \"\" <sip:x@y>", NULL, "sip:x@y"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        g_autofree char *display = NULL, *uri = NULL;
        g_assert_true(sylk_cpim_address(ok[i].value, &display, &uri));
        g_assert_cmpstr(display, ==, ok[i].display);
        g_assert_cmpstr(uri, ==, ok[i].uri);
    }
    const char *bad[] = {"sip:alice@example.com", "Alice <>", "Alice <sip:a", NULL};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *display = NULL, *uri = NULL;
        g_assert_false(sylk_cpim_address(bad[i], &display, &uri));
    }
    g_autofree char *a = sylk_cpim_format_address("Alice \"A\"", "sip:a@b");
    g_assert_cmpstr(a, ==, "\"Alice \\\"A\\\"\" <sip:a@b>");
    g_autofree char *b = sylk_cpim_format_address(NULL, "sip:a@b");
    g_assert_cmpstr(b, ==, "<sip:a@b>");
}

static void malformed(void)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"From: <sip:a@b>\r\n", "blank line"},
        {"From: <sip:a@b>\r\n\r\nX-Not-Type: a\r\n\r\nbody", "no Content-Type"},
        {"From <sip:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\n", "bad character"},
        {": x\r\n\r\n", "without a name"},
        {"From:<sip:a@b>\r\n\r\n", "space must follow"},
        {"From: a\001b\r\n\r\n", "control character"},
        {"From: <sip:a@b>\r\n\r\nContent-Type: text/plain\r\n", "blank line"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct sylk_cpim m;
        g_autofree char *error = NULL;
        g_assert_cmpint(
            sylk_cpim_parse((const uint8_t *)cases[i].text, strlen(cases[i].text), &m, &error), ==,
            -EBADMSG);
        if (!error || !strstr(error, cases[i].why))
            g_error("case %zu: '%s' does not say '%s'", i, error, cases[i].why);
    }
    /* bounded: too many headers, and a line longer than the limit */
    GString *many = g_string_new(NULL);
    for (int i = 0; i <= SYLK_CPIM_MAX_HEADERS; i++)
        g_string_append_printf(many, "X-%d: v\r\n", i);
    g_string_append(many, "\r\nContent-Type: text/plain\r\n\r\n");
    struct sylk_cpim m;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_cpim_parse((const uint8_t *)many->str, many->len, &m, &error), ==,
                    -EBADMSG);
    g_assert_nonnull(strstr(error, "too many"));
    g_string_free(many, TRUE);
    g_clear_pointer(&error, g_free);
    g_autofree char *longv = g_strnfill(SYLK_CPIM_MAX_LINE + 10, 'v');
    g_autofree char *text = g_strconcat("From: ", longv, "\r\n\r\n", NULL);
    g_assert_cmpint(sylk_cpim_parse((const uint8_t *)text, strlen(text), &m, &error), ==, -EBADMSG);
    g_assert_nonnull(strstr(error, "too long"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cpim/rfc3862-example", rfc_example);
    g_test_add_func("/cpim/status-notice", status_notice);
    g_test_add_func("/cpim/bare-newlines", bare_newlines);
    g_test_add_func("/cpim/addresses", addresses);
    g_test_add_func("/cpim/malformed", malformed);
    return g_test_run();
}
