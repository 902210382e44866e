/* Unit tests for core/msrp/transport.c with two transports on loopback, one connecting to the
 * other (sylk_msrp_transport_connect) over TLS and plain TCP: the outcome callback, frames
 * dispatched both ways by To-Path session id, a refused connect, connects cancelled by
 * unregistering or stopping before their outcome, and `writable` once a large queue drains. */
#include "msrp/tls.h"
#include "msrp/transport.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct test_ep {
    struct sylk_msrp_endpoint ep; /* first: callbacks get this pointer */
    const char *sid;
    unsigned frames, closed, connected, writable;
    int error;
    size_t body_bytes;
    size_t queued_at_writable;
    char *last_body;
};

struct fixture {
    char *spool;
    gnutls_certificate_credentials_t cred;
    struct sylk_msrp_transport *a, *b; /* a connects to b */
    struct test_ep ea, eb;
};

/* Like a session: the first request binds the connection it came on. */
static void on_frame(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn,
                     struct sylk_msrp_frame *f)
{
    struct test_ep *e = (struct test_ep *)ep;
    if (f->method && !ep->conn)
        ep->conn = conn;
    if (f->method) {
        e->frames++;
        e->body_bytes += f->body_len;
        g_free(e->last_body);
        e->last_body = g_strndup((const char *)f->body, f->body_len);
    }
    sylk_msrp_frame_clear(f);
}

static void on_closed(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn)
{
    (void)conn;
    ((struct test_ep *)ep)->closed++;
}

static void on_connected(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn, int error)
{
    struct test_ep *e = (struct test_ep *)ep;
    g_assert_true((conn != NULL) == (error == 0));
    ep->conn = conn;
    e->connected++;
    e->error = error;
}

static void on_writable(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *conn)
{
    struct test_ep *e = (struct test_ep *)ep;
    e->writable++;
    e->queued_at_writable = sylk_msrp_conn_queued(conn);
}

static void ep_init(struct test_ep *e, const char *sid)
{
    memset(e, 0, sizeof(*e));
    e->sid = sid;
    e->ep.frame = on_frame;
    e->ep.closed = on_closed;
    e->ep.connected = on_connected;
    e->ep.writable = on_writable;
}

/* Runs the loop until *flag is non-zero or 5 s passed. */
static bool run_until(const unsigned *flag)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!*flag && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, g_get_monotonic_time() < deadline);
    return *flag != 0;
}

static void pump(unsigned ms)
{
    gint64 until = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < until) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* `b` listens with TLS when `tls`; `a` has no credentials of its own (client ones are made). */
static void setup(struct fixture *fx, gconstpointer data)
{
    bool tls = GPOINTER_TO_INT(data);
    memset(fx, 0, sizeof(*fx));
    g_autofree char *error = NULL, *path = NULL;
    if (tls) {
        fx->spool = g_dir_make_tmp("sylk-msrp-transport-XXXXXX", NULL);
        g_assert_cmpint(sylk_tls_server_credentials(NULL, fx->spool, "msrp", "127.0.0.1", &fx->cred,
                                                    &path, &error),
                        ==, 0);
    }
    g_assert_cmpint(sylk_msrp_transport_start("127.0.0.1", 0, NULL, &fx->a, &error), ==, 0);
    g_assert_cmpint(sylk_msrp_transport_start("127.0.0.1", 0, fx->cred, &fx->b, &error), ==, 0);
    ep_init(&fx->ea, "sessiona1");
    ep_init(&fx->eb, "sessionb1");
    sylk_msrp_transport_register(fx->a, fx->ea.sid, &fx->ea.ep);
    sylk_msrp_transport_register(fx->b, fx->eb.sid, &fx->eb.ep);
}

static void teardown(struct fixture *fx, gconstpointer data)
{
    (void)data;
    sylk_msrp_transport_stop(fx->a);
    sylk_msrp_transport_stop(fx->b);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_free(fx->ea.last_body);
    g_free(fx->eb.last_body);
    if (fx->cred)
        gnutls_certificate_free_credentials(fx->cred);
    if (fx->spool) {
        g_autofree char *pem = g_build_filename(fx->spool, "tls", "msrp.pem", NULL);
        g_autofree char *dir = g_build_filename(fx->spool, "tls", NULL);
        g_unlink(pem);
        g_rmdir(dir);
        g_rmdir(fx->spool);
        g_free(fx->spool);
    }
}

static char *uri_of(struct sylk_msrp_transport *t, const char *sid)
{
    return g_strdup_printf("%s://127.0.0.1:%u/%s;tcp",
                           sylk_msrp_transport_tls(t) ? "msrps" : "msrp",
                           sylk_msrp_transport_port(t), sid);
}

static GBytes *send_frame(const char *tid, const char *to, const char *from, const void *body,
                          size_t len)
{
    struct sylk_msrp_frame f = {.flag = '$', .method = "SEND"};
    g_strlcpy(f.transaction_id, tid, sizeof(f.transaction_id));
    f.headers = g_array_new(FALSE, FALSE, sizeof(struct sylk_msrp_header));
    struct sylk_msrp_header h[4] = {{"To-Path", (char *)to},
                                    {"From-Path", (char *)from},
                                    {"Message-ID", "message1"},
                                    {"Content-Type", "text/plain"}};
    g_array_append_vals(f.headers, h, 4);
    f.body = (uint8_t *)body;
    f.body_len = len;
    GBytes *wire = sylk_msrp_format(&f);
    g_array_free(f.headers, TRUE);
    g_assert_nonnull(wire);
    return wire;
}

/* a connects to b for ea; then ea and eb are bound to the two ends. */
static void connect_a_to_b(struct fixture *fx)
{
    g_autofree char *to_text = uri_of(fx->b, fx->eb.sid), *error = NULL;
    struct sylk_msrp_uri to;
    g_assert_cmpint(sylk_msrp_uri_parse(to_text, strlen(to_text), &to, &error), ==, 0);
    g_assert_cmpint(sylk_msrp_transport_connect(fx->a, &to, &fx->ea.ep, &error), ==, 0);
    g_assert_null(error);
    sylk_msrp_uri_clear(&to);
    g_assert_null(fx->ea.ep.conn);
    g_assert_true(run_until(&fx->ea.connected));
    g_assert_cmpuint(fx->ea.connected, ==, 1);
    g_assert_cmpint(fx->ea.error, ==, 0);
    g_assert_nonnull(fx->ea.ep.conn);

    /* RFC 4975: the active side sends first, which binds the other end */
    g_autofree char *ua = uri_of(fx->a, fx->ea.sid), *ub = uri_of(fx->b, fx->eb.sid);
    g_autoptr(GBytes) hello = send_frame("tida0001", ub, ua, "hello b", 7);
    sylk_msrp_conn_send(fx->ea.ep.conn, hello);
    g_assert_true(run_until(&fx->eb.frames));
    g_assert_cmpstr(fx->eb.last_body, ==, "hello b");
    g_assert_nonnull(fx->eb.ep.conn);
}

static void connect_and_exchange(struct fixture *fx, gconstpointer data)
{
    (void)data;
    connect_a_to_b(fx);
    g_autofree char *ua = uri_of(fx->a, fx->ea.sid), *ub = uri_of(fx->b, fx->eb.sid);
    g_autoptr(GBytes) back = send_frame("tidb0001", ua, ub, "hello a", 7);
    sylk_msrp_conn_send(fx->eb.ep.conn, back);
    g_assert_true(run_until(&fx->ea.frames));
    g_assert_cmpstr(fx->ea.last_body, ==, "hello a");
    g_assert_cmpuint(fx->ea.connected, ==, 1);

    /* the peer going away is `closed` for the bound endpoint */
    sylk_msrp_transport_stop(fx->b);
    fx->b = NULL;
    g_assert_true(run_until(&fx->ea.closed));
    g_assert_null(fx->ea.ep.conn);
}

/* A port where nothing listens. */
static unsigned closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void refused(struct fixture *fx, gconstpointer data)
{
    (void)data;
    struct sylk_msrp_uri to = {.secure = true, .host = "127.0.0.1", .port = closed_port()};
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_transport_connect(fx->a, &to, &fx->ea.ep, &error), ==, 0);
    g_assert_true(run_until(&fx->ea.connected));
    g_assert_cmpint(fx->ea.error, ==, -ECONNREFUSED);
    g_assert_null(fx->ea.ep.conn);
    g_assert_cmpuint(fx->ea.closed, ==, 0);
}

static void bad_host(struct fixture *fx, gconstpointer data)
{
    (void)data;
    struct sylk_msrp_uri to = {.host = "not an address..", .port = 2855};
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_transport_connect(fx->a, &to, &fx->ea.ep, &error), <, 0);
    g_assert_nonnull(error);
    pump(50);
    g_assert_cmpuint(fx->ea.connected, ==, 0);

    /* an endpoint that is not registered cannot connect */
    struct test_ep stranger;
    ep_init(&stranger, "stranger1");
    g_clear_pointer(&error, g_free);
    struct sylk_msrp_uri b = {.host = "127.0.0.1", .port = sylk_msrp_transport_port(fx->b)};
    g_assert_cmpint(sylk_msrp_transport_connect(fx->a, &b, &stranger.ep, &error), ==, -EINVAL);
    g_assert_nonnull(error);
}

/* Unregistering the session, or stopping the transport, before the outcome: no callback. */
static void cancelled(struct fixture *fx, gconstpointer data)
{
    bool tls = GPOINTER_TO_INT(data);
    struct sylk_msrp_uri to = {
        .secure = tls, .host = "127.0.0.1", .port = sylk_msrp_transport_port(fx->b)};
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_transport_connect(fx->a, &to, &fx->ea.ep, &error), ==, 0);
    sylk_msrp_transport_unregister(fx->a, fx->ea.sid);
    pump(200);
    g_assert_cmpuint(fx->ea.connected, ==, 0);
    g_assert_null(fx->ea.ep.conn);

    /* refused, but the transport stops first */
    struct test_ep other;
    ep_init(&other, "sessiona2");
    sylk_msrp_transport_register(fx->a, other.sid, &other.ep);
    struct sylk_msrp_uri nowhere = {.host = "127.0.0.1", .port = closed_port()};
    g_assert_cmpint(sylk_msrp_transport_connect(fx->a, &nowhere, &other.ep, &error), ==, 0);
    sylk_msrp_transport_stop(fx->a);
    fx->a = NULL;
    pump(200);
    g_assert_cmpuint(other.connected, ==, 0);
}

/*
 * More than the low-water mark queued on the connection (a's socket buffers cannot take it all
 * before b reads): `writable` for every endpoint bound to it once it drained to the mark.
 */
static void writable_after_drain(struct fixture *fx, gconstpointer data)
{
    (void)data;
    connect_a_to_b(fx);
    /* a second session of a on the same connection, bound by b's first frame to it */
    struct test_ep ea2;
    ep_init(&ea2, "sessiona2");
    sylk_msrp_transport_register(fx->a, ea2.sid, &ea2.ep);
    g_autofree char *ua2 = uri_of(fx->a, ea2.sid), *ub = uri_of(fx->b, fx->eb.sid);
    g_autoptr(GBytes) hi = send_frame("tidb0002", ua2, ub, "hi", 2);
    sylk_msrp_conn_send(fx->eb.ep.conn, hi);
    g_assert_true(run_until(&ea2.frames));
    g_assert_true(ea2.ep.conn == fx->ea.ep.conn);

    g_autofree char *ua = uri_of(fx->a, fx->ea.sid);
    enum { CHUNK = 512 << 10, COUNT = 32 };
    g_autofree uint8_t *body = g_malloc(CHUNK);
    memset(body, 'x', CHUNK);
    unsigned before = fx->eb.frames;
    for (unsigned i = 0; i < COUNT; i++) {
        char tid[16];
        g_snprintf(tid, sizeof(tid), "tidbig%02u", i);
        g_autoptr(GBytes) big = send_frame(tid, ub, ua, body, CHUNK);
        sylk_msrp_conn_send(fx->ea.ep.conn, big);
    }
    g_assert_cmpuint(sylk_msrp_conn_queued(fx->ea.ep.conn), >, SYLK_MSRP_LOW_WATER);
    g_assert_cmpuint(fx->ea.writable, ==, 0); /* never from within the send */
    g_assert_true(run_until(&fx->ea.writable));
    g_assert_true(run_until(&ea2.writable));
    g_assert_cmpuint(fx->ea.queued_at_writable, <=, SYLK_MSRP_LOW_WATER);
    g_assert_cmpuint(fx->eb.writable, ==, 0);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (fx->eb.frames < before + COUNT && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(fx->eb.frames, ==, before + COUNT);
    g_assert_cmpuint(fx->ea.writable, ==, 1);
    g_assert_cmpuint(sylk_msrp_conn_queued(fx->ea.ep.conn), ==, 0);
    sylk_msrp_transport_unregister(fx->a, ea2.sid);
    g_free(ea2.last_body);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    gconstpointer tls = GINT_TO_POINTER(1), tcp = GINT_TO_POINTER(0);
#define ADD(path, data, fn) g_test_add(path, struct fixture, data, setup, fn, teardown)
    ADD("/msrp-transport/tls/connect-and-exchange", tls, connect_and_exchange);
    ADD("/msrp-transport/tcp/connect-and-exchange", tcp, connect_and_exchange);
    ADD("/msrp-transport/tls/refused", tls, refused);
    ADD("/msrp-transport/tcp/bad-host", tcp, bad_host);
    ADD("/msrp-transport/tls/cancelled", tls, cancelled);
    ADD("/msrp-transport/tcp/cancelled", tcp, cancelled);
    ADD("/msrp-transport/tls/writable-after-drain", tls, writable_after_drain);
    ADD("/msrp-transport/tcp/writable-after-drain", tcp, writable_after_drain);
#undef ADD
    return g_test_run();
}
