/*
 * codec.c — codec implementations behind codec.h. One vtable per family; the generic
 * repeat-and-fade concealment for codecs without a PLC of their own lives here too.
 */
#define G_LOG_DOMAIN "sylk-codec"
#include "media/codec.h"

#include <errno.h>
#include <glib.h>
#include <opus.h>
#include <spandsp.h>
#include <speex/speex.h>
#include <string.h>

const struct sylk_codec_info sylk_codecs[] = {
    {"PCMU", 8000, 1, 8000, 0, 0},
    {"PCMA", 8000, 1, 8000, 8, 8},
    {"G722", 8000, 1, 16000, 9, 9}, /* RFC 3551: 8000 in SDP and RTP, 16 kHz audio */
    {"speex", 16000, 1, 16000, -1, 97},
    {"speex", 8000, 1, 8000, -1, 98},
    {"opus", 48000, 2, 48000, -1, 111}, /* RFC 7587: always 48000/2 in SDP */
    {NULL, 0, 0, 0, -1, -1},
};

const struct sylk_codec_info *sylk_codec_lookup(const char *name, unsigned sdp_clock)
{
    for (const struct sylk_codec_info *c = sylk_codecs; c->name; c++) {
        if (g_ascii_strcasecmp(c->name, name) == 0 && c->sdp_clock == sdp_clock)
            return c;
    }
    return NULL;
}

bool sylk_codec_name_known(const char *name)
{
    for (const struct sylk_codec_info *c = sylk_codecs; c->name; c++) {
        if (g_ascii_strcasecmp(c->name, name) == 0)
            return true;
    }
    return false;
}

struct family {
    bool (*init)(struct sylk_codec *c, const struct sylk_codec_options *o);
    void (*fini)(struct sylk_codec *c);
    int (*encode)(struct sylk_codec *c, const int16_t *pcm, uint8_t *out, size_t size);
    int (*decode)(struct sylk_codec *c, const uint8_t *in, size_t len, int16_t *pcm, size_t max);
    int (*conceal)(struct sylk_codec *c, int16_t *pcm, size_t max); /* NULL: repeat and fade */
    /* a lost frame from the in-band FEC of the packet after it; NULL: none */
    int (*recover)(struct sylk_codec *c, const uint8_t *next, size_t len, int16_t *pcm);
};

struct sylk_codec {
    const struct sylk_codec_info *info;
    const struct family *family;
    unsigned frame; /* samples per 20 ms */
    union {
        struct {
            g711_state_t *enc, *dec;
        } g711;
        struct {
            g722_encode_state_t *enc;
            g722_decode_state_t *dec;
        } g722;
        struct {
            void *enc, *dec;
            SpeexBits enc_bits, dec_bits;
        } speex;
        struct {
            OpusEncoder *enc;
            OpusDecoder *dec;
        } opus;
    } u;
    /* repeat-and-fade concealment */
    int16_t last[SYLK_CODEC_MAX_FRAME];
    unsigned losses;
};

/* ------------------------------------------------------------------------- G.711 --- */

static bool g711_start(struct sylk_codec *c, const struct sylk_codec_options *o)
{
    (void)o;
    int mode = c->info->static_pt == 0 ? G711_ULAW : G711_ALAW;
    c->u.g711.enc = g711_init(NULL, mode);
    c->u.g711.dec = g711_init(NULL, mode);
    return c->u.g711.enc && c->u.g711.dec;
}

static void g711_stop(struct sylk_codec *c)
{
    if (c->u.g711.enc)
        g711_free(c->u.g711.enc);
    if (c->u.g711.dec)
        g711_free(c->u.g711.dec);
}

static int g711_enc(struct sylk_codec *c, const int16_t *pcm, uint8_t *out, size_t size)
{
    if (size < c->frame)
        return -ENOSPC;
    return g711_encode(c->u.g711.enc, out, pcm, (int)c->frame);
}

static int g711_dec(struct sylk_codec *c, const uint8_t *in, size_t len, int16_t *pcm, size_t max)
{
    if (len > max)
        return -ENOSPC;
    return g711_decode(c->u.g711.dec, pcm, in, (int)len);
}

static const struct family g711_family = {g711_start, g711_stop, g711_enc, g711_dec, NULL, NULL};

/* ------------------------------------------------------------------------- G.722 --- */

static bool g722_start(struct sylk_codec *c, const struct sylk_codec_options *o)
{
    (void)o;
    c->u.g722.enc = g722_encode_init(NULL, 64000, 0);
    c->u.g722.dec = g722_decode_init(NULL, 64000, 0);
    return c->u.g722.enc && c->u.g722.dec;
}

static void g722_stop(struct sylk_codec *c)
{
    if (c->u.g722.enc)
        g722_encode_free(c->u.g722.enc);
    if (c->u.g722.dec)
        g722_decode_free(c->u.g722.dec);
}

static int g722_enc(struct sylk_codec *c, const int16_t *pcm, uint8_t *out, size_t size)
{
    if (size < c->frame / 2)
        return -ENOSPC;
    return g722_encode(c->u.g722.enc, out, pcm, (int)c->frame);
}

static int g722_dec(struct sylk_codec *c, const uint8_t *in, size_t len, int16_t *pcm, size_t max)
{
    if (len * 2 > max)
        return -ENOSPC;
    return g722_decode(c->u.g722.dec, pcm, in, (int)len);
}

static const struct family g722_family = {g722_start, g722_stop, g722_enc, g722_dec, NULL, NULL};

/* ------------------------------------------------------------------------- speex --- */

static bool speex_start(struct sylk_codec *c, const struct sylk_codec_options *o)
{
    (void)o;
    const SpeexMode *mode = c->info->rate == 16000 ? &speex_wb_mode : &speex_nb_mode;
    c->u.speex.enc = speex_encoder_init(mode);
    c->u.speex.dec = speex_decoder_init(mode);
    if (!c->u.speex.enc || !c->u.speex.dec)
        return false;
    int quality = 8, enhance = 1;
    speex_encoder_ctl(c->u.speex.enc, SPEEX_SET_QUALITY, &quality);
    speex_decoder_ctl(c->u.speex.dec, SPEEX_SET_ENH, &enhance);
    speex_bits_init(&c->u.speex.enc_bits);
    speex_bits_init(&c->u.speex.dec_bits);
    return true;
}

static void speex_stop(struct sylk_codec *c)
{
    if (c->u.speex.enc) {
        speex_encoder_destroy(c->u.speex.enc);
        speex_bits_destroy(&c->u.speex.enc_bits);
    }
    if (c->u.speex.dec) {
        speex_decoder_destroy(c->u.speex.dec);
        speex_bits_destroy(&c->u.speex.dec_bits);
    }
}

static int speex_enc(struct sylk_codec *c, const int16_t *pcm, uint8_t *out, size_t size)
{
    int16_t frame[SYLK_CODEC_MAX_FRAME];
    memcpy(frame, pcm, c->frame * sizeof(int16_t)); /* speex_encode_int may modify its input */
    speex_bits_reset(&c->u.speex.enc_bits);
    speex_encode_int(c->u.speex.enc, frame, &c->u.speex.enc_bits);
    if ((size_t)speex_bits_nbytes(&c->u.speex.enc_bits) > size)
        return -ENOSPC;
    return speex_bits_write(&c->u.speex.enc_bits, (char *)out, (int)size);
}

static int speex_dec(struct sylk_codec *c, const uint8_t *in, size_t len, int16_t *pcm, size_t max)
{
    if (max < c->frame || len == 0 || len > SYLK_CODEC_MAX_PAYLOAD)
        return -EINVAL;
    speex_bits_read_from(&c->u.speex.dec_bits, (const char *)in, (int)len);
    if (speex_decode_int(c->u.speex.dec, &c->u.speex.dec_bits, pcm) != 0)
        return -EINVAL;
    return (int)c->frame;
}

static int speex_plc(struct sylk_codec *c, int16_t *pcm, size_t max)
{
    if (max < c->frame)
        return -ENOSPC;
    speex_decode_int(c->u.speex.dec, NULL, pcm);
    return (int)c->frame;
}

static const struct family speex_family = {speex_start, speex_stop, speex_enc,
                                           speex_dec,   speex_plc,  NULL};

/* -------------------------------------------------------------------------- opus --- */

static bool opus_start(struct sylk_codec *c, const struct sylk_codec_options *o)
{
    int err;
    c->u.opus.enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    if (err != OPUS_OK)
        return false;
    c->u.opus.dec = opus_decoder_create(48000, 1, &err);
    if (err != OPUS_OK)
        return false;
    if (o && o->fec) {
        opus_encoder_ctl(c->u.opus.enc, OPUS_SET_INBAND_FEC(1));
        opus_encoder_ctl(c->u.opus.enc, OPUS_SET_PACKET_LOSS_PERC(10));
    }
    if (o && o->complexity >= 1 && o->complexity <= 11)
        opus_encoder_ctl(c->u.opus.enc, OPUS_SET_COMPLEXITY((opus_int32)o->complexity - 1));
    if (o && o->bitrate >= 6000 && o->bitrate <= 510000)
        opus_encoder_ctl(c->u.opus.enc, OPUS_SET_BITRATE((opus_int32)o->bitrate));
    if (o && o->max_playback_rate) {
        unsigned r = o->max_playback_rate;
        int bw = r <= 8000    ? OPUS_BANDWIDTH_NARROWBAND
                 : r <= 12000 ? OPUS_BANDWIDTH_MEDIUMBAND
                 : r <= 16000 ? OPUS_BANDWIDTH_WIDEBAND
                 : r <= 24000 ? OPUS_BANDWIDTH_SUPERWIDEBAND
                              : OPUS_BANDWIDTH_FULLBAND;
        opus_encoder_ctl(c->u.opus.enc, OPUS_SET_MAX_BANDWIDTH(bw));
    }
    return true;
}

static void opus_stop(struct sylk_codec *c)
{
    if (c->u.opus.enc)
        opus_encoder_destroy(c->u.opus.enc);
    if (c->u.opus.dec)
        opus_decoder_destroy(c->u.opus.dec);
}

static int opus_enc(struct sylk_codec *c, const int16_t *pcm, uint8_t *out, size_t size)
{
    int n = opus_encode(c->u.opus.enc, pcm, (int)c->frame, out,
                        (opus_int32)MIN(size, (size_t)SYLK_CODEC_MAX_PAYLOAD));
    return n < 0 ? -EINVAL : n;
}

static int opus_dec(struct sylk_codec *c, const uint8_t *in, size_t len, int16_t *pcm, size_t max)
{
    if (len == 0 || len > SYLK_CODEC_MAX_PAYLOAD)
        return -EINVAL;
    int n = opus_decode(c->u.opus.dec, in, (opus_int32)len, pcm, (int)MIN(max, (size_t)5760), 0);
    return n < 0 ? -EINVAL : n;
}

static int opus_plc(struct sylk_codec *c, int16_t *pcm, size_t max)
{
    if (max < c->frame)
        return -ENOSPC;
    int n = opus_decode(c->u.opus.dec, NULL, 0, pcm, (int)c->frame, 0);
    return n < 0 ? -EINVAL : n;
}

/* RFC 7587 / opus: the next packet's LBRR data rebuilds the lost frame (PLC when it has none). */
static int opus_recover(struct sylk_codec *c, const uint8_t *next, size_t len, int16_t *pcm)
{
    if (len == 0 || len > SYLK_CODEC_MAX_PAYLOAD)
        return -EINVAL;
    int n = opus_decode(c->u.opus.dec, next, (opus_int32)len, pcm, (int)c->frame, 1);
    return n < 0 ? -EINVAL : n;
}

static const struct family opus_family = {opus_start, opus_stop, opus_enc,
                                          opus_dec,   opus_plc,  opus_recover};

/* ---------------------------------------------------------------------- the API --- */

static const struct family *family_of(const struct sylk_codec_info *info)
{
    if (info->static_pt == 0 || info->static_pt == 8)
        return &g711_family;
    if (info->static_pt == 9)
        return &g722_family;
    if (g_ascii_strcasecmp(info->name, "speex") == 0)
        return &speex_family;
    if (g_ascii_strcasecmp(info->name, "opus") == 0)
        return &opus_family;
    return NULL;
}

struct sylk_codec *sylk_codec_new(const struct sylk_codec_info *info,
                                  const struct sylk_codec_options *options)
{
    const struct family *f = info ? family_of(info) : NULL;
    if (!f)
        return NULL;
    struct sylk_codec *c = g_new0(struct sylk_codec, 1);
    c->info = info;
    c->family = f;
    c->frame = info->rate * SYLK_CODEC_FRAME_MS / 1000;
    if (!f->init(c, options)) {
        g_warning("cannot create a %s/%u codec", info->name, info->sdp_clock);
        sylk_codec_free(c);
        return NULL;
    }
    return c;
}

void sylk_codec_free(struct sylk_codec *codec)
{
    if (!codec)
        return;
    codec->family->fini(codec);
    g_free(codec);
}

const struct sylk_codec_info *sylk_codec_info(const struct sylk_codec *codec)
{
    return codec->info;
}

unsigned sylk_codec_frame_samples(const struct sylk_codec *codec)
{
    return codec->frame;
}

int sylk_codec_encode(struct sylk_codec *codec, const int16_t *pcm, uint8_t *out, size_t size)
{
    return codec->family->encode(codec, pcm, out, size);
}

int sylk_codec_decode(struct sylk_codec *codec, const uint8_t *payload, size_t len, int16_t *pcm,
                      size_t max)
{
    int n = codec->family->decode(codec, payload, len, pcm, max);
    if (n > 0 && !codec->family->conceal) {
        memcpy(codec->last, pcm, MIN((size_t)n, (size_t)SYLK_CODEC_MAX_FRAME) * sizeof(int16_t));
        codec->losses = 0;
    }
    return n;
}

int sylk_codec_conceal(struct sylk_codec *codec, int16_t *pcm, size_t max)
{
    if (codec->family->conceal)
        return codec->family->conceal(codec, pcm, max);
    if (max < codec->frame)
        return -ENOSPC;
    /* Repeat the last frame at half its level: each further loss halves it again. */
    for (unsigned i = 0; i < codec->frame; i++)
        pcm[i] = (int16_t)(codec->last[i] / 2);
    codec->losses++;
    memcpy(codec->last, pcm, codec->frame * sizeof(int16_t));
    return (int)codec->frame;
}

int sylk_codec_recover(struct sylk_codec *codec, const uint8_t *next, size_t len, int16_t *pcm,
                       size_t max)
{
    if (!codec->family->recover)
        return -ENOTSUP;
    if (max < codec->frame)
        return -ENOSPC;
    int n = codec->family->recover(codec, next, len, pcm);
    if (n > 0)
        memcpy(codec->last, pcm, MIN((size_t)n, (size_t)codec->frame) * sizeof(int16_t));
    return n;
}

bool sylk_codec_options_equal(const struct sylk_codec_options *a,
                              const struct sylk_codec_options *b)
{
    return a->fec == b->fec && a->max_playback_rate == b->max_playback_rate &&
           a->bitrate == b->bitrate && a->complexity == b->complexity;
}
