/*
 * rtp.h — one RTP audio stream of the media engine: its RTP/RTCP socket pair from the
 * configured port range, SRTP, symmetric RTP, receive statistics and RTCP reports, the
 * jitter buffer and the codec, and what the stream plays: a loopback of its own audio
 * (decoded, delayed, re-encoded: the echo), prompts (players), or a mixer's output.
 *
 * Thread: a stream lives on one media thread (engine.h). The functions in the first part are
 * called on the main thread and reach the stream's thread through sylk_media_thread_call;
 * DTMF and prompt completions come back to the main loop. The functions in the "media
 * thread" part are for the mixer, on the stream's own thread.
 */
#ifndef SYLK_RTP_H
#define SYLK_RTP_H

#include "media/codec.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct sylk_media_engine;
struct sylk_media_thread;
struct sylk_player;
struct sylk_srtp;

/** Hands out even/odd port pairs from [min, max], round robin. Owned by the server. */
/* The RTP port range, shared by every stream (main thread). */
struct sylk_rtp_ports {
    unsigned min, max, next;
    unsigned in_use; /* pairs held by our open sockets */
    /* When a scan of the whole range last found no pair free (others hold ports too, or ours
     * are still closing), monotonic µs: opens fail at once for a second, or until one of ours
     * is closed, instead of trying every pair again per call. 0: not full. */
    int64_t full_since;
    /* [rtp] opus_complexity + 1, given to every stream's opus encoder (see struct
     * sylk_codec_options); 0: libopus's default */
    unsigned opus_complexity;
};

struct sylk_rtp_stats {
    uint64_t packets_in, packets_out, bytes_in, dropped;
    uint64_t stun; /* STUN messages (keep-alives, connectivity checks): not RTP, not dropped */
    uint64_t ice_answers; /* connectivity checks answered (ICE-lite, sylk_rtp_set_ice) */
    uint64_t ice_checks;  /* connectivity checks sent (sylk_rtp_ice_connect) */
    uint64_t dtls;        /* DTLS records (RFC 7983), which we do not speak: not counted as drops */
    uint64_t rtcp_in, rtcp_out;
    uint64_t decoded, concealed; /* frames */
    uint64_t recovered;          /* lost frames rebuilt from the next packet's FEC (opus) */
    uint64_t skipped;            /* frames not decoded: silent by their RFC 6464 level */
    int64_t last_in_us;          /* monotonic time of the last packet accepted, 0 before any */
};

struct sylk_rtp_socket;

/* ------------------------------------------------------------------ main thread --- */

/** Binds an RTP/RTCP pair on `local_ip` and places the stream on the least loaded thread. */
int sylk_rtp_open(struct sylk_rtp_ports *ports, const char *local_ip,
                  struct sylk_media_engine *engine, struct sylk_rtp_socket **out);
unsigned sylk_rtp_port(const struct sylk_rtp_socket *s);
/** Where to send until packets arrive (symmetric RTP then follows their source). */
int sylk_rtp_set_remote(struct sylk_rtp_socket *s, const char *address, unsigned port,
                        unsigned rtcp_port);
/** SRTP for this stream from now on (owned: freed with the socket or the next call). */
void sylk_rtp_set_srtp(struct sylk_rtp_socket *s, struct sylk_srtp *srtp);
/**
 * The negotiated codec: we send with `send_pt`; packets with `send_pt` or `recv_pt` are
 * audio. A changed codec restarts the decoder, the encoder and the jitter buffer.
 */
int sylk_rtp_set_codec(struct sylk_rtp_socket *s, const struct sylk_codec_info *info, int send_pt,
                       int recv_pt, const struct sylk_codec_options *options);
/** The RFC 6464 audio level extension id negotiated (1..14), 0 for none. */
void sylk_rtp_set_audio_level_id(struct sylk_rtp_socket *s, unsigned id);
/** Whether we send and receive (from the negotiated direction; hold stops sending). */
void sylk_rtp_set_direction(struct sylk_rtp_socket *s, bool send, bool recv);
/** ICE-lite (RFC 8445 2.5): connectivity checks whose USERNAME starts with ufrag and whose
 *  MESSAGE-INTEGRITY is keyed with pwd are answered; NULL stops answering. */
void sylk_rtp_set_ice(struct sylk_rtp_socket *s, const char *ufrag, const char *pwd);
/** ICE as the controlling agent (RFC 8445, aggressive nomination), after sylk_rtp_set_ice:
 *  checks with USE-CANDIDATE go to the remote address every 100 ms, keyed with the peer's
 *  rpwd, until one is answered (the pair is nominated) or 50 went unanswered. */
void sylk_rtp_ice_connect(struct sylk_rtp_socket *s, const char *rufrag, const char *rpwd);

/** Called on the main thread once per key press (RFC 4733 event end). */
typedef void (*sylk_rtp_dtmf_fn)(void *user_data, char digit, unsigned duration_ms);

/** A negotiated description, applied at once (sylk_rtp_apply). */
struct sylk_rtp_params {
    const char *address; /* the remote's SDP connection address and ports */
    unsigned port, rtcp_port;
    const struct sylk_codec_info *info; /* NULL: no usable codec (nothing is sent) */
    int pt;                             /* both ways (RFC 3264 6.1) */
    struct sylk_codec_options options;
    bool send, recv;
    int dtmf_pt; /* -1: none */
    unsigned dtmf_clock;
    sylk_rtp_dtmf_fn dtmf_fn;
    void *dtmf_data;
    unsigned audio_level_id; /* RFC 6464, 0: none */
    bool srtp_change;        /* replace the SRTP context with `srtp` (owned; NULL: plain RTP) */
    struct sylk_srtp *srtp;
};

/**
 * Applies a description in one step on the stream's thread, SRTP first, so no packet is ever
 * sent or taken with half of it (say the codec without the keys). The remote address changes
 * only when the SDP's changed (one learned from the peer's packets stays otherwise). Returns
 * 0, or a negative errno when the codec or address cannot be used (nothing is sent then).
 */
int sylk_rtp_apply(struct sylk_rtp_socket *s, const struct sylk_rtp_params *params);

/** Monotonic time of the last packet taken (any thread; no call into the media thread). */
int64_t sylk_rtp_last_in(const struct sylk_rtp_socket *s);
/** Report telephone-events of payload type `pt` (clock `clock`); pt < 0 stops. */
void sylk_rtp_set_dtmf(struct sylk_rtp_socket *s, int pt, unsigned clock, sylk_rtp_dtmf_fn fn,
                       void *user_data);

/** Play the stream's own audio back to it, decoded and re-encoded, delay_ms (0..10000) later. */
int sylk_rtp_loopback(struct sylk_rtp_socket *s, unsigned delay_ms);

/** Called on the main thread when a prompt has been played out. */
typedef void (*sylk_rtp_play_done_fn)(void *user_data);
/**
 * Queues a prompt for this stream (played after those already queued, mixed over whatever
 * else it hears). Takes `player`. `done` is not called when the stream closes first.
 */
int sylk_rtp_play(struct sylk_rtp_socket *s, struct sylk_player *player, sylk_rtp_play_done_fn done,
                  void *user_data);
/** Drops the prompt playing and those queued; their `done` callbacks are never called. */
void sylk_rtp_stop_prompts(struct sylk_rtp_socket *s);

void sylk_rtp_get_stats(struct sylk_rtp_socket *s, struct sylk_rtp_stats *out);
void sylk_rtp_close(struct sylk_rtp_socket *s);

/**
 * The codec the main thread last asked the stream for (the one it runs once the description
 * applied), NULL before any; `options` set when not NULL. Main thread.
 */
const struct sylk_codec_info *sylk_rtp_main_codec(const struct sylk_rtp_socket *s,
                                                  const struct sylk_codec_options **options);

/** The thread the stream is on, and moving it to another one (for a mixer). */
struct sylk_media_thread *sylk_rtp_thread(const struct sylk_rtp_socket *s);
void sylk_rtp_move(struct sylk_rtp_socket *s, struct sylk_media_thread *to);

/* ------------------------------------------------------------------ media thread --- */

/**
 * A consumer of the stream's audio (a mixer) replaces its loopback: it pulls decoded frames
 * and pushes frames to send on its own clock. `detached` is called (media thread) when the
 * stream closes while attached.
 */
void sylk_rtp_attach(struct sylk_rtp_socket *s, void *consumer,
                     void (*detached)(void *consumer, struct sylk_rtp_socket *s));
void sylk_rtp_detach(struct sylk_rtp_socket *s);

/** The codec negotiated, or NULL; its PCM rate is the rate of pull and push. */
const struct sylk_codec_info *sylk_rtp_codec(const struct sylk_rtp_socket *s);
const struct sylk_codec_options *sylk_rtp_codec_options(const struct sylk_rtp_socket *s);
/** This tick's decoded frame (a frame of the codec's rate); 0 when there is none. */
unsigned sylk_rtp_pull(struct sylk_rtp_socket *s, int16_t *pcm, unsigned max);
/** Mixes the stream's own prompts into a frame about to be sent; true if any played. */
bool sylk_rtp_mix_prompts(struct sylk_rtp_socket *s, int16_t *pcm, unsigned samples);
/** Encodes a frame (codec rate) and sends it. */
void sylk_rtp_push(struct sylk_rtp_socket *s, const int16_t *pcm, unsigned samples);
/** Sends a payload encoded elsewhere (a mix encoded once for many listeners). */
void sylk_rtp_send_payload(struct sylk_rtp_socket *s, const uint8_t *payload, size_t len);
/** Nothing is sent this tick (silence): the next packet starts a talkspurt. */
void sylk_rtp_skip(struct sylk_rtp_socket *s);
/** The consumer attached, or NULL. */
void *sylk_rtp_consumer(const struct sylk_rtp_socket *s);
/** Once per tick: RTCP reports when due (streams ticked by a mixer). */
void sylk_rtp_housekeeping(struct sylk_rtp_socket *s);
/** Negotiated, and the far end does not want our audio (sendonly/inactive from it: on hold). */
bool sylk_rtp_on_hold(const struct sylk_rtp_socket *s);
bool sylk_rtp_sending(const struct sylk_rtp_socket *s);
bool sylk_rtp_has_prompts(const struct sylk_rtp_socket *s);

#endif
