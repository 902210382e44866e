/*
 * mixcore.c — mix-minus with speaker selection. See mixcore.h.
 */
#define G_LOG_DOMAIN "sylk-mixer"
#include "media/mixcore.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

/*
 * What a tick reads of every participant is kept apart from the audio, which only speakers'
 * slots use: the per-tick passes over a room of 1,000 walk 16 KiB of flags, not megabytes of
 * frames. Audio is two frames a slot (at the mix rate, not the largest one) in one array.
 */
struct part {
    bool used, muted, has_frame, speaking, was_speaking;
    unsigned level;    /* RMS of this tick's frame */
    unsigned hangover; /* ticks left before an inactive speaker is dropped */
};

struct sylk_mixcore {
    unsigned max_speakers;
    unsigned frame; /* samples per 20 ms at the mix rate */
    GArray *parts;  /* struct part, indexed by slot */
    unsigned count;
    int16_t *audio; /* per slot: its frame in, then its mix-minus out (when speaking) */
    guint audio_slots;
    guint *loudest; /* select_speakers' scratch: max_speakers slots */
    int32_t sum[SYLK_MIX_FRAME];
    int16_t shared[SYLK_MIX_FRAME]; /* the plain sum, heard by every non-speaker */
};

static int16_t *part_in(const struct sylk_mixcore *m, guint slot)
{
    return m->audio + (size_t)slot * 2 * m->frame;
}

static int16_t *part_out(const struct sylk_mixcore *m, guint slot)
{
    return part_in(m, slot) + m->frame;
}

static struct part *part_at(const struct sylk_mixcore *m, int slot)
{
    if (slot < 0 || (guint)slot >= m->parts->len)
        return NULL;
    struct part *p = &g_array_index(m->parts, struct part, slot);
    return p->used ? p : NULL;
}

struct sylk_mixcore *sylk_mixcore_new(unsigned max_speakers, unsigned rate)
{
    if (rate < 8000 || rate > SYLK_MIX_RATE)
        return NULL;
    struct sylk_mixcore *m = g_new0(struct sylk_mixcore, 1);
    m->max_speakers = max_speakers ? max_speakers : 3;
    m->frame = rate / 50;
    m->parts = g_array_new(FALSE, TRUE, sizeof(struct part));
    m->loudest = g_new(guint, m->max_speakers);
    return m;
}

unsigned sylk_mixcore_frame(const struct sylk_mixcore *m)
{
    return m->frame;
}

void sylk_mixcore_free(struct sylk_mixcore *m)
{
    if (!m)
        return;
    g_array_free(m->parts, TRUE);
    g_free(m->audio);
    g_free(m->loudest);
    g_free(m);
}

int sylk_mixcore_add(struct sylk_mixcore *m)
{
    for (guint i = 0; i < m->parts->len; i++) {
        struct part *p = &g_array_index(m->parts, struct part, i);
        if (!p->used) {
            memset(p, 0, sizeof(*p));
            p->used = true;
            m->count++;
            return (int)i;
        }
    }
    struct part fresh = {.used = true};
    g_array_append_val(m->parts, fresh);
    if (m->parts->len > m->audio_slots) { /* between ticks: no output pointer is held */
        m->audio_slots = MAX(16u, m->audio_slots * 2);
        m->audio = g_renew(int16_t, m->audio, (size_t)m->audio_slots * 2 * m->frame);
    }
    m->count++;
    return (int)m->parts->len - 1;
}

void sylk_mixcore_remove(struct sylk_mixcore *m, int slot)
{
    struct part *p = part_at(m, slot);
    if (p) {
        p->used = false;
        m->count--;
    }
}

void sylk_mixcore_mute(struct sylk_mixcore *m, int slot, bool muted)
{
    struct part *p = part_at(m, slot);
    if (p)
        p->muted = muted;
}

unsigned sylk_mixcore_level(const int16_t *frame, size_t n)
{
    int64_t energy = 0;
    for (size_t i = 0; i < n; i++)
        energy += (int32_t)frame[i] * frame[i];
    return (unsigned)sqrt((double)energy / (double)n);
}

void sylk_mixcore_put(struct sylk_mixcore *m, int slot, const int16_t *frame)
{
    struct part *p = part_at(m, slot);
    if (!p)
        return;
    p->has_frame = frame != NULL;
    if (frame) {
        memcpy(part_in(m, (guint)slot), frame, m->frame * sizeof(int16_t));
        p->level = sylk_mixcore_level(frame, m->frame);
    } else {
        p->level = 0;
    }
}

static int16_t saturate(int32_t v)
{
    return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

/*
 * Speakers: candidates are participants with a frame that is speech or within hangover;
 * when there are more than max_speakers, the loudest win. Current speakers count 25% louder
 * (and win ties) so that two voices of about the same level do not swap every tick: each swap
 * moves listeners between their own mix and the shared one.
 */
static unsigned weight(const struct part *p, bool was_speaking)
{
    return was_speaking ? p->level + p->level / 4 + 1 : p->level;
}

/*
 * The loudest max_speakers candidates in one pass: loudest[] is kept sorted, quietest first,
 * by weight and then slot (a later slot wins a tie, as it always has).
 */
static void select_speakers(struct sylk_mixcore *m)
{
    unsigned kept = 0;
    for (guint i = 0; i < m->parts->len; i++) {
        struct part *p = &g_array_index(m->parts, struct part, i);
        bool speech = p->used && p->has_frame && !p->muted && p->level >= SYLK_MIX_SPEECH_LEVEL;
        if (speech)
            p->hangover = SYLK_MIX_HANGOVER;
        else if (p->hangover)
            p->hangover--;
        p->was_speaking = p->speaking;
        p->speaking = false;
        if (!p->used || p->muted || !p->has_frame || !(speech || p->hangover))
            continue;
        unsigned w = weight(p, p->was_speaking), at;
        if (kept == m->max_speakers) {
            const struct part *q = &g_array_index(m->parts, struct part, m->loudest[0]);
            if (w < weight(q, q->was_speaking))
                continue; /* quieter than every one kept */
            kept--;
            memmove(m->loudest, m->loudest + 1, kept * sizeof(guint));
        }
        for (at = kept; at > 0; at--) { /* slots only grow: i wins ties with those kept */
            const struct part *q = &g_array_index(m->parts, struct part, m->loudest[at - 1]);
            if (weight(q, q->was_speaking) <= w)
                break;
            m->loudest[at] = m->loudest[at - 1];
        }
        m->loudest[at] = i;
        kept++;
    }
    for (unsigned k = 0; k < kept; k++)
        g_array_index(m->parts, struct part, m->loudest[k]).speaking = true;
}

void sylk_mixcore_tick(struct sylk_mixcore *m)
{
    select_speakers(m);
    const unsigned n = m->frame;
    memset(m->sum, 0, n * sizeof(m->sum[0]));
    for (guint i = 0; i < m->parts->len; i++) {
        const struct part *p = &g_array_index(m->parts, struct part, i);
        if (!p->speaking)
            continue;
        const int16_t *in = part_in(m, i);
        for (unsigned s = 0; s < n; s++)
            m->sum[s] += in[s];
    }
    for (unsigned s = 0; s < n; s++)
        m->shared[s] = saturate(m->sum[s]);
    for (guint i = 0; i < m->parts->len; i++) {
        struct part *p = &g_array_index(m->parts, struct part, i);
        if (p->speaking) {
            const int16_t *in = part_in(m, i);
            int16_t *out = part_out(m, i);
            for (unsigned s = 0; s < n; s++)
                out[s] = saturate(m->sum[s] - in[s]);
        }
        p->has_frame = false;
    }
}

const int16_t *sylk_mixcore_output(const struct sylk_mixcore *m, int slot, bool *shared)
{
    const struct part *p = part_at(m, slot);
    bool own = p && p->speaking;
    if (shared)
        *shared = !own;
    return own ? part_out(m, (guint)slot) : m->shared;
}

bool sylk_mixcore_speaking(const struct sylk_mixcore *m, int slot)
{
    const struct part *p = part_at(m, slot);
    return p && p->speaking;
}

unsigned sylk_mixcore_count(const struct sylk_mixcore *m)
{
    return m->count;
}
