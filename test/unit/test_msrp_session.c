/* Unit tests for core/msrp/session.c over a real loopback MSRP transport: chunks reassembled
 * in any order with 200s and the REPORT asked for, session matching (481), the size limit (413),
 * aborted messages, Failure-Report: no, and a message we send in chunks that the peer answers. */
#include "msrp/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER "msrp://127.0.0.1:40000/peer1;tcp"

struct fixture {
    struct sylk_msrp_transport *t;
    struct sylk_msrp_session *s;
    int fd;
    GByteArray *in;
    GPtrArray *messages; /* GBytes */
    char *content_type;
    int sent_status;
    bool closed;
};

static void on_message(struct sylk_msrp_session *s, const char *type, GBytes *body, void *ud)
{
    struct fixture *fx = ud;
    (void)s;
    g_free(fx->content_type);
    fx->content_type = g_strdup(type);
    g_ptr_array_add(fx->messages, body);
}

static void on_sent(struct sylk_msrp_session *s, const char *id, int status, void *ud)
{
    (void)s;
    (void)id;
    ((struct fixture *)ud)->sent_status = status;
}

static void on_closed(struct sylk_msrp_session *s, void *ud)
{
    (void)s;
    ((struct fixture *)ud)->closed = true;
}

static const struct sylk_msrp_session_events events = {on_message, on_sent, on_closed};

static void setup(struct fixture *fx, gconstpointer data)
{
    (void)data;
    memset(fx, 0, sizeof(*fx));
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_transport_start("127.0.0.1", 0, NULL, &fx->t, &error), ==, 0);
    fx->s = sylk_msrp_session_new(fx->t, "127.0.0.1", &events, fx);
    g_assert_cmpint(sylk_msrp_session_set_peer(fx->s, PEER, &error), ==, 0);
    fx->messages = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    fx->in = g_byte_array_new();
    fx->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)sylk_msrp_transport_port(fx->t)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(connect(fx->fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    fcntl(fx->fd, F_SETFL, O_NONBLOCK);
}

static void teardown(struct fixture *fx, gconstpointer data)
{
    (void)data;
    close(fx->fd);
    sylk_msrp_session_free(fx->s);
    sylk_msrp_transport_stop(fx->t);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_ptr_array_free(fx->messages, TRUE);
    g_byte_array_free(fx->in, TRUE);
    g_free(fx->content_type);
}

static void send_text(struct fixture *fx, const char *text)
{
    g_assert_cmpint(write(fx->fd, text, strlen(text)), ==, (ssize_t)strlen(text));
}

/* Runs the loop until the peer has a whole frame from us, or 5 s passed; false on timeout. */
static bool next_frame(struct fixture *fx, struct sylk_msrp_frame *f)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        uint8_t buf[8192];
        ssize_t n = read(fx->fd, buf, sizeof(buf));
        if (n > 0)
            g_byte_array_append(fx->in, buf, (guint)n);
        size_t used;
        g_autofree char *error = NULL;
        if (fx->in->len &&
            sylk_msrp_parse(fx->in->data, fx->in->len, NULL, f, &used, &error) == SYLK_MSRP_FRAME) {
            g_byte_array_remove_range(fx->in, 0, (guint)used);
            return true;
        }
        g_assert_null(error);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return false;
}

static void pump(unsigned ms)
{
    gint64 until = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < until) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static char *chunk(const char *tid, const char *from, const char *msg_id, const char *range,
                   const char *extra, const char *data, char flag)
{
    return g_strdup_printf(
        "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
        "Byte-Range: %s\r\n%sContent-Type: text/plain\r\n\r\n%s\r\n-------%s%c\r\n",
        tid, "msrp://127.0.0.1/x;tcp", from, msg_id, range, extra, data, tid, flag);
}

/* The To-Path of what we send to the session must end in its own URI. */
static char *to_session(struct fixture *fx, char *text)
{
    g_auto(GStrv) parts = g_strsplit(text, "msrp://127.0.0.1/x;tcp", 2);
    g_free(text);
    return g_strjoinv(sylk_msrp_session_uri(fx->s), parts);
}

static void expect_response_to(struct fixture *fx, const char *tid, int status, const char *to)
{
    struct sylk_msrp_frame f;
    g_assert_true(next_frame(fx, &f));
    g_assert_null(f.method);
    g_assert_cmpstr(f.transaction_id, ==, tid);
    g_assert_cmpint(f.status, ==, status);
    g_assert_cmpstr(sylk_msrp_header(&f, "To-Path"), ==, to);
    sylk_msrp_frame_clear(&f);
}

static void expect_response(struct fixture *fx, const char *tid, int status)
{
    expect_response_to(fx, tid, status, PEER);
}

static void chunks_out_of_order_with_report(struct fixture *fx, gconstpointer data)
{
    (void)data;
    const char *rep = "Success-Report: yes\r\n";
    g_autofree char *c2 =
        to_session(fx, chunk("tid0002", PEER, "m1", "6-10/15", rep, "world", '+'));
    g_autofree char *c3 =
        to_session(fx, chunk("tid0003", PEER, "m1", "11-15/15", rep, "!!!!!", '$'));
    g_autofree char *c1 = to_session(fx, chunk("tid0001", PEER, "m1", "1-5/15", rep, "hello", '+'));
    send_text(fx, c2);
    expect_response(fx, "tid0002", 200);
    send_text(fx, c3);
    expect_response(fx, "tid0003", 200);
    g_assert_cmpuint(fx->messages->len, ==, 0); /* the first bytes are still missing */
    send_text(fx, c1);
    expect_response(fx, "tid0001", 200);
    struct sylk_msrp_frame report;
    g_assert_true(next_frame(fx, &report));
    g_assert_cmpstr(report.method, ==, "REPORT");
    g_assert_cmpstr(sylk_msrp_header(&report, "Status"), ==, "000 200 OK");
    g_assert_cmpstr(sylk_msrp_header(&report, "Byte-Range"), ==, "1-15/15");
    g_assert_cmpstr(sylk_msrp_header(&report, "Message-ID"), ==, "m1");
    sylk_msrp_frame_clear(&report);
    g_assert_cmpuint(fx->messages->len, ==, 1);
    gsize n;
    const char *body = g_bytes_get_data(g_ptr_array_index(fx->messages, 0), &n);
    g_assert_cmpmem(body, n, "helloworld!!!!!", 15);
    g_assert_cmpstr(fx->content_type, ==, "text/plain");
}

static void stranger_gets_481(struct fixture *fx, gconstpointer data)
{
    (void)data;
    g_autofree char *c = to_session(
        fx, chunk("tid0009", "msrp://127.0.0.1:40001/other;tcp", "m9", "1-2/2", "", "hi", '$'));
    send_text(fx, c);
    expect_response_to(fx, "tid0009", 481, "msrp://127.0.0.1:40001/other;tcp");
    g_assert_cmpuint(fx->messages->len, ==, 0);
}

static void limits_abort_and_silence(struct fixture *fx, gconstpointer data)
{
    (void)data;
    sylk_msrp_session_set_max_message(fx->s, 8);
    g_autofree char *big = to_session(fx, chunk("tidbig1", PEER, "m2", "1-5/50", "", "hello", '+'));
    send_text(fx, big);
    expect_response(fx, "tidbig1", 413);
    g_autofree char *ab1 = to_session(fx, chunk("tidab01", PEER, "m3", "1-3/6", "", "abc", '+'));
    g_autofree char *ab2 = to_session(fx, chunk("tidab02", PEER, "m3", "4-6/6", "", "def", '#'));
    send_text(fx, ab1);
    expect_response(fx, "tidab01", 200);
    send_text(fx, ab2);
    expect_response(fx, "tidab02", 200);
    g_autofree char *quiet =
        to_session(fx, chunk("tidq001", PEER, "m4", "1-2/2", "Failure-Report: no\r\n", "ok", '$'));
    send_text(fx, quiet);
    pump(200);
    g_assert_cmpuint(fx->messages->len, ==, 1); /* only the quiet one; nothing answered it */
    g_assert_cmpuint(fx->in->len, ==, 0);
    uint8_t b;
    g_assert_cmpint(read(fx->fd, &b, 1), ==, -1);
}

static void send_in_chunks(struct fixture *fx, gconstpointer data)
{
    (void)data;
    g_assert_null(sylk_msrp_session_send(fx->s, "text/plain", "x", 1)); /* not bound yet */
    g_autofree char *hello = to_session(fx, chunk("tidh001", PEER, "m5", "1-2/2", "", "hi", '$'));
    send_text(fx, hello);
    expect_response(fx, "tidh001", 200);
    size_t len = 5 * SYLK_MSRP_CHUNK_SIZE + 100;
    g_autofree char *body = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)('a' + i % 26);
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", body, len));
    GByteArray *got = g_byte_array_new();
    for (unsigned i = 0; i < 6; i++) {
        struct sylk_msrp_frame f;
        g_assert_true(next_frame(fx, &f));
        g_assert_cmpstr(f.method, ==, "SEND");
        g_assert_cmpstr(sylk_msrp_header(&f, "To-Path"), ==, PEER);
        g_assert_cmpstr(sylk_msrp_header(&f, "From-Path"), ==, sylk_msrp_session_uri(fx->s));
        g_assert_cmpint(f.flag, ==, i == 5 ? '$' : '+');
        g_byte_array_append(got, f.body, (guint)f.body_len);
        g_autofree char *resp =
            g_strdup_printf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n",
                            f.transaction_id, sylk_msrp_session_uri(fx->s), PEER, f.transaction_id);
        send_text(fx, resp);
        sylk_msrp_frame_clear(&f);
    }
    g_assert_cmpmem(got->data, got->len, body, len);
    g_byte_array_free(got, TRUE);
    pump(100);
    g_assert_cmpint(fx->sent_status, ==, 200);
    close(fx->fd); /* the peer goes away */
    fx->fd = socket(AF_INET, SOCK_STREAM, 0);
    pump(100);
    g_assert_true(fx->closed);
}

/* Chunks nobody answers fail their message with 408 once the transaction time is up. */
static void unanswered_chunks_fail_408(struct fixture *fx, gconstpointer data)
{
    (void)data;
    g_autofree char *hello = to_session(fx, chunk("tidh002", PEER, "m6", "1-2/2", "", "hi", '$'));
    send_text(fx, hello);
    expect_response(fx, "tidh002", 200);
    sylk_msrp_session_set_transaction_timeout(fx->s, 1);
    fx->sent_status = 0;
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "unanswered", 10));
    struct sylk_msrp_frame f;
    g_assert_true(next_frame(fx, &f)); /* it went out; we do not answer it */
    g_assert_cmpstr(f.method, ==, "SEND");
    sylk_msrp_frame_clear(&f);
    pump(900);
    g_assert_cmpint(fx->sent_status, ==, 0); /* not yet */
    pump(1600);
    g_assert_cmpint(fx->sent_status, ==, 408);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/msrp-session/chunks-out-of-order-with-report", struct fixture, NULL, setup,
               chunks_out_of_order_with_report, teardown);
    g_test_add("/msrp-session/stranger-gets-481", struct fixture, NULL, setup, stranger_gets_481,
               teardown);
    g_test_add("/msrp-session/limits-abort-and-silence", struct fixture, NULL, setup,
               limits_abort_and_silence, teardown);
    g_test_add("/msrp-session/send-in-chunks", struct fixture, NULL, setup, send_in_chunks,
               teardown);
    g_test_add("/msrp-session/unanswered-chunks-fail-408", struct fixture, NULL, setup,
               unanswered_chunks_fail_408, teardown);
    return g_test_run();
}
