/*
 * rtp_packet.h — RTP and RTCP on the wire (RFC 3550): the RTP header parsed with bounds
 * checks (CSRCs, padding, header extensions, RFC 6464 audio level), RTP headers written,
 * receiver statistics (RFC 3550 A.1, A.3, A.8), and RTCP SR/RR written and parsed.
 *
 * Pure functions over buffers; a statistics struct belongs to one stream's media thread.
 */
#ifndef SYLK_RTP_PACKET_H
#define SYLK_RTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_RTP_HEADER_LEN 12

struct sylk_rtp_header {
    uint8_t pt;
    bool marker;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    const uint8_t *payload; /* inside the buffer parsed */
    size_t payload_len;     /* padding removed */
    int audio_level;        /* RFC 6464: 0..127 (-dBov), -1 when absent */
    bool voice;             /* RFC 6464 V flag */
};

/**
 * Parses an RTP packet. `audio_level_id` is the extmap id negotiated for RFC 6464 (0: none).
 * Returns 0, or -EBADMSG for anything that is not a well-formed RTP version 2 packet.
 */
int sylk_rtp_parse(const uint8_t *buf, size_t len, unsigned audio_level_id,
                   struct sylk_rtp_header *out);

/** Writes a 12-byte header; returns 12, or 0 when cap is too small. */
size_t sylk_rtp_write_header(uint8_t *buf, size_t cap, uint8_t pt, bool marker, uint16_t seq,
                             uint32_t ts, uint32_t ssrc);

/** RTP/RTCP demultiplexing on one port (RFC 5761): true for RTCP packet types 192..223. */
bool sylk_rtp_is_rtcp(const uint8_t *buf, size_t len);

/** What arrives on an RTP or RTCP port besides RTP (RFC 7983 demultiplexing). */
enum sylk_rtp_demux {
    SYLK_DEMUX_RTP,   /* first byte 128-191: RTP or RTCP (not validated further here) */
    SYLK_DEMUX_STUN,  /* a STUN message (RFC 5389): keep-alives, ICE connectivity checks */
    SYLK_DEMUX_DTLS,  /* first byte 20-63: DTLS, which we do not speak */
    SYLK_DEMUX_OTHER, /* anything else: junk, ZRTP, TURN channel data */
};

/**
 * Sorts a datagram by its first byte (RFC 7983); a STUN message must also have a whole header
 * that holds: the RFC 5389 magic cookie, and a length (a multiple of 4) that is the rest of the
 * datagram; otherwise it is SYLK_DEMUX_OTHER.
 */
enum sylk_rtp_demux sylk_rtp_demux(const uint8_t *buf, size_t len);

/** An RFC 4733 telephone-event payload. */
struct sylk_dtmf_event {
    char digit;        /* '0'-'9', '*', '#', 'A'-'D' */
    bool end;          /* the E bit: the key was released */
    uint8_t volume;    /* 0..63, -dBm0 */
    uint16_t duration; /* in timestamp units */
};

/** Parses a telephone-event payload; 0, or -EBADMSG (short, or an event that is no key). */
int sylk_dtmf_parse(const uint8_t *payload, size_t len, struct sylk_dtmf_event *out);

/* --------------------------------------------------------- receiver statistics --- */

struct sylk_rtp_rx_stats {
    bool started;
    uint16_t max_seq;
    uint32_t cycles; /* count of sequence wraps << 16 */
    uint32_t base_seq;
    uint32_t received;
    uint32_t expected_prior, received_prior;
    uint32_t transit; /* previous transit (arrival - ts), modulo 2^32 */
    double jitter;    /* RFC 3550 interarrival jitter, in timestamp units */
    uint32_t bad_seq;
};

/** Accounts one packet that arrived at `arrival` (in the stream's timestamp units). */
void sylk_rtp_rx_update(struct sylk_rtp_rx_stats *s, uint16_t seq, uint32_t ts, uint32_t arrival);

struct sylk_rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* fixed point /256 since the last report */
    int32_t cumulative_lost; /* 24-bit signed on the wire */
    uint32_t highest_seq;    /* extended */
    uint32_t jitter;
    uint32_t lsr, dlsr;
};

/** Fills a report block from the statistics and starts a new reporting interval. */
void sylk_rtp_rx_report(struct sylk_rtp_rx_stats *s, uint32_t ssrc,
                        struct sylk_rtcp_report_block *rb);

/* ------------------------------------------------------------------------ RTCP --- */

struct sylk_rtcp_sender_info {
    uint64_t ntp; /* NTP timestamp, 32.32 fixed point */
    uint32_t rtp_ts;
    uint32_t packets, octets;
};

/** An SR (with `si`) or RR (si NULL), with 0 or 1 report block. Returns the length or 0. */
size_t sylk_rtcp_write_report(uint8_t *buf, size_t cap, uint32_t ssrc,
                              const struct sylk_rtcp_sender_info *si,
                              const struct sylk_rtcp_report_block *rb);

struct sylk_rtcp_parsed {
    bool has_sr;
    uint32_t sr_ssrc;
    struct sylk_rtcp_sender_info sr;
    unsigned blocks;
    struct sylk_rtcp_report_block block[4]; /* the first ones in the compound packet */
    bool bye;
};

/** Parses a compound RTCP packet; 0 or -EBADMSG. */
int sylk_rtcp_parse(const uint8_t *buf, size_t len, struct sylk_rtcp_parsed *out);

#endif
