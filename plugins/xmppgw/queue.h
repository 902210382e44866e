/*
 * queue.h — stanzas waiting for their stream (an s2s stream being set up, the component
 * connection being down), bounded, oldest first, each with the sender's outcome callback.
 *
 * A stanza leaves the queue by being written (the owner pops it) or by failing
 * (xgw_queue_expire, xgw_queue_fail_all): failing reports through xgw_pending_done, which the
 * router implements (it delivers outcomes later on the main loop, never inside xgw_send).
 *
 * Thread: pure data structure, main thread.
 */
#ifndef XMPPGW_QUEUE_H
#define XMPPGW_QUEUE_H

#include "gateway.h"

#include <glib.h>

/* One stanza and who wants to know what became of it. */
struct xgw_pending {
    struct xmpp_node *stanza;
    xgw_sent_fn sent; /* may be NULL */
    void *user_data;
    gint64 since; /* monotonic µs when it was handed to xgw_send */
};

struct xgw_queue {
    GQueue items; /* struct xgw_pending *, oldest first */
    unsigned limit;
};

/**
 * The outcome of a pending stanza, once: status 0 (written) or the condition it failed with.
 * Frees p and its stanza. Implemented by router.c.
 */
void xgw_pending_done(struct xgw_pending *p, int status, enum xmpp_stanza_condition condition);

/** A pending stanza (takes the stanza), dated now. */
struct xgw_pending *xgw_pending_new(struct xmpp_node *stanza, xgw_sent_fn sent, void *user_data);

void xgw_queue_init(struct xgw_queue *q, unsigned limit);

/** Appends p; false (p not taken) when the queue holds `limit` stanzas already. */
bool xgw_queue_push(struct xgw_queue *q, struct xgw_pending *p);

/** Puts p back in front (a stanza that was not written after all), whatever the limit. */
void xgw_queue_push_front(struct xgw_queue *q, struct xgw_pending *p);

/** The oldest stanza, or NULL. */
struct xgw_pending *xgw_queue_pop(struct xgw_queue *q);

unsigned xgw_queue_length(const struct xgw_queue *q);

/** Fails, with condition, every stanza queued at `before` (monotonic µs) or earlier. */
unsigned xgw_queue_expire(struct xgw_queue *q, gint64 before, enum xmpp_stanza_condition condition);

/** Fails every stanza with condition; the queue is empty afterwards. */
unsigned xgw_queue_fail_all(struct xgw_queue *q, enum xmpp_stanza_condition condition);

#endif
