/*
 * rtp.c — an RTP audio stream on a media thread. See rtp.h.
 *
 * Receive path (socket readable, media thread): version check, one sender SSRC at a time,
 * SRTP unprotect, statistics, DTMF events to the main loop, and — when something consumes
 * the audio — the payload into the jitter buffer. Send path (tick): decode one frame, feed the
 * loopback delay line or the mixer, add prompts, encode, packetize with our own SSRC, SRTP
 * protect, send. RTCP: an SR or RR with one report block and an SDES CNAME every 5 s.
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "rtp.h"

#include "media/codec.h"
#include "media/engine.h"
#include "media/jitter.h"
#include "media/player.h"
#include "media/rtp_packet.h"
#include "media/srtp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define RTP_MAX_PACKET     1500
#define RTP_MIN_PACKET     12      /* fixed header */
#define SSRC_RELATCH_US    2000000 /* a new sender SSRC is taken after 2 s without the old one */
#define MAX_DELAY_MS       10000
#define JITTER_MIN_FRAMES  2
#define JITTER_MAX_FRAMES  16
#define MAX_CONCEALED      5   /* then the sender is taken as silent (DTX): nothing is decoded */
#define RTCP_INTERVAL_TICK 250 /* 5 s */
#define SILENT_LEVEL       50  /* RFC 6464 level (-dBov) from which a frame is not decoded */
#define NO_LEVEL           0xff
#define DTMF_MAX_PENDING   8  /* events on their way to the main loop */
#define MAX_READS          64 /* datagrams per wake-up: a flood cannot hold the clock */

struct prompt {
    struct sylk_player *player;
    guint id;
};

struct sylk_rtp_socket {
    gint refs;
    /* main thread */
    struct sylk_media_thread *thread;
    bool closing;
    unsigned port;
    struct sylk_rtp_ports *ports; /* the range it holds a pair of */
    GHashTable *plays;            /* prompt id -> struct play_done, waiting for completion */
    guint next_play_id;

    /* media thread */
    struct sylk_media_watch watch[2]; /* RTP, RTCP */
    struct sylk_media_ticker ticker;
    struct sockaddr_storage remote, remote_rtcp; /* where we send: learned from packets */
    socklen_t remote_len, remote_rtcp_len;
    struct sockaddr_storage sdp_remote; /* the address the SDP gave, to see it change */
    struct sylk_srtp *srtp;             /* NULL: plain RTP */
    bool send, recv;
    int dtmf_pt; /* telephone-event payload type, -1: none */
    unsigned dtmf_clock;
    bool dtmf_reported; /* the event with dtmf_ts was reported (end packets come 3 times) */
    uint32_t dtmf_ts;
    gint dtmf_pending; /* posted to the main loop, not run yet (atomic) */
    sylk_rtp_dtmf_fn dtmf_fn;
    void *dtmf_data;
    bool latched; /* the one sender SSRC accepted, so state per SSRC stays bounded */
    uint32_t ssrc;
    gint64 ssrc_seen_us;
    struct sylk_rtp_rx_stats rx;
    struct sylk_rtp_stats stats;

    const struct sylk_codec_info *main_info; /* main thread: the codec it asked for last */
    struct sylk_codec_options main_options;

    const struct sylk_codec_info *info; /* NULL until negotiated */
    struct sylk_codec_options options;
    struct sylk_codec *codec;
    int send_pt, recv_pt;
    unsigned audio_level_id;    /* RFC 6464 extension id, 0: none */
    struct sylk_jitter *jitter; /* payloads, each after one byte: its audio level or NO_LEVEL */
    unsigned concealed_run;
    uint32_t tx_ssrc, tx_ts;
    uint16_t tx_seq;
    bool talkspurt; /* the next packet sent starts a talkspurt (marker bit) */
    uint32_t tx_packets, tx_octets;
    uint64_t ticks;
    char cname[24];

    bool loopback;
    unsigned delay_frames; /* delay line length, 0: straight through */
    int16_t *delay;        /* delay_frames frames of SYLK_CODEC_MAX_FRAME samples */
    unsigned *delay_len;   /* samples in each, 0 for silence */
    unsigned delay_pos;
    GQueue prompts; /* of struct prompt */

    void *consumer; /* a mixer */
    void (*detached)(void *consumer, struct sylk_rtp_socket *s);
};

struct play_done {
    sylk_rtp_play_done_fn fn;
    void *user_data;
};

static void rtp_unref(struct sylk_rtp_socket *s)
{
    if (!g_atomic_int_dec_and_test(&s->refs))
        return;
    if (s->plays)
        g_hash_table_destroy(s->plays);
    g_free(s);
}

/* ------------------------------------------------------------------- send path --- */

/* Sends one plain packet on the RTP (0) or RTCP (1) socket, protected when SRTP is on. */
static void send_packet(struct sylk_rtp_socket *s, int which, uint8_t *buf, size_t n, size_t cap)
{
    const struct sockaddr_storage *to = which ? &s->remote_rtcp : &s->remote;
    socklen_t to_len = which ? s->remote_rtcp_len : s->remote_len;
    if (!to_len)
        return;
    if (s->srtp) {
        int rc = which ? sylk_srtp_protect_rtcp(s->srtp, buf, &n, cap)
                       : sylk_srtp_protect(s->srtp, buf, &n, cap);
        if (rc < 0) {
            s->stats.dropped++;
            return;
        }
    }
    if (sendto(s->watch[which].fd, buf, n, 0, (const struct sockaddr *)to, to_len) < 0)
        s->stats.dropped++;
    else if (which)
        s->stats.rtcp_out++;
    else
        s->stats.packets_out++;
}

void sylk_rtp_send_payload(struct sylk_rtp_socket *s, const uint8_t *payload, size_t len)
{
    if (!s->info || !s->send || !s->remote_len || len > RTP_MAX_PACKET - SYLK_RTP_HEADER_LEN) {
        sylk_rtp_skip(s); /* the timeline goes on while nothing is sent */
        return;
    }
    uint8_t buf[RTP_MAX_PACKET + SYLK_SRTP_MAX_TRAILER];
    size_t h = sylk_rtp_write_header(buf, sizeof(buf), (uint8_t)s->send_pt, s->talkspurt,
                                     s->tx_seq++, s->tx_ts, s->tx_ssrc);
    memcpy(buf + h, payload, len);
    s->talkspurt = false;
    s->tx_packets++;
    s->tx_octets += (uint32_t)len;
    send_packet(s, 0, buf, h + len, sizeof(buf));
    s->tx_ts += s->info->sdp_clock / (1000 / SYLK_CODEC_FRAME_MS);
}

void sylk_rtp_skip(struct sylk_rtp_socket *s)
{
    if (s->info)
        s->tx_ts += s->info->sdp_clock / (1000 / SYLK_CODEC_FRAME_MS);
    s->talkspurt = true;
}

void sylk_rtp_push(struct sylk_rtp_socket *s, const int16_t *pcm, unsigned samples)
{
    if (!s->codec || !s->send || samples != sylk_codec_frame_samples(s->codec)) {
        sylk_rtp_skip(s);
        return;
    }
    uint8_t payload[SYLK_CODEC_MAX_PAYLOAD];
    int n = sylk_codec_encode(s->codec, pcm, payload, sizeof(payload));
    if (n <= 0) {
        sylk_rtp_skip(s);
        return;
    }
    sylk_rtp_send_payload(s, payload, (size_t)n);
}

/* RFC 3550 6.5.1: SDES with the CNAME item. */
static size_t write_sdes(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname)
{
    size_t n = strlen(cname), len = (8 + 2 + n + 1 + 3) & ~(size_t)3;
    if (cap < len)
        return 0;
    memset(buf, 0, len);
    buf[0] = 0x81;
    buf[1] = 202;
    buf[2] = (uint8_t)((len / 4 - 1) >> 8);
    buf[3] = (uint8_t)(len / 4 - 1);
    buf[4] = (uint8_t)(ssrc >> 24);
    buf[5] = (uint8_t)(ssrc >> 16);
    buf[6] = (uint8_t)(ssrc >> 8);
    buf[7] = (uint8_t)ssrc;
    buf[8] = 1; /* CNAME */
    buf[9] = (uint8_t)n;
    memcpy(buf + 10, cname, n);
    return len;
}

static void send_rtcp(struct sylk_rtp_socket *s)
{
    uint8_t buf[256 + SYLK_SRTP_MAX_TRAILER];
    struct sylk_rtcp_report_block rb;
    bool have_rb = s->latched && s->rx.started;
    if (have_rb)
        sylk_rtp_rx_report(&s->rx, s->ssrc, &rb);
    struct sylk_rtcp_sender_info si;
    if (s->tx_packets) {
        gint64 now = g_get_real_time(); /* NTP counts from 1900 */
        uint64_t secs = (uint64_t)(now / G_USEC_PER_SEC) + 2208988800u;
        uint64_t frac = ((uint64_t)(now % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC;
        si = (struct sylk_rtcp_sender_info){.ntp = secs << 32 | frac,
                                            .rtp_ts = s->tx_ts,
                                            .packets = s->tx_packets,
                                            .octets = s->tx_octets};
    }
    size_t n = sylk_rtcp_write_report(buf, 256, s->tx_ssrc, s->tx_packets ? &si : NULL,
                                      have_rb ? &rb : NULL);
    n += write_sdes(buf + n, 256 - n, s->tx_ssrc, s->cname);
    send_packet(s, 1, buf, n, sizeof(buf));
}

/* ---------------------------------------------------------------- receive path --- */

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
    rtp_unref(ev->s);
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

static bool wants_audio(const struct sylk_rtp_socket *s)
{
    return s->codec && s->recv && (s->loopback || s->consumer);
}

/*
 * What shares the port with RTP and RTCP (RFC 7983) is counted apart from the drops, so that
 * "dropped" says what was lost or refused: STUN keep-alives (Linphone sends them to keep its NAT
 * binding open; they need no answer: we offer no ICE, so no check could be authenticated) and
 * DTLS. True when the datagram was one of those.
 */
static bool not_rtp(struct sylk_rtp_socket *s, const guint8 *buf, size_t n)
{
    switch (sylk_rtp_demux(buf, n)) {
    case SYLK_DEMUX_STUN:
        s->stats.stun++;
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
    if (not_rtp(s, buf, n))
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
    uint32_t arrival = (uint32_t)(now * s->info->sdp_clock / G_USEC_PER_SEC);
    sylk_rtp_rx_update(&s->rx, h.seq, h.ts, arrival);
    if (!wants_audio(s))
        return;
    uint8_t *level = (uint8_t *)h.payload - 1; /* over the header's last byte: not needed now */
    *level = h.audio_level >= 0 ? (uint8_t)h.audio_level : NO_LEVEL;
    if (sylk_jitter_put(s->jitter, h.seq, level, h.payload_len + 1) < 0)
        s->stats.dropped++;
}

/* Reads what a socket has (at most MAX_READS datagrams: a flood cannot hold the clock). */
static void drain(struct sylk_rtp_socket *s, int fd,
                  void (*packet)(struct sylk_rtp_socket *s, guint8 *buf, size_t n,
                                 const struct sockaddr_storage *from, socklen_t from_len))
{
    guint8 buf[RTP_MAX_PACKET + SYLK_SRTP_MAX_TRAILER];
    for (int reads = 0; reads < MAX_READS; reads++) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
        if (n < 0)
            break;
        packet(s, buf, (size_t)n, &from, from_len);
    }
}

static void on_rtcp_packet(struct sylk_rtp_socket *s, guint8 *buf, size_t len,
                           const struct sockaddr_storage *from, socklen_t from_len)
{
    struct sylk_rtcp_parsed parsed;
    if (not_rtp(s, buf, len))
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

static void on_rtp(struct sylk_media_watch *w)
{
    drain(container_of(w, struct sylk_rtp_socket, watch[0]), w->fd, on_packet);
}

static void on_rtcp(struct sylk_media_watch *w)
{
    drain(container_of(w, struct sylk_rtp_socket, watch[1]), w->fd, on_rtcp_packet);
}

/* ------------------------------------------------------------------------ tick --- */

void sylk_rtp_housekeeping(struct sylk_rtp_socket *s)
{
    if (++s->ticks % RTCP_INTERVAL_TICK == 0)
        send_rtcp(s);
}

unsigned sylk_rtp_pull(struct sylk_rtp_socket *s, int16_t *pcm, unsigned max)
{
    if (!wants_audio(s))
        return 0;
    uint8_t payload[SYLK_JITTER_MAX_PAYLOAD];
    size_t len = 0;
    int n = 0;
    switch (sylk_jitter_get(s->jitter, payload, &len)) {
    case SYLK_JITTER_FRAME:
        /* RFC 6464: the sender says this frame is silence, so it is not decoded at all. */
        if (len < 1 || (payload[0] != NO_LEVEL && payload[0] >= SILENT_LEVEL)) {
            s->stats.skipped++;
            s->concealed_run = MAX_CONCEALED; /* a gap after silence is no loss */
            break;
        }
        n = sylk_codec_decode(s->codec, payload + 1, len - 1, pcm, max);
        if (n > 0) {
            s->stats.decoded++;
            s->concealed_run = 0;
        }
        break;
    case SYLK_JITTER_LOST:
        if (s->concealed_run >= MAX_CONCEALED)
            break; /* a sender in DTX, not a loss */
        s->concealed_run++;
        if (sylk_jitter_peek(s->jitter, payload, &len) && len > 1 &&
            (n = sylk_codec_recover(s->codec, payload + 1, len - 1, pcm, max)) > 0) {
            s->stats.recovered++;
            break;
        }
        n = sylk_codec_conceal(s->codec, pcm, max);
        s->stats.concealed++;
        break;
    case SYLK_JITTER_BUFFER:
        break;
    }
    return n > 0 ? (unsigned)n : 0;
}

bool sylk_rtp_has_prompts(const struct sylk_rtp_socket *s)
{
    return s->prompts.length > 0;
}

struct prompt_done {
    struct sylk_rtp_socket *s;
    guint id;
};

static void prompt_done_on_main(void *data)
{
    struct prompt_done *d = data;
    struct play_done pd;
    struct play_done *found =
        d->s->closing ? NULL : g_hash_table_lookup(d->s->plays, GUINT_TO_POINTER(d->id));
    if (found) {
        pd = *found;
        g_hash_table_remove(d->s->plays, GUINT_TO_POINTER(d->id));
        if (pd.fn)
            pd.fn(pd.user_data);
    }
    rtp_unref(d->s);
    g_free(d);
}

bool sylk_rtp_mix_prompts(struct sylk_rtp_socket *s, int16_t *pcm, unsigned samples)
{
    struct prompt *p;
    while (s->info && (p = g_queue_peek_head(&s->prompts))) {
        if (sylk_player_mix(p->player, pcm, s->info->rate, samples))
            return true;
        g_queue_pop_head(&s->prompts);
        struct prompt_done *d = g_new(struct prompt_done, 1);
        g_atomic_int_inc(&s->refs);
        d->s = s;
        d->id = p->id;
        sylk_media_post_main(prompt_done_on_main, d);
        sylk_player_free(p->player);
        g_free(p);
    }
    return false;
}

/* The loopback with its delay line, and prompts: what a stream plays on its own. */
static void stream_tick(struct sylk_media_ticker *k, uint64_t tick)
{
    struct sylk_rtp_socket *s = container_of(k, struct sylk_rtp_socket, ticker);
    (void)tick;
    sylk_rtp_housekeeping(s);
    if (!s->codec)
        return;
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    unsigned frame = sylk_codec_frame_samples(s->codec);
    unsigned n = s->loopback ? sylk_rtp_pull(s, pcm, G_N_ELEMENTS(pcm)) : 0;
    if (s->loopback && s->delay_frames) {
        int16_t *slot = s->delay + (size_t)s->delay_pos * SYLK_CODEC_MAX_FRAME;
        unsigned delayed = s->delay_len[s->delay_pos];
        int16_t out[SYLK_CODEC_MAX_FRAME];
        memcpy(out, slot, delayed * sizeof(int16_t));
        memcpy(slot, pcm, n * sizeof(int16_t));
        s->delay_len[s->delay_pos] = n;
        s->delay_pos = (s->delay_pos + 1) % s->delay_frames;
        memcpy(pcm, out, delayed * sizeof(int16_t));
        n = delayed;
    }
    if (n != frame && sylk_rtp_has_prompts(s)) {
        memset(pcm, 0, frame * sizeof(int16_t));
        n = frame;
    }
    if (n == frame)
        sylk_rtp_mix_prompts(s, pcm, frame);
    if (n == frame)
        sylk_rtp_push(s, pcm, frame);
    else
        sylk_rtp_skip(s);
}

/* Streams consumed by a mixer are ticked by it; others tick when they have something to play. */
static void update_ticker(struct sylk_rtp_socket *s, struct sylk_media_thread *t)
{
    if (!s->consumer && (s->loopback || sylk_rtp_has_prompts(s) || s->info))
        sylk_media_thread_add_ticker(t, &s->ticker);
    else
        sylk_media_thread_remove_ticker(t, &s->ticker);
}

/* ------------------------------------------------------------- setup (main) --- */

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

static void do_attach_thread(void *data)
{
    struct sylk_rtp_socket *s = data;
    for (int i = 0; i < 2; i++)
        sylk_media_thread_watch(s->thread, &s->watch[i]);
    update_ticker(s, s->thread);
}

static void do_detach_thread(void *data)
{
    struct sylk_rtp_socket *s = data;
    for (int i = 0; i < 2; i++)
        sylk_media_thread_unwatch(s->thread, &s->watch[i]);
    sylk_media_thread_remove_ticker(s->thread, &s->ticker);
}

int sylk_rtp_open(struct sylk_rtp_ports *ports, const char *local_ip,
                  struct sylk_media_engine *engine, struct sylk_rtp_socket **out)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai;
    if (getaddrinfo(local_ip, NULL, &hints, &ai) != 0)
        return -EINVAL;
    unsigned pairs = (ports->max - ports->min + 1) / 2;
    bool recently_full =
        ports->full_since && g_get_monotonic_time() - ports->full_since < G_USEC_PER_SEC;
    if (recently_full || ports->in_use >= pairs) {
        freeaddrinfo(ai);
        return -EADDRINUSE;
    }
    int fd[2] = {-1, -1};
    unsigned port = 0;
    for (unsigned tries = 0; tries < pairs && fd[1] < 0; tries++) {
        if (ports->next < ports->min || ports->next + 1 > ports->max)
            ports->next = ports->min;
        port = ports->next;
        ports->next += 2;
        fd[0] = bind_udp(ai, port);
        if (fd[0] < 0)
            continue;
        fd[1] = bind_udp(ai, port + 1);
        if (fd[1] < 0)
            close(fd[0]);
    }
    freeaddrinfo(ai);
    if (fd[1] < 0) {
        g_debug("no free RTP port pair in %u:%u", ports->min, ports->max); /* see server.c */
        ports->full_since = g_get_monotonic_time();
        return -EADDRINUSE;
    }
    struct sylk_rtp_socket *s = g_new0(struct sylk_rtp_socket, 1);
    s->refs = 1;
    s->ports = ports;
    ports->in_use++;
    s->port = port;
    s->plays = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    s->watch[0] = (struct sylk_media_watch){.fd = fd[0], .readable = on_rtp};
    s->watch[1] = (struct sylk_media_watch){.fd = fd[1], .readable = on_rtcp};
    s->ticker.tick = stream_tick;
    s->send = s->recv = true;
    s->dtmf_pt = s->send_pt = s->recv_pt = -1;
    s->tx_ssrc = g_random_int();
    s->tx_seq = (uint16_t)g_random_int();
    s->tx_ts = g_random_int();
    s->talkspurt = true;
    g_snprintf(s->cname, sizeof(s->cname), "sylk-%08x", g_random_int());
    g_queue_init(&s->prompts);
    s->thread = sylk_media_engine_pick(engine);
    sylk_media_thread_load(s->thread, 1);
    /* No call needed: epoll_ctl may be used from any thread, the stream is complete before
     * its sockets are watched, and it has nothing to tick until a description applies. */
    for (int i = 0; i < 2; i++)
        sylk_media_thread_watch(s->thread, &s->watch[i]);
    *out = s;
    return 0;
}

unsigned sylk_rtp_port(const struct sylk_rtp_socket *s)
{
    return s->port;
}

/*
 * Changes made on the main thread are posted to the stream's thread without waiting (SIP goes
 * on): each op is a heap copy of its arguments, run there in order, which also frees what it
 * replaced. The main thread keeps its own copy of what it needs to decide (main_info).
 */
struct op {
    struct sylk_rtp_socket *s;
    void (*run)(struct op *op);
};

static void run_op(void *data)
{
    struct op *op = data;
    op->run(op);
    g_free(op);
}

static void post(struct sylk_rtp_socket *s, struct op *op, void (*run)(struct op *op))
{
    op->s = s;
    op->run = run;
    sylk_media_thread_post(s->thread, run_op, op);
}

struct set_remote {
    struct op op;
    struct sockaddr_storage rtp, rtcp;
    socklen_t len;
};

/* The SDP's address and ports as socket addresses; false for a bad or unspecified address. */
static bool resolve(const char *address, unsigned port, unsigned rtcp_port, struct set_remote *r)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai;
    if (!address || port == 0 || port > 65535 || getaddrinfo(address, NULL, &hints, &ai) != 0)
        return false;
    r->len = ai->ai_addrlen;
    memcpy(&r->rtp, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    r->rtcp = r->rtp;
    rtcp_port = rtcp_port && rtcp_port <= 65535 ? rtcp_port : port + 1;
    if (r->rtp.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&r->rtp;
        if (a->sin_addr.s_addr == htonl(INADDR_ANY)) /* c=0.0.0.0: RFC 2543 hold */
            return false;
        a->sin_port = htons((uint16_t)port);
        ((struct sockaddr_in *)&r->rtcp)->sin_port = htons((uint16_t)rtcp_port);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&r->rtp;
        if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
            return false;
        a->sin6_port = htons((uint16_t)port);
        ((struct sockaddr_in6 *)&r->rtcp)->sin6_port = htons((uint16_t)rtcp_port);
    }
    return true;
}

static void set_remote_now(struct sylk_rtp_socket *s, const struct set_remote *r)
{
    s->remote = s->sdp_remote = r->rtp;
    s->remote_rtcp = r->rtcp;
    s->remote_len = s->remote_rtcp_len = r->len;
}

static void run_set_remote(struct op *op)
{
    set_remote_now(op->s, (struct set_remote *)op);
}

int sylk_rtp_set_remote(struct sylk_rtp_socket *s, const char *address, unsigned port,
                        unsigned rtcp_port)
{
    struct set_remote r = {0};
    if (!resolve(address, port, rtcp_port, &r))
        return -EINVAL;
    post(s, g_memdup2(&r, sizeof(r)), run_set_remote);
    return 0;
}

struct set_dtmf {
    struct op op;
    int pt;
    unsigned clock;
    sylk_rtp_dtmf_fn fn;
    void *user_data;
};

static void set_dtmf_now(struct sylk_rtp_socket *s, const struct set_dtmf *d)
{
    s->dtmf_pt = d->pt;
    s->dtmf_clock = d->clock ? d->clock : 8000;
    s->dtmf_fn = d->fn;
    s->dtmf_data = d->user_data;
}

static void run_set_dtmf(struct op *op)
{
    set_dtmf_now(op->s, (struct set_dtmf *)op);
}

void sylk_rtp_set_dtmf(struct sylk_rtp_socket *s, int pt, unsigned clock, sylk_rtp_dtmf_fn fn,
                       void *user_data)
{
    struct set_dtmf d = {.pt = pt, .clock = clock, .fn = fn, .user_data = user_data};
    post(s, g_memdup2(&d, sizeof(d)), run_set_dtmf);
}

struct set_srtp {
    struct op op;
    struct sylk_srtp *srtp;
};

static void run_set_srtp(struct op *op)
{
    struct set_srtp *d = (struct set_srtp *)op;
    sylk_srtp_free(op->s->srtp);
    op->s->srtp = d->srtp;
}

void sylk_rtp_set_srtp(struct sylk_rtp_socket *s, struct sylk_srtp *srtp)
{
    struct set_srtp d = {.srtp = srtp};
    post(s, g_memdup2(&d, sizeof(d)), run_set_srtp);
}

struct set_codec {
    struct op op;
    const struct sylk_codec_info *info;
    struct sylk_codec_options options;
    int send_pt, recv_pt;
    struct sylk_codec *codec; /* NULL: the codec stays, only the payload types change */
    struct sylk_jitter *jitter;
};

static void set_codec_now(struct sylk_rtp_socket *s, const struct set_codec *c)
{
    s->send_pt = c->send_pt;
    s->recv_pt = c->recv_pt;
    if (c->codec) { /* a new codec: everything that depends on its rate starts again */
        sylk_codec_free(s->codec);
        sylk_jitter_free(s->jitter);
        s->codec = c->codec;
        s->jitter = c->jitter;
        s->info = c->info;
        s->options = c->options;
        s->concealed_run = 0;
        s->talkspurt = true;
        if (s->delay_len)
            memset(s->delay_len, 0, s->delay_frames * sizeof(unsigned));
    }
    update_ticker(s, s->thread);
}

static void run_set_codec(struct op *op)
{
    set_codec_now(op->s, (struct set_codec *)op);
}

/*
 * A new codec and jitter buffer when the codec or its options change, built here on the main
 * thread so the media thread never waits on an allocation. Decided on the main thread's own
 * record of what it asked for last (main_info), never on the media thread's state.
 */
static int prepare_codec(struct sylk_rtp_socket *s, const struct sylk_codec_info *info, int send_pt,
                         int recv_pt, const struct sylk_codec_options *options, struct set_codec *c)
{
    *c = (struct set_codec){.info = info, .send_pt = send_pt, .recv_pt = recv_pt};
    if (!info || send_pt < 0 || send_pt > 127)
        return -EINVAL;
    if (options)
        c->options = *options;
    if (s->main_info == info && sylk_codec_options_equal(&s->main_options, &c->options))
        return 0;
    c->codec = sylk_codec_new(info, &c->options);
    if (!c->codec)
        return -ENOMEM;
    c->jitter = sylk_jitter_new(JITTER_MIN_FRAMES, JITTER_MAX_FRAMES);
    s->main_info = info;
    s->main_options = c->options;
    return 0;
}

int sylk_rtp_set_codec(struct sylk_rtp_socket *s, const struct sylk_codec_info *info, int send_pt,
                       int recv_pt, const struct sylk_codec_options *options)
{
    struct set_codec c;
    int rc = prepare_codec(s, info, send_pt, recv_pt, options, &c);
    if (rc < 0)
        return rc;
    post(s, g_memdup2(&c, sizeof(c)), run_set_codec);
    return 0;
}

struct set_flags {
    struct op op;
    bool send, recv;
    unsigned level_id;
};

static void set_direction_now(struct sylk_rtp_socket *s, bool send, bool recv)
{
    if (!s->send && send)
        s->talkspurt = true;
    if (!s->recv && recv && s->jitter) /* back from hold: audio from before it is stale */
        sylk_jitter_reset(s->jitter);
    s->send = send;
    s->recv = recv;
}

static void run_set_direction(struct op *op)
{
    struct set_flags *f = (struct set_flags *)op;
    set_direction_now(op->s, f->send, f->recv);
}

void sylk_rtp_set_direction(struct sylk_rtp_socket *s, bool send, bool recv)
{
    struct set_flags f = {.send = send, .recv = recv};
    post(s, g_memdup2(&f, sizeof(f)), run_set_direction);
}

static void run_set_level(struct op *op)
{
    op->s->audio_level_id = ((struct set_flags *)op)->level_id;
}

void sylk_rtp_set_audio_level_id(struct sylk_rtp_socket *s, unsigned id)
{
    struct set_flags f = {.level_id = id <= 14 ? id : 0};
    post(s, g_memdup2(&f, sizeof(f)), run_set_level);
}

struct set_loopback {
    struct op op;
    unsigned frames;
    int16_t *delay;
    unsigned *delay_len;
};

static void run_loopback(struct op *op)
{
    struct set_loopback *l = (struct set_loopback *)op;
    struct sylk_rtp_socket *s = op->s;
    g_free(s->delay);
    g_free(s->delay_len);
    s->loopback = true;
    s->delay = l->delay;
    s->delay_len = l->delay_len;
    s->delay_frames = l->frames;
    s->delay_pos = 0;
    update_ticker(s, s->thread);
}

int sylk_rtp_loopback(struct sylk_rtp_socket *s, unsigned delay_ms)
{
    if (delay_ms > MAX_DELAY_MS)
        return -EINVAL;
    struct set_loopback l = {.frames = delay_ms / SYLK_CODEC_FRAME_MS};
    if (l.frames) {
        l.delay = g_new(int16_t, (size_t)l.frames * SYLK_CODEC_MAX_FRAME);
        l.delay_len = g_new0(unsigned, l.frames);
    }
    post(s, g_memdup2(&l, sizeof(l)), run_loopback);
    return 0;
}

struct add_prompt {
    struct op op;
    struct prompt *prompt;
};

static void run_add_prompt(struct op *op)
{
    g_queue_push_tail(&op->s->prompts, ((struct add_prompt *)op)->prompt);
    update_ticker(op->s, op->s->thread);
}

int sylk_rtp_play(struct sylk_rtp_socket *s, struct sylk_player *player, sylk_rtp_play_done_fn done,
                  void *user_data)
{
    struct prompt *p = g_new(struct prompt, 1);
    p->player = player;
    p->id = ++s->next_play_id;
    struct play_done *pd = g_new(struct play_done, 1);
    pd->fn = done;
    pd->user_data = user_data;
    g_hash_table_insert(s->plays, GUINT_TO_POINTER(p->id), pd);
    struct add_prompt a = {.prompt = p};
    post(s, g_memdup2(&a, sizeof(a)), run_add_prompt);
    return 0;
}

static void prompt_free(gpointer data);

static void run_stop_prompts(struct op *op)
{
    g_queue_clear_full(&op->s->prompts, prompt_free);
    update_ticker(op->s, op->s->thread);
}

void sylk_rtp_stop_prompts(struct sylk_rtp_socket *s)
{
    g_hash_table_remove_all(s->plays); /* completions on their way find nothing to call */
    post(s, g_new0(struct op, 1), run_stop_prompts);
}

struct apply {
    struct op op;
    struct sylk_rtp_params p; /* address not used on the thread */
    bool have_remote;
    struct set_remote remote;
    struct set_codec codec;
};

static void run_apply(struct op *op)
{
    struct apply *a = (struct apply *)op;
    struct sylk_rtp_socket *s = op->s;
    const struct sylk_rtp_params *p = &a->p;
    if (p->srtp_change) { /* first: nothing may go out or come in with the old keys */
        sylk_srtp_free(s->srtp);
        s->srtp = p->srtp;
    }
    if (a->have_remote && (s->remote_len != a->remote.len ||
                           memcmp(&s->sdp_remote, &a->remote.rtp, a->remote.len) != 0))
        set_remote_now(s, &a->remote);
    set_direction_now(s, p->send && a->have_remote, p->recv);
    struct set_dtmf t = {
        .pt = p->dtmf_pt, .clock = p->dtmf_clock, .fn = p->dtmf_fn, .user_data = p->dtmf_data};
    set_dtmf_now(s, &t);
    s->audio_level_id = p->audio_level_id <= 14 ? p->audio_level_id : 0;
    if (p->info)
        set_codec_now(s, &a->codec); /* last: with it the stream starts sending */
}

int sylk_rtp_apply(struct sylk_rtp_socket *s, const struct sylk_rtp_params *p)
{
    struct apply *a = g_new0(struct apply, 1);
    a->p = *p;
    a->p.address = NULL;
    a->have_remote = resolve(p->address, p->port, p->rtcp_port, &a->remote);
    int rc = p->info ? prepare_codec(s, p->info, p->pt, p->pt, &p->options, &a->codec) : 0;
    if (rc < 0) { /* the keys still change; nothing flows */
        a->p.info = NULL;
        a->p.send = a->p.recv = false;
    }
    post(s, &a->op, run_apply);
    return rc;
}

int64_t sylk_rtp_last_in(const struct sylk_rtp_socket *s)
{
    return __atomic_load_n(&s->stats.last_in_us, __ATOMIC_RELAXED);
}

struct get_stats {
    struct sylk_rtp_socket *s;
    struct sylk_rtp_stats *out;
};

static void do_get_stats(void *data)
{
    struct get_stats *g = data;
    *g->out = g->s->stats;
}

void sylk_rtp_get_stats(struct sylk_rtp_socket *s, struct sylk_rtp_stats *out)
{
    struct get_stats g = {s, out};
    sylk_media_thread_call(s->thread, do_get_stats, &g);
}

struct sylk_media_thread *sylk_rtp_thread(const struct sylk_rtp_socket *s)
{
    return s->thread;
}

void sylk_rtp_move(struct sylk_rtp_socket *s, struct sylk_media_thread *to)
{
    if (s->thread == to)
        return;
    sylk_media_thread_call(s->thread, do_detach_thread, s);
    sylk_media_thread_load(s->thread, -1);
    s->thread = to;
    sylk_media_thread_load(to, 1);
    sylk_media_thread_call(to, do_attach_thread, s);
}

static void prompt_free(gpointer data)
{
    struct prompt *p = data;
    sylk_player_free(p->player);
    g_free(p);
}

/* The stream's thread lets it go, logs its counters and frees what it owned. */
static void do_close(void *data)
{
    struct sylk_rtp_socket *s = data;
    do_detach_thread(s);
    if (s->consumer && s->detached)
        s->detached(s->consumer, s);
    s->consumer = NULL;
    const struct sylk_rtp_stats *st = &s->stats;
    g_info("RTP port %u closed: %" G_GUINT64_FORMAT " packets in, %" G_GUINT64_FORMAT
           " out, %" G_GUINT64_FORMAT " dropped, %" G_GUINT64_FORMAT " STUN, %" G_GUINT64_FORMAT
           " DTLS (not spoken), RTCP %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT
           " out, %" G_GUINT64_FORMAT " frames decoded, %" G_GUINT64_FORMAT
           " concealed, %" G_GUINT64_FORMAT " recovered by FEC, %" G_GUINT64_FORMAT
           " silent by audio level",
           s->port, st->packets_in, st->packets_out, st->dropped, st->stun, st->dtls, st->rtcp_in,
           st->rtcp_out, st->decoded, st->concealed, st->recovered, st->skipped);
    for (int i = 0; i < 2; i++)
        close(s->watch[i].fd);
    g_queue_clear_full(&s->prompts, prompt_free);
    sylk_srtp_free(s->srtp);
    sylk_codec_free(s->codec);
    sylk_jitter_free(s->jitter);
    g_free(s->delay);
    g_free(s->delay_len);
    rtp_unref(s);
}

/*
 * Posted, not waited for: the call's teardown does not wait on the media thread. Events already
 * on their way to the main loop hold references and see `closing`.
 */
void sylk_rtp_close(struct sylk_rtp_socket *s)
{
    if (!s)
        return;
    s->closing = true;
    s->ports->in_use--;
    s->ports->full_since = 0; /* its pair is free again once its thread has closed it */
    g_hash_table_remove_all(s->plays);
    sylk_media_thread_load(s->thread, -1);
    sylk_media_thread_post(s->thread, do_close, s);
}

/* ------------------------------------------------------- mixer (media thread) --- */

void sylk_rtp_attach(struct sylk_rtp_socket *s, void *consumer,
                     void (*detached)(void *consumer, struct sylk_rtp_socket *s))
{
    s->consumer = consumer;
    s->detached = detached;
    update_ticker(s, s->thread);
}

void sylk_rtp_detach(struct sylk_rtp_socket *s)
{
    s->consumer = NULL;
    s->detached = NULL;
    update_ticker(s, s->thread);
}

const struct sylk_codec_info *sylk_rtp_codec(const struct sylk_rtp_socket *s)
{
    return s->info;
}

const struct sylk_codec_options *sylk_rtp_codec_options(const struct sylk_rtp_socket *s)
{
    return &s->options;
}

bool sylk_rtp_on_hold(const struct sylk_rtp_socket *s)
{
    return s->info && !s->send;
}

void *sylk_rtp_consumer(const struct sylk_rtp_socket *s)
{
    return s->consumer;
}

bool sylk_rtp_sending(const struct sylk_rtp_socket *s)
{
    return s->send && s->info && s->remote_len;
}
