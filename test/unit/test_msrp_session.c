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
#include <sys/ioctl.h>
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
    void *sent_token;
    bool closed;
    int refuse;          /* status on_message returns (0: 200) */
    char *nickname;      /* last NICKNAME asked for */
    int nickname_status; /* what on_nickname answers */
    int file_status;     /* file_received: 0 until it came */
    char *file_sha1;
    uint64_t file_size, progress_bytes;
    unsigned progress_calls;
    unsigned sent_calls;
    size_t overflow_in_message; /* on_message queues this many bytes on the connection */
    int nick_status;            /* nickname_result: 0 until it came */
    void *nick_token;
};

static int on_message(struct sylk_msrp_session *s, const struct sylk_msrp_received *m, void *ud)
{
    struct fixture *fx = ud;
    g_free(fx->content_type);
    fx->content_type = g_strdup(m->content_type);
    g_ptr_array_add(fx->messages, g_bytes_ref(m->body));
    if (fx->overflow_in_message) { /* the connection fails under us (peer does not read) */
        g_autoptr(GBytes) junk =
            g_bytes_new_take(g_malloc0(fx->overflow_in_message), fx->overflow_in_message);
        sylk_msrp_conn_send(sylk_msrp_session_conn(s), junk);
        g_assert_null(sylk_msrp_session_conn(s));
    }
    return fx->refuse ? fx->refuse : 200;
}

static void on_sent(struct sylk_msrp_session *s, const char *id, void *token, int status, void *ud)
{
    (void)s;
    (void)id;
    ((struct fixture *)ud)->sent_calls++;
    ((struct fixture *)ud)->sent_status = status;
    ((struct fixture *)ud)->sent_token = token;
}

static int on_nickname(struct sylk_msrp_session *s, const char *nickname, void *ud)
{
    struct fixture *fx = ud;
    (void)s;
    g_free(fx->nickname);
    fx->nickname = g_strdup(nickname);
    return fx->nickname_status;
}

static void on_progress(struct sylk_msrp_session *s, void *token, uint64_t bytes, uint64_t total,
                        void *ud)
{
    struct fixture *fx = ud;
    (void)s;
    (void)token;
    g_assert_cmpuint(bytes, <=, total);
    fx->progress_bytes = bytes;
    fx->progress_calls++;
}

static void on_file(struct sylk_msrp_session *s, int status, const char *sha1, uint64_t size,
                    void *ud)
{
    struct fixture *fx = ud;
    (void)s;
    fx->file_status = status;
    fx->file_sha1 = g_strdup(sha1);
    fx->file_size = size;
}

static void on_closed(struct sylk_msrp_session *s, void *ud)
{
    (void)s;
    ((struct fixture *)ud)->closed = true;
}

static void on_nickname_result(struct sylk_msrp_session *s, void *token, int status, void *ud)
{
    struct fixture *fx = ud;
    (void)s;
    fx->nick_status = status;
    fx->nick_token = token;
}

static const struct sylk_msrp_session_events events = {
    .nickname_result = on_nickname_result,
    .message = on_message,
    .sent = on_sent,
    .closed = on_closed,
    .nickname = on_nickname,
    .progress = on_progress,
    .file_received = on_file,
};

/* A new TCP connection to the transport (the old one closed, or still open when `keep`). */
static int connect_peer(struct fixture *fx)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)sylk_msrp_transport_port(fx->t)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void reconnect(struct fixture *fx, bool keep_old)
{
    if (!keep_old)
        close(fx->fd);
    fx->fd = connect_peer(fx);
    g_byte_array_set_size(fx->in, 0);
}

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
    fx->fd = connect_peer(fx);
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
    g_free(fx->nickname);
    g_free(fx->file_sha1);
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
    /* before the peer connected: it waits for the connection */
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "x", 1));
    g_autofree char *hello = to_session(fx, chunk("tidh001", PEER, "m5", "1-2/2", "", "hi", '$'));
    send_text(fx, hello);
    expect_response(fx, "tidh001", 200);
    struct sylk_msrp_frame early;
    g_assert_true(next_frame(fx, &early));
    g_assert_cmpstr(early.method, ==, "SEND");
    g_assert_cmpmem(early.body, early.body_len, "x", 1);
    sylk_msrp_frame_clear(&early);
    size_t len = 5 * SYLK_MSRP_DIRECT_CHUNK_SIZE + 100; /* PEER: no relay in between */
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
    /* "x" was never answered: it waits for a reconnect, and fails 408 when none comes */
    pump(100);
    g_assert_cmpint(fx->sent_status, ==, 200);
    sylk_msrp_session_set_reconnect_timeout(fx->s, 1);
    close(fx->fd); /* the peer goes away */
    fx->fd = socket(AF_INET, SOCK_STREAM, 0);
    pump(300);
    g_assert_false(fx->closed);
    g_assert_cmpint(fx->sent_status, ==, 200);
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "y", 1)); /* it waits */
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!fx->closed && g_get_monotonic_time() < deadline)
        pump(10);
    g_assert_true(fx->closed);
    g_assert_cmpint(fx->sent_status, ==, 408);
    g_assert_null(sylk_msrp_session_send(fx->s, "text/plain", "z", 1)); /* over */
}

/* What waits for a peer that takes nothing is bounded: past SYLK_MSRP_MAX_QUEUED_BYTES in
 * memory, a message is refused; once the peer has taken what waited, there is room again. */
static void queued_bytes_are_bounded(struct fixture *fx, gconstpointer data)
{
    (void)data;
    size_t mb = 1u << 20;
    g_autofree char *body = g_malloc0(mb);
    unsigned fit = SYLK_MSRP_MAX_QUEUED_BYTES / mb;
    for (unsigned i = 0; i < fit; i++) /* the peer has not connected: all of it waits */
        g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", body, mb));
    g_assert_false(sylk_msrp_session_has_room(fx->s, 1));
    g_assert_null(sylk_msrp_session_send(fx->s, "text/plain", "x", 1));
    /* the peer connects and answers everything it is sent */
    g_autofree char *hello = to_session(fx, chunk("tidq100", PEER, "m9", "1-2/2", "", "hi", '$'));
    send_text(fx, hello);
    expect_response(fx, "tidq100", 200);
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (!sylk_msrp_session_has_room(fx->s, mb) && g_get_monotonic_time() < deadline) {
        struct sylk_msrp_frame f;
        g_assert_true(next_frame(fx, &f));
        g_autofree char *resp =
            g_strdup_printf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n",
                            f.transaction_id, sylk_msrp_session_uri(fx->s), PEER, f.transaction_id);
        send_text(fx, resp);
        sylk_msrp_frame_clear(&f);
        pump(1);
    }
    g_assert_true(sylk_msrp_session_has_room(fx->s, mb));
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "x", 1));
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

/* The owner's verdict on a whole message is the response to its last chunk; no REPORT then. */
static void refused_message_gets_its_status(struct fixture *fx, gconstpointer data)
{
    (void)data;
    fx->refuse = 403;
    const char *rep = "Success-Report: yes\r\n";
    g_autofree char *c1 = to_session(fx, chunk("tidr001", PEER, "mr", "1-3/6", rep, "abc", '+'));
    g_autofree char *c2 = to_session(fx, chunk("tidr002", PEER, "mr", "4-6/6", rep, "def", '$'));
    send_text(fx, c1);
    expect_response(fx, "tidr001", 200);
    send_text(fx, c2);
    expect_response(fx, "tidr002", 403);
    g_assert_cmpuint(fx->messages->len, ==, 1);
    pump(100);
    g_assert_cmpuint(fx->in->len, ==, 0); /* no REPORT followed */
}

static char *nickname_request(struct fixture *fx, const char *tid, const char *header)
{
    return to_session(fx, g_strdup_printf("MSRP %s NICKNAME\r\nTo-Path: msrp://127.0.0.1/x;tcp\r\n"
                                          "From-Path: %s\r\n%s-------%s$\r\n",
                                          tid, PEER, header, tid));
}

/* RFC 7701: the owner decides (425: taken); a request without Use-Nickname is malformed. */
static void nickname_requests(struct fixture *fx, gconstpointer data)
{
    (void)data;
    fx->nickname_status = 425;
    g_autofree char *taken = nickname_request(fx, "tidn001", "Use-Nickname: \"b\\\"ob\"\r\n");
    send_text(fx, taken);
    expect_response(fx, "tidn001", 425);
    g_assert_cmpstr(fx->nickname, ==, "b\"ob");
    fx->nickname_status = 200;
    g_autofree char *clear = nickname_request(fx, "tidn002", "Use-Nickname: \"\"\r\n");
    send_text(fx, clear);
    expect_response(fx, "tidn002", 200);
    g_assert_cmpstr(fx->nickname, ==, "");
    g_autofree char *none = nickname_request(fx, "tidn003", "");
    send_text(fx, none);
    expect_response(fx, "tidn003", 400);
}

static char *temp_file(int *fd)
{
    char *path = g_build_filename(g_get_tmp_dir(), "sylk-msrp-test-XXXXXX", NULL);
    *fd = g_mkstemp(path);
    g_assert_cmpint(*fd, >=, 0);
    return path;
}

/* A file goes to disk at its Byte-Ranges, in any order, and is hashed. */
static void file_received_out_of_order(struct fixture *fx, gconstpointer data)
{
    (void)data;
    int fd;
    g_autofree char *path = temp_file(&fd);
    g_assert_cmpint(sylk_msrp_session_receive_file(fx->s, fd), ==, 0);
    g_assert_cmpint(sylk_msrp_session_receive_file(fx->s, fd), ==, -EBUSY);
    const char *parts[] = {"11-15/15", "!!!!!", "1-5/15", "hello", "6-10/15", "world"};
    for (unsigned i = 0; i < 3; i++) {
        g_autofree char *tid = g_strdup_printf("tidf00%u", i);
        g_autofree char *c = to_session(
            fx, chunk(tid, PEER, "mf", parts[2 * i], "", parts[2 * i + 1], i == 0 ? '$' : '+'));
        send_text(fx, c);
        expect_response(fx, tid, 200);
    }
    g_assert_cmpint(fx->file_status, ==, 200);
    g_assert_cmpuint(fx->file_size, ==, 15);
    g_autofree char *want = g_compute_checksum_for_string(G_CHECKSUM_SHA1, "helloworld!!!!!", 15);
    g_assert_cmpstr(fx->file_sha1, ==, want);
    g_assert_cmpuint(fx->progress_bytes, ==, 15);
    g_assert_cmpuint(fx->messages->len, ==, 0); /* not in memory */
    g_autofree char *content = NULL;
    gsize n;
    g_assert_true(g_file_get_contents(path, &content, &n, NULL));
    g_assert_cmpmem(content, n, "helloworld!!!!!", 15);
    close(fd);
    unlink(path);
}

/* An aborted file is reported as such, and its owner may receive another. */
static void file_aborted(struct fixture *fx, gconstpointer data)
{
    (void)data;
    int fd;
    g_autofree char *path = temp_file(&fd);
    g_assert_cmpint(sylk_msrp_session_receive_file(fx->s, fd), ==, 0);
    g_autofree char *c1 = to_session(fx, chunk("tida001", PEER, "ma", "1-3/6", "", "abc", '+'));
    g_autofree char *c2 = to_session(fx, chunk("tida002", PEER, "ma", "4-6/6", "", "def", '#'));
    send_text(fx, c1);
    expect_response(fx, "tida001", 200);
    send_text(fx, c2);
    expect_response(fx, "tida002", 200);
    g_assert_cmpint(fx->file_status, ==, 400);
    g_assert_null(fx->file_sha1);
    g_assert_cmpint(sylk_msrp_session_receive_file(fx->s, fd), ==, 0);
    close(fd);
    unlink(path);
}

/*
 * A file sent from disk streams: its chunks are made as the connection drains, so with nobody
 * reading only about SYLK_MSRP_HIGH_WATER + socket buffers leave; once the peer reads and
 * answers, all of it arrives, progress reaches the size, and `sent` carries the token.
 */
static void file_sent_streaming(struct fixture *fx, gconstpointer data)
{
    (void)data;
    g_autofree char *hello = to_session(fx, chunk("tids001", PEER, "ms", "1-2/2", "", "hi", '$'));
    send_text(fx, hello);
    expect_response(fx, "tids001", 200);
    int fd;
    g_autofree char *path = temp_file(&fd);
    size_t len = 24u << 20; /* more than the socket buffers and the high-water mark together */
    g_autofree uint8_t *body = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (uint8_t)(i * 7 + (i >> 11));
    g_assert_cmpint(write(fd, body, len), ==, (ssize_t)len);
    int token;
    g_assert_nonnull(
        sylk_msrp_session_send_message(fx->s, "application/octet-stream", NULL, fd, len, &token));
    pump(300); /* nobody reads: chunking stops at the high-water mark */
    int queued = 0;
    g_assert_cmpint(ioctl(fx->fd, FIONREAD, &queued), ==, 0);
    g_assert_cmpint(queued, <, (int)(len / 2));
    GByteArray *got = g_byte_array_new();
    while (got->len < len) {
        struct sylk_msrp_frame f;
        g_assert_true(next_frame(fx, &f));
        g_assert_cmpstr(f.method, ==, "SEND");
        g_byte_array_append(got, f.body, (guint)f.body_len);
        g_autofree char *resp =
            g_strdup_printf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n",
                            f.transaction_id, sylk_msrp_session_uri(fx->s), PEER, f.transaction_id);
        send_text(fx, resp);
        sylk_msrp_frame_clear(&f);
    }
    pump(100);
    g_assert_true(got->len == len && memcmp(got->data, body, len) == 0);
    g_byte_array_free(got, TRUE);
    g_assert_cmpint(fx->sent_status, ==, 200);
    g_assert_true(fx->sent_token == &token);
    g_assert_cmpuint(fx->progress_bytes, ==, len);
    g_assert_cmpuint(fx->progress_calls, >=, 1);
    unlink(path);
}

/* Through a relay, chunks stay at SYLK_MSRP_CHUNK_SIZE (relays take little more). */
static void relayed_chunks_are_small(struct fixture *fx, gconstpointer data)
{
    (void)data;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_session_set_peer(fx->s, "msrps://127.0.0.1:40002;tcp " PEER, &error),
                    ==, 0);
    g_autofree char *hello = to_session(fx, chunk("tidy001", PEER, "my", "1-2/2", "", "hi", '$'));
    send_text(fx, hello);
    expect_response(fx, "tidy001", 200);
    g_autofree char *body = g_strnfill(SYLK_MSRP_CHUNK_SIZE + 10, 'r');
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", body, strlen(body)));
    for (unsigned i = 0; i < 2; i++) {
        struct sylk_msrp_frame f;
        g_assert_true(next_frame(fx, &f));
        g_assert_cmpuint(f.body_len, ==, i == 0 ? SYLK_MSRP_CHUNK_SIZE : 10);
        g_assert_cmpstr(sylk_msrp_header(&f, "To-Path"), ==, "msrps://127.0.0.1:40002;tcp " PEER);
        sylk_msrp_frame_clear(&f);
    }
}

/* Answers a SEND of ours with 200 (To-Path: the session, From-Path: the peer). */
static void answer(struct fixture *fx, const struct sylk_msrp_frame *f)
{
    g_autofree char *resp =
        g_strdup_printf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n",
                        f->transaction_id, sylk_msrp_session_uri(fx->s), PEER, f->transaction_id);
    send_text(fx, resp);
}

static char *empty_send(struct fixture *fx, const char *tid)
{
    return to_session(fx, g_strdup_printf("MSRP %s SEND\r\nTo-Path: msrp://127.0.0.1/x;tcp\r\n"
                                          "From-Path: %s\r\nMessage-ID: e%s\r\n"
                                          "Byte-Range: 1-0/0\r\n-------%s$\r\n",
                                          tid, PEER, tid, tid));
}

/* Binds the current connection with an empty SEND and checks its 200. */
static void bind_peer(struct fixture *fx, const char *tid)
{
    g_autofree char *hello = empty_send(fx, tid);
    send_text(fx, hello);
    expect_response(fx, tid, 200);
}

/*
 * RFC 4975 5.4: the peer's connection closes with a chunk of ours unanswered and two more
 * messages are sent meanwhile; the peer connects again and binds the session: the first
 * message comes again (same Message-ID), then the two others, in order, and all are delivered.
 */
static void reconnect_resends_in_order(struct fixture *fx, gconstpointer data)
{
    (void)data;
    bind_peer(fx, "tidc001");
    g_autofree char *id1 = g_strdup(sylk_msrp_session_send(fx->s, "text/plain", "one", 3));
    struct sylk_msrp_frame f;
    g_assert_true(next_frame(fx, &f)); /* out, never answered */
    g_assert_cmpstr(sylk_msrp_header(&f, "Message-ID"), ==, id1);
    sylk_msrp_frame_clear(&f);
    close(fx->fd);
    pump(100);
    g_assert_null(sylk_msrp_session_conn(fx->s));
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "two", 3));
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "three", 5));
    g_assert_false(fx->closed);
    g_assert_cmpuint(fx->sent_calls, ==, 0);
    reconnect(fx, true);
    bind_peer(fx, "tidc002");
    const char *want[] = {"one", "two", "three"};
    for (unsigned i = 0; i < 3; i++) {
        g_assert_true(next_frame(fx, &f));
        g_assert_cmpstr(f.method, ==, "SEND");
        g_assert_cmpmem(f.body, f.body_len, want[i], strlen(want[i]));
        if (i == 0)
            g_assert_cmpstr(sylk_msrp_header(&f, "Message-ID"), ==, id1);
        answer(fx, &f);
        sylk_msrp_frame_clear(&f);
    }
    pump(100);
    g_assert_cmpuint(fx->sent_calls, ==, 3);
    g_assert_cmpint(fx->sent_status, ==, 200);
    g_assert_false(fx->closed);
}

/*
 * A request from the peer on a second connection moves the session there: what the session
 * sends follows it, chunks in flight on the first go again, and the first one is closed.
 */
static void newest_connection_wins(struct fixture *fx, gconstpointer data)
{
    (void)data;
    bind_peer(fx, "tidn001");
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "first", 5));
    struct sylk_msrp_frame f;
    g_assert_true(next_frame(fx, &f));
    sylk_msrp_frame_clear(&f); /* unanswered on the first connection */
    int first = fx->fd;
    reconnect(fx, true);
    bind_peer(fx, "tidn002");
    g_assert_true(next_frame(fx, &f)); /* sent again on the second */
    g_assert_cmpmem(f.body, f.body_len, "first", 5);
    answer(fx, &f);
    sylk_msrp_frame_clear(&f);
    pump(100);
    g_assert_cmpint(fx->sent_status, ==, 200);
    uint8_t buf[4096];
    ssize_t n;
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while ((n = read(first, buf, sizeof(buf))) != 0 && g_get_monotonic_time() < deadline)
        pump(10); /* reads what was left, then EOF: the server closed it */
    g_assert_cmpint(n, ==, 0);
    close(first);
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "second", 6));
    g_assert_true(next_frame(fx, &f));
    g_assert_cmpmem(f.body, f.body_len, "second", 6);
    sylk_msrp_frame_clear(&f);
    g_assert_false(fx->closed);
}

/*
 * The connection fails while the owner handles a message (its queue overflows): the response
 * to the message's last chunk and its REPORT wait, and go out first on the next connection.
 */
static void response_and_report_follow_the_connection(struct fixture *fx, gconstpointer data)
{
    (void)data;
    fx->overflow_in_message = 41u << 20; /* beyond the transport's limit: it closes */
    g_autofree char *c = to_session(
        fx, chunk("tidr101", PEER, "mrep", "1-2/2", "Success-Report: yes\r\n", "hi", '$'));
    send_text(fx, c);
    pump(200);
    g_assert_cmpuint(fx->messages->len, ==, 1);
    fx->overflow_in_message = 0;
    reconnect(fx, false);
    g_autofree char *hello = empty_send(fx, "tidr102");
    send_text(fx, hello);
    expect_response(fx, "tidr101", 200); /* held since the old connection failed */
    struct sylk_msrp_frame report;
    g_assert_true(next_frame(fx, &report));
    g_assert_cmpstr(report.method, ==, "REPORT");
    g_assert_cmpstr(sylk_msrp_header(&report, "Message-ID"), ==, "mrep");
    sylk_msrp_frame_clear(&report);
    expect_response(fx, "tidr102", 200);
}

/* A whole message received again (the peer had no answer): same answer, handed over once. */
static void resent_message_handed_over_once(struct fixture *fx, gconstpointer data)
{
    (void)data;
    fx->refuse = 403;
    g_autofree char *c1 = to_session(fx, chunk("tidd001", PEER, "mdup", "1-4/4", "", "once", '$'));
    g_autofree char *c2 = to_session(fx, chunk("tidd002", PEER, "mdup", "1-4/4", "", "once", '$'));
    send_text(fx, c1);
    expect_response(fx, "tidd001", 403);
    send_text(fx, c2);
    expect_response(fx, "tidd002", 403); /* the verdict again */
    g_assert_cmpuint(fx->messages->len, ==, 1);
}

/* A chunk received twice counts once: the message is whole only when every byte came. */
static void duplicate_chunk_counts_once(struct fixture *fx, gconstpointer data)
{
    (void)data;
    g_autofree char *last1 =
        to_session(fx, chunk("tidk001", PEER, "mk", "6-10/10", "", "world", '$'));
    g_autofree char *last2 =
        to_session(fx, chunk("tidk002", PEER, "mk", "6-10/10", "", "world", '$'));
    g_autofree char *first =
        to_session(fx, chunk("tidk003", PEER, "mk", "1-5/10", "", "hello", '+'));
    send_text(fx, last1);
    expect_response(fx, "tidk001", 200);
    send_text(fx, last2);
    expect_response(fx, "tidk002", 200);
    g_assert_cmpuint(fx->messages->len, ==, 0); /* bytes 1-5 never came */
    send_text(fx, first);
    expect_response(fx, "tidk003", 200);
    g_assert_cmpuint(fx->messages->len, ==, 1);
    gsize n;
    const char *body = g_bytes_get_data(g_ptr_array_index(fx->messages, 0), &n);
    g_assert_cmpmem(body, n, "helloworld", 10);
}

/*
 * A file sent from disk when the connection is lost: after the reconnect it goes on from its
 * first chunk without a response (the chunks answered are not sent again), and the whole file
 * arrives at its Byte-Ranges; progress never goes back.
 */
static void file_send_resumes_after_reconnect(struct fixture *fx, gconstpointer data)
{
    (void)data;
    bind_peer(fx, "tidf101");
    int fd;
    g_autofree char *path = temp_file(&fd);
    size_t len = 10 * SYLK_MSRP_DIRECT_CHUNK_SIZE + 123;
    g_autofree uint8_t *body = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (uint8_t)(i * 13 + (i >> 9));
    g_assert_cmpint(write(fd, body, len), ==, (ssize_t)len);
    int token;
    g_assert_nonnull(
        sylk_msrp_session_send_message(fx->s, "application/octet-stream", NULL, fd, len, &token));
    g_autofree uint8_t *got = g_malloc0(len);
    struct sylk_msrp_frame f;
    for (unsigned i = 0; i < 5; i++) { /* the first three answered, two more not */
        g_assert_true(next_frame(fx, &f));
        int64_t start, end, total;
        g_assert_true(
            sylk_msrp_parse_byte_range(sylk_msrp_header(&f, "Byte-Range"), &start, &end, &total));
        memcpy(got + start - 1, f.body, f.body_len);
        if (i < 3)
            answer(fx, &f);
        sylk_msrp_frame_clear(&f);
    }
    pump(100);
    uint64_t progress_before = fx->progress_bytes;
    reconnect(fx, false);
    bind_peer(fx, "tidf102");
    size_t from = 3 * SYLK_MSRP_DIRECT_CHUNK_SIZE, seen = 0;
    bool first = true;
    while (seen < len - from) {
        g_assert_true(next_frame(fx, &f));
        int64_t start, end, total;
        g_assert_true(
            sylk_msrp_parse_byte_range(sylk_msrp_header(&f, "Byte-Range"), &start, &end, &total));
        if (first)
            g_assert_cmpint(start, ==, (int64_t)from + 1); /* not from the start */
        first = false;
        memcpy(got + start - 1, f.body, f.body_len);
        seen += f.body_len;
        answer(fx, &f);
        sylk_msrp_frame_clear(&f);
    }
    pump(100);
    g_assert_cmpmem(got, len, body, len);
    g_assert_cmpint(fx->sent_status, ==, 200);
    g_assert_true(fx->sent_token == &token);
    g_assert_cmpuint(fx->progress_bytes, >=, progress_before);
    g_assert_cmpuint(fx->progress_bytes, ==, len);
    unlink(path);
}

/* Accepts one connection on `lfd` (5 s at most) and makes it non-blocking. */
static int accept_one(int lfd)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    int fd;
    while ((fd = accept(lfd, NULL, NULL)) < 0 && g_get_monotonic_time() < deadline)
        pump(10);
    g_assert_cmpint(fd, >=, 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/*
 * RFC 6135 active side: the session connected to the peer, which closes the connection with
 * a message unanswered; the session connects again at once, binds it with an empty SEND and
 * sends the message again.
 */
static void active_side_reconnects(struct fixture *fx, gconstpointer data)
{
    (void)data;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 4), ==, 0);
    getsockname(lfd, (struct sockaddr *)&sa, &len);
    g_autofree char *peer = g_strdup_printf("msrp://127.0.0.1:%u/act1;tcp", ntohs(sa.sin_port));
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_session_set_peer(fx->s, peer, &error), ==, 0);
    g_assert_cmpint(sylk_msrp_session_connect(fx->s), ==, 0);
    g_assert_nonnull(sylk_msrp_session_send(fx->s, "text/plain", "ping", 4));
    close(fx->fd);
    fx->fd = accept_one(lfd);
    struct sylk_msrp_frame f;
    g_assert_true(next_frame(fx, &f)); /* the empty SEND that binds it */
    g_assert_cmpuint(f.body_len, ==, 0);
    sylk_msrp_frame_clear(&f);
    g_assert_true(next_frame(fx, &f)); /* ping, unanswered */
    g_assert_cmpmem(f.body, f.body_len, "ping", 4);
    sylk_msrp_frame_clear(&f);
    close(fx->fd);
    fx->fd = accept_one(lfd); /* it came back by itself */
    g_byte_array_set_size(fx->in, 0);
    g_assert_true(next_frame(fx, &f));
    g_assert_cmpuint(f.body_len, ==, 0);
    sylk_msrp_frame_clear(&f);
    g_assert_true(next_frame(fx, &f));
    g_assert_cmpmem(f.body, f.body_len, "ping", 4);
    g_autofree char *resp =
        g_strdup_printf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n",
                        f.transaction_id, sylk_msrp_session_uri(fx->s), peer, f.transaction_id);
    send_text(fx, resp);
    sylk_msrp_frame_clear(&f);
    pump(100);
    g_assert_cmpint(fx->sent_status, ==, 200);
    g_assert_false(fx->closed);
    close(lfd);
}

/* Waits until nickname_result came (5 s at most). */
static int nick_result(struct fixture *fx)
{
    for (int i = 0; i < 5000 && !fx->nick_status; i++)
        pump(1);
    return fx->nick_status;
}

/*
 * RFC 7701 as we send it: To-Path, From-Path, Use-Nickname quoted and nothing else; made
 * before the peer bound a connection, it goes once one is there; its response's status comes
 * back with its token; no response is 408, and so is a lost connection.
 */
static void nickname_sent(struct fixture *fx, gconstpointer data)
{
    (void)data;
    char long_name[258];
    memset(long_name, 'x', 257);
    long_name[257] = '\0';
    g_assert_cmpint(sylk_msrp_session_send_nickname(fx->s, long_name, NULL), ==, -EINVAL);
    g_assert_cmpint(sylk_msrp_session_send_nickname(fx->s, "\xff", NULL), ==, -EINVAL);
    g_assert_cmpint(sylk_msrp_session_send_nickname(fx->s, "bob \"B\"", fx), ==, 0);
    pump(50);
    g_assert_cmpuint(fx->in->len, ==, 0); /* nothing before the connection is bound */
    g_autofree char *hello = empty_send(fx, "tidk001");
    send_text(fx, hello);
    struct sylk_msrp_frame f;
    /* the NICKNAME and the 200 to the SEND that bound the connection, in either order */
    g_assert_true(next_frame(fx, &f));
    if (!f.method) {
        g_assert_cmpint(f.status, ==, 200);
        sylk_msrp_frame_clear(&f);
        g_assert_true(next_frame(fx, &f));
    } else {
        expect_response(fx, "tidk001", 200);
    }
    g_assert_cmpstr(f.method, ==, "NICKNAME");
    g_assert_cmpuint(f.headers->len, ==, 3);
    g_assert_cmpstr(sylk_msrp_header(&f, "To-Path"), ==, PEER);
    g_assert_cmpstr(sylk_msrp_header(&f, "From-Path"), ==, sylk_msrp_session_uri(fx->s));
    g_assert_cmpstr(sylk_msrp_header(&f, "Use-Nickname"), ==, "\"bob \\\"B\\\"\"");
    g_assert_null(f.body);
    g_autofree char *resp = g_strdup_printf(
        "MSRP %s 425 Nickname Usage Failed\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n",
        f.transaction_id, sylk_msrp_session_uri(fx->s), PEER, f.transaction_id);
    sylk_msrp_frame_clear(&f);
    send_text(fx, resp);
    g_assert_cmpint(nick_result(fx), ==, 425);
    g_assert_true(fx->nick_token == fx);

    sylk_msrp_session_set_transaction_timeout(fx->s, 1);
    fx->nick_status = 0;
    g_assert_cmpint(sylk_msrp_session_send_nickname(fx->s, "", NULL), ==, 0);
    g_assert_true(next_frame(fx, &f)); /* not answered */
    g_assert_cmpstr(sylk_msrp_header(&f, "Use-Nickname"), ==, "\"\"");
    sylk_msrp_frame_clear(&f);
    pump(1500);
    g_assert_cmpint(nick_result(fx), ==, 408);

    fx->nick_status = 0;
    sylk_msrp_session_set_transaction_timeout(fx->s, 30); /* the loss, not the timer, fails it */
    g_assert_cmpint(sylk_msrp_session_send_nickname(fx->s, "carol", NULL), ==, 0);
    g_assert_true(next_frame(fx, &f));
    sylk_msrp_frame_clear(&f);
    sylk_msrp_session_set_reconnect_timeout(fx->s, 30); /* a loss, not the end of the session */
    close(fx->fd);                                      /* lost with the request on it */
    fx->fd = -1;
    g_assert_cmpint(nick_result(fx), ==, 408);
    fx->fd = connect_peer(fx);
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
    g_test_add("/msrp-session/queued-bytes-are-bounded", struct fixture, NULL, setup,
               queued_bytes_are_bounded, teardown);
    g_test_add("/msrp-session/unanswered-chunks-fail-408", struct fixture, NULL, setup,
               unanswered_chunks_fail_408, teardown);
    g_test_add("/msrp-session/refused-message-gets-its-status", struct fixture, NULL, setup,
               refused_message_gets_its_status, teardown);
    g_test_add("/msrp-session/nickname-requests", struct fixture, NULL, setup, nickname_requests,
               teardown);
    g_test_add("/msrp-session/nickname-sent", struct fixture, NULL, setup, nickname_sent, teardown);
    g_test_add("/msrp-session/file-received-out-of-order", struct fixture, NULL, setup,
               file_received_out_of_order, teardown);
    g_test_add("/msrp-session/file-aborted", struct fixture, NULL, setup, file_aborted, teardown);
    g_test_add("/msrp-session/file-sent-streaming", struct fixture, NULL, setup,
               file_sent_streaming, teardown);
    g_test_add("/msrp-session/relayed-chunks-are-small", struct fixture, NULL, setup,
               relayed_chunks_are_small, teardown);
    g_test_add("/msrp-session/reconnect-resends-in-order", struct fixture, NULL, setup,
               reconnect_resends_in_order, teardown);
    g_test_add("/msrp-session/newest-connection-wins", struct fixture, NULL, setup,
               newest_connection_wins, teardown);
    g_test_add("/msrp-session/response-and-report-follow-the-connection", struct fixture, NULL,
               setup, response_and_report_follow_the_connection, teardown);
    g_test_add("/msrp-session/resent-message-handed-over-once", struct fixture, NULL, setup,
               resent_message_handed_over_once, teardown);
    g_test_add("/msrp-session/duplicate-chunk-counts-once", struct fixture, NULL, setup,
               duplicate_chunk_counts_once, teardown);
    g_test_add("/msrp-session/file-send-resumes-after-reconnect", struct fixture, NULL, setup,
               file_send_resumes_after_reconnect, teardown);
    g_test_add("/msrp-session/active-side-reconnects", struct fixture, NULL, setup,
               active_side_reconnects, teardown);
    return g_test_run();
}
