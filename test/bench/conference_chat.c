/*
 * test/bench/conference_chat — the MSRP side of the chat part of the conference benchmark
 * (test/bench/conference): holds every participant's connection to one conference room, in C
 * so that 100 connections are not the bottleneck. An independent peer written from RFC 4975
 * and RFC 3862: nothing of core/ or the server is used (connections and frames: msrp_wire.c,
 * shared with test/bench/msrp_peer).
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
#include "msrp_wire.h"

#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_US   (120 * G_USEC_PER_SEC)
#define QUIET_US     (500 * 1000) /* no input this long: the join notices are over */
#define MAX_HEADER   (64u << 10)
#define MAX_BODY     (1u << 20)
#define READ_LIMIT   (1u << 20) /* bytes read from one connection per poll round */
#define TID_LEN      12
#define MAX_SENDERS  16
#define MARKER       "bench "
#define MAX_ARG_LINE 2048

struct conn {
    struct wire_conn w;
    char *host, *port, *to_path, *from_uri, *cpim_from, *room;
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

static unsigned parse_count(const char *s, const char *what, unsigned max)
{
    guint64 v;
    if (!g_ascii_string_to_unsigned(s, 10, 1, max, &v, NULL))
        wire_fail("bad %s: %s", what, s);
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
        wire_fail("cannot read %s", path);
    const char *p = strrchr(text, ')');
    unsigned long utime = 0, stime = 0;
    /* after the name: state, then fields 4..13; utime and stime are fields 14 and 15 */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        wire_fail("cannot parse %s", path);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- connections --------------------------------------------------------------------------- */

/* A copy of one of our messages: "bench S Q" in the CPIM body. */
static void count_copy(struct run *r, const struct wire_frame *f)
{
    const char *body = (const char *)f->body;
    const char *at = body ? g_strstr_len(body, (gssize)f->body_len, MARKER) : NULL;
    if (!at || !r->copies) {
        r->notices++;
        return;
    }
    unsigned sender, q;
    char tail[48];
    size_t n = MIN((size_t)(body + f->body_len - at), sizeof(tail) - 1);
    memcpy(tail, at, n);
    tail[n] = '\0';
    if (sscanf(tail, MARKER "%u %u", &sender, &q) != 2 || sender >= r->senders ||
        q >= r->per_sender)
        wire_fail("a copy that is none of ours: %s", tail);
    r->copies[sender * r->per_sender + q]++;
    r->deliveries++;
    if (r->copies[sender * r->per_sender + q] == r->n - 1)
        r->done[sender]++;
}

static void handle_input(struct run *r, struct conn *c)
{
    size_t off = 0;
    for (;;) {
        struct wire_frame f;
        gssize n =
            wire_parse_frame(c->w.in->data + off, c->w.in->len - off, MAX_HEADER, MAX_BODY, &f);
        if (n < 0) {
            size_t shown = MIN(c->w.in->len - off, (size_t)60);
            g_autofree char *raw = g_strndup((const char *)c->w.in->data + off, shown);
            g_autofree char *text = g_strescape(raw, NULL);
            wire_fail("unparsable input from the server: \"%s\"", text);
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (f.status) {
            if (f.status != 200)
                wire_fail("a SEND of %s got %d", c->cpim_from, f.status);
            c->responses++;
        } else if (f.method_len == 4 && memcmp(f.method, "SEND", 4) == 0) {
            bool answer = !(f.failure_report && f.failure_report_len >= 2 &&
                            g_ascii_strncasecmp(f.failure_report, "no", 2) == 0);
            if (answer) {
                if (!f.from_path)
                    wire_fail("a SEND without From-Path");
                size_t first = strcspn(f.from_path, " \r");
                wire_printf(
                    &c->w, "MSRP %.*s 200 OK\r\nTo-Path: %.*s\r\nFrom-Path: %s\r\n-------%.*s$\r\n",
                    (int)f.tid_len, f.tid, (int)MIN(first, f.from_path_len), f.from_path,
                    c->from_uri, (int)f.tid_len, f.tid);
            }
            count_copy(r, &f);
        } /* REPORT and anything else: nothing to answer */
    }
    if (off)
        g_byte_array_remove_range(c->w.in, 0, (guint)off);
}

/* One poll round over every connection, waiting at most `wait_us`. */
static void io_round(struct run *r, gint64 wait_us)
{
    gint64 now = g_get_monotonic_time();
    if (now > r->deadline)
        wire_fail("gave up after %d s", (int)(TIMEOUT_US / G_USEC_PER_SEC));
    struct pollfd *pfd = g_newa(struct pollfd, r->n);
    bool buffered = false;
    for (unsigned i = 0; i < r->n; i++) {
        struct conn *c = &r->c[i];
        pfd[i] = (struct pollfd){.fd = c->w.fd,
                                 .events = POLLIN | (wire_pending_out(&c->w) ? POLLOUT : 0)};
        buffered |= c->w.tls && gnutls_record_check_pending(c->w.tls) > 0;
    }
    if (poll(pfd, r->n, buffered ? 0 : (int)(wait_us / 1000)) < 0 && errno != EINTR)
        wire_fail("poll: %s", g_strerror(errno));
    for (unsigned i = 0; i < r->n; i++) {
        struct conn *c = &r->c[i];
        if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ||
            (c->w.tls && gnutls_record_check_pending(c->w.tls) > 0)) {
            if (wire_read_some(&c->w, READ_LIMIT)) {
                r->last_input = g_get_monotonic_time();
                handle_input(r, c);
            }
        }
        if (wire_pending_out(&c->w))
            wire_write_some(&c->w, G_MAXSIZE);
    }
}

static void queue_send(struct conn *c, const char *body, size_t len, const char *type)
{
    char tid[TID_LEN + 1], mid[17];
    wire_random_id(tid, TID_LEN);
    wire_random_id(mid, 16);
    if (len == 0)
        wire_printf(&c->w,
                    "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                    "Byte-Range: 1-0/0\r\n-------%s$\r\n",
                    tid, c->to_path, c->from_uri, mid, tid);
    else
        wire_printf(&c->w,
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
        wire_fail("cannot read %s", path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GArray *conns = g_array_new(FALSE, TRUE, sizeof(struct conn));
    for (size_t i = 0; lines[i]; i++) {
        if (!*lines[i])
            continue;
        g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
        if (g_strv_length(f) != 6 || strlen(lines[i]) > MAX_ARG_LINE)
            wire_fail("%s: line %zu is not HOST PORT TO_PATH FROM_URI CPIM_FROM ROOM", path, i + 1);
        struct conn c = {.host = g_strdup(f[0]),
                         .port = g_strdup(f[1]),
                         .to_path = g_strdup(f[2]),
                         .from_uri = g_strdup(f[3]),
                         .cpim_from = g_strdup(f[4]),
                         .room = g_strdup(f[5])};
        g_array_append_val(conns, c);
    }
    if (conns->len < 2)
        wire_fail("%s: a room needs two participants at least", path);
    r->n = conns->len;
    r->c = (struct conn *)g_array_free(conns, FALSE);
}

int main(int argc, char **argv)
{
    if (argc != 7 || (strcmp(argv[2], "tls") != 0 && strcmp(argv[2], "tcp") != 0)) {
        fprintf(stderr, "usage: conference_chat SPEC tls|tcp MESSAGES SENDERS WINDOW SERVER_PID\n");
        return 2;
    }
    g_set_prgname("conference_chat");
    struct run r = {.deadline = g_get_monotonic_time() + TIMEOUT_US};
    read_spec(&r, argv[1]);
    r.messages = parse_count(argv[3], "MESSAGES", 1000000);
    r.senders = MIN(parse_count(argv[4], "SENDERS", MAX_SENDERS), r.n);
    r.window = parse_count(argv[5], "WINDOW", 100000);
    const char *server_pid = argv[6];
    cpu_seconds(server_pid); /* it is there */
    if (strcmp(argv[2], "tls") == 0 && gnutls_certificate_allocate_credentials(&r.cred) < 0)
        wire_fail("gnutls credentials failed");

    /* 1. connect and bind every participant */
    for (unsigned i = 0; i < r.n; i++) {
        wire_connect(&r.c[i].w, r.c[i].host, r.c[i].port, r.cred);
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
    for (unsigned i = 0; i < r.n; i++)
        wire_close(&r.c[i].w);
    if (r.cred)
        gnutls_certificate_free_credentials(r.cred);
    return 0;
}
