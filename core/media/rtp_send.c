/*
 * rtp_send.c — the send path of an RTP stream (see rtp.h): a frame encoded, packetized with
 * our own SSRC, SRTP protected and sent, or the timeline advanced when nothing is sent; RTCP:
 * an SR or RR with one report block and an SDES CNAME every 5 s.
 *
 * Thread: the stream's media thread.
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "media/rtp_internal.h"

#include "media/codec.h"
#include "media/srtp.h"
#include "media/stun.h"

#include <string.h>

#define RTCP_INTERVAL_TICK 250 /* 5 s */

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

#define ICE_CHECK_TICKS 5  /* a check every 100 ms */
#define ICE_MAX_CHECKS  50 /* then the peer is taken not to answer (media goes on regardless) */

/* ICE, controlling (sylk_rtp_ice_connect): our check of the pair, until it is answered. */
static void send_ice_check(struct sylk_rtp_socket *s)
{
    uint8_t out[SYLK_STUN_MAX_REQUEST];
    ssize_t n = sylk_stun_ice_request(s->ice_rufrag, s->ice_ufrag, s->ice_rpwd,
                                      (126u << 24) | (65535u << 8) | 255u, s->ice_tiebreaker,
                                      s->ice_tid, out);
    s->ice_tries++;
    if (n > 0 && sendto(s->watch[0].fd, out, (size_t)n, 0, (const struct sockaddr *)&s->remote,
                        s->remote_len) > 0)
        s->stats.ice_checks++;
}

void sylk_rtp_housekeeping(struct sylk_rtp_socket *s)
{
    if (++s->ticks % RTCP_INTERVAL_TICK == 0)
        send_rtcp(s);
    if (s->ice_rpwd && s->ice_ufrag && !s->ice_nominated && s->remote_len &&
        s->ice_tries < ICE_MAX_CHECKS && s->ticks % ICE_CHECK_TICKS == 0)
        send_ice_check(s);
}
