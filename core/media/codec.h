/*
 * codec.h — the audio codecs of the media engine behind one interface: PCMU and PCMA (G.711,
 * spandsp), G.722 (spandsp; 8000 in SDP, 16 kHz audio, RFC 3551), speex narrowband and
 * wideband (libspeex) and opus (libopus, RFC 7587: opus/48000/2 in SDP, mono here).
 *
 * A codec instance encodes and decodes 20 ms frames of 16-bit mono PCM at the codec's own
 * sample rate (`rate`); resampling to the engine rate is the caller's. Packet-loss
 * concealment: opus and speex use their decoders' PLC, the others repeat the last frame with a
 * fade. Thread: an instance belongs to one media thread; nothing here locks.
 */
#ifndef SYLK_CODEC_H
#define SYLK_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_CODEC_FRAME_MS    20
#define SYLK_CODEC_MAX_FRAME   960  /* samples in 20 ms at 48 kHz */
#define SYLK_CODEC_MAX_PAYLOAD 1275 /* largest opus frame, bigger than any other codec's */

struct sylk_codec_info {
    const char *name;      /* encoding name in SDP and in [rtp] audio_codecs, e.g. "G722" */
    unsigned sdp_clock;    /* clock rate written in SDP, also the RTP timestamp rate */
    unsigned sdp_channels; /* channels written in SDP (opus: 2), 1 = omitted */
    unsigned rate;         /* sample rate of the PCM the codec takes and gives */
    int static_pt;         /* static RTP payload type, or -1 for a dynamic one */
    int dynamic_pt;        /* payload type we offer when dynamic */
};

/** Every codec this build has, in no particular order, ended by a NULL name. */
extern const struct sylk_codec_info sylk_codecs[];

/** A codec by SDP encoding name and clock ("speex", 16000); case-insensitive; NULL if none. */
const struct sylk_codec_info *sylk_codec_lookup(const char *name, unsigned sdp_clock);

/** True when `name` names codecs of this build (a value of [rtp] audio_codecs). */
bool sylk_codec_name_known(const char *name);

/** Options negotiated in fmtp (opus, RFC 7587). Zero values mean the codec's defaults. */
struct sylk_codec_options {
    bool fec;                   /* useinbandfec=1: encode with in-band FEC */
    unsigned max_playback_rate; /* maxplaybackrate: limits the encoded bandwidth */
    unsigned bitrate;           /* maxaveragebitrate, bits per second */
    /* Not negotiated: the server's [rtp] opus_complexity, the opus encoder's complexity + 1
     * (1-11 for 0-10); 0 leaves libopus's own default (9). */
    unsigned complexity;
};

/** Field by field (a memcmp would also compare padding). */
bool sylk_codec_options_equal(const struct sylk_codec_options *a,
                              const struct sylk_codec_options *b);

struct sylk_codec;

/** A new encoder/decoder pair; NULL on failure (logged). */
struct sylk_codec *sylk_codec_new(const struct sylk_codec_info *info,
                                  const struct sylk_codec_options *options);
void sylk_codec_free(struct sylk_codec *codec);
const struct sylk_codec_info *sylk_codec_info(const struct sylk_codec *codec);

/** Samples in one 20 ms frame at the codec's rate. */
unsigned sylk_codec_frame_samples(const struct sylk_codec *codec);

/** Encodes one frame of `frame_samples` samples; returns payload bytes or a negative errno. */
int sylk_codec_encode(struct sylk_codec *codec, const int16_t *pcm, uint8_t *out, size_t size);

/** Decodes one payload into `pcm` (room for max samples); returns samples or negative. */
int sylk_codec_decode(struct sylk_codec *codec, const uint8_t *payload, size_t len, int16_t *pcm,
                      size_t max);

/**
 * A lost frame rebuilt from the in-band FEC of the packet that follows it (`next`, which is
 * then decoded normally in its turn): opus only; -ENOTSUP for the other codecs.
 */
int sylk_codec_recover(struct sylk_codec *codec, const uint8_t *next, size_t len, int16_t *pcm,
                       size_t max);

/** One frame in place of a lost packet; returns samples (a frame). */
int sylk_codec_conceal(struct sylk_codec *codec, int16_t *pcm, size_t max);

#endif
