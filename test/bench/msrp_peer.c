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
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
    int fd;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
    GByteArray *out; /* queued to write, from out_off */
    size_t out_off;
    bool send_again; /* the last record send returned GNUTLS_E_AGAIN */
    GByteArray *in;  /* read, not yet parsed */
    gint64 deadline;
};

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("msrp_peer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static size_t parse_size(const char *s, const char *what)
{
    guint64 v;
    if (!g_ascii_string_to_unsigned(s, 10, 1, G_MAXSIZE, &v, NULL))
        fail("bad %s: %s", what, s);
    return (size_t)v;
}

static size_t pending_out(const struct peer *p)
{
    return p->out->len - p->out_off;
}

static void connect_tls(struct peer *p, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int one = 1, ret;

    if (getaddrinfo(host, port, &hints, &ai) != 0)
        fail("cannot resolve %s:%s", host, port);
    p->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (p->fd < 0 || connect(p->fd, ai->ai_addr, ai->ai_addrlen) < 0)
        fail("connect %s:%s: %s", host, port, g_strerror(errno));
    freeaddrinfo(ai);
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    if (gnutls_certificate_allocate_credentials(&p->cred) < 0 ||
        gnutls_init(&p->tls, GNUTLS_CLIENT) < 0 || gnutls_set_default_priority(p->tls) < 0 ||
        gnutls_credentials_set(p->tls, GNUTLS_CRD_CERTIFICATE, p->cred) < 0)
        fail("gnutls setup failed");
    gnutls_transport_set_int(p->tls, p->fd);
    gnutls_handshake_set_timeout(p->tls, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
    do
        ret = gnutls_handshake(p->tls);
    while (ret < 0 && !gnutls_error_is_fatal(ret));
    if (ret < 0)
        fail("TLS handshake: %s", gnutls_strerror(ret));
    if (fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK) < 0)
        fail("fcntl: %s", g_strerror(errno));
    p->out = g_byte_array_sized_new(2 * OUT_LOW_WATER);
    p->in = g_byte_array_sized_new(2 * IO_ROUND);
}

static void close_tls(struct peer *p)
{
    gnutls_deinit(p->tls);
    gnutls_certificate_free_credentials(p->cred);
    close(p->fd);
    g_byte_array_unref(p->out);
    g_byte_array_unref(p->in);
}

static void write_some(struct peer *p)
{
    size_t written = 0;
    while (pending_out(p) > 0 && written < IO_ROUND) {
        ssize_t n = p->send_again
                        ? gnutls_record_send(p->tls, NULL, 0)
                        : gnutls_record_send(p->tls, p->out->data + p->out_off, pending_out(p));
        if (n == GNUTLS_E_AGAIN) {
            p->send_again = true;
            return;
        }
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n < 0)
            fail("TLS send: %s", gnutls_strerror((int)n));
        p->send_again = false;
        p->out_off += (size_t)n;
        written += (size_t)n;
    }
    if (pending_out(p) == 0) {
        g_byte_array_set_size(p->out, 0);
        p->out_off = 0;
    } else if (p->out_off >= OUT_LOW_WATER && !p->send_again) {
        g_byte_array_remove_range(p->out, 0, (guint)p->out_off);
        p->out_off = 0;
    }
}

static void read_some(struct peer *p)
{
    size_t got = 0;
    while (got < IO_ROUND) {
        guint old = p->in->len;
        g_byte_array_set_size(p->in, old + IO_ROUND);
        ssize_t n = gnutls_record_recv(p->tls, p->in->data + old, IO_ROUND);
        g_byte_array_set_size(p->in, old + (n > 0 ? (guint)n : 0));
        if (n == GNUTLS_E_AGAIN)
            return;
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n == 0)
            fail("the server closed the connection");
        if (n < 0)
            fail("TLS receive: %s", gnutls_strerror((int)n));
        got += (size_t)n;
    }
}

/* One poll round: writes what is queued while the socket takes it, reads what arrived. */
static void io_round(struct peer *p)
{
    gint64 left = p->deadline - g_get_monotonic_time();
    if (left <= 0)
        fail("gave up after %d s", (int)(TIMEOUT_US / G_USEC_PER_SEC));
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN | (pending_out(p) ? POLLOUT : 0)};
    int timeout = gnutls_record_check_pending(p->tls) ? 0 : (int)(left / 1000 + 1);
    if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
        fail("poll: %s", g_strerror(errno));
    if (pfd.revents & POLLOUT)
        write_some(p);
    if (pfd.revents & (POLLIN | POLLERR | POLLHUP) || gnutls_record_check_pending(p->tls))
        read_some(p);
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
        if (queued < bytes && pending_out(&p) < OUT_LOW_WATER) {
            size_t n = MIN(bytes - queued, (size_t)DEFAULT_CHUNK);
            g_byte_array_append(p.out, data + queued, (guint)n);
            queued += n;
        }
        io_round(&p);
        if (echoed + p.in->len > bytes || memcmp(data + echoed, p.in->data, p.in->len) != 0)
            fail("the echo differs from what was sent (at byte %zu)", echoed);
        echoed += p.in->len;
        g_byte_array_set_size(p.in, 0);
    }
    printf("bytes=%zu seconds=%.6f\n", bytes, seconds_since(t0));
    close_tls(&p);
    g_free(data);
    return 0;
}

/* ---- MSRP ---------------------------------------------------------------------------------- */

/* One frame as parsed: pointers into the input buffer, not NUL-terminated. */
struct frame {
    const char *tid, *method, *to_path, *from_path, *byte_range;
    size_t tid_len, method_len, to_path_len, from_path_len, byte_range_len;
    int status; /* a response: its code; a request: 0 */
    const guint8 *body;
    size_t body_len;
    char flag;
};

static bool is_flag(char c)
{
    return c == '+' || c == '$' || c == '#';
}

static bool header_is(const char *line, size_t name_len, const char *name)
{
    return name_len == strlen(name) && g_ascii_strncasecmp(line, name, name_len) == 0;
}

/*
 * Parses one frame at buf: its length when whole, 0 when more is needed, -1 when it is not
 * MSRP or exceeds MAX_HEADER / MAX_BODY.
 */
static gssize parse_frame(const guint8 *buf, size_t len, struct frame *f)
{
    const char *s = (const char *)buf, *end = s + len;
    const char *eol = memmem(s, MIN(len, (size_t)MAX_HEADER), "\r\n", 2);
    char marker[16 + MAX_ARG];
    size_t marker_len;

    memset(f, 0, sizeof *f);
    if (!eol)
        return len >= MAX_HEADER ? -1 : 0;
    if (eol - s < 5 || memcmp(s, "MSRP ", 5) != 0)
        return -1;
    f->tid = s + 5;
    const char *sp = memchr(f->tid, ' ', (size_t)(eol - f->tid));
    if (!sp || sp - f->tid < 4 || sp - f->tid > 64)
        return -1;
    f->tid_len = (size_t)(sp - f->tid);
    const char *word = sp + 1, *word_end = memchr(word, ' ', (size_t)(eol - word));
    if (!word_end)
        word_end = eol;
    if (word_end - word == 3 && g_ascii_isdigit(word[0]) && g_ascii_isdigit(word[1]) &&
        g_ascii_isdigit(word[2]))
        f->status = (word[0] - '0') * 100 + (word[1] - '0') * 10 + (word[2] - '0');
    else if (word_end > word)
        f->method = word, f->method_len = (size_t)(word_end - word);
    else
        return -1;
    marker_len =
        (size_t)g_snprintf(marker, sizeof marker, "\r\n-------%.*s", (int)f->tid_len, f->tid);

    for (const char *line = eol + 2;;) {
        if ((size_t)(line - s) > MAX_HEADER)
            return -1;
        const char *le = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!le)
            return len > MAX_HEADER ? -1 : 0;
        size_t ll = (size_t)(le - line);
        if (ll == marker_len - 1 && memcmp(line, marker + 2, marker_len - 2) == 0 &&
            is_flag(line[ll - 1])) { /* the end-line: no body */
            f->flag = line[ll - 1];
            return le + 2 - s;
        }
        if (ll == 0) { /* the blank line: content up to CRLF and the end-line */
            const char *body = le + 2;
            for (const char *from = body;;) {
                const char *m = memmem(from, (size_t)(end - from), marker, marker_len);
                if (!m)
                    return (size_t)(end - body) > MAX_BODY + marker_len + 3 ? -1 : 0;
                const char *after = m + marker_len;
                if (end - after < 3)
                    return 0;
                if (is_flag(after[0]) && after[1] == '\r' && after[2] == '\n') {
                    f->body = (const guint8 *)body;
                    f->body_len = (size_t)(m - body);
                    f->flag = after[0];
                    return after + 3 - s;
                }
                from = m + 1;
            }
        }
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            return -1;
        const char *v = colon + 1;
        while (v < le && *v == ' ')
            v++;
        size_t name_len = (size_t)(colon - line), v_len = (size_t)(le - v);
        if (header_is(line, name_len, "To-Path"))
            f->to_path = v, f->to_path_len = v_len;
        else if (header_is(line, name_len, "From-Path"))
            f->from_path = v, f->from_path_len = v_len;
        else if (header_is(line, name_len, "Byte-Range"))
            f->byte_range = v, f->byte_range_len = v_len;
        line = le + 2;
    }
}

struct msrp_run {
    struct peer p;
    const char *to_path, *from_uri;
    const guint8 *data; /* every message is a prefix of it */
    size_t msg_len;     /* the message being sent and echoed */
    size_t sends, responses;
    size_t echoed;
    bool echo_done;
};

static void random_id(char *out, size_t len)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < len; i++)
        out[i] = alnum[g_random_int_range(0, 62)];
    out[len] = '\0';
}

static G_GNUC_PRINTF(2, 3) void queue_printf(struct peer *p, const char *fmt, ...)
{
    char buf[4 * MAX_ARG];
    va_list ap;
    va_start(ap, fmt);
    int n = g_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        fail("frame header too long");
    g_byte_array_append(p->out, (const guint8 *)buf, (guint)n);
}

/* A SEND chunk of `len` bytes at `start` (0-based) of a message of `total`; len 0: empty. */
static void queue_send(struct msrp_run *r, const char *message_id, size_t start, size_t len,
                       size_t total)
{
    char tid[TID_LEN + 1];
    bool last = start + len == total;
    random_id(tid, TID_LEN);
    if (total == 0) {
        queue_printf(&r->p,
                     "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                     "Byte-Range: 1-0/0\r\n-------%s$\r\n",
                     tid, r->to_path, r->from_uri, message_id, tid);
    } else {
        queue_printf(&r->p,
                     "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                     "Success-Report: no\r\nByte-Range: %zu-%zu/%zu\r\n"
                     "Content-Type: text/plain\r\n\r\n",
                     tid, r->to_path, r->from_uri, message_id, start + 1, start + len, total);
        g_byte_array_append(r->p.out, r->data + start, (guint)len);
        queue_printf(&r->p, "\r\n-------%s%c\r\n", tid, last ? '$' : '+');
    }
    r->sends++;
}

/* The echo's SEND: compared with what we sent and answered 200. */
static void echo_chunk(struct msrp_run *r, const struct frame *f)
{
    if (!f->from_path || f->from_path_len == 0)
        fail("a SEND without From-Path");
    size_t first_len = strcspn(f->from_path, " \r");
    if (first_len > f->from_path_len)
        first_len = f->from_path_len;
    queue_printf(&r->p, "MSRP %.*s 200 OK\r\nTo-Path: %.*s\r\nFrom-Path: %s\r\n-------%.*s$\r\n",
                 (int)f->tid_len, f->tid, (int)first_len, f->from_path, r->from_uri,
                 (int)f->tid_len, f->tid);
    if (!f->body)
        return; /* an empty SEND (binding a connection) */
    if (f->flag == '#')
        fail("the echo was aborted");
    guint64 start = 0;
    if (!f->byte_range || (start = g_ascii_strtoull(f->byte_range, NULL, 10)) == 0)
        fail("an echoed chunk without a usable Byte-Range");
    if (start - 1 + f->body_len > r->msg_len ||
        memcmp(r->data + start - 1, f->body, f->body_len) != 0)
        fail("the echo differs from what was sent (chunk at byte %" G_GUINT64_FORMAT ")", start);
    r->echoed += f->body_len;
    if (f->flag == '$') {
        if (r->echoed != r->msg_len)
            fail("the echo ended after %zu of %zu bytes", r->echoed, r->msg_len);
        r->echo_done = true;
    }
}

static void handle_input(struct msrp_run *r)
{
    size_t off = 0;
    for (;;) {
        struct frame f;
        gssize n = parse_frame(r->p.in->data + off, r->p.in->len - off, &f);
        if (n < 0) {
            size_t shown = MIN(r->p.in->len - off, (size_t)40);
            g_autofree char *raw = g_strndup((const char *)r->p.in->data + off, shown);
            g_autofree char *text = g_strescape(raw, NULL);
            fail("unparsable input from the server: \"%s\"", text);
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (f.status) {
            if (f.status != 200)
                fail("a SEND of ours got %d", f.status);
            r->responses++;
        } else if (f.method_len == 4 && memcmp(f.method, "SEND", 4) == 0) {
            echo_chunk(r, &f);
        } /* REPORT and anything else: nothing to answer */
    }
    if (off)
        g_byte_array_remove_range(r->p.in, 0, (guint)off);
}

static int run_msrp(const char *host, const char *port, const char *to_path, const char *from_uri,
                    size_t bytes, size_t chunk, size_t message)
{
    struct msrp_run r = {.p.deadline = g_get_monotonic_time() + TIMEOUT_US,
                         .to_path = to_path,
                         .from_uri = from_uri};
    char message_id[17];

    if (strlen(to_path) > MAX_ARG || strlen(from_uri) > MAX_ARG)
        fail("TO_PATH and FROM_URI are limited to %d characters", MAX_ARG);
    r.data = make_payload(MIN(bytes, message));
    connect_tls(&r.p, host, port);

    random_id(message_id, 16);
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
        random_id(message_id, 16);
        while (queued < r.msg_len || r.responses < r.sends || !r.echo_done) {
            while (queued < r.msg_len && pending_out(&r.p) < OUT_LOW_WATER) {
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
