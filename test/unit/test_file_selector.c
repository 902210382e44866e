/* Unit tests for core/msrp/file_selector.c: RFC 5547 a=file-selector values, the RFC's own
 * example, percent-decoded names, ignored unknown selectors, malformed values, round trips. */
#include "msrp/file_selector.h"

#include <glib.h>

static void rfc_example(void)
{
    /* RFC 5547 §9.1 */
    const char *v = "name:\"My cool picture.jpg\" type:image/jpeg size:32349 "
                    "hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E";
    struct sylk_file_selector sel;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_file_selector_parse(v, &sel, &error), ==, 0);
    g_assert_cmpstr(sel.name, ==, "My cool picture.jpg");
    g_assert_cmpstr(sel.type, ==, "image/jpeg");
    g_assert_cmpuint(sel.size, ==, 32349);
    g_assert_cmpstr(sel.hash_sha1, ==,
                    "72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E");
    g_autofree char *again = sylk_file_selector_format(&sel);
    g_assert_cmpstr(again, ==, v);
    sylk_file_selector_clear(&sel);
}

static void decoding_and_leniency(void)
{
    struct sylk_file_selector sel;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_file_selector_parse("name:\"100%25 %22quoted%22\" future:x "
                                             "hash:md5:00 hash:sha-1:aa:bb:cc:dd:ee:ff:00:11:"
                                             "22:33:44:55:66:77:88:99:aa:bb:cc:dd",
                                             &sel, &error),
                    ==, 0);
    g_assert_cmpstr(sel.name, ==, "100% \"quoted\"");
    g_assert_null(sel.type);
    g_assert_cmpuint(sel.size, ==, 0);
    g_assert_cmpstr(sel.hash_sha1, ==,
                    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD");
    g_autofree char *out = sylk_file_selector_format(&sel);
    g_assert_cmpstr(out, ==,
                    "name:\"100%25 %22quoted%22\" hash:sha-1:AA:BB:CC:DD:EE:FF:00:11:22:33:"
                    "44:55:66:77:88:99:AA:BB:CC:DD");
    sylk_file_selector_clear(&sel);
}

static void malformed(void)
{
    const char *bad[] = {
        NULL,
        "name:unquoted",
        "name:\"\"",
        "name:\"no end",
        "name:\"bad %zz escape\"",
        "name:\"nul %00 byte\"",
        "size:12a",
        "size:",
        "size:99999999999999999999999",
        "type:nosubtype",
        "hash:sha-1:72:24",
        "hash:sha-1:7224:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E:0",
        "name:\"a\"size:1",
        "justaword",
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct sylk_file_selector sel;
        g_autofree char *error = NULL;
        g_assert_cmpint(sylk_file_selector_parse(bad[i], &sel, &error), ==, -22);
        g_assert_nonnull(error);
        g_assert_null(sel.name);
        g_assert_null(sel.hash_sha1);
    }
    g_autofree char *huge = g_strnfill(SYLK_FILE_SELECTOR_MAX + 1, 'a');
    struct sylk_file_selector sel;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_file_selector_parse(huge, &sel, &error), ==, -22);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/file-selector/rfc-example", rfc_example);
    g_test_add_func("/file-selector/decoding-and-leniency", decoding_and_leniency);
    g_test_add_func("/file-selector/malformed", malformed);
    return g_test_run();
}
