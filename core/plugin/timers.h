/*
 * timers.h — the plugins' main-loop timers (SDK timer_add, timer_cancel) on one GSource: a
 * binary heap ordered by due time; the source's poll timeout is the earliest's. A gateway
 * holds a timer per message in flight (thousands); a GSource each would make every main loop
 * iteration visit them all (g_main_context_prepare/check), which profiles showed as the top
 * cost of the XMPP gateway under load. Adding and cancelling are O(log n), an iteration O(1).
 *
 * Main thread (the thread that runs the set's context).
 *
 * Semantics the SDK documents: a one-shot timer is freed after its callback returns; a
 * repeating one runs every interval_ms (measured from when it was due, never in bursts to
 * catch up) until cancelled. timer_cancel is allowed inside any timer's callback, its own
 * included. Timers due at the same time fire in the order they were added.
 */
#ifndef SYLK_TIMERS_H
#define SYLK_TIMERS_H

#include <glib.h>
#include <sylk/host.h>

struct sylk_timers {
    GSource *source;       /* NULL until the first timer */
    GPtrArray *heap;       /* struct sylk_timer *, earliest due first */
    guint64 sequence;      /* breaks ties between timers due at the same time */
    GMainContext *context; /* NULL: the default one */
};

/** A timer calling fn(timer, user_data) in interval_ms, NULL when fn is NULL. */
sylk_timer *sylk_timers_add(struct sylk_timers *set, unsigned interval_ms, bool repeat,
                            sylk_timer_fn fn, void *user_data);

/** Stops and frees timer (NULL is ignored). */
void sylk_timers_cancel(struct sylk_timers *set, sylk_timer *timer);

/** The number of live timers. */
guint sylk_timers_count(const struct sylk_timers *set);

/** Frees every timer left and the source (the server stops). */
void sylk_timers_clear(struct sylk_timers *set);

#endif
