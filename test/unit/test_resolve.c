/*
 * test_resolve.c — what net/resolve.c does without a DNS server: RFC 2782 ordering of SRV
 * records driven by a scripted random source, a "." target, IP literals answered later on the
 * main context (never inside the call), cancellation, bad arguments, leftovers at stop.
 * Lookups against a real DNS server: test/integration/test_probe_net.py (dnsmasq).
 */
#include "net/resolve.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

/* ------------------------------------------------------------ RFC 2782 order --- */

struct script {
    const unsigned *picks; /* what random returns, in turn */
    unsigned maxima[16];   /* the max it was asked for, in turn */
    unsigned calls;
};

static unsigned scripted(unsigned max, void *user_data)
{
    struct script *s = user_data;
    g_assert_cmpuint(s->calls, <, G_N_ELEMENTS(s->maxima));
    s->maxima[s->calls] = max;
    unsigned pick = s->picks[s->calls++];
    g_assert_cmpuint(pick, <=, max);
    return pick;
}

static char *targets_of(const struct sylk_srv_record *r, size_t n)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", r[i].target);
    return g_string_free(s, FALSE);
}

static void test_priority_first(void)
{
    struct sylk_srv_record r[] = {
        {30, 5, 1, "c"}, {10, 5, 1, "a"}, {20, 5, 1, "b"}, {10, 5, 1, "a2"}};
    static const unsigned picks[] = {0};
    struct script s = {.picks = picks};
    g_assert_cmpuint(sylk_srv_order(r, 4, scripted, &s), ==, 4);
    g_autofree char *order = targets_of(r, 4);
    g_assert_cmpstr(order, ==, "a a2 b c"); /* pick 0 in {a, a2}: a, then a2 is left */
    g_assert_cmpuint(s.calls, ==, 1);       /* one draw: a group of one needs none */
    g_assert_cmpuint(s.maxima[0], ==, 10);
}

/* RFC 2782: weight-0 records first in the running sums; the first whose running sum is >= the
 * number drawn (0..sum inclusive) is next. */
static void test_weighted_draws(void)
{
    static const struct {
        unsigned picks[2];
        const char *order;
        unsigned second_max;
    } cases[] = {
        {{0, 0}, "zero light heavy", 40},   /* 0 selects the weight-0 record */
        {{1, 0}, "light zero heavy", 30},   /* 1..10: light (running sum 10) */
        {{10, 30}, "light heavy zero", 30}, /* then among zero(0), heavy(30): 30 → heavy */
        {{11, 0}, "heavy zero light", 10},  /* 11..40: heavy (running sum 40) */
        {{40, 10}, "heavy light zero", 10},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct sylk_srv_record r[] = {{1, 10, 1, "light"}, {1, 30, 1, "heavy"}, {1, 0, 1, "zero"}};
        struct script s = {.picks = cases[i].picks};
        g_assert_cmpuint(sylk_srv_order(r, 3, scripted, &s), ==, 3);
        g_autofree char *order = targets_of(r, 3);
        g_assert_cmpstr(order, ==, cases[i].order);
        g_assert_cmpuint(s.calls, ==, 2);
        g_assert_cmpuint(s.maxima[0], ==, 40); /* the sum of the group's weights */
        g_assert_cmpuint(s.maxima[1], ==, cases[i].second_max);
    }
}

static void test_groups_drawn_separately(void)
{
    struct sylk_srv_record r[] = {
        {20, 1, 1, "b1"}, {10, 0, 1, "a1"}, {20, 3, 1, "b2"}, {10, 0, 1, "a2"}};
    static const unsigned picks[] = {0, 4};
    struct script s = {.picks = picks};
    g_assert_cmpuint(sylk_srv_order(r, 4, scripted, &s), ==, 4);
    g_autofree char *order = targets_of(r, 4);
    g_assert_cmpstr(order, ==, "a1 a2 b2 b1");
    g_assert_cmpuint(s.maxima[0], ==, 0); /* priority 10: all weight 0 */
    g_assert_cmpuint(s.maxima[1], ==, 4); /* priority 20: 1 + 3 */
}

static void test_dot_target(void)
{
    static const unsigned picks[] = {0};
    struct script s = {.picks = picks};
    struct sylk_srv_record none[] = {{0, 0, 0, "."}};
    g_assert_cmpuint(sylk_srv_order(none, 1, scripted, &s), ==, 0);
    struct sylk_srv_record empty[] = {{0, 0, 0, ""}};
    g_assert_cmpuint(sylk_srv_order(empty, 1, scripted, &s), ==, 0);
    struct sylk_srv_record mixed[] = {{5, 0, 0, "."}, {10, 0, 5269, "xmpp.example.com"}};
    g_assert_cmpuint(sylk_srv_order(mixed, 2, scripted, &s), ==, 1);
    g_assert_cmpstr(mixed[0].target, ==, "xmpp.example.com");
    g_assert_cmpuint(mixed[0].port, ==, 5269);
    g_assert_cmpuint(s.calls, ==, 0);
}

/* ---------------------------------------------------------- on the main loop --- */

struct answer {
    unsigned calls;
    int status;
    char *addresses; /* "addr port target;…" */
};

static void on_answer(sylk_resolve *q, int status, const struct sylk_resolved_address *a,
                      size_t count, void *user_data)
{
    struct answer *ans = user_data;
    (void)q;
    ans->calls++;
    ans->status = status;
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < count; i++) {
        g_assert_cmpuint(a[i].struct_size, ==, sizeof(a[i]));
        g_string_append_printf(s, "%s%s %u %s", i ? ";" : "", a[i].address, a[i].port, a[i].target);
    }
    g_free(ans->addresses);
    ans->addresses = g_string_free(s, FALSE);
}

static void spin(unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        g_main_context_iteration(NULL, FALSE); /* one dispatch: a writable fd stays ready */
        g_usleep(1000);
    }
}

static void test_literals_later(void)
{
    struct sylk_resolver r = {0};
    struct answer v4 = {0}, v6 = {0}, none = {0};
    g_assert_nonnull(
        sylk_resolve_start(&r, "xmpp-server", "tcp", "192.0.2.1", 5269, on_answer, &v4));
    g_assert_nonnull(sylk_resolve_start(&r, NULL, NULL, "[2001:db8::1]", 5222, on_answer, &v6));
    /* A literal has no SRV records: with no fallback port there is nothing to connect to. */
    g_assert_nonnull(
        sylk_resolve_start(&r, "_xmpp-server", "_tcp", "192.0.2.1", 0, on_answer, &none));
    g_assert_cmpuint(v4.calls + v6.calls + none.calls, ==, 0); /* never inside the call */
    spin(5);
    g_assert_cmpuint(v4.calls, ==, 1);
    g_assert_cmpint(v4.status, ==, 0);
    g_assert_cmpstr(v4.addresses, ==, "192.0.2.1 5269 192.0.2.1");
    g_assert_cmpuint(v6.calls, ==, 1);
    g_assert_cmpstr(v6.addresses, ==, "2001:db8::1 5222 2001:db8::1");
    g_assert_cmpuint(none.calls, ==, 1);
    g_assert_cmpint(none.status, ==, -ENOENT);
    g_assert_null(r.live);
    g_free(v4.addresses);
    g_free(v6.addresses);
    g_free(none.addresses);
}

static void test_cancel(void)
{
    struct sylk_resolver r = {0};
    struct answer a = {0};
    sylk_resolve *q = sylk_resolve_start(&r, NULL, NULL, "192.0.2.7", 80, on_answer, &a);
    sylk_resolve_cancel(q);
    g_assert_null(r.live);
    spin(5);
    g_assert_cmpuint(a.calls, ==, 0);
    sylk_resolve_cancel(NULL);
}

static void test_bad_arguments(void)
{
    struct sylk_resolver r = {0};
    struct answer a = {0};
    g_assert_null(sylk_resolve_start(&r, "xmpp", "tcp", "example.com", 1, NULL, &a));
    g_assert_null(sylk_resolve_start(&r, "xmpp", "tcp", "", 1, on_answer, &a));
    g_assert_null(sylk_resolve_start(&r, "xmpp", "tcp", NULL, 1, on_answer, &a));
    g_assert_null(sylk_resolve_start(&r, "xmpp", NULL, "example.com", 1, on_answer, &a));
    g_assert_null(sylk_resolve_start(&r, NULL, NULL, "example.com", 0, on_answer, &a));
    g_assert_null(sylk_resolve_start(&r, "", "tcp", "example.com", 1, on_answer, &a));
    g_assert_null(r.live);
}

static void test_leftovers_cancelled(void)
{
    struct sylk_resolver r = {0};
    struct answer a = {0};
    sylk_resolve_start(&r, NULL, NULL, "192.0.2.9", 80, on_answer, &a);
    g_test_expect_message("sylk-resolve", G_LOG_LEVEL_WARNING, "*left the resolution of*");
    g_assert_cmpuint(sylk_resolver_clear(&r, NULL), ==, 1);
    g_test_assert_expected_messages();
    spin(5);
    g_assert_cmpuint(a.calls, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/resolve/srv/priority-first", test_priority_first);
    g_test_add_func("/resolve/srv/weighted-draws", test_weighted_draws);
    g_test_add_func("/resolve/srv/groups-drawn-separately", test_groups_drawn_separately);
    g_test_add_func("/resolve/srv/dot-target", test_dot_target);
    g_test_add_func("/resolve/literals-later", test_literals_later);
    g_test_add_func("/resolve/cancel", test_cancel);
    g_test_add_func("/resolve/bad-arguments", test_bad_arguments);
    g_test_add_func("/resolve/leftovers-cancelled", test_leftovers_cancelled);
    return g_test_run();
}
