/*
 * rtp_tick.h — what an RTP stream plays (rtp_tick.c): its tick and when it runs. Not a public
 * header.
 *
 * Thread: the stream's media thread.
 */
#ifndef SYLK_RTP_TICK_H
#define SYLK_RTP_TICK_H

#include "media/rtp_internal.h"

/** Whether decoded audio is wanted: a codec, receiving, and a loopback or a consumer. */
bool sylk_rtp_wants_audio(const struct sylk_rtp_socket *s);
/** The stream's own tick (loopback, prompts), when no mixer ticks it. */
void sylk_rtp_stream_tick(struct sylk_media_ticker *k, uint64_t tick);
/** Adds or removes the stream's own tick on thread `t` after a change. */
void sylk_rtp_update_ticker(struct sylk_rtp_socket *s, struct sylk_media_thread *t);

#endif
