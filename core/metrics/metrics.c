/*
 * metrics.c — one scrape of the server's metrics, and the plugins' collectors. See metrics.h.
 *
 * Every sample is written through the exposition writer (metrics/exposition.c), which checks
 * names and escapes labels; a plugin's sample it refuses is logged at debug level and
 * reported to the plugin, and the rest of the scrape goes on.
 */
#define G_LOG_DOMAIN "sylk-metrics"
#include "metrics/metrics.h"

#include "http/web.h"
#include "media/engine.h"
#include "metrics/exposition.h"
#include "msrp/transport.h"
#include "plugin/loader.h"
#include "server.h"
#include "sip/session.h"
#include "sip/subscription.h"
#include "sylk-build-config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

struct sylk_metrics_collector {
    struct sylk_metrics *metrics;
    char *plugin;
    char *prefix; /* "sylk_<plugin>_" */
    sylk_metrics_fn fn;
    void *user_data;
};

struct sylk_metric_writer {
    struct sylk_exposition *e;
    const struct sylk_metrics_collector *collector;
};

static void collector_free(gpointer data)
{
    struct sylk_metrics_collector *c = data;
    g_free(c->plugin);
    g_free(c->prefix);
    g_free(c);
}

void sylk_metrics_init(struct sylk_metrics *m)
{
    m->collectors = g_ptr_array_new_with_free_func(collector_free);
}

void sylk_metrics_clear(struct sylk_metrics *m)
{
    if (!m->collectors)
        return;
    for (guint i = 0; i < m->collectors->len; i++) {
        const struct sylk_metrics_collector *c = g_ptr_array_index(m->collectors, i);
        g_info("plugin %s left a metrics collector registered: removed", c->plugin);
    }
    g_ptr_array_free(m->collectors, TRUE);
    m->collectors = NULL;
}

struct sylk_metrics_collector *sylk_metrics_collector_add(struct sylk_metrics *m,
                                                          const char *plugin, sylk_metrics_fn fn,
                                                          void *user_data)
{
    /* Plugin samples are named sylk_<plugin>_…: a plugin named like a family of the core's
     * would mix its samples into the core's. */
    static const char *const core_prefixes[] = {"build",    "media", "msrp",          "rtp",
                                                "sessions", "sip",   "subscriptions", "web"};
    if (!m->collectors || !plugin || !fn)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(core_prefixes); i++) {
        if (g_ascii_strcasecmp(plugin, core_prefixes[i]) == 0) {
            g_warning("plugin %s: no metrics collector (sylk_%s_ is the core's)", plugin, plugin);
            return NULL;
        }
    }
    struct sylk_metrics_collector *c = g_new0(struct sylk_metrics_collector, 1);
    c->metrics = m;
    c->plugin = g_strdup(plugin);
    c->prefix = g_strdup_printf("sylk_%s_", plugin);
    for (char *p = c->prefix; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_')
            *p = '_';
    }
    c->fn = fn;
    c->user_data = user_data;
    g_ptr_array_add(m->collectors, c);
    return c;
}

void sylk_metrics_collector_remove(struct sylk_metrics_collector *c)
{
    if (!c)
        return;
    if (c->metrics->collecting) {
        g_warning("plugin %s removed its metrics collector during a scrape: ignored", c->plugin);
        return;
    }
    g_ptr_array_remove(c->metrics->collectors, c);
}

unsigned sylk_metrics_remove_plugin(struct sylk_metrics *m, const char *plugin)
{
    unsigned removed = 0;
    for (guint i = 0; m->collectors && i < m->collectors->len;) {
        struct sylk_metrics_collector *c = g_ptr_array_index(m->collectors, i);
        if (strcmp(c->plugin, plugin) == 0) {
            g_ptr_array_remove_index(m->collectors, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

int sylk_metrics_write(sylk_metric_writer *w, const char *name, const char *help,
                       enum sylk_metric_type type, const char *const *labels, double value)
{
    if (!w || !name)
        return -EINVAL;
    g_autofree char *full = g_strconcat(w->collector->prefix, name, NULL);
    int rc = sylk_exposition_add(w->e, full, help, type, labels, value);
    if (rc < 0)
        g_debug("plugin %s: metric %s refused: %s", w->collector->plugin, full, g_strerror(-rc));
    return rc;
}

/* ------------------------------------------------------------------- the core's --- */

static void add(struct sylk_exposition *e, const char *name, const char *help,
                enum sylk_metric_type type, const char *const *labels, double value)
{
    int rc = sylk_exposition_add(e, name, help, type, labels, value);
    if (rc < 0) /* our own names: a bug, said loudly */
        g_warning("metric %s refused: %s", name, g_strerror(-rc));
}

#define COUNTER SYLK_METRIC_COUNTER
#define GAUGE   SYLK_METRIC_GAUGE
#define LABELS(...)                                                                                \
    (const char *const[])                                                                          \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }

/* One family of SIP request counters (by method), non-zero samples only. */
static void sip_requests(struct sylk_exposition *e, const char *name, const char *help,
                         const uint64_t *counts)
{
    for (unsigned m = 0; m < SYLK_SIP_METHODS; m++) {
        if (counts[m])
            add(e, name, help, COUNTER, LABELS("method", sylk_sip_method_label(m)),
                (double)counts[m]);
    }
}

/* One family of SIP response counters (by method and class), non-zero samples only. */
static void sip_responses(struct sylk_exposition *e, const char *name, const char *help,
                          const uint64_t (*counts)[6])
{
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"};
    for (unsigned m = 0; m < SYLK_SIP_METHODS; m++) {
        for (unsigned k = 0; k < G_N_ELEMENTS(classes); k++) {
            if (counts[m][k])
                add(e, name, help, COUNTER,
                    LABELS("method", sylk_sip_method_label(m), "class", classes[k]),
                    (double)counts[m][k]);
        }
    }
}

static void sip_metrics(struct sylk_exposition *e, const struct sylk_sip_counters *c)
{
    sip_requests(e, "sylk_sip_requests_received_total", "SIP requests received, by method",
                 c->requests_in);
    sip_responses(e, "sylk_sip_responses_received_total",
                  "SIP responses received to requests the server sent, by method and class",
                  c->responses_in);
    sip_requests(e, "sylk_sip_requests_sent_total", "SIP requests sent, by method",
                 c->requests_out);
    sip_responses(e, "sylk_sip_responses_sent_total",
                  "SIP responses sent, by method of the request answered and class",
                  c->responses_out);
}

/* Sessions and subscriptions open and since the start, per plugin ("none": originated by the
 * server for no plugin's request). */
static void plugin_metrics(struct sylk_exposition *e, struct sylk_server *server)
{
    GHashTable *sessions = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *subs = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *plugins = server->plugins.plugins;
    for (guint i = 0; i < plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(plugins, i);
        g_hash_table_insert(sessions, (char *)p->desc.name, GUINT_TO_POINTER(0));
        g_hash_table_insert(subs, (char *)p->desc.name, GUINT_TO_POINTER(0));
    }
    for (GList *l = server->sip.sessions; l; l = l->next) {
        const struct sylk_loaded_plugin *p = sylk_session_plugin(l->data);
        const char *name = p ? p->desc.name : "none";
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(sessions, name));
        g_hash_table_insert(sessions, (char *)name, GUINT_TO_POINTER(n + 1));
    }
    for (GList *l = server->sip.subscriptions; l; l = l->next) {
        const struct sylk_loaded_plugin *p = sylk_subscription_plugin(l->data);
        const char *name = p ? p->desc.name : "none";
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(subs, name));
        g_hash_table_insert(subs, (char *)name, GUINT_TO_POINTER(n + 1));
    }
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, sessions);
    while (g_hash_table_iter_next(&it, &key, &value))
        add(e, "sylk_sessions_open", "SIP sessions (INVITE dialogs) open, per plugin", GAUGE,
            LABELS("plugin", key), GPOINTER_TO_UINT(value));
    g_hash_table_iter_init(&it, subs);
    while (g_hash_table_iter_next(&it, &key, &value))
        add(e, "sylk_subscriptions_open", "SUBSCRIBE dialogs open (server as notifier), per plugin",
            GAUGE, LABELS("plugin", key), GPOINTER_TO_UINT(value));
    g_hash_table_destroy(sessions);
    g_hash_table_destroy(subs);
    for (guint i = 0; i < plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(plugins, i);
        add(e, "sylk_sessions_total", "INVITEs handed to each plugin since the start", COUNTER,
            LABELS("plugin", p->desc.name), (double)p->counters->sessions);
        add(e, "sylk_subscriptions_total", "SUBSCRIBEs handed to each plugin since the start",
            COUNTER, LABELS("plugin", p->desc.name), (double)p->counters->subscriptions);
    }
}

static void collectors(struct sylk_exposition *e, struct sylk_metrics *m)
{
    if (!m->collectors)
        return;
    m->collecting = true;
    for (guint i = 0; i < m->collectors->len; i++) {
        const struct sylk_metrics_collector *c = g_ptr_array_index(m->collectors, i);
        struct sylk_metric_writer w = {.e = e, .collector = c};
        c->fn(&w, c->user_data);
    }
    m->collecting = false;
}

static void msrp_metrics(struct sylk_exposition *e, const struct sylk_msrp_transport *t)
{
    if (!t)
        return;
    struct sylk_msrp_counters c = sylk_msrp_transport_counters(t);
    add(e, "sylk_msrp_connections_open", "MSRP connections open", GAUGE, NULL, c.connections);
    const char *help = "MSRP frames by direction and kind (each chunk of a message is a request)";
    add(e, "sylk_msrp_messages_total", help, COUNTER, LABELS("direction", "in", "kind", "request"),
        (double)c.requests_in);
    add(e, "sylk_msrp_messages_total", help, COUNTER, LABELS("direction", "in", "kind", "response"),
        (double)c.responses_in);
    add(e, "sylk_msrp_messages_total", help, COUNTER, LABELS("direction", "out", "kind", "request"),
        (double)c.requests_out);
    add(e, "sylk_msrp_messages_total", help, COUNTER,
        LABELS("direction", "out", "kind", "response"), (double)c.responses_out);
    help = "MSRP bytes, by direction";
    add(e, "sylk_msrp_bytes_total", help, COUNTER, LABELS("direction", "in"), (double)c.bytes_in);
    add(e, "sylk_msrp_bytes_total", help, COUNTER, LABELS("direction", "out"), (double)c.bytes_out);
}

static void media_metrics(struct sylk_exposition *e, const struct sylk_media_engine *engine)
{
    static const struct {
        const char *name, *help;
    } rtp[SYLK_MEDIA_COUNTERS] = {
        [SYLK_MEDIA_RTP_RECEIVED] = {"sylk_rtp_packets_received_total",
                                     "RTP packets received and accepted"},
        [SYLK_MEDIA_RTP_LOST] = {"sylk_rtp_packets_lost_total",
                                 "RTP audio frames missing when due for playout"},
        [SYLK_MEDIA_RTP_LATE] = {"sylk_rtp_packets_late_total",
                                 "RTP packets that came after their playout time"},
        [SYLK_MEDIA_RTP_CONCEALED] = {"sylk_rtp_frames_concealed_total",
                                      "Audio frames concealed (made up for lost ones)"},
    };
    unsigned threads = engine ? sylk_media_engine_thread_count(engine) : 0;
    uint64_t sums[SYLK_MEDIA_COUNTERS] = {0};
    for (unsigned i = 0; i < threads; i++) {
        struct sylk_media_thread_stats st;
        sylk_media_engine_stats(engine, i, &st);
        for (unsigned k = 0; k < SYLK_MEDIA_COUNTERS; k++)
            sums[k] += st.counters[k];
        char index[12];
        g_snprintf(index, sizeof(index), "%u", i);
        add(e, "sylk_media_thread_load",
            "Share of the last second's 20 ms ticks a media thread spent working (0..1)", GAUGE,
            LABELS("thread", index), st.load);
        add(e, "sylk_media_thread_load_max",
            "The busiest 20 ms tick of the last second, as a share of 20 ms", GAUGE,
            LABELS("thread", index), st.load_max);
        add(e, "sylk_media_thread_busy_seconds_total", "Time a media thread spent working", COUNTER,
            LABELS("thread", index), (double)st.busy_ns / 1e9);
        add(e, "sylk_media_thread_ticks_total", "20 ms ticks a media thread ran", COUNTER,
            LABELS("thread", index), (double)st.ticks);
        add(e, "sylk_media_thread_calls_deferred_total",
            "Wake-ups of a media thread whose set-up and tear-down work went past its budget "
            "(the rest waited until after the tick)",
            COUNTER, LABELS("thread", index), (double)st.calls_deferred);
    }
    for (unsigned k = 0; k < SYLK_MEDIA_COUNTERS; k++)
        add(e, rtp[k].name, rtp[k].help, COUNTER, NULL, (double)sums[k]);
}

static void web_metrics(struct sylk_exposition *e, const struct sylk_web *web)
{
    for (unsigned p = 0; web && p < SYLK_WEB_PATHS; p++) {
        for (unsigned s = 0; s < SYLK_WEB_STATUSES; s++) {
            uint64_t n = sylk_web_requests(web, p, s);
            if (!n)
                continue;
            char code[8] = "other";
            if (sylk_web_status_code(s))
                g_snprintf(code, sizeof(code), "%u", sylk_web_status_code(s));
            add(e, "sylk_web_requests_total", "Web requests answered, by path class and status",
                COUNTER, LABELS("path", sylk_web_path_name(p), "status", code), (double)n);
        }
    }
}

static uint_fast64_t counter(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

char *sylk_metrics_scrape(struct sylk_server *server, size_t *len)
{
    struct sylk_exposition *e = sylk_exposition_new();
    add(e, "sylk_build_info", "The server's version (always 1)", GAUGE,
        LABELS("version", SYLK_VERSION), 1);
    sip_metrics(e, &server->sip.counters);
    const struct sylk_counters *c = &server->counters;
    add(e, "sylk_sip_connections_refused_total",
        "SIP TCP/TLS connections refused over [sip] max_connections_per_ip", COUNTER, NULL,
        (double)counter(&c->sip_connections_refused));
    add(e, "sylk_rtp_port_refusals_total", "Calls refused with 503 for lack of RTP ports", COUNTER,
        NULL, (double)counter(&c->rtp_port_refusals));
    plugin_metrics(e, server);
    msrp_metrics(e, server->msrp);
    media_metrics(e, server->media);
    web_metrics(e, server->web);
    /* Last: a plugin's sample can never take the name of one of the core's. */
    collectors(e, &server->metrics);
    return sylk_exposition_finish(e, len);
}
