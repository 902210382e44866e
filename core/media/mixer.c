/*
 * mixer.c — the conference mixer on a media thread. See mixer.h.
 */
#define G_LOG_DOMAIN "sylk-mixer"
#include "mixer.h"

#include "media/codec.h"
#include "media/engine.h"
#include "media/mixcore.h"
#include "media/player.h"

#include <errno.h>
#include <speex/speex_resampler.h>
#include <string.h>

#define RESAMPLER_QUALITY 3 /* speexdsp's VoIP setting */

/* A rate converter made when first needed and remade when either rate changes. */
struct converter {
    SpeexResamplerState *rs;
    unsigned in, out;
};

/* The plain mix encoded once per codec and options for every non-speaker using them. */
struct group {
    const struct sylk_codec_info *info;
    struct sylk_codec_options options;
    struct sylk_codec *codec;
    struct converter down;
    unsigned users;
    uint64_t encoded_tick; /* the payload below is this tick's */
    int len;               /* <= 0: encoding failed this tick */
    uint8_t payload[SYLK_CODEC_MAX_PAYLOAD];
};

struct group_key {
    const struct sylk_codec_info *info;
    struct sylk_codec_options options;
};

struct member {
    struct sylk_rtp_socket *s;
    int slot;
    bool muted, held;
    struct converter up, down;
    struct group *group;
};

struct mixer_prompt {
    struct sylk_player *player;
    guint id;
};

struct sylk_mixer {
    gint refs;
    /* main thread */
    struct sylk_media_thread *thread;
    bool closing;
    GHashTable *plays; /* prompt id -> struct mixer_done */
    guint next_play_id;
    unsigned max_speakers;
    GPtrArray *main_groups; /* struct group_key: the groups handed over (they stay to the end) */

    /* media thread */
    struct sylk_media_ticker ticker;
    struct sylk_mixcore *core;
    unsigned rate; /* of the mix */
    GPtrArray *members;
    GPtrArray *groups;
    GQueue prompts;
    bool prompt_on; /* prompt_pcm holds this tick's prompt audio */
    int16_t prompt_pcm[SYLK_MIX_FRAME];
    uint64_t tick;
};

struct mixer_done {
    sylk_rtp_play_done_fn fn;
    void *user_data;
};

static void mixer_unref(struct sylk_mixer *m)
{
    if (!g_atomic_int_dec_and_test(&m->refs))
        return;
    g_hash_table_destroy(m->plays);
    g_free(m);
}

/* Converts n samples; returns the samples written (a frame at the output rate). */
static unsigned convert(struct converter *c, unsigned in_rate, unsigned out_rate, const int16_t *in,
                        unsigned n, int16_t *out, unsigned max)
{
    if (in_rate == out_rate) {
        n = MIN(n, max);
        memcpy(out, in, n * sizeof(int16_t));
        return n;
    }
    if (!c->rs || c->in != in_rate || c->out != out_rate) {
        if (c->rs)
            speex_resampler_destroy(c->rs);
        c->rs = speex_resampler_init(1, in_rate, out_rate, RESAMPLER_QUALITY, NULL);
        c->in = in_rate;
        c->out = out_rate;
        if (!c->rs)
            return 0;
        speex_resampler_skip_zeros(c->rs);
    }
    spx_uint32_t in_len = n, out_len = max;
    speex_resampler_process_int(c->rs, 0, in, &in_len, out, &out_len);
    unsigned want = out_rate / (1000 / SYLK_CODEC_FRAME_MS);
    if (out_len < want && want <= max) { /* the filter's start-up delay: pad with silence */
        memmove(out + (want - out_len), out, out_len * sizeof(int16_t));
        memset(out, 0, (want - out_len) * sizeof(int16_t));
        out_len = want;
    }
    return out_len;
}

static void converter_clear(struct converter *c)
{
    if (c->rs)
        speex_resampler_destroy(c->rs);
    c->rs = NULL;
}

/* ----------------------------------------------------------- on the media thread --- */

static struct group *find_group(struct sylk_mixer *m, const struct sylk_codec_info *info,
                                const struct sylk_codec_options *opt)
{
    for (guint i = 0; i < m->groups->len; i++) {
        struct group *g = g_ptr_array_index(m->groups, i);
        if (g->info == info && sylk_codec_options_equal(&g->options, opt))
            return g;
    }
    return NULL;
}

/* A group with its encoder: `codec` when one was built on the main thread, else built here. */
static struct group *new_group(struct sylk_mixer *m, const struct sylk_codec_info *info,
                               const struct sylk_codec_options *opt, struct sylk_codec *codec)
{
    struct group *g = g_new0(struct group, 1);
    g->info = info;
    g->options = *opt;
    g->codec = codec ? codec : sylk_codec_new(info, opt);
    if (!g->codec) {
        g_free(g);
        return NULL;
    }
    g_ptr_array_add(m->groups, g);
    return g;
}

/*
 * The group of the stream's codec. Its encoder was built on the main thread when the stream
 * joined (sylk_mixer_add); only a codec changed by a re-INVITE to one the room had not used
 * has its encoder built here, on the tick.
 */
static struct group *group_for(struct sylk_mixer *m, struct sylk_rtp_socket *s)
{
    const struct sylk_codec_info *info = sylk_rtp_codec(s);
    const struct sylk_codec_options *opt = sylk_rtp_codec_options(s);
    if (!info)
        return NULL;
    struct group *g = find_group(m, info, opt);
    return g ? g : new_group(m, info, opt, NULL);
}

/* A group stays when nobody uses it any more (its encoder is not built again, and the main
 * thread's record of the groups stays true); the mixer's end frees it. */
static void group_release(struct sylk_mixer *m, struct group *g)
{
    (void)m;
    if (g)
        g->users--;
}

static void group_free(gpointer data)
{
    struct group *g = data;
    converter_clear(&g->down);
    sylk_codec_free(g->codec);
    g_free(g);
}

/* The member's group follows its codec (a re-INVITE may change it). */
static struct group *member_group(struct sylk_mixer *m, struct member *p)
{
    const struct sylk_codec_info *info = sylk_rtp_codec(p->s);
    if (p->group && p->group->info == info &&
        sylk_codec_options_equal(&p->group->options, sylk_rtp_codec_options(p->s)))
        return p->group;
    group_release(m, p->group);
    p->group = group_for(m, p->s);
    if (p->group)
        p->group->users++;
    return p->group;
}

/* A new mix at a higher rate: every participant gets a slot in it again. */
static void rebuild_core(struct sylk_mixer *m, unsigned rate)
{
    sylk_mixcore_free(m->core);
    m->core = sylk_mixcore_new(m->max_speakers, rate);
    m->rate = rate;
    for (guint i = 0; i < m->members->len; i++) {
        struct member *p = g_ptr_array_index(m->members, i);
        p->slot = sylk_mixcore_add(m->core);
        sylk_mixcore_mute(m->core, p->slot, p->muted || p->held);
    }
}

/* The mix runs at the highest rate a participant's codec needs now (up or down). */
static void ensure_rate(struct sylk_mixer *m)
{
    unsigned rate = 8000;
    for (guint i = 0; i < m->members->len; i++) {
        const struct member *p = g_ptr_array_index(m->members, i);
        const struct sylk_codec_info *info = sylk_rtp_codec(p->s);
        if (info)
            rate = MAX(rate, info->rate);
    }
    if (rate != m->rate || !m->core)
        rebuild_core(m, rate);
}

struct prompt_done {
    struct sylk_mixer *m;
    guint id;
};

static void prompt_done_on_main(void *data)
{
    struct prompt_done *d = data;
    struct mixer_done *found =
        d->m->closing ? NULL : g_hash_table_lookup(d->m->plays, GUINT_TO_POINTER(d->id));
    if (found) {
        struct mixer_done md = *found;
        g_hash_table_remove(d->m->plays, GUINT_TO_POINTER(d->id));
        if (md.fn)
            md.fn(md.user_data);
    }
    mixer_unref(d->m);
    g_free(d);
}

/*
 * This tick's prompt audio, outside the speaker selection: a prompt is heard even when
 * max_speakers people talk, and pushes none of them out of the mix.
 */
static void play_prompts(struct sylk_mixer *m, unsigned frame)
{
    struct mixer_prompt *p;
    memset(m->prompt_pcm, 0, frame * sizeof(int16_t));
    while ((p = g_queue_peek_head(&m->prompts))) {
        if (sylk_player_mix(p->player, m->prompt_pcm, m->rate, frame)) {
            m->prompt_on = true;
            return;
        }
        g_queue_pop_head(&m->prompts);
        struct prompt_done *d = g_new(struct prompt_done, 1);
        g_atomic_int_inc(&m->refs);
        d->m = m;
        d->id = p->id;
        sylk_media_post_main(prompt_done_on_main, d);
        sylk_player_free(p->player);
        g_free(p);
    }
    m->prompt_on = false;
}

/* What a participant hears: its mix, with the room's prompt over it when one plays. */
static const int16_t *with_prompt(const struct sylk_mixer *m, const int16_t *mix, unsigned frame,
                                  int16_t *buf)
{
    if (!m->prompt_on)
        return mix;
    for (unsigned i = 0; i < frame; i++)
        buf[i] = (int16_t)CLAMP(mix[i] + m->prompt_pcm[i], INT16_MIN, INT16_MAX);
    return buf;
}

static void pull_member(struct sylk_mixer *m, struct member *p, unsigned frame)
{
    const struct sylk_codec_info *info = sylk_rtp_codec(p->s);
    int16_t in[SYLK_CODEC_MAX_FRAME], at_rate[SYLK_MIX_FRAME];
    unsigned n = info ? sylk_rtp_pull(p->s, in, G_N_ELEMENTS(in)) : 0;
    /* A caller who put us on hold is not heard either: its music on hold stays out. */
    if (n == 0 || p->held || p->muted || sylk_rtp_on_hold(p->s) ||
        convert(&p->up, info->rate, m->rate, in, n, at_rate, G_N_ELEMENTS(at_rate)) != frame)
        return; /* silence this tick */
    sylk_mixcore_put(m->core, p->slot, at_rate);
}

static void send_member(struct sylk_mixer *m, struct member *p, unsigned frame)
{
    const struct sylk_codec_info *info = sylk_rtp_codec(p->s);
    if (p->held || !info || !sylk_rtp_sending(p->s)) {
        if (info) { /* its own prompts still play out (into nothing), so they finish */
            int16_t scratch[SYLK_CODEC_MAX_FRAME] = {0};
            sylk_rtp_mix_prompts(p->s, scratch, info->rate / (1000 / SYLK_CODEC_FRAME_MS));
        }
        sylk_rtp_skip(p->s);
        return;
    }
    bool shared;
    int16_t buf[SYLK_MIX_FRAME];
    const int16_t *heard = sylk_mixcore_output(m->core, p->slot, &shared);
    struct group *g = member_group(m, p);
    if (shared && g && !sylk_rtp_has_prompts(p->s)) {
        /* Only the first listener of this codec this tick costs more than a send. */
        if (g->encoded_tick != m->tick) {
            const int16_t *mix = with_prompt(m, heard, frame, buf);
            int16_t pcm[SYLK_CODEC_MAX_FRAME];
            unsigned n = convert(&g->down, m->rate, info->rate, mix, frame, pcm, G_N_ELEMENTS(pcm));
            g->len = n == sylk_codec_frame_samples(g->codec)
                         ? sylk_codec_encode(g->codec, pcm, g->payload, sizeof(g->payload))
                         : -EINVAL;
            g->encoded_tick = m->tick;
        }
        if (g->len > 0)
            sylk_rtp_send_payload(p->s, g->payload, (size_t)g->len);
        else
            sylk_rtp_skip(p->s);
        return;
    }
    const int16_t *mix = with_prompt(m, heard, frame, buf);
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    unsigned n = convert(&p->down, m->rate, info->rate, mix, frame, pcm, G_N_ELEMENTS(pcm));
    sylk_rtp_mix_prompts(p->s, pcm, n);
    sylk_rtp_push(p->s, pcm, n);
}

static void mixer_tick(struct sylk_media_ticker *k, uint64_t tick)
{
    struct sylk_mixer *m = (struct sylk_mixer *)((char *)k - offsetof(struct sylk_mixer, ticker));
    (void)tick;
    m->tick++;
    ensure_rate(m);
    unsigned frame = sylk_mixcore_frame(m->core);
    for (guint i = 0; i < m->members->len; i++)
        pull_member(m, g_ptr_array_index(m->members, i), frame);
    play_prompts(m, frame);
    sylk_mixcore_tick(m->core);
    for (guint i = 0; i < m->members->len; i++) {
        struct member *p = g_ptr_array_index(m->members, i);
        send_member(m, p, frame);
        sylk_rtp_housekeeping(p->s);
    }
}

static struct member *find_member(struct sylk_mixer *m, struct sylk_rtp_socket *s)
{
    for (guint i = 0; i < m->members->len; i++) {
        struct member *p = g_ptr_array_index(m->members, i);
        if (p->s == s)
            return p;
    }
    return NULL;
}

static void member_free(struct sylk_mixer *m, struct member *p)
{
    if (m->core)
        sylk_mixcore_remove(m->core, p->slot);
    converter_clear(&p->up);
    converter_clear(&p->down);
    group_release(m, p->group);
    g_ptr_array_remove_fast(m->members, p);
    g_free(p);
}

/* The stream closed while in the mixer (media thread, from its close). */
static void member_detached(void *consumer, struct sylk_rtp_socket *s)
{
    struct sylk_mixer *m = consumer;
    struct member *p = find_member(m, s);
    if (p)
        member_free(m, p);
}

/* ----------------------------------------------------------- calls from main --- */

struct mixer_op {
    struct sylk_mixer *m;
    struct sylk_rtp_socket *s;
    bool flag, hold; /* mute or hold, and the new value */
    int rc;
    void *ptr;
};

static void do_start(void *data)
{
    struct mixer_op *op = data;
    sylk_media_thread_add_ticker(op->m->thread, &op->m->ticker);
}

struct sylk_mixer *sylk_mixer_new(struct sylk_media_engine *engine, unsigned max_speakers)
{
    struct sylk_mixer *m = g_new0(struct sylk_mixer, 1);
    m->refs = 1;
    m->plays = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    m->max_speakers = max_speakers;
    m->members = g_ptr_array_new();
    m->groups = g_ptr_array_new_with_free_func(group_free);
    m->main_groups = g_ptr_array_new_with_free_func(g_free);
    g_queue_init(&m->prompts);
    m->rate = 8000;                                    /* grows with the participants' codecs */
    m->core = sylk_mixcore_new(max_speakers, m->rate); /* here: the media thread only ticks it */
    m->ticker.tick = mixer_tick;
    m->thread = sylk_media_engine_pick(engine);
    sylk_media_thread_load(m->thread, 1);
    struct mixer_op op = {.m = m};
    sylk_media_thread_call(m->thread, do_start, &op);
    return m;
}

static void do_free(void *data)
{
    struct sylk_mixer *m = ((struct mixer_op *)data)->m;
    sylk_media_thread_remove_ticker(m->thread, &m->ticker);
    while (m->members->len) {
        struct member *p = g_ptr_array_index(m->members, 0);
        sylk_rtp_detach(p->s);
        member_free(m, p);
    }
}

static void mixer_prompt_free(gpointer data)
{
    struct mixer_prompt *p = data;
    sylk_player_free(p->player);
    g_free(p);
}

static void do_stop_prompts(void *data)
{
    struct sylk_mixer *m = ((struct mixer_op *)data)->m;
    g_queue_clear_full(&m->prompts, mixer_prompt_free);
    m->prompt_on = false;
}

void sylk_mixer_stop_prompts(struct sylk_mixer *m)
{
    g_hash_table_remove_all(m->plays); /* completions on their way find nothing to call */
    struct mixer_op op = {.m = m};
    sylk_media_thread_call(m->thread, do_stop_prompts, &op);
}

void sylk_mixer_free(struct sylk_mixer *m)
{
    if (!m)
        return;
    m->closing = true;
    struct mixer_op op = {.m = m};
    sylk_media_thread_call(m->thread, do_free, &op);
    sylk_media_thread_load(m->thread, -1);
    g_queue_clear_full(&m->prompts, mixer_prompt_free);
    g_hash_table_remove_all(m->plays);
    sylk_mixcore_free(m->core);
    g_ptr_array_free(m->members, TRUE);
    g_ptr_array_free(m->groups, TRUE);
    g_ptr_array_free(m->main_groups, TRUE);
    mixer_unref(m);
}

static void do_attached(void *data)
{
    struct mixer_op *op = data;
    op->flag = sylk_rtp_consumer(op->s) != NULL;
}

static void do_add(void *data)
{
    struct mixer_op *op = data;
    struct sylk_mixer *m = op->m;
    struct member *p = g_new0(struct member, 1);
    p->s = op->s;
    p->slot = sylk_mixcore_add(m->core);
    if (p->slot < 0) {
        op->rc = p->slot;
        g_free(p);
        return;
    }
    g_ptr_array_add(m->members, p);
    sylk_rtp_attach(op->s, m, member_detached);
    const struct sylk_codec_info *info = sylk_rtp_codec(op->s);
    const struct sylk_codec_options *opt = sylk_rtp_codec_options(op->s);
    if (!info)
        return;
    if (op->ptr && !find_group(m, info, opt) && new_group(m, info, opt, op->ptr))
        op->ptr = NULL;                          /* taken */
    op->flag = find_group(m, info, opt) != NULL; /* the room has its group now */
}

static bool main_has_group(struct sylk_mixer *m, const struct sylk_codec_info *info,
                           const struct sylk_codec_options *opt)
{
    for (guint i = 0; i < m->main_groups->len; i++) {
        const struct group_key *k = g_ptr_array_index(m->main_groups, i);
        if (k->info == info && sylk_codec_options_equal(&k->options, opt))
            return true;
    }
    return false;
}

int sylk_mixer_add(struct sylk_mixer *m, struct sylk_rtp_socket *s)
{
    struct mixer_op op = {.m = m, .s = s};
    sylk_media_thread_call(sylk_rtp_thread(s), do_attached, &op);
    if (op.flag)
        return -EALREADY;
    sylk_rtp_move(s, m->thread);
    /* The encoder of the room's common mix for the stream's codec is built here when the room
     * has none for it yet (an opus encoder costs about 40 us): the media thread takes it
     * ready. The main thread's record of the room's groups says when (groups stay). */
    const struct sylk_codec_options *opt;
    const struct sylk_codec_info *info = sylk_rtp_main_codec(s, &opt);
    bool known = !info || main_has_group(m, info, opt);
    op.ptr = known ? NULL : sylk_codec_new(info, opt);
    op.flag = false;
    sylk_media_thread_call(m->thread, do_add, &op);
    sylk_codec_free(op.ptr); /* not taken: the room had the group already, or failed */
    if (!known && op.flag) {
        struct group_key *k = g_new(struct group_key, 1);
        *k = (struct group_key){info, *opt};
        g_ptr_array_add(m->main_groups, k);
    }
    return op.rc;
}

static void do_remove(void *data)
{
    struct mixer_op *op = data;
    struct member *p = find_member(op->m, op->s);
    if (!p) {
        op->rc = -ENOENT;
        return;
    }
    sylk_rtp_detach(op->s);
    member_free(op->m, p);
}

int sylk_mixer_remove(struct sylk_mixer *m, struct sylk_rtp_socket *s)
{
    struct mixer_op op = {.m = m, .s = s};
    if (sylk_rtp_thread(s) != m->thread)
        return -ENOENT;
    sylk_media_thread_call(m->thread, do_remove, &op);
    return op.rc;
}

static void do_flags(void *data)
{
    struct mixer_op *op = data;
    struct member *p = find_member(op->m, op->s);
    if (!p) {
        op->rc = -ENOENT;
        return;
    }
    if (op->hold)
        p->held = op->flag;
    else
        p->muted = op->flag;
    sylk_mixcore_mute(op->m->core, p->slot, p->muted || p->held);
}

int sylk_mixer_mute(struct sylk_mixer *m, struct sylk_rtp_socket *s, bool muted)
{
    struct mixer_op op = {.m = m, .s = s, .flag = muted};
    if (sylk_rtp_thread(s) != m->thread)
        return -ENOENT;
    sylk_media_thread_call(m->thread, do_flags, &op);
    return op.rc;
}

int sylk_mixer_hold(struct sylk_mixer *m, struct sylk_rtp_socket *s, bool held)
{
    struct mixer_op op = {.m = m, .s = s, .flag = held, .hold = true};
    if (sylk_rtp_thread(s) != m->thread)
        return -ENOENT;
    sylk_media_thread_call(m->thread, do_flags, &op);
    return op.rc;
}

static void do_count(void *data)
{
    struct mixer_op *op = data;
    op->rc = (int)op->m->members->len;
}

unsigned sylk_mixer_count(struct sylk_mixer *m)
{
    struct mixer_op op = {.m = m};
    sylk_media_thread_call(m->thread, do_count, &op);
    return (unsigned)op.rc;
}

static void do_play(void *data)
{
    struct mixer_op *op = data;
    g_queue_push_tail(&op->m->prompts, op->ptr);
}

int sylk_mixer_play(struct sylk_mixer *m, struct sylk_player *player, sylk_rtp_play_done_fn done,
                    void *user_data)
{
    struct mixer_prompt *p = g_new(struct mixer_prompt, 1);
    p->player = player;
    p->id = ++m->next_play_id;
    struct mixer_done *md = g_new(struct mixer_done, 1);
    md->fn = done;
    md->user_data = user_data;
    g_hash_table_insert(m->plays, GUINT_TO_POINTER(p->id), md);
    struct mixer_op op = {.m = m, .ptr = p};
    sylk_media_thread_call(m->thread, do_play, &op);
    return 0;
}
