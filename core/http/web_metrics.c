/*
 * web_metrics.c — the web server's /metrics and its request counters. See web.h.
 *
 * A scrape is answered in two steps: libmicrohttpd's thread checks who asks, suspends the
 * connection and attaches an idle source to the main context (under the web server's lock, so
 * that stopping sees every scrape handed over); the main loop makes the text where the state
 * lives, stores it under the lock and resumes the connection; libmicrohttpd's thread then
 * sends it. Stopping cancels the scrapes still waiting: their sources are destroyed and their
 * connections resumed without text (503).
 */
#define G_LOG_DOMAIN "sylk-web"
#include "config.h"
#include "http/web_internal.h"
#include "metrics/exposition.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/*
 * A scrape of /metrics between the web thread and the main loop: one reference for the
 * connection (dropped when libmicrohttpd completes it), one for the main loop's source.
 */
struct scrape {
    gint refs;
    struct sylk_web *web;
    struct MHD_Connection *c;
    GSource *source; /* attached to the main context while listed in web->scrapes */
    char *text;      /* set (under lock) by the main thread; NULL: cancelled */
    size_t len;
    bool answered; /* libmicrohttpd's thread: the answer is queued */
};

/* The last one, 0, counts every other status (a 206, a 400, a 500, …). */
static const unsigned status_codes[SYLK_WEB_STATUSES] = {200, 403, 404, 405, 413, 503, 0};

const char *sylk_web_path_name(unsigned path)
{
    static const char *const names[SYLK_WEB_PATHS] = {"status", "screen_page", "screen_image",
                                                      "metrics", "other"};
    return path < SYLK_WEB_PATHS ? names[path] : "other";
}

unsigned sylk_web_status_code(unsigned index)
{
    return index < SYLK_WEB_STATUSES ? status_codes[index] : 0;
}

uint64_t sylk_web_requests(const struct sylk_web *web, unsigned path, unsigned status_index)
{
    if (!web || path >= SYLK_WEB_PATHS || status_index >= SYLK_WEB_STATUSES)
        return 0;
    return atomic_load_explicit(&web->requests[path][status_index], memory_order_relaxed);
}

void sylk_web_count_request(struct sylk_web *web, enum sylk_web_path path, unsigned status)
{
    unsigned i = 0;
    while (i < SYLK_WEB_STATUSES - 1 && status_codes[i] != status)
        i++;
    atomic_fetch_add_explicit(&web->requests[path][i], 1, memory_order_relaxed);
}

void sylk_web_scrape_unref(void *data)
{
    struct scrape *s = data;
    if (!g_atomic_int_dec_and_test(&s->refs))
        return;
    g_free(s->text);
    g_free(s);
}

/* The main loop: the text is made where the state lives, then the connection goes on. */
static gboolean scrape_on_main(gpointer data)
{
    struct scrape *s = data;
    struct sylk_web *web = s->web;
    size_t len = 0;
    char *text = web->metrics_text(web->metrics_data, &len);
    g_mutex_lock(&web->lock);
    s->text = text;
    s->len = len;
    g_ptr_array_remove_fast(web->scrapes, s);
    MHD_resume_connection(s->c);
    g_mutex_unlock(&web->lock);
    return G_SOURCE_REMOVE;
}

static bool metrics_allowed(const struct sylk_web *web, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    for (guint i = 0; info && info->client_addr && i < web->metrics_allow->len; i++) {
        if (sylk_netmask_match(&g_array_index(web->metrics_allow, struct sylk_netmask, i),
                               info->client_addr))
            return true;
    }
    return false;
}

/* Hands the scrape to the main loop and suspends the connection until it answers. */
enum MHD_Result sylk_web_scrape_start(struct sylk_web *web, struct MHD_Connection *c,
                                      void **req_cls, const char *method, const char *url)
{
    if (!web->metrics_text)
        return sylk_web_refuse(web, c, SYLK_WEB_PATH_METRICS, MHD_HTTP_NOT_FOUND, method, url,
                               "metrics are off");
    if (!metrics_allowed(web, c)) {
        char peer[INET6_ADDRSTRLEN];
        sylk_web_peer_name(c, peer, sizeof(peer));
        g_message("metrics refused to %s: not in [web] metrics_allow", peer);
        return sylk_web_refuse(web, c, SYLK_WEB_PATH_METRICS, MHD_HTTP_FORBIDDEN, method, url,
                               "not in metrics_allow");
    }
    struct scrape *s = g_new0(struct scrape, 1);
    s->refs = 2;
    s->web = web;
    s->c = c;
    g_mutex_lock(&web->lock);
    if (web->closing) {
        g_mutex_unlock(&web->lock);
        g_free(s);
        return sylk_web_refuse(web, c, SYLK_WEB_PATH_METRICS, MHD_HTTP_SERVICE_UNAVAILABLE, method,
                               url, "stopping");
    }
    g_ptr_array_add(web->scrapes, s);
    MHD_suspend_connection(c);
    s->source = g_idle_source_new();
    g_source_set_callback(s->source, scrape_on_main, s, sylk_web_scrape_unref);
    g_source_attach(s->source, NULL); /* the main context: never run on this thread */
    g_source_unref(s->source);        /* the context holds it until it has run */
    g_mutex_unlock(&web->lock);
    *req_cls = s;
    return MHD_YES;
}

/* The connection resumed: the text, or 503 when the server stopped first. */
enum MHD_Result sylk_web_scrape_finish(struct sylk_web *web, struct MHD_Connection *c, void *scrape,
                                       const char *method, const char *url)
{
    struct scrape *s = scrape;
    if (s->answered)
        return MHD_YES;
    s->answered = true;
    g_mutex_lock(&web->lock);
    char *text = s->text;
    size_t len = s->len;
    s->text = NULL;
    g_mutex_unlock(&web->lock);
    if (!text)
        return sylk_web_refuse(web, c, SYLK_WEB_PATH_METRICS, MHD_HTTP_SERVICE_UNAVAILABLE, method,
                               url, "stopping");
    return sylk_web_answer(web, c, SYLK_WEB_PATH_METRICS, MHD_HTTP_OK, SYLK_EXPOSITION_CONTENT_TYPE,
                           g_bytes_new_take(text, len), NULL);
}

/* Main thread, before the daemon stops: scrapes still waiting are cancelled (answered 503). */
void sylk_web_scrapes_cancel(struct sylk_web *web)
{
    g_mutex_lock(&web->lock);
    web->closing = true;
    for (guint i = 0; i < web->scrapes->len; i++) {
        struct scrape *s = g_ptr_array_index(web->scrapes, i);
        g_source_destroy(s->source); /* drops the source's reference */
        MHD_resume_connection(s->c);
    }
    g_ptr_array_set_size(web->scrapes, 0);
    g_mutex_unlock(&web->lock);
}
