/*
 * test_timers.c — plugins' timers on one GSource (core/plugin/timers.c) on a private
 * GMainContext: order by due time (ties in order of adding), one-shot and repeating, cancel
 * before, inside its own callback and of another timer due in the same dispatch, a zero
 * interval re-armed inside its callback not looping in one dispatch, 10,000 timers with
 * random cancels firing in order, leftovers cleared.
 */
#include "plugin/timers.h"

#include <glib.h>

struct fixture {
    GMainContext *context;
    struct sylk_timers set;
    GArray *fired;    /* int labels in firing order */
    GPtrArray *order; /* test_many: struct tag * in firing order */
};

struct tag {
    struct fixture *f;
    int label;
    sylk_timer *cancel; /* cancelled by this one's callback */
    bool cancel_self;
    sylk_timer *self;
    unsigned stop_after; /* repeating: cancels itself after that many calls */
    unsigned calls;
    gint64 earliest, latest; /* test_many: bounds of its due time, µs */
};

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    f->context = g_main_context_new();
    f->set = (struct sylk_timers){.context = f->context};
    f->fired = g_array_new(FALSE, FALSE, sizeof(int));
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    sylk_timers_clear(&f->set);
    g_array_free(f->fired, TRUE);
    g_main_context_unref(f->context);
}

static void on_timer(sylk_timer *timer, void *user_data)
{
    struct tag *t = user_data;
    g_assert_true(timer == t->self || !t->self);
    g_array_append_val(t->f->fired, t->label);
    if (t->f->order)
        g_ptr_array_add(t->f->order, t);
    t->calls++;
    if (t->cancel)
        sylk_timers_cancel(&t->f->set, t->cancel);
    if (t->cancel_self || (t->stop_after && t->calls == t->stop_after))
        sylk_timers_cancel(&t->f->set, timer);
}

/* Runs the context until `count` callbacks happened or `ms` passed. */
static void run_until(struct fixture *f, guint count, unsigned ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (f->fired->len < count && g_get_monotonic_time() < end)
        g_main_context_iteration(f->context, FALSE), g_usleep(500);
}

static int fired(struct fixture *f, guint i)
{
    return g_array_index(f->fired, int, i);
}

static void test_order(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct tag t[4] = {
        {.f = f, .label = 30}, {.f = f, .label = 10}, {.f = f, .label = 20}, {.f = f, .label = 21}};
    t[0].self = sylk_timers_add(&f->set, 30, false, on_timer, &t[0]);
    t[1].self = sylk_timers_add(&f->set, 10, false, on_timer, &t[1]);
    t[2].self = sylk_timers_add(&f->set, 20, false, on_timer, &t[2]);
    t[3].self = sylk_timers_add(&f->set, 20, false, on_timer, &t[3]);
    g_assert_cmpuint(sylk_timers_count(&f->set), ==, 4);
    run_until(f, 4, 2000);
    g_assert_cmpuint(f->fired->len, ==, 4);
    g_assert_cmpint(fired(f, 0), ==, 10);
    g_assert_cmpint(fired(f, 1), ==, 20);
    g_assert_cmpint(fired(f, 2), ==, 21);
    g_assert_cmpint(fired(f, 3), ==, 30);
    g_assert_cmpuint(sylk_timers_count(&f->set), ==, 0); /* one-shots are gone */
}

static void test_repeat_and_cancel(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct tag rep = {.f = f, .label = 1, .stop_after = 3};
    struct tag never = {.f = f, .label = 2};
    struct tag self = {.f = f, .label = 3, .cancel_self = true};
    rep.self = sylk_timers_add(&f->set, 5, true, on_timer, &rep);
    sylk_timer *n = sylk_timers_add(&f->set, 1, false, on_timer, &never);
    self.self = sylk_timers_add(&f->set, 2, false, on_timer, &self);
    sylk_timers_cancel(&f->set, n); /* before it is due */
    sylk_timers_cancel(&f->set, NULL);
    run_until(f, 4, 2000);
    g_usleep(30000);
    run_until(f, 100, 50);
    g_assert_cmpuint(f->fired->len, ==, 4); /* self once, the repeating one 3 times */
    g_assert_cmpint(fired(f, 0), ==, 3);
    g_assert_cmpuint(rep.calls, ==, 3);
    g_assert_cmpuint(never.calls, ==, 0);
    g_assert_cmpuint(sylk_timers_count(&f->set), ==, 0);
}

/* Two timers due in the same dispatch: the first cancels the second, which is not called. */
static void test_cancel_other_in_batch(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct tag a = {.f = f, .label = 1}, b = {.f = f, .label = 2};
    a.self = sylk_timers_add(&f->set, 5, false, on_timer, &a);
    b.self = sylk_timers_add(&f->set, 5, false, on_timer, &b);
    a.cancel = b.self;
    g_usleep(10000); /* both due before the context looks */
    run_until(f, 2, 100);
    g_assert_cmpuint(f->fired->len, ==, 1);
    g_assert_cmpint(fired(f, 0), ==, 1);
    g_assert_cmpuint(sylk_timers_count(&f->set), ==, 0);
}

/* A repeating zero-interval timer runs once per dispatch, not in a loop inside one. */
static void test_zero_interval(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct tag z = {.f = f, .label = 7};
    z.self = sylk_timers_add(&f->set, 0, true, on_timer, &z);
    g_main_context_iteration(f->context, FALSE);
    g_assert_cmpuint(z.calls, ==, 1);
    g_main_context_iteration(f->context, FALSE);
    g_assert_cmpuint(z.calls, ==, 2);
    sylk_timers_cancel(&f->set, z.self);
    g_main_context_iteration(f->context, FALSE);
    g_assert_cmpuint(z.calls, ==, 2);
}

/* Many timers, a third cancelled at random: the rest fire exactly once, in due order (each
 * timer's due time is known within the time its add took). */
static void test_many(struct fixture *f, gconstpointer data)
{
    (void)data;
    enum { N = 10000 };
    struct tag *tags = g_new0(struct tag, N);
    GRand *rand = g_rand_new_with_seed(42);
    f->order = g_ptr_array_new();
    guint live = 0;
    for (int i = 0; i < N; i++) {
        unsigned ms = (unsigned)g_rand_int_range(rand, 0, 200);
        tags[i] = (struct tag){.f = f, .label = (int)ms};
        tags[i].earliest = g_get_monotonic_time() + ms * 1000;
        tags[i].self = sylk_timers_add(&f->set, ms, false, on_timer, &tags[i]);
        tags[i].latest = g_get_monotonic_time() + ms * 1000;
    }
    for (int i = 0; i < N; i++) {
        if (g_rand_int_range(rand, 0, 3) == 0)
            sylk_timers_cancel(&f->set, tags[i].self), tags[i].label = -1;
        else
            live++;
    }
    g_assert_cmpuint(sylk_timers_count(&f->set), ==, live);
    run_until(f, live, 5000);
    g_assert_cmpuint(f->fired->len, ==, live);
    for (guint i = 1; i < f->order->len; i++) {
        const struct tag *a = g_ptr_array_index(f->order, i - 1);
        const struct tag *b = g_ptr_array_index(f->order, i);
        g_assert_cmpint(a->earliest, <=, b->latest);
    }
    for (int i = 0; i < N; i++)
        g_assert_cmpuint(tags[i].calls, ==, tags[i].label < 0 ? 0 : 1);
    g_ptr_array_free(f->order, TRUE);
    f->order = NULL;
    g_rand_free(rand);
    g_free(tags);
}

static void test_clear_leftovers(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct tag t = {.f = f, .label = 1};
    sylk_timers_add(&f->set, 60000, false, on_timer, &t);
    sylk_timers_add(&f->set, 60000, true, on_timer, &t);
    g_assert_null(sylk_timers_add(&f->set, 1, false, NULL, &t));
    g_assert_cmpuint(sylk_timers_count(&f->set), ==, 2);
    /* teardown clears them: ASan/LSan would report what it did not free */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
    ADD("/timers/order", test_order);
    ADD("/timers/repeat-and-cancel", test_repeat_and_cancel);
    ADD("/timers/cancel-other-in-same-dispatch", test_cancel_other_in_batch);
    ADD("/timers/zero-interval-once-per-dispatch", test_zero_interval);
    ADD("/timers/many-in-order", test_many);
    ADD("/timers/clear-leftovers", test_clear_leftovers);
    return g_test_run();
}
