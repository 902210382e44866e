/*
 * engine.c — media threads: epoll + 20 ms timerfd + an eventfd for calls from the main
 * thread. See engine.h.
 *
 * The thread sleeps on two descriptors only: the clock and the calls. Within one wake-up it runs
 * queued calls first, then the clock's ticks if one is due. The watched descriptors (RTP and RTCP
 * sockets) sit in a second epoll set that nobody waits on: at each tick, before the tickers run,
 * epoll_wait with no timeout takes the ready descriptors, 256 a call (poll_watches). So a packet
 * arriving wakes nobody, the thread wakes 50 times a second whatever its number of streams,
 * and the readable callbacks of a tick run back to back. Nothing is lost by the wait: a tick's
 * consumers (mixers, streams) take audio from the jitter buffers only at the tick.
 *
 * Calls (set-up and tear-down from the main thread) run within a budget per wake-up
 * (CALL_BUDGET_NS): past it the rest waits until after the ticks, so a burst of joins or leaves
 * cannot hold the rooms' mixing back by more than that.
 */
#define G_LOG_DOMAIN "sylk-media"
#include "engine.h"

#include <errno.h>
#include <glib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS     4   /* the clock and the calls */
#define WATCH_BATCH    256 /* ready descriptors taken by one epoll_wait at a tick */
#define WATCH_CALLS    128 /* polls of the watch set at one tick at most */
#define MAX_CATCH_UP   5   /* ticks run at once after a stall; older ones are skipped */
#define TICK_NS        (SYLK_MEDIA_TICK_MS * 1000000L)
#define TAG_TIMER      ((void *)1)
#define TAG_CALLS      ((void *)2)
#define LOAD_WINDOW    (1000 / SYLK_MEDIA_TICK_MS) /* ticks: the load figures cover a second */
#define PPM            1000000u
#define CALL_BUDGET_NS 1000000 /* calls run in one wake-up (then the ticks), at most */

struct media_call {
    void (*fn)(void *data);
    void *data;
    bool done;
    bool posted; /* nobody waits: freed once run */
};

struct sylk_media_thread {
    GThread *thread;
    unsigned index;
    int epoll_fd, timer_fd, call_fd;
    int watch_fd; /* epoll set of the watches, polled at each tick */
    bool stopping;
    uint64_t ticks;
    struct sylk_media_ticker *tickers; /* head of a doubly linked list */
    struct sylk_media_ticker *cursor;  /* the ticker to run next while ticking */
    int load;                          /* main thread only */
    GMutex lock;                       /* guards calls, done flags */
    GCond cond;
    GQueue calls;
    /* Written by the thread only, read by metrics from any thread. */
    atomic_uint_fast64_t counters[SYLK_MEDIA_COUNTERS];
    atomic_uint_fast64_t ticks_done, busy_ns, calls_deferred;
    atomic_uint_fast32_t load_ppm, load_max_ppm; /* the last whole window */
    /* The thread's own bookkeeping of its load window. */
    uint64_t window_start_ns, window_start_busy, last_tick_busy, window_max_ns;
};

struct sylk_media_engine {
    unsigned count;
    struct sylk_media_thread threads[];
};

static uint64_t now_ns(void);
static void wake(struct sylk_media_thread *t);
static void bump(atomic_uint_fast64_t *c, uint64_t n);

/* Runs one call; a posted one is freed, the main thread waiting on another is woken. */
static void run_call(struct sylk_media_thread *t, struct media_call *c)
{
    c->fn(c->data);
    if (c->posted) {
        g_free(c);
        return;
    }
    g_mutex_lock(&t->lock);
    c->done = true;
    g_cond_broadcast(&t->cond);
    g_mutex_unlock(&t->lock);
}

/*
 * The queued calls, in order, until `budget_ns` of them ran: the rest go back to the head of
 * the queue and the thread wakes again at once, after this wake-up's ticks. A burst of joins
 * or leaves therefore delays a due tick by CALL_BUDGET_NS (and one call) at most.
 */
static void run_calls(struct sylk_media_thread *t, uint64_t start, uint64_t budget_ns)
{
    uint64_t n;
    if (read(t->call_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        g_warning("media thread %u: eventfd read: %s", t->index, g_strerror(errno));
    g_mutex_lock(&t->lock);
    GQueue pending = t->calls;
    g_queue_init(&t->calls);
    g_mutex_unlock(&t->lock);
    struct media_call *c;
    while ((c = g_queue_pop_head(&pending))) {
        run_call(t, c);
        if (pending.length && !t->stopping && now_ns() - start >= budget_ns)
            break;
    }
    if (!pending.length)
        return;
    g_mutex_lock(&t->lock);
    while ((c = g_queue_pop_tail(&pending))) /* before what was queued meanwhile */
        g_queue_push_head(&t->calls, c);
    g_mutex_unlock(&t->lock);
    bump(&t->calls_deferred, 1);
    wake(t);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Single writer: a relaxed load and store, no locked instruction on the packet path. */
static void bump(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void sylk_media_count(struct sylk_media_thread *t, enum sylk_media_counter counter, uint64_t n)
{
    if (t && (unsigned)counter < SYLK_MEDIA_COUNTERS)
        bump(&t->counters[counter], n);
}

/* At each tick: the work done since the previous one, and once a second the window's load. */
static void account_tick(struct sylk_media_thread *t, uint64_t now)
{
    uint64_t busy = atomic_load_explicit(&t->busy_ns, memory_order_relaxed);
    t->window_max_ns = MAX(t->window_max_ns, busy - t->last_tick_busy);
    t->last_tick_busy = busy;
    if (t->window_start_ns == 0) {
        t->window_start_ns = now;
        t->window_start_busy = busy;
        return;
    }
    if (now - t->window_start_ns < LOAD_WINDOW * (uint64_t)TICK_NS)
        return;
    uint64_t share = (busy - t->window_start_busy) * PPM / (now - t->window_start_ns);
    uint64_t max = t->window_max_ns * PPM / TICK_NS;
    atomic_store_explicit(&t->load_ppm, (uint_fast32_t)MIN(share, PPM), memory_order_relaxed);
    atomic_store_explicit(&t->load_max_ppm, (uint_fast32_t)MIN(max, 100u * PPM),
                          memory_order_relaxed);
    t->window_start_ns = now;
    t->window_start_busy = busy;
    t->window_max_ns = 0;
}

/*
 * Every ready watch, in rounds: a readable callback takes one datagram, and the set is polled
 * again (level-triggered: what is still readable comes again, after the others) until nothing
 * is ready. One epoll_wait per round finds the sockets with more, where a read per socket
 * would find nothing in most. A flood cannot hold the clock: at most WATCH_CALLS polls a tick,
 * the rest waits for the next.
 */
static void poll_watches(struct sylk_media_thread *t)
{
    struct epoll_event ev[WATCH_BATCH];
    for (int calls = 0; calls < WATCH_CALLS; calls++) {
        int n = epoll_wait(t->watch_fd, ev, WATCH_BATCH, 0);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            struct sylk_media_watch *w = ev[i].data.ptr;
            w->readable(w);
        }
    }
}

static void run_ticks(struct sylk_media_thread *t)
{
    uint64_t expirations = 0;
    if (read(t->timer_fd, &expirations, sizeof(expirations)) < 0)
        return;
    account_tick(t, now_ns());
    if (expirations > MAX_CATCH_UP) {
        t->ticks += expirations - MAX_CATCH_UP;
        expirations = MAX_CATCH_UP;
    }
    for (; expirations > 0; expirations--) {
        t->ticks++;
        bump(&t->ticks_done, 1);
        poll_watches(t);
        /* The cursor moves past a ticker a tick removes (remove_ticker keeps it valid). */
        for (t->cursor = t->tickers; t->cursor;) {
            struct sylk_media_ticker *k = t->cursor;
            t->cursor = k->next;
            k->tick(k, t->ticks);
        }
    }
}

static gpointer thread_main(gpointer data)
{
    struct sylk_media_thread *t = data;
    struct epoll_event ev[MAX_EVENTS];
    while (!t->stopping) {
        int n = epoll_wait(t->epoll_fd, ev, MAX_EVENTS, -1);
        uint64_t woke = now_ns();
        if (n < 0) {
            if (errno != EINTR)
                g_error("media thread %u: epoll_wait: %s", t->index, g_strerror(errno));
            continue;
        }
        /* Queued work first: what it sets up (a stream's description) must be in place
         * before that stream's packets are read, and what it frees (a watch) is out of the
         * watch set before the tick polls it. */
        bool calls = false, timer = false;
        for (int i = 0; i < n; i++) {
            calls |= ev[i].data.ptr == TAG_CALLS;
            timer |= ev[i].data.ptr == TAG_TIMER;
        }
        if (calls)
            run_calls(t, woke, CALL_BUDGET_NS);
        if (timer && !t->stopping)
            run_ticks(t);
        bump(&t->busy_ns, now_ns() - woke);
    }
    return NULL;
}

static int add_fd(int epoll_fd, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int thread_start(struct sylk_media_thread *t, unsigned index)
{
    t->index = index;
    g_mutex_init(&t->lock);
    g_cond_init(&t->cond);
    g_queue_init(&t->calls);
    t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    t->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->watch_fd = epoll_create1(EPOLL_CLOEXEC);
    if (t->epoll_fd < 0 || t->timer_fd < 0 || t->call_fd < 0 || t->watch_fd < 0)
        return -errno;
    struct itimerspec period = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
    if (timerfd_settime(t->timer_fd, 0, &period, NULL) < 0)
        return -errno;
    int rc = add_fd(t->epoll_fd, t->timer_fd, TAG_TIMER);
    if (rc == 0)
        rc = add_fd(t->epoll_fd, t->call_fd, TAG_CALLS);
    if (rc < 0)
        return rc;
    char name[16];
    g_snprintf(name, sizeof(name), "sylk-media-%u", index);
    t->thread = g_thread_new(name, thread_main, t);
    return 0;
}

static void set_stopping(void *data)
{
    ((struct sylk_media_thread *)data)->stopping = true;
}

static void thread_stop(struct sylk_media_thread *t)
{
    if (t->thread) {
        sylk_media_thread_call(t, set_stopping, t);
        g_thread_join(t->thread);
        /* What the thread posted to itself meanwhile (the end of a stream's close): it is gone,
         * so its calls run here. Nobody waits on them. */
        struct media_call *c;
        while ((c = g_queue_pop_head(&t->calls)))
            run_call(t, c);
    }
    if (t->tickers)
        g_warning("media thread %u stopped with tickers still registered", t->index);
    for (int *fd = &t->epoll_fd; fd <= &t->watch_fd; fd++) {
        if (*fd >= 0)
            close(*fd);
    }
    g_mutex_clear(&t->lock);
    g_cond_clear(&t->cond);
}

int sylk_media_engine_new(unsigned threads, struct sylk_media_engine **out)
{
    if (threads == 0)
        threads = MAX(1u, g_get_num_processors());
    threads = MIN(threads, (unsigned)SYLK_MEDIA_MAX_THREAD);
    struct sylk_media_engine *e =
        g_malloc0(sizeof(*e) + threads * sizeof(struct sylk_media_thread));
    for (unsigned i = 0; i < threads; i++) {
        struct sylk_media_thread *t = &e->threads[i];
        t->epoll_fd = t->timer_fd = t->call_fd = t->watch_fd = -1;
    }
    for (unsigned i = 0; i < threads; i++) {
        int rc = thread_start(&e->threads[i], i);
        e->count = i + 1;
        if (rc < 0) {
            g_warning("cannot start media thread %u: %s", i, g_strerror(-rc));
            sylk_media_engine_free(e);
            return rc;
        }
    }
    g_info("%u media thread%s started", threads, threads == 1 ? "" : "s");
    *out = e;
    return 0;
}

void sylk_media_engine_free(struct sylk_media_engine *e)
{
    if (!e)
        return;
    for (unsigned i = 0; i < e->count; i++)
        thread_stop(&e->threads[i]);
    g_free(e);
}

unsigned sylk_media_engine_thread_count(const struct sylk_media_engine *e)
{
    return e->count;
}

struct sylk_media_thread *sylk_media_engine_pick(struct sylk_media_engine *e)
{
    struct sylk_media_thread *best = &e->threads[0];
    for (unsigned i = 1; i < e->count; i++) {
        if (e->threads[i].load < best->load)
            best = &e->threads[i];
    }
    return best;
}

void sylk_media_engine_stats(const struct sylk_media_engine *e, unsigned index,
                             struct sylk_media_thread_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!e || index >= e->count)
        return;
    const struct sylk_media_thread *t = &e->threads[index];
    for (unsigned i = 0; i < SYLK_MEDIA_COUNTERS; i++)
        out->counters[i] = atomic_load_explicit(&t->counters[i], memory_order_relaxed);
    out->ticks = atomic_load_explicit(&t->ticks_done, memory_order_relaxed);
    out->calls_deferred = atomic_load_explicit(&t->calls_deferred, memory_order_relaxed);
    out->busy_ns = atomic_load_explicit(&t->busy_ns, memory_order_relaxed);
    out->load = (double)atomic_load_explicit(&t->load_ppm, memory_order_relaxed) / PPM;
    out->load_max = (double)atomic_load_explicit(&t->load_max_ppm, memory_order_relaxed) / PPM;
}

void sylk_media_thread_load(struct sylk_media_thread *t, int delta)
{
    t->load += delta;
}

static void wake(struct sylk_media_thread *t)
{
    uint64_t one = 1;
    if (write(t->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        g_error("media thread %u: eventfd write: %s", t->index, g_strerror(errno));
}

void sylk_media_thread_post(struct sylk_media_thread *t, void (*fn)(void *data), void *data)
{
    struct media_call *c = g_new0(struct media_call, 1);
    c->fn = fn;
    c->data = data;
    c->posted = true;
    g_mutex_lock(&t->lock);
    g_queue_push_tail(&t->calls, c);
    g_mutex_unlock(&t->lock);
    wake(t);
}

void sylk_media_thread_call(struct sylk_media_thread *t, void (*fn)(void *data), void *data)
{
    if (g_thread_self() == t->thread) { /* already there */
        fn(data);
        return;
    }
    struct media_call c = {.fn = fn, .data = data};
    g_mutex_lock(&t->lock);
    g_queue_push_tail(&t->calls, &c);
    g_mutex_unlock(&t->lock);
    wake(t);
    g_mutex_lock(&t->lock);
    while (!c.done)
        g_cond_wait(&t->cond, &t->lock);
    g_mutex_unlock(&t->lock);
}

int sylk_media_thread_watch(struct sylk_media_thread *t, struct sylk_media_watch *w)
{
    w->thread = t; /* before epoll_ctl: the thread reads it once the watch fires */
    return add_fd(t->watch_fd, w->fd, w);
}

void sylk_media_thread_unwatch(struct sylk_media_thread *t, struct sylk_media_watch *w)
{
    epoll_ctl(t->watch_fd, EPOLL_CTL_DEL, w->fd, NULL);
}

void sylk_media_thread_add_ticker(struct sylk_media_thread *t, struct sylk_media_ticker *k)
{
    if (k->active)
        return;
    k->prev = NULL;
    k->next = t->tickers;
    if (t->tickers)
        t->tickers->prev = k;
    t->tickers = k;
    k->active = true;
}

void sylk_media_thread_remove_ticker(struct sylk_media_thread *t, struct sylk_media_ticker *k)
{
    if (!k->active)
        return;
    if (t->cursor == k)
        t->cursor = k->next;
    if (k->prev)
        k->prev->next = k->next;
    else
        t->tickers = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->active = false;
}

struct posted {
    void (*fn)(void *data);
    void *data;
};

static gboolean run_posted(gpointer data)
{
    struct posted *p = data;
    p->fn(p->data);
    g_free(p);
    return G_SOURCE_REMOVE;
}

void sylk_media_post_main(void (*fn)(void *data), void *data)
{
    struct posted *p = g_new(struct posted, 1);
    p->fn = fn;
    p->data = data;
    g_idle_add_full(G_PRIORITY_DEFAULT, run_posted, p, NULL);
}
