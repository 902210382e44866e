/*
 * session_msrp.h — the MSRP streams of a session (session_msrp.c): chat (RFC 4975, CPIM,
 * is-composing, nicknames) and file transfer (RFC 5547). Not a public header.
 *
 * Thread: main thread.
 */
#ifndef SYLK_SESSION_MSRP_H
#define SYLK_SESSION_MSRP_H

#include "sip/session_internal.h"

/**
 * Our side of an accepted MSRP stream: an MSRP session, its URI in a=path, a=setup `setup`
 * ("passive" when answering, "actpass" when offering).
 */
void sylk_session_open_msrp(struct sylk_session *s, struct sylk_stream *st, const char *setup);
/** An MSRP stream the plugin accepted in an offer: opened passive (RFC 6135). */
void sylk_session_accept_chat(struct sylk_session *s, struct sylk_stream *st);
/** A chat or file stream the peer disabled: its MSRP session goes (a pending file fails). */
void sylk_session_disable_msrp(struct sylk_session *s, unsigned index);

#endif
