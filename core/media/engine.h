/*
 * engine.h — the media threads (DESIGN.md "Threads").
 *
 * Each media thread runs an epoll loop with a 20 ms timerfd clock. It owns a set of file
 * descriptors (RTP/RTCP sockets) and of tickers (streams that play, mixers), and runs them
 * without locks. Descriptors are polled at each tick, all at once, before the tickers run: a
 * watch's readable callback comes at the first tick after data arrived (within 20 ms), not
 * at once: a stream or a mixer lives on exactly one thread. The main thread changes
 * what a thread owns only through sylk_media_thread_call, which runs a function on that
 * thread and waits for it, or sylk_media_thread_post, which queues it without waiting (control
 * path only: setup, re-negotiation, teardown). Media threads
 * never call plugins; they post events to the main loop (sylk_media_post_main).
 *
 * Thread: the engine and sylk_media_thread_call belong to the main thread; watch/unwatch and
 * tickers are used from functions running on the media thread itself.
 */
#ifndef SYLK_ENGINE_H
#define SYLK_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#define SYLK_MEDIA_TICK_MS    20
#define SYLK_MEDIA_MAX_THREAD 64

struct sylk_media_engine;
struct sylk_media_thread;

/**
 * A readable file descriptor, registered on one media thread; owned by its user. `readable`
 * runs at a tick when the descriptor has data; it may take just one datagram: it runs again
 * (later in the same tick) while the descriptor stays readable, within a bound per tick.
 */
struct sylk_media_watch {
    int fd;
    void (*readable)(struct sylk_media_watch *watch);
    struct sylk_media_thread *thread; /* set by sylk_media_thread_watch: where it runs */
};

/* What each media thread counts (its own counters: no lock, no shared cache line written). */
enum sylk_media_counter {
    SYLK_MEDIA_RTP_RECEIVED,  /* RTP packets accepted (checked, unprotected) */
    SYLK_MEDIA_RTP_LOST,      /* frames missing when due for playout */
    SYLK_MEDIA_RTP_LATE,      /* packets that came after their playout time */
    SYLK_MEDIA_RTP_CONCEALED, /* frames the decoder made up for lost ones */
    SYLK_MEDIA_COUNTERS
};

/** A media thread's figures, read from any thread without disturbing it. */
struct sylk_media_thread_stats {
    uint64_t counters[SYLK_MEDIA_COUNTERS];
    uint64_t ticks;          /* 20 ms ticks run */
    uint64_t calls_deferred; /* wake-ups whose calls went past the budget: the rest waited */
    uint64_t busy_ns;        /* time spent working (not waiting in epoll) */
    double load;             /* share of the last second's ticks spent working, 0..1 */
    double load_max;         /* the busiest single tick of the last second, as a share of 20 ms */
};

/** Something run once per 20 ms tick on its thread; owned by its user. */
struct sylk_media_ticker {
    void (*tick)(struct sylk_media_ticker *ticker, uint64_t tick);
    struct sylk_media_ticker *prev, *next; /* the thread's list */
    bool active;
};

/** Starts `threads` media threads (0: one per online CPU). */
int sylk_media_engine_new(unsigned threads, struct sylk_media_engine **out);
/** Stops and joins the threads; everything must have been removed from them. */
void sylk_media_engine_free(struct sylk_media_engine *engine);
unsigned sylk_media_engine_thread_count(const struct sylk_media_engine *engine);

/** The thread with the least load (streams and mixers placed there); main thread only. */
struct sylk_media_thread *sylk_media_engine_pick(struct sylk_media_engine *engine);
/** Load accounting for placement; main thread only. */
void sylk_media_thread_load(struct sylk_media_thread *thread, int delta);

/** Runs fn(data) on the thread and waits until it returned. Main thread only. */
void sylk_media_thread_call(struct sylk_media_thread *thread, void (*fn)(void *data), void *data);
/**
 * Runs fn(data) on the thread later, without waiting: the main thread goes on with SIP. Posts
 * and calls to one thread run in the order they were made. Main thread, or the media thread
 * itself (work to do after this wake-up's ticks: run once the thread is stopped, at the
 * latest).
 */
void sylk_media_thread_post(struct sylk_media_thread *thread, void (*fn)(void *data), void *data);

/* A watch may be added from any thread (epoll_ctl is), once its owner is complete. */
int sylk_media_thread_watch(struct sylk_media_thread *thread, struct sylk_media_watch *watch);

/* --- on the media thread itself --- */
void sylk_media_thread_unwatch(struct sylk_media_thread *thread, struct sylk_media_watch *watch);
void sylk_media_thread_add_ticker(struct sylk_media_thread *thread,
                                  struct sylk_media_ticker *ticker);
void sylk_media_thread_remove_ticker(struct sylk_media_thread *thread,
                                     struct sylk_media_ticker *ticker);

/** Adds `n` to one of `thread`'s counters; on that media thread only. */
void sylk_media_count(struct sylk_media_thread *thread, enum sylk_media_counter counter,
                      uint64_t n);
/** Thread `index`'s figures (any thread; each figure read atomically). */
void sylk_media_engine_stats(const struct sylk_media_engine *engine, unsigned index,
                             struct sylk_media_thread_stats *out);

/** Runs fn(data) on the main loop later (any thread); `data` passes ownership. */
void sylk_media_post_main(void (*fn)(void *data), void *data);

#endif
