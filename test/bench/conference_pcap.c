/*
 * test/bench/conference_pcap — writes the RTP capture that sipp's play_pcap_audio sends for
 * each participant of the conference benchmark (test/bench/conference): a 440 Hz tone at
 * speech level (-18 dBFS), one packet every 20 ms, as PCMU (G.711 mu-law, 8 kHz, 160 bytes a
 * packet) or opus (libopus, 48 kHz mono, VOIP, 32 kbit/s, 20 ms frames; opus/48000/2 in SDP
 * per RFC 7587). An independent peer: nothing of core/ is used.
 *
 *   conference_pcap pcmu|opus PAYLOAD_TYPE SECONDS OUT.pcap
 *
 * The capture is classic pcap, Ethernet link type, IPv4/UDP from 127.0.0.1:6002 to
 * 127.0.0.1:6000 (sipp rewrites the ports and addresses when it plays it), with packet times
 * 20 ms apart: sipp paces the packets by them. RTP: one SSRC, sequence numbers and timestamps
 * in order from 0, the marker bit on the first packet.
 */
#include <glib.h>
#include <math.h>
#include <opus/opus.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PTIME_MS    20
#define TONE_HZ     440.0
#define AMPLITUDE   4100.0 /* -18 dBFS */
#define MAX_PAYLOAD 1500
#define OPUS_RATE   48000
#define OPUS_BPS    32000
#define PCMU_RATE   8000

static G_GNUC_NORETURN void fail(const char *what)
{
    fprintf(stderr, "conference_pcap: %s\n", what);
    exit(1);
}

/* G.711 mu-law of one 16-bit sample (ITU-T G.711, the segment search of the reference code). */
static uint8_t ulaw(int16_t pcm)
{
    int sample = pcm, sign = 0;
    if (sample < 0) {
        sample = -sample;
        sign = 0x80;
    }
    sample = MIN(sample, 32635) + 0x84;
    int exponent = 7;
    for (int mask = 0x4000; exponent > 0 && !(sample & mask); mask >>= 1)
        exponent--;
    int mantissa = (sample >> (exponent + 3)) & 0x0f;
    return (uint8_t) ~(sign | (exponent << 4) | mantissa);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* One captured frame: Ethernet, IPv4, UDP (checksum 0: none), RTP header, payload. */
static void write_packet(FILE *out, unsigned index, int pt, uint32_t ssrc, uint32_t ts,
                         const uint8_t *payload, size_t len)
{
    uint8_t frame[14 + 20 + 8 + 12 + MAX_PAYLOAD] = {0};
    uint8_t *eth = frame, *ip = eth + 14, *udp = ip + 20, *rtp = udp + 8;
    size_t udp_len = 8 + 12 + len, total = 14 + 20 + udp_len;

    put16(eth + 12, 0x0800); /* MACs all zero: loopback */
    ip[0] = 0x45;
    put16(ip + 2, (unsigned)(20 + udp_len));
    put16(ip + 4, index & 0xffff);
    ip[8] = 64;
    ip[9] = 17;
    put32(ip + 12, 0x7f000001);
    put32(ip + 16, 0x7f000001);
    put16(ip + 10, ip_checksum(ip, 20));
    put16(udp, 6002);
    put16(udp + 2, 6000);
    put16(udp + 4, (unsigned)udp_len);
    rtp[0] = 0x80;
    rtp[1] = (uint8_t)(pt | (index == 0 ? 0x80 : 0));
    put16(rtp + 2, index & 0xffff);
    put32(rtp + 4, ts);
    put32(rtp + 8, ssrc);
    memcpy(rtp + 12, payload, len);

    uint64_t us = (uint64_t)index * PTIME_MS * 1000;
    uint32_t rec[4] = {(uint32_t)(us / 1000000), (uint32_t)(us % 1000000), (uint32_t)total,
                       (uint32_t)total};
    if (fwrite(rec, sizeof(rec), 1, out) != 1 || fwrite(frame, total, 1, out) != 1)
        fail("write failed");
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: conference_pcap pcmu|opus PAYLOAD_TYPE SECONDS OUT.pcap\n");
        return 2;
    }
    bool opus = strcmp(argv[1], "opus") == 0;
    if (!opus && strcmp(argv[1], "pcmu") != 0)
        fail("the codec is pcmu or opus");
    int pt = atoi(argv[2]);
    int seconds = atoi(argv[3]);
    if (pt < 0 || pt > 127 || seconds <= 0 || seconds > 3600)
        fail("bad payload type or seconds");
    unsigned rate = opus ? OPUS_RATE : PCMU_RATE, frame = rate * PTIME_MS / 1000;
    unsigned packets = (unsigned)seconds * 1000 / PTIME_MS;

    OpusEncoder *enc = NULL;
    if (opus) {
        int err;
        enc = opus_encoder_create(OPUS_RATE, 1, OPUS_APPLICATION_VOIP, &err);
        if (err != OPUS_OK || opus_encoder_ctl(enc, OPUS_SET_BITRATE(OPUS_BPS)) != OPUS_OK)
            fail("opus encoder setup failed");
    }
    FILE *out = fopen(argv[4], "wb");
    if (!out)
        fail("cannot open the output file");
    /* pcap global header: magic, version 2.4, zone 0, sigfigs 0, snaplen, Ethernet */
    uint32_t head[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    if (fwrite(head, sizeof(head), 1, out) != 1)
        fail("write failed");

    uint32_t ssrc = g_random_int();
    int16_t pcm[OPUS_RATE * PTIME_MS / 1000];
    uint8_t payload[MAX_PAYLOAD];
    for (unsigned i = 0; i < packets; i++) {
        for (unsigned k = 0; k < frame; k++)
            pcm[k] = (int16_t)(AMPLITUDE * sin(2 * M_PI * TONE_HZ * (i * frame + k) / rate));
        int len;
        if (opus) {
            len = opus_encode(enc, pcm, (int)frame, payload, sizeof(payload));
            if (len < 0)
                fail("opus_encode failed");
        } else {
            for (unsigned k = 0; k < frame; k++)
                payload[k] = ulaw(pcm[k]);
            len = (int)frame;
        }
        write_packet(out, i, pt, ssrc, i * frame, payload, (size_t)len);
    }
    if (fclose(out) != 0)
        fail("write failed");
    if (enc)
        opus_encoder_destroy(enc);
    return 0;
}
