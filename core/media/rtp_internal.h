/*
 * rtp_internal.h — what the parts of an RTP stream share (see rtp.h): the stream structure
 * and its life in rtp.c. Each part with something to offer the others has its own header:
 *
 *   rtp.c          the stream's life: its port pair and sockets, its media thread, moves,
 *                  statistics, close (main thread; the close finishes on the media thread)
 *   rtp_control.c  changes from the main thread (description, codec, keys, direction, DTMF,
 *                  loopback, prompts) posted to the stream's thread and run there in order
 *   rtp_recv.c     the receive path: RTP and RTCP read, checked, unprotected, counted, DTMF,
 *                  audio into the jitter buffer (media thread)
 *   rtp_send.c     the send path: packets and RTCP reports out, protected (media thread)
 *   rtp_tick.c     what the stream plays on its 20 ms tick (decode, loopback, prompts) and
 *                  its attachment to a mixer (media thread)
 *
 * Not a public header: only core/media/rtp*.c include it.
 */
#ifndef SYLK_RTP_INTERNAL_H
#define SYLK_RTP_INTERNAL_H

#include "media/engine.h"
#include "media/rtp.h"
#include "media/rtp_packet.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define RTP_MAX_PACKET 1500
#define NO_LEVEL       0xff

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
    char *ice_ufrag, *ice_pwd;          /* ICE-lite: checks to answer (NULL: none) */
    char *ice_rufrag, *ice_rpwd;        /* controlling: the peer's credentials (NULL: none) */
    uint8_t ice_tid[12];                /* our check's transaction id */
    uint64_t ice_tiebreaker;
    unsigned ice_tries; /* checks sent */
    bool ice_nominated; /* our check was answered: the pair is nominated */
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

/* ---------------------------------------------------------------------- rtp.c --- */

/** Drops a reference (the stream's own, or one an event on its way to the main loop holds). */
void sylk_rtp_unref(struct sylk_rtp_socket *s);
/** Frees a struct prompt and its player (a GDestroyNotify). */
void sylk_rtp_prompt_free(gpointer data);

#endif
