/*
 * session_streams.h — the streams of a session (session_streams.c): made, freed, and what
 * the SDK tells plugins of them (type, direction, codec, SDP attributes). Not a public header.
 *
 * Thread: main thread.
 */
#ifndef SYLK_SESSION_STREAMS_H
#define SYLK_SESSION_STREAMS_H

#include "sip/session_internal.h"

/** Frees a stream (the GDestroyNotify of the session's streams): its RTP, MSRP, file. */
void sylk_session_stream_free(gpointer p);
/** A stream for m= line `index`, appended to the session's streams. */
void sylk_session_add_stream(struct sylk_session *s, unsigned index);
/** The stream's media description: ours once made, else the offer's. */
const struct sylk_sdp_media *sylk_session_stream_local(sylk_stream *st);

#endif
