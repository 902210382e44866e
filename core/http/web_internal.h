/*
 * web_internal.h — what the web server's files share (web.c: routing, pages, items, start and
 * stop; web_metrics.c: /metrics and the request counters). Not a public header.
 *
 * Threads as in web.h: the functions below run on libmicrohttpd's thread, except
 * sylk_web_scrapes_cancel (main thread, before the daemon stops).
 */
#ifndef SYLK_WEB_INTERNAL_H
#define SYLK_WEB_INTERNAL_H

#include "http/web.h"

#include <glib.h>
#include <microhttpd.h>
#include <stdatomic.h>

struct sylk_web {
    struct MHD_Daemon *daemon;
    unsigned port;
    bool https;
    char *public_url; /* without a trailing slash */
    char *pem;        /* certificate and key handed to libmicrohttpd; wiped when freed */
    char *csp;        /* Content-Security-Policy of every answer */
    GMutex lock;
    GHashTable *items;  /* token → struct sylk_web_item (not owned: freed by its owner) */
    GString *start_log; /* libmicrohttpd's messages while starting; NULL afterwards */
    char *(*status_text)(void *status_data);
    void *status_data;
    char *(*metrics_text)(void *metrics_data, size_t *len);
    void *metrics_data;
    const GArray *metrics_allow;
    GPtrArray *scrapes; /* struct scrape * waiting for the main loop, under lock */
    bool closing;       /* under lock: no new scrape is handed to the main loop */
    atomic_uint_fast64_t requests[SYLK_WEB_PATHS][SYLK_WEB_STATUSES];
};

/** Queues `body` (taken) with the common headers, counted under `path`. */
enum MHD_Result sylk_web_answer(struct sylk_web *web, struct MHD_Connection *c,
                                enum sylk_web_path path, unsigned status, const char *type,
                                GBytes *body, const char *allow);
/** A 4xx/503 with a one-line text body; the reason goes to the debug log. */
enum MHD_Result sylk_web_refuse(struct sylk_web *web, struct MHD_Connection *c,
                                enum sylk_web_path path, unsigned status, const char *method,
                                const char *url, const char *why);
/** The client's address as text ("?" when unknown). */
void sylk_web_peer_name(struct MHD_Connection *c, char *out, size_t size);

/* web_metrics.c */
void sylk_web_count_request(struct sylk_web *web, enum sylk_web_path path, unsigned status);
/** GET /metrics complete: 404 (off), 403 (not allowed, logged), or the connection suspended
 *  and the scrape handed to the main loop, with *req_cls set to it. */
enum MHD_Result sylk_web_scrape_start(struct sylk_web *web, struct MHD_Connection *c,
                                      void **req_cls, const char *method, const char *url);
/** The connection resumed: the scrape's text, or 503 when the server stopped first. */
enum MHD_Result sylk_web_scrape_finish(struct sylk_web *web, struct MHD_Connection *c, void *scrape,
                                       const char *method, const char *url);
/** The connection is done with the scrape. */
void sylk_web_scrape_unref(void *scrape);
/** Main thread: scrapes still waiting are resumed and answered 503; no new one starts. */
void sylk_web_scrapes_cancel(struct sylk_web *web);

#endif
