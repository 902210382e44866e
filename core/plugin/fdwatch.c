/*
 * fdwatch.c — plugins' file descriptors on the main loop. See fdwatch.h.
 *
 * A watch is a GSource of our own with one unix fd tag: g_source_modify_unix_fd changes what
 * it polls for without a new source, so a plugin switching between reading and writing (a
 * TLS handshake, a full send buffer) keeps one watch.
 */
#define G_LOG_DOMAIN "sylk-fdwatch"
#include "plugin/fdwatch.h"

#include "plugin/loader.h"

#include <errno.h>

#define KNOWN_EVENTS      (SYLK_FD_READ | SYLK_FD_WRITE)
#define CLOSED_CONDITIONS (G_IO_HUP | G_IO_ERR | G_IO_NVAL)

struct sylk_fd_watch {
    GSource source; /* first: the watch is its GSource */
    struct sylk_fd_watches *set;
    gpointer tag; /* the descriptor's poll record; NULL while paused */
    int fd;
    unsigned events;
    sylk_fd_fn fn;
    void *user_data;
};

/* What poll() waits for: the plugin's events plus hang-up and error, which poll() reports
 * anyway (listed so that the intent shows). */
static GIOCondition condition_of(unsigned events)
{
    GIOCondition c = CLOSED_CONDITIONS;
    if (events & SYLK_FD_READ)
        c |= G_IO_IN | G_IO_PRI;
    if (events & SYLK_FD_WRITE)
        c |= G_IO_OUT;
    return c;
}

static void poll_for(struct sylk_fd_watch *w, unsigned events)
{
    w->events = events;
    if (events == 0) {
        if (w->tag)
            g_source_remove_unix_fd(&w->source, w->tag);
        w->tag = NULL;
    } else if (w->tag) {
        g_source_modify_unix_fd(&w->source, w->tag, condition_of(events));
    } else {
        w->tag = g_source_add_unix_fd(&w->source, w->fd, condition_of(events));
    }
}

static gboolean watch_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    struct sylk_fd_watch *w = (struct sylk_fd_watch *)source;
    (void)callback;
    (void)data;
    if (!w->tag)
        return G_SOURCE_CONTINUE;
    GIOCondition ready = g_source_query_unix_fd(source, w->tag);
    unsigned events = 0;
    if ((ready & (G_IO_IN | G_IO_PRI)) && (w->events & SYLK_FD_READ))
        events |= SYLK_FD_READ;
    if ((ready & G_IO_OUT) && (w->events & SYLK_FD_WRITE))
        events |= SYLK_FD_WRITE;
    if (ready & CLOSED_CONDITIONS) {
        events |= SYLK_FD_CLOSED;
        /* Reported once: pause before the callback, which may resume or remove it. */
        poll_for(w, 0);
    }
    if (events)
        w->fn(w, w->fd, events, w->user_data); /* may remove w: GLib holds a reference */
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_funcs = {
    .dispatch = watch_dispatch,
};

sylk_fd_watch *sylk_fd_watch_add(struct sylk_fd_watches *set, int fd, unsigned events,
                                 sylk_fd_fn fn, void *user_data)
{
    if (!set || fd < 0 || !fn || (events & ~KNOWN_EVENTS))
        return NULL;
    struct sylk_fd_watch *w =
        (struct sylk_fd_watch *)g_source_new(&watch_funcs, sizeof(struct sylk_fd_watch));
    g_source_set_static_name(&w->source, "sylk fd watch");
    w->set = set;
    w->fd = fd;
    w->fn = fn;
    w->user_data = user_data;
    poll_for(w, events);
    g_source_attach(&w->source, set->context);
    set->live = g_list_prepend(set->live, w);
    return w;
}

int sylk_fd_watch_update(sylk_fd_watch *w, unsigned events)
{
    if (!w || (events & ~KNOWN_EVENTS))
        return -EINVAL;
    poll_for(w, events);
    return 0;
}

void sylk_fd_watch_remove(sylk_fd_watch *w)
{
    if (!w)
        return;
    w->set->live = g_list_remove(w->set->live, w);
    /* Inside its own dispatch GLib keeps a reference until the callback returns. */
    g_source_destroy(&w->source);
    g_source_unref(&w->source);
}

unsigned sylk_fd_watches_clear(struct sylk_fd_watches *set,
                               const struct sylk_plugin_registry *plugins)
{
    unsigned n = 0;
    while (set->live) {
        struct sylk_fd_watch *w = set->live->data;
        const char *owner = plugins ? sylk_plugins_owner(plugins, (const void *)w->fn) : NULL;
        g_warning("plugin %s left a watch on file descriptor %d: removed",
                  owner ? owner : "(unknown)", w->fd);
        sylk_fd_watch_remove(w);
        n++;
    }
    return n;
}
