/*
 * player.c — WAV and tone prompts. See player.h.
 */
#define G_LOG_DOMAIN "sylk-media"
#include "player.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <speex/speex_resampler.h>
#include <string.h>

#define TONE_AMPLITUDE 8000.0 /* about -12 dBFS */
#define TONE_RATE      48000

struct sylk_player {
    /* a WAV file: mono PCM at `rate` */
    int16_t *pcm;
    size_t count, pos;
    unsigned rate;
    SpeexResamplerState *resampler;
    unsigned resampler_out;
    /* a tone when pcm is NULL */
    double freq, phase;
    uint64_t remaining_us;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

struct wav_format {
    unsigned channels, rate, bits;
    const uint8_t *data;
    size_t data_len;
};

static int wav_fail(char **error, const char *why)
{
    *error = g_strdup(why);
    return -EINVAL;
}

/* Walks the RIFF chunks for "fmt " and "data". */
static int wav_parse(const uint8_t *d, size_t len, struct wav_format *f, char **error)
{
    if (len < 12 || memcmp(d, "RIFF", 4) != 0 || memcmp(d + 8, "WAVE", 4) != 0)
        return wav_fail(error, "not a RIFF/WAVE file");
    bool have_fmt = false;
    for (size_t off = 12; off + 8 <= len;) {
        uint32_t size = le32(d + off + 4);
        const uint8_t *body = d + off + 8;
        size_t avail = len - off - 8;
        if (memcmp(d + off, "fmt ", 4) == 0) {
            if (size < 16 || avail < 16)
                return wav_fail(error, "truncated fmt chunk");
            unsigned format = le16(body);
            if (format != 1 &&
                !(format == 0xFFFE && size >= 40 && avail >= 26 && le16(body + 24) == 1))
                return wav_fail(error, "only PCM WAV files are supported");
            f->channels = le16(body + 2);
            f->rate = le32(body + 4);
            f->bits = le16(body + 14);
            have_fmt = true;
        } else if (memcmp(d + off, "data", 4) == 0) {
            if (!have_fmt)
                return wav_fail(error, "data chunk before fmt chunk");
            f->data = body;
            f->data_len = MIN((size_t)size, avail); /* a truncated file plays what it has */
            break;
        }
        if (size > avail)
            return wav_fail(error, "chunk larger than the file");
        off += 8 + (size_t)size + (size & 1);
    }
    if (!f->data)
        return wav_fail(error, "no data chunk");
    if (f->channels < 1 || f->channels > 2)
        return wav_fail(error, "only mono or stereo WAV files are supported");
    if (f->bits != 16 && f->bits != 8)
        return wav_fail(error, "only 8- or 16-bit samples are supported");
    if (f->rate < 8000 || f->rate > 48000)
        return wav_fail(error, "sample rate outside 8000..48000 Hz");
    return 0;
}

int sylk_player_new_wav_data(const uint8_t *data, size_t len, struct sylk_player **out,
                             char **error)
{
    struct wav_format f = {0};
    int rc = wav_parse(data, len, &f, error);
    if (rc < 0)
        return rc;
    size_t frame_bytes = f.channels * (f.bits / 8);
    size_t count = f.data_len / frame_bytes;
    if (count == 0)
        return wav_fail(error, "no samples");
    struct sylk_player *p = g_new0(struct sylk_player, 1);
    p->pcm = g_new(int16_t, count);
    p->count = count;
    p->rate = f.rate;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *s = f.data + i * frame_bytes;
        int sum = 0;
        for (unsigned c = 0; c < f.channels; c++) {
            sum += f.bits == 16 ? (int16_t)le16(s + 2 * c) : ((int)s[c] - 128) * 256;
        }
        p->pcm[i] = (int16_t)(sum / (int)f.channels);
    }
    *out = p;
    return 0;
}

int sylk_player_new_wav(const char *path, struct sylk_player **out, char **error)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GMappedFile) file = g_mapped_file_new(path, FALSE, &err);
    if (!file) {
        *error = g_strdup(err->message);
        return err->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
    }
    size_t len = g_mapped_file_get_length(file);
    if (len > SYLK_PLAYER_MAX_BYTES) {
        *error = g_strdup_printf("larger than %u MiB", SYLK_PLAYER_MAX_BYTES >> 20);
        return -EFBIG;
    }
    return sylk_player_new_wav_data((const uint8_t *)g_mapped_file_get_contents(file), len, out,
                                    error);
}

struct sylk_player *sylk_player_new_tone(unsigned freq_hz, unsigned duration_ms)
{
    if (freq_hz < 20 || freq_hz > 20000 || duration_ms == 0 ||
        duration_ms > SYLK_PLAYER_MAX_TONE_MS)
        return NULL;
    struct sylk_player *p = g_new0(struct sylk_player, 1);
    p->rate = TONE_RATE;
    p->freq = freq_hz;
    p->remaining_us = (uint64_t)duration_ms * 1000;
    return p;
}

void sylk_player_free(struct sylk_player *p)
{
    if (!p)
        return;
    if (p->resampler)
        speex_resampler_destroy(p->resampler);
    g_free(p->pcm);
    g_free(p);
}

unsigned sylk_player_rate(const struct sylk_player *p)
{
    return p->rate;
}

static int16_t saturate(int v)
{
    return (int16_t)CLAMP(v, INT16_MIN, INT16_MAX);
}

static bool tone_mix(struct sylk_player *p, int16_t *pcm, unsigned rate, unsigned samples)
{
    if (p->remaining_us == 0)
        return false;
    uint64_t left = p->remaining_us * rate / 1000000;
    unsigned n = (unsigned)MIN((uint64_t)samples, left);
    double step = 2 * G_PI * p->freq / rate;
    for (unsigned i = 0; i < n; i++) {
        pcm[i] = saturate(pcm[i] + (int)lrint(TONE_AMPLITUDE * sin(p->phase)));
        p->phase = fmod(p->phase + step, 2 * G_PI);
    }
    uint64_t used = (uint64_t)samples * 1000000 / rate;
    p->remaining_us = used >= p->remaining_us ? 0 : p->remaining_us - used;
    return n > 0;
}

bool sylk_player_mix(struct sylk_player *p, int16_t *pcm, unsigned rate, unsigned samples)
{
    if (!p->pcm)
        return tone_mix(p, pcm, rate, samples);
    if (p->pos >= p->count)
        return false;
    int16_t buf[960 * 2];
    samples = MIN(samples, (unsigned)G_N_ELEMENTS(buf));
    const int16_t *src = p->pcm + p->pos;
    spx_uint32_t in_len = (spx_uint32_t)(p->count - p->pos), out_len = samples;
    if (rate == p->rate) {
        out_len = MIN(in_len, out_len);
        memcpy(buf, src, out_len * sizeof(int16_t));
        in_len = out_len;
    } else {
        if (!p->resampler || p->resampler_out != rate) {
            if (p->resampler)
                speex_resampler_destroy(p->resampler);
            p->resampler = speex_resampler_init(1, p->rate, rate, 3, NULL);
            p->resampler_out = rate;
        }
        if (!p->resampler)
            return false;
        speex_resampler_process_int(p->resampler, 0, src, &in_len, buf, &out_len);
    }
    p->pos += in_len;
    for (unsigned i = 0; i < out_len; i++)
        pcm[i] = saturate(pcm[i] + buf[i]);
    return out_len > 0 || p->pos < p->count;
}
