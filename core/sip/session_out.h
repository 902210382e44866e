/*
 * session_out.h — sessions the server originates (session_out.c): the INVITE of
 * sylk_session_connect and the responses to it. Not a public header.
 *
 * Thread: main thread.
 */
#ifndef SYLK_SESSION_OUT_H
#define SYLK_SESSION_OUT_H

#include "sip/session_internal.h"

/** A response to an INVITE: for ours, progress to the plugin, the end, or the answer taken. */
void sylk_session_on_invite_response(struct sylk_session *s, int status, const char *phrase,
                                     const sip_t *sip);

#endif
