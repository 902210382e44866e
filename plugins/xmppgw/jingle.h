/*
 * jingle.h — Jingle audio calls <-> SIP audio sessions (XEP-0166/0167/0177), main thread.
 * See jingle.c.
 */
#ifndef XMPPGW_JINGLE_H
#define XMPPGW_JINGLE_H

#include "gateway.h"
#include "jid.h"
#include "xml_node.h"

#include <stdbool.h>

void xgw_jingle_init(void);
/** Forgets every call (the core ends their sessions and endpoints at shutdown anyway). */
void xgw_jingle_shutdown(void);

/** An <iq/> to one of our users (or rooms): true when it was Jingle's (answered here): an IQ
 *  set with <jingle/>, an answer to our session-initiate, a disco#info get (the features of a
 *  Jingle callee). */
bool xgw_jingle_iq(const struct xmpp_node *iq);

/** An INVITE with audio from SIP to an XMPP user (from, to: its parties, mapped): a Jingle
 *  call (jingle_out.c). The session is answered or refused from here. */
void xgw_jingle_sip_session(sylk_session *session, const struct xmpp_jid *from,
                            const struct xmpp_jid *to);

/** A message to one of our users: true when it was Jingle Message Initiation's (XEP-0353: a
 *  proceed or reject for our propose, or the propose's bounce), answered here. */
bool xgw_jingle_message(const struct xmpp_node *m);

/** The Jingle <reason/> condition for a SIP final status (200: success). */
const char *xgw_jingle_reason_for(int status);

/** Calls in progress. */
unsigned xgw_jingle_count(void);

#endif
