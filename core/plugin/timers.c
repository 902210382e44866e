/*
 * timers.c — plugins' main-loop timers on one GSource. See timers.h.
 *
 * The heap holds the timers waiting; a dispatch first takes every timer due out of it (a
 * batch), then calls them in due order, so that a timer re-armed or added by a callback with
 * a zero interval waits for the next iteration instead of looping inside this one.
 */
#define G_LOG_DOMAIN "sylk-timers"
#include "plugin/timers.h"

enum timer_state { IN_HEAP, IN_BATCH, RUNNING };

struct sylk_timer {
    gint64 due; /* monotonic µs */
    guint64 sequence;
    guint index; /* in the heap, while IN_HEAP */
    enum timer_state state;
    bool cancelled; /* while IN_BATCH or RUNNING: freed instead of being called or re-armed */
    bool repeat;
    unsigned interval_ms;
    sylk_timer_fn fn;
    void *user_data;
};

/* ------------------------------------------------------------------ heap --- */

static bool earlier(const struct sylk_timer *a, const struct sylk_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->sequence < b->sequence);
}

static struct sylk_timer *at(const struct sylk_timers *set, guint i)
{
    return g_ptr_array_index(set->heap, i);
}

static void place(struct sylk_timers *set, guint i, struct sylk_timer *t)
{
    set->heap->pdata[i] = t;
    t->index = i;
}

static void sift_up(struct sylk_timers *set, guint i)
{
    struct sylk_timer *t = at(set, i);
    while (i > 0) {
        guint parent = (i - 1) / 2;
        if (!earlier(t, at(set, parent)))
            break;
        place(set, i, at(set, parent));
        i = parent;
    }
    place(set, i, t);
}

static void sift_down(struct sylk_timers *set, guint i)
{
    struct sylk_timer *t = at(set, i);
    guint n = set->heap->len;
    for (;;) {
        guint child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && earlier(at(set, child + 1), at(set, child)))
            child++;
        if (!earlier(at(set, child), t))
            break;
        place(set, i, at(set, child));
        i = child;
    }
    place(set, i, t);
}

static void heap_push(struct sylk_timers *set, struct sylk_timer *t)
{
    t->state = IN_HEAP;
    g_ptr_array_add(set->heap, t);
    sift_up(set, set->heap->len - 1);
}

static void heap_remove(struct sylk_timers *set, struct sylk_timer *t)
{
    guint i = t->index;
    struct sylk_timer *last = g_ptr_array_steal_index(set->heap, set->heap->len - 1);
    if (last == t)
        return;
    place(set, i, last);
    sift_down(set, i);
    sift_up(set, last->index);
}

/* ---------------------------------------------------------------- source --- */

struct timers_source {
    GSource source; /* first */
    struct sylk_timers *set;
};

static void arm(struct sylk_timers *set, struct sylk_timer *t, gint64 now)
{
    t->due = now + (gint64)t->interval_ms * 1000;
    t->sequence = set->sequence++;
    heap_push(set, t);
}

/* The loop asks before it polls and after: prepare and check instead of a ready time, since
 * g_source_set_ready_time signals the context's wakeup (an eventfd write, and one more loop
 * iteration) at every change of the earliest timer. */
static gboolean timers_prepare(GSource *source, gint *timeout)
{
    struct sylk_timers *set = ((struct timers_source *)source)->set;
    if (!set->heap->len) {
        *timeout = -1;
        return FALSE;
    }
    gint64 wait = at(set, 0)->due - g_source_get_time(source);
    if (wait <= 0) {
        *timeout = 0;
        return TRUE;
    }
    *timeout = (gint)MIN((wait + 999) / 1000, G_MAXINT); /* never early: round up */
    return FALSE;
}

static gboolean timers_check(GSource *source)
{
    struct sylk_timers *set = ((struct timers_source *)source)->set;
    return set->heap->len && at(set, 0)->due <= g_source_get_time(source);
}

static gboolean timers_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    struct sylk_timers *set = ((struct timers_source *)source)->set;
    (void)callback;
    (void)data;
    gint64 now = g_source_get_time(source);
    GPtrArray *batch = g_ptr_array_new();
    while (set->heap->len && at(set, 0)->due <= now) {
        struct sylk_timer *t = at(set, 0);
        heap_remove(set, t);
        t->state = IN_BATCH;
        g_ptr_array_add(batch, t);
    }
    for (guint i = 0; i < batch->len; i++) {
        struct sylk_timer *t = g_ptr_array_index(batch, i);
        if (!t->cancelled) {
            t->state = RUNNING;
            t->fn(t, t->user_data); /* may cancel t or any other timer, or add some */
        }
        if (t->cancelled || !t->repeat)
            g_free(t);
        else
            arm(set, t, g_get_monotonic_time());
    }
    g_ptr_array_free(batch, TRUE);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timers_funcs = {
    .prepare = timers_prepare,
    .check = timers_check,
    .dispatch = timers_dispatch,
};

static void ensure_source(struct sylk_timers *set)
{
    if (set->source)
        return;
    set->heap = g_ptr_array_new();
    set->source = g_source_new(&timers_funcs, sizeof(struct timers_source));
    ((struct timers_source *)set->source)->set = set;
    g_source_set_name(set->source, "plugin timers");
    g_source_attach(set->source, set->context);
}

/* ------------------------------------------------------------------- API --- */

sylk_timer *sylk_timers_add(struct sylk_timers *set, unsigned interval_ms, bool repeat,
                            sylk_timer_fn fn, void *user_data)
{
    if (!fn)
        return NULL;
    ensure_source(set);
    struct sylk_timer *t = g_new0(struct sylk_timer, 1);
    t->repeat = repeat;
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->user_data = user_data;
    arm(set, t, g_get_monotonic_time());
    return t;
}

void sylk_timers_cancel(struct sylk_timers *set, sylk_timer *t)
{
    if (!t)
        return;
    if (t->state != IN_HEAP) {
        t->cancelled = true; /* the dispatch frees it */
        return;
    }
    heap_remove(set, t);
    g_free(t);
}

guint sylk_timers_count(const struct sylk_timers *set)
{
    return set->heap ? set->heap->len : 0;
}

void sylk_timers_clear(struct sylk_timers *set)
{
    if (!set->source)
        return;
    if (set->heap->len)
        g_debug("%u plugin timers left at shutdown", set->heap->len);
    for (guint i = 0; i < set->heap->len; i++)
        g_free(at(set, i));
    g_ptr_array_free(set->heap, TRUE);
    set->heap = NULL;
    g_source_destroy(set->source);
    g_source_unref(set->source);
    set->source = NULL;
}
