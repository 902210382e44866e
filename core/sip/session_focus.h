/*
 * session_focus.h — our Contact as a conference focus (session_focus.c, RFC 4579 section 3),
 * in our answers (sylk_session_set_focus) and in the INVITEs we send. Not a public header.
 *
 * Thread: main thread.
 */
#ifndef SYLK_SESSION_FOCUS_H
#define SYLK_SESSION_FOCUS_H

#include "sip/session_internal.h"

/** `<sip:user@our-address:port>;isfocus` for `transport` ("udp", "tcp", "tls"). */
char *sylk_session_focus_contact(const char *user, const char *transport);
/** The transport an INVITE to `uri` leaves on: the outbound proxy's or the URI's. */
const char *sylk_session_outgoing_transport(const char *uri);
/** The user part of a SIP URI in a name-addr or bare, or NULL. */
char *sylk_session_uri_user(const char *addr);

#endif
