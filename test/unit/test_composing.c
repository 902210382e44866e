/* Unit tests for core/msrp/composing.c: the RFC 3994 examples, formatting round trips, and
 * documents refused with a reason (not XML, wrong root or name space, bad state or refresh,
 * a DTD with entities, too large). */
#include "msrp/composing.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

/* RFC 3994 §6 (the examples of an active and an idle notice) */
static const char active[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"\n"
                             "  xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
                             "  xsi:schemaLocation=\"urn:ietf:params:xml:ns:im-composing "
                             "iscomposing.xsd\">\n"
                             "  <state>active</state>\n"
                             "  <contenttype>text/plain</contenttype>\n"
                             "  <refresh>90</refresh>\n"
                             "</isComposing>\n";
static const char idle[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\n"
                           "  <state>idle</state>\n"
                           "  <lastactive>2003-01-27T10:43:00Z</lastactive>\n"
                           "  <contenttype>audio</contenttype>\n"
                           "</isComposing>\n";

static void rfc_examples(void)
{
    struct sylk_composing c;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_composing_parse(active, strlen(active), &c, &error), ==, 0);
    g_assert_true(c.active);
    g_assert_cmpstr(c.content_type, ==, "text/plain");
    g_assert_cmpuint(c.refresh, ==, 90);
    g_autofree char *text = sylk_composing_format(&c);
    struct sylk_composing again;
    g_assert_cmpint(sylk_composing_parse(text, strlen(text), &again, &error), ==, 0);
    g_assert_true(again.active && again.refresh == 90);
    g_assert_cmpstr(again.content_type, ==, "text/plain");
    sylk_composing_clear(&again);
    sylk_composing_clear(&c);

    g_assert_cmpint(sylk_composing_parse(idle, strlen(idle), &c, &error), ==, 0);
    g_assert_false(c.active);
    g_assert_cmpstr(c.last_active, ==, "2003-01-27T10:43:00Z");
    g_assert_cmpuint(c.refresh, ==, 0);
    sylk_composing_clear(&c);

    struct sylk_composing odd = {.active = true, .content_type = "text/<&>\r;x"};
    g_autofree char *escaped = sylk_composing_format(&odd);
    g_assert_nonnull(strstr(escaped, "text/&lt;&amp;&gt;&#13;;x"));
    struct sylk_composing back;
    g_assert_cmpint(sylk_composing_parse(escaped, strlen(escaped), &back, &error), ==, 0);
    g_assert_cmpstr(back.content_type, ==, odd.content_type); /* the CR survives */
    sylk_composing_clear(&back);
}

static void refused(void)
{
    static const struct {
        const char *doc, *why;
    } cases[] = {
        {"typing...", "not well-formed"},
        {"<isComposing><state>active</state></isComposing>", "root is not"},
        {"<x xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"/>", "root is not"},
        {"<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"/>", "no state"},
        {"<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>typing</state>"
         "</isComposing>",
         "neither active nor idle"},
        {"<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state>"
         "<refresh>soon</refresh></isComposing>",
         "refresh"},
        {"<?xml version=\"1.0\"?><!DOCTYPE isComposing [<!ENTITY x \"active\">]>"
         "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>&x;</state>"
         "</isComposing>",
         "DTD"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct sylk_composing c;
        g_autofree char *error = NULL;
        g_assert_cmpint(sylk_composing_parse(cases[i].doc, strlen(cases[i].doc), &c, &error), ==,
                        -EBADMSG);
        if (!error || !strstr(error, cases[i].why))
            g_error("case %zu: '%s' does not say '%s'", i, error, cases[i].why);
    }
    g_autofree char *big = g_strnfill(SYLK_COMPOSING_MAX_BYTES + 1, ' ');
    struct sylk_composing c;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_composing_parse(big, strlen(big), &c, &error), ==, -EBADMSG);
    g_assert_nonnull(strstr(error, "too large"));
    /* a value that, escaped, would make what we write back too large to read (fuzzer find) */
    g_autofree char *dels = g_strnfill(300, '\x7f');
    g_autofree char *doc = g_strdup_printf(
        "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state>"
        "<contenttype>%s</contenttype></isComposing>",
        dels);
    g_autofree char *why = NULL;
    g_assert_cmpint(sylk_composing_parse(doc, strlen(doc), &c, &why), ==, -EBADMSG);
    g_assert_nonnull(strstr(why, "contenttype is too long"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/composing/rfc3994-examples", rfc_examples);
    g_test_add_func("/composing/refused", refused);
    return g_test_run();
}
