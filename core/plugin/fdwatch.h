/*
 * fdwatch.h — file descriptors of plugins watched on a GLib main context (SDK 1.7
 * fd_watch_add, fd_watch_update, fd_watch_remove): one GSource per watch, polling the
 * descriptor for what the plugin asks (readable, writable) and always for hang-up and error.
 *
 * Main thread (the thread that runs the watches' context). Each watch is owned by the set it
 * was added to until the plugin removes it; whatever plugins leave behind is removed, with a
 * log line naming the plugin, when the server stops (sylk_fd_watches_clear).
 *
 * Semantics the SDK documents:
 *   - SYLK_FD_CLOSED (POLLHUP, POLLERR, POLLNVAL) is reported with whatever else is ready,
 *     once: the watch is then paused (a level-triggered hang-up would otherwise call the
 *     plugin in a loop) until fd_watch_update resumes it or fd_watch_remove ends it.
 *   - A paused watch (events 0) does not poll the descriptor at all, so it reports nothing,
 *     not even a hang-up: the plugin hears of it when it resumes the watch.
 *   - fd_watch_remove is allowed inside the watch's own callback (and inside any other).
 */
#ifndef SYLK_FDWATCH_H
#define SYLK_FDWATCH_H

#include <glib.h>
#include <sylk/host.h>

struct sylk_plugin_registry;

/** The live watches of one main context. */
struct sylk_fd_watches {
    GMainContext *context; /* NULL: the default one */
    GList *live;           /* struct sylk_fd_watch * */
};

/**
 * Watches `fd` for `events` (SYLK_FD_READ | SYLK_FD_WRITE, or 0 to start paused); NULL for a
 * negative fd, unknown event bits or no callback.
 */
sylk_fd_watch *sylk_fd_watch_add(struct sylk_fd_watches *set, int fd, unsigned events,
                                 sylk_fd_fn fn, void *user_data);

/** What the watch waits for from now on (0 pauses it). 0, or -EINVAL. */
int sylk_fd_watch_update(sylk_fd_watch *watch, unsigned events);

/** Ends a watch (never closes its descriptor). NULL is ignored. */
void sylk_fd_watch_remove(sylk_fd_watch *watch);

/**
 * Removes every watch still in `set`, logging each with the plugin its callback belongs to
 * (`plugins` may be NULL); returns how many there were. At server stop, after the plugins'
 * shutdown.
 */
unsigned sylk_fd_watches_clear(struct sylk_fd_watches *set,
                               const struct sylk_plugin_registry *plugins);

#endif
