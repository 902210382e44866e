/* Unit tests for core/log.c: records in a log file that is reopened (logrotate's move, then
 * SIGHUP) while threads write, each record whole in one file or the other; the level changed
 * while running; sofia's message dump (as 1.12 hands it over: a printf fragment per line and
 * per piece of line) written as one record per message, to the trace file. */
#define G_LOG_DOMAIN "sylk-test"
#include "log.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <sofia-sip/su_log.h>
#include <string.h>

static struct sylk_log the_log; /* GLib takes one writer per process */
static char *dir;

static char *path_in_dir(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static char *contents(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}

/* Every line of `text` that starts a record is whole: stamp, level, domain, text, id. */
static unsigned count_whole(const char *text, const char *tag)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    unsigned n = 0;
    for (unsigned i = 0; lines[i]; i++) {
        if (!*lines[i])
            continue;
        g_assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} "
                                           "[A-Z]+ [a-z-]+: ",
                                           lines[i], 0, 0));
        if (strstr(lines[i], tag)) {
            g_assert_true(g_str_has_suffix(lines[i], " end"));
            n++;
        }
    }
    return n;
}

#define THREADS 4
#define LINES   400

static gpointer writer_thread(gpointer data)
{
    char pad[300];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        g_info("thread-line %d.%d %s end", GPOINTER_TO_INT(data), i, pad);
    return NULL;
}

static void test_reopen_while_threads_write(void)
{
    g_autofree char *log = path_in_dir("sylk.log"), *trace = path_in_dir("sip.trace");
    g_autoptr(GError) error = NULL;
    g_assert_true(sylk_log_open(&the_log, log, trace, &error));
    g_assert_no_error(error);

    GThread *threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        threads[t] = g_thread_new("writer", writer_thread, GINT_TO_POINTER(t));
    GPtrArray *moved = g_ptr_array_new_with_free_func(g_free);
    for (int r = 0; r < 5; r++) {
        g_usleep(2000);
        char *to = g_strdup_printf("%s.%d", log, r);
        g_assert_cmpint(g_rename(log, to), ==, 0);
        g_ptr_array_add(moved, to);
        g_assert_true(sylk_log_reopen(&the_log, &error));
    }
    for (int t = 0; t < THREADS; t++)
        g_thread_join(threads[t]);

    unsigned total = 0;
    for (guint i = 0; i < moved->len; i++) {
        g_autofree char *text = contents(moved->pdata[i]);
        total += count_whole(text, "thread-line");
    }
    g_autofree char *last = contents(log);
    total += count_whole(last, "thread-line");
    g_assert_cmpuint(total, ==, THREADS * LINES);
    g_ptr_array_free(moved, TRUE);

    /* A file that cannot be opened again: the old one stays in use. */
    g_autofree char *gone = path_in_dir("gone");
    g_assert_cmpint(g_mkdir(gone, 0700), ==, 0);
    g_autofree char *inside = g_build_filename(gone, "x.log", NULL);
    sylk_log_close(&the_log);
    g_assert_true(sylk_log_open(&the_log, inside, NULL, &error));
    g_assert_cmpint(g_remove(inside), ==, 0);
    g_assert_cmpint(g_rmdir(gone), ==, 0);
    g_assert_false(sylk_log_reopen(&the_log, &error));
    g_assert_nonnull(strstr(error->message, "x.log"));
    g_clear_error(&error);
    sylk_log_close(&the_log);
}

static void test_level_changes(void)
{
    g_autofree char *log = path_in_dir("level.log");
    g_autoptr(GError) error = NULL;
    g_assert_true(sylk_log_open(&the_log, log, NULL, &error));
    sylk_log_set_level(&the_log, G_LOG_LEVEL_WARNING);
    g_info("hidden-info end");
    g_warning("shown-warning end");
    sylk_log_set_level(&the_log, G_LOG_LEVEL_DEBUG);
    g_debug("shown-debug end");
    g_autofree char *text = contents(log);
    g_assert_null(strstr(text, "hidden-info"));
    g_assert_nonnull(strstr(text, "WARNING sylk-test: shown-warning"));
    g_assert_nonnull(strstr(text, "DEBUG sylk-test: shown-debug"));
    g_assert_cmpstr(sylk_log_level_name(G_LOG_LEVEL_DEBUG), ==, "debug");
    g_assert_cmpstr(sylk_log_level_name(G_LOG_LEVEL_CRITICAL), ==, "error");
    sylk_log_close(&the_log);
}

#define RULE "------------------------------------------------------------------------\n"

/* What sofia-sip 1.12's tport_log_msg hands su_log for a message: pieces, not lines. */
static void dump_message(const char *what, const char *first)
{
    su_log("%s 52 bytes %s udp/[127.0.0.1]:5071 at 10:11:12.131415:\n", what,
           strcmp(what, "recv") == 0 ? "from" : "to");
    su_log("   " RULE);
    su_log("%s%.*s", "   ", (int)strlen(first), first);
    su_log("\n");
    su_log("%s%.*s", "   ", 5, "Call-");
    su_log("%s%.*s", "", 8, "ID: abc1");
    su_log("\n");
    su_log("%s%.*s", "   ", 17, "Content-Length: 0");
    su_log("\n");
    su_log("%s   " RULE, "");
}

static void test_sip_trace_records(void)
{
    g_autofree char *log = path_in_dir("with-trace.log"), *trace = path_in_dir("trace.log");
    g_autoptr(GError) error = NULL;
    g_assert_true(sylk_log_open(&the_log, log, trace, &error));
    sylk_log_set_level(&the_log, G_LOG_LEVEL_WARNING); /* traces are written all the same */
    sylk_log_redirect_sofia(&the_log, true);
    dump_message("recv", "OPTIONS sip:echo@127.0.0.1 SIP/2.0");
    dump_message("send", "SIP/2.0 200 OK");

    g_autofree char *text = contents(trace);
    /* Records start at a line with a date; the message's own lines are indented. */
    g_auto(GStrv) records = g_strsplit(text, "\n20", -1);
    guint n = 0;
    for (guint i = 0; records[i]; i++) {
        if (!*records[i])
            continue;
        n++;
        g_assert_nonnull(strstr(records[i], " TRACE sylk-sip-trace: "));
        g_assert_nonnull(strstr(records[i], "\n   Call-ID: abc1\n   Content-Length: 0\n   -"));
    }
    g_assert_cmpuint(n, ==, 2);
    g_assert_nonnull(strstr(text, "sylk-sip-trace: recv 52 bytes from udp/[127.0.0.1]:5071 at "
                                  "10:11:12.131415:\n   " RULE
                                  "   OPTIONS sip:echo@127.0.0.1 SIP/2.0\n"));
    g_assert_nonnull(strstr(text, "sylk-sip-trace: send 52 bytes to udp/[127.0.0.1]:5071"));
    g_autofree char *main_log = contents(log);
    g_assert_null(strstr(main_log, "sip-trace"));

    /* Off: the dump goes nowhere near the trace file. */
    sylk_log_redirect_sofia(&the_log, false);
    dump_message("recv", "INFO sip:later@127.0.0.1 SIP/2.0");
    g_autofree char *after = contents(trace);
    g_assert_null(strstr(after, "INFO sip:later"));
    sylk_log_unredirect_sofia();
    sylk_log_clear_sofia(&the_log);
    sylk_log_close(&the_log);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK); /* the warnings logged here are the test's */
    dir = g_dir_make_tmp("sylk-log-XXXXXX", NULL);
    g_assert_nonnull(dir);
    sylk_log_install(&the_log);
    g_test_add_func("/log/reopen-while-threads-write", test_reopen_while_threads_write);
    g_test_add_func("/log/level", test_level_changes);
    g_test_add_func("/log/sip-trace", test_sip_trace_records);
    int rc = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
    g_free(dir);
    return rc;
}
