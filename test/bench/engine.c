/*
 * test/bench/engine — the media engine in real time: one media thread runs a real mixer
 * (core/media/mixer.c) whose participants are real RTP streams on loopback UDP sockets, fed
 * by a separate thread that sends each participant one packet every 20 ms (pre-encoded: a
 * speech-level tone for the speakers, encoded silence for the others), for a few seconds.
 *
 * Figure: participants per core = N * wall time / CPU time of the media thread (its thread
 * CPU clock, read on the thread itself), i.e. what one core would carry at 100%. Everything
 * the engine does per packet is in it: recvfrom, RTP parse, jitter buffer, decode, resample,
 * mix-minus, the shared encode, per-participant encode for speakers, packetize, sendto.
 * Plain RTP (the SRTP cost is in the compute-only `mixer` benchmark). Also printed: the share
 * of due packets the streams sent (below 100% means the thread fell behind) and, as the
 * baseline from the same run, the codec-only bound (one decode + one encode per participant
 * per 20 ms, no I/O).
 *
 * "+6464": every packet carries its RFC 6464 audio level, so silent participants are not
 * decoded at all.
 * Rooms of 3 and 10 run 40 and 12 at a time on the thread (a server carries many small rooms;
 * one alone would mostly measure the thread's wake-up); 100 and 500 one at a time.
 *
 * Usage: engine [seconds]   (default 3 per case)
 */
#include "media/engine.h"
#include "media/codec.h"
#include "media/mixer.h"
#include "media/rtp.h"
#include "media/rtp_packet.h"
#include "media/srtp.h"

#include <arpa/inet.h>
#include <glib.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TONE_FRAMES 25
#define FIRST_PORT  30000

struct feed {
    const struct sylk_codec_info *info;
    unsigned n, size, speakers; /* all participants, per room, speakers per room */
    bool levels;                /* RFC 6464 audio levels in every packet */
    int pt;
    unsigned *ports;
    uint8_t tone[TONE_FRAMES][SYLK_CODEC_MAX_PAYLOAD];
    int tone_len[TONE_FRAMES];
    uint8_t silence[SYLK_CODEC_MAX_PAYLOAD];
    int silence_len;
    gint stop;
    uint64_t sent;
};

static double now_s(void)
{
    return g_get_monotonic_time() / 1e6;
}

static void encode_inputs(struct feed *f)
{
    struct sylk_codec *enc = sylk_codec_new(f->info, NULL);
    unsigned frame = sylk_codec_frame_samples(enc);
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    for (unsigned t = 0; t < TONE_FRAMES; t++) {
        for (unsigned i = 0; i < frame; i++)
            pcm[i] = (int16_t)(6000 * sin(2 * G_PI * 440 * (t * frame + i) / f->info->rate));
        f->tone_len[t] = sylk_codec_encode(enc, pcm, f->tone[t], sizeof(f->tone[t]));
    }
    memset(pcm, 0, sizeof(pcm));
    f->silence_len = sylk_codec_encode(enc, pcm, f->silence, sizeof(f->silence));
    sylk_codec_free(enc);
}

/* One packet per participant per 20 ms, on an absolute schedule. */
static gpointer feeder(gpointer data)
{
    struct feed *f = data;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    uint8_t pkt[SYLK_RTP_HEADER_LEN + SYLK_CODEC_MAX_PAYLOAD];
    unsigned step = f->info->sdp_clock / 50;
    double start = now_s();
    for (unsigned t = 0; !g_atomic_int_get(&f->stop); t++) {
        double due = start + t * 0.020, wait = due - now_s();
        if (wait > 0)
            g_usleep((gulong)(wait * 1e6));
        for (unsigned i = 0; i < f->n; i++) {
            bool talks = i % f->size < f->speakers;
            const uint8_t *payload = talks ? f->tone[t % TONE_FRAMES] : f->silence;
            int len = talks ? f->tone_len[t % TONE_FRAMES] : f->silence_len;
            size_t h = sylk_rtp_write_header(pkt, sizeof(pkt), (uint8_t)f->pt, false, (uint16_t)t,
                                             t * step, 0x1000 + i);
            if (f->levels) { /* one-byte header extension, id 1: speech -20 dBov, else -127 */
                pkt[0] |= 0x10;
                const uint8_t ext[8] = {0xbe, 0xde, 0, 1, 0x10, talks ? 0x80 | 20 : 127, 0, 0};
                memcpy(pkt + h, ext, sizeof(ext));
                h += sizeof(ext);
            }
            memcpy(pkt + h, payload, (size_t)len);
            to.sin_port = htons((uint16_t)f->ports[i]);
            if (sendto(fd, pkt, h + (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)) > 0)
                f->sent++;
        }
    }
    close(fd);
    return NULL;
}

struct snapshot {
    struct sylk_rtp_socket **s;
    unsigned n;
    double cpu;
    uint64_t packets_out;
};

/* On the media thread itself: its CPU clock and the streams' counters at one instant. */
static void take_snapshot(void *data)
{
    struct snapshot *snap = data;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    snap->cpu = ts.tv_sec + ts.tv_nsec / 1e9;
    snap->packets_out = 0;
    for (unsigned i = 0; i < snap->n; i++) {
        struct sylk_rtp_stats st;
        sylk_rtp_get_stats(snap->s[i], &st); /* runs inline: we are on the stream's thread */
        snap->packets_out += st.packets_out;
    }
}

static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A call that does nothing: once it returns, everything posted before it has run. */
static void flush(void *data)
{
    (void)data;
}

struct result {
    double per_core, sent_share;
    double kib; /* heap per participant once running (codec, jitter buffer, mixer state) */
};

/*
 * `rooms` rooms of `size` participants, `speakers` of them talking in each, all on the one
 * media thread: small rooms are measured many at a time, as a server carries them.
 */
static struct result run_rooms(struct sylk_media_engine *engine, const struct sylk_codec_info *info,
                               unsigned rooms, unsigned size, unsigned speakers, bool levels,
                               double seconds)
{
    unsigned n = rooms * size;
    struct sylk_rtp_ports ports = {
        .min = FIRST_PORT, .max = FIRST_PORT + 2 * n + 200, .next = FIRST_PORT};
    struct sylk_rtp_socket **s = g_new0(struct sylk_rtp_socket *, n);
    struct sylk_mixer **mixers = g_new0(struct sylk_mixer *, rooms);
    int pt = info->static_pt >= 0 ? info->static_pt : info->dynamic_pt;
    struct feed f = {
        .info = info, .n = n, .size = size, .speakers = speakers, .levels = levels, .pt = pt};
    f.ports = g_new(unsigned, n);
    encode_inputs(&f);
    /* What the streams send goes to one socket nobody reads: the kernel drops it. */
    int sink = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bind(sink, (struct sockaddr *)&sa, sizeof(sa));
    socklen_t sl = sizeof(sa);
    getsockname(sink, (struct sockaddr *)&sa, &sl);
    struct sylk_media_thread *thread = sylk_media_engine_pick(engine); /* the only one */
    sylk_media_thread_call(thread, flush, NULL); /* the last case's streams are freed by now */
    size_t heap0 = mallinfo2().uordblks;
    for (unsigned r = 0; r < rooms; r++)
        mixers[r] = sylk_mixer_new(engine, 0);
    for (unsigned i = 0; i < n; i++) {
        if (sylk_rtp_open(&ports, "127.0.0.1", engine, &s[i]) < 0) {
            fprintf(stderr, "engine: cannot open stream %u\n", i);
            exit(1);
        }
        f.ports[i] = sylk_rtp_port(s[i]);
        sylk_rtp_set_codec(s[i], info, pt, pt, NULL);
        sylk_rtp_set_audio_level_id(s[i], levels ? 1 : 0);
        sylk_rtp_set_remote(s[i], "127.0.0.1", ntohs(sa.sin_port), 0);
        sylk_mixer_add(mixers[i / size], s[i]);
    }
    GThread *feed_thread = g_thread_new("feeder", feeder, &f);
    g_usleep(500000); /* jitter buffers fill */
    sylk_media_thread_call(thread, flush, NULL);
    double kib = ((double)mallinfo2().uordblks - (double)heap0) / n / 1024;
    struct sylk_media_thread *t = sylk_rtp_thread(s[0]);
    struct snapshot a = {.s = s, .n = n}, b = a;
    double wall0 = now_s();
    sylk_media_thread_call(t, take_snapshot, &a);
    g_usleep((gulong)(seconds * 1e6));
    double wall1 = now_s();
    sylk_media_thread_call(t, take_snapshot, &b);
    g_atomic_int_set(&f.stop, 1);
    g_thread_join(feed_thread);
    double wall = wall1 - wall0, cpu = MAX(b.cpu - a.cpu, 1e-6);
    struct result res = {.per_core = n * wall / cpu,
                         .sent_share = (double)(b.packets_out - a.packets_out) / (n * wall * 50),
                         .kib = kib};
    for (unsigned r = 0; r < rooms; r++)
        sylk_mixer_free(mixers[r]);
    for (unsigned i = 0; i < n; i++)
        sylk_rtp_close(s[i]);
    close(sink);
    g_free(s);
    g_free(mixers);
    g_free(f.ports);
    return res;
}

/* Participants per core when each costs one decode and one encode per 20 ms. */
static double codec_bound(const struct sylk_codec_info *info)
{
    struct sylk_codec *c = sylk_codec_new(info, NULL);
    unsigned frame = sylk_codec_frame_samples(c);
    int16_t pcm[SYLK_CODEC_MAX_FRAME], out[SYLK_CODEC_MAX_FRAME];
    uint8_t payload[SYLK_CODEC_MAX_PAYLOAD];
    for (unsigned i = 0; i < frame; i++)
        pcm[i] = (int16_t)(6000 * sin(2 * G_PI * 440 * i / info->rate));
    /* at least 0.5 s of CPU, so a short disturbance does not move the baseline */
    double start = thread_seconds(), spent = 0;
    unsigned rounds = 0;
    while (spent < 0.5) {
        for (unsigned i = 0; i < 200; i++, rounds++) {
            int n = sylk_codec_encode(c, pcm, payload, sizeof(payload));
            sylk_codec_decode(c, payload, (size_t)n, out, G_N_ELEMENTS(out));
        }
        spent = thread_seconds() - start;
    }
    sylk_codec_free(c);
    double per = spent / rounds;
    return 0.020 / per;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max; /* two sockets per participant */
    setrlimit(RLIMIT_NOFILE, &rl);
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
    struct sylk_media_engine *engine;
    if (sylk_srtp_library_init() < 0 || sylk_media_engine_new(1, &engine) < 0)
        return 1;
    static const struct {
        const char *name;
        unsigned clock;
    } codecs[] = {{"PCMU", 8000}, {"G722", 8000}, {"opus", 48000}};
    static const struct {
        unsigned rooms, size, speakers;
        bool levels;
    } cases[] = {{40, 3, 3, false},  {12, 10, 10, false}, {1, 100, 100, false}, {1, 100, 3, false},
                 {1, 500, 3, false}, {1, 100, 3, true},   {1, 500, 3, true}};
    printf("engine: participants per core in real time (1 media thread, plain RTP on loopback, "
           "%.0f s per room); bound = codec only\n",
           seconds);
    for (size_t c = 0; c < G_N_ELEMENTS(codecs); c++) {
        const struct sylk_codec_info *info = sylk_codec_lookup(codecs[c].name, codecs[c].clock);
        double bound = codec_bound(info);
        printf("engine %-5s bound %7.0f", info->name, bound);
        for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
            struct result got = run_rooms(engine, info, cases[k].rooms, cases[k].size,
                                          cases[k].speakers, cases[k].levels, seconds);
            printf(" | %ux room %u, %u speak%s %7.0f (%.2fx, %.0f%% sent, %.0f KiB each)",
                   cases[k].rooms, cases[k].size, cases[k].speakers,
                   cases[k].levels ? " +6464" : "", got.per_core, got.per_core / bound,
                   100 * got.sent_share, got.kib);
            fflush(stdout);
        }
        printf("\n");
    }
    sylk_media_engine_free(engine);
    return 0;
}
