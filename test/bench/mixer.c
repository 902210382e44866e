/*
 * test/bench/mixer — how many conference participants one core mixes in real time, per codec,
 * against the codec-only bound measured in the same run.
 *
 * Per 20 ms tick and participant, as the engine will do it: SRTP-unprotect and parse the
 * packet it sent (every participant sends, silent ones too), decode it (skipped for
 * participants whose RFC 6464 audio level says silence), mix-minus (core/media/mixcore.c) at
 * the room's rate (the codec's here, as every participant uses the same one; rooms mixing
 * codecs resample to the highest), encode, write the RTP header and SRTP-protect. Every
 * non-speaker hears the same mix: it is resampled and encoded once per tick and only
 * protected per participant. Speakers' input is pre-encoded speech-level tones.
 *
 * The bound is the codec alone: one decode plus one encode per participant per tick (at the
 * codec's rate, no resampling, no mixing, no SRTP) — the naive per-participant cost.
 * Figures are participants per core = N * 20 ms / CPU time of one tick (thread CPU clock), the
 * tick timed in chunks of 10 and the fastest chunk taken: on a shared machine other processes
 * only add time (their cache traffic is charged to our CPU time too).
 * SRTP is the server's: libsrtp2 with media/srtp_crypto.c's primitives (sylk_srtp_library_init).
 * Rooms of 100, 500 and 1,000 with 3 speakers are printed as ratios to the room of 100: the
 * per-participant cost should not grow with the room.
 * Usage: mixer [ticks [codec]]   (default 200 ticks, every codec)
 */
#include "media/codec.h"
#include "media/mixcore.h"
#include "media/rtp_packet.h"
#include "media/srtp.h"

#include <glib.h>
#include <malloc.h>
#include <math.h>
#include <speex/speex_resampler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TONE_FRAMES 25
#define CHUNK       10 /* ticks timed together; the fastest chunk gives the figure */

struct participant {
    struct sylk_codec *dec, *enc;
    SpeexResamplerState *up, *down; /* codec rate <-> 48 kHz; NULL at 48 kHz */
    struct sylk_srtp *srtp;
    int slot;
    bool speaker;
    unsigned frame_no;
    uint16_t seq;
};

struct room {
    const struct sylk_codec_info *info;
    struct sylk_mixcore *mix;
    struct participant *p;
    unsigned n;
    uint8_t tone[TONE_FRAMES][SYLK_CODEC_MAX_PAYLOAD]; /* a speaker's encoded frames */
    int tone_len[TONE_FRAMES];
    struct sylk_codec *shared_enc; /* the one encoder of the shared mix */
    /*
     * What everybody sent, made before timing: a tick's packets end to end, participant by
     * participant, as a batch of datagrams arrives. The packet of participant i at tick t
     * is incoming[at[t * n + i] .. at[t * n + i + 1]].
     */
    uint8_t *incoming;
    size_t *incoming_at;
    SpeexResamplerState *shared_down;
};

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static SpeexResamplerState *resampler(unsigned from, unsigned to)
{
    if (from == to)
        return NULL;
    int err;
    return speex_resampler_init(1, from, to, 3, &err);
}

static void prepare_tone(struct room *r)
{
    struct sylk_codec *enc = sylk_codec_new(r->info, NULL);
    unsigned frame = sylk_codec_frame_samples(enc);
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    for (unsigned f = 0; f < TONE_FRAMES; f++) {
        for (unsigned i = 0; i < frame; i++)
            pcm[i] = (int16_t)(6000 * sin(2 * M_PI * 440 * (f * frame + i) / r->info->rate));
        r->tone_len[f] = sylk_codec_encode(enc, pcm, r->tone[f], sizeof(r->tone[f]));
    }
    sylk_codec_free(enc);
}

static struct room *room_new(const struct sylk_codec_info *info, unsigned n, unsigned speakers)
{
    struct room *r = g_new0(struct room, 1);
    r->info = info;
    r->n = n;
    r->mix = sylk_mixcore_new(3, info->rate);
    r->p = g_new0(struct participant, n);
    prepare_tone(r);
    struct sylk_sdes key;
    sylk_sdes_generate(&key, 1, SYLK_SRTP_AES_CM_128_HMAC_SHA1_80);
    for (unsigned i = 0; i < n; i++) {
        struct participant *p = &r->p[i];
        p->dec = sylk_codec_new(info, NULL);
        p->enc = sylk_codec_new(info, NULL);
        p->up = resampler(info->rate, info->rate); /* NULL: the room mixes at this rate */
        p->down = resampler(info->rate, info->rate);
        sylk_srtp_new(&key, &key, &p->srtp);
        p->slot = sylk_mixcore_add(r->mix);
        p->speaker = i < speakers;
        p->frame_no = i;
    }
    r->shared_enc = sylk_codec_new(info, NULL);
    r->shared_down = resampler(info->rate, info->rate);
    return r;
}

/* What each participant sends during `ticks`: tone or silence frames, SRTP-protected. */
static void prepare_incoming(struct room *r, unsigned ticks)
{
    struct sylk_sdes key;
    sylk_sdes_generate(&key, 1, SYLK_SRTP_AES_CM_128_HMAC_SHA1_80);
    uint8_t silence[SYLK_CODEC_MAX_PAYLOAD];
    struct sylk_codec *enc = sylk_codec_new(r->info, NULL);
    int16_t zero[SYLK_CODEC_MAX_FRAME] = {0};
    int silence_len = sylk_codec_encode(enc, zero, silence, sizeof(silence));
    sylk_codec_free(enc);
    GByteArray **by_tick = g_new(GByteArray *, ticks);
    for (unsigned t = 0; t < ticks; t++)
        by_tick[t] = g_byte_array_new();
    r->incoming_at = g_new(size_t, (size_t)ticks * r->n + 1);
    for (unsigned i = 0; i < r->n; i++) {
        struct participant *p = &r->p[i];
        struct sylk_srtp *peer;
        sylk_srtp_new(&key, &key, &peer);
        sylk_srtp_free(p->srtp); /* ours: decrypts the peer's key, encrypts with it too */
        sylk_srtp_new(&key, &key, &p->srtp);
        for (unsigned t = 0; t < ticks; t++) {
            unsigned f = (p->frame_no + t) % TONE_FRAMES;
            const uint8_t *pl = p->speaker ? r->tone[f] : silence;
            int len = p->speaker ? r->tone_len[f] : silence_len;
            uint8_t pkt[SYLK_RTP_HEADER_LEN + SYLK_CODEC_MAX_PAYLOAD + SYLK_SRTP_MAX_TRAILER];
            size_t n =
                sylk_rtp_write_header(pkt, sizeof(pkt), 96, false, (uint16_t)t, t * 160u, 1000 + i);
            memcpy(pkt + n, pl, (size_t)len);
            n += (size_t)len;
            sylk_srtp_protect(peer, pkt, &n, sizeof(pkt));
            r->incoming_at[(size_t)t * r->n + i] = by_tick[t]->len; /* made absolute below */
            g_byte_array_append(by_tick[t], pkt, (guint)n);
        }
        sylk_srtp_free(peer);
    }
    GByteArray *all = g_byte_array_new();
    for (unsigned t = 0; t < ticks; t++) {
        for (unsigned i = 0; i < r->n; i++)
            r->incoming_at[(size_t)t * r->n + i] += all->len;
        g_byte_array_append(all, by_tick[t]->data, by_tick[t]->len);
        g_byte_array_free(by_tick[t], TRUE);
    }
    r->incoming_at[(size_t)ticks * r->n] = all->len;
    r->incoming = g_byte_array_free(all, FALSE);
    g_free(by_tick);
}

static void room_free(struct room *r)
{
    for (unsigned i = 0; i < r->n; i++) {
        sylk_codec_free(r->p[i].dec);
        sylk_codec_free(r->p[i].enc);
        if (r->p[i].up)
            speex_resampler_destroy(r->p[i].up);
        if (r->p[i].down)
            speex_resampler_destroy(r->p[i].down);
        sylk_srtp_free(r->p[i].srtp);
    }
    sylk_codec_free(r->shared_enc);
    if (r->shared_down)
        speex_resampler_destroy(r->shared_down);
    sylk_mixcore_free(r->mix);
    g_free(r->incoming);
    g_free(r->incoming_at);
    g_free(r->p);
    g_free(r);
}

/* 48 kHz mix → codec rate → payload. */
static int encode_mix(struct sylk_codec *enc, SpeexResamplerState *down, const int16_t *mix,
                      uint8_t *out, size_t cap)
{
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    const int16_t *src = mix;
    if (down) {
        spx_uint32_t in_len = sylk_codec_frame_samples(enc), out_len = in_len;
        speex_resampler_process_int(down, 0, mix, &in_len, pcm, &out_len);
        src = pcm;
    }
    return sylk_codec_encode(enc, src, out, cap);
}

static void send_rtp(struct participant *p, const uint8_t *payload, int len)
{
    uint8_t pkt[SYLK_RTP_HEADER_LEN + SYLK_CODEC_MAX_PAYLOAD + SYLK_SRTP_MAX_TRAILER];
    uint16_t seq = p->seq++;
    size_t n = sylk_rtp_write_header(pkt, sizeof(pkt), 96, false, seq, seq * 160u, 1);
    memcpy(pkt + n, payload, (size_t)len);
    n += (size_t)len;
    sylk_srtp_protect(p->srtp, pkt, &n, sizeof(pkt));
}

static void tick(struct room *r, unsigned t)
{
    for (unsigned i = 0; i < r->n; i++) {
        struct participant *p = &r->p[i];
        if (r->incoming) { /* what it sent this tick: decrypted and parsed */
            size_t k = (size_t)t * r->n + i;
            uint8_t *pkt = r->incoming + r->incoming_at[k];
            size_t len = r->incoming_at[k + 1] - r->incoming_at[k];
            struct sylk_rtp_header h;
            if (sylk_srtp_unprotect(p->srtp, pkt, &len) < 0 || sylk_rtp_parse(pkt, len, 0, &h) < 0)
                abort();
        }
        if (!p->speaker) { /* its audio level says silence: nothing to decode */
            sylk_mixcore_put(r->mix, p->slot, NULL);
            continue;
        }
        unsigned f = p->frame_no++ % TONE_FRAMES;
        int16_t pcm[SYLK_CODEC_MAX_FRAME], up[SYLK_MIX_FRAME];
        int got =
            sylk_codec_decode(p->dec, r->tone[f], (size_t)r->tone_len[f], pcm, G_N_ELEMENTS(pcm));
        const int16_t *frame = pcm;
        if (p->up) {
            spx_uint32_t in_len = (spx_uint32_t)got, out_len = in_len;
            speex_resampler_process_int(p->up, 0, pcm, &in_len, up, &out_len);
            frame = up;
        }
        sylk_mixcore_put(r->mix, p->slot, frame);
    }
    sylk_mixcore_tick(r->mix);
    uint8_t shared_payload[SYLK_CODEC_MAX_PAYLOAD];
    int shared_len = -1;
    for (unsigned i = 0; i < r->n; i++) {
        struct participant *p = &r->p[i];
        bool shared;
        const int16_t *heard = sylk_mixcore_output(r->mix, p->slot, &shared);
        if (shared) {
            if (shared_len < 0)
                shared_len = encode_mix(r->shared_enc, r->shared_down, heard, shared_payload,
                                        sizeof(shared_payload));
            send_rtp(p, shared_payload, shared_len);
        } else {
            uint8_t payload[SYLK_CODEC_MAX_PAYLOAD];
            int len = encode_mix(p->enc, p->down, heard, payload, sizeof(payload));
            send_rtp(p, payload, len);
        }
    }
}

/* Participants one core carries: N * 20 ms / (CPU seconds per tick). */
static double measure_room(const struct sylk_codec_info *info, unsigned n, unsigned speakers,
                           unsigned ticks)
{
    struct room *r = room_new(info, n, speakers);
    prepare_incoming(r, ticks + 10);
    for (unsigned t = 0; t < 10; t++) /* warm up */
        tick(r, t);
    double per_tick = INFINITY;
    for (unsigned t = 0; t < ticks; t += CHUNK) {
        unsigned k = MIN(CHUNK, ticks - t);
        double t0 = thread_cpu();
        for (unsigned i = 0; i < k; i++)
            tick(r, 10 + t + i);
        per_tick = MIN(per_tick, (thread_cpu() - t0) / k);
    }
    room_free(r);
    return n * 0.020 / per_tick;
}

static double measure_codec_only(const struct sylk_codec_info *info, unsigned ticks)
{
    struct room *r = room_new(info, 1, 1);
    struct participant *p = &r->p[0];
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    uint8_t out[SYLK_CODEC_MAX_PAYLOAD];
    unsigned rounds = ticks * 20;
    double per = INFINITY;
    for (unsigned t = 0; t < rounds; t += CHUNK * 20) { /* the fastest chunk, as for rooms */
        double t0 = thread_cpu();
        for (unsigned i = t; i < t + CHUNK * 20; i++) {
            unsigned f = i % TONE_FRAMES;
            sylk_codec_decode(p->dec, r->tone[f], (size_t)r->tone_len[f], pcm, G_N_ELEMENTS(pcm));
            sylk_codec_encode(p->enc, pcm, out, sizeof(out));
        }
        per = MIN(per, (thread_cpu() - t0) / (CHUNK * 20));
    }
    room_free(r);
    return 0.020 / per;
}

static size_t memory_per_participant(const struct sylk_codec_info *info)
{
    struct mallinfo2 before = mallinfo2();
    struct room *r = room_new(info, 100, 3);
    struct mallinfo2 after = mallinfo2();
    room_free(r);
    return (after.uordblks - before.uordblks) / 100;
}

/* The room sizes with 3 speakers, compared with the first (per-participant cost flat in N). */
static const unsigned large[] = {100, 500, 1000};

int main(int argc, char **argv)
{
    unsigned ticks = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
    const char *only = argc > 2 ? argv[2] : NULL; /* one codec, for profiling */
    if (sylk_srtp_library_init() < 0)
        return 1;
    static const struct {
        const char *name;
        unsigned clock;
    } codecs[] = {{"PCMU", 8000}, {"G722", 8000}, {"opus", 48000}};
    printf("mixer: participants per core at 20 ms (%u ticks per figure); bound = codec only "
           "(decode+encode per participant)\n",
           ticks);
    for (size_t c = 0; c < G_N_ELEMENTS(codecs); c++) {
        if (only && g_ascii_strcasecmp(only, codecs[c].name) != 0)
            continue;
        const struct sylk_codec_info *info = sylk_codec_lookup(codecs[c].name, codecs[c].clock);
        double bound = measure_codec_only(info, ticks);
        printf("mixer %-5s bound %8.0f", info->name, bound);
        static const unsigned all_talk[] = {3, 10, 100};
        for (size_t i = 0; i < G_N_ELEMENTS(all_talk); i++) {
            double got = measure_room(info, all_talk[i], all_talk[i], ticks);
            printf(" | room %u all talk %8.0f (%.2fx)", all_talk[i], got, got / bound);
        }
        double got[G_N_ELEMENTS(large)];
        for (size_t i = 0; i < G_N_ELEMENTS(large); i++) {
            got[i] = measure_room(info, large[i], 3, ticks);
            printf(" | room %u, 3 speak %8.0f (%.2fx)", large[i], got[i], got[i] / bound);
        }
        printf(" | %.1f KiB/participant\n", memory_per_participant(info) / 1024.0);
        printf("mixer %-5s 3 speak, per core against room %u:", info->name, large[0]);
        for (size_t i = 1; i < G_N_ELEMENTS(large); i++)
            printf(" room %u / room %u %.2f", large[i], large[0], got[i] / got[0]);
        printf(" (goal >= 0.90)\n");
    }
    return 0;
}
