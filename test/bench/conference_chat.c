/*
 * test/bench/conference_chat — the MSRP side of the chat part of the conference benchmark
 * (test/bench/conference): holds every participant's connection to one conference room, in C
 * so that 100 connections are not the bottleneck. An independent peer written from RFC 4975
 * and RFC 3862: nothing of core/ or the server is used (the frame parser follows
 * test/bench/msrp_peer.c).
 *
 *   conference_chat SPEC tls|tcp MESSAGES SENDERS WINDOW SERVER_PID
 *
 * SPEC has one line per participant, already in the room (its SIP INVITE was answered and
 * ACKed by the caller): HOST, PORT, TO_PATH (the server's a=path), FROM_URI (ours, from our
 * a=path), CPIM_FROM (its SIP address of record) and ROOM (the room's address), separated by
 * tabs. Then:
 *   1. connects each (TLS without a certificate check, or plain TCP) and binds it with an
 *      empty SEND (RFC 4975 section 5.4); every SEND of the server, at any time, is answered
 *      200 (To-Path its first From-Path URI, From-Path ours);
 *   2. waits until the server's join notices stop (nothing received for 500 ms);
 *   3. the first SENDERS participants send MESSAGES public messages in all, round robin:
 *      message/cpim with From CPIM_FROM and To ROOM, text/plain "bench S Q" inside, one chunk
 *      each, Success-Report: no; a sender keeps at most WINDOW of its messages not yet received
 *      by every other participant. Every one of our SENDs must get 200.
 * Prints `deliveries=N seconds=S messages=M measure_cpu=C peer_cpu=P`: N copies of our
 * messages received by the other participants (MESSAGES x (participants - 1) when all
 * arrived), S from the first send to the last copy, C the CPU seconds (user + system,
 * /proc/SERVER_PID/stat) the server used meanwhile, P those of this program. Notices received
 * before the measurement go to stderr. Anything unexpected (a failed connect, a status other than
 * 200, a frame that does not parse, 120 s passed) ends the program with a message and exit
 * status 1.
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
#include <time.h>
#include <unistd.h>

#define TIMEOUT_US   (120 * G_USEC_PER_SEC)
#define QUIET_US     (500 * 1000) /* no input this long: the join notices are over */
#define MAX_HEADER   (64u << 10)
#define MAX_BODY     (1u << 20)
#define READ_SIZE    (64u << 10)
#define TID_LEN      12
#define MAX_SENDERS  16
#define MARKER       "bench "
#define MAX_ARG_LINE 2048

struct conn {
    int fd;
    gnutls_session_t tls; /* NULL over plain TCP */
    char *host, *port, *to_path, *from_uri, *cpim_from, *room;
    GByteArray *out; /* queued to write, from out_off */
    size_t out_off;
    bool send_again; /* the last record send returned GNUTLS_E_AGAIN */
    GByteArray *in;  /* read, not yet parsed */
    unsigned sends, responses;
};

struct run {
    struct conn *c;
    unsigned n;
    gnutls_certificate_credentials_t cred;
    gint64 deadline, last_input;
    unsigned notices; /* SENDs of the server that are not ours */
    /* measurement */
    unsigned messages, senders, window;
    unsigned sent[MAX_SENDERS], done[MAX_SENDERS];
    guint16 *copies; /* per message: how many participants got it (index sender*per + q) */
    unsigned per_sender;
    guint64 deliveries;
};

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("conference_chat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static unsigned parse_count(const char *s, const char *what, unsigned max)
{
    guint64 v;
    if (!g_ascii_string_to_unsigned(s, 10, 1, max, &v, NULL))
        fail("bad %s: %s", what, s);
    return (unsigned)v;
}

static double own_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/stat", pid), *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail("cannot read %s", path);
    const char *p = strrchr(text, ')');
    unsigned long utime = 0, stime = 0;
    /* after the name: state, then fields 4..13; utime and stime are fields 14 and 15 */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        fail("cannot parse %s", path);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- connections --------------------------------------------------------------------------- */

static void open_conn(struct run *r, struct conn *c)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int one = 1, ret;

    if (getaddrinfo(c->host, c->port, &hints, &ai) != 0)
        fail("cannot resolve %s:%s", c->host, c->port);
    c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0)
        fail("connect %s:%s: %s", c->host, c->port, g_strerror(errno));
    freeaddrinfo(ai);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (r->cred) {
        if (gnutls_init(&c->tls, GNUTLS_CLIENT) < 0 || gnutls_set_default_priority(c->tls) < 0 ||
            gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, r->cred) < 0)
            fail("gnutls setup failed");
        gnutls_transport_set_int(c->tls, c->fd);
        gnutls_handshake_set_timeout(c->tls, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
        do
            ret = gnutls_handshake(c->tls);
        while (ret < 0 && !gnutls_error_is_fatal(ret));
        if (ret < 0)
            fail("TLS handshake: %s", gnutls_strerror(ret));
    }
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
        fail("fcntl: %s", g_strerror(errno));
    c->out = g_byte_array_new();
    c->in = g_byte_array_new();
}

static size_t pending_out(const struct conn *c)
{
    return c->out->len - c->out_off;
}

static void write_some(struct conn *c)
{
    while (pending_out(c) > 0) {
        ssize_t n;
        if (c->tls) {
            n = c->send_again
                    ? gnutls_record_send(c->tls, NULL, 0)
                    : gnutls_record_send(c->tls, c->out->data + c->out_off, pending_out(c));
            if (n == GNUTLS_E_AGAIN) {
                c->send_again = true;
                return;
            }
            if (n == GNUTLS_E_INTERRUPTED)
                continue;
            if (n < 0)
                fail("TLS send: %s", gnutls_strerror((int)n));
            c->send_again = false;
        } else {
            n = send(c->fd, c->out->data + c->out_off, pending_out(c), MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n < 0)
                fail("send: %s", g_strerror(errno));
        }
        c->out_off += (size_t)n;
    }
    g_byte_array_set_size(c->out, 0);
    c->out_off = 0;
}

static bool read_some(struct conn *c)
{
    bool got = false;
    for (;;) {
        guint old = c->in->len;
        g_byte_array_set_size(c->in, old + READ_SIZE);
        ssize_t n = c->tls ? gnutls_record_recv(c->tls, c->in->data + old, READ_SIZE)
                           : recv(c->fd, c->in->data + old, READ_SIZE, 0);
        g_byte_array_set_size(c->in, old + (n > 0 ? (guint)n : 0));
        if (n > 0) {
            got = true;
            continue;
        }
        if (n == 0)
            fail("the server closed the connection of %s", c->cpim_from);
        if (c->tls ? n == GNUTLS_E_AGAIN : errno == EAGAIN)
            return got;
        if (c->tls ? n == GNUTLS_E_INTERRUPTED : errno == EINTR)
            continue;
        fail("receive: %s", c->tls ? gnutls_strerror((int)n) : g_strerror(errno));
    }
}

static G_GNUC_PRINTF(2, 3) void queue_printf(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_byte_array_append(c->out, (const guint8 *)s, (guint)strlen(s));
    g_free(s);
}

static void random_id(char *out, size_t len)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < len; i++)
        out[i] = alnum[g_random_int_range(0, 62)];
    out[len] = '\0';
}

/* ---- frames (as test/bench/msrp_peer.c) ------------------------------------------------------ */

struct frame {
    const char *tid, *method, *from_path, *failure_report;
    size_t tid_len, method_len, from_path_len, failure_report_len;
    int status;
    const char *body;
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

/* One frame at buf: its length when whole, 0 when more is needed, -1 when it is not MSRP. */
static gssize parse_frame(const guint8 *buf, size_t len, struct frame *f)
{
    const char *s = (const char *)buf, *end = s + len;
    const char *eol = memmem(s, MIN(len, (size_t)MAX_HEADER), "\r\n", 2);
    char marker[16 + 64];

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
    size_t marker_len =
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
                    f->body = body;
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
        if (header_is(line, name_len, "From-Path"))
            f->from_path = v, f->from_path_len = v_len;
        else if (header_is(line, name_len, "Failure-Report"))
            f->failure_report = v, f->failure_report_len = v_len;
        line = le + 2;
    }
}

/* A copy of one of our messages: "bench S Q" in the CPIM body. */
static void count_copy(struct run *r, const struct frame *f)
{
    const char *at = f->body ? g_strstr_len(f->body, (gssize)f->body_len, MARKER) : NULL;
    if (!at || !r->copies) {
        r->notices++;
        return;
    }
    unsigned sender, q;
    char tail[48];
    size_t n = MIN((size_t)(f->body + f->body_len - at), sizeof(tail) - 1);
    memcpy(tail, at, n);
    tail[n] = '\0';
    if (sscanf(tail, MARKER "%u %u", &sender, &q) != 2 || sender >= r->senders ||
        q >= r->per_sender)
        fail("a copy that is none of ours: %s", tail);
    r->copies[sender * r->per_sender + q]++;
    r->deliveries++;
    if (r->copies[sender * r->per_sender + q] == r->n - 1)
        r->done[sender]++;
}

static void handle_input(struct run *r, struct conn *c)
{
    size_t off = 0;
    for (;;) {
        struct frame f;
        gssize n = parse_frame(c->in->data + off, c->in->len - off, &f);
        if (n < 0) {
            size_t shown = MIN(c->in->len - off, (size_t)60);
            g_autofree char *raw = g_strndup((const char *)c->in->data + off, shown);
            g_autofree char *text = g_strescape(raw, NULL);
            fail("unparsable input from the server: \"%s\"", text);
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (f.status) {
            if (f.status != 200)
                fail("a SEND of %s got %d", c->cpim_from, f.status);
            c->responses++;
        } else if (f.method_len == 4 && memcmp(f.method, "SEND", 4) == 0) {
            bool answer = !(f.failure_report && f.failure_report_len >= 2 &&
                            g_ascii_strncasecmp(f.failure_report, "no", 2) == 0);
            if (answer) {
                if (!f.from_path)
                    fail("a SEND without From-Path");
                size_t first = strcspn(f.from_path, " \r");
                queue_printf(
                    c, "MSRP %.*s 200 OK\r\nTo-Path: %.*s\r\nFrom-Path: %s\r\n-------%.*s$\r\n",
                    (int)f.tid_len, f.tid, (int)MIN(first, f.from_path_len), f.from_path,
                    c->from_uri, (int)f.tid_len, f.tid);
            }
            count_copy(r, &f);
        } /* REPORT and anything else: nothing to answer */
    }
    if (off)
        g_byte_array_remove_range(c->in, 0, (guint)off);
}

/* One poll round over every connection, waiting at most `wait_us`. */
static void io_round(struct run *r, gint64 wait_us)
{
    gint64 now = g_get_monotonic_time();
    if (now > r->deadline)
        fail("gave up after %d s", (int)(TIMEOUT_US / G_USEC_PER_SEC));
    struct pollfd *pfd = g_newa(struct pollfd, r->n);
    bool buffered = false;
    for (unsigned i = 0; i < r->n; i++) {
        struct conn *c = &r->c[i];
        pfd[i] = (struct pollfd){.fd = c->fd, .events = POLLIN | (pending_out(c) ? POLLOUT : 0)};
        buffered |= c->tls && gnutls_record_check_pending(c->tls) > 0;
    }
    if (poll(pfd, r->n, buffered ? 0 : (int)(wait_us / 1000)) < 0 && errno != EINTR)
        fail("poll: %s", g_strerror(errno));
    for (unsigned i = 0; i < r->n; i++) {
        struct conn *c = &r->c[i];
        if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ||
            (c->tls && gnutls_record_check_pending(c->tls) > 0)) {
            if (read_some(c)) {
                r->last_input = g_get_monotonic_time();
                handle_input(r, c);
            }
        }
        if (pending_out(c))
            write_some(c);
    }
}

static void queue_send(struct conn *c, const char *body, size_t len, const char *type)
{
    char tid[TID_LEN + 1], mid[17];
    random_id(tid, TID_LEN);
    random_id(mid, 16);
    if (len == 0)
        queue_printf(c,
                     "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                     "Byte-Range: 1-0/0\r\n-------%s$\r\n",
                     tid, c->to_path, c->from_uri, mid, tid);
    else
        queue_printf(c,
                     "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                     "Success-Report: no\r\nByte-Range: 1-%zu/%zu\r\nContent-Type: %s\r\n\r\n"
                     "%s\r\n-------%s$\r\n",
                     tid, c->to_path, c->from_uri, mid, len, len, type, body, tid);
    c->sends++;
}

static void read_spec(struct run *r, const char *path)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail("cannot read %s", path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GArray *conns = g_array_new(FALSE, TRUE, sizeof(struct conn));
    for (size_t i = 0; lines[i]; i++) {
        if (!*lines[i])
            continue;
        g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
        if (g_strv_length(f) != 6 || strlen(lines[i]) > MAX_ARG_LINE)
            fail("%s: line %zu is not HOST PORT TO_PATH FROM_URI CPIM_FROM ROOM", path, i + 1);
        struct conn c = {.host = g_strdup(f[0]),
                         .port = g_strdup(f[1]),
                         .to_path = g_strdup(f[2]),
                         .from_uri = g_strdup(f[3]),
                         .cpim_from = g_strdup(f[4]),
                         .room = g_strdup(f[5])};
        g_array_append_val(conns, c);
    }
    if (conns->len < 2)
        fail("%s: a room needs two participants at least", path);
    r->n = conns->len;
    r->c = (struct conn *)g_array_free(conns, FALSE);
}

int main(int argc, char **argv)
{
    if (argc != 7 || (strcmp(argv[2], "tls") != 0 && strcmp(argv[2], "tcp") != 0)) {
        fprintf(stderr, "usage: conference_chat SPEC tls|tcp MESSAGES SENDERS WINDOW SERVER_PID\n");
        return 2;
    }
    struct run r = {.deadline = g_get_monotonic_time() + TIMEOUT_US};
    read_spec(&r, argv[1]);
    r.messages = parse_count(argv[3], "MESSAGES", 1000000);
    r.senders = MIN(parse_count(argv[4], "SENDERS", MAX_SENDERS), r.n);
    r.window = parse_count(argv[5], "WINDOW", 100000);
    const char *server_pid = argv[6];
    cpu_seconds(server_pid); /* it is there */
    if (strcmp(argv[2], "tls") == 0 && gnutls_certificate_allocate_credentials(&r.cred) < 0)
        fail("gnutls credentials failed");

    /* 1. connect and bind every participant */
    for (unsigned i = 0; i < r.n; i++) {
        open_conn(&r, &r.c[i]);
        queue_send(&r.c[i], "", 0, NULL);
    }
    for (bool bound = false; !bound;) {
        io_round(&r, 100000);
        bound = true;
        for (unsigned i = 0; i < r.n; i++)
            bound &= r.c[i].responses == r.c[i].sends;
    }
    /* 2. the join notices */
    r.last_input = g_get_monotonic_time();
    while (g_get_monotonic_time() - r.last_input < QUIET_US)
        io_round(&r, 50000);
    fprintf(stderr, "conference_chat: %u participants bound, %u notices received\n", r.n,
            r.notices);

    /* 3. the measurement */
    r.per_sender = (r.messages + r.senders - 1) / r.senders;
    r.copies = g_new0(guint16, (size_t)r.senders * r.per_sender);
    guint64 expected = 0;
    for (unsigned s = 0; s < r.senders; s++)
        expected += (guint64)(r.messages / r.senders + (s < r.messages % r.senders)) * (r.n - 1);
    double cpu0 = cpu_seconds(server_pid), own0 = own_cpu_seconds();
    gint64 t0 = g_get_monotonic_time();
    while (r.deliveries < expected) {
        for (unsigned s = 0; s < r.senders; s++) {
            unsigned mine = r.messages / r.senders + (s < r.messages % r.senders);
            struct conn *c = &r.c[s];
            while (r.sent[s] < mine && r.sent[s] - r.done[s] < r.window) {
                g_autofree char *cpim = g_strdup_printf(
                    "From: <%s>\r\nTo: <%s>\r\nDateTime: 2026-01-01T00:00:00Z\r\n\r\n"
                    "Content-Type: text/plain\r\n\r\n" MARKER "%u %u",
                    c->cpim_from, c->room, s, r.sent[s]);
                queue_send(c, cpim, strlen(cpim), "message/cpim");
                r.sent[s]++;
            }
        }
        io_round(&r, 100000);
    }
    double seconds = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    double cpu = cpu_seconds(server_pid) - cpu0, own = own_cpu_seconds() - own0;
    /* our SENDs' last 200s */
    for (bool answered = false; !answered;) {
        answered = true;
        for (unsigned i = 0; i < r.n; i++)
            answered &= r.c[i].responses == r.c[i].sends;
        if (!answered)
            io_round(&r, 100000);
    }
    printf("deliveries=%" G_GUINT64_FORMAT " seconds=%.6f messages=%u measure_cpu=%.2f "
           "peer_cpu=%.3f\n",
           r.deliveries, seconds, r.messages, cpu, own);
    for (unsigned i = 0; i < r.n; i++) {
        if (r.c[i].tls)
            gnutls_deinit(r.c[i].tls);
        close(r.c[i].fd);
    }
    if (r.cred)
        gnutls_certificate_free_credentials(r.cred);
    return 0;
}
