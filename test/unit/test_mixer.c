/*
 * Unit tests for core/media/mixer.c with core/media/rtp.c: a conference over loopback UDP
 * through the whole media path. Three participants, each a plain UDP socket of the test,
 * send 20 ms PCMU packets of a tone of their own to three RTP streams in one mixer; what
 * comes back is decoded and measured (Goertzel): each hears the two others and not itself, a
 * muted one is heard by nobody but still hears the room, one on hold is sent nothing, a prompt
 * is heard by all and reported done once; packets come at 50 a second, numbered in order, from
 * the stream's own SSRC. Over two media threads, rooms are placed by participants, not by
 * rooms.
 */
#include "media/codec.h"
#include "media/engine.h"
#include "media/mixer.h"
#include "media/player.h"
#include "media/rtp.h"

#include "audio_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PARTS      3
#define RATE       8000
#define FRAME      160 /* 20 ms of PCMU */
#define PT_PCMU    0
#define AMPLITUDE  8000.0
#define PROMPT_HZ  2000
#define PROMPT_MS  500
#define HEARD_MIN  (0.25 * (AMPLITUDE / 2) * (AMPLITUDE / 2)) /* half the amplitude sent */
#define OWN_FACTOR 20 /* one's own tone at least this much weaker than the others' */

static const double tone_hz[PARTS] = {500, 900, 1300};

struct participant {
    double freq; /* of the tone it sends */
    int fd;      /* the test's UDP socket: the far end of the stream */
    struct sylk_rtp_socket *s;
    struct sylk_codec *codec;
    bool sending;
    int level; /* RFC 6464 level sent in a header extension (id 1), or 0 for none */
    double phase;
    uint16_t seq;
    uint32_t ts, ssrc;

    /* what came back */
    GArray *heard;      /* decoded samples that arrived inside the window */
    unsigned in_window; /* packets that arrived inside the window */
    unsigned packets;
    bool have_last;
    uint32_t rx_ssrc;
    uint16_t last_seq;
    uint32_t last_ts;
    unsigned bad_ssrc, bad_seq, bad_ts, bad_packets;
};

struct room {
    struct sylk_media_engine *engine;
    struct sylk_rtp_ports ports;
    struct sylk_mixer *mixer;
    struct participant p[PARTS];
    const struct sylk_codec_info *pcmu;
};

/* ------------------------------------------------------------------ the far ends --- */

static int udp_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

static unsigned local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    return ntohs(sa.sin_port);
}

static void put_be16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void put_be32(uint8_t *b, uint32_t v)
{
    put_be16(b, (uint16_t)(v >> 16));
    put_be16(b + 2, (uint16_t)v);
}

static uint16_t get_be16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get_be32(const uint8_t *b)
{
    return (uint32_t)get_be16(b) << 16 | get_be16(b + 2);
}

/* The participant's next 20 ms of tone, as a PCMU packet to its stream. */
static void send_frame(struct participant *p)
{
    int16_t pcm[FRAME];
    uint8_t packet[12 + SYLK_CODEC_MAX_PAYLOAD];
    audio_sine(pcm, FRAME, p->freq, RATE, AMPLITUDE, &p->phase);
    packet[0] = 0x80; /* version 2, no padding, extension or CSRC */
    packet[1] = PT_PCMU;
    put_be16(packet + 2, p->seq++);
    put_be32(packet + 4, p->ts);
    put_be32(packet + 8, p->ssrc);
    p->ts += FRAME;
    size_t head = 12;
    if (p->level) { /* RFC 8285 one-byte header: id 1, one byte: V flag and -dBov */
        packet[0] |= 0x10;
        const uint8_t ext[8] = {0xbe, 0xde, 0, 1, 1 << 4, (uint8_t)(0x80 | p->level), 0, 0};
        memcpy(packet + 12, ext, sizeof(ext));
        head += sizeof(ext);
    }
    int n = sylk_codec_encode(p->codec, pcm, packet + head, sizeof(packet) - head);
    g_assert_cmpint(n, ==, FRAME);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)sylk_rtp_port(p->s)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(sendto(p->fd, packet, head + (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)),
                    ==, (ssize_t)head + n);
}

/* Checks one packet from the mixer against the ones before it. */
static void check_header(struct participant *p, const uint8_t *buf)
{
    uint16_t seq = get_be16(buf + 2);
    uint32_t ts = get_be32(buf + 4), ssrc = get_be32(buf + 8);
    if (p->have_last) {
        p->bad_ssrc += ssrc != p->rx_ssrc;
        p->bad_seq += seq != (uint16_t)(p->last_seq + 1);
        /* A frame later, or several when the stream skipped silent ticks. */
        p->bad_ts += (int32_t)(ts - p->last_ts) <= 0 || (ts - p->last_ts) % FRAME != 0;
    }
    p->have_last = true;
    p->rx_ssrc = ssrc;
    p->last_seq = seq;
    p->last_ts = ts;
}

/* Reads what arrived; its audio is kept when `keep` (inside the window measured). */
static void receive(struct participant *p, bool keep)
{
    uint8_t buf[1500];
    ssize_t n;
    while ((n = recv(p->fd, buf, sizeof(buf), 0)) >= 0) {
        p->packets++;
        if (n != 12 + FRAME || buf[0] != 0x80 || (buf[1] & 0x7f) != PT_PCMU) {
            p->bad_packets++;
            continue;
        }
        check_header(p, buf);
        int16_t pcm[FRAME];
        g_assert_cmpint(sylk_codec_decode(p->codec, buf + 12, FRAME, pcm, FRAME), ==, FRAME);
        if (keep) {
            g_array_append_vals(p->heard, pcm, FRAME);
            p->in_window++;
        }
    }
    g_assert_cmpint(errno, ==, EAGAIN);
}

/* --------------------------------------------------------------------- the room --- */

static void room_open(struct room *r, unsigned threads)
{
    memset(r, 0, sizeof(*r));
    g_assert_cmpint(sylk_media_engine_new(threads, &r->engine), ==, 0);
    r->ports = (struct sylk_rtp_ports){.min = 41000, .max = 41100, .next = 41000};
    r->pcmu = sylk_codec_lookup("PCMU", RATE);
    g_assert_nonnull(r->pcmu);
    g_assert_cmpuint(r->pcmu->rate, ==, RATE);
    for (int i = 0; i < PARTS; i++) {
        struct participant *p = &r->p[i];
        p->freq = tone_hz[i];
        p->fd = udp_socket();
        p->codec = sylk_codec_new(r->pcmu, NULL);
        g_assert_nonnull(p->codec);
        p->ssrc = g_random_int();
        p->seq = (uint16_t)g_random_int();
        p->ts = g_random_int();
        p->heard = g_array_new(FALSE, FALSE, sizeof(int16_t));
        g_assert_cmpint(sylk_rtp_open(&r->ports, "127.0.0.1", r->engine, &p->s), ==, 0);
        g_assert_cmpint(sylk_rtp_set_codec(p->s, r->pcmu, PT_PCMU, PT_PCMU, NULL), ==, 0);
        g_assert_cmpint(sylk_rtp_set_remote(p->s, "127.0.0.1", local_port(p->fd), 0), ==, 0);
    }
    if (threads > 1) /* spread over the threads, so joining the mixer moves some */
        g_assert_true(sylk_rtp_thread(r->p[0].s) != sylk_rtp_thread(r->p[1].s));

    r->mixer = sylk_mixer_new(r->engine, 0);
    g_assert_nonnull(r->mixer);
    for (int i = 0; i < PARTS; i++)
        g_assert_cmpint(sylk_mixer_add(r->mixer, r->p[i].s), ==, 0);
    g_assert_cmpuint(sylk_mixer_count(r->mixer), ==, PARTS);
    g_assert_cmpint(sylk_mixer_add(r->mixer, r->p[1].s), ==, -EALREADY);
    for (int i = 1; i < PARTS; i++) /* one room, one thread */
        g_assert_true(sylk_rtp_thread(r->p[i].s) == sylk_rtp_thread(r->p[0].s));
}

/* Forgets what was measured (not the packet history: sequence numbers carry on). */
static void room_new_window(struct room *r)
{
    for (int i = 0; i < PARTS; i++) {
        g_array_set_size(r->p[i].heard, 0);
        r->p[i].in_window = 0;
    }
}

/*
 * Sends for `ms` from every participant that is sending, 20 ms apart on an absolute clock,
 * while reading what comes back; audio arriving in [from_ms, to_ms) is kept. The main context
 * runs too, for prompt completions.
 */
static void room_run(struct room *r, unsigned ms, unsigned from_ms, unsigned to_ms)
{
    room_new_window(r);
    gint64 start = g_get_monotonic_time();
    for (unsigned tick = 0; tick * SYLK_CODEC_FRAME_MS < ms; tick++) {
        for (int i = 0; i < PARTS; i++) {
            if (r->p[i].sending)
                send_frame(&r->p[i]);
        }
        gint64 next = start + (gint64)(tick + 1) * SYLK_CODEC_FRAME_MS * 1000;
        for (;;) {
            gint64 now = g_get_monotonic_time();
            gint64 at_ms = (now - start) / 1000;
            for (int i = 0; i < PARTS; i++)
                receive(&r->p[i], at_ms >= from_ms && at_ms < to_ms);
            while (g_main_context_iteration(NULL, FALSE))
                ;
            if (now >= next)
                break;
            g_usleep((gulong)MIN(next - now, 2000));
        }
    }
}

static void room_close(struct room *r, bool mixer_first)
{
    if (mixer_first)
        sylk_mixer_free(r->mixer);
    for (int i = 0; i < PARTS; i++) {
        sylk_rtp_close(r->p[i].s);
        if (!mixer_first) /* a stream that closes leaves the room */
            g_assert_cmpuint(sylk_mixer_count(r->mixer), ==, PARTS - 1 - i);
    }
    if (!mixer_first)
        sylk_mixer_free(r->mixer);
    sylk_media_engine_free(r->engine);
    for (int i = 0; i < PARTS; i++) {
        struct participant *p = &r->p[i];
        close(p->fd);
        sylk_codec_free(p->codec);
        g_array_unref(p->heard);
    }
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* ---------------------------------------------------------------- measurements --- */

static double power(const struct participant *p, double freq)
{
    g_assert_cmpuint(p->heard->len, >, RATE / 4);
    return audio_power((const int16_t *)(const void *)p->heard->data, p->heard->len, freq, RATE);
}

static void assert_hears(const struct room *r, int who, double freq)
{
    double pw = power(&r->p[who], freq);
    g_test_message("participant %d hears %.0f Hz at %.3g", who, freq, pw);
    g_assert_cmpfloat(pw, >=, HEARD_MIN);
}

/* `freq` is at most 1/OWN_FACTOR of what `who` hears of `reference`. */
static void assert_not_hears(const struct room *r, int who, double freq, double reference)
{
    double pw = power(&r->p[who], freq), ref = power(&r->p[who], reference);
    g_test_message("participant %d hears %.0f Hz at %.3g (%.0f Hz at %.3g)", who, freq, pw,
                   reference, ref);
    g_assert_cmpfloat(pw * OWN_FACTOR, <, ref);
}

/* Packets came at 50 per second, from one SSRC of the stream's own, numbered in order. */
static void assert_stream(const struct room *r, int who, unsigned window_ms)
{
    const struct participant *p = &r->p[who];
    g_test_message("participant %d: %u packets (%u in %u ms), ssrc %08x", who, p->packets,
                   p->in_window, window_ms, p->rx_ssrc);
    g_assert_cmpuint(p->in_window, >=, 40 * window_ms / 1000);
    g_assert_cmpuint(p->in_window, <=, 60 * window_ms / 1000);
    g_assert_cmpuint(p->bad_packets, ==, 0);
    g_assert_cmpuint(p->bad_ssrc, ==, 0);
    g_assert_cmpuint(p->bad_seq, ==, 0);
    g_assert_cmpuint(p->bad_ts, ==, 0);
    g_assert_cmpuint(p->rx_ssrc, !=, p->ssrc); /* the stream's, not ours echoed */
    for (int i = 0; i < PARTS; i++) {
        if (i != who)
            g_assert_cmpuint(p->rx_ssrc, !=, r->p[i].rx_ssrc);
    }
}

/* ----------------------------------------------------------------------- cases --- */

#define RUN_MS    1300
#define WINDOW_AT 300 /* jitter buffers filled, speakers selected */

static void mix_minus(gconstpointer data)
{
    unsigned threads = GPOINTER_TO_UINT(data);
    struct room r;
    room_open(&r, threads);
    for (int i = 0; i < PARTS; i++)
        r.p[i].sending = true;
    room_run(&r, RUN_MS, WINDOW_AT, RUN_MS);
    for (int i = 0; i < PARTS; i++) {
        int a = (i + 1) % PARTS, b = (i + 2) % PARTS;
        assert_stream(&r, i, RUN_MS - WINDOW_AT);
        assert_hears(&r, i, tone_hz[a]);
        assert_hears(&r, i, tone_hz[b]);
        assert_not_hears(&r, i, tone_hz[i], tone_hz[a]);
        assert_not_hears(&r, i, tone_hz[i], tone_hz[b]);
    }
    room_close(&r, threads > 1);
}

/* Participant 0 muted, then unmuted, then on hold. */
static void mute_and_hold(void)
{
    struct room r;
    room_open(&r, 2);
    for (int i = 0; i < PARTS; i++)
        r.p[i].sending = true;
    g_assert_cmpint(sylk_mixer_mute(r.mixer, r.p[0].s, true), ==, 0);
    room_run(&r, RUN_MS, WINDOW_AT, RUN_MS);
    assert_stream(&r, 0, RUN_MS - WINDOW_AT);
    assert_hears(&r, 0, tone_hz[1]); /* a muted participant still hears the room */
    assert_hears(&r, 0, tone_hz[2]);
    assert_not_hears(&r, 0, tone_hz[0], tone_hz[1]);
    assert_hears(&r, 1, tone_hz[2]);
    assert_not_hears(&r, 1, tone_hz[0], tone_hz[2]); /* nobody hears it */
    assert_not_hears(&r, 1, tone_hz[1], tone_hz[2]);
    assert_hears(&r, 2, tone_hz[1]);
    assert_not_hears(&r, 2, tone_hz[0], tone_hz[1]);
    assert_not_hears(&r, 2, tone_hz[2], tone_hz[1]);

    g_assert_cmpint(sylk_mixer_mute(r.mixer, r.p[0].s, false), ==, 0);
    room_run(&r, 800, WINDOW_AT, 800);
    assert_hears(&r, 1, tone_hz[0]);
    assert_hears(&r, 2, tone_hz[0]);
    assert_not_hears(&r, 0, tone_hz[0], tone_hz[1]);

    g_assert_cmpint(sylk_mixer_hold(r.mixer, r.p[0].s, true), ==, 0);
    room_run(&r, 800, WINDOW_AT, 800);
    g_assert_cmpuint(r.p[0].in_window, ==, 0); /* on hold: sent nothing */
    assert_hears(&r, 1, tone_hz[2]);
    assert_not_hears(&r, 1, tone_hz[0], tone_hz[2]);
    assert_not_hears(&r, 2, tone_hz[0], tone_hz[1]);

    /* Not a participant (any more): refused. */
    g_assert_cmpint(sylk_mixer_remove(r.mixer, r.p[2].s), ==, 0);
    g_assert_cmpuint(sylk_mixer_count(r.mixer), ==, PARTS - 1);
    g_assert_cmpint(sylk_mixer_remove(r.mixer, r.p[2].s), ==, -ENOENT);
    g_assert_cmpint(sylk_mixer_mute(r.mixer, r.p[2].s, true), ==, -ENOENT);
    g_assert_cmpint(sylk_mixer_add(r.mixer, r.p[2].s), ==, 0);
    room_close(&r, false);
}

struct done_count {
    int calls;
    GThread *ran_on;
};

static void prompt_done(void *user_data)
{
    struct done_count *d = user_data;
    d->calls++;
    d->ran_on = g_thread_self();
}

/* A prompt over one speaker: everybody hears it, the speaker too, and its end is reported. */
static void prompt(void)
{
    struct room r;
    room_open(&r, 2);
    r.p[0].sending = true;
    room_run(&r, 400, 400, 400); /* participant 0 is speaking when the prompt starts */
    struct done_count done = {0};
    struct sylk_player *tone = sylk_player_new_tone(PROMPT_HZ, PROMPT_MS);
    g_assert_nonnull(tone);
    g_assert_cmpint(sylk_mixer_play(r.mixer, tone, prompt_done, &done), ==, 0);
    room_run(&r, PROMPT_MS, 100, PROMPT_MS - 50);
    for (int i = 0; i < PARTS; i++)
        assert_hears(&r, i, PROMPT_HZ);
    assert_hears(&r, 1, tone_hz[0]);
    assert_hears(&r, 2, tone_hz[0]);
    assert_not_hears(&r, 0, tone_hz[0], PROMPT_HZ);

    room_run(&r, 500, 200, 500); /* played out: gone, and reported once */
    g_assert_cmpint(done.calls, ==, 1);
    g_assert_true(done.ran_on == g_thread_self());
    for (int i = 1; i < PARTS; i++)
        assert_not_hears(&r, i, PROMPT_HZ, tone_hz[0]);
    room_close(&r, false);
    g_assert_cmpint(done.calls, ==, 1);
}

/*
 * A prompt while max_speakers (3) participants talk: it is heard by all of them, and none of
 * the speakers is pushed out of the mix by it.
 */
static void prompt_over_full_room(void)
{
    struct room r;
    room_open(&r, 1);
    for (int i = 0; i < PARTS; i++)
        r.p[i].sending = true;
    room_run(&r, 400, 400, 400);
    struct done_count done = {0};
    struct sylk_player *tone = sylk_player_new_tone(PROMPT_HZ, PROMPT_MS);
    g_assert_cmpint(sylk_mixer_play(r.mixer, tone, prompt_done, &done), ==, 0);
    room_run(&r, PROMPT_MS, 100, PROMPT_MS - 50);
    for (int i = 0; i < PARTS; i++) {
        assert_hears(&r, i, PROMPT_HZ);
        for (int j = 0; j < PARTS; j++) {
            if (j != i)
                assert_hears(&r, i, tone_hz[j]);
        }
    }
    room_run(&r, 500, 200, 500);
    g_assert_cmpint(done.calls, ==, 1);
    room_close(&r, false);
}

/*
 * RFC 6464: a participant whose packets say "silent" (level 127) is not decoded, so not heard
 * however loud its payload; one whose packets say "speech" (level 20) is.
 */
static void audio_levels(void)
{
    struct room r;
    room_open(&r, 1);
    for (int i = 0; i < PARTS; i++) {
        sylk_rtp_set_audio_level_id(r.p[i].s, 1);
        r.p[i].sending = true;
    }
    r.p[0].level = 127;
    r.p[1].level = 20;
    room_run(&r, 1200, 300, 1200);
    assert_hears(&r, 2, tone_hz[1]);
    assert_not_hears(&r, 2, tone_hz[0], tone_hz[1]);
    assert_not_hears(&r, 1, tone_hz[0], tone_hz[2]);
    struct sylk_rtp_stats st;
    sylk_rtp_get_stats(r.p[0].s, &st);
    g_assert_cmpuint(st.skipped, >, 40);
    g_assert_cmpuint(st.decoded, ==, 0);
    sylk_rtp_get_stats(r.p[1].s, &st);
    g_assert_cmpuint(st.skipped, ==, 0);
    g_assert_cmpuint(st.decoded, >, 40);
    room_close(&r, false);
}

/* The port range running out: refused at once while full, usable again once one of ours is
 * closed (an INVITE flood used to try every pair for every refused call). */
static void port_range_exhausted(void)
{
    struct sylk_media_engine *engine = NULL;
    g_assert_cmpint(sylk_media_engine_new(1, &engine), ==, 0);
    struct sylk_rtp_ports ports = {.min = 41200, .max = 41203, .next = 41200}; /* two pairs */
    struct sylk_rtp_socket *s[3] = {NULL, NULL, NULL};
    g_assert_cmpint(sylk_rtp_open(&ports, "127.0.0.1", engine, &s[0]), ==, 0);
    g_assert_cmpint(sylk_rtp_open(&ports, "127.0.0.1", engine, &s[1]), ==, 0);
    g_assert_cmpuint(ports.in_use, ==, 2);
    g_assert_cmpint(sylk_rtp_open(&ports, "127.0.0.1", engine, &s[2]), ==, -EADDRINUSE);
    sylk_rtp_close(s[0]);
    g_assert_cmpuint(ports.in_use, ==, 1);
    g_assert_cmpint(ports.full_since, ==, 0);
    /* its pair is free once its media thread has closed it */
    int rc = -EADDRINUSE;
    for (int i = 0; i < 200 && rc != 0; i++) {
        ports.full_since = 0; /* not waiting a second between tries */
        rc = sylk_rtp_open(&ports, "127.0.0.1", engine, &s[2]);
        if (rc != 0)
            g_usleep(5000);
    }
    g_assert_cmpint(rc, ==, 0);
    g_assert_cmpuint(sylk_rtp_port(s[2]), ==, 41200);
    sylk_rtp_close(s[1]);
    sylk_rtp_close(s[2]);
    sylk_media_engine_free(engine);
}

/*
 * Placement over two media threads counts participants, not rooms: after a room of BIG_ROOM
 * (its mixer and streams on one thread), rooms of 3 go to the other thread until it holds as
 * many participants; only then does one go beside the big room.
 */
#define BIG_ROOM    20
#define SMALL_ROOMS 7

static struct sylk_mixer *room_of(struct sylk_media_engine *engine, struct sylk_rtp_ports *ports,
                                  unsigned size, struct sylk_rtp_socket **s)
{
    struct sylk_mixer *m = sylk_mixer_new(engine, 0);
    for (unsigned i = 0; i < size; i++) {
        g_assert_cmpint(sylk_rtp_open(ports, "127.0.0.1", engine, &s[i]), ==, 0);
        g_assert_cmpint(sylk_mixer_add(m, s[i]), ==, 0);
    }
    return m;
}

static void placement_by_participants(void)
{
    struct sylk_media_engine *engine = NULL;
    g_assert_cmpint(sylk_media_engine_new(2, &engine), ==, 0);
    struct sylk_rtp_ports ports = {.min = 41400, .max = 41599, .next = 41400};
    struct sylk_rtp_socket *big[BIG_ROOM], *small[SMALL_ROOMS][3];
    struct sylk_mixer *rooms[SMALL_ROOMS + 1];
    rooms[0] = room_of(engine, &ports, BIG_ROOM, big);
    struct sylk_media_thread *busy = sylk_rtp_thread(big[0]);
    for (unsigned i = 0; i < BIG_ROOM; i++)
        g_assert_true(sylk_rtp_thread(big[i]) == busy);
    /* 21 on the busy thread (20 streams and a mixer); each room of 3 adds 4 to the other */
    for (unsigned r = 0; r < SMALL_ROOMS; r++) {
        rooms[r + 1] = room_of(engine, &ports, 3, small[r]);
        bool beside_big = sylk_rtp_thread(small[r][0]) == busy;
        g_test_message("room of 3 #%u: %s", r + 1, beside_big ? "beside the big room" : "other");
        g_assert_true(beside_big == (r == SMALL_ROOMS - 1));
    }
    for (unsigned r = 0; r <= SMALL_ROOMS; r++)
        sylk_mixer_free(rooms[r]);
    for (unsigned i = 0; i < BIG_ROOM; i++)
        sylk_rtp_close(big[i]);
    for (unsigned r = 0; r < SMALL_ROOMS; r++)
        for (unsigned i = 0; i < 3; i++)
            sylk_rtp_close(small[r][i]);
    sylk_media_engine_free(engine);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/mixer/mix-minus/1-thread", GUINT_TO_POINTER(1), mix_minus);
    g_test_add_data_func("/mixer/mix-minus/2-threads", GUINT_TO_POINTER(2), mix_minus);
    g_test_add_func("/mixer/mute-and-hold", mute_and_hold);
    g_test_add_func("/mixer/prompt", prompt);
    g_test_add_func("/mixer/prompt-over-full-room", prompt_over_full_room);
    g_test_add_func("/mixer/audio-levels", audio_levels);
    g_test_add_func("/mixer/port-range-exhausted", port_range_exhausted);
    g_test_add_func("/mixer/placement-by-participants", placement_by_participants);
    return g_test_run();
}
