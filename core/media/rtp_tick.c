/*
 * rtp_tick.c — what an RTP stream plays (see rtp_tick.h): each 20 ms tick decodes one frame
 * (or conceals a lost one), feeds the loopback delay line, mixes prompts in and sends; or a
 * mixer attached to the stream pulls its frames and pushes what it hears instead.
 *
 * Thread: the stream's media thread; prompt completions run on the main thread
 * (prompt_done_on_main).
 */
#define G_LOG_DOMAIN "sylk-rtp"
#include "media/rtp_tick.h"

#include "media/codec.h"
#include "media/jitter.h"
#include "media/player.h"

#include <string.h>

#define MAX_CONCEALED 5  /* then the sender is taken as silent (DTX): nothing is decoded */
#define SILENT_LEVEL  50 /* RFC 6464 level (-dBov) from which a frame is not decoded */

bool sylk_rtp_wants_audio(const struct sylk_rtp_socket *s)
{
    return s->codec && s->recv && (s->loopback || s->consumer);
}

unsigned sylk_rtp_pull(struct sylk_rtp_socket *s, int16_t *pcm, unsigned max)
{
    if (!sylk_rtp_wants_audio(s))
        return 0;
    uint8_t payload[SYLK_JITTER_MAX_PAYLOAD];
    size_t len = 0;
    int n = 0;
    uint64_t lost = sylk_jitter_stats(s->jitter)->lost;
    enum sylk_jitter_result got = sylk_jitter_get(s->jitter, payload, &len);
    sylk_media_count(s->watch[0].thread, SYLK_MEDIA_RTP_LOST,
                     sylk_jitter_stats(s->jitter)->lost - lost);
    switch (got) {
    case SYLK_JITTER_FRAME:
        /* RFC 6464: the sender says this frame is silence, so it is not decoded at all. */
        if (len < 1 || (payload[0] != NO_LEVEL && payload[0] >= SILENT_LEVEL)) {
            s->stats.skipped++;
            s->concealed_run = MAX_CONCEALED; /* a gap after silence is no loss */
            break;
        }
        n = sylk_codec_decode(s->codec, payload + 1, len - 1, pcm, max);
        if (n > 0) {
            s->stats.decoded++;
            s->concealed_run = 0;
        }
        break;
    case SYLK_JITTER_LOST:
        if (s->concealed_run >= MAX_CONCEALED)
            break; /* a sender in DTX, not a loss */
        s->concealed_run++;
        if (sylk_jitter_peek(s->jitter, payload, &len) && len > 1 &&
            (n = sylk_codec_recover(s->codec, payload + 1, len - 1, pcm, max)) > 0) {
            s->stats.recovered++;
            break;
        }
        n = sylk_codec_conceal(s->codec, pcm, max);
        s->stats.concealed++;
        sylk_media_count(s->watch[0].thread, SYLK_MEDIA_RTP_CONCEALED, 1);
        break;
    case SYLK_JITTER_BUFFER:
        break;
    }
    return n > 0 ? (unsigned)n : 0;
}

bool sylk_rtp_has_prompts(const struct sylk_rtp_socket *s)
{
    return s->prompts.length > 0;
}

struct prompt_done {
    struct sylk_rtp_socket *s;
    guint id;
};

static void prompt_done_on_main(void *data)
{
    struct prompt_done *d = data;
    struct play_done pd;
    struct play_done *found =
        d->s->closing ? NULL : g_hash_table_lookup(d->s->plays, GUINT_TO_POINTER(d->id));
    if (found) {
        pd = *found;
        g_hash_table_remove(d->s->plays, GUINT_TO_POINTER(d->id));
        if (pd.fn)
            pd.fn(pd.user_data);
    }
    sylk_rtp_unref(d->s);
    g_free(d);
}

bool sylk_rtp_mix_prompts(struct sylk_rtp_socket *s, int16_t *pcm, unsigned samples)
{
    struct prompt *p;
    while (s->info && (p = g_queue_peek_head(&s->prompts))) {
        if (sylk_player_mix(p->player, pcm, s->info->rate, samples))
            return true;
        g_queue_pop_head(&s->prompts);
        struct prompt_done *d = g_new(struct prompt_done, 1);
        g_atomic_int_inc(&s->refs);
        d->s = s;
        d->id = p->id;
        sylk_media_post_main(prompt_done_on_main, d);
        sylk_player_free(p->player);
        g_free(p);
    }
    return false;
}

/* The loopback with its delay line, and prompts: what a stream plays on its own. */
void sylk_rtp_stream_tick(struct sylk_media_ticker *k, uint64_t tick)
{
    struct sylk_rtp_socket *s = container_of(k, struct sylk_rtp_socket, ticker);
    (void)tick;
    sylk_rtp_housekeeping(s);
    if (!s->codec)
        return;
    int16_t pcm[SYLK_CODEC_MAX_FRAME];
    unsigned frame = sylk_codec_frame_samples(s->codec);
    unsigned n = s->loopback ? sylk_rtp_pull(s, pcm, G_N_ELEMENTS(pcm)) : 0;
    if (s->loopback && s->delay_frames) {
        int16_t *slot = s->delay + (size_t)s->delay_pos * SYLK_CODEC_MAX_FRAME;
        unsigned delayed = s->delay_len[s->delay_pos];
        int16_t out[SYLK_CODEC_MAX_FRAME];
        memcpy(out, slot, delayed * sizeof(int16_t));
        memcpy(slot, pcm, n * sizeof(int16_t));
        s->delay_len[s->delay_pos] = n;
        s->delay_pos = (s->delay_pos + 1) % s->delay_frames;
        memcpy(pcm, out, delayed * sizeof(int16_t));
        n = delayed;
    }
    if (n != frame && sylk_rtp_has_prompts(s)) {
        memset(pcm, 0, frame * sizeof(int16_t));
        n = frame;
    }
    if (n == frame)
        sylk_rtp_mix_prompts(s, pcm, frame);
    if (n == frame)
        sylk_rtp_push(s, pcm, frame);
    else
        sylk_rtp_skip(s);
}

/* Streams consumed by a mixer are ticked by it; others tick when they have something to play. */
void sylk_rtp_update_ticker(struct sylk_rtp_socket *s, struct sylk_media_thread *t)
{
    if (!s->consumer && (s->loopback || sylk_rtp_has_prompts(s) || s->info))
        sylk_media_thread_add_ticker(t, &s->ticker);
    else
        sylk_media_thread_remove_ticker(t, &s->ticker);
}

/* ------------------------------------------------------- mixer (media thread) --- */

void sylk_rtp_attach(struct sylk_rtp_socket *s, void *consumer,
                     void (*detached)(void *consumer, struct sylk_rtp_socket *s))
{
    s->consumer = consumer;
    s->detached = detached;
    sylk_rtp_update_ticker(s, s->thread);
}

void sylk_rtp_detach(struct sylk_rtp_socket *s)
{
    s->consumer = NULL;
    s->detached = NULL;
    sylk_rtp_update_ticker(s, s->thread);
}

const struct sylk_codec_info *sylk_rtp_codec(const struct sylk_rtp_socket *s)
{
    return s->info;
}

const struct sylk_codec_options *sylk_rtp_codec_options(const struct sylk_rtp_socket *s)
{
    return &s->options;
}

bool sylk_rtp_on_hold(const struct sylk_rtp_socket *s)
{
    return s->info && !s->send;
}

void *sylk_rtp_consumer(const struct sylk_rtp_socket *s)
{
    return s->consumer;
}

bool sylk_rtp_sending(const struct sylk_rtp_socket *s)
{
    return s->send && s->info && s->remote_len;
}
