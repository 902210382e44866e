/*
 * Unit tests for core/media/player.c: WAV files built in memory (a small RIFF writer below)
 * parsed, played at their own rate sample for sample and resampled keeping their pitch and
 * length, downmixed and widened from 8 bits; malformed files refused with a reason; tones
 * timed to the frame and mixed with saturation.
 */
#include "media/player.h"

#include "audio_check.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#define WAV_FORMAT_PCM        1
#define WAV_FORMAT_FLOAT      3
#define WAV_FORMAT_EXTENSIBLE 0xFFFE
#define AMPLITUDE             10000.0

/* ------------------------------------------------------------- a RIFF writer --- */

static void put_le16(GByteArray *b, unsigned v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    g_byte_array_append(b, x, sizeof(x));
}

static void put_le32(GByteArray *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    g_byte_array_append(b, x, sizeof(x));
}

/* "RIFF", its size (patched by riff_finish) and the form type. */
static GByteArray *riff_new(const char *magic, const char *form)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, (const guint8 *)magic, 4);
    put_le32(b, 0);
    g_byte_array_append(b, (const guint8 *)form, 4);
    return b;
}

static GByteArray *riff_finish(GByteArray *b)
{
    uint32_t size = b->len - 8;
    for (int i = 0; i < 4; i++)
        b->data[4 + i] = (uint8_t)(size >> (8 * i));
    return b;
}

/* A chunk whose header claims `declared` bytes: its real length but for the malformed cases. */
static void chunk(GByteArray *b, const char *id, const void *body, size_t len, uint32_t declared)
{
    g_byte_array_append(b, (const guint8 *)id, 4);
    put_le32(b, declared);
    g_byte_array_append(b, body, (guint)len);
    static const uint8_t pad = 0;
    if (len & 1) /* RIFF pads chunks to an even length */
        g_byte_array_append(b, &pad, 1);
}

static void fmt_chunk(GByteArray *b, unsigned format, unsigned channels, unsigned rate,
                      unsigned bits)
{
    GByteArray *f = g_byte_array_new();
    put_le16(f, format);
    put_le16(f, channels);
    put_le32(f, rate);
    put_le32(f, rate * channels * bits / 8); /* bytes per second */
    put_le16(f, channels * bits / 8);        /* block align */
    put_le16(f, bits);
    if (format == WAV_FORMAT_EXTENSIBLE) {
        static const uint8_t pcm_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                  0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
        put_le16(f, 22);   /* cbSize */
        put_le16(f, bits); /* valid bits */
        put_le32(f, 0);    /* channel mask */
        put_le16(f, WAV_FORMAT_PCM);
        g_byte_array_append(f, pcm_guid_tail, sizeof(pcm_guid_tail));
    }
    chunk(b, "fmt ", f->data, f->len, f->len);
    g_byte_array_unref(f);
}

/* A well-formed file: fmt then data. */
static GByteArray *wav_new(unsigned format, unsigned channels, unsigned rate, unsigned bits,
                           const void *data, size_t len)
{
    GByteArray *b = riff_new("RIFF", "WAVE");
    fmt_chunk(b, format, channels, rate, bits);
    chunk(b, "data", data, len, (uint32_t)len);
    return riff_finish(b);
}

/* 16-bit little-endian samples, whatever the host's byte order. */
static GByteArray *pcm16_bytes(const int16_t *x, size_t n)
{
    GByteArray *b = g_byte_array_new();
    for (size_t i = 0; i < n; i++)
        put_le16(b, (uint16_t)x[i]);
    return b;
}

static GByteArray *wav_pcm16(unsigned channels, unsigned rate, const int16_t *x, size_t n)
{
    GByteArray *data = pcm16_bytes(x, n);
    GByteArray *wav = wav_new(WAV_FORMAT_PCM, channels, rate, 16, data->data, data->len);
    g_byte_array_unref(data);
    return wav;
}

/* --------------------------------------------------------------- helpers --- */

static struct sylk_player *load(GByteArray *wav)
{
    struct sylk_player *p = NULL;
    char *error = NULL;
    int rc = sylk_player_new_wav_data(wav->data, wav->len, &p, &error);
    if (rc < 0)
        g_test_message("refused: %s", error);
    g_assert_cmpint(rc, ==, 0);
    g_assert_null(error);
    g_assert_nonnull(p);
    g_byte_array_unref(wav);
    return p;
}

/* A 1 kHz sine at 8000 Hz starting off a zero crossing, so every sign change is a real one. */
static int16_t *sine_1k(size_t n)
{
    int16_t *x = g_new(int16_t, n);
    double phase = 0.3;
    audio_sine(x, n, 1000, 8000, AMPLITUDE, &phase);
    return x;
}

/*
 * Plays p out at `rate` in 20 ms frames into silence, at most max_frames; `*frames` counts the
 * calls that returned true.
 */
static int16_t *play_out(struct sylk_player *p, unsigned rate, unsigned max_frames,
                         unsigned *frames)
{
    unsigned frame = rate / 50;
    int16_t *out = g_new0(int16_t, (size_t)frame * (max_frames + 1));
    unsigned f = 0;
    while (f < max_frames && sylk_player_mix(p, out + (size_t)f * frame, rate, frame))
        f++;
    *frames = f;
    /* Played out: later calls add nothing and keep saying so. */
    int16_t after[960] = {0};
    g_assert_false(sylk_player_mix(p, after, rate, frame));
    for (unsigned i = 0; i < frame; i++)
        g_assert_cmpint(after[i], ==, 0);
    return out;
}

static double rms(const int16_t *x, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return sqrt(e / n);
}

/* ---------------------------------------------------------------- WAV files --- */

static void wav_same_rate_exact(void)
{
    const size_t n = 8000; /* one second */
    g_autofree int16_t *in = sine_1k(n);
    struct sylk_player *p = load(wav_pcm16(1, 8000, in, n));
    g_assert_cmpuint(sylk_player_rate(p), ==, 8000);
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 100, &frames);
    g_assert_cmpuint(frames, ==, 50);
    g_assert_cmpmem(out, n * sizeof(int16_t), in, n * sizeof(int16_t));
    sylk_player_free(p);
}

static void wav_resampled(gconstpointer data)
{
    unsigned rate = GPOINTER_TO_UINT(data), frame = rate / 50;
    const size_t n = 8000;
    g_autofree int16_t *in = sine_1k(n);
    struct sylk_player *p = load(wav_pcm16(1, 8000, in, n));
    unsigned frames;
    g_autofree int16_t *out = play_out(p, rate, 100, &frames);
    /* One second of sound: rate samples, give or take the last, partly filled, frame. */
    g_test_message("%u Hz: %u frames", rate, frames);
    g_assert_cmpint(labs((long)frames * frame - (long)rate), <=, (long)frame);
    /* The middle, away from the filter's start-up and the end: same pitch, same level. */
    const int16_t *mid = out + rate / 10;
    size_t len = rate * 8 / 10;
    double f = audio_zero_crossing_freq(mid, len, rate);
    g_test_message("%u Hz: %.1f Hz, rms %.0f", rate, f, rms(mid, len));
    g_assert_cmpfloat_with_epsilon(f, 1000, 10);
    g_assert_cmpfloat_with_epsilon(rms(mid, len), AMPLITUDE / G_SQRT2, AMPLITUDE / G_SQRT2 * 0.1);
    sylk_player_free(p);
}

static void wav_stereo_downmix(void)
{
    const size_t n = 800;
    g_autofree int16_t *x = sine_1k(n);
    g_autofree int16_t *same = g_new(int16_t, 2 * n), *opposite = g_new(int16_t, 2 * n);
    for (size_t i = 0; i < n; i++) {
        same[2 * i] = same[2 * i + 1] = x[i];
        opposite[2 * i] = x[i];
        opposite[2 * i + 1] = (int16_t)-x[i];
    }
    unsigned frames;
    struct sylk_player *p = load(wav_pcm16(2, 8000, same, 2 * n));
    g_autofree int16_t *out = play_out(p, 8000, 10, &frames);
    g_assert_cmpuint(frames, ==, 5);
    g_assert_cmpmem(out, n * sizeof(int16_t), x, n * sizeof(int16_t));
    sylk_player_free(p);

    p = load(wav_pcm16(2, 8000, opposite, 2 * n));
    g_autofree int16_t *cancelled = play_out(p, 8000, 10, &frames);
    g_assert_cmpuint(frames, ==, 5);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpint(cancelled[i], ==, 0);
    sylk_player_free(p);
}

static void wav_8bit_unsigned(void)
{
    /* 8-bit WAV samples are unsigned around 128; they widen to 16 bits by a factor of 256. */
    static const uint8_t levels[] = {0, 1, 64, 127, 128, 129, 192, 255};
    uint8_t data[160];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = levels[i % G_N_ELEMENTS(levels)];
    struct sylk_player *p = load(wav_new(WAV_FORMAT_PCM, 1, 8000, 8, data, sizeof(data)));
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 10, &frames);
    g_assert_cmpuint(frames, ==, 1);
    for (size_t i = 0; i < sizeof(data); i++)
        g_assert_cmpint(out[i], ==, ((int)data[i] - 128) * 256);
    g_assert_cmpint(out[0], ==, INT16_MIN);
    sylk_player_free(p);
}

static void wav_extensible_pcm(void)
{
    int16_t x[160];
    for (size_t i = 0; i < G_N_ELEMENTS(x); i++)
        x[i] = (int16_t)(i * 100);
    GByteArray *data = pcm16_bytes(x, G_N_ELEMENTS(x));
    struct sylk_player *p =
        load(wav_new(WAV_FORMAT_EXTENSIBLE, 1, 8000, 16, data->data, data->len));
    g_byte_array_unref(data);
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 10, &frames);
    g_assert_cmpuint(frames, ==, 1);
    g_assert_cmpmem(out, sizeof(x), x, sizeof(x));
    sylk_player_free(p);
}

/* A truncated download or copy: the data chunk claims more than the file holds. */
static void wav_truncated_data_plays(void)
{
    int16_t x[100];
    for (size_t i = 0; i < G_N_ELEMENTS(x); i++)
        x[i] = (int16_t)(1000 - 20 * (int)i);
    GByteArray *data = pcm16_bytes(x, G_N_ELEMENTS(x));
    GByteArray *wav = riff_new("RIFF", "WAVE");
    fmt_chunk(wav, WAV_FORMAT_PCM, 1, 8000, 16);
    chunk(wav, "data", data->data, data->len, 16000);
    g_byte_array_unref(data);
    struct sylk_player *p = load(riff_finish(wav));
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 10, &frames);
    g_assert_cmpuint(frames, ==, 1);
    g_assert_cmpmem(out, sizeof(x), x, sizeof(x));
    for (size_t i = G_N_ELEMENTS(x); i < 160; i++)
        g_assert_cmpint(out[i], ==, 0);
    sylk_player_free(p);
}

/* Chunks the parser does not know (LIST, fact) are walked over, odd sizes padded. */
static void wav_other_chunks_skipped(void)
{
    int16_t x[160] = {[0] = 1234, [159] = -4321};
    GByteArray *data = pcm16_bytes(x, G_N_ELEMENTS(x));
    GByteArray *wav = riff_new("RIFF", "WAVE");
    chunk(wav, "LIST", "INFOabc", 7, 7);
    fmt_chunk(wav, WAV_FORMAT_PCM, 1, 8000, 16);
    chunk(wav, "fact", "\x01\x02\x03\x04", 4, 4);
    chunk(wav, "data", data->data, data->len, data->len);
    g_byte_array_unref(data);
    struct sylk_player *p = load(riff_finish(wav));
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 10, &frames);
    g_assert_cmpuint(frames, ==, 1);
    g_assert_cmpmem(out, sizeof(x), x, sizeof(x));
    sylk_player_free(p);
}

static void assert_refused(GByteArray *wav, const char *what)
{
    struct sylk_player *p = NULL;
    char *error = NULL;
    int rc = sylk_player_new_wav_data(wav->data, wav->len, &p, &error);
    g_test_message("%s: %d (%s)", what, rc, error ? error : "no reason");
    g_assert_cmpint(rc, <, 0);
    g_assert_nonnull(error);
    g_assert_cmpuint(strlen(error), >, 0);
    g_assert_null(p);
    g_free(error);
    g_byte_array_unref(wav);
}

static GByteArray *wav_with_fmt(unsigned format, unsigned channels, unsigned rate, unsigned bits)
{
    static const uint8_t data[240] = {0};
    return wav_new(format, channels, rate, bits, data, sizeof(data));
}

static void wav_refused(void)
{
    static const uint8_t samples[320] = {0};
    assert_refused(g_byte_array_new(), "empty");
    assert_refused(riff_finish(riff_new("RIFF", "WAV")), "shorter than a RIFF header");

    GByteArray *b = riff_new("RIFX", "WAVE");
    fmt_chunk(b, WAV_FORMAT_PCM, 1, 8000, 16);
    chunk(b, "data", samples, sizeof(samples), sizeof(samples));
    assert_refused(riff_finish(b), "not RIFF");

    b = riff_new("RIFF", "AVI ");
    fmt_chunk(b, WAV_FORMAT_PCM, 1, 8000, 16);
    chunk(b, "data", samples, sizeof(samples), sizeof(samples));
    assert_refused(riff_finish(b), "not WAVE");

    assert_refused(wav_with_fmt(WAV_FORMAT_FLOAT, 1, 8000, 32), "float samples");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 1, 8000, 24), "24-bit");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 1, 8000, 12), "12-bit");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 3, 8000, 16), "3 channels");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 0, 8000, 16), "no channels");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 1, 4000, 16), "4000 Hz");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 1, 7999, 16), "7999 Hz");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 1, 48001, 16), "48001 Hz");
    assert_refused(wav_with_fmt(WAV_FORMAT_PCM, 1, 96000, 16), "96000 Hz");

    b = riff_new("RIFF", "WAVE");
    fmt_chunk(b, WAV_FORMAT_PCM, 1, 8000, 16);
    assert_refused(riff_finish(b), "no data chunk");

    b = riff_new("RIFF", "WAVE");
    chunk(b, "data", samples, sizeof(samples), sizeof(samples));
    fmt_chunk(b, WAV_FORMAT_PCM, 1, 8000, 16);
    assert_refused(riff_finish(b), "data before fmt");

    b = riff_new("RIFF", "WAVE");
    chunk(b, "fmt ", "\x01\x00\x01\x00\x40\x1f\x00\x00", 8, 8);
    chunk(b, "data", samples, sizeof(samples), sizeof(samples));
    assert_refused(riff_finish(b), "fmt chunk too short");

    b = riff_new("RIFF", "WAVE");
    fmt_chunk(b, WAV_FORMAT_PCM, 1, 8000, 16);
    chunk(b, "LIST", "INFO", 4, 100000); /* claims more than the file, before the data */
    chunk(b, "data", samples, sizeof(samples), sizeof(samples));
    assert_refused(riff_finish(b), "chunk larger than the file");

    b = riff_new("RIFF", "WAVE");
    fmt_chunk(b, WAV_FORMAT_PCM, 1, 8000, 16);
    chunk(b, "data", samples, 1, 1); /* half a sample */
    assert_refused(riff_finish(b), "no whole sample");
}

static void wav_from_file(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-player-XXXXXX", &err);
    g_assert_no_error(err);
    g_autofree char *path = g_build_filename(dir, "prompt.wav", NULL);
    const size_t n = 1600;
    g_autofree int16_t *x = sine_1k(n);
    GByteArray *wav = wav_pcm16(1, 8000, x, n);
    g_file_set_contents(path, (const char *)wav->data, wav->len, &err);
    g_assert_no_error(err);
    g_byte_array_unref(wav);

    struct sylk_player *p = NULL;
    char *error = NULL;
    g_assert_cmpint(sylk_player_new_wav(path, &p, &error), ==, 0);
    g_assert_null(error);
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 20, &frames);
    g_assert_cmpuint(frames, ==, 10);
    g_assert_cmpmem(out, n * sizeof(int16_t), x, n * sizeof(int16_t));
    sylk_player_free(p);
    g_assert_cmpint(g_unlink(path), ==, 0);

    p = NULL;
    g_assert_cmpint(sylk_player_new_wav(path, &p, &error), ==, -ENOENT);
    g_assert_nonnull(error);
    g_assert_null(p);
    g_free(error);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* -------------------------------------------------------------------- tones --- */

static void tone_arguments(void)
{
    g_assert_null(sylk_player_new_tone(0, 100));
    g_assert_null(sylk_player_new_tone(19, 100));
    g_assert_null(sylk_player_new_tone(20001, 100));
    g_assert_null(sylk_player_new_tone(440, 0));
    g_assert_null(sylk_player_new_tone(440, SYLK_PLAYER_MAX_TONE_MS + 1));
    struct sylk_player *limits[] = {
        sylk_player_new_tone(20, 1),
        sylk_player_new_tone(20000, SYLK_PLAYER_MAX_TONE_MS),
    };
    for (size_t i = 0; i < G_N_ELEMENTS(limits); i++) {
        g_assert_nonnull(limits[i]);
        g_assert_cmpuint(sylk_player_rate(limits[i]), ==, 48000);
        sylk_player_free(limits[i]);
    }
    sylk_player_free(NULL);
}

static void tone_duration_and_pitch(void)
{
    struct sylk_player *p = sylk_player_new_tone(440, 100);
    unsigned frames;
    g_autofree int16_t *out = play_out(p, 8000, 20, &frames);
    g_assert_cmpuint(frames, ==, 5);
    g_assert_cmpfloat_with_epsilon(audio_zero_crossing_freq(out, 800, 8000), 440, 10);
    g_assert_cmpfloat_with_epsilon(rms(out, 800), 8000 / G_SQRT2, 8000 / G_SQRT2 * 0.05);
    for (size_t i = 800; i < 960; i++) /* nothing after the 100 ms */
        g_assert_cmpint(out[i], ==, 0);
    sylk_player_free(p);

    /* The same tone at the wideband rate: the same five frames. */
    p = sylk_player_new_tone(440, 100);
    g_autofree int16_t *wide = play_out(p, 16000, 20, &frames);
    g_assert_cmpuint(frames, ==, 5);
    g_assert_cmpfloat_with_epsilon(audio_zero_crossing_freq(wide, 1600, 16000), 440, 10);
    sylk_player_free(p);
}

/* A prompt over loud audio clips instead of wrapping around to the other sign. */
static void tone_saturates(void)
{
    struct sylk_player *p = sylk_player_new_tone(1000, 20);
    int16_t hi[160], lo[160], tone[160] = {0};
    struct sylk_player *ref = sylk_player_new_tone(1000, 20);
    g_assert_true(sylk_player_mix(ref, tone, 8000, 160));
    sylk_player_free(ref);
    for (size_t i = 0; i < 160; i++) {
        hi[i] = 32000;
        lo[i] = -32000;
    }
    g_assert_true(sylk_player_mix(p, hi, 8000, 160));
    sylk_player_free(p);
    p = sylk_player_new_tone(1000, 20);
    g_assert_true(sylk_player_mix(p, lo, 8000, 160));
    sylk_player_free(p);
    for (size_t i = 0; i < 160; i++) {
        g_assert_cmpint(hi[i], ==, CLAMP(32000 + tone[i], INT16_MIN, INT16_MAX));
        g_assert_cmpint(lo[i], ==, CLAMP(-32000 + tone[i], INT16_MIN, INT16_MAX));
        if (tone[i] > 0)
            g_assert_cmpint(hi[i], >=, 32000);
        if (tone[i] < 0)
            g_assert_cmpint(lo[i], <=, -32000);
    }
    g_assert_cmpint(hi[2], ==, INT16_MAX); /* the tone's peak at 1 kHz / 8 kHz is sample 2 */
    g_assert_cmpint(lo[6], ==, INT16_MIN);
}

static void wav_saturates(void)
{
    int16_t x[160], pcm[160];
    for (size_t i = 0; i < 160; i++) {
        x[i] = (i & 1) ? 20000 : -20000;
        pcm[i] = (i & 1) ? 20000 : -20000;
    }
    struct sylk_player *p = load(wav_pcm16(1, 8000, x, 160));
    g_assert_true(sylk_player_mix(p, pcm, 8000, 160));
    for (size_t i = 0; i < 160; i++)
        g_assert_cmpint(pcm[i], ==, (i & 1) ? INT16_MAX : INT16_MIN);
    sylk_player_free(p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/player/wav/same-rate-exact", wav_same_rate_exact);
    g_test_add_data_func("/player/wav/resampled-16000", GUINT_TO_POINTER(16000), wav_resampled);
    g_test_add_data_func("/player/wav/resampled-48000", GUINT_TO_POINTER(48000), wav_resampled);
    g_test_add_func("/player/wav/stereo-downmix", wav_stereo_downmix);
    g_test_add_func("/player/wav/8-bit-unsigned", wav_8bit_unsigned);
    g_test_add_func("/player/wav/extensible-pcm", wav_extensible_pcm);
    g_test_add_func("/player/wav/truncated-data-plays", wav_truncated_data_plays);
    g_test_add_func("/player/wav/other-chunks-skipped", wav_other_chunks_skipped);
    g_test_add_func("/player/wav/refused", wav_refused);
    g_test_add_func("/player/wav/file", wav_from_file);
    g_test_add_func("/player/wav/saturates", wav_saturates);
    g_test_add_func("/player/tone/arguments", tone_arguments);
    g_test_add_func("/player/tone/duration-and-pitch", tone_duration_and_pitch);
    g_test_add_func("/player/tone/saturates", tone_saturates);
    return g_test_run();
}
