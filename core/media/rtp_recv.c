/*
 * rtp_recv.c — the receive path of an RTP stream (see rtp_recv.h): socket readable, version
 * check, one sender SSRC at a time, SRTP unprotect, statistics, DTMF events to the main loop,
 * and — when something consumes the audio — the payload into the jitter buffer. RTCP is
 * checked and counted, and its source followed (symmetric RTCP).
 *
 * Thread: the stream's media thread; DTMF events run on the main thread (dtmf_on_main).
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "media/rtp_recv.h"

#include "media/jitter.h"
#include "media/rtp_tick.h"
#include "media/srtp.h"
#include "media/stun.h"

#include <string.h>

#define RTP_MIN_PACKET   12      /* fixed header */
#define SSRC_RELATCH_US  2000000 /* a new sender SSRC is taken after 2 s without the old one */
#define DTMF_MAX_PENDING 8       /* events on their way to the main loop */

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
    if (s->latched && ssrc != s->ssrc) {
        if (s->srtp)
            sylk_srtp_forget(s->srtp, s->ssrc);
        memset(&s->rx, 0, sizeof(s->rx));
    }
    s->latched = true;
    s->ssrc = ssrc;
    s->ssrc_seen_us = now;
}

struct dtmf_event {
    struct sylk_rtp_socket *s;
    char digit;
    unsigned duration_ms;
};

static void dtmf_on_main(void *data)
{
    struct dtmf_event *ev = data;
    if (!ev->s->closing && ev->s->dtmf_fn)
        ev->s->dtmf_fn(ev->s->dtmf_data, ev->digit, ev->duration_ms);
    g_atomic_int_dec_and_test(&ev->s->dtmf_pending);
    sylk_rtp_unref(ev->s);
    g_free(ev);
}

/* RFC 4733: an event's packets share its timestamp; report it at its first end packet. */
static void on_dtmf(struct sylk_rtp_socket *s, const struct sylk_rtp_header *h)
{
    struct sylk_dtmf_event ev;
    if (!s->dtmf_fn || sylk_dtmf_parse(h->payload, h->payload_len, &ev) < 0)
        return;
    if (h->ts != s->dtmf_ts) {
        s->dtmf_ts = h->ts;
        s->dtmf_reported = false;
    }
    if (ev.end && !s->dtmf_reported) {
        s->dtmf_reported = true;
        if (g_atomic_int_get(&s->dtmf_pending) >= DTMF_MAX_PENDING) { /* a flood of keys */
            s->stats.dropped++;
            return;
        }
        g_atomic_int_inc(&s->dtmf_pending);
        struct dtmf_event *e = g_new(struct dtmf_event, 1);
        g_atomic_int_inc(&s->refs);
        e->s = s;
        e->digit = ev.digit;
        e->duration_ms = ev.duration * 1000u / MAX(s->dtmf_clock, 1u);
        sylk_media_post_main(dtmf_on_main, e);
    }
}

/* ICE-lite (RFC 8445 2.5): a connectivity check with our credentials gets its Binding Success
 * from the port it came to; anything else is dropped without an answer (RFC 8445 7.3). */
static void answer_check(struct sylk_rtp_socket *s, int fd, const guint8 *buf, size_t n,
                         const struct sockaddr_storage *from, socklen_t from_len)
{
    uint8_t out[SYLK_STUN_MAX_RESPONSE];
    ssize_t len =
        sylk_stun_ice_answer(buf, n, s->ice_ufrag, s->ice_pwd, (const struct sockaddr *)from, out);
    if (len > 0 && sendto(fd, out, (size_t)len, 0, (const struct sockaddr *)from, from_len) > 0)
        s->stats.ice_answers++;
}

/*
 * What shares the port with RTP and RTCP (RFC 7983) is counted apart from the drops, so that
 * "dropped" says what was lost or refused: STUN keep-alives (Linphone sends them to keep its NAT
 * binding open; they need no answer) and ICE connectivity checks (answered when the stream has
 * ICE credentials, sylk_rtp_set_ice), and DTLS. True when the datagram was one of those.
 */
static bool not_rtp(struct sylk_rtp_socket *s, int fd, const guint8 *buf, size_t n,
                    const struct sockaddr_storage *from, socklen_t from_len)
{
    switch (sylk_rtp_demux(buf, n)) {
    case SYLK_DEMUX_STUN:
        s->stats.stun++;
        if (s->ice_rpwd && !s->ice_nominated &&
            sylk_stun_check_answered(buf, n, s->ice_tid, s->ice_rpwd)) {
            s->ice_nominated = true; /* media goes where the answer came from */
            s->remote = *from;
            s->remote_len = from_len;
        } else if (s->ice_pwd) {
            answer_check(s, fd, buf, n, from, from_len);
        }
        return true;
    case SYLK_DEMUX_DTLS:
        s->stats.dtls++;
        return true;
    default:
        return false;
    }
}

static void on_packet(struct sylk_rtp_socket *s, guint8 *buf, size_t n,
                      const struct sockaddr_storage *from, socklen_t from_len)
{
    if (not_rtp(s, s->watch[0].fd, buf, n, from, from_len))
        return;
    /* Not RTP version 2 or shorter than a header: dropped and counted, never decoded. */
    if (n < RTP_MIN_PACKET || (buf[0] >> 6) != 2) {
        s->stats.dropped++;
        return;
    }
    uint32_t ssrc = ssrc_of(buf);
    gint64 now = g_get_monotonic_time();
    /* Before a description applies (keys included) nothing is taken: not even an SSRC. */
    if (!s->info || !ssrc_allowed(s, ssrc, now)) {
        s->stats.dropped++;
        return;
    }
    if (s->srtp && sylk_srtp_unprotect(s->srtp, buf, &n) < 0) { /* forged, replayed, garbled */
        s->stats.dropped++;
        return;
    }
    struct sylk_rtp_header h;
    if (n > RTP_MAX_PACKET || sylk_rtp_parse(buf, n, s->audio_level_id, &h) < 0) {
        s->stats.dropped++;
        return;
    }
    ssrc_commit(s, ssrc, now);
    s->stats.packets_in++;
    sylk_media_count(s->watch[0].thread, SYLK_MEDIA_RTP_RECEIVED, 1);
    __atomic_store_n(&s->stats.last_in_us, now, __ATOMIC_RELAXED); /* main reads it */
    s->stats.bytes_in += n;
    s->remote = *from; /* symmetric RTP */
    s->remote_len = from_len;
    if (!s->recv)
        return; /* we do not receive (hold): counted, neither played nor reported later */
    if (s->dtmf_pt >= 0 && h.pt == s->dtmf_pt) {
        on_dtmf(s, &h);
        return;
    }
    if (h.pt != s->send_pt && h.pt != s->recv_pt)
        return; /* comfort noise or a codec not negotiated: not audio we play */
    /* When it was read, at a tick (the engine polls the sockets at its ticks): the RTCP
     * interarrival jitter reported has the tick's resolution, 20 ms. */
    uint32_t arrival = (uint32_t)(now * s->info->sdp_clock / G_USEC_PER_SEC);
    sylk_rtp_rx_update(&s->rx, h.seq, h.ts, arrival);
    if (!sylk_rtp_wants_audio(s))
        return;
    uint8_t *level = (uint8_t *)h.payload - 1; /* over the header's last byte: not needed now */
    *level = h.audio_level >= 0 ? (uint8_t)h.audio_level : NO_LEVEL;
    uint64_t late = sylk_jitter_stats(s->jitter)->late;
    if (sylk_jitter_put(s->jitter, h.seq, level, h.payload_len + 1) < 0)
        s->stats.dropped++;
    sylk_media_count(s->watch[0].thread, SYLK_MEDIA_RTP_LATE,
                     sylk_jitter_stats(s->jitter)->late - late);
}

/* Reads one datagram: the engine calls again, in a later round of the same tick, while the
 * socket stays readable (engine.c, poll_watches). At the tick a stream's socket usually holds
 * one packet, so that is one system call per packet, with no call that finds nothing. */
static void read_one(struct sylk_rtp_socket *s, int fd,
                     void (*packet)(struct sylk_rtp_socket *s, guint8 *buf, size_t n,
                                    const struct sockaddr_storage *from, socklen_t from_len))
{
    guint8 buf[RTP_MAX_PACKET + SYLK_SRTP_MAX_TRAILER];
    struct sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
    if (n >= 0)
        packet(s, buf, (size_t)n, &from, from_len);
}

static void on_rtcp_packet(struct sylk_rtp_socket *s, guint8 *buf, size_t len,
                           const struct sockaddr_storage *from, socklen_t from_len)
{
    struct sylk_rtcp_parsed parsed;
    if (not_rtp(s, s->watch[1].fd, buf, len, from, from_len))
        return;
    if ((s->srtp && sylk_srtp_unprotect_rtcp(s->srtp, buf, &len) < 0) ||
        sylk_rtcp_parse(buf, len, &parsed) < 0) {
        s->stats.dropped++;
        return;
    }
    s->stats.rtcp_in++;
    s->remote_rtcp = *from; /* symmetric RTCP */
    s->remote_rtcp_len = from_len;
}

void sylk_rtp_on_rtp(struct sylk_media_watch *w)
{
    read_one(container_of(w, struct sylk_rtp_socket, watch[0]), w->fd, on_packet);
}

void sylk_rtp_on_rtcp(struct sylk_media_watch *w)
{
    read_one(container_of(w, struct sylk_rtp_socket, watch[1]), w->fd, on_rtcp_packet);
}
