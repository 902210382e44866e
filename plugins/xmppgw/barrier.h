/*
 * barrier.h — has the next XMPP hop processed what we wrote? (main thread, mapping half)
 *
 * XMPP has no acknowledgement of a stanza (without XEP-0198), and an error about a message
 * (an unknown or unavailable recipient) comes back as a stanza of its own, if at all. A server
 * handles a stream's stanzas in order and bounces such errors as it routes them, so once it
 * answered an XEP-0199 ping written after a message, the error about that message, if any,
 * has come already: the gateway can answer the SIP MESSAGE after one round trip instead of
 * holding it for a fixed time.
 *
 * Per pair of domains (ours, remote: each pair has its own stream, or one component link):
 * messages written since the last ping wait for the next one; one ping is in flight at a
 * time, and when it is answered (a result or any error: both prove the order) the messages
 * written before it pass, and the ones written since get the next ping. A ping that is not
 * answered within XGW_BARRIER_STALE_MS is given up (its messages keep their own timeout, see
 * im.c) and the next message sends a new one.
 *
 * Errors a recipient's client sends later (not its server) come after the barrier: they can
 * only be logged, as errors after the fixed hold were before.
 */
#ifndef XMPPGW_BARRIER_H
#define XMPPGW_BARRIER_H

#include "xml_node.h"

#include <glib.h>
#include <stdbool.h>

#define XGW_BARRIER_STALE_MS 2000

/** Called once for each message serial whose barrier passed. */
typedef void (*xgw_barrier_passed_fn)(guint serial);

void xgw_barrier_init(xgw_barrier_passed_fn passed);
void xgw_barrier_shutdown(void);

/** A message (serial) from `local` (one of our domains) to `remote` was written. */
void xgw_barrier_written(const char *local, const char *remote, guint serial);

/** An <iq/> result or error to us: true when it was a barrier's answer (consumed). */
bool xgw_barrier_iq(const struct xmpp_node *iq);

/** Pairs with a ping in flight or messages waiting (for the counts and tests). */
guint xgw_barrier_count(void);

#endif
