/*
 * jitter.h — an adaptive, bounded jitter buffer for one RTP stream of 20 ms frames.
 *
 * Packets go in as they arrive (any order); one frame comes out per 20 ms tick, in sequence
 * order: the frame, a loss to conceal, or nothing yet while (re)buffering. The playout delay
 * starts at `min_frames`, grows by one frame at each underrun and shrinks by one after a long
 * run with spare frames, never beyond `max_frames`, which also bounds the memory held.
 * Duplicates and packets older than the playout point are dropped and counted; a sequence
 * jump of more than max_frames*4 restarts the stream (a new sender or a long gap).
 *
 * Thread: one buffer belongs to the media thread of its stream.
 */
#ifndef SYLK_JITTER_H
#define SYLK_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_JITTER_MAX_PAYLOAD 1500

enum sylk_jitter_result {
    SYLK_JITTER_FRAME,  /* a frame is returned */
    SYLK_JITTER_LOST,   /* the frame due now is missing: conceal it */
    SYLK_JITTER_BUFFER, /* nothing to play yet: play silence */
};

struct sylk_jitter_stats {
    uint64_t received, played, lost, late, duplicates, overflows, resets;
    unsigned delay_frames; /* current playout delay target */
    unsigned buffered;     /* frames held now */
};

struct sylk_jitter;

struct sylk_jitter *sylk_jitter_new(unsigned min_frames, unsigned max_frames);
void sylk_jitter_free(struct sylk_jitter *j);

/** Forgets every frame held: the next packet starts the stream again (after a hold). */
void sylk_jitter_reset(struct sylk_jitter *j);

/** Stores a packet's payload; 0, or -EALREADY (duplicate), -ETIME (too late), -EMSGSIZE. */
int sylk_jitter_put(struct sylk_jitter *j, uint16_t seq, const uint8_t *payload, size_t len);

/** The frame for this tick; copies it into `out` (room for SYLK_JITTER_MAX_PAYLOAD). */
enum sylk_jitter_result sylk_jitter_get(struct sylk_jitter *j, uint8_t *out, size_t *len);

/**
 * After SYLK_JITTER_LOST: the frame due at the next tick, if it is already here (copied into
 * `out`, left in the buffer), so a codec with in-band FEC can rebuild the lost one from it.
 */
bool sylk_jitter_peek(const struct sylk_jitter *j, uint8_t *out, size_t *len);

const struct sylk_jitter_stats *sylk_jitter_stats(const struct sylk_jitter *j);

#endif
