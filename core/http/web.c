/*
 * web.c — the web server: libmicrohttpd answering from memory on its own polling thread.
 * See web.h.
 *
 * Owns the daemon, the table token → item and each item's current image. Threads: the main
 * thread starts and stops the server and is the only one to add, change or remove items; it
 * writes under `lock`. libmicrohttpd's thread runs on_request (and the logger): under `lock` it
 * only looks an item up and takes a reference to its image (GBytes, never changed once made)
 * or a copy of its title, and builds the response outside it. So a reader gets an old or a new
 * image whole, and an item freed meanwhile is never touched. /metrics and the request
 * counters are in web_metrics.c.
 */
#define G_LOG_DOMAIN "sylk-web"
#include "http/web_internal.h"

#include "msrp/tls.h"
#include "sylk-build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <gnutls/crypto.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

#define TOKEN_BYTES     16 /* 128 bits */
#define TOKEN_HEX       (2 * TOKEN_BYTES)
#define MAX_TITLE_CHARS 256
#define DEFAULT_TITLE   "Screen sharing"
#define REQUEST_MEMORY  (32u << 10) /* per connection: request line, headers, write buffer */
#define LOG_URL_MAX     120         /* bytes of a refused URL shown in the debug line */
#define SCREEN_PREFIX   "/screen/"
#define METRICS_PATH    "/metrics"

struct sylk_web_item {
    struct sylk_web *web;
    char token[TOKEN_HEX + 1];
    char *title; /* HTML-escaped */
    char *url, *image_url;
    GBytes *image;            /* NULL until set; replaced (not changed) under web->lock */
    const char *content_type; /* a static string; set with image */
};

/* The viewer's style and script: inline, allowed by their hashes in the CSP. */
static const char page_style[] =
    "body{margin:0;background:#202020;color:#e0e0e0;font-family:sans-serif;text-align:center}"
    "h1{font-size:1.1em;font-weight:normal;margin:.5em}"
    "img{max-width:100%;max-height:calc(100vh - 3em)}";

/* Reloads the image about once a second: a new URL each time (?t=…) so nothing caches it. */
static const char page_script[] =
    "(function(){"
    "var img=document.getElementById('screen'),note=document.getElementById('note');"
    "function load(){img.src='image?t='+Date.now();}"
    "function shown(ok){img.hidden=!ok;note.hidden=ok;setTimeout(load,1000);}"
    "img.onload=function(){shown(true);};"
    "img.onerror=function(){shown(false);};"
    "load();"
    "})();";

/* title, style, title, title, script */
static const char page_format[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>%s</h1>\n"
    "<p id=\"note\" hidden>The image is not available at the moment.</p>\n"
    "<img id=\"screen\" alt=\"%s\" hidden>\n<script>%s</script>\n</body>\n</html>\n";

/* version, screens, "s are" or " is", the counters (escaped) */
static const char status_format[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>sylkserver-c</title>\n"
    "</head>\n<body>\n<p>sylkserver-c %s: %u screen%s being shared.</p>\n"
    "<p>Since start: %s.</p>\n</body>\n</html>\n";

/* ------------------------------------------------------------------------ answers --- */

static void unref_bytes(void *bytes)
{
    g_bytes_unref(bytes);
}

/* Nothing we serve may be cached, sniffed as another type, or leak its URL as a referrer. */
static void add_common_headers(const struct sylk_web *web, struct MHD_Response *r)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            "no-cache, no-store, must-revalidate");
    MHD_add_response_header(r, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    MHD_add_response_header(r, MHD_HTTP_HEADER_EXPIRES, "0");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, web->csp);
}

/*
 * Queues `body` (taken: libmicrohttpd drops the reference once sent; a HEAD gets the headers
 * only). `allow` adds an Allow header when not NULL.
 */
enum MHD_Result sylk_web_answer(struct sylk_web *web, struct MHD_Connection *c,
                                enum sylk_web_path path, unsigned status, const char *type,
                                GBytes *body, const char *allow)
{
    sylk_web_count_request(web, path, status);
    gsize len;
    const void *data = g_bytes_get_data(body, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)data, unref_bytes, body);
    if (!r) {
        g_bytes_unref(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    add_common_headers(web, r);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

void sylk_web_peer_name(struct MHD_Connection *c, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    g_strlcpy(out, "?", size);
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
}

/* A 4xx with a one-line text body; the reason goes to the debug log only (no flooding). */
enum MHD_Result sylk_web_refuse(struct sylk_web *web, struct MHD_Connection *c,
                                enum sylk_web_path path, unsigned status, const char *method,
                                const char *url, const char *why)
{
    char peer[INET6_ADDRSTRLEN];
    sylk_web_peer_name(c, peer, sizeof(peer));
    g_autofree char *cut = g_strndup(url, LOG_URL_MAX);
    g_autofree char *shown = g_strescape(cut, NULL);
    g_debug("HTTP %u to %s for %.16s %s: %s", status, peer, method, shown, why);
    const char *text = status == MHD_HTTP_NOT_FOUND             ? "404 Not Found\n"
                       : status == MHD_HTTP_METHOD_NOT_ALLOWED  ? "405 Method Not Allowed\n"
                       : status == MHD_HTTP_FORBIDDEN           ? "403 Forbidden\n"
                       : status == MHD_HTTP_SERVICE_UNAVAILABLE ? "503 Service Unavailable\n"
                                                                : "413 Content Too Large\n";
    return sylk_web_answer(web, c, path, status, "text/plain; charset=utf-8",
                           g_bytes_new_static(text, strlen(text)),
                           status == MHD_HTTP_METHOD_NOT_ALLOWED ? "GET, HEAD" : NULL);
}

static enum MHD_Result answer_status(struct sylk_web *web, struct MHD_Connection *c)
{
    g_mutex_lock(&web->lock);
    unsigned n = g_hash_table_size(web->items);
    g_mutex_unlock(&web->lock);
    g_autofree char *counters = web->status_text ? web->status_text(web->status_data) : NULL;
    g_autofree char *shown = g_markup_escape_text(counters ? counters : "no counters", -1);
    char *page = g_strdup_printf(status_format, SYLK_VERSION, n, n == 1 ? " is" : "s are", shown);
    return sylk_web_answer(web, c, SYLK_WEB_PATH_STATUS, MHD_HTTP_OK, "text/html; charset=utf-8",
                           g_bytes_new_take(page, strlen(page)), NULL);
}

static enum MHD_Result answer_page(struct sylk_web *web, struct MHD_Connection *c,
                                   const char *token, const char *method, const char *url)
{
    g_autofree char *title = NULL;
    g_mutex_lock(&web->lock);
    const struct sylk_web_item *item = g_hash_table_lookup(web->items, token);
    if (item)
        title = g_strdup(item->title);
    g_mutex_unlock(&web->lock);
    if (!title)
        return sylk_web_refuse(web, c, SYLK_WEB_PATH_PAGE, MHD_HTTP_NOT_FOUND, method, url,
                               "no such item");
    char *page = g_strdup_printf(page_format, title, page_style, title, title, page_script);
    return sylk_web_answer(web, c, SYLK_WEB_PATH_PAGE, MHD_HTTP_OK, "text/html; charset=utf-8",
                           g_bytes_new_take(page, strlen(page)), NULL);
}

static enum MHD_Result answer_image(struct sylk_web *web, struct MHD_Connection *c,
                                    const char *token, const char *method, const char *url)
{
    GBytes *image = NULL;
    const char *type = NULL;
    g_mutex_lock(&web->lock);
    const struct sylk_web_item *item = g_hash_table_lookup(web->items, token);
    bool known = item != NULL;
    if (item && item->image) {
        image = g_bytes_ref(item->image);
        type = item->content_type;
    }
    g_mutex_unlock(&web->lock);
    if (!image)
        return sylk_web_refuse(web, c, SYLK_WEB_PATH_IMAGE, MHD_HTTP_NOT_FOUND, method, url,
                               known ? "no image yet" : "no such item");
    return sylk_web_answer(web, c, SYLK_WEB_PATH_IMAGE, MHD_HTTP_OK, type, image, NULL);
}

/* What *req_cls points to between the calls of on_request: one of these, or a scrape. */
static const int waiting, answered;

static bool is_scrape(const void *req_cls)
{
    return req_cls && req_cls != &waiting && req_cls != &answered;
}

/* libmicrohttpd's thread: a request is over (answered, or its connection closed). */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    if (is_scrape(*req_cls))
        sylk_web_scrape_unref(*req_cls);
    *req_cls = NULL;
}

/* ------------------------------------------------------------------------ routing --- */

enum route { ROUTE_NONE, ROUTE_STATUS, ROUTE_PAGE, ROUTE_IMAGE, ROUTE_METRICS };

/* TOKEN_HEX lowercase hex digits at `s` (what follows is for the caller to match). */
static bool token_at(const char *s)
{
    for (size_t i = 0; i < TOKEN_HEX; i++) {
        if (!g_ascii_isdigit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    }
    return true;
}

/*
 * Which of our few paths `url` (as sent, without its query) is, matched exactly: there is
 * nothing else to reach, so no traversal ("..", "%2f", "//") can lead anywhere but to 404.
 */
static enum route route_of(const char *url, char token[TOKEN_HEX + 1])
{
    if (strcmp(url, "/") == 0)
        return ROUTE_STATUS;
    if (strcmp(url, METRICS_PATH) == 0)
        return ROUTE_METRICS;
    if (strncmp(url, SCREEN_PREFIX, strlen(SCREEN_PREFIX)) != 0)
        return ROUTE_NONE;
    const char *t = url + strlen(SCREEN_PREFIX);
    if (!token_at(t))
        return ROUTE_NONE;
    memcpy(token, t, TOKEN_HEX);
    token[TOKEN_HEX] = '\0';
    if (strcmp(t + TOKEN_HEX, "/") == 0)
        return ROUTE_PAGE;
    if (strcmp(t + TOKEN_HEX, "/image") == 0)
        return ROUTE_IMAGE;
    return ROUTE_NONE;
}

/* Nothing is uploaded here: a request announcing a body is refused. */
static bool has_body(struct MHD_Connection *c)
{
    const char *length =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (length && strcmp(length, "0") != 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/*
 * libmicrohttpd's thread. A request that may not be answered (method, body) is refused on the
 * first call, before any body is read (libmicrohttpd then closes the connection); the others
 * on the second, once complete, so the connection stays open for the next request.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    static const enum sylk_web_path paths[] = {
        [ROUTE_NONE] = SYLK_WEB_PATH_OTHER,      [ROUTE_STATUS] = SYLK_WEB_PATH_STATUS,
        [ROUTE_PAGE] = SYLK_WEB_PATH_PAGE,       [ROUTE_IMAGE] = SYLK_WEB_PATH_IMAGE,
        [ROUTE_METRICS] = SYLK_WEB_PATH_METRICS,
    };
    struct sylk_web *web = cls;
    (void)version;
    (void)upload_data;
    if (*req_cls == &answered) { /* a body that follows anyway is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (is_scrape(*req_cls))
        return sylk_web_scrape_finish(web, c, *req_cls, method, url);
    char token[TOKEN_HEX + 1];
    enum route route = route_of(url, token);
    if (!*req_cls) {
        *req_cls = (void *)&answered;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
            return sylk_web_refuse(web, c, paths[route], MHD_HTTP_METHOD_NOT_ALLOWED, method, url,
                                   "method not allowed");
        if (has_body(c))
            return sylk_web_refuse(web, c, paths[route], MHD_HTTP_CONTENT_TOO_LARGE, method, url,
                                   "a request with a body");
        *req_cls = (void *)&waiting;
        return MHD_YES;
    }
    *req_cls = (void *)&answered;
    switch (route) {
    case ROUTE_STATUS:
        return answer_status(web, c);
    case ROUTE_PAGE:
        return answer_page(web, c, token, method, url);
    case ROUTE_IMAGE:
        return answer_image(web, c, token, method, url);
    case ROUTE_METRICS:
        return sylk_web_scrape_start(web, c, req_cls, method, url);
    case ROUTE_NONE:
        break;
    }
    return sylk_web_refuse(web, c, SYLK_WEB_PATH_OTHER, MHD_HTTP_NOT_FOUND, method, url,
                           "no such path");
}

/*
 * Paths are matched as sent, nothing decoded: ours need no escapes, and a decoded "%00" or
 * "%2f" could otherwise make a different request look like one of ours.
 */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* libmicrohttpd's messages: kept while starting (for the error shown), logged at debug. */
static void on_mhd_log(void *cls, const char *format, va_list ap)
{
    struct sylk_web *web = cls;
    g_autofree char *msg = g_strchomp(g_strdup_vprintf(format, ap));
    g_mutex_lock(&web->lock);
    if (web->start_log)
        g_string_append_printf(web->start_log, "%s%s", web->start_log->len ? "; " : "", msg);
    g_mutex_unlock(&web->lock);
    g_debug("libmicrohttpd: %s", msg);
}

/* -------------------------------------------------------------------- start, stop --- */

/* "'sha256-…'", the CSP source that allows exactly this inline text. */
static char *hash_source(const char *text)
{
    guint8 digest[32];
    gsize len = sizeof(digest);
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)text, (gssize)strlen(text));
    g_checksum_get_digest(sum, digest, &len);
    g_checksum_free(sum);
    g_autofree char *b64 = g_base64_encode(digest, len);
    return g_strdup_printf("'sha256-%s'", b64);
}

static char *make_csp(void)
{
    g_autofree char *script = hash_source(page_script), *style = hash_source(page_style);
    return g_strdup_printf("default-src 'self'; script-src %s; style-src %s; object-src 'none'; "
                           "base-uri 'none'; form-action 'none'",
                           script, style);
}

static int listen_address(const char *ip, unsigned port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (!ip || port > 65535)
        return -EINVAL;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -EINVAL;
}

/* The PEM checked with gnutls first, for a precise error, then kept for libmicrohttpd. */
static int load_certificate(struct sylk_web *web, const char *path, char **error)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        *error = g_strdup("HTTPS: this libmicrohttpd is built without TLS");
        return -ENOTSUP;
    }
    gnutls_certificate_credentials_t cred;
    g_autofree char *used = NULL, *why = NULL;
    int rc = sylk_tls_server_credentials(path, NULL, "web", NULL, &cred, &used, &why);
    if (rc < 0) {
        *error = g_strdup_printf("HTTPS certificate %s", why);
        return rc;
    }
    gnutls_certificate_free_credentials(cred);
    g_autoptr(GError) err = NULL;
    if (!g_file_get_contents(path, &web->pem, NULL, &err)) {
        *error = g_strdup_printf("HTTPS certificate: %s", err->message);
        return -EIO;
    }
    return 0;
}

static int start_daemon(struct sylk_web *web, const struct sylk_web_options *o,
                        struct sockaddr_storage *addr, char **error)
{
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, web}, /* first, to catch all */
        {MHD_OPTION_SOCK_ADDR, 0, addr},
        {MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, REQUEST_MEMORY, NULL},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_escapes, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_END, 0, NULL}, /* the key and certificate for HTTPS go here */
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (web->pem) {
        size_t n = G_N_ELEMENTS(opts) - 3;
        opts[n] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, web->pem};
        opts[n + 1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, web->pem};
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (web->pem)
        flags |= MHD_USE_TLS;
    web->start_log = g_string_new(NULL);
    web->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, web,
                                   MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    g_mutex_lock(&web->lock);
    g_autoptr(GString) log = web->start_log;
    web->start_log = NULL;
    g_mutex_unlock(&web->lock);
    if (!web->daemon) {
        *error = g_strdup_printf("cannot start the web server on %s port %u: %s", o->local_ip,
                                 o->port, log->len ? log->str : "libmicrohttpd failed");
        return -EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(web->daemon, MHD_DAEMON_INFO_BIND_PORT);
    web->port = info ? info->port : o->port;
    return 0;
}

static char *default_public_url(const struct sylk_web *web, const char *host)
{
    bool v6 = strchr(host, ':') != NULL;
    return g_strdup_printf("%s://%s%s%s:%u", web->https ? "https" : "http", v6 ? "[" : "", host,
                           v6 ? "]" : "", web->port);
}

static void web_free(struct sylk_web *web)
{
    if (web->pem) {
        explicit_bzero(web->pem, strlen(web->pem));
        g_free(web->pem);
    }
    g_free(web->csp);
    g_free(web->public_url);
    g_hash_table_destroy(web->items);
    g_ptr_array_free(web->scrapes, TRUE);
    g_mutex_clear(&web->lock);
    g_free(web);
}

int sylk_web_start(const struct sylk_web_options *o, struct sylk_web **out, char **error)
{
    *error = NULL;
    struct sockaddr_storage addr;
    if (listen_address(o->local_ip, o->port, &addr) < 0) {
        *error = g_strdup_printf("web server: '%s' port %u is not an IP address and port",
                                 o->local_ip ? o->local_ip : "", o->port);
        return -EINVAL;
    }
    if (o->max_connections == 0) {
        *error = g_strdup("web server: max_connections must be at least 1");
        return -EINVAL;
    }
    struct sylk_web *web = g_new0(struct sylk_web, 1);
    g_mutex_init(&web->lock);
    web->items = g_hash_table_new(g_str_hash, g_str_equal);
    web->csp = make_csp();
    web->https = o->certificate != NULL;
    web->status_text = o->status_text;
    web->status_data = o->status_data;
    web->scrapes = g_ptr_array_new();
    if (o->metrics_text && o->metrics_allow) {
        web->metrics_text = o->metrics_text;
        web->metrics_data = o->metrics_data;
        web->metrics_allow = o->metrics_allow;
    }
    int rc = web->https ? load_certificate(web, o->certificate, error) : 0;
    if (rc == 0)
        rc = start_daemon(web, o, &addr, error);
    if (rc < 0) {
        web_free(web);
        return rc;
    }
    web->public_url = o->public_url ? g_strdup(o->public_url)
                                    : default_public_url(web, o->host ? o->host : o->local_ip);
    while (g_str_has_suffix(web->public_url, "/"))
        web->public_url[strlen(web->public_url) - 1] = '\0';
    g_info("web server on %s port %u (%s), public URL %s", o->local_ip, web->port,
           web->https ? "HTTPS" : "HTTP", web->public_url);
    *out = web;
    return 0;
}

static void item_destroy(struct sylk_web_item *item)
{
    if (item->image)
        g_bytes_unref(item->image);
    g_free(item->title);
    g_free(item->url);
    g_free(item->image_url);
    g_free(item);
}

void sylk_web_stop(struct sylk_web *web)
{
    if (!web)
        return;
    sylk_web_scrapes_cancel(web);
    MHD_stop_daemon(web->daemon); /* joins its thread: nothing reads the items after this */
    unsigned left = g_hash_table_size(web->items);
    if (left)
        g_debug("web server stopping: freeing %u item%s not freed by the plugin that made it", left,
                left == 1 ? "" : "s");
    GHashTableIter it;
    gpointer item;
    g_hash_table_iter_init(&it, web->items);
    while (g_hash_table_iter_next(&it, NULL, &item)) {
        g_hash_table_iter_steal(&it);
        item_destroy(item);
    }
    web_free(web);
}

unsigned sylk_web_port(const struct sylk_web *web)
{
    return web->port;
}

bool sylk_web_https(const struct sylk_web *web)
{
    return web->https;
}

const char *sylk_web_public_url(const struct sylk_web *web)
{
    return web->public_url;
}

/* ------------------------------------------------------------------------- items --- */

static bool draw_token(char hex[TOKEN_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    guint8 raw[TOKEN_BYTES];
    if (gnutls_rnd(GNUTLS_RND_RANDOM, raw, sizeof(raw)) < 0)
        return false;
    for (size_t i = 0; i < sizeof(raw); i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 0xf];
    }
    hex[TOKEN_HEX] = '\0';
    return true;
}

static char *escape_title(const char *title)
{
    g_autofree char *valid = g_utf8_make_valid(title && *title ? title : DEFAULT_TITLE, -1);
    glong chars = g_utf8_strlen(valid, -1);
    g_autofree char *cut = g_utf8_substring(valid, 0, MIN(chars, MAX_TITLE_CHARS));
    return g_markup_escape_text(cut, -1);
}

struct sylk_web_item *sylk_web_item_new(struct sylk_web *web, const char *title)
{
    if (!web)
        return NULL;
    struct sylk_web_item *item = g_new0(struct sylk_web_item, 1);
    /* Only this thread changes the table, so it reads it without the lock. */
    do {
        if (!draw_token(item->token)) {
            g_warning("cannot draw a random token for a web item");
            g_free(item);
            return NULL;
        }
    } while (g_hash_table_contains(web->items, item->token));
    item->web = web;
    item->title = escape_title(title);
    item->url = g_strdup_printf("%s" SCREEN_PREFIX "%s/", web->public_url, item->token);
    item->image_url = g_strconcat(item->url, "image", NULL);
    g_mutex_lock(&web->lock);
    g_hash_table_insert(web->items, item->token, item);
    g_mutex_unlock(&web->lock);
    g_debug("web item \"%s\" added (%u served)", item->title, g_hash_table_size(web->items));
    return item;
}

/* The canonical name of a content type we serve, or NULL. */
static const char *image_type(const char *content_type)
{
    static const char *const types[] = {"image/jpeg", "image/png"};
    for (size_t i = 0; content_type && i < G_N_ELEMENTS(types); i++) {
        if (g_ascii_strcasecmp(content_type, types[i]) == 0)
            return types[i];
    }
    return NULL;
}

int sylk_web_item_set(struct sylk_web_item *item, const char *content_type, const void *data,
                      size_t len)
{
    const char *type = image_type(content_type);
    if (!item || !type || !data || len == 0)
        return -EINVAL;
    if (len > SYLK_WEB_MAX_IMAGE)
        return -EFBIG;
    GBytes *fresh = g_bytes_new(data, len);
    struct sylk_web *web = item->web;
    g_mutex_lock(&web->lock);
    GBytes *old = item->image;
    item->image = fresh;
    item->content_type = type;
    g_mutex_unlock(&web->lock);
    if (old)
        g_bytes_unref(old); /* a reader may still hold it: then it goes when that one is sent */
    return 0;
}

const char *sylk_web_item_url(struct sylk_web_item *item)
{
    return item ? item->url : NULL;
}

const char *sylk_web_item_image_url(struct sylk_web_item *item)
{
    return item ? item->image_url : NULL;
}

void sylk_web_item_free(struct sylk_web_item *item)
{
    if (!item)
        return;
    struct sylk_web *web = item->web;
    g_mutex_lock(&web->lock);
    g_hash_table_remove(web->items, item->token);
    g_mutex_unlock(&web->lock);
    g_debug("web item \"%s\" removed (%u served)", item->title, g_hash_table_size(web->items));
    item_destroy(item);
}

size_t sylk_web_item_count(struct sylk_web *web)
{
    return web ? g_hash_table_size(web->items) : 0;
}
