/*
 * web.h — the core's web server (libmicrohttpd): the latest image of each screen being shared,
 * at an unguessable URL, and a viewer page that shows it and reloads it about once a second.
 *
 * Served, from memory only (no file system access):
 *   /                              a short status page (server version, items being served,
 *                                  the server's counters)
 *   /screen/<token>/               an item's viewer page (its title, the image, reloaded ~1 s)
 *   /screen/<token>/image          the item's latest image (404 until the first one is set)
 *   /metrics                       Prometheus metrics when enabled (else 404), to the
 *                                  metrics_allow addresses only (others: 403, logged)
 * where <token> is 32 lowercase hex digits (128 bits from gnutls_rnd), matched exactly.
 * Only GET and HEAD (others: 405); a request with a body: 413; anything else: 404.
 *
 * Threads: start, stop and every item function run on the main thread (plugins reach them
 * through the host table: web_item_new … web_item_free). libmicrohttpd answers requests on its
 * own polling thread, which never calls plugins: it reads the items' immutable, refcounted
 * image buffers, which the main thread swaps under the web server's mutex. A scrape of
 * /metrics suspends its connection and asks the main loop for the text (metrics_text runs
 * there), which resumes it; stopping the server answers scrapes still waiting 503.
 */
#ifndef SYLK_WEB_H
#define SYLK_WEB_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sylk_web;
struct sylk_web_item;

/** Largest image an item takes (web_item_set: -EFBIG above). */
#define SYLK_WEB_MAX_IMAGE (8u << 20)

/** How to start the web server ([web] in the server's configuration). */
struct sylk_web_options {
    const char *local_ip;            /* address to listen on */
    unsigned port;                   /* 0: any free port (tests) */
    const char *public_url;          /* base of the URLs handed out; NULL: the default below */
    const char *host;                /* default public_url: http(s)://host:port (IPv6 in []) */
    const char *certificate;         /* PEM with certificate and key: HTTPS; NULL: plain HTTP */
    unsigned max_connections;        /* at least 1 */
    unsigned max_connections_per_ip; /* 0: no limit per client address */
    unsigned connection_timeout;     /* seconds an idle connection is kept; 0: no limit */
    /* A line for the status page (g_free'd), called on the web server's thread; may be NULL. */
    char *(*status_text)(void *status_data);
    void *status_data;
    /* /metrics: NULL metrics_text leaves it 404. metrics_text runs on the main thread and
     * returns the text (g_free'd); metrics_allow (struct sylk_netmask, kept, not owned) lists
     * who may read it. */
    char *(*metrics_text)(void *metrics_data, size_t *len);
    void *metrics_data;
    const GArray *metrics_allow;
};

/* Requests answered, counted by path class and status (sylk_web_requests). */
enum sylk_web_path {
    SYLK_WEB_PATH_STATUS,  /* / */
    SYLK_WEB_PATH_PAGE,    /* /screen/<token>/ */
    SYLK_WEB_PATH_IMAGE,   /* /screen/<token>/image */
    SYLK_WEB_PATH_METRICS, /* /metrics */
    SYLK_WEB_PATH_OTHER,
    SYLK_WEB_PATHS
};
#define SYLK_WEB_STATUSES 7 /* 200, 403, 404, 405, 413, 503, and any other (0) */

/** "status", "screen_page", "screen_image", "metrics", "other". */
const char *sylk_web_path_name(unsigned path);
/** The status code counted at `index` (0..SYLK_WEB_STATUSES-1). */
unsigned sylk_web_status_code(unsigned index);
/** Requests of a path class answered with a status since the start (any thread). */
uint64_t sylk_web_requests(const struct sylk_web *web, unsigned path, unsigned status_index);

/**
 * Listens and starts libmicrohttpd's thread. 0, or a negative errno with *error (bad address,
 * port in use, a certificate that does not load).
 */
int sylk_web_start(const struct sylk_web_options *options, struct sylk_web **out, char **error);

/** Stops the thread and closes every connection; items still there are freed (logged). */
void sylk_web_stop(struct sylk_web *web);

/** The port listened on (the one chosen when started with port 0). */
unsigned sylk_web_port(const struct sylk_web *web);
bool sylk_web_https(const struct sylk_web *web);
/** The base URL of the URLs handed out, without a trailing slash. */
const char *sylk_web_public_url(const struct sylk_web *web);

/**
 * A new item with a fresh token: its page and image URLs answer from now on (the image 404
 * until set). `title` (may be NULL; made valid UTF-8, cut at 256 characters) is shown on the
 * page, HTML-escaped. NULL when no random token could be drawn.
 */
struct sylk_web_item *sylk_web_item_new(struct sylk_web *web, const char *title);

/**
 * Replaces the item's image with a copy of `data`: readers get the old or the new one whole.
 * 0, -EINVAL (no item, empty data, a content type other than image/jpeg or image/png), or
 * -EFBIG (over SYLK_WEB_MAX_IMAGE).
 */
int sylk_web_item_set(struct sylk_web_item *item, const char *content_type, const void *data,
                      size_t len);

/** The viewer page's URL, <public_url>/screen/<token>/ (valid until the item is freed). */
const char *sylk_web_item_url(struct sylk_web_item *item);
/** The image's URL, <public_url>/screen/<token>/image (valid until the item is freed). */
const char *sylk_web_item_image_url(struct sylk_web_item *item);

/** Removes the item: its URLs answer 404 from now on. NULL is ignored. */
void sylk_web_item_free(struct sylk_web_item *item);

/** How many items are being served. */
size_t sylk_web_item_count(struct sylk_web *web);

#endif
