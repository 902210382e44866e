/*
 * jitter.c — see jitter.h. A ring of max_frames slots indexed by sequence number. The slots'
 * headers (full, seq, len) sit together, apart from their payloads: a tick's scan reads one
 * cache line or two, and a new buffer clears a few bytes, not max_frames * 1.5 KB (the payload
 * pages are left untouched until packets come, so a call that sends no audio never pays for
 * them).
 */
#define G_LOG_DOMAIN "sylk-jitter"
#include "media/jitter.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define SHRINK_AFTER_TICKS 500 /* 10 s with a spare frame before the delay shrinks by one */

struct slot {
    bool full;
    uint16_t seq;
    uint16_t len;
};

struct sylk_jitter {
    unsigned min_frames, max_frames;
    unsigned ring_size;   /* a power of two >= max_frames, so seq & mask survives the wrap */
    struct slot *ring;    /* indexed by seq & (ring_size - 1) */
    uint8_t *data;        /* ring_size payloads of SYLK_JITTER_MAX_PAYLOAD, same index */
    bool restart_pending; /* a far jump seen once: a second in a row restarts the stream */
    struct slot stray;    /* that first packet, kept in case the stream did restart */
    uint8_t stray_data[SYLK_JITTER_MAX_PAYLOAD];
    bool started;         /* a first packet fixed the sequence base */
    bool playing;         /* past the initial (or rebuffering) delay */
    uint16_t next;        /* sequence number due at the next tick */
    unsigned spare_ticks; /* consecutive ticks with more buffered than the target */
    struct sylk_jitter_stats stats;
};

struct sylk_jitter *sylk_jitter_new(unsigned min_frames, unsigned max_frames)
{
    struct sylk_jitter *j = g_new0(struct sylk_jitter, 1);
    j->min_frames = MAX(min_frames, 1u);
    j->max_frames = MAX(max_frames, j->min_frames + 1);
    j->ring_size = 1;
    while (j->ring_size < j->max_frames)
        j->ring_size <<= 1;
    j->ring = g_new0(struct slot, j->ring_size);
    j->data = g_malloc((gsize)j->ring_size * SYLK_JITTER_MAX_PAYLOAD); /* written before read */
    j->stats.delay_frames = j->min_frames;
    return j;
}

void sylk_jitter_free(struct sylk_jitter *j)
{
    if (!j)
        return;
    g_free(j->ring);
    g_free(j->data);
    g_free(j);
}

/* The payload of ring slot `s`. */
static uint8_t *slot_data(const struct sylk_jitter *j, const struct slot *s)
{
    return j->data + (size_t)(s - j->ring) * SYLK_JITTER_MAX_PAYLOAD;
}

/* Signed distance from a to b in sequence space (RFC 3550 wrap-around). */
static int16_t seq_diff(uint16_t b, uint16_t a)
{
    return (int16_t)(uint16_t)(b - a);
}

static void reset(struct sylk_jitter *j, uint16_t seq)
{
    for (unsigned i = 0; i < j->ring_size; i++)
        j->ring[i].full = false;
    j->stats.buffered = 0;
    j->next = seq;
    j->playing = false;
    j->started = true;
}

void sylk_jitter_reset(struct sylk_jitter *j)
{
    reset(j, 0);
    j->started = false;
    j->restart_pending = false;
}

int sylk_jitter_put(struct sylk_jitter *j, uint16_t seq, const uint8_t *payload, size_t len)
{
    if (len > SYLK_JITTER_MAX_PAYLOAD)
        return -EMSGSIZE;
    if (!j->started) {
        reset(j, seq);
    } else {
        int d = seq_diff(seq, j->next);
        if (d < -(int)j->max_frames * 4 || d > (int)j->max_frames * 4) {
            /* One stray packet must not empty the buffer: restart on two in a row only. */
            if (!j->restart_pending || seq != (uint16_t)(j->stray.seq + 1)) {
                j->restart_pending = true;
                j->stray.seq = seq;
                j->stray.len = (uint16_t)len;
                memcpy(j->stray_data, payload, len);
                j->stats.late++;
                return -ETIME;
            }
            j->stats.resets++;
            reset(j, j->stray.seq);
            j->restart_pending = false;
            struct slot *back = &j->ring[j->stray.seq & (j->ring_size - 1)];
            *back = j->stray;
            back->full = true;
            memcpy(slot_data(j, back), j->stray_data, j->stray.len);
            j->stats.buffered++;
        } else if (d < 0) {
            j->stats.late++;
            return -ETIME;
        } else if (d >= (int)j->max_frames) {
            /* Beyond the window: drop what must be played before it to make room. */
            j->stats.overflows++;
            while (seq_diff(seq, j->next) >= (int)j->max_frames) {
                struct slot *old = &j->ring[j->next & (j->ring_size - 1)];
                if (old->full && old->seq == j->next) {
                    old->full = false;
                    j->stats.buffered--;
                }
                j->next++;
            }
        }
    }
    if (j->restart_pending && seq != j->stray.seq)
        j->restart_pending = false; /* the stream goes on: that far packet was a stray */
    struct slot *s = &j->ring[seq & (j->ring_size - 1)];
    if (s->full && s->seq == seq) {
        j->stats.duplicates++;
        return -EALREADY;
    }
    if (!s->full)
        j->stats.buffered++;
    s->full = true;
    s->seq = seq;
    s->len = (uint16_t)len;
    memcpy(slot_data(j, s), payload, len);
    j->stats.received++;
    return 0;
}

/* How far the newest buffered frame is ahead of the playout point, in frames. */
static unsigned depth(const struct sylk_jitter *j)
{
    unsigned d = 0;
    for (unsigned i = 0; i < j->ring_size; i++) {
        const struct slot *s = &j->ring[i];
        if (s->full) {
            int ahead = seq_diff(s->seq, j->next) + 1;
            if (ahead > (int)d)
                d = (unsigned)ahead;
        }
    }
    return d;
}

enum sylk_jitter_result sylk_jitter_get(struct sylk_jitter *j, uint8_t *out, size_t *len)
{
    *len = 0;
    if (!j->started)
        return SYLK_JITTER_BUFFER;
    unsigned have = depth(j);
    if (!j->playing) {
        if (have < j->stats.delay_frames)
            return SYLK_JITTER_BUFFER;
        j->playing = true;
    }
    if (j->stats.buffered == 0) {
        /* Underrun: conceal this tick, then wait for a longer delay before playing again.
         * The frame due stays due: if it arrives now it is played, not counted late. */
        j->playing = false;
        if (j->stats.delay_frames < j->max_frames - 1)
            j->stats.delay_frames++;
        j->spare_ticks = 0;
        j->stats.lost++;
        return SYLK_JITTER_LOST;
    }
    /* Adapt down: a long run with frames to spare means the delay can shrink by one. */
    if (have > j->stats.delay_frames + 1 && ++j->spare_ticks > SHRINK_AFTER_TICKS &&
        j->stats.delay_frames > j->min_frames) {
        j->stats.delay_frames--;
        j->spare_ticks = 0;
        struct slot *skip = &j->ring[j->next & (j->ring_size - 1)];
        if (skip->full && skip->seq == j->next) {
            skip->full = false;
            j->stats.buffered--;
        }
        j->next++; /* one frame dropped to shorten the delay */
    }
    struct slot *s = &j->ring[j->next & (j->ring_size - 1)];
    j->next++;
    if (!s->full || s->seq != (uint16_t)(j->next - 1)) {
        j->stats.lost++;
        return SYLK_JITTER_LOST;
    }
    s->full = false;
    j->stats.buffered--;
    memcpy(out, slot_data(j, s), s->len);
    *len = s->len;
    j->stats.played++;
    return SYLK_JITTER_FRAME;
}

bool sylk_jitter_peek(const struct sylk_jitter *j, uint8_t *out, size_t *len)
{
    const struct slot *s = &j->ring[j->next & (j->ring_size - 1)];
    if (!j->started || !s->full || s->seq != j->next)
        return false;
    memcpy(out, slot_data(j, s), s->len);
    *len = s->len;
    return true;
}

const struct sylk_jitter_stats *sylk_jitter_stats(const struct sylk_jitter *j)
{
    return &j->stats;
}
