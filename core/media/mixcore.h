/*
 * mixcore.h — the arithmetic of a conference mix, one 20 ms tick at a time, without I/O or
 * codecs: who speaks, the sum of the speakers, and what each participant hears.
 *
 * Mix-minus in O(N): the speakers' frames are summed once; a speaker hears the sum minus its
 * own frame, everybody else hears the plain sum, one buffer shared by all of them (so the
 * caller encodes it once per codec and rate). In large rooms only the `max_speakers` loudest
 * participants are mixed; a speaker stays selected for a hangover after falling silent so
 * speech tails are not clipped. Samples saturate at int16 limits.
 *
 * The mix runs at one rate per room, the highest any participant's codec needs (8, 16 or
 * 48 kHz): a room of narrowband phones resamples nothing. Frames are 20 ms at that rate.
 *
 * Thread: a mixcore belongs to one media thread.
 */
#ifndef SYLK_MIXCORE_H
#define SYLK_MIXCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_MIX_RATE         48000 /* the highest mix rate */
#define SYLK_MIX_FRAME        960   /* 20 ms at 48 kHz: the largest frame */
#define SYLK_MIX_SPEECH_LEVEL 150   /* RMS above which a frame counts as speech */
#define SYLK_MIX_HANGOVER     25    /* ticks (500 ms) a speaker stays mixed after silence */

struct sylk_mixcore;

/** A mix at `rate` (8000..48000) mixing at most `max_speakers` (0: the default, 3). */
struct sylk_mixcore *sylk_mixcore_new(unsigned max_speakers, unsigned rate);

/** Samples per frame at the mix rate. */
unsigned sylk_mixcore_frame(const struct sylk_mixcore *m);
void sylk_mixcore_free(struct sylk_mixcore *m);

/** A new participant; returns its slot (>= 0) or -ENOMEM. */
int sylk_mixcore_add(struct sylk_mixcore *m);
void sylk_mixcore_remove(struct sylk_mixcore *m, int slot);
/** A muted participant is heard by nobody (it still hears the room). */
void sylk_mixcore_mute(struct sylk_mixcore *m, int slot, bool muted);

/** This tick's frame of a participant (sylk_mixcore_frame samples), or NULL for silence. */
void sylk_mixcore_put(struct sylk_mixcore *m, int slot, const int16_t *frame);

/** Computes the tick; frames put since the last tick are consumed. */
void sylk_mixcore_tick(struct sylk_mixcore *m);

/**
 * What `slot` hears this tick. `*shared` is true when the buffer is the one every
 * non-speaker gets (same pointer for all of them this tick).
 */
const int16_t *sylk_mixcore_output(const struct sylk_mixcore *m, int slot, bool *shared);

/** Whether `slot` is mixed (a selected speaker) this tick. */
bool sylk_mixcore_speaking(const struct sylk_mixcore *m, int slot);

/** Number of participants. */
unsigned sylk_mixcore_count(const struct sylk_mixcore *m);

/** RMS level of a frame. */
unsigned sylk_mixcore_level(const int16_t *frame, size_t n);

#endif
