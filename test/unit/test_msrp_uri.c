/* Unit tests for core/msrp/uri.c: MSRP URIs of RFC 4975/4976, comparison (§6.1), paths. */
#include "msrp/uri.h"

#include <glib.h>
#include <string.h>

static void parse(const char *text, struct sylk_msrp_uri *u)
{
    g_autofree char *error = NULL;
    if (sylk_msrp_uri_parse(text, strlen(text), u, &error) < 0)
        g_error("%s: %s", text, error);
}

static void examples(void)
{
    struct sylk_msrp_uri u;
    parse("msrp://atlanta.example.com:7654/jshA7weztas;tcp", &u);
    g_assert_false(u.secure);
    g_assert_cmpstr(u.host, ==, "atlanta.example.com");
    g_assert_cmpuint(u.port, ==, 7654);
    g_assert_cmpstr(u.session_id, ==, "jshA7weztas");
    g_assert_cmpstr(u.transport, ==, "tcp");
    g_autofree char *back = sylk_msrp_uri_format(&u);
    g_assert_cmpstr(back, ==, "msrp://atlanta.example.com:7654/jshA7weztas;tcp");
    sylk_msrp_uri_clear(&u);

    parse("msrps://alice@intra.example.com;tcp", &u); /* RFC 4976: a relay, no session */
    g_assert_true(u.secure);
    g_assert_cmpstr(u.user, ==, "alice");
    g_assert_cmpuint(u.port, ==, SYLK_MSRP_DEFAULT_PORT);
    g_assert_null(u.session_id);
    sylk_msrp_uri_clear(&u);

    parse("msrp://[2001:db8::1]:2856/a+b=c/d;TCP;foo=bar", &u);
    g_assert_cmpstr(u.host, ==, "2001:db8::1");
    g_assert_cmpstr(u.session_id, ==, "a+b=c/d");
    g_assert_cmpstr(u.transport, ==, "tcp");
    g_assert_cmpstr(u.params, ==, ";foo=bar");
    g_autofree char *v6 = sylk_msrp_uri_format(&u);
    g_assert_cmpstr(v6, ==, "msrp://[2001:db8::1]:2856/a+b=c/d;tcp;foo=bar");
    sylk_msrp_uri_clear(&u);
}

static void comparison(void)
{
    struct sylk_msrp_uri a, b, c, d;
    parse("MSRP://Alice@ATLANTA.example.COM:7654/jshA7weztas;TCP", &a);
    parse("msrp://atlanta.example.com:7654/jshA7weztas;tcp", &b);
    parse("msrp://atlanta.example.com:7654/JSHA7WEZTAS;tcp", &c); /* session ids are exact */
    parse("msrp://atlanta.example.com/jshA7weztas;tcp", &d);      /* 2855 */
    g_assert_true(sylk_msrp_uri_equal(&a, &b));
    g_assert_false(sylk_msrp_uri_equal(&b, &c));
    g_assert_false(sylk_msrp_uri_equal(&b, &d));
    struct sylk_msrp_uri e;
    parse("msrp://atlanta.example.com:2855/jshA7weztas;tcp", &e);
    g_assert_true(sylk_msrp_uri_equal(&d, &e));
    struct sylk_msrp_uri *all[] = {&a, &b, &c, &d, &e};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        sylk_msrp_uri_clear(all[i]);
}

static void malformed(void)
{
    const char *bad[] = {
        "sip:alice@example.com",
        "msrp://example.com/abc",       /* no transport */
        "msrp://example.com/;tcp",      /* empty session */
        "msrp://:2855/abc;tcp",         /* no host */
        "msrp://example.com:0/abc;tcp", /* port 0 */
        "msrp://example.com:65536/abc;tcp",
        "msrp://example.com:/abc;tcp",
        "msrp://exa mple.com/abc;tcp",
        "msrp://example.com/a b;tcp",
        "msrp://example.com/abc;",
        "msrp://example.com/abc;t-p",
        "msrp://[zz::1]/abc;tcp",
        "msrp://@example.com/abc;tcp",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct sylk_msrp_uri u;
        g_autofree char *error = NULL;
        if (sylk_msrp_uri_parse(bad[i], strlen(bad[i]), &u, &error) == 0)
            g_error("%s was accepted", bad[i]);
        g_assert_nonnull(error);
    }
}

static void paths(void)
{
    g_autofree char *error = NULL;
    g_autoptr(GPtrArray) path = sylk_msrp_path_parse(
        "msrps://relay.example.com:2855;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp", &error);
    g_assert_nonnull(path);
    g_assert_cmpuint(path->len, ==, 2);
    g_assert_cmpstr(((struct sylk_msrp_uri *)g_ptr_array_index(path, 1))->session_id, ==,
                    "9di4eae923wzd");
    g_assert_null(sylk_msrp_path_parse("msrp://ok.example.com/a;tcp bogus", &error));
    g_assert_nonnull(error);
    g_clear_pointer(&error, g_free);
    g_assert_null(sylk_msrp_path_parse("   ", &error));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/msrp-uri/examples", examples);
    g_test_add_func("/msrp-uri/comparison", comparison);
    g_test_add_func("/msrp-uri/malformed", malformed);
    g_test_add_func("/msrp-uri/paths", paths);
    return g_test_run();
}
