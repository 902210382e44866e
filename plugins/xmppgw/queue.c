/*
 * queue.c — bounded queues of pending stanzas. See queue.h.
 */
#include "queue.h"

struct xgw_pending *xgw_pending_new(struct xmpp_node *stanza, xgw_sent_fn sent, void *user_data)
{
    struct xgw_pending *p = g_new0(struct xgw_pending, 1);
    p->stanza = stanza;
    p->sent = sent;
    p->user_data = user_data;
    p->since = g_get_monotonic_time();
    return p;
}

void xgw_queue_init(struct xgw_queue *q, unsigned limit)
{
    g_queue_init(&q->items);
    q->limit = limit;
}

bool xgw_queue_push(struct xgw_queue *q, struct xgw_pending *p)
{
    if (q->items.length >= q->limit)
        return false;
    g_queue_push_tail(&q->items, p);
    return true;
}

void xgw_queue_push_front(struct xgw_queue *q, struct xgw_pending *p)
{
    g_queue_push_head(&q->items, p);
}

struct xgw_pending *xgw_queue_pop(struct xgw_queue *q)
{
    return g_queue_pop_head(&q->items);
}

unsigned xgw_queue_length(const struct xgw_queue *q)
{
    return q->items.length;
}

unsigned xgw_queue_expire(struct xgw_queue *q, gint64 before, enum xmpp_stanza_condition condition)
{
    unsigned n = 0;
    struct xgw_pending *p;
    /* oldest first: the first one young enough ends the search (items are pushed in time
     * order; one put back in front is older than those behind it) */
    while ((p = g_queue_peek_head(&q->items)) && p->since <= before) {
        g_queue_pop_head(&q->items);
        xgw_pending_done(p, -1, condition);
        n++;
    }
    return n;
}

unsigned xgw_queue_fail_all(struct xgw_queue *q, enum xmpp_stanza_condition condition)
{
    unsigned n = 0;
    struct xgw_pending *p;
    while ((p = g_queue_pop_head(&q->items))) {
        xgw_pending_done(p, -1, condition);
        n++;
    }
    return n;
}
