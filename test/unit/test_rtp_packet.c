/* Unit tests for core/media/rtp_packet.c. */
#include "media/rtp_packet.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

static void parse_plain_and_written(void)
{
    uint8_t pkt[12 + 4] = {0};
    g_assert_cmpuint(sylk_rtp_write_header(pkt, sizeof(pkt), 9, true, 65535, 160, 0xdeadbeef), ==,
                     12);
    memcpy(pkt + 12, "abcd", 4);
    struct sylk_rtp_header h;
    g_assert_cmpint(sylk_rtp_parse(pkt, sizeof(pkt), 0, &h), ==, 0);
    g_assert_cmpuint(h.pt, ==, 9);
    g_assert_true(h.marker);
    g_assert_cmpuint(h.seq, ==, 65535);
    g_assert_cmpuint(h.ts, ==, 160);
    g_assert_cmpuint(h.ssrc, ==, 0xdeadbeef);
    g_assert_cmpmem(h.payload, h.payload_len, "abcd", 4);
    g_assert_cmpint(h.audio_level, ==, -1);
    g_assert_false(sylk_rtp_is_rtcp(pkt, sizeof(pkt)));
}

static void csrc_extension_padding_level(void)
{
    /* V=2 P=1 X=1 CC=1; one CSRC; 0xBEDE extension with id 1 len 0 level 0x85 (V, 40 dBov);
     * payload "xy"; 2 bytes of padding. */
    uint8_t pkt[] = {0xb1, 0x00, 0x00, 0x01, 0,    0,    0,    0,    0, 0, 0, 1, /* header */
                     0,    0,    0,    9,                                        /* CSRC */
                     0xbe, 0xde, 0x00, 0x01, 0x10, 0xa8, 0x00, 0x00,             /* extension */
                     'x',  'y',  0x00, 0x02};
    struct sylk_rtp_header h;
    g_assert_cmpint(sylk_rtp_parse(pkt, sizeof(pkt), 1, &h), ==, 0);
    g_assert_cmpmem(h.payload, h.payload_len, "xy", 2);
    g_assert_true(h.voice);
    g_assert_cmpint(h.audio_level, ==, 40);
    g_assert_cmpint(sylk_rtp_parse(pkt, sizeof(pkt), 2, &h), ==, 0); /* other id: no level */
    g_assert_cmpint(h.audio_level, ==, -1);
}

static void malformed(void)
{
    struct sylk_rtp_header h;
    uint8_t good[16] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    for (size_t n = 0; n < 12; n++) /* truncated */
        g_assert_cmpint(sylk_rtp_parse(good, n, 0, &h), ==, -EBADMSG);
    uint8_t v1[12] = {0x40};
    g_assert_cmpint(sylk_rtp_parse(v1, 12, 0, &h), ==, -EBADMSG);
    uint8_t csrc[14] = {0x8f}; /* 15 CSRCs announced, none present */
    g_assert_cmpint(sylk_rtp_parse(csrc, sizeof(csrc), 0, &h), ==, -EBADMSG);
    uint8_t ext[16] = {0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0xff, 0xff};
    g_assert_cmpint(sylk_rtp_parse(ext, sizeof(ext), 1, &h), ==, -EBADMSG);
    uint8_t pad[13] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200}; /* padding > packet */
    g_assert_cmpint(sylk_rtp_parse(pad, sizeof(pad), 0, &h), ==, -EBADMSG);
}

static void receiver_statistics(void)
{
    struct sylk_rtp_rx_stats s = {0};
    /* 100 packets from seq 65500 (wrapping), every 10th lost, 2 reordered. */
    for (unsigned i = 0; i < 100; i++) {
        if (i % 10 == 9)
            continue;
        uint16_t seq = (uint16_t)(65500 + i);
        sylk_rtp_rx_update(&s, seq, i * 160, i * 160 + (i % 2) * 80);
    }
    struct sylk_rtcp_report_block rb;
    sylk_rtp_rx_report(&s, 42, &rb);
    g_assert_cmpuint(rb.ssrc, ==, 42);
    g_assert_cmpint(rb.cumulative_lost, ==, 9); /* 99 expected (last one lost), 90 received */
    g_assert_cmpuint(rb.highest_seq, ==, 65536u + (uint16_t)(65500 + 98));
    g_assert_cmpuint(rb.fraction_lost, ==, 9 * 256 / 99);
    g_assert_cmpuint(rb.jitter, >, 30); /* alternating 0/80 transit: jitter near 80 */
    g_assert_cmpuint(rb.jitter, <=, 80);
    sylk_rtp_rx_report(&s, 42, &rb); /* nothing new: no fraction lost */
    g_assert_cmpuint(rb.fraction_lost, ==, 0);
}

static void jitter_across_timestamp_wrap(void)
{
    struct sylk_rtp_rx_stats s = {0};
    uint32_t ts = 0xffffffffu - 800, arrival = 12345;
    for (int i = 0; i < 20; i++, ts += 160, arrival += 160)
        sylk_rtp_rx_update(&s, (uint16_t)i, ts, arrival);
    struct sylk_rtcp_report_block rb;
    sylk_rtp_rx_report(&s, 1, &rb);
    g_assert_cmpuint(rb.jitter, ==, 0); /* perfectly timed: no jitter across the wrap */
}

static void dtmf_events(void)
{
    struct sylk_dtmf_event ev;
    const uint8_t five_end[] = {5, 0x80 | 10, 0x03, 0x20}; /* '5', E, -10 dBm0, 800 */
    g_assert_cmpint(sylk_dtmf_parse(five_end, sizeof(five_end), &ev), ==, 0);
    g_assert_cmpint(ev.digit, ==, '5');
    g_assert_true(ev.end);
    g_assert_cmpuint(ev.volume, ==, 10);
    g_assert_cmpuint(ev.duration, ==, 800);
    const uint8_t star[] = {10, 0, 0, 160}, hash[] = {11, 0, 0, 0}, d[] = {15, 0, 0, 0};
    sylk_dtmf_parse(star, 4, &ev);
    g_assert_cmpint(ev.digit, ==, '*');
    g_assert_false(ev.end);
    sylk_dtmf_parse(hash, 4, &ev);
    g_assert_cmpint(ev.digit, ==, '#');
    sylk_dtmf_parse(d, 4, &ev);
    g_assert_cmpint(ev.digit, ==, 'D');
    const uint8_t flash[] = {16, 0x80, 0, 0}; /* not a key */
    g_assert_cmpint(sylk_dtmf_parse(flash, 4, &ev), <, 0);
    g_assert_cmpint(sylk_dtmf_parse(five_end, 3, &ev), <, 0);
}

static void rtcp_round_trip(void)
{
    struct sylk_rtcp_sender_info si = {
        .ntp = 0x0102030405060708ull, .rtp_ts = 160, .packets = 50, .octets = 8000};
    struct sylk_rtcp_report_block rb = {.ssrc = 7,
                                        .fraction_lost = 25,
                                        .cumulative_lost = -3,
                                        .highest_seq = 70000,
                                        .jitter = 12,
                                        .lsr = 1,
                                        .dlsr = 2};
    uint8_t buf[100];
    size_t n = sylk_rtcp_write_report(buf, sizeof(buf), 99, &si, &rb);
    g_assert_cmpuint(n, ==, 52);
    g_assert_true(sylk_rtp_is_rtcp(buf, n));
    /* append an RR without blocks: a compound packet */
    size_t m = sylk_rtcp_write_report(buf + n, sizeof(buf) - n, 99, NULL, NULL);
    g_assert_cmpuint(m, ==, 8);
    struct sylk_rtcp_parsed p;
    g_assert_cmpint(sylk_rtcp_parse(buf, n + m, &p), ==, 0);
    g_assert_true(p.has_sr);
    g_assert_cmpuint(p.sr_ssrc, ==, 99);
    g_assert_cmpuint(p.sr.ntp, ==, si.ntp);
    g_assert_cmpuint(p.sr.octets, ==, 8000);
    g_assert_cmpuint(p.blocks, ==, 1);
    g_assert_cmpint(p.block[0].cumulative_lost, ==, -3);
    g_assert_cmpuint(p.block[0].highest_seq, ==, 70000);
    g_assert_cmpint(sylk_rtcp_parse(buf, n - 4, &p), ==, -EBADMSG); /* truncated */
    buf[2] = 0xff;                                                  /* length too big */
    g_assert_cmpint(sylk_rtcp_parse(buf, n, &p), ==, -EBADMSG);
}

/* RFC 5769 2.1: a STUN Binding Request as ICE sends it (SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t stun_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 7983 demultiplexing on an RTP port: STUN (a valid header with the RFC 5389 magic cookie),
 * DTLS (first byte 20-63, which we do not speak), RTP/RTCP, and anything else. */
static void demux_stun_dtls_rtp(void)
{
    g_assert_cmpuint(sizeof(stun_request), ==, 108);
    g_assert_cmpint(sylk_rtp_demux(stun_request, sizeof(stun_request)), ==, SYLK_DEMUX_STUN);
    uint8_t indication[20] = {0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6};
    g_assert_cmpint(sylk_rtp_demux(indication, sizeof(indication)), ==, SYLK_DEMUX_STUN);
    /* STUN-looking but not STUN: a length that is not the packet's, no magic cookie, short */
    g_assert_cmpint(sylk_rtp_demux(stun_request, sizeof(stun_request) - 4), ==, SYLK_DEMUX_OTHER);
    uint8_t no_cookie[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x43};
    g_assert_cmpint(sylk_rtp_demux(no_cookie, sizeof(no_cookie)), ==, SYLK_DEMUX_OTHER);
    g_assert_cmpint(sylk_rtp_demux(indication, 19), ==, SYLK_DEMUX_OTHER);
    uint8_t odd_length[24] = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42};
    odd_length[3] = 0x02; /* not a multiple of 4 */
    g_assert_cmpint(sylk_rtp_demux(odd_length, 22), ==, SYLK_DEMUX_OTHER);
    uint8_t dtls_hello[] = {0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    g_assert_cmpint(sylk_rtp_demux(dtls_hello, sizeof(dtls_hello)), ==, SYLK_DEMUX_DTLS);
    uint8_t rtp[12] = {0x80, 0x00};
    g_assert_cmpint(sylk_rtp_demux(rtp, sizeof(rtp)), ==, SYLK_DEMUX_RTP);
    uint8_t rtcp[8] = {0x81, 201, 0, 1};
    g_assert_cmpint(sylk_rtp_demux(rtcp, sizeof(rtcp)), ==, SYLK_DEMUX_RTP);
    uint8_t zrtp[16] = {0x10, 0x00}, turn_channel[8] = {0x40, 0x00};
    g_assert_cmpint(sylk_rtp_demux(zrtp, sizeof(zrtp)), ==, SYLK_DEMUX_OTHER);
    g_assert_cmpint(sylk_rtp_demux(turn_channel, sizeof(turn_channel)), ==, SYLK_DEMUX_OTHER);
    g_assert_cmpint(sylk_rtp_demux(rtp, 0), ==, SYLK_DEMUX_OTHER);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rtp/parse-and-write", parse_plain_and_written);
    g_test_add_func("/rtp/csrc-extension-padding-level", csrc_extension_padding_level);
    g_test_add_func("/rtp/malformed", malformed);
    g_test_add_func("/rtp/receiver-statistics", receiver_statistics);
    g_test_add_func("/rtcp/round-trip", rtcp_round_trip);
    g_test_add_func("/rtp/dtmf-events", dtmf_events);
    g_test_add_func("/rtp/jitter-across-timestamp-wrap", jitter_across_timestamp_wrap);
    g_test_add_func("/rtp/demux-stun-dtls-rtp", demux_stun_dtls_rtp);
    return g_test_run();
}
