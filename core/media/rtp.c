/*
 * rtp.c — an RTP audio stream on a media thread (see rtp.h): its life. A port pair bound from
 * the range, the stream placed on a media thread, moved to another (a mixer's), its counters,
 * and its close, which the media thread finishes. The other parts are listed in
 * rtp_internal.h.
 *
 * Thread: main thread; do_close (in two steps: the stream let go before the next tick, the
 * rest after it) and the attach/detach steps of a move run on the stream's media thread.
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "media/rtp_internal.h"

#include "media/codec.h"
#include "media/jitter.h"
#include "media/player.h"
#include "media/rtp_recv.h"
#include "media/rtp_tick.h"
#include "media/srtp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

void sylk_rtp_unref(struct sylk_rtp_socket *s)
{
    if (!g_atomic_int_dec_and_test(&s->refs))
        return;
    if (s->plays)
        g_hash_table_destroy(s->plays);
    g_free(s);
}

static int bind_udp(const struct addrinfo *ai, unsigned port)
{
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void do_attach_thread(void *data)
{
    struct sylk_rtp_socket *s = data;
    for (int i = 0; i < 2; i++)
        sylk_media_thread_watch(s->thread, &s->watch[i]);
    sylk_rtp_update_ticker(s, s->thread);
}

static void do_detach_thread(void *data)
{
    struct sylk_rtp_socket *s = data;
    for (int i = 0; i < 2; i++)
        sylk_media_thread_unwatch(s->thread, &s->watch[i]);
    sylk_media_thread_remove_ticker(s->thread, &s->ticker);
}

int sylk_rtp_open(struct sylk_rtp_ports *ports, const char *local_ip,
                  struct sylk_media_engine *engine, struct sylk_rtp_socket **out)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai;
    if (getaddrinfo(local_ip, NULL, &hints, &ai) != 0)
        return -EINVAL;
    unsigned pairs = (ports->max - ports->min + 1) / 2;
    bool recently_full =
        ports->full_since && g_get_monotonic_time() - ports->full_since < G_USEC_PER_SEC;
    if (recently_full || ports->in_use >= pairs) {
        freeaddrinfo(ai);
        return -EADDRINUSE;
    }
    int fd[2] = {-1, -1};
    unsigned port = 0;
    for (unsigned tries = 0; tries < pairs && fd[1] < 0; tries++) {
        if (ports->next < ports->min || ports->next + 1 > ports->max)
            ports->next = ports->min;
        port = ports->next;
        ports->next += 2;
        fd[0] = bind_udp(ai, port);
        if (fd[0] < 0)
            continue;
        fd[1] = bind_udp(ai, port + 1);
        if (fd[1] < 0)
            close(fd[0]);
    }
    freeaddrinfo(ai);
    if (fd[1] < 0) {
        g_debug("no free RTP port pair in %u:%u", ports->min, ports->max); /* see server.c */
        ports->full_since = g_get_monotonic_time();
        return -EADDRINUSE;
    }
    struct sylk_rtp_socket *s = g_new0(struct sylk_rtp_socket, 1);
    s->refs = 1;
    s->ports = ports;
    ports->in_use++;
    s->port = port;
    s->plays = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    s->watch[0] = (struct sylk_media_watch){.fd = fd[0], .readable = sylk_rtp_on_rtp};
    s->watch[1] = (struct sylk_media_watch){.fd = fd[1], .readable = sylk_rtp_on_rtcp};
    s->ticker.tick = sylk_rtp_stream_tick;
    s->send = s->recv = true;
    s->dtmf_pt = s->send_pt = s->recv_pt = -1;
    s->tx_ssrc = g_random_int();
    s->tx_seq = (uint16_t)g_random_int();
    s->tx_ts = g_random_int();
    s->talkspurt = true;
    g_snprintf(s->cname, sizeof(s->cname), "sylk-%08x", g_random_int());
    g_queue_init(&s->prompts);
    s->thread = sylk_media_engine_pick(engine);
    sylk_media_thread_load(s->thread, 1);
    /* No call needed: epoll_ctl may be used from any thread, the stream is complete before
     * its sockets are watched, and it has nothing to tick until a description applies. */
    for (int i = 0; i < 2; i++)
        sylk_media_thread_watch(s->thread, &s->watch[i]);
    *out = s;
    return 0;
}

unsigned sylk_rtp_port(const struct sylk_rtp_socket *s)
{
    return s->port;
}

int64_t sylk_rtp_last_in(const struct sylk_rtp_socket *s)
{
    return __atomic_load_n(&s->stats.last_in_us, __ATOMIC_RELAXED);
}

struct get_stats {
    struct sylk_rtp_socket *s;
    struct sylk_rtp_stats *out;
};

static void do_get_stats(void *data)
{
    struct get_stats *g = data;
    *g->out = g->s->stats;
}

void sylk_rtp_get_stats(struct sylk_rtp_socket *s, struct sylk_rtp_stats *out)
{
    struct get_stats g = {s, out};
    sylk_media_thread_call(s->thread, do_get_stats, &g);
}

const struct sylk_codec_info *sylk_rtp_main_codec(const struct sylk_rtp_socket *s,
                                                  const struct sylk_codec_options **options)
{
    *options = &s->main_options;
    return s->main_info;
}

struct sylk_media_thread *sylk_rtp_thread(const struct sylk_rtp_socket *s)
{
    return s->thread;
}

void sylk_rtp_move(struct sylk_rtp_socket *s, struct sylk_media_thread *to)
{
    if (s->thread == to)
        return;
    sylk_media_thread_call(s->thread, do_detach_thread, s);
    sylk_media_thread_load(s->thread, -1);
    s->thread = to;
    sylk_media_thread_load(to, 1);
    sylk_media_thread_call(to, do_attach_thread, s);
}

void sylk_rtp_prompt_free(gpointer data)
{
    struct prompt *p = data;
    sylk_player_free(p->player);
    g_free(p);
}

/* The second half of a close: the stream's counters logged, its sockets closed, what it owned
 * freed. Posted by do_close to its own thread, so it runs after the wake-up's ticks. */
static void do_close_finish(void *data)
{
    struct sylk_rtp_socket *s = data;
    const struct sylk_rtp_stats *st = &s->stats;
    g_info("RTP port %u closed: %" G_GUINT64_FORMAT " packets in, %" G_GUINT64_FORMAT
           " out, %" G_GUINT64_FORMAT " dropped, %" G_GUINT64_FORMAT " STUN (%" G_GUINT64_FORMAT
           " ICE checks answered, %" G_GUINT64_FORMAT " sent), %" G_GUINT64_FORMAT
           " DTLS (not spoken), RTCP %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT
           " out, %" G_GUINT64_FORMAT " frames decoded, %" G_GUINT64_FORMAT
           " concealed, %" G_GUINT64_FORMAT " recovered by FEC, %" G_GUINT64_FORMAT
           " silent by audio level",
           s->port, st->packets_in, st->packets_out, st->dropped, st->stun, st->ice_answers,
           st->ice_checks, st->dtls, st->rtcp_in, st->rtcp_out, st->decoded, st->concealed,
           st->recovered, st->skipped);
    for (int i = 0; i < 2; i++)
        close(s->watch[i].fd);
    g_queue_clear_full(&s->prompts, sylk_rtp_prompt_free);
    sylk_srtp_free(s->srtp);
    g_free(s->ice_ufrag);
    g_free(s->ice_pwd);
    g_free(s->ice_rufrag);
    g_free(s->ice_rpwd);
    sylk_codec_free(s->codec);
    sylk_jitter_free(s->jitter);
    g_free(s->delay);
    g_free(s->delay_len);
    sylk_rtp_unref(s);
}

/*
 * The stream's thread lets it go at once (out of the watch set, the tickers and its mixer);
 * the rest (about 40 us: the log line, two close(2), the frees) waits until after the ticks.
 */
static void do_close(void *data)
{
    struct sylk_rtp_socket *s = data;
    do_detach_thread(s);
    if (s->consumer && s->detached)
        s->detached(s->consumer, s);
    s->consumer = NULL;
    sylk_media_thread_post(s->thread, do_close_finish, s);
}

/*
 * Posted, not waited for: the call's teardown does not wait on the media thread. Events already
 * on their way to the main loop hold references and see `closing`.
 */
void sylk_rtp_close(struct sylk_rtp_socket *s)
{
    if (!s)
        return;
    s->closing = true;
    s->ports->in_use--;
    s->ports->full_since = 0; /* its pair is free again once its thread has closed it */
    g_hash_table_remove_all(s->plays);
    sylk_media_thread_load(s->thread, -1);
    sylk_media_thread_post(s->thread, do_close, s);
}
