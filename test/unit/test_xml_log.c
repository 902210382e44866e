/* Unit tests for core/xml_log.c: libxml2's reports about documents a peer sends (encoding
 * errors in an is-composing notice, which XML_PARSE_NOERROR does not silence; parser errors)
 * reach our log, rate-limited, and never the process's stderr. */
#include "msrp/composing.h"
#include "xml_log.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const char iso2022jp[] =
    "<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?>\n"
    "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state>"
    "<contenttype>\x1b$B\xff\xfe\x1b(B</contenttype></isComposing>";
static const char utf16[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n"
                            "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">"
                            "<state>active</state></isComposing>";

/* Runs `fn` with stderr going to a file; returns what was written there. */
static char *stderr_of(void (*fn)(void *), void *data)
{
    g_autofree char *path = g_build_filename(g_get_tmp_dir(), "sylk-xml-log-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    g_assert_cmpint(fd, >=, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn(data);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_unlink(path);
    return text;
}

static void parse_bad_documents(void *data)
{
    unsigned times = GPOINTER_TO_UINT(data);
    for (unsigned i = 0; i < times; i++) {
        const char *docs[] = {iso2022jp, utf16};
        for (unsigned d = 0; d < G_N_ELEMENTS(docs); d++) {
            struct sylk_composing c;
            g_autofree char *error = NULL;
            g_assert_cmpint(sylk_composing_parse(docs[d], strlen(docs[d]), &c, &error), ==,
                            -EBADMSG);
            g_assert_nonnull(strstr(error, "not well-formed"));
        }
    }
}

/* Without us, libxml2 writes "encoding error : …" to stderr although the parse asks for no
 * errors: the reason for the module. */
static void libxml2_alone_writes_to_stderr(void)
{
    g_autofree char *out = stderr_of(parse_bad_documents, GUINT_TO_POINTER(1));
    g_assert_nonnull(strstr(out, "encoding error"));
}

static void routed_and_rate_limited(void)
{
    struct sylk_xml_log log = {0};
    sylk_xml_log_install(&log);
    g_autofree char *out = stderr_of(parse_bad_documents, GUINT_TO_POINTER(5));
    g_assert_cmpstr(out, ==, "");
    g_assert_cmpuint(log.reports, >=, 10); /* every document made at least one report */
    g_assert_cmpuint(log.lines, ==, 1);    /* one line for the burst */
    g_assert_cmpuint(log.suppressed, ==, log.reports - 1);
    /* the next window: one more line, which counts what was not logged */
    log.logged_at -= (SYLK_XML_LOG_INTERVAL_S + 1) * G_USEC_PER_SEC;
    g_autofree char *again = stderr_of(parse_bad_documents, GUINT_TO_POINTER(1));
    g_assert_cmpstr(again, ==, "");
    g_assert_cmpuint(log.lines, ==, 2);
    /* a well-formed notice makes no report */
    guint64 before = log.reports;
    const char *good = "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">"
                       "<state>idle</state></isComposing>";
    struct sylk_composing c;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_composing_parse(good, strlen(good), &c, &error), ==, 0);
    sylk_composing_clear(&c);
    g_assert_cmpuint(log.reports, ==, before);
    sylk_xml_log_uninstall();
    g_autofree char *after = stderr_of(parse_bad_documents, GUINT_TO_POINTER(1));
    g_assert_nonnull(strstr(after, "encoding error")); /* libxml2's default again */
    g_assert_cmpuint(log.reports, ==, before);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xml-log/libxml2-alone-writes-to-stderr", libxml2_alone_writes_to_stderr);
    g_test_add_func("/xml-log/routed-and-rate-limited", routed_and_rate_limited);
    return g_test_run();
}
