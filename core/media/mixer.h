/*
 * mixer.h — a conference mixer on the media engine: RTP streams as participants, each hearing
 * everybody but itself (mixcore.h) in its own codec and rate, plus prompts for all.
 *
 * The mix runs at the highest rate any participant's codec needs. Each tick: every
 * participant's frame is pulled (decoded) and resampled to the mix rate, the mix is computed,
 * then each speaker's own mix-minus is resampled and encoded with its own encoder, while the
 * plain mix that every non-speaker hears is resampled and encoded once per codec (and fmtp
 * options) and the same payload goes to all of them; each stream still packetizes and
 * encrypts (SRTP) for itself. A stateful encoder (opus, G.722, speex) therefore changes when a
 * participant starts or stops speaking; the decoder on the other side takes this as a small
 * discontinuity, the price of encoding the common mix once.
 *
 * Thread: the functions are called on the main thread. The mixer and all its participants'
 * streams live on one media thread: a stream added is moved there.
 */
#ifndef SYLK_MIXER_H
#define SYLK_MIXER_H

#include "media/rtp.h"

#include <stdbool.h>

struct sylk_mixer;
struct sylk_media_engine;

/** A mixer on the least loaded media thread; `max_speakers` 0 means 3. */
struct sylk_mixer *sylk_mixer_new(struct sylk_media_engine *engine, unsigned max_speakers);
/** Removes every participant (their streams fall silent) and frees the mixer. */
void sylk_mixer_free(struct sylk_mixer *m);

/** Adds a stream (0; -EALREADY when it is in this or another mixer). */
int sylk_mixer_add(struct sylk_mixer *m, struct sylk_rtp_socket *s);
/** Removes a stream (0, -ENOENT). */
int sylk_mixer_remove(struct sylk_mixer *m, struct sylk_rtp_socket *s);
/** A muted participant still hears the room; nobody hears it. */
int sylk_mixer_mute(struct sylk_mixer *m, struct sylk_rtp_socket *s, bool muted);
/** A participant on hold neither hears nor is heard. */
int sylk_mixer_hold(struct sylk_mixer *m, struct sylk_rtp_socket *s, bool held);
/** Participants now. */
unsigned sylk_mixer_count(struct sylk_mixer *m);

/** Queues a prompt every participant hears; takes `player`; `done` as for sylk_rtp_play. */
int sylk_mixer_play(struct sylk_mixer *m, struct sylk_player *player, sylk_rtp_play_done_fn done,
                    void *user_data);
/** Drops the room's prompt playing and those queued; their `done` is never called. */
void sylk_mixer_stop_prompts(struct sylk_mixer *m);

#endif
