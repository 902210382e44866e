/*
 * test/bench/msrp_peer — the client of the msrp benchmark (test/bench/msrp), in C so that the
 * wall-clock figures measure the servers and not a Python client. An independent peer written
 * from RFC 4975: nothing of core/ or the server is used.
 *
 *   msrp_peer tls-echo HOST PORT BYTES
 *       TLS (no certificate check) to `gnutls-serv --echo`, which echoes line by line: BYTES
 *       of base64-like lines (76 characters and "\n") written while the echo is read back and
 *       compared.
 *   msrp_peer msrp HOST PORT TO_PATH FROM_URI BYTES [CHUNK [MESSAGE]]
 *       MSRP over TLS to an echo: an empty SEND binds the connection (RFC 4975 §5.4), then
 *       BYTES go as text/plain messages of at most MESSAGE bytes (default 16 MB, the server's
 *       largest), one message at a time, each in SENDs of CHUNK bytes (default 64 KB). Every
 *       SEND of the echo is answered 200 (To-Path its first From-Path URI, From-Path ours) and
 *       its content compared with what was sent. A message is done when the echo's '$' chunk
 *       came with all its bytes and each of our SENDs got its 200; REPORTs are ignored.
 *
 * Both print one line `bytes=N seconds=S`, S from the end of the handshake (and of the bind's
 * 200) to the last byte echoed. The socket is non-blocking and every poll round both writes
 * and reads, so neither side stalls on a full socket. Anything unexpected (a status other than
 * 200, a frame that does not parse, headers over 1 MB, an echo that differs, 120 s passed)
 * ends the program with a message and exit status 1.
 */
#include "msrp_wire.h"
#include <errno.h>

#include <glib.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_US      (120 * G_USEC_PER_SEC)
#define LINE_CHARS      76
#define DEFAULT_CHUNK   (64u << 10)
#define DEFAULT_MESSAGE (16u << 20)  /* the server's largest message */
#define MAX_HEADER      (1u << 20)   /* start line and headers of one frame */
#define MAX_BODY        (8u << 20)   /* content of one chunk */
#define MAX_ARG         512          /* a URI or path given on the command line */
#define OUT_LOW_WATER   (256u << 10) /* queue more output below this many unwritten bytes */
#define IO_ROUND        (1u << 20)   /* bytes read or written at most per poll round */
#define TID_LEN         12

struct peer {
    struct wire_conn c;
    gnutls_certificate_credentials_t cred;
    gint64 deadline;
};

static size_t parse_size(const char *s, const char *what)
{
    guint64 v;
    if (!g_ascii_string_to_unsigned(s, 10, 1, G_MAXSIZE, &v, NULL))
        wire_fail("bad %s: %s", what, s);
    return (size_t)v;
}

static void connect_tls(struct peer *p, const char *host, const char *port)
{
    if (gnutls_certificate_allocate_credentials(&p->cred) < 0)
        wire_fail("gnutls credentials failed");
    wire_connect(&p->c, host, port, p->cred);
}

static void close_tls(struct peer *p)
{
    wire_close(&p->c);
    gnutls_certificate_free_credentials(p->cred);
}

/* One poll round: writes what is queued while the socket takes it, reads what arrived. */
static void io_round(struct peer *p)
{
    gint64 left = p->deadline - g_get_monotonic_time();
    if (left <= 0)
        wire_fail("gave up after %d s", (int)(TIMEOUT_US / G_USEC_PER_SEC));
    struct pollfd pfd = {.fd = p->c.fd, .events = POLLIN | (wire_pending_out(&p->c) ? POLLOUT : 0)};
    int timeout = gnutls_record_check_pending(p->c.tls) ? 0 : (int)(left / 1000 + 1);
    if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
        wire_fail("poll: %s", g_strerror(errno));
    if (pfd.revents & POLLOUT)
        wire_write_some(&p->c, IO_ROUND);
    if (pfd.revents & (POLLIN | POLLERR | POLLHUP) || gnutls_record_check_pending(p->c.tls))
        wire_read_some(&p->c, IO_ROUND);
}

/* `len` bytes of base64-like lines ending in "\n" (gnutls-serv --echo answers per line). */
static guint8 *make_payload(size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    guint8 *data = g_malloc(len);
    guint32 x = g_random_int() | 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32: cheap, not for security */
        data[i] = (i + 1) % (LINE_CHARS + 1) == 0 ? '\n' : (guint8)alphabet[x & 63];
    }
    if (len > 0)
        data[len - 1] = '\n';
    return data;
}

static double seconds_since(gint64 t0)
{
    return (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
}

static int run_tls_echo(const char *host, const char *port, size_t bytes)
{
    struct peer p = {.deadline = g_get_monotonic_time() + TIMEOUT_US};
    guint8 *data = make_payload(bytes);
    size_t queued = 0, echoed = 0;

    connect_tls(&p, host, port);
    gint64 t0 = g_get_monotonic_time();
    while (echoed < bytes) {
        if (queued < bytes && wire_pending_out(&p.c) < OUT_LOW_WATER) {
            size_t n = MIN(bytes - queued, (size_t)DEFAULT_CHUNK);
            g_byte_array_append(p.c.out, data + queued, (guint)n);
            queued += n;
        }
        io_round(&p);
        if (echoed + p.c.in->len > bytes || memcmp(data + echoed, p.c.in->data, p.c.in->len) != 0)
            wire_fail("the echo differs from what was sent (at byte %zu)", echoed);
        echoed += p.c.in->len;
        g_byte_array_set_size(p.c.in, 0);
    }
    printf("bytes=%zu seconds=%.6f\n", bytes, seconds_since(t0));
    close_tls(&p);
    g_free(data);
    return 0;
}

/* ---- MSRP ---------------------------------------------------------------------------------- */

struct msrp_run {
    struct peer p;
    const char *to_path, *from_uri;
    const guint8 *data; /* every message is a prefix of it */
    size_t msg_len;     /* the message being sent and echoed */
    size_t sends, responses;
    size_t echoed;
    bool echo_done;
};

/* A SEND chunk of `len` bytes at `start` (0-based) of a message of `total`; len 0: empty. */
static void queue_send(struct msrp_run *r, const char *message_id, size_t start, size_t len,
                       size_t total)
{
    char tid[TID_LEN + 1];
    bool last = start + len == total;
    wire_random_id(tid, TID_LEN);
    if (total == 0) {
        wire_printf(&r->p.c,
                    "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                    "Byte-Range: 1-0/0\r\n-------%s$\r\n",
                    tid, r->to_path, r->from_uri, message_id, tid);
    } else {
        wire_printf(&r->p.c,
                    "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                    "Success-Report: no\r\nByte-Range: %zu-%zu/%zu\r\n"
                    "Content-Type: text/plain\r\n\r\n",
                    tid, r->to_path, r->from_uri, message_id, start + 1, start + len, total);
        g_byte_array_append(r->p.c.out, r->data + start, (guint)len);
        wire_printf(&r->p.c, "\r\n-------%s%c\r\n", tid, last ? '$' : '+');
    }
    r->sends++;
}

/* The echo's SEND: compared with what we sent and answered 200. */
static void echo_chunk(struct msrp_run *r, const struct wire_frame *f)
{
    if (!f->from_path || f->from_path_len == 0)
        wire_fail("a SEND without From-Path");
    size_t first_len = strcspn(f->from_path, " \r");
    if (first_len > f->from_path_len)
        first_len = f->from_path_len;
    wire_printf(&r->p.c, "MSRP %.*s 200 OK\r\nTo-Path: %.*s\r\nFrom-Path: %s\r\n-------%.*s$\r\n",
                (int)f->tid_len, f->tid, (int)first_len, f->from_path, r->from_uri, (int)f->tid_len,
                f->tid);
    if (!f->body)
        return; /* an empty SEND (binding a connection) */
    if (f->flag == '#')
        wire_fail("the echo was aborted");
    guint64 start = 0;
    if (!f->byte_range || (start = g_ascii_strtoull(f->byte_range, NULL, 10)) == 0)
        wire_fail("an echoed chunk without a usable Byte-Range");
    if (start - 1 + f->body_len > r->msg_len ||
        memcmp(r->data + start - 1, f->body, f->body_len) != 0)
        wire_fail("the echo differs from what was sent (chunk at byte %" G_GUINT64_FORMAT ")",
                  start);
    r->echoed += f->body_len;
    if (f->flag == '$') {
        if (r->echoed != r->msg_len)
            wire_fail("the echo ended after %zu of %zu bytes", r->echoed, r->msg_len);
        r->echo_done = true;
    }
}

static void handle_input(struct msrp_run *r)
{
    size_t off = 0;
    for (;;) {
        struct wire_frame f;
        gssize n =
            wire_parse_frame(r->p.c.in->data + off, r->p.c.in->len - off, MAX_HEADER, MAX_BODY, &f);
        if (n < 0) {
            size_t shown = MIN(r->p.c.in->len - off, (size_t)40);
            g_autofree char *raw = g_strndup((const char *)r->p.c.in->data + off, shown);
            g_autofree char *text = g_strescape(raw, NULL);
            wire_fail("unparsable input from the server: \"%s\"", text);
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (f.status) {
            if (f.status != 200)
                wire_fail("a SEND of ours got %d", f.status);
            r->responses++;
        } else if (f.method_len == 4 && memcmp(f.method, "SEND", 4) == 0) {
            echo_chunk(r, &f);
        } /* REPORT and anything else: nothing to answer */
    }
    if (off)
        g_byte_array_remove_range(r->p.c.in, 0, (guint)off);
}

static int run_msrp(const char *host, const char *port, const char *to_path, const char *from_uri,
                    size_t bytes, size_t chunk, size_t message)
{
    struct msrp_run r = {.p.deadline = g_get_monotonic_time() + TIMEOUT_US,
                         .to_path = to_path,
                         .from_uri = from_uri};
    char message_id[17];

    if (strlen(to_path) > MAX_ARG || strlen(from_uri) > MAX_ARG)
        wire_fail("TO_PATH and FROM_URI are limited to %d characters", MAX_ARG);
    r.data = make_payload(MIN(bytes, message));
    connect_tls(&r.p, host, port);

    wire_random_id(message_id, 16);
    queue_send(&r, message_id, 0, 0, 0);
    while (r.responses < r.sends) {
        io_round(&r.p);
        handle_input(&r);
    }

    gint64 t0 = g_get_monotonic_time();
    for (size_t done = 0; done < bytes; done += r.msg_len) {
        size_t queued = 0;
        r.msg_len = MIN(bytes - done, message);
        r.echoed = 0;
        r.echo_done = false;
        wire_random_id(message_id, 16);
        while (queued < r.msg_len || r.responses < r.sends || !r.echo_done) {
            while (queued < r.msg_len && wire_pending_out(&r.p.c) < OUT_LOW_WATER) {
                size_t n = MIN(r.msg_len - queued, chunk);
                queue_send(&r, message_id, queued, n, r.msg_len);
                queued += n;
            }
            io_round(&r.p);
            handle_input(&r);
        }
    }
    printf("bytes=%zu seconds=%.6f\n", bytes, seconds_since(t0));
    close_tls(&r.p);
    g_free((guint8 *)r.data);
    return 0;
}

int main(int argc, char **argv)
{
    g_set_prgname("msrp_peer");
    if (argc == 5 && strcmp(argv[1], "tls-echo") == 0)
        return run_tls_echo(argv[2], argv[3], parse_size(argv[4], "BYTES"));
    if (argc >= 7 && argc <= 9 && strcmp(argv[1], "msrp") == 0)
        return run_msrp(argv[2], argv[3], argv[4], argv[5], parse_size(argv[6], "BYTES"),
                        argc > 7 ? parse_size(argv[7], "CHUNK") : DEFAULT_CHUNK,
                        argc > 8 ? parse_size(argv[8], "MESSAGE") : DEFAULT_MESSAGE);
    fprintf(stderr, "usage: msrp_peer tls-echo HOST PORT BYTES\n"
                    "       msrp_peer msrp HOST PORT TO_PATH FROM_URI BYTES [CHUNK [MESSAGE]]\n");
    return 2;
}
