/* Unit tests for core/metrics/exposition.c, the Prometheus text format writer: the exact text
 * of families (HELP and TYPE once, samples grouped whatever order they came in), label values
 * and help text escaped, values written as Prometheus reads them, and everything it refuses
 * (bad metric and label names, reserved labels, an odd label list, counters not named _total
 * or negative, a family's type or help changed, the same series twice) leaving the text as it
 * was. */
#include "metrics/exposition.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_families_grouped(void)
{
    struct sylk_exposition *e = sylk_exposition_new();
    g_assert_cmpint(
        sylk_exposition_add(e, "a_total", "As.", SYLK_METRIC_COUNTER, L("method", "INVITE"), 3), ==,
        0);
    g_assert_cmpint(sylk_exposition_add(e, "b", "Bs now.", SYLK_METRIC_GAUGE, NULL, 0.5), ==, 0);
    g_assert_cmpint(
        sylk_exposition_add(e, "a_total", "As.", SYLK_METRIC_COUNTER, L("method", "BYE"), 1e15), ==,
        0);
    size_t len = 0;
    g_autofree char *text = sylk_exposition_finish(e, &len);
    g_assert_cmpstr(text, ==,
                    "# HELP a_total As.\n"
                    "# TYPE a_total counter\n"
                    "a_total{method=\"INVITE\"} 3\n"
                    "a_total{method=\"BYE\"} 1000000000000000\n"
                    "# HELP b Bs now.\n"
                    "# TYPE b gauge\n"
                    "b 0.5\n");
    g_assert_cmpuint(len, ==, strlen(text));
}

static void test_escaping(void)
{
    struct sylk_exposition *e = sylk_exposition_new();
    g_assert_cmpint(sylk_exposition_add(e, "x", "Back\\slash\nand \"quotes\".", SYLK_METRIC_GAUGE,
                                        L("a", "q\"b\\s\nn", "b", "caf\xc3\xa9", "c", "bad\xff"),
                                        -2.25),
                    ==, 0);
    g_autofree char *text = sylk_exposition_finish(e, NULL);
    g_assert_cmpstr(text, ==,
                    "# HELP x Back\\\\slash\\nand \"quotes\".\n"
                    "# TYPE x gauge\n"
                    "x{a=\"q\\\"b\\\\s\\nn\",b=\"caf\xc3\xa9\",c=\"bad\xef\xbf\xbd\"} -2.25\n");
}

static void test_special_values(void)
{
    struct sylk_exposition *e = sylk_exposition_new();
    g_assert_cmpint(sylk_exposition_add(e, "g", "G.", SYLK_METRIC_GAUGE, L("v", "1"), INFINITY), ==,
                    0);
    g_assert_cmpint(sylk_exposition_add(e, "g", "G.", SYLK_METRIC_GAUGE, L("v", "2"), -INFINITY),
                    ==, 0);
    g_assert_cmpint(sylk_exposition_add(e, "g", "G.", SYLK_METRIC_GAUGE, L("v", "3"), NAN), ==, 0);
    g_assert_cmpint(sylk_exposition_add(e, "c_total", "C.", SYLK_METRIC_COUNTER, NULL, INFINITY),
                    ==, 0);
    g_autofree char *text = sylk_exposition_finish(e, NULL);
    g_assert_nonnull(strstr(text, "g{v=\"1\"} +Inf\n"));
    g_assert_nonnull(strstr(text, "g{v=\"2\"} -Inf\n"));
    g_assert_nonnull(strstr(text, "g{v=\"3\"} NaN\n"));
    g_assert_nonnull(strstr(text, "c_total +Inf\n"));
}

static void test_names(void)
{
    const char *good[] = {"a", "_a", "a:b", "sylk_sip_requests_total", "A9_:x"};
    const char *bad[] = {"", "9a", "a-b", "a b", "a.b", "é", "a{b}"};
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        g_assert_true(sylk_exposition_name_valid(good[i], false));
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(sylk_exposition_name_valid(bad[i], false));
        g_assert_false(sylk_exposition_name_valid(bad[i], true));
    }
    g_assert_false(sylk_exposition_name_valid(NULL, false));
    g_assert_true(sylk_exposition_name_valid("_x", true));
    g_assert_false(sylk_exposition_name_valid("a:b", true)); /* colons: metric names only */
    g_assert_false(sylk_exposition_name_valid("__name__", true));
}

static void test_refusals_leave_text_alone(void)
{
    struct sylk_exposition *e = sylk_exposition_new();
    g_assert_cmpint(sylk_exposition_add(e, "ok_total", "Ok.", SYLK_METRIC_COUNTER, L("k", "v"), 1),
                    ==, 0);
    struct {
        const char *name, *help;
        int type;
        const char *const *labels;
        double value;
        int rc;
    } cases[] = {
        {"bad-name", "H.", SYLK_METRIC_GAUGE, NULL, 1, -EINVAL},
        {"g", NULL, SYLK_METRIC_GAUGE, NULL, 1, -EINVAL},
        {"c", "Not _total.", SYLK_METRIC_COUNTER, NULL, 1, -EINVAL},
        {"n_total", "Negative.", SYLK_METRIC_COUNTER, NULL, -1, -EINVAL},
        {"n_total", "NaN.", SYLK_METRIC_COUNTER, NULL, NAN, -EINVAL},
        {"g", "Bad label.", SYLK_METRIC_GAUGE, L("9x", "v"), 1, -EINVAL},
        {"g", "Reserved label.", SYLK_METRIC_GAUGE, L("__x", "v"), 1, -EINVAL},
        {"g", "Odd list.", SYLK_METRIC_GAUGE, (const char *const[]){"k", NULL}, 1, -EINVAL},
        {"g", "Unknown type.", 7, NULL, 1, -EINVAL},
        {"ok_total", "Other help.", SYLK_METRIC_COUNTER, L("k", "w"), 1, -EINVAL},
        {"ok_total", "Ok.", SYLK_METRIC_GAUGE, L("k", "w"), 1, -EINVAL},
        {"ok_total", "Ok.", SYLK_METRIC_COUNTER, L("k", "v"), 2, -EEXIST},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmpint(sylk_exposition_add(e, cases[i].name, cases[i].help,
                                            (enum sylk_metric_type)cases[i].type, cases[i].labels,
                                            cases[i].value),
                        ==, cases[i].rc);
    g_assert_cmpint(sylk_exposition_add(NULL, "g", "G.", SYLK_METRIC_GAUGE, NULL, 1), ==, -EINVAL);
    g_autofree char *text = sylk_exposition_finish(e, NULL);
    g_assert_cmpstr(text, ==,
                    "# HELP ok_total Ok.\n# TYPE ok_total counter\nok_total{k=\"v\"} 1\n");
}

static void test_empty(void)
{
    size_t len = 1;
    g_autofree char *text = sylk_exposition_finish(sylk_exposition_new(), &len);
    g_assert_cmpstr(text, ==, "");
    g_assert_cmpuint(len, ==, 0);
    sylk_exposition_free(NULL);
}

static void collect_nothing(sylk_metric_writer *w, void *user_data)
{
    (void)w;
    (void)user_data;
}

/* Collectors: a plugin named like a core family gets none; one whose init failed loses its. */
static void test_collectors_by_plugin(void)
{
    struct sylk_metrics m;
    sylk_metrics_init(&m);
    g_test_expect_message("sylk-metrics", G_LOG_LEVEL_WARNING, "*sylk_sip_ is the core's*");
    g_assert_null(sylk_metrics_collector_add(&m, "sip", collect_nothing, NULL));
    g_test_assert_expected_messages();
    g_assert_nonnull(sylk_metrics_collector_add(&m, "sipx", collect_nothing, NULL));
    g_assert_nonnull(sylk_metrics_collector_add(&m, "conference", collect_nothing, NULL));
    g_assert_nonnull(sylk_metrics_collector_add(&m, "conference", collect_nothing, &m));
    g_assert_cmpuint(sylk_metrics_remove_plugin(&m, "conference"), ==, 2);
    g_assert_cmpuint(sylk_metrics_remove_plugin(&m, "conference"), ==, 0);
    g_assert_cmpuint(m.collectors->len, ==, 1);
    g_test_expect_message("sylk-metrics", G_LOG_LEVEL_INFO, "*sipx left a metrics collector*");
    sylk_metrics_clear(&m);
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/exposition/families_grouped", test_families_grouped);
    g_test_add_func("/exposition/escaping", test_escaping);
    g_test_add_func("/exposition/special_values", test_special_values);
    g_test_add_func("/exposition/names", test_names);
    g_test_add_func("/exposition/refusals", test_refusals_leave_text_alone);
    g_test_add_func("/exposition/empty", test_empty);
    g_test_add_func("/metrics/collectors", test_collectors_by_plugin);
    return g_test_run();
}
