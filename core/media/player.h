/*
 * player.h — audio prompts: a WAV file or a tone, produced 20 ms at a time at whatever rate
 * the consumer (a stream's encoder or a mixer) runs at, resampled with speexdsp.
 *
 * WAV files: RIFF/WAVE with 16-bit (or 8-bit) PCM, mono or stereo (downmixed), 8..48 kHz,
 * at most SYLK_PLAYER_MAX_BYTES; anything else is refused with a reason.
 *
 * Thread: a player is made on the main thread (the file is read there) and then belongs to
 * one media thread.
 */
#ifndef SYLK_PLAYER_H
#define SYLK_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_PLAYER_MAX_BYTES   (32u << 20)
#define SYLK_PLAYER_MAX_TONE_MS 600000u

struct sylk_player;

/** Loads a WAV file; on failure returns a negative errno and sets `*error` (g_free it). */
int sylk_player_new_wav(const char *path, struct sylk_player **out, char **error);
/** Parses WAV bytes already in memory (the file loader and unit tests). */
int sylk_player_new_wav_data(const uint8_t *data, size_t len, struct sylk_player **out,
                             char **error);
/** A sine tone of `freq_hz` (20..20000) lasting `duration_ms`; NULL on a bad argument. */
struct sylk_player *sylk_player_new_tone(unsigned freq_hz, unsigned duration_ms);
void sylk_player_free(struct sylk_player *p);

/** Source sample rate (the tone's is 48000). */
unsigned sylk_player_rate(const struct sylk_player *p);

/**
 * Adds the next `samples` samples at `rate` into `pcm`, saturating. Returns false once the
 * prompt has been played out (nothing more is added).
 */
bool sylk_player_mix(struct sylk_player *p, int16_t *pcm, unsigned rate, unsigned samples);

#endif
