/*
 * Unit tests for core/media/engine.c: media threads started and told apart, synchronous calls
 * run on them, tickers ticked every 20 ms until removed, watched descriptors reported readable
 * (at the tick, before its tickers, again while they stay readable),
 * placement on the least loaded thread, events posted back to the main loop, a burst of calls
 * run in order within a budget per wake-up (ticks between them), calls a thread posts to
 * itself run even when it stops.
 */
#include "media/engine.h"

#include <errno.h>
#include <glib.h>
#include <sys/socket.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static GThread *main_thread;

/* The engine's threads, each once: pick gives the least loaded, so load each one as found. */
static void engine_threads(struct sylk_media_engine *e, struct sylk_media_thread **out, unsigned n)
{
    g_assert_cmpuint(sylk_media_engine_thread_count(e), ==, n);
    for (unsigned i = 0; i < n; i++) {
        out[i] = sylk_media_engine_pick(e);
        for (unsigned j = 0; j < i; j++)
            g_assert_true(out[i] != out[j]);
        sylk_media_thread_load(out[i], 1);
    }
    for (unsigned i = 0; i < n; i++)
        sylk_media_thread_load(out[i], -1);
}

static struct sylk_media_engine *engine_new(unsigned threads)
{
    struct sylk_media_engine *e = NULL;
    g_assert_cmpint(sylk_media_engine_new(threads, &e), ==, 0);
    g_assert_nonnull(e);
    return e;
}

/* --------------------------------------------------------------- threads, calls --- */

static void record_thread(void *data)
{
    *(GThread **)data = g_thread_self();
}

static void two_threads(void)
{
    struct sylk_media_engine *e = engine_new(2);
    struct sylk_media_thread *t[2];
    engine_threads(e, t, 2);
    GThread *ran[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        sylk_media_thread_call(t[i], record_thread, &ran[i]);
        g_assert_nonnull(ran[i]);
        g_assert_true(ran[i] != main_thread);
    }
    g_assert_true(ran[0] != ran[1]);
    /* A thread keeps running its calls itself. */
    GThread *again = NULL;
    sylk_media_thread_call(t[0], record_thread, &again);
    g_assert_true(again == ran[0]);
    sylk_media_engine_free(e);
}

static void one_per_cpu(void)
{
    struct sylk_media_engine *e = engine_new(0);
    unsigned expected = MIN(MAX(1u, g_get_num_processors()), (unsigned)SYLK_MEDIA_MAX_THREAD);
    g_assert_cmpuint(sylk_media_engine_thread_count(e), ==, expected);
    sylk_media_engine_free(e);
}

static void slow_set(void *data)
{
    g_usleep(50000);
    *(int *)data = 42; /* plain memory: the call's own synchronisation must publish it */
}

struct nested {
    struct sylk_media_thread *t;
    GThread *outer, *inner;
};

static void nested_inner(void *data)
{
    ((struct nested *)data)->inner = g_thread_self();
}

/* A call made from the thread itself runs at once instead of waiting on itself. */
static void nested_outer(void *data)
{
    struct nested *n = data;
    n->outer = g_thread_self();
    sylk_media_thread_call(n->t, nested_inner, n);
}

static void call_is_synchronous(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct sylk_media_thread *t = sylk_media_engine_pick(e);
    int value = 0;
    gint64 start = g_get_monotonic_time();
    sylk_media_thread_call(t, slow_set, &value);
    g_assert_cmpint(value, ==, 42);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 50000);

    for (int i = 0; i < 3; i++) { /* one after another: each waited for */
        value = i;
        sylk_media_thread_call(t, slow_set, &value);
        g_assert_cmpint(value, ==, 42);
    }

    struct nested n = {.t = t};
    sylk_media_thread_call(t, nested_outer, &n);
    g_assert_nonnull(n.outer);
    g_assert_true(n.outer != main_thread);
    g_assert_true(n.inner == n.outer);
    sylk_media_engine_free(e);
}

/* ------------------------------------------------------------------- tickers --- */

struct counter {
    struct sylk_media_ticker k;
    struct sylk_media_thread *t;
    gint ticks;        /* read by the test thread while ticking */
    uint64_t last;     /* media thread */
    bool out_of_order; /* media thread */
};

static void count_tick(struct sylk_media_ticker *k, uint64_t tick)
{
    struct counter *c = container_of(k, struct counter, k);
    if (c->last && tick <= c->last)
        c->out_of_order = true;
    c->last = tick;
    g_atomic_int_inc(&c->ticks);
}

static void add_ticker(void *data)
{
    struct counter *c = data;
    sylk_media_thread_add_ticker(c->t, &c->k);
}

static void remove_ticker(void *data)
{
    struct counter *c = data;
    sylk_media_thread_remove_ticker(c->t, &c->k);
}

static void counter_init(struct counter *c, struct sylk_media_thread *t)
{
    *c = (struct counter){.k.tick = count_tick, .t = t};
}

static void ticker_every_20ms(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct sylk_media_thread *t = sylk_media_engine_pick(e);
    struct counter c;
    counter_init(&c, t);
    sylk_media_thread_call(t, add_ticker, &c);
    g_usleep(300000);
    int ticks = g_atomic_int_get(&c.ticks);
    g_test_message("%d ticks in 300 ms", ticks);
    g_assert_cmpint(ticks, >=, 10);
    g_assert_cmpint(ticks, <=, 20);

    sylk_media_thread_call(t, remove_ticker, &c);
    ticks = g_atomic_int_get(&c.ticks);
    g_usleep(100000);
    g_assert_cmpint(g_atomic_int_get(&c.ticks), ==, ticks);
    g_assert_false(c.out_of_order);
    g_assert_false(c.k.active);
    sylk_media_engine_free(e);
}

/* Several tickers: each ticked once per tick (adding twice changes nothing), and removing the
 * one in the middle of the list leaves the others ticking. */
static void tickers_added_and_removed(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct sylk_media_thread *t = sylk_media_engine_pick(e);
    struct counter c[3];
    for (int i = 0; i < 3; i++) {
        counter_init(&c[i], t);
        sylk_media_thread_call(t, add_ticker, &c[i]);
    }
    sylk_media_thread_call(t, add_ticker, &c[0]);
    g_usleep(200000);
    sylk_media_thread_call(t, remove_ticker, &c[1]);
    int a = g_atomic_int_get(&c[0].ticks), b = g_atomic_int_get(&c[1].ticks),
        z = g_atomic_int_get(&c[2].ticks);
    g_assert_cmpint(a, >=, 5);
    g_assert_cmpint(ABS(a - b), <=, 1); /* not twice as often for the double add */
    g_assert_cmpint(ABS(a - z), <=, 1);
    sylk_media_thread_call(t, remove_ticker, &c[1]); /* removing again: nothing */
    g_usleep(200000);
    g_assert_cmpint(g_atomic_int_get(&c[1].ticks), ==, b);
    g_assert_cmpint(g_atomic_int_get(&c[0].ticks), >=, a + 5);
    g_assert_cmpint(g_atomic_int_get(&c[2].ticks), >=, z + 5);
    sylk_media_thread_call(t, remove_ticker, &c[0]);
    sylk_media_thread_call(t, remove_ticker, &c[2]);
    sylk_media_engine_free(e);
}

/* -------------------------------------------------------------------- watches --- */

struct reader {
    struct sylk_media_watch w;
    struct sylk_media_thread *t;
    int rc;
    GMutex lock;
    GCond cond;
    size_t bytes;    /* under lock */
    GThread *ran_on; /* under lock */
};

static void on_readable(struct sylk_media_watch *w)
{
    struct reader *r = container_of(w, struct reader, w);
    char buf[64];
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
        g_mutex_lock(&r->lock);
        r->bytes += (size_t)n;
        r->ran_on = g_thread_self();
        g_cond_broadcast(&r->cond);
        g_mutex_unlock(&r->lock);
    }
}

static void watch_reader(void *data)
{
    struct reader *r = data;
    r->rc = sylk_media_thread_watch(r->t, &r->w);
}

static void unwatch_reader(void *data)
{
    struct reader *r = data;
    sylk_media_thread_unwatch(r->t, &r->w);
}

/* Bytes read so far, once there are `want` or after a second. */
static size_t wait_bytes(struct reader *r, size_t want)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
    g_mutex_lock(&r->lock);
    while (r->bytes < want && g_cond_wait_until(&r->cond, &r->lock, deadline))
        ;
    size_t got = r->bytes;
    g_mutex_unlock(&r->lock);
    return got;
}

static void watch_readable(void)
{
    struct sylk_media_engine *e = engine_new(2);
    struct sylk_media_thread *t[2];
    engine_threads(e, t, 2);
    GThread *media = NULL;
    sylk_media_thread_call(t[1], record_thread, &media);
    int fds[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
    struct reader r = {.w = {.fd = fds[0], .readable = on_readable}, .t = t[1]};
    g_mutex_init(&r.lock);
    g_cond_init(&r.cond);
    sylk_media_thread_call(t[1], watch_reader, &r);
    g_assert_cmpint(r.rc, ==, 0);

    g_assert_cmpint(write(fds[1], "hello", 5), ==, 5);
    g_assert_cmpuint(wait_bytes(&r, 5), ==, 5);
    g_assert_cmpint(write(fds[1], "abc", 3), ==, 3);
    g_assert_cmpuint(wait_bytes(&r, 8), ==, 8);
    g_mutex_lock(&r.lock);
    g_assert_true(r.ran_on == media); /* on the thread it was registered on */
    g_mutex_unlock(&r.lock);

    sylk_media_thread_call(t[1], unwatch_reader, &r);
    g_assert_cmpint(write(fds[1], "zz", 2), ==, 2);
    g_usleep(100000);
    g_mutex_lock(&r.lock);
    g_assert_cmpuint(r.bytes, ==, 8);
    g_mutex_unlock(&r.lock);

    close(fds[0]);
    close(fds[1]);
    g_mutex_clear(&r.lock);
    g_cond_clear(&r.cond);
    sylk_media_engine_free(e);
}

/* A reader that takes one datagram a call, and a ticker on its thread that notes how many
 * were read when it first ticks after any was: media thread only, read after a call. */
struct one_reader {
    struct sylk_media_watch w;
    struct sylk_media_ticker k;
    struct sylk_media_thread *t;
    int rc, reads, seen_at_tick;
};

static void read_one(struct sylk_media_watch *w)
{
    struct one_reader *r = container_of(w, struct one_reader, w);
    char buf[16];
    if (read(w->fd, buf, sizeof(buf)) > 0)
        r->reads++;
}

static void note_reads(struct sylk_media_ticker *k, uint64_t tick)
{
    struct one_reader *r = container_of(k, struct one_reader, k);
    (void)tick;
    if (r->reads && r->seen_at_tick < 0)
        r->seen_at_tick = r->reads;
}

static void one_reader_start(void *data)
{
    struct one_reader *r = data;
    r->rc = sylk_media_thread_watch(r->t, &r->w);
    sylk_media_thread_add_ticker(r->t, &r->k);
}

static void one_reader_stop(void *data)
{
    struct one_reader *r = data;
    sylk_media_thread_remove_ticker(r->t, &r->k);
    sylk_media_thread_unwatch(r->t, &r->w);
}

static void one_reader_seen(void *data)
{
    struct one_reader *r = data;
    r->rc = r->seen_at_tick;
}

/* Watches are polled at the tick, before its tickers, and again while a descriptor stays
 * readable: ten datagrams waiting are all read by a reader taking one a call, within one tick. */
static void watch_rounds(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct sylk_media_thread *t = sylk_media_engine_pick(e);
    int fds[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
    for (int i = 0; i < 10; i++)
        g_assert_cmpint(write(fds[1], "datagram", 8), ==, 8);
    struct one_reader r = {.w = {.fd = fds[0], .readable = read_one},
                           .k = {.tick = note_reads},
                           .t = t,
                           .seen_at_tick = -1};
    sylk_media_thread_call(t, one_reader_start, &r);
    g_assert_cmpint(r.rc, ==, 0);
    int seen = -1;
    for (int i = 0; i < 100 && seen < 0; i++) { /* a tick comes within 20 ms */
        g_usleep(10000);
        sylk_media_thread_call(t, one_reader_seen, &r);
        seen = r.rc;
    }
    g_assert_cmpint(seen, ==, 10);
    sylk_media_thread_call(t, one_reader_stop, &r);
    close(fds[0]);
    close(fds[1]);
    sylk_media_engine_free(e);
}

/* ------------------------------------------------------------------ placement --- */

static void pick_least_loaded(void)
{
    struct sylk_media_engine *e = engine_new(3);
    struct sylk_media_thread *t[3];
    engine_threads(e, t, 3);
    g_assert_true(sylk_media_engine_pick(e) == t[0]); /* all idle: the first */
    sylk_media_thread_load(t[0], 2);
    sylk_media_thread_load(t[1], 1);
    g_assert_true(sylk_media_engine_pick(e) == t[2]);
    sylk_media_thread_load(t[2], 3);
    g_assert_true(sylk_media_engine_pick(e) == t[1]);
    sylk_media_thread_load(t[1], 5);
    g_assert_true(sylk_media_engine_pick(e) == t[0]);
    sylk_media_thread_load(t[0], -2); /* streams closed there */
    g_assert_true(sylk_media_engine_pick(e) == t[0]);
    sylk_media_thread_load(t[1], -6);
    sylk_media_thread_load(t[2], -3);
    g_assert_true(sylk_media_engine_pick(e) == t[0]);
    sylk_media_engine_free(e);
}

/* ------------------------------------------------------------- back to main --- */

struct delivery {
    gint count;
    GThread *ran_on;
};

struct posted_event {
    struct delivery *to;
};

static void on_main(void *data)
{
    struct posted_event *ev = data;
    ev->to->ran_on = g_thread_self();
    g_atomic_int_inc(&ev->to->count);
    g_free(ev); /* the data was handed over */
}

static void post_event(void *data)
{
    struct posted_event *ev = g_new(struct posted_event, 1);
    ev->to = data;
    sylk_media_post_main(on_main, ev);
}

/* Runs the default main context until `count` deliveries or a second. */
static int wait_deliveries(struct delivery *d, int count)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
    while (g_atomic_int_get(&d->count) < count && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    }
    return g_atomic_int_get(&d->count);
}

static void post_main(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct sylk_media_thread *t = sylk_media_engine_pick(e);
    struct delivery d = {0};
    sylk_media_thread_call(t, post_event, &d);
    g_assert_cmpint(wait_deliveries(&d, 1), ==, 1);
    g_assert_true(d.ran_on == main_thread);

    /* Posted from the main thread too, and several at once: each delivered once. */
    post_event(&d);
    for (int i = 0; i < 3; i++)
        sylk_media_thread_call(t, post_event, &d);
    g_assert_cmpint(wait_deliveries(&d, 5), ==, 5);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_assert_cmpint(g_atomic_int_get(&d.count), ==, 5);
    sylk_media_engine_free(e);
}

/* ------------------------------------------------------------- the calls' budget --- */

#define SLOW_CALLS   100
#define SLOW_CALL_US 500 /* 50 ms of calls in all: two ticks or more come due meanwhile */

struct budget {
    struct sylk_media_ticker k;
    struct sylk_media_thread *t;
    GMutex lock;
    GCond cond;
    bool released;
    unsigned order[SLOW_CALLS + 1]; /* media thread */
    unsigned ran;                   /* media thread; read once it is over */
    unsigned partial_ticks;         /* ticks that came between the first and the last call */
};

static struct budget *budget_of(struct sylk_media_ticker *k)
{
    return container_of(k, struct budget, k);
}

static void budget_tick(struct sylk_media_ticker *k, uint64_t tick)
{
    struct budget *b = budget_of(k);
    (void)tick;
    if (b->ran > 1 && b->ran <= SLOW_CALLS)
        b->partial_ticks++;
}

struct slow_call {
    struct budget *b;
    unsigned index;
};

/* The first call holds the thread until every other one is queued behind it. */
static void first_call(void *data)
{
    struct budget *b = data;
    sylk_media_thread_add_ticker(b->t, &b->k);
    g_mutex_lock(&b->lock);
    while (!b->released)
        g_cond_wait(&b->cond, &b->lock);
    g_mutex_unlock(&b->lock);
    b->order[b->ran++] = 0;
}

static void slow_call(void *data)
{
    struct slow_call *c = data;
    gint64 end = g_get_monotonic_time() + SLOW_CALL_US;
    while (g_get_monotonic_time() < end)
        ;
    c->b->order[c->b->ran++] = c->index;
}

static void budget_done(void *data)
{
    struct budget *b = data;
    sylk_media_thread_remove_ticker(b->t, &b->k);
}

/*
 * 50 ms of calls queued at once (a burst of joins or leaves): the thread runs them in order but
 * not in one go: its ticks come between them (more than once), and the wake-ups that went past
 * the budget are counted.
 */
static void calls_within_budget(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct sylk_media_thread *t = sylk_media_engine_pick(e);
    struct budget b = {.k.tick = budget_tick, .t = t};
    g_mutex_init(&b.lock);
    g_cond_init(&b.cond);
    struct slow_call calls[SLOW_CALLS];
    sylk_media_thread_post(t, first_call, &b);
    for (unsigned i = 0; i < SLOW_CALLS; i++) {
        calls[i] = (struct slow_call){.b = &b, .index = i + 1};
        sylk_media_thread_post(t, slow_call, &calls[i]);
    }
    g_mutex_lock(&b.lock);
    b.released = true;
    g_cond_signal(&b.cond);
    g_mutex_unlock(&b.lock);
    sylk_media_thread_call(t, budget_done, &b); /* after all of them */
    g_assert_cmpuint(b.ran, ==, SLOW_CALLS + 1);
    for (unsigned i = 0; i <= SLOW_CALLS; i++)
        g_assert_cmpuint(b.order[i], ==, i);
    g_test_message("%u ticks ran between the calls", b.partial_ticks);
    g_assert_cmpuint(b.partial_ticks, >=, 2);
    struct sylk_media_thread_stats st;
    sylk_media_engine_stats(e, 0, &st);
    g_assert_cmpuint(st.calls_deferred, >=, 2);
    sylk_media_engine_free(e);
    g_mutex_clear(&b.lock);
    g_cond_clear(&b.cond);
}

/* A call the thread posts to itself runs after the wake-up's ticks, or at the thread's stop. */
struct self_post {
    struct sylk_media_thread *t;
    gint ran;
};

static void posted_late(void *data)
{
    g_atomic_int_inc(&((struct self_post *)data)->ran);
}

static void post_to_self(void *data)
{
    struct self_post *d = data;
    sylk_media_thread_post(d->t, posted_late, d);
}

static void self_post_at_stop(void)
{
    struct sylk_media_engine *e = engine_new(1);
    struct self_post d = {.t = sylk_media_engine_pick(e)};
    for (int i = 0; i < 50; i++)
        sylk_media_thread_post(d.t, post_to_self, &d);
    sylk_media_engine_free(e); /* the thread stops with some of them queued, or none */
    g_assert_cmpint(d.ran, ==, 50);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_thread = g_thread_self();
    g_test_add_func("/engine/two-threads", two_threads);
    g_test_add_func("/engine/one-per-cpu", one_per_cpu);
    g_test_add_func("/engine/call-is-synchronous", call_is_synchronous);
    g_test_add_func("/engine/ticker-every-20ms", ticker_every_20ms);
    g_test_add_func("/engine/tickers-added-and-removed", tickers_added_and_removed);
    g_test_add_func("/engine/watch-readable", watch_readable);
    g_test_add_func("/engine/watch-rounds", watch_rounds);
    g_test_add_func("/engine/pick-least-loaded", pick_least_loaded);
    g_test_add_func("/engine/post-main", post_main);
    g_test_add_func("/engine/calls-within-budget", calls_within_budget);
    g_test_add_func("/engine/self-post-at-stop", self_post_at_stop);
    return g_test_run();
}
