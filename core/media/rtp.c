/*
 * rtp.c — UDP socket pairs and the loopback relay. See rtp.h.
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "rtp.h"

#include "media/rtp_packet.h"
#include "media/srtp.h"

#include <errno.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#define RTP_MAX_PACKET      1500
#define RTP_MIN_PACKET      12      /* fixed header */
#define LOOPBACK_MAX_QUEUED 500     /* 10 s of 20 ms packets */
#define SSRC_RELATCH_US     2000000 /* a new sender SSRC is taken after 2 s without the old one */

struct queued_packet {
    gint64 due_us;
    struct sockaddr_storage to;
    socklen_t to_len;
    gsize len;
    guint8 data[];
};

struct sylk_rtp_socket {
    int fd[2]; /* RTP, RTCP */
    unsigned port;
    guint watch[2];
    struct sockaddr_storage remote;
    socklen_t remote_len;
    gboolean loopback;
    unsigned delay_ms;
    GQueue queue; /* of struct queued_packet, when delaying */
    guint timer;
    struct sylk_srtp *srtp; /* NULL: plain RTP */
    int dtmf_pt;            /* telephone-event payload type, -1: none */
    unsigned dtmf_clock;
    bool dtmf_reported; /* the event with dtmf_ts was reported (end packets come 3 times) */
    uint32_t dtmf_ts;
    sylk_rtp_dtmf_fn dtmf_fn;
    void *dtmf_data;
    bool latched; /* the one sender SSRC accepted, so state per SSRC stays bounded */
    uint32_t ssrc;
    gint64 ssrc_seen_us;
    struct sylk_rtp_stats stats;
};

static int bind_udp(const struct addrinfo *ai, unsigned port)
{
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Sends one plain RTP packet, protected first when the stream uses SRTP. */
static void send_to(struct sylk_rtp_socket *s, const struct sockaddr_storage *to, socklen_t len,
                    const void *data, gsize n)
{
    guint8 buf[RTP_MAX_PACKET + SYLK_SRTP_MAX_TRAILER];
    size_t out = n;
    if (s->srtp) {
        memcpy(buf, data, n);
        if (sylk_srtp_protect(s->srtp, buf, &out, sizeof(buf)) < 0) {
            s->stats.dropped++;
            return;
        }
        data = buf;
    }
    if (sendto(s->fd[0], data, out, 0, (const struct sockaddr *)to, len) < 0)
        s->stats.dropped++;
    else
        s->stats.packets_out++;
}

static gboolean flush_queue(gpointer data)
{
    struct sylk_rtp_socket *s = data;
    gint64 now = g_get_monotonic_time();
    struct queued_packet *p;
    while ((p = g_queue_peek_head(&s->queue)) && p->due_us <= now) {
        g_queue_pop_head(&s->queue);
        send_to(s, &p->to, p->to_len, p->data, p->len);
        g_free(p);
    }
    if (g_queue_is_empty(&s->queue)) {
        s->timer = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void reflect(struct sylk_rtp_socket *s, const guint8 *buf, gsize n,
                    const struct sockaddr_storage *from, socklen_t from_len)
{
    if (s->delay_ms == 0) {
        send_to(s, from, from_len, buf, n);
        return;
    }
    if (g_queue_get_length(&s->queue) >= LOOPBACK_MAX_QUEUED) {
        s->stats.dropped++;
        return;
    }
    struct queued_packet *p = g_malloc(sizeof(*p) + n);
    p->due_us = g_get_monotonic_time() + (gint64)s->delay_ms * 1000;
    p->to = *from;
    p->to_len = from_len;
    p->len = n;
    memcpy(p->data, buf, n);
    g_queue_push_tail(&s->queue, p);
    if (!s->timer)
        s->timer = g_timeout_add(10, flush_queue, s);
}

static uint32_t ssrc_of(const guint8 *rtp)
{
    return (uint32_t)rtp[8] << 24 | (uint32_t)rtp[9] << 16 | (uint32_t)rtp[10] << 8 | rtp[11];
}

/*
 * One sender SSRC at a time: others are dropped before any SRTP work (libsrtp would keep state
 * for each), unless the current one has been silent for SSRC_RELATCH_US (a restarted sender).
 * The switch happens only once a packet of the new SSRC authenticated (ssrc_commit).
 */
static bool ssrc_allowed(const struct sylk_rtp_socket *s, uint32_t ssrc, gint64 now)
{
    return !s->latched || ssrc == s->ssrc || now - s->ssrc_seen_us >= SSRC_RELATCH_US;
}

static void ssrc_commit(struct sylk_rtp_socket *s, uint32_t ssrc, gint64 now)
{
    if (s->latched && ssrc != s->ssrc && s->srtp)
        sylk_srtp_forget(s->srtp, s->ssrc);
    s->latched = true;
    s->ssrc = ssrc;
    s->ssrc_seen_us = now;
}

/* RFC 4733: an event's packets share its timestamp; report it at its first end packet. */
static void maybe_dtmf(struct sylk_rtp_socket *s, const guint8 *buf, size_t n)
{
    struct sylk_rtp_header h;
    struct sylk_dtmf_event ev;
    if (s->dtmf_pt < 0 || !s->dtmf_fn || sylk_rtp_parse(buf, n, 0, &h) < 0 || h.pt != s->dtmf_pt ||
        sylk_dtmf_parse(h.payload, h.payload_len, &ev) < 0)
        return;
    if (h.ts != s->dtmf_ts) {
        s->dtmf_ts = h.ts;
        s->dtmf_reported = false;
    }
    if (ev.end && !s->dtmf_reported) {
        s->dtmf_reported = true;
        s->dtmf_fn(s->dtmf_data, ev.digit, ev.duration * 1000u / MAX(s->dtmf_clock, 1u));
    }
}

static gboolean on_rtp(gint fd, GIOCondition cond, gpointer data)
{
    struct sylk_rtp_socket *s = data;
    (void)cond;
    guint8 buf[RTP_MAX_PACKET + SYLK_SRTP_MAX_TRAILER];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
        if (n < 0)
            break;
        /* Not RTP version 2 or shorter than a header: dropped and counted, never relayed. */
        if (n < RTP_MIN_PACKET || (buf[0] >> 6) != 2) {
            s->stats.dropped++;
            continue;
        }
        uint32_t ssrc = ssrc_of(buf);
        gint64 now = g_get_monotonic_time();
        if (!ssrc_allowed(s, ssrc, now)) {
            s->stats.dropped++;
            continue;
        }
        if (s->srtp) {
            size_t len = (size_t)n;
            if (sylk_srtp_unprotect(s->srtp, buf, &len) < 0) { /* forged, replayed, garbled */
                s->stats.dropped++;
                continue;
            }
            n = (ssize_t)len;
        }
        if (n > RTP_MAX_PACKET) {
            s->stats.dropped++;
            continue;
        }
        ssrc_commit(s, ssrc, now);
        maybe_dtmf(s, buf, (size_t)n);
        s->stats.packets_in++;
        s->stats.last_in_us = now;
        s->stats.bytes_in += (uint64_t)n;
        s->remote = from; /* symmetric RTP */
        s->remote_len = from_len;
        if (s->loopback)
            reflect(s, buf, (gsize)n, &from, from_len);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_rtcp(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)data;
    guint8 buf[RTP_MAX_PACKET];
    while (recv(fd, buf, sizeof(buf), 0) >= 0)
        ; /* reports are read and ignored until the media engine keeps RTCP statistics */
    return G_SOURCE_CONTINUE;
}

int sylk_rtp_open(struct sylk_rtp_ports *ports, const char *local_ip, struct sylk_rtp_socket **out)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai;
    if (getaddrinfo(local_ip, NULL, &hints, &ai) != 0)
        return -EINVAL;
    unsigned pairs = (ports->max - ports->min + 1) / 2;
    int ret = -EADDRINUSE;
    for (unsigned tries = 0; tries < pairs; tries++) {
        if (ports->next < ports->min || ports->next + 1 > ports->max)
            ports->next = ports->min;
        unsigned port = ports->next;
        ports->next += 2;
        int rtp = bind_udp(ai, port);
        if (rtp < 0)
            continue;
        int rtcp = bind_udp(ai, port + 1);
        if (rtcp < 0) {
            close(rtp);
            continue;
        }
        struct sylk_rtp_socket *s = g_new0(struct sylk_rtp_socket, 1);
        s->fd[0] = rtp;
        s->fd[1] = rtcp;
        s->port = port;
        s->dtmf_pt = -1;
        g_queue_init(&s->queue);
        s->watch[0] = g_unix_fd_add(rtp, G_IO_IN, on_rtp, s);
        s->watch[1] = g_unix_fd_add(rtcp, G_IO_IN, on_rtcp, s);
        *out = s;
        ret = 0;
        break;
    }
    freeaddrinfo(ai);
    if (ret)
        g_warning("no free RTP port pair in %u:%u", ports->min, ports->max);
    return ret;
}

unsigned sylk_rtp_port(const struct sylk_rtp_socket *s)
{
    return s->port;
}

int sylk_rtp_set_remote(struct sylk_rtp_socket *s, const char *address, unsigned port)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_DGRAM},
                    *ai;
    char service[8];
    g_snprintf(service, sizeof(service), "%u", port);
    if (!address || getaddrinfo(address, service, &hints, &ai) != 0)
        return -EINVAL;
    memcpy(&s->remote, ai->ai_addr, ai->ai_addrlen);
    s->remote_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

void sylk_rtp_set_dtmf(struct sylk_rtp_socket *s, int pt, unsigned clock, sylk_rtp_dtmf_fn fn,
                       void *user_data)
{
    s->dtmf_pt = pt;
    s->dtmf_clock = clock ? clock : 8000;
    s->dtmf_fn = fn;
    s->dtmf_data = user_data;
}

void sylk_rtp_set_srtp(struct sylk_rtp_socket *s, struct sylk_srtp *srtp)
{
    sylk_srtp_free(s->srtp);
    s->srtp = srtp;
}

int sylk_rtp_loopback(struct sylk_rtp_socket *s, unsigned delay_ms)
{
    if (delay_ms > 10000)
        return -EINVAL;
    s->loopback = TRUE;
    s->delay_ms = delay_ms;
    return 0;
}

const struct sylk_rtp_stats *sylk_rtp_stats(const struct sylk_rtp_socket *s)
{
    return &s->stats;
}

void sylk_rtp_close(struct sylk_rtp_socket *s)
{
    if (!s)
        return;
    for (int i = 0; i < 2; i++) {
        g_source_remove(s->watch[i]);
        close(s->fd[i]);
    }
    if (s->timer)
        g_source_remove(s->timer);
    g_queue_clear_full(&s->queue, g_free);
    sylk_srtp_free(s->srtp);
    g_free(s);
}
