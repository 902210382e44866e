/*
 * rtp_packet.c — RTP/RTCP wire formats and statistics. See rtp_packet.h.
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "media/rtp_packet.h"

#include "media/bytes.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define MAX_DROPOUT  3000
#define MAX_MISORDER 100
#define RTP_SEQ_MOD  (1u << 16)

/* RFC 8285 one-byte header extensions (profile 0xBEDE): finds the RFC 6464 audio level. */
static void parse_extensions(const uint8_t *ext, size_t len, unsigned id,
                             struct sylk_rtp_header *out)
{
    for (size_t i = 0; i < len;) {
        uint8_t b = ext[i];
        if (b == 0) { /* padding */
            i++;
            continue;
        }
        unsigned eid = b >> 4, elen = (b & 0x0f) + 1u;
        if (eid == 15 || i + 1 + elen > len)
            return;
        if (eid == id && id != 0) {
            out->voice = ext[i + 1] & 0x80;
            out->audio_level = ext[i + 1] & 0x7f;
        }
        i += 1 + elen;
    }
}

int sylk_rtp_parse(const uint8_t *buf, size_t len, unsigned audio_level_id,
                   struct sylk_rtp_header *out)
{
    memset(out, 0, sizeof(*out));
    out->audio_level = -1;
    if (len < SYLK_RTP_HEADER_LEN || (buf[0] >> 6) != 2)
        return -EBADMSG;
    size_t off = SYLK_RTP_HEADER_LEN + 4u * (buf[0] & 0x0f);
    if (off > len)
        return -EBADMSG;
    if (buf[0] & 0x10) { /* header extension */
        if (off + 4 > len)
            return -EBADMSG;
        uint16_t profile = sylk_rd16(buf + off);
        size_t ext_len = 4u * sylk_rd16(buf + off + 2);
        if (off + 4 + ext_len > len)
            return -EBADMSG;
        if (profile == 0xBEDE)
            parse_extensions(buf + off + 4, ext_len, audio_level_id, out);
        off += 4 + ext_len;
    }
    size_t end = len;
    if (buf[0] & 0x20) { /* padding: the last byte counts it */
        uint8_t pad = buf[len - 1];
        if (pad == 0 || off + pad > len)
            return -EBADMSG;
        end -= pad;
    }
    out->marker = buf[1] & 0x80;
    out->pt = buf[1] & 0x7f;
    out->seq = sylk_rd16(buf + 2);
    out->ts = sylk_rd32(buf + 4);
    out->ssrc = sylk_rd32(buf + 8);
    out->payload = buf + off;
    out->payload_len = end - off;
    return 0;
}

size_t sylk_rtp_write_header(uint8_t *buf, size_t cap, uint8_t pt, bool marker, uint16_t seq,
                             uint32_t ts, uint32_t ssrc)
{
    if (cap < SYLK_RTP_HEADER_LEN)
        return 0;
    buf[0] = 0x80;
    buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
    sylk_wr16(buf + 2, seq);
    sylk_wr32(buf + 4, ts);
    sylk_wr32(buf + 8, ssrc);
    return SYLK_RTP_HEADER_LEN;
}

bool sylk_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
    return len >= 8 && (buf[0] >> 6) == 2 && buf[1] >= 192 && buf[1] <= 223;
}

#define STUN_HEADER       20
#define STUN_MAGIC_COOKIE 0x2112A442u

enum sylk_rtp_demux sylk_rtp_demux(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return SYLK_DEMUX_OTHER;
    uint8_t b = buf[0];
    if (b >= 128 && b <= 191)
        return SYLK_DEMUX_RTP;
    if (b >= 20 && b <= 63)
        return SYLK_DEMUX_DTLS;
    if (b > 3 || len < STUN_HEADER)
        return SYLK_DEMUX_OTHER;
    size_t body = (size_t)buf[2] << 8 | buf[3];
    uint32_t cookie =
        (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    if (cookie != STUN_MAGIC_COOKIE || body % 4 || body != len - STUN_HEADER)
        return SYLK_DEMUX_OTHER;
    return SYLK_DEMUX_STUN;
}

int sylk_dtmf_parse(const uint8_t *payload, size_t len, struct sylk_dtmf_event *out)
{
    static const char keys[] = "0123456789*#ABCD";
    if (len < 4 || payload[0] > 15)
        return -EBADMSG;
    out->digit = keys[payload[0]];
    out->end = payload[1] & 0x80;
    out->volume = payload[1] & 0x3f;
    out->duration = sylk_rd16(payload + 2);
    return 0;
}

/* ------------------------------------------------------------------ statistics --- */

/* RFC 3550 A.1 (initialisation and sequence checking, without probation). */
void sylk_rtp_rx_update(struct sylk_rtp_rx_stats *s, uint16_t seq, uint32_t ts, uint32_t arrival)
{
    if (!s->started) {
        memset(s, 0, sizeof(*s));
        s->started = true;
        s->base_seq = seq;
        s->max_seq = seq;
        s->bad_seq = RTP_SEQ_MOD + 1;
        s->received = 1;
        s->transit = arrival - ts;
        return;
    }
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (udelta < MAX_DROPOUT) {
        if (seq < s->max_seq)
            s->cycles += RTP_SEQ_MOD;
        s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        if (seq == s->bad_seq) { /* two in a row: the sender restarted */
            s->started = false;
            sylk_rtp_rx_update(s, seq, ts, arrival);
            return;
        }
        s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
        return;
    }
    s->received++;
    /* A.8: interarrival jitter. */
    /* Modulo 2^32 as in RFC 3550 A.8, so a timestamp or clock wrap is no jump. */
    uint32_t transit = arrival - ts;
    int32_t d = (int32_t)(transit - s->transit);
    s->transit = transit;
    double ad = d < 0 ? -(double)d : (double)d;
    s->jitter += (ad - s->jitter) / 16.0;
}

/* RFC 3550 A.3. */
void sylk_rtp_rx_report(struct sylk_rtp_rx_stats *s, uint32_t ssrc,
                        struct sylk_rtcp_report_block *rb)
{
    memset(rb, 0, sizeof(*rb));
    rb->ssrc = ssrc;
    if (!s->started)
        return;
    uint32_t extended_max = s->cycles + s->max_seq;
    uint32_t expected = extended_max - s->base_seq + 1;
    int64_t lost = (int64_t)expected - s->received;
    rb->cumulative_lost = lost > 0x7fffff ? 0x7fffff : lost < -0x800000 ? -0x800000 : (int32_t)lost;
    uint32_t expected_interval = expected - s->expected_prior;
    uint32_t received_interval = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_interval = (int64_t)expected_interval - received_interval;
    rb->fraction_lost = expected_interval == 0 || lost_interval <= 0
                            ? 0
                            : (uint8_t)((lost_interval << 8) / expected_interval);
    rb->highest_seq = extended_max;
    rb->jitter = (uint32_t)lround(s->jitter);
}

/* ------------------------------------------------------------------------ RTCP --- */

static void write_block(uint8_t *p, const struct sylk_rtcp_report_block *rb)
{
    sylk_wr32(p, rb->ssrc);
    uint32_t lost = (uint32_t)rb->cumulative_lost & 0xffffff;
    sylk_wr32(p + 4, (uint32_t)rb->fraction_lost << 24 | lost);
    sylk_wr32(p + 8, rb->highest_seq);
    sylk_wr32(p + 12, rb->jitter);
    sylk_wr32(p + 16, rb->lsr);
    sylk_wr32(p + 20, rb->dlsr);
}

size_t sylk_rtcp_write_report(uint8_t *buf, size_t cap, uint32_t ssrc,
                              const struct sylk_rtcp_sender_info *si,
                              const struct sylk_rtcp_report_block *rb)
{
    size_t len = 8 + (si ? 20 : 0) + (rb ? 24 : 0);
    if (cap < len)
        return 0;
    buf[0] = (uint8_t)(0x80 | (rb ? 1 : 0));
    buf[1] = si ? 200 : 201;
    sylk_wr16(buf + 2, (uint16_t)(len / 4 - 1));
    sylk_wr32(buf + 4, ssrc);
    size_t off = 8;
    if (si) {
        sylk_wr32(buf + 8, (uint32_t)(si->ntp >> 32));
        sylk_wr32(buf + 12, (uint32_t)si->ntp);
        sylk_wr32(buf + 16, si->rtp_ts);
        sylk_wr32(buf + 20, si->packets);
        sylk_wr32(buf + 24, si->octets);
        off = 28;
    }
    if (rb)
        write_block(buf + off, rb);
    return len;
}

static void read_blocks(const uint8_t *p, unsigned count, struct sylk_rtcp_parsed *out)
{
    for (unsigned i = 0; i < count && out->blocks < 4; i++, p += 24) {
        struct sylk_rtcp_report_block *rb = &out->block[out->blocks++];
        rb->ssrc = sylk_rd32(p);
        rb->fraction_lost = p[4];
        int32_t lost = (int32_t)(sylk_rd32(p + 4) & 0xffffff);
        rb->cumulative_lost = lost & 0x800000 ? lost - 0x1000000 : lost;
        rb->highest_seq = sylk_rd32(p + 8);
        rb->jitter = sylk_rd32(p + 12);
        rb->lsr = sylk_rd32(p + 16);
        rb->dlsr = sylk_rd32(p + 20);
    }
}

int sylk_rtcp_parse(const uint8_t *buf, size_t len, struct sylk_rtcp_parsed *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 8)
        return -EBADMSG;
    for (size_t off = 0; off < len;) {
        if (len - off < 4 || (buf[off] >> 6) != 2)
            return -EBADMSG;
        size_t plen = 4u * (sylk_rd16(buf + off + 2) + 1u);
        if (plen > len - off)
            return -EBADMSG;
        const uint8_t *p = buf + off;
        unsigned count = p[0] & 0x1f;
        switch (p[1]) {
        case 200: /* SR */
            if (plen < 28 + 24u * count)
                return -EBADMSG;
            out->has_sr = true;
            out->sr_ssrc = sylk_rd32(p + 4);
            out->sr.ntp = (uint64_t)sylk_rd32(p + 8) << 32 | sylk_rd32(p + 12);
            out->sr.rtp_ts = sylk_rd32(p + 16);
            out->sr.packets = sylk_rd32(p + 20);
            out->sr.octets = sylk_rd32(p + 24);
            read_blocks(p + 28, count, out);
            break;
        case 201: /* RR */
            if (plen < 8 + 24u * count)
                return -EBADMSG;
            read_blocks(p + 8, count, out);
            break;
        case 203: /* BYE */
            out->bye = true;
            break;
        default: /* SDES, APP, feedback: not needed */
            break;
        }
        off += plen;
    }
    return 0;
}
