/*
 * session_media.h — the media of a session's streams (session_media.c): the remote
 * description applied (RTP, SRTP, DTMF, MSRP peers) and the RTP timeout. Not a public header.
 *
 * Thread: main thread.
 */
#ifndef SYLK_SESSION_MEDIA_H
#define SYLK_SESSION_MEDIA_H

#include "sip/session_internal.h"

/** Whether two SDES keys are the same (suite and master key). */
bool sylk_session_same_key(const struct sylk_sdes *a, const struct sylk_sdes *b);
/**
 * The remote description takes effect on each stream; false when SRTP cannot be set up (the
 * caller ends the call rather than let media go unprotected).
 */
bool sylk_session_apply_remote(struct sylk_session *s);
/** The session is established: its RTP timeout is checked from now on ([rtp] timeout). */
void sylk_session_watch_media(struct sylk_session *s);

#endif
