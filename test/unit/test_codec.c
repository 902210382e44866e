/* Unit tests for core/media/codec.c: a sine through every codec keeps its frequency and a
 * per-codec SNR; concealment produces frames; garbage payloads are refused or survived. */
#include "media/codec.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#define SECONDS 1

/* Power of `freq` in x (Goertzel). */
static double goertzel(const int16_t *x, size_t n, double freq, unsigned rate)
{
    double w = 2 * M_PI * freq / rate, c = 2 * cos(w), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - c * s1 * s2;
}

static double dominant_frequency(const int16_t *x, size_t n, unsigned rate)
{
    double best = 0, best_f = 0;
    for (double f = 100; f < rate / 2.0 - 100; f += 10) {
        double p = goertzel(x, n, f, rate);
        if (p > best) {
            best = p;
            best_f = f;
        }
    }
    return best_f;
}

/* SNR in dB of y against x delayed by the lag (up to 30 ms) that fits best. */
static double snr_db(const int16_t *x, const int16_t *y, size_t n, unsigned rate)
{
    size_t max_lag = rate * 30 / 1000, skip = rate / 10; /* ignore the codecs' start-up */
    double best = -1e9;
    for (size_t lag = 0; lag < max_lag; lag++) {
        double sig = 0, err = 0;
        for (size_t i = skip; i + lag < n; i++) {
            double a = x[i], b = y[i + lag];
            sig += a * a;
            err += (a - b) * (a - b);
        }
        double snr = 10 * log10(sig / (err + 1e-9));
        if (snr > best)
            best = snr;
    }
    return best;
}

struct expectation {
    const char *name;
    unsigned clock;
    double freq;
    double min_snr_db;
};

static void round_trip(gconstpointer data)
{
    const struct expectation *e = data;
    const struct sylk_codec_info *info = sylk_codec_lookup(e->name, e->clock);
    g_assert_nonnull(info);
    struct sylk_codec *c = sylk_codec_new(info, NULL);
    g_assert_nonnull(c);
    unsigned frame = sylk_codec_frame_samples(c);
    g_assert_cmpuint(frame, ==, info->rate / 50);
    size_t n = (size_t)info->rate * SECONDS;
    int16_t *in = g_new(int16_t, n), *out = g_new0(int16_t, n);
    for (size_t i = 0; i < n; i++)
        in[i] = (int16_t)(8000 * sin(2 * M_PI * e->freq * i / info->rate));
    size_t bytes = 0;
    for (size_t off = 0; off + frame <= n; off += frame) {
        uint8_t payload[SYLK_CODEC_MAX_PAYLOAD];
        int len = sylk_codec_encode(c, in + off, payload, sizeof(payload));
        g_assert_cmpint(len, >, 0);
        bytes += (size_t)len;
        int got = sylk_codec_decode(c, payload, (size_t)len, out + off, frame);
        g_assert_cmpint(got, ==, (int)frame);
    }
    double f = dominant_frequency(out + n / 2, n / 2, info->rate);
    double snr = snr_db(in, out, n, info->rate);
    g_test_message("%s/%u: %.0f Hz back, SNR %.1f dB, %zu bytes/s", e->name, e->clock, f, snr,
                   bytes / SECONDS);
    g_assert_cmpfloat(fabs(f - e->freq), <=, 15);
    g_assert_cmpfloat(snr, >=, e->min_snr_db);

    /* A lost packet is replaced by one frame. */
    int16_t plc[SYLK_CODEC_MAX_FRAME];
    g_assert_cmpint(sylk_codec_conceal(c, plc, G_N_ELEMENTS(plc)), ==, (int)frame);
    g_free(in);
    g_free(out);
    sylk_codec_free(c);
}

static void garbage(void)
{
    GRand *r = g_rand_new_with_seed(7);
    for (const struct sylk_codec_info *info = sylk_codecs; info->name; info++) {
        struct sylk_codec *c = sylk_codec_new(info, NULL);
        for (int i = 0; i < 200; i++) {
            uint8_t junk[200];
            size_t len = (size_t)g_rand_int_range(r, 1, sizeof(junk));
            for (size_t k = 0; k < len; k++)
                junk[k] = (uint8_t)g_rand_int(r);
            int16_t pcm[SYLK_CODEC_MAX_FRAME * 6];
            int n = sylk_codec_decode(c, junk, len, pcm, G_N_ELEMENTS(pcm));
            g_assert_cmpint(n, <=, (int)G_N_ELEMENTS(pcm));
        }
        sylk_codec_free(c);
    }
    g_rand_free(r);
}

static void lookup(void)
{
    g_assert_cmpuint(sylk_codec_lookup("g722", 8000)->rate, ==, 16000); /* RFC 3551 quirk */
    g_assert_cmpint(sylk_codec_lookup("PCMA", 8000)->static_pt, ==, 8);
    g_assert_cmpuint(sylk_codec_lookup("SPEEX", 16000)->rate, ==, 16000);
    g_assert_cmpuint(sylk_codec_lookup("opus", 48000)->sdp_channels, ==, 2);
    g_assert_null(sylk_codec_lookup("G722", 16000));
    g_assert_null(sylk_codec_lookup("G729", 8000));
    g_assert_true(sylk_codec_name_known("Speex"));
    g_assert_false(sylk_codec_name_known("AMR"));
}

static void opus_options(void)
{
    struct sylk_codec_options o = {.fec = true, .max_playback_rate = 16000, .bitrate = 24000};
    struct sylk_codec *c = sylk_codec_new(sylk_codec_lookup("opus", 48000), &o);
    g_assert_nonnull(c);
    int16_t pcm[960] = {0};
    uint8_t out[SYLK_CODEC_MAX_PAYLOAD];
    g_assert_cmpint(sylk_codec_encode(c, pcm, out, sizeof(out)), >, 0);
    sylk_codec_free(c);
}

/* [rtp] opus_complexity reaches the encoder: the same speech-like frames come out otherwise at
 * complexity 0 than at 10 (the encoder is deterministic), and the options are not equal. */
static void opus_complexity(void)
{
    const struct sylk_codec_info *info = sylk_codec_lookup("opus", 48000);
    struct sylk_codec_options low = {.complexity = 1}, high = {.complexity = 11};
    g_assert_false(sylk_codec_options_equal(&low, &high));
    struct sylk_codec *a = sylk_codec_new(info, &low), *b = sylk_codec_new(info, &high);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    int16_t pcm[960];
    uint8_t pa[SYLK_CODEC_MAX_PAYLOAD], pb[SYLK_CODEC_MAX_PAYLOAD];
    unsigned differing = 0;
    for (int f = 0; f < 10; f++) {
        for (int i = 0; i < 960; i++) {
            double t = f * 960 + i, f0 = 140 + 40 * sin(t / 9600.0), v = 0;
            for (int h = 1; h < 8; h++)
                v += sin(2 * M_PI * f0 * h * t / 48000.0) / h;
            pcm[i] = (int16_t)(5000 * v);
        }
        int na = sylk_codec_encode(a, pcm, pa, sizeof(pa)),
            nb = sylk_codec_encode(b, pcm, pb, sizeof(pb));
        g_assert_cmpint(na, >, 0);
        g_assert_cmpint(nb, >, 0);
        differing += na != nb || memcmp(pa, pb, (size_t)na) != 0;
    }
    g_assert_cmpuint(differing, >, 0);
    sylk_codec_free(a);
    sylk_codec_free(b);
}

static double frame_error(const int16_t *a, const int16_t *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return e;
}

/*
 * Opus in-band FEC: a frame lost on the way is rebuilt from the next packet's redundancy,
 * closer to what the decoder would have played than its PLC guess. Other codecs: -ENOTSUP.
 */
static void opus_fec_recovery(void)
{
    const struct sylk_codec_info *info = sylk_codec_lookup("opus", 48000);
    /* FEC (LBRR) is a SILK feature: wideband speech rates, as phones negotiate them */
    struct sylk_codec_options fec = {.fec = true, .bitrate = 24000, .max_playback_rate = 16000};
    struct sylk_codec *enc = sylk_codec_new(info, &fec), *ref = sylk_codec_new(info, &fec),
                      *rec = sylk_codec_new(info, &fec), *plc = sylk_codec_new(info, &fec);
    /* SILK codes redundancy for frames its VAD calls speech: a voiced, noisy, gliding sound
     * early in the stream (a stationary one is soon taken for background noise). */
    enum { FRAMES = 20, LOST = 12, N = 960 };
    static uint8_t packet[FRAMES][SYLK_CODEC_MAX_PAYLOAD];
    int len[FRAMES];
    int16_t pcm[N], want[N], got_rec[N], got_plc[N], scratch[N];
    uint32_t noise = 1;
    for (int f = 0; f < FRAMES; f++) {
        for (int i = 0; i < N; i++) {
            double t = f * N + i, f0 = 140 + 40 * sin(t / 9600.0), v = 0;
            for (int h = 1; h < 8; h++)
                v += sin(2 * M_PI * f0 * h * t / 48000.0) / h;
            noise = noise * 1103515245u + 12345u;
            pcm[i] = (int16_t)(5000 * v + (int)(noise >> 16) % 2000 - 1000);
        }
        len[f] = sylk_codec_encode(enc, pcm, packet[f], sizeof(packet[f]));
        g_assert_cmpint(len[f], >, 0);
    }
    for (int f = 0; f < FRAMES; f++) {
        g_assert_cmpint(
            sylk_codec_decode(ref, packet[f], (size_t)len[f], f == LOST ? want : scratch, N), ==,
            N);
        if (f == LOST) {
            g_assert_cmpint(sylk_codec_recover(rec, packet[f + 1], (size_t)len[f + 1], got_rec, N),
                            ==, N);
            g_assert_cmpint(sylk_codec_conceal(plc, got_plc, N), ==, N);
            continue;
        }
        g_assert_cmpint(sylk_codec_decode(rec, packet[f], (size_t)len[f], scratch, N), ==, N);
        g_assert_cmpint(sylk_codec_decode(plc, packet[f], (size_t)len[f], scratch, N), ==, N);
    }
    double e_rec = frame_error(want, got_rec, N), e_plc = frame_error(want, got_plc, N);
    g_test_message("lost frame error: FEC %.3g, PLC %.3g", e_rec, e_plc);
    g_assert_cmpfloat(e_rec, <, e_plc / 4);

    struct sylk_codec *pcmu = sylk_codec_new(sylk_codec_lookup("PCMU", 8000), NULL);
    uint8_t payload[160] = {0};
    g_assert_cmpint(sylk_codec_recover(pcmu, payload, sizeof(payload), pcm, N), ==, -ENOTSUP);
    sylk_codec_free(pcmu);
    sylk_codec_free(enc);
    sylk_codec_free(ref);
    sylk_codec_free(rec);
    sylk_codec_free(plc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* SNR floors a little under what each codec measured here on a 8000-amplitude sine. */
    static const struct expectation cases[] = {
        {"PCMU", 8000, 440, 35},  {"PCMA", 8000, 440, 35},    {"G722", 8000, 1000, 40},
        {"speex", 8000, 440, 20}, {"speex", 16000, 1000, 12}, {"opus", 48000, 1000, 10},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/codec/round-trip/%s-%u", cases[i].name, cases[i].clock);
        g_test_add_data_func(path, &cases[i], round_trip);
    }
    g_test_add_func("/codec/garbage", garbage);
    g_test_add_func("/codec/lookup", lookup);
    g_test_add_func("/codec/opus-options", opus_options);
    g_test_add_func("/codec/opus-complexity", opus_complexity);
    g_test_add_func("/codec/opus-fec-recovery", opus_fec_recovery);
    return g_test_run();
}
