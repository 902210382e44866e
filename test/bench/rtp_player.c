/*
 * test/bench/rtp_player — the RTP side of the conference benchmark's participants
 * (test/bench/conference, test/bench/janus): every participant sends a 20 ms packet stream to its
 * server port and what the server sends back is counted, so that "held in real time" is measured
 * with ordinary UDP sockets and the server's CPU figure is its own (sipp's player used one raw
 * socket per call, which costs the server kernel time growing with the square of the calls). An
 * independent peer: nothing of core/ is linked; the codecs are the libraries the server uses
 * (spandsp for G.711 and G.722, libopus).
 *
 *   rtp_player pcmu|g722|opus PAYLOAD_TYPE LOCAL_PORT SERVER_IP
 *
 * One UDP socket on LOCAL_PORT (every participant's SDP offers it) sends for all participants
 * and receives for all of them: the server answers each participant from that participant's own
 * RTP port (symmetric RTP), so the source port says whose packet it is. The socket beside it
 * (LOCAL_PORT + 1) takes the server's RTCP and drops it. Sends are batched with sendmmsg and
 * reads with recvmmsg; the participants are spread over ten 2 ms phases of the 20 ms period
 * (one timerfd), as independent clients would be. The sockets are read at each phase, not
 * waited on: a packet from the server wakes nobody, so the server's sends do not pay for
 * waking (and being preempted by) the player; arrival times are therefore known to 2 ms.
 *
 * The stream is encoded once at start: 10 s of a speech-like signal (a voiced source whose
 * pitch glides between about 95 and 165 Hz, shaped by three moving formants, with syllables at
 * 4 Hz and a little noise; about -18 dBFS), looped; each participant starts at its own place in
 * it, with its own SSRC, sequence numbers and timestamps. opus: 48 kHz mono, VOIP, voice
 * signal, 32 kbit/s, the library's default complexity (opus/48000/2 in SDP, RFC 7587).
 *
 * Commands, one a line on stdin:
 *   add PORT      a participant that sends to SERVER_IP:PORT (the port of the server's answer)
 *   silent PORT   a listener: it sends its first packet only (a server may wait for one before
 *                 it sends: Janus's plain-RTP participants get the mix once their first packet
 *                 came), then nothing, as a muted client; what it receives is counted the same
 *   start [N]     begins a measured window over the first N participants added (default: all
 *                 added so far); those added later send and are counted but are not part of
 *                 it, so a burst of joins or leaves is measured on the participants that stay
 *   stop          ends it and prints, per participant, "p PORT RECEIVED DUE GAP_MS", then
 *                 "window participants=N received=R due=D share=S worst=W gap_ms=G" (share: of
 *                 all due packets; worst: the lowest participant's share; gap: the longest
 *                 wait for a packet of one participant, the window's edges included)
 *   quit
 * It prints "ready" once its sockets are bound. Exit status 0 unless something failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <spandsp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define PTIME_MS     20
#define PHASES       10  /* sends spread over the period: a phase every 2 ms */
#define LOOP_FRAMES  500 /* 10 s of audio, looped */
#define MAX_PAYLOAD  400
#define MAX_PARTS    8192
#define BATCH        256
#define RTP_HEADER   12
#define MAX_CATCH_UP 5 /* phases sent at once after a stall; older ones are skipped */
#define SOCK_BUF     (16 << 20)

struct stream {
    unsigned rate, samples, ts_step;
    uint8_t payload[LOOP_FRAMES][MAX_PAYLOAD];
    uint16_t len[LOOP_FRAMES];
};

struct part {
    struct sockaddr_in to;
    uint8_t header[RTP_HEADER];
    uint16_t seq;
    uint32_t ts, ssrc;
    unsigned frame;
    bool marked, silent;
    uint64_t received, window_start;
    int64_t last_ns, gap_ns;
};

struct player {
    int pt;
    int rtp_fd, rtcp_fd, timer_fd, epoll_fd;
    struct in_addr server;
    struct stream *stream;
    struct part *parts;
    unsigned count;
    int32_t by_port[65536]; /* server port -> participant + 1 */
    bool measuring;
    unsigned window_count; /* the participants of the window: the first ones */
    int64_t window_ns;
    uint64_t phase;
};

static void fail(const char *what)
{
    fprintf(stderr, "rtp_player: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Three formants, each a resonance of width `bw` around `f`: the weight of a harmonic at `hz`. */
static double formants(double hz, double t)
{
    const double f[3] = {500 + 250 * sin(2 * M_PI * 1.3 * t), 1500 + 600 * sin(2 * M_PI * 0.9 * t),
                         2600};
    const double bw[3] = {110, 160, 220}, gain[3] = {1.0, 0.5, 0.25};
    double w = 0;
    for (int i = 0; i < 3; i++) {
        double x = (hz - f[i]) / bw[i];
        w += gain[i] / (1 + x * x);
    }
    return w;
}

/* The speech-like signal at `rate`, `samples` long. */
static void speech(int16_t *out, unsigned rate, size_t samples)
{
    double phase = 0, peak = 0;
    double *x = malloc(samples * sizeof(double));
    uint32_t noise = 12345;
    if (!x)
        fail("out of memory");
    for (size_t i = 0; i < samples; i++) {
        double t = (double)i / rate;
        double f0 = 130 + 25 * sin(2 * M_PI * 0.7 * t) + 10 * sin(2 * M_PI * 2.3 * t);
        phase += 2 * M_PI * f0 / rate;
        double v = 0;
        for (int k = 1; k * f0 < 0.45 * rate && k * f0 < 4000; k++)
            v += formants(k * f0, t) * sin(k * phase);
        noise = noise * 1664525u + 1013904223u;
        v += 0.05 * ((double)(noise >> 8) / (1 << 24) - 0.5);
        double syllable = sin(M_PI * 4 * t); /* 4 syllables a second */
        x[i] = v * (0.15 + 0.85 * syllable * syllable);
        peak = fmax(peak, fabs(x[i]));
    }
    double rms = 0;
    for (size_t i = 0; i < samples; i++)
        rms += x[i] * x[i];
    rms = sqrt(rms / samples);
    double scale = fmin(4100.0 / rms, 30000.0 / peak); /* -18 dBFS, no clipping */
    for (size_t i = 0; i < samples; i++)
        out[i] = (int16_t)lrint(x[i] * scale);
    free(x);
}

static struct stream *encode(const char *codec)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        fail("out of memory");
    if (!strcmp(codec, "pcmu"))
        *s = (struct stream){.rate = 8000, .samples = 160, .ts_step = 160};
    else if (!strcmp(codec, "g722")) /* 8000 in SDP (RFC 3551) */
        *s = (struct stream){.rate = 16000, .samples = 320, .ts_step = 160};
    else if (!strcmp(codec, "opus"))
        *s = (struct stream){.rate = 48000, .samples = 960, .ts_step = 960};
    else
        fail("codec must be pcmu, g722 or opus");
    int16_t *pcm = malloc((size_t)s->samples * LOOP_FRAMES * sizeof(int16_t));
    if (!pcm)
        fail("out of memory");
    speech(pcm, s->rate, (size_t)s->samples * LOOP_FRAMES);
    g711_state_t *ulaw = NULL;
    g722_encode_state_t *g722 = NULL;
    OpusEncoder *opus = NULL;
    int err = 0;
    if (s->rate == 8000)
        ulaw = g711_init(NULL, G711_ULAW);
    else if (s->rate == 16000)
        g722 = g722_encode_init(NULL, 64000, 0);
    else if ((opus = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err))) {
        opus_encoder_ctl(opus, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
        opus_encoder_ctl(opus, OPUS_SET_BITRATE(32000));
    }
    if (!ulaw && !g722 && !opus)
        fail("cannot create the encoder");
    for (unsigned f = 0; f < LOOP_FRAMES; f++) {
        const int16_t *in = pcm + (size_t)f * s->samples;
        int n = ulaw   ? g711_encode(ulaw, s->payload[f], in, (int)s->samples)
                : g722 ? g722_encode(g722, s->payload[f], in, (int)s->samples)
                       : opus_encode(opus, in, (int)s->samples, s->payload[f], MAX_PAYLOAD);
        if (n <= 0)
            fail("encoding failed");
        s->len[f] = (uint16_t)n;
    }
    if (ulaw)
        g711_free(ulaw);
    if (g722)
        g722_encode_free(g722);
    if (opus)
        opus_encoder_destroy(opus);
    free(pcm);
    return s;
}

static int udp_socket(unsigned port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket");
    int size = SOCK_BUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        fail("bind");
    return fd;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static void add(struct player *pl, unsigned port, bool silent)
{
    if (pl->count == MAX_PARTS || port == 0 || port > 65535 || pl->by_port[port]) {
        fprintf(stderr, "rtp_player: cannot add port %u\n", port);
        return;
    }
    struct part *p = &pl->parts[pl->count];
    memset(p, 0, sizeof(*p));
    p->to = (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = pl->server};
    p->ssrc = (uint32_t)random() << 1 ^ (uint32_t)random();
    p->seq = (uint16_t)random();
    p->ts = (uint32_t)random();
    p->frame = (pl->count * 37) % LOOP_FRAMES;
    p->last_ns = now_ns();
    p->silent = silent;
    pl->by_port[port] = (int32_t)++pl->count;
}

static void flush(struct player *pl, struct mmsghdr *msgs, unsigned n)
{
    for (unsigned done = 0; done < n;) {
        int rc = sendmmsg(pl->rtp_fd, msgs + done, n - done, 0);
        if (rc >= 0)
            done += (unsigned)rc;
        else if (errno == EAGAIN) /* a full send buffer: the rest of the batch is lost */
            return;
        else if (errno != EINTR && errno != ECONNREFUSED)
            fail("sendmmsg");
    }
}

/* Sends the next packet of every participant in `phase`, in batches. */
static void send_phase(struct player *pl, unsigned phase)
{
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH][2];
    unsigned n = 0;
    for (unsigned i = phase; i < pl->count; i += PHASES) {
        struct part *p = &pl->parts[i];
        if (p->silent && p->marked)
            continue; /* a listener: its first packet only */
        uint8_t *h = p->header;
        h[0] = 0x80;
        h[1] = (uint8_t)(pl->pt | (p->marked ? 0 : 0x80));
        p->marked = true;
        put16(h + 2, p->seq++);
        put32(h + 4, p->ts);
        put32(h + 8, p->ssrc);
        p->ts += pl->stream->ts_step;
        iov[n][0] = (struct iovec){h, RTP_HEADER};
        iov[n][1] = (struct iovec){pl->stream->payload[p->frame], pl->stream->len[p->frame]};
        p->frame = (p->frame + 1) % LOOP_FRAMES;
        msgs[n].msg_hdr = (struct msghdr){
            .msg_name = &p->to, .msg_namelen = sizeof(p->to), .msg_iov = iov[n], .msg_iovlen = 2};
        if (++n == BATCH) {
            flush(pl, msgs, n);
            n = 0;
        }
    }
    flush(pl, msgs, n);
}

static void receive(struct player *pl, int fd, bool count)
{
    static uint8_t bufs[BATCH][1600];
    static struct sockaddr_in from[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    for (;;) {
        for (unsigned i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                              .msg_namelen = sizeof(from[i]),
                                              .msg_iov = &iov[i],
                                              .msg_iovlen = 1};
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int64_t now = now_ns();
        for (int i = 0; count && i < n; i++) {
            int32_t idx = pl->by_port[ntohs(from[i].sin_port)];
            if (!idx || msgs[i].msg_len < RTP_HEADER)
                continue;
            struct part *p = &pl->parts[idx - 1];
            p->received++;
            if (pl->measuring && (unsigned)idx <= pl->window_count && now - p->last_ns > p->gap_ns)
                p->gap_ns = now - p->last_ns;
            p->last_ns = now;
        }
        if (n < BATCH)
            return;
    }
}

static void on_timer(struct player *pl)
{
    uint64_t expirations = 0;
    if (read(pl->timer_fd, &expirations, sizeof(expirations)) < 0)
        return;
    if (expirations > MAX_CATCH_UP) {
        pl->phase += expirations - MAX_CATCH_UP;
        expirations = MAX_CATCH_UP;
    }
    for (; expirations; expirations--)
        send_phase(pl, (unsigned)(pl->phase++ % PHASES));
    receive(pl, pl->rtp_fd, true);
    receive(pl, pl->rtcp_fd, false);
}

static void window_start(struct player *pl, unsigned first)
{
    pl->window_ns = now_ns();
    pl->window_count = first && first < pl->count ? first : pl->count;
    for (unsigned i = 0; i < pl->count; i++) {
        struct part *p = &pl->parts[i];
        p->window_start = p->received;
        p->last_ns = pl->window_ns;
        p->gap_ns = 0;
    }
    pl->measuring = true;
}

static void window_stop(struct player *pl)
{
    int64_t now = now_ns();
    pl->measuring = false;
    double due = (double)(now - pl->window_ns) / (PTIME_MS * 1e6);
    uint64_t total = 0;
    unsigned count = pl->window_count;
    double worst = count ? 1e9 : 0;
    int64_t gap = 0;
    for (unsigned i = 0; i < count; i++) {
        struct part *p = &pl->parts[i];
        uint64_t got = p->received - p->window_start;
        int64_t g = p->gap_ns > now - p->last_ns ? p->gap_ns : now - p->last_ns;
        printf("p %u %llu %.1f %.1f\n", ntohs(p->to.sin_port), (unsigned long long)got, due,
               g / 1e6);
        total += got;
        worst = fmin(worst, got / due);
        gap = g > gap ? g : gap;
    }
    printf("window participants=%u received=%llu due=%.1f share=%.4f worst=%.4f gap_ms=%.1f\n",
           count, (unsigned long long)total, due * count, count ? total / (due * count) : 0.0,
           worst, gap / 1e6);
}

/* True to go on. */
static bool on_command(struct player *pl, char *line)
{
    unsigned port, first = 0;
    if (sscanf(line, "add %u", &port) == 1)
        add(pl, port, false);
    else if (sscanf(line, "silent %u", &port) == 1)
        add(pl, port, true);
    else if (sscanf(line, "start %u", &first) == 1 || !strncmp(line, "start", 5))
        window_start(pl, first);
    else if (!strncmp(line, "stop", 4))
        window_stop(pl);
    else if (!strncmp(line, "quit", 4))
        return false;
    else
        fprintf(stderr, "rtp_player: unknown command: %s", line);
    fflush(stdout);
    return true;
}

static bool on_stdin(struct player *pl)
{
    static char buf[65536];
    static size_t have;
    ssize_t n = read(STDIN_FILENO, buf + have, sizeof(buf) - 1 - have);
    if (n <= 0)
        return false; /* end of input: the driver went away */
    have += (size_t)n;
    buf[have] = '\0';
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
        *nl = '\0';
        if (!on_command(pl, line))
            return false;
        line = nl + 1;
    }
    have -= (size_t)(line - buf);
    memmove(buf, line, have);
    if (have == sizeof(buf) - 1)
        fail("command line too long");
    return true;
}

static void watch(struct player *pl, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(pl->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        fail("epoll_ctl");
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: rtp_player pcmu|g722|opus PAYLOAD_TYPE LOCAL_PORT SERVER_IP\n");
        return 2;
    }
    static struct player pl;
    pl.pt = atoi(argv[2]) & 0x7f;
    unsigned port = (unsigned)atoi(argv[3]);
    if (port == 0 || port > 65534 || inet_pton(AF_INET, argv[4], &pl.server) != 1) {
        fprintf(stderr, "rtp_player: bad port or server address\n");
        return 2;
    }
    srandom((unsigned)getpid() ^ (unsigned)now_ns());
    pl.stream = encode(argv[1]);
    pl.parts = calloc(MAX_PARTS, sizeof(struct part));
    if (!pl.parts)
        fail("out of memory");
    pl.rtp_fd = udp_socket(port);
    pl.rtcp_fd = udp_socket(port + 1);
    pl.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    pl.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (pl.epoll_fd < 0 || pl.timer_fd < 0)
        fail("epoll or timerfd");
    long period = PTIME_MS * 1000000L / PHASES;
    struct itimerspec its = {.it_interval = {0, period}, .it_value = {0, period}};
    if (timerfd_settime(pl.timer_fd, 0, &its, NULL) < 0)
        fail("timerfd_settime");
    watch(&pl, pl.timer_fd);
    watch(&pl, STDIN_FILENO);
    printf("ready\n");
    fflush(stdout);
    for (bool running = true; running;) {
        struct epoll_event ev[8];
        int n = epoll_wait(pl.epoll_fd, ev, 8, -1);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait");
        for (int i = 0; i < n && running; i++) {
            int fd = ev[i].data.fd;
            if (fd == pl.timer_fd)
                on_timer(&pl);
            else
                running = on_stdin(&pl);
        }
    }
    free(pl.parts);
    free(pl.stream);
    return 0;
}
