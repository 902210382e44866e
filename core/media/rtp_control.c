/*
 * rtp_control.c — changes to an RTP stream made on the main thread (see rtp.h): a negotiated
 * description applied in one step, or one setting at a time (remote address, codec, SRTP,
 * direction, DTMF, audio level id), the loopback, prompts queued or stopped. Each is posted to
 * the stream's media thread and run there in order.
 *
 * Thread: the public functions on the main thread; the run_* steps on the stream's thread.
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "media/rtp_internal.h"

#include "media/codec.h"
#include "media/jitter.h"
#include "media/rtp_tick.h"
#include "media/srtp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#define MAX_DELAY_MS      10000
#define JITTER_MIN_FRAMES 2
#define JITTER_MAX_FRAMES 16

/*
 * Changes made on the main thread are posted to the stream's thread without waiting (SIP goes
 * on): each op is a heap copy of its arguments, run there in order, which also frees what it
 * replaced. The main thread keeps its own copy of what it needs to decide (main_info).
 */
struct op {
    struct sylk_rtp_socket *s;
    void (*run)(struct op *op);
};

static void run_op(void *data)
{
    struct op *op = data;
    op->run(op);
    g_free(op);
}

static void post(struct sylk_rtp_socket *s, struct op *op, void (*run)(struct op *op))
{
    op->s = s;
    op->run = run;
    sylk_media_thread_post(s->thread, run_op, op);
}

struct set_remote {
    struct op op;
    struct sockaddr_storage rtp, rtcp;
    socklen_t len;
};

/* The SDP's address and ports as socket addresses; false for a bad or unspecified address. */
static bool resolve(const char *address, unsigned port, unsigned rtcp_port, struct set_remote *r)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai;
    if (!address || port == 0 || port > 65535 || getaddrinfo(address, NULL, &hints, &ai) != 0)
        return false;
    r->len = ai->ai_addrlen;
    memcpy(&r->rtp, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    r->rtcp = r->rtp;
    rtcp_port = rtcp_port && rtcp_port <= 65535 ? rtcp_port : port + 1;
    if (r->rtp.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&r->rtp;
        if (a->sin_addr.s_addr == htonl(INADDR_ANY)) /* c=0.0.0.0: RFC 2543 hold */
            return false;
        a->sin_port = htons((uint16_t)port);
        ((struct sockaddr_in *)&r->rtcp)->sin_port = htons((uint16_t)rtcp_port);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&r->rtp;
        if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
            return false;
        a->sin6_port = htons((uint16_t)port);
        ((struct sockaddr_in6 *)&r->rtcp)->sin6_port = htons((uint16_t)rtcp_port);
    }
    return true;
}

static void set_remote_now(struct sylk_rtp_socket *s, const struct set_remote *r)
{
    s->remote = s->sdp_remote = r->rtp;
    s->remote_rtcp = r->rtcp;
    s->remote_len = s->remote_rtcp_len = r->len;
}

static void run_set_remote(struct op *op)
{
    set_remote_now(op->s, (struct set_remote *)op);
}

int sylk_rtp_set_remote(struct sylk_rtp_socket *s, const char *address, unsigned port,
                        unsigned rtcp_port)
{
    struct set_remote r = {0};
    if (!resolve(address, port, rtcp_port, &r))
        return -EINVAL;
    post(s, g_memdup2(&r, sizeof(r)), run_set_remote);
    return 0;
}

struct set_dtmf {
    struct op op;
    int pt;
    unsigned clock;
    sylk_rtp_dtmf_fn fn;
    void *user_data;
};

static void set_dtmf_now(struct sylk_rtp_socket *s, const struct set_dtmf *d)
{
    s->dtmf_pt = d->pt;
    s->dtmf_clock = d->clock ? d->clock : 8000;
    s->dtmf_fn = d->fn;
    s->dtmf_data = d->user_data;
}

static void run_set_dtmf(struct op *op)
{
    set_dtmf_now(op->s, (struct set_dtmf *)op);
}

void sylk_rtp_set_dtmf(struct sylk_rtp_socket *s, int pt, unsigned clock, sylk_rtp_dtmf_fn fn,
                       void *user_data)
{
    struct set_dtmf d = {.pt = pt, .clock = clock, .fn = fn, .user_data = user_data};
    post(s, g_memdup2(&d, sizeof(d)), run_set_dtmf);
}

struct set_srtp {
    struct op op;
    struct sylk_srtp *srtp;
};

static void run_set_srtp(struct op *op)
{
    struct set_srtp *d = (struct set_srtp *)op;
    sylk_srtp_free(op->s->srtp);
    op->s->srtp = d->srtp;
}

void sylk_rtp_set_srtp(struct sylk_rtp_socket *s, struct sylk_srtp *srtp)
{
    struct set_srtp d = {.srtp = srtp};
    post(s, g_memdup2(&d, sizeof(d)), run_set_srtp);
}

struct set_codec {
    struct op op;
    const struct sylk_codec_info *info;
    struct sylk_codec_options options;
    int send_pt, recv_pt;
    struct sylk_codec *codec; /* NULL: the codec stays, only the payload types change */
    struct sylk_jitter *jitter;
};

static void set_codec_now(struct sylk_rtp_socket *s, const struct set_codec *c)
{
    s->send_pt = c->send_pt;
    s->recv_pt = c->recv_pt;
    if (c->codec) { /* a new codec: everything that depends on its rate starts again */
        sylk_codec_free(s->codec);
        sylk_jitter_free(s->jitter);
        s->codec = c->codec;
        s->jitter = c->jitter;
        s->info = c->info;
        s->options = c->options;
        s->concealed_run = 0;
        s->talkspurt = true;
        if (s->delay_len)
            memset(s->delay_len, 0, s->delay_frames * sizeof(unsigned));
    }
    sylk_rtp_update_ticker(s, s->thread);
}

static void run_set_codec(struct op *op)
{
    set_codec_now(op->s, (struct set_codec *)op);
}

/*
 * A new codec and jitter buffer when the codec or its options change, built here on the main
 * thread so the media thread never waits on an allocation. Decided on the main thread's own
 * record of what it asked for last (main_info), never on the media thread's state.
 */
static int prepare_codec(struct sylk_rtp_socket *s, const struct sylk_codec_info *info, int send_pt,
                         int recv_pt, const struct sylk_codec_options *options, struct set_codec *c)
{
    *c = (struct set_codec){.info = info, .send_pt = send_pt, .recv_pt = recv_pt};
    if (!info || send_pt < 0 || send_pt > 127)
        return -EINVAL;
    if (options)
        c->options = *options;
    c->options.complexity = s->ports->opus_complexity;
    if (s->main_info == info && sylk_codec_options_equal(&s->main_options, &c->options))
        return 0;
    c->codec = sylk_codec_new(info, &c->options);
    if (!c->codec)
        return -ENOMEM;
    c->jitter = sylk_jitter_new(JITTER_MIN_FRAMES, JITTER_MAX_FRAMES);
    s->main_info = info;
    s->main_options = c->options;
    return 0;
}

int sylk_rtp_set_codec(struct sylk_rtp_socket *s, const struct sylk_codec_info *info, int send_pt,
                       int recv_pt, const struct sylk_codec_options *options)
{
    struct set_codec c;
    int rc = prepare_codec(s, info, send_pt, recv_pt, options, &c);
    if (rc < 0)
        return rc;
    post(s, g_memdup2(&c, sizeof(c)), run_set_codec);
    return 0;
}

struct set_flags {
    struct op op;
    bool send, recv;
    unsigned level_id;
};

static void set_direction_now(struct sylk_rtp_socket *s, bool send, bool recv)
{
    if (!s->send && send)
        s->talkspurt = true;
    if (!s->recv && recv && s->jitter) /* back from hold: audio from before it is stale */
        sylk_jitter_reset(s->jitter);
    s->send = send;
    s->recv = recv;
}

static void run_set_direction(struct op *op)
{
    struct set_flags *f = (struct set_flags *)op;
    set_direction_now(op->s, f->send, f->recv);
}

void sylk_rtp_set_direction(struct sylk_rtp_socket *s, bool send, bool recv)
{
    struct set_flags f = {.send = send, .recv = recv};
    post(s, g_memdup2(&f, sizeof(f)), run_set_direction);
}

struct set_ice {
    struct op op;
    char *ufrag, *pwd;
};

static void run_set_ice(struct op *op)
{
    struct set_ice *i = (struct set_ice *)op;
    g_free(op->s->ice_ufrag);
    g_free(op->s->ice_pwd);
    op->s->ice_ufrag = i->ufrag; /* the stream's now */
    op->s->ice_pwd = i->pwd;
}

void sylk_rtp_set_ice(struct sylk_rtp_socket *s, const char *ufrag, const char *pwd)
{
    struct set_ice *i = g_new0(struct set_ice, 1);
    if (ufrag && pwd && *ufrag && *pwd) {
        i->ufrag = g_strdup(ufrag);
        i->pwd = g_strdup(pwd);
    }
    post(s, &i->op, run_set_ice);
}

struct ice_connect {
    struct op op;
    char *ufrag, *pwd;
    uint8_t tid[12];
    uint64_t tiebreaker;
};

static void run_ice_connect(struct op *op)
{
    struct ice_connect *i = (struct ice_connect *)op;
    struct sylk_rtp_socket *s = op->s;
    g_free(s->ice_rufrag);
    g_free(s->ice_rpwd);
    s->ice_rufrag = i->ufrag; /* the stream's now */
    s->ice_rpwd = i->pwd;
    memcpy(s->ice_tid, i->tid, sizeof(s->ice_tid));
    s->ice_tiebreaker = i->tiebreaker;
    s->ice_tries = 0;
    s->ice_nominated = false;
}

void sylk_rtp_ice_connect(struct sylk_rtp_socket *s, const char *rufrag, const char *rpwd)
{
    struct ice_connect *i = g_new0(struct ice_connect, 1);
    if (rufrag && rpwd && *rufrag && *rpwd) {
        i->ufrag = g_strdup(rufrag);
        i->pwd = g_strdup(rpwd);
    }
    for (size_t b = 0; b < sizeof(i->tid); b++)
        i->tid[b] = (uint8_t)g_random_int_range(0, 256);
    i->tiebreaker = (uint64_t)g_random_int() << 32 | g_random_int();
    post(s, &i->op, run_ice_connect);
}

static void run_set_level(struct op *op)
{
    op->s->audio_level_id = ((struct set_flags *)op)->level_id;
}

void sylk_rtp_set_audio_level_id(struct sylk_rtp_socket *s, unsigned id)
{
    struct set_flags f = {.level_id = id <= 14 ? id : 0};
    post(s, g_memdup2(&f, sizeof(f)), run_set_level);
}

struct set_loopback {
    struct op op;
    unsigned frames;
    int16_t *delay;
    unsigned *delay_len;
};

static void run_loopback(struct op *op)
{
    struct set_loopback *l = (struct set_loopback *)op;
    struct sylk_rtp_socket *s = op->s;
    g_free(s->delay);
    g_free(s->delay_len);
    s->loopback = true;
    s->delay = l->delay;
    s->delay_len = l->delay_len;
    s->delay_frames = l->frames;
    s->delay_pos = 0;
    sylk_rtp_update_ticker(s, s->thread);
}

int sylk_rtp_loopback(struct sylk_rtp_socket *s, unsigned delay_ms)
{
    if (delay_ms > MAX_DELAY_MS)
        return -EINVAL;
    struct set_loopback l = {.frames = delay_ms / SYLK_CODEC_FRAME_MS};
    if (l.frames) {
        l.delay = g_new(int16_t, (size_t)l.frames * SYLK_CODEC_MAX_FRAME);
        l.delay_len = g_new0(unsigned, l.frames);
    }
    post(s, g_memdup2(&l, sizeof(l)), run_loopback);
    return 0;
}

struct add_prompt {
    struct op op;
    struct prompt *prompt;
};

static void run_add_prompt(struct op *op)
{
    g_queue_push_tail(&op->s->prompts, ((struct add_prompt *)op)->prompt);
    sylk_rtp_update_ticker(op->s, op->s->thread);
}

int sylk_rtp_play(struct sylk_rtp_socket *s, struct sylk_player *player, sylk_rtp_play_done_fn done,
                  void *user_data)
{
    struct prompt *p = g_new(struct prompt, 1);
    p->player = player;
    p->id = ++s->next_play_id;
    struct play_done *pd = g_new(struct play_done, 1);
    pd->fn = done;
    pd->user_data = user_data;
    g_hash_table_insert(s->plays, GUINT_TO_POINTER(p->id), pd);
    struct add_prompt a = {.prompt = p};
    post(s, g_memdup2(&a, sizeof(a)), run_add_prompt);
    return 0;
}

static void run_stop_prompts(struct op *op)
{
    g_queue_clear_full(&op->s->prompts, sylk_rtp_prompt_free);
    sylk_rtp_update_ticker(op->s, op->s->thread);
}

void sylk_rtp_stop_prompts(struct sylk_rtp_socket *s)
{
    g_hash_table_remove_all(s->plays); /* completions on their way find nothing to call */
    post(s, g_new0(struct op, 1), run_stop_prompts);
}

struct apply {
    struct op op;
    struct sylk_rtp_params p; /* address not used on the thread */
    bool have_remote;
    struct set_remote remote;
    struct set_codec codec;
};

static void run_apply(struct op *op)
{
    struct apply *a = (struct apply *)op;
    struct sylk_rtp_socket *s = op->s;
    const struct sylk_rtp_params *p = &a->p;
    if (p->srtp_change) { /* first: nothing may go out or come in with the old keys */
        sylk_srtp_free(s->srtp);
        s->srtp = p->srtp;
    }
    if (a->have_remote && (s->remote_len != a->remote.len ||
                           memcmp(&s->sdp_remote, &a->remote.rtp, a->remote.len) != 0))
        set_remote_now(s, &a->remote);
    set_direction_now(s, p->send && a->have_remote, p->recv);
    struct set_dtmf t = {
        .pt = p->dtmf_pt, .clock = p->dtmf_clock, .fn = p->dtmf_fn, .user_data = p->dtmf_data};
    set_dtmf_now(s, &t);
    s->audio_level_id = p->audio_level_id <= 14 ? p->audio_level_id : 0;
    if (p->info)
        set_codec_now(s, &a->codec); /* last: with it the stream starts sending */
}

int sylk_rtp_apply(struct sylk_rtp_socket *s, const struct sylk_rtp_params *p)
{
    struct apply *a = g_new0(struct apply, 1);
    a->p = *p;
    a->p.address = NULL;
    a->have_remote = resolve(p->address, p->port, p->rtcp_port, &a->remote);
    int rc = p->info ? prepare_codec(s, p->info, p->pt, p->pt, &p->options, &a->codec) : 0;
    if (rc < 0) { /* the keys still change; nothing flows */
        a->p.info = NULL;
        a->p.send = a->p.recv = false;
    }
    post(s, &a->op, run_apply);
    return rc;
}
