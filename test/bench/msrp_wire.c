/*
 * msrp_wire — the benchmarks' MSRP peer plumbing. See msrp_wire.h.
 */
#include "msrp_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define COMPACT_AT (256u << 10) /* written output dropped from the queue past this much */
#define MAX_TID    64

void wire_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_get_prgname() ? g_get_prgname() : "msrp peer");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void wire_connect(struct wire_conn *c, const char *host, const char *port,
                  gnutls_certificate_credentials_t cred)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int one = 1, ret;

    if (getaddrinfo(host, port, &hints, &ai) != 0)
        wire_fail("cannot resolve %s:%s", host, port);
    c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0)
        wire_fail("connect %s:%s: %s", host, port, g_strerror(errno));
    freeaddrinfo(ai);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cred) {
        if (gnutls_init(&c->tls, GNUTLS_CLIENT) < 0 || gnutls_set_default_priority(c->tls) < 0 ||
            gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred) < 0)
            wire_fail("gnutls setup failed");
        gnutls_transport_set_int(c->tls, c->fd);
        gnutls_handshake_set_timeout(c->tls, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
        do
            ret = gnutls_handshake(c->tls);
        while (ret < 0 && !gnutls_error_is_fatal(ret));
        if (ret < 0)
            wire_fail("TLS handshake: %s", gnutls_strerror(ret));
    }
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
        wire_fail("fcntl: %s", g_strerror(errno));
    c->out = g_byte_array_new();
    c->in = g_byte_array_new();
}

void wire_close(struct wire_conn *c)
{
    if (c->tls)
        gnutls_deinit(c->tls);
    close(c->fd);
    g_byte_array_unref(c->out);
    g_byte_array_unref(c->in);
}

size_t wire_pending_out(const struct wire_conn *c)
{
    return c->out->len - c->out_off;
}

/* One send: bytes taken, 0 when the socket is full (-1: interrupted, try again). */
static ssize_t send_once(struct wire_conn *c)
{
    if (c->tls) {
        ssize_t n = c->send_again ? gnutls_record_send(c->tls, NULL, 0)
                                  : gnutls_record_send(c->tls, c->out->data + c->out_off,
                                                       wire_pending_out(c));
        c->send_again = n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED;
        if (n == GNUTLS_E_AGAIN)
            return 0;
        if (n == GNUTLS_E_INTERRUPTED)
            return -1;
        if (n < 0)
            wire_fail("TLS send: %s", gnutls_strerror((int)n));
        return n;
    }
    ssize_t n = send(c->fd, c->out->data + c->out_off, wire_pending_out(c), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n < 0 && errno == EINTR)
        return -1;
    if (n < 0)
        wire_fail("send: %s", g_strerror(errno));
    return n;
}

void wire_write_some(struct wire_conn *c, size_t limit)
{
    size_t written = 0;
    while (wire_pending_out(c) > 0 && written < limit) {
        ssize_t n = send_once(c);
        if (n == 0)
            break;
        if (n > 0) {
            c->out_off += (size_t)n;
            written += (size_t)n;
        }
    }
    if (wire_pending_out(c) == 0) {
        g_byte_array_set_size(c->out, 0);
        c->out_off = 0;
    } else if (c->out_off >= COMPACT_AT && !c->send_again) {
        /* not while gnutls holds a record made from the queue: it resends from there */
        g_byte_array_remove_range(c->out, 0, (guint)c->out_off);
        c->out_off = 0;
    }
}

size_t wire_read_some(struct wire_conn *c, size_t limit)
{
    size_t got = 0;
    const size_t step = 64u << 10;
    while (got < limit) {
        guint old = c->in->len;
        g_byte_array_set_size(c->in, old + step);
        ssize_t n = c->tls ? gnutls_record_recv(c->tls, c->in->data + old, step)
                           : recv(c->fd, c->in->data + old, step, 0);
        g_byte_array_set_size(c->in, old + (n > 0 ? (guint)n : 0));
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            wire_fail("the server closed the connection");
        if (c->tls ? n == GNUTLS_E_AGAIN : errno == EAGAIN)
            break;
        if (c->tls ? n == GNUTLS_E_INTERRUPTED : errno == EINTR)
            continue;
        wire_fail("receive: %s", c->tls ? gnutls_strerror((int)n) : g_strerror(errno));
    }
    return got;
}

void wire_printf(struct wire_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_byte_array_append(c->out, (const guint8 *)s, (guint)strlen(s));
    g_free(s);
}

void wire_random_id(char *out, size_t len)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < len; i++)
        out[i] = alnum[g_random_int_range(0, 62)];
    out[len] = '\0';
}

/* ---- frames -------------------------------------------------------------------------------- */

static bool is_flag(char c)
{
    return c == '+' || c == '$' || c == '#';
}

static bool header_is(const char *line, size_t name_len, const char *name)
{
    return name_len == strlen(name) && g_ascii_strncasecmp(line, name, name_len) == 0;
}

static void take_header(struct wire_frame *f, const char *line, size_t name_len, const char *v,
                        size_t v_len)
{
    if (header_is(line, name_len, "To-Path"))
        f->to_path = v, f->to_path_len = v_len;
    else if (header_is(line, name_len, "From-Path"))
        f->from_path = v, f->from_path_len = v_len;
    else if (header_is(line, name_len, "Byte-Range"))
        f->byte_range = v, f->byte_range_len = v_len;
    else if (header_is(line, name_len, "Failure-Report"))
        f->failure_report = v, f->failure_report_len = v_len;
}

/* The start line "MSRP TID METHOD|STATUS ...": the end of the line, or NULL when it is none. */
static const char *start_line(const char *s, const char *eol, struct wire_frame *f)
{
    if (eol - s < 5 || memcmp(s, "MSRP ", 5) != 0)
        return NULL;
    f->tid = s + 5;
    const char *sp = memchr(f->tid, ' ', (size_t)(eol - f->tid));
    if (!sp || sp - f->tid < 4 || sp - f->tid > MAX_TID)
        return NULL;
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
        return NULL;
    return eol;
}

gssize wire_parse_frame(const guint8 *buf, size_t len, size_t max_header, size_t max_body,
                        struct wire_frame *f)
{
    const char *s = (const char *)buf, *end = s + len;
    const char *eol = memmem(s, MIN(len, max_header), "\r\n", 2);
    char marker[16 + MAX_TID];

    memset(f, 0, sizeof *f);
    if (!eol)
        return len >= max_header ? -1 : 0;
    if (!start_line(s, eol, f))
        return -1;
    size_t marker_len =
        (size_t)g_snprintf(marker, sizeof marker, "\r\n-------%.*s", (int)f->tid_len, f->tid);

    for (const char *line = eol + 2;;) {
        if ((size_t)(line - s) > max_header)
            return -1;
        const char *le = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!le)
            return len > max_header ? -1 : 0;
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
                    return (size_t)(end - body) > max_body + marker_len + 3 ? -1 : 0;
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
        take_header(f, line, (size_t)(colon - line), v, (size_t)(le - v));
        line = le + 2;
    }
}
