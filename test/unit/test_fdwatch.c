/*
 * test_fdwatch.c — plugins' fd watches (core/plugin/fdwatch.c) on a private GMainContext with a
 * socketpair: readable, writable, hang-up reported once, pause and resume, removal inside a
 * callback (its own watch and another one ready in the same iteration), leftovers cleared.
 */
#include "plugin/fdwatch.h"

#include <errno.h>
#include <glib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fixture {
    GMainContext *context;
    struct sylk_fd_watches set;
    int fds[2];
};

struct seen {
    unsigned calls;
    unsigned events; /* of the last call */
    bool remove_self;
    sylk_fd_watch *remove_other;
    char data[64];
};

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    f->context = g_main_context_new();
    f->set = (struct sylk_fd_watches){.context = f->context};
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, f->fds), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_null(f->set.live); /* each test removes its watches */
    if (f->fds[0] >= 0)
        close(f->fds[0]);
    if (f->fds[1] >= 0)
        close(f->fds[1]);
    g_main_context_unref(f->context);
}

/* Runs the context without blocking for about `ms` milliseconds (bounded). */
static void run(struct fixture *f, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        g_main_context_iteration(f->context, FALSE); /* one dispatch: a writable fd stays ready */
        g_usleep(1000);
    }
}

static void on_ready(sylk_fd_watch *w, int fd, unsigned events, void *user_data)
{
    struct seen *s = user_data;
    s->calls++;
    s->events = events;
    if (events & SYLK_FD_READ) {
        ssize_t n = read(fd, s->data, sizeof(s->data) - 1);
        s->data[n > 0 ? n : 0] = '\0';
    }
    if (s->remove_other) {
        sylk_fd_watch_remove(s->remove_other);
        s->remove_other = NULL;
    }
    if (s->remove_self)
        sylk_fd_watch_remove(w);
}

static void test_readable(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen s = {0};
    sylk_fd_watch *w = sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_READ, on_ready, &s);
    g_assert_nonnull(w);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 0); /* nothing to read yet */
    g_assert_cmpint(write(f->fds[1], "ping", 4), ==, 4);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_cmpuint(s.events, ==, SYLK_FD_READ);
    g_assert_cmpstr(s.data, ==, "ping");
    sylk_fd_watch_remove(w);
}

static void test_writable_and_update(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen s = {0};
    sylk_fd_watch *w = sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_WRITE, on_ready, &s);
    run(f, 2);
    g_assert_cmpuint(s.calls, >=, 1);
    g_assert_cmpuint(s.events, ==, SYLK_FD_WRITE); /* readable is not asked for */
    /* Paused: not called though writable; then only readable is asked for. */
    g_assert_cmpint(sylk_fd_watch_update(w, 0), ==, 0);
    s.calls = 0;
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 0);
    g_assert_cmpint(write(f->fds[1], "x", 1), ==, 1);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 0); /* paused: not even readable */
    g_assert_cmpint(sylk_fd_watch_update(w, SYLK_FD_READ), ==, 0);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_cmpuint(s.events, ==, SYLK_FD_READ);
    g_assert_cmpint(sylk_fd_watch_update(w, 8), ==, -EINVAL);
    g_assert_cmpint(sylk_fd_watch_update(NULL, SYLK_FD_READ), ==, -EINVAL);
    sylk_fd_watch_remove(w);
}

static void test_hangup_reported_once(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen s = {0};
    sylk_fd_watch *w = sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_WRITE, on_ready, &s);
    run(f, 2);
    g_assert_cmpuint(s.events & SYLK_FD_CLOSED, ==, 0);
    g_assert_cmpint(sylk_fd_watch_update(w, 0), ==, 0);
    close(f->fds[1]);
    f->fds[1] = -1;
    s.calls = 0;
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 0); /* paused: the hang-up waits for the resume */
    /* Asked for writing only, the hang-up is reported all the same, then the watch pauses
     * itself: a level-triggered hang-up would call again on every iteration. */
    g_assert_cmpint(sylk_fd_watch_update(w, SYLK_FD_WRITE), ==, 0);
    run(f, 20);
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_cmpuint(s.events & SYLK_FD_CLOSED, ==, SYLK_FD_CLOSED);
    /* Resumed, it is reported again (a UDP socket's error may have been read meanwhile). */
    g_assert_cmpint(sylk_fd_watch_update(w, SYLK_FD_READ), ==, 0);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 2);
    g_assert_cmpuint(s.events, ==, SYLK_FD_READ | SYLK_FD_CLOSED);
    sylk_fd_watch_remove(w);
}

static void test_remove_inside_callback(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen s = {.remove_self = true};
    sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_READ, on_ready, &s);
    g_assert_cmpint(write(f->fds[1], "a", 1), ==, 1);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_null(f->set.live);
    g_assert_cmpint(write(f->fds[1], "b", 1), ==, 1);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 1); /* gone */
}

/* Two watches ready in the same iteration; the first to run removes the other. */
static void test_remove_other_inside_callback(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen a = {0}, b = {0};
    sylk_fd_watch *wa = sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_WRITE, on_ready, &a);
    sylk_fd_watch *wb = sylk_fd_watch_add(&f->set, f->fds[1], SYLK_FD_WRITE, on_ready, &b);
    a.remove_other = wb;
    b.remove_other = wa;
    g_assert_true(g_main_context_iteration(f->context, FALSE));
    g_assert_cmpuint(a.calls + b.calls, ==, 1);
    sylk_fd_watch_remove(a.calls ? wa : wb);
    run(f, 2);
    g_assert_cmpuint(a.calls + b.calls, ==, 1);
}

static void test_bad_arguments(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen s = {0};
    g_assert_null(sylk_fd_watch_add(&f->set, -1, SYLK_FD_READ, on_ready, &s));
    g_assert_null(sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_CLOSED, on_ready, &s));
    g_assert_null(sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_READ, NULL, &s));
    sylk_fd_watch_remove(NULL);
}

static void test_leftovers_cleared(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct seen s = {0};
    sylk_fd_watch_add(&f->set, f->fds[0], SYLK_FD_READ, on_ready, &s);
    sylk_fd_watch_add(&f->set, f->fds[1], 0, on_ready, &s);
    g_test_expect_message("sylk-fdwatch", G_LOG_LEVEL_WARNING, "*left a watch on file*");
    g_test_expect_message("sylk-fdwatch", G_LOG_LEVEL_WARNING, "*left a watch on file*");
    g_assert_cmpuint(sylk_fd_watches_clear(&f->set, NULL), ==, 2);
    g_test_assert_expected_messages();
    g_assert_cmpint(write(f->fds[1], "c", 1), ==, 1);
    run(f, 5);
    g_assert_cmpuint(s.calls, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/fdwatch/" name, struct fixture, NULL, setup, fn, teardown)
    ADD("readable", test_readable);
    ADD("writable-and-update", test_writable_and_update);
    ADD("hangup-reported-once", test_hangup_reported_once);
    ADD("remove-inside-callback", test_remove_inside_callback);
    ADD("remove-other-inside-callback", test_remove_other_inside_callback);
    ADD("bad-arguments", test_bad_arguments);
    ADD("leftovers-cleared", test_leftovers_cleared);
    return g_test_run();
}
