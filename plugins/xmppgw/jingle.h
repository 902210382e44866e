/*
 * jingle.h — Jingle audio calls <-> SIP audio sessions (XEP-0166/0167/0177), main thread.
 * See jingle.c.
 */
#ifndef XMPPGW_JINGLE_H
#define XMPPGW_JINGLE_H

#include "xml_node.h"

#include <stdbool.h>

void xgw_jingle_init(void);
/** Forgets every call (the core ends their sessions and endpoints at shutdown anyway). */
void xgw_jingle_shutdown(void);

/** An <iq/> to one of our users: true when it was a Jingle IQ set (answered here). */
bool xgw_jingle_iq(const struct xmpp_node *iq);

/** The Jingle <reason/> condition for a SIP final status (200: success). */
const char *xgw_jingle_reason_for(int status);

/** Calls in progress. */
unsigned xgw_jingle_count(void);

#endif
