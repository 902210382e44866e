/*
 * metrics.h — the server's Prometheus metrics: what one scrape of /metrics says (SIP traffic,
 * sessions and subscriptions per plugin, the plugins' own samples, MSRP, RTP, media thread
 * load, web requests), and the collectors plugins register for it (SDK 1.9).
 *
 * Thread: main thread. A scrape is built here, where the state it reads lives: the web server
 * (core/http/web.c) hands each scrape to the main loop and sends the text back. The counters of
 * other threads (media threads, the web server's) are read atomically from their owners.
 */
#ifndef SYLK_METRICS_H
#define SYLK_METRICS_H

#include <glib.h>
#include <sylk/host.h>

struct sylk_server;

/** The plugins' collectors; a member of struct sylk_server. */
struct sylk_metrics {
    GPtrArray *collectors; /* struct sylk_metrics_collector *, in registration order */
    bool collecting;       /* inside a scrape: collectors may not be removed */
};

void sylk_metrics_init(struct sylk_metrics *m);
/** Removes the collectors left (each logged with its plugin's name). */
void sylk_metrics_clear(struct sylk_metrics *m);

/** A collector for `plugin` (its samples are named sylk_<plugin>_…); NULL for a NULL fn. */
struct sylk_metrics_collector *sylk_metrics_collector_add(struct sylk_metrics *m,
                                                          const char *plugin, sylk_metrics_fn fn,
                                                          void *user_data);
void sylk_metrics_collector_remove(struct sylk_metrics_collector *c);

/** Removes every collector of `plugin` (one whose init failed): the number removed. */
unsigned sylk_metrics_remove_plugin(struct sylk_metrics *m, const char *plugin);

/** The SDK's metric_write (see sylk/host.h). */
int sylk_metrics_write(sylk_metric_writer *w, const char *name, const char *help,
                       enum sylk_metric_type type, const char *const *labels, double value);

/** One scrape's text (g_free'd by the caller), in the Prometheus text format 0.0.4. */
char *sylk_metrics_scrape(struct sylk_server *server, size_t *len);

#endif
