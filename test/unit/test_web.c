/* Unit tests for core/http/web.c, driven by a raw HTTP/1.1 client (plain TCP, or TLS with
 * gnutls): images served exactly with their headers, swapped whole under concurrent readers,
 * 404 once freed; HEAD, 405, 413; traversal attempts and random tokens get 404; the status
 * page; HTTPS with a self-signed certificate; start errors. */
#include "http/web.h"
#include "msrp/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------ a small HTTP client --- */

struct client {
    int fd;
    gnutls_session_t tls; /* NULL: plain TCP */
    gnutls_certificate_credentials_t cred;
    GByteArray *in; /* received, not yet parsed */
};

struct response {
    unsigned status;
    GHashTable *headers; /* lowercase name → value */
    GBytes *body;
};

static struct client *client_open(unsigned port, const char *ca_file)
{
    struct client *c = g_new0(struct client, 1);
    c->in = g_byte_array_new();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(c->fd, >=, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    g_assert_cmpint(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    if (!ca_file)
        return c;
    /* The server's certificate must verify against the PEM it was given, for 127.0.0.1. */
    g_assert_cmpint(gnutls_certificate_allocate_credentials(&c->cred), ==, 0);
    g_assert_cmpint(gnutls_certificate_set_x509_trust_file(c->cred, ca_file, GNUTLS_X509_FMT_PEM),
                    ==, 1);
    g_assert_cmpint(gnutls_init(&c->tls, GNUTLS_CLIENT), ==, 0);
    g_assert_cmpint(gnutls_set_default_priority(c->tls), ==, 0);
    g_assert_cmpint(gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred), ==, 0);
    gnutls_session_set_verify_cert(c->tls, "127.0.0.1", 0);
    gnutls_transport_set_int(c->tls, c->fd);
    int rc;
    do
        rc = gnutls_handshake(c->tls);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0)
        g_error("TLS handshake: %s", gnutls_strerror(rc));
    return c;
}

static void client_close(struct client *c)
{
    if (c->tls) {
        gnutls_bye(c->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(c->tls);
        gnutls_certificate_free_credentials(c->cred);
    }
    close(c->fd);
    g_byte_array_free(c->in, TRUE);
    g_free(c);
}

static void client_write(struct client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = c->tls ? gnutls_record_send(c->tls, data, len) : write(c->fd, data, len);
        g_assert_cmpint(n, >, 0);
        data += n;
        len -= (size_t)n;
    }
}

/* More bytes into c->in; false at end of stream. */
static bool client_fill(struct client *c)
{
    guint8 buf[65536];
    ssize_t n =
        c->tls ? gnutls_record_recv(c->tls, buf, sizeof(buf)) : read(c->fd, buf, sizeof(buf));
    if (n <= 0)
        return false;
    g_byte_array_append(c->in, buf, (guint)n);
    return true;
}

static void response_clear(struct response *r)
{
    if (r->headers)
        g_hash_table_destroy(r->headers);
    if (r->body)
        g_bytes_unref(r->body);
    memset(r, 0, sizeof(*r));
}

static const char *header(const struct response *r, const char *name)
{
    return g_hash_table_lookup(r->headers, name);
}

/* Parses the status line and headers of the response at the start of c->in. */
static size_t parse_head(struct client *c, struct response *r)
{
    const guint8 *end = NULL;
    while (c->in->len == 0 || !(end = memmem(c->in->data, c->in->len, "\r\n\r\n", 4)))
        g_assert_true(client_fill(c));
    size_t head_len = (size_t)(end - c->in->data) + 4;
    g_autofree char *head = g_strndup((const char *)c->in->data, head_len - 4);
    g_auto(GStrv) lines = g_strsplit(head, "\r\n", -1);
    g_assert_true(g_str_has_prefix(lines[0], "HTTP/1.1 "));
    r->status = (unsigned)atoi(lines[0] + 9);
    r->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (unsigned i = 1; lines[i]; i++) {
        char *colon = strchr(lines[i], ':');
        g_assert_nonnull(colon);
        g_hash_table_replace(r->headers, g_ascii_strdown(lines[i], colon - lines[i]),
                             g_strstrip(g_strdup(colon + 1)));
    }
    return head_len;
}

/* Sends one request and reads its response (a HEAD's has no body). */
static void client_request(struct client *c, const char *method, const char *path,
                           const char *extra, struct response *r)
{
    g_autofree char *req = g_strdup_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method,
                                           path, extra ? extra : "");
    client_write(c, req, strlen(req));
    memset(r, 0, sizeof(*r));
    size_t head_len = parse_head(c, r);
    const char *length = header(r, "content-length");
    size_t body_len = strcmp(method, "HEAD") == 0 || !length ? 0 : strtoul(length, NULL, 10);
    while (c->in->len < head_len + body_len)
        g_assert_true(client_fill(c));
    r->body = g_bytes_new(c->in->data + head_len, body_len);
    g_byte_array_remove_range(c->in, 0, (guint)(head_len + body_len));
}

/* One request on a connection of its own. */
static void request(unsigned port, const char *method, const char *path, struct response *r)
{
    struct client *c = client_open(port, NULL);
    client_request(c, method, path, NULL, r);
    client_close(c);
}

static bool body_has(const struct response *r, const char *text)
{
    gsize n;
    const char *b = g_bytes_get_data(r->body, &n);
    return n && g_strstr_len(b, (gssize)n, text) != NULL;
}

/* ------------------------------------------------------------------------ fixtures --- */

static struct sylk_web *start(const char *certificate, const char *public_url)
{
    struct sylk_web_options o = {
        .local_ip = "127.0.0.1",
        .port = 0,
        .public_url = public_url,
        .host = "127.0.0.1",
        .certificate = certificate,
        .max_connections = 64,
        .max_connections_per_ip = 0,
        .connection_timeout = 30,
    };
    struct sylk_web *web = NULL;
    g_autofree char *error = NULL;
    int rc = sylk_web_start(&o, &web, &error);
    if (rc < 0)
        g_error("sylk_web_start: %s", error);
    g_assert_cmpuint(sylk_web_port(web), >, 0);
    return web;
}

/* An image-like buffer: a JPEG (FF D8 FF) or PNG signature, then a pattern from `seed`. */
static GBytes *fake_image(bool png, size_t len, guint8 seed)
{
    guint8 *d = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        d[i] = (guint8)(seed + i * 7 + (i >> 9));
    if (png)
        memcpy(d, "\x89PNG\r\n\x1a\n", 8);
    else
        memcpy(d, "\xff\xd8\xff\xe0", 4);
    return g_bytes_new_take(d, len);
}

static int set_image(struct sylk_web_item *item, GBytes *image, const char *type)
{
    gsize len;
    const void *data = g_bytes_get_data(image, &len);
    return sylk_web_item_set(item, type, data, len);
}

/* The path of a URL handed out by the web server. */
static const char *path_of(struct sylk_web *web, const char *url)
{
    const char *base = sylk_web_public_url(web);
    g_assert_true(g_str_has_prefix(url, base));
    return url + strlen(base);
}

/* ---------------------------------------------------------------------------- tests --- */

static void image_served_swapped_and_removed(void)
{
    struct sylk_web *web = start(NULL, NULL);
    unsigned port = sylk_web_port(web);
    g_autofree char *base = g_strdup_printf("http://127.0.0.1:%u", port);
    g_assert_cmpstr(sylk_web_public_url(web), ==, base);
    g_assert_false(sylk_web_https(web));

    struct sylk_web_item *item = sylk_web_item_new(web, "Alice's <screen> & \"more\"");
    const char *url = sylk_web_item_url(item), *image_url = sylk_web_item_image_url(item);
    g_assert_true(
        g_regex_match_simple("^http://127\\.0\\.0\\.1:[0-9]+/screen/[0-9a-f]{32}/$", url, 0, 0));
    g_autofree char *expect_image = g_strconcat(url, "image", NULL);
    g_assert_cmpstr(image_url, ==, expect_image);
    g_autofree char *page = g_strdup(path_of(web, url));
    g_autofree char *image = g_strdup(path_of(web, image_url));

    /* the page loads before any image; the image is 404 until set */
    struct response r;
    request(port, "GET", page, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_cmpstr(header(&r, "content-type"), ==, "text/html; charset=utf-8");
    g_assert_true(
        body_has(&r, "<title>Alice&apos;s &lt;screen&gt; &amp; &quot;more&quot;</title>"));
    g_assert_false(body_has(&r, "<screen>"));
    g_assert_true(body_has(&r, "img.src='image?t='+Date.now()"));
    g_assert_true(g_str_has_prefix(header(&r, "content-security-policy"), "default-src 'self'; "));
    g_assert_nonnull(strstr(header(&r, "content-security-policy"), "script-src 'sha256-"));
    g_assert_cmpstr(header(&r, "x-content-type-options"), ==, "nosniff");
    response_clear(&r);
    request(port, "GET", image, &r);
    g_assert_cmpuint(r.status, ==, 404);
    response_clear(&r);

    /* set: served exactly, with its type and no caching */
    g_autoptr(GBytes) jpeg = fake_image(false, 70000, 1);
    g_assert_cmpint(set_image(item, jpeg, "image/jpeg"), ==, 0);
    request(port, "GET", image, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_true(g_bytes_equal(r.body, jpeg));
    g_assert_cmpstr(header(&r, "content-type"), ==, "image/jpeg");
    g_assert_cmpstr(header(&r, "content-length"), ==, "70000");
    g_assert_cmpstr(header(&r, "cache-control"), ==, "no-cache, no-store, must-revalidate");
    g_assert_cmpstr(header(&r, "pragma"), ==, "no-cache");
    g_assert_cmpstr(header(&r, "expires"), ==, "0");
    g_assert_cmpstr(header(&r, "x-content-type-options"), ==, "nosniff");
    response_clear(&r);

    /* swapped: the new bytes and type; a query string (the viewer's ?t=) is ignored */
    g_autoptr(GBytes) png = fake_image(true, 1234, 9);
    g_assert_cmpint(set_image(item, png, "IMAGE/PNG"), ==, 0);
    g_autofree char *busted = g_strdup_printf("%s?t=1700000000000", image);
    request(port, "GET", busted, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_true(g_bytes_equal(r.body, png));
    g_assert_cmpstr(header(&r, "content-type"), ==, "image/png");
    response_clear(&r);

    /* refused images leave the current one */
    g_assert_cmpint(sylk_web_item_set(item, "image/gif", "GIF89a", 6), ==, -EINVAL);
    g_assert_cmpint(sylk_web_item_set(item, "image/jpeg; q=1", "x", 1), ==, -EINVAL);
    g_assert_cmpint(sylk_web_item_set(item, NULL, "x", 1), ==, -EINVAL);
    g_assert_cmpint(sylk_web_item_set(item, "image/jpeg", "x", 0), ==, -EINVAL);
    g_assert_cmpint(sylk_web_item_set(NULL, "image/jpeg", "x", 1), ==, -EINVAL);
    g_autofree guint8 *huge = g_malloc0(SYLK_WEB_MAX_IMAGE + 1);
    g_assert_cmpint(sylk_web_item_set(item, "image/jpeg", huge, SYLK_WEB_MAX_IMAGE + 1), ==,
                    -EFBIG);
    g_assert_cmpint(sylk_web_item_set(item, "image/jpeg", huge, SYLK_WEB_MAX_IMAGE), ==, 0);
    g_assert_cmpint(set_image(item, png, "image/png"), ==, 0);
    request(port, "GET", image, &r);
    g_assert_true(g_bytes_equal(r.body, png));
    response_clear(&r);

    /* freed: both URLs 404 */
    sylk_web_item_free(item);
    sylk_web_item_free(NULL);
    request(port, "GET", image, &r);
    g_assert_cmpuint(r.status, ==, 404);
    response_clear(&r);
    request(port, "GET", page, &r);
    g_assert_cmpuint(r.status, ==, 404);
    g_assert_cmpstr(header(&r, "cache-control"), ==, "no-cache, no-store, must-revalidate");
    response_clear(&r);
    sylk_web_stop(web);
}

static void head_and_other_methods(void)
{
    struct sylk_web *web = start(NULL, NULL);
    unsigned port = sylk_web_port(web);
    struct sylk_web_item *item = sylk_web_item_new(web, NULL);
    g_autoptr(GBytes) jpeg = fake_image(false, 5000, 3);
    g_assert_cmpint(set_image(item, jpeg, "image/jpeg"), ==, 0);
    const char *image = path_of(web, sylk_web_item_image_url(item));

    /* HEAD: the headers of GET, no body: the next request on the connection reads right */
    struct client *c = client_open(port, NULL);
    struct response r;
    client_request(c, "HEAD", image, NULL, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_cmpstr(header(&r, "content-type"), ==, "image/jpeg");
    g_assert_cmpstr(header(&r, "content-length"), ==, "5000");
    response_clear(&r);
    client_request(c, "GET", image, NULL, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_true(g_bytes_equal(r.body, jpeg));
    response_clear(&r);
    client_request(c, "HEAD", "/", NULL, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_cmpstr(header(&r, "content-type"), ==, "text/html; charset=utf-8");
    response_clear(&r);
    client_close(c);

    /* anything but GET and HEAD: 405 with Allow */
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"};
    for (size_t i = 0; i < G_N_ELEMENTS(methods); i++) {
        request(port, methods[i], image, &r);
        g_assert_cmpuint(r.status, ==, 405);
        g_assert_cmpstr(header(&r, "allow"), ==, "GET, HEAD");
        response_clear(&r);
    }

    /* a POST with a body: 405 without waiting for the body's end */
    c = client_open(port, NULL);
    client_request(c, "POST", "/", "Content-Length: 1000000\r\nContent-Type: image/jpeg\r\n", &r);
    g_assert_cmpuint(r.status, ==, 405);
    response_clear(&r);
    client_close(c);

    /* a GET with a body: 413 */
    c = client_open(port, NULL);
    client_request(c, "GET", image, "Content-Length: 5\r\n", &r);
    g_assert_cmpuint(r.status, ==, 413);
    response_clear(&r);
    client_close(c);
    c = client_open(port, NULL);
    client_request(c, "GET", image, "Transfer-Encoding: chunked\r\n", &r);
    g_assert_cmpuint(r.status, ==, 413);
    response_clear(&r);
    client_close(c);
    sylk_web_item_free(item);
    sylk_web_stop(web);
}

/* Nothing but the exact paths answers: traversal, encodings, near-miss tokens are 404. */
static void only_exact_paths(void)
{
    struct sylk_web *web = start(NULL, NULL);
    unsigned port = sylk_web_port(web);
    struct sylk_web_item *item = sylk_web_item_new(web, "x");
    g_autoptr(GBytes) jpeg = fake_image(false, 100, 5);
    g_assert_cmpint(set_image(item, jpeg, "image/jpeg"), ==, 0);
    const char *page = path_of(web, sylk_web_item_url(item)); /* "/screen/<token>/" */
    g_autofree char *token = g_strndup(page + strlen("/screen/"), 32);
    g_autofree char *upper = g_ascii_strup(token, -1);
    char *probes[] = {
        g_strdup_printf("/screen/%s/../../etc/passwd", token),
        g_strdup_printf("/screen/%s/..%%2f..%%2fetc%%2fpasswd", token),
        g_strdup_printf("/screen/%s/%%2e%%2e%%2f", token),
        g_strdup_printf("/screen/%s/image/../image", token),
        g_strdup_printf("/screen/%s/image/", token),
        g_strdup_printf("/screen/%s//image", token),
        g_strdup_printf("/screen/%s/image%%00", token),
        g_strdup_printf("/screen/%s/index.html", token),
        g_strdup_printf("/screen/%s", token),
        g_strdup_printf("/screen//%s/", token),
        g_strdup_printf("/SCREEN/%s/", token),
        g_strdup_printf("/screen/%s/", upper),
        g_strdup_printf("/screen/%.31s/", token),
        g_strdup_printf("/screen/%s0/", token),
        g_strdup_printf("/screen/%%2e%%2e%%2f%s/", token),
        g_strdup_printf("/screen/../screen/%s/", token),
        g_strdup("/screen/"),
        g_strdup("/screen"),
        g_strdup("/etc/passwd"),
        g_strdup("/../../../../etc/passwd"),
        g_strdup("/%2e%2e/%2e%2e/etc/passwd"),
        g_strdup("/index.html"),
        g_strdup("//"),
        g_strdup("/favicon.ico"),
        g_strdup("/screen/0123456789abcdef0123456789abcdef/"),
        g_strdup("/screen/0123456789abcdef0123456789abcdef/image"),
        g_strdup("/screen/0123456789abcdeg0123456789abcdef/"),
        NULL,
    };
    struct client *c = client_open(port, NULL);
    struct response r;
    for (unsigned i = 0; probes[i]; i++) {
        client_request(c, "GET", probes[i], NULL, &r);
        if (r.status != 404)
            g_error("%s answered %u", probes[i], r.status);
        response_clear(&r);
        g_free(probes[i]);
    }
    /* the real ones still answer on the same connection */
    client_request(c, "GET", page, NULL, &r);
    g_assert_cmpuint(r.status, ==, 200);
    response_clear(&r);
    client_close(c);
    sylk_web_item_free(item);
    sylk_web_stop(web);
}

static void random_tokens_not_found(void)
{
    struct sylk_web *web = start(NULL, NULL);
    unsigned port = sylk_web_port(web);
    struct sylk_web_item *items[4];
    g_autoptr(GBytes) jpeg = fake_image(false, 100, 7);
    for (size_t i = 0; i < G_N_ELEMENTS(items); i++) {
        items[i] = sylk_web_item_new(web, "x");
        g_assert_cmpint(set_image(items[i], jpeg, "image/jpeg"), ==, 0);
    }
    struct client *c = client_open(port, NULL);
    for (unsigned i = 0; i < 10000; i++) {
        char token[33];
        for (unsigned k = 0; k < 32; k++)
            token[k] = "0123456789abcdef"[g_random_int_range(0, 16)];
        token[32] = '\0';
        g_autofree char *path = g_strdup_printf("/screen/%s/%s", token, i % 2 ? "image" : "");
        struct response r;
        client_request(c, "GET", path, NULL, &r);
        g_assert_cmpuint(r.status, ==, 404);
        response_clear(&r);
    }
    client_close(c);
    for (size_t i = 0; i < G_N_ELEMENTS(items); i++)
        sylk_web_item_free(items[i]);
    sylk_web_stop(web);
}

struct reader {
    unsigned port;
    const char *path;
    GBytes *a, *b;
    gint stop;
    unsigned reads, saw_a, saw_b;
};

/* Reads the image in a loop on one connection: each answer is one of the two images, whole. */
static gpointer reader_main(gpointer data)
{
    struct reader *rd = data;
    struct client *c = client_open(rd->port, NULL);
    while (!g_atomic_int_get(&rd->stop)) {
        struct response r;
        client_request(c, "GET", rd->path, NULL, &r);
        g_assert_cmpuint(r.status, ==, 200);
        if (g_bytes_equal(r.body, rd->a)) {
            g_assert_cmpstr(header(&r, "content-type"), ==, "image/jpeg");
            rd->saw_a++;
        } else if (g_bytes_equal(r.body, rd->b)) {
            g_assert_cmpstr(header(&r, "content-type"), ==, "image/png");
            rd->saw_b++;
        } else {
            g_error("a torn image: %zu bytes", g_bytes_get_size(r.body));
        }
        rd->reads++;
        response_clear(&r);
    }
    client_close(c);
    return NULL;
}

static void concurrent_swaps_never_tear(void)
{
    struct sylk_web *web = start(NULL, NULL);
    struct sylk_web_item *item = sylk_web_item_new(web, "swap");
    g_autoptr(GBytes) a = fake_image(false, 300000, 11);
    g_autoptr(GBytes) b = fake_image(true, 450000, 12);
    g_assert_cmpint(set_image(item, a, "image/jpeg"), ==, 0);
    struct reader rd[2];
    GThread *threads[G_N_ELEMENTS(rd)];
    for (size_t i = 0; i < G_N_ELEMENTS(rd); i++) {
        rd[i] = (struct reader){.port = sylk_web_port(web),
                                .path = path_of(web, sylk_web_item_image_url(item)),
                                .a = a,
                                .b = b};
        threads[i] = g_thread_new("reader", reader_main, &rd[i]);
    }
    gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC;
    unsigned swaps = 0;
    while (g_get_monotonic_time() < end) {
        bool even = swaps++ % 2 == 0;
        g_assert_cmpint(set_image(item, even ? b : a, even ? "image/png" : "image/jpeg"), ==, 0);
        g_usleep(200);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(rd); i++) {
        g_atomic_int_set(&rd[i].stop, 1);
        g_thread_join(threads[i]);
        g_test_message("reader %zu: %u reads (%u a, %u b) during %u swaps", i, rd[i].reads,
                       rd[i].saw_a, rd[i].saw_b, swaps);
        g_assert_cmpuint(rd[i].reads, >, 10);
        g_assert_cmpuint(rd[i].saw_a, >, 0);
        g_assert_cmpuint(rd[i].saw_b, >, 0);
    }
    sylk_web_item_free(item);
    sylk_web_stop(web);
}

static void status_page(void)
{
    struct sylk_web *web = start(NULL, NULL);
    unsigned port = sylk_web_port(web);
    struct response r;
    request(port, "GET", "/", &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_cmpstr(header(&r, "content-type"), ==, "text/html; charset=utf-8");
    g_assert_true(body_has(&r, "sylkserver-c"));
    g_assert_true(body_has(&r, "0 screens are being shared"));
    response_clear(&r);
    struct sylk_web_item *one = sylk_web_item_new(web, "one"), *two = sylk_web_item_new(web, "");
    g_assert_cmpuint(sylk_web_item_count(web), ==, 2);
    g_assert_cmpstr(sylk_web_item_url(one), !=, sylk_web_item_url(two));
    request(port, "GET", "/?refresh=1", &r);
    g_assert_true(body_has(&r, "2 screens are being shared"));
    response_clear(&r);
    sylk_web_item_free(one);
    request(port, "GET", "/", &r);
    g_assert_true(body_has(&r, "1 screen is being shared"));
    response_clear(&r);
    /* an empty title shows the default one */
    request(port, "GET", path_of(web, sylk_web_item_url(two)), &r);
    g_assert_true(body_has(&r, "<h1>Screen sharing</h1>"));
    response_clear(&r);
    sylk_web_item_free(two);
    sylk_web_stop(web);
}

/* A public URL (a reverse proxy's) is the base of the URLs handed out, without its '/'. */
static void public_url_used(void)
{
    struct sylk_web *web = start(NULL, "https://screens.example.com/sylk/");
    g_assert_cmpstr(sylk_web_public_url(web), ==, "https://screens.example.com/sylk");
    struct sylk_web_item *item = sylk_web_item_new(web, "x");
    g_assert_true(
        g_regex_match_simple("^https://screens\\.example\\.com/sylk/screen/[0-9a-f]{32}/$",
                             sylk_web_item_url(item), 0, 0));
    sylk_web_item_free(item);
    sylk_web_stop(web);
}

static void https_with_self_signed_certificate(void)
{
    g_autofree char *spool = g_dir_make_tmp("sylk-web-XXXXXX", NULL);
    gnutls_certificate_credentials_t cred;
    g_autofree char *pem = NULL, *error = NULL;
    g_assert_cmpint(
        sylk_tls_server_credentials(NULL, spool, "web", "127.0.0.1", &cred, &pem, &error), ==, 0);
    gnutls_certificate_free_credentials(cred);

    struct sylk_web *web = start(pem, NULL);
    unsigned port = sylk_web_port(web);
    g_assert_true(sylk_web_https(web));
    g_autofree char *base = g_strdup_printf("https://127.0.0.1:%u", port);
    g_assert_cmpstr(sylk_web_public_url(web), ==, base);
    struct sylk_web_item *item = sylk_web_item_new(web, "tls");
    g_autoptr(GBytes) jpeg = fake_image(false, 200000, 21);
    g_assert_cmpint(set_image(item, jpeg, "image/jpeg"), ==, 0);

    struct client *c = client_open(port, pem);
    struct response r;
    client_request(c, "GET", "/", NULL, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_true(body_has(&r, "1 screen is being shared"));
    response_clear(&r);
    client_request(c, "GET", path_of(web, sylk_web_item_image_url(item)), NULL, &r);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_true(g_bytes_equal(r.body, jpeg));
    response_clear(&r);
    client_request(c, "POST", "/", NULL, &r);
    g_assert_cmpuint(r.status, ==, 405);
    response_clear(&r);
    client_close(c);

    /* left for the server to free at stop */
    sylk_web_stop(web);
    g_unlink(pem);
    g_autofree char *dir = g_path_get_dirname(pem);
    g_rmdir(dir);
    g_rmdir(spool);
}

static void start_errors(void)
{
    struct sylk_web *first = start(NULL, NULL), *web = NULL;
    struct sylk_web_options o = {
        .local_ip = "127.0.0.1", .port = sylk_web_port(first), .max_connections = 8};
    g_autofree char *in_use = NULL, *bad_ip = NULL, *bad_pem = NULL, *no_limit = NULL;
    g_assert_cmpint(sylk_web_start(&o, &web, &in_use), <, 0);
    g_test_message("%s", in_use);
    g_assert_nonnull(strstr(in_use, "cannot start the web server on 127.0.0.1 port"));
    g_assert_nonnull(strstr(in_use, g_strerror(EADDRINUSE)));
    sylk_web_stop(first);

    o.port = 0;
    o.local_ip = "localhost";
    g_assert_cmpint(sylk_web_start(&o, &web, &bad_ip), ==, -EINVAL);
    g_assert_nonnull(bad_ip);
    o.local_ip = "127.0.0.1";
    o.max_connections = 0;
    g_assert_cmpint(sylk_web_start(&o, &web, &no_limit), ==, -EINVAL);

    g_autofree char *file = NULL;
    int fd = g_file_open_tmp("sylk-web-XXXXXX.pem", &file, NULL);
    g_assert_cmpint(write(fd, "not a certificate\n", 18), ==, 18);
    close(fd);
    o.max_connections = 8;
    o.certificate = file;
    g_assert_cmpint(sylk_web_start(&o, &web, &bad_pem), <, 0);
    g_test_message("%s", bad_pem);
    g_assert_nonnull(strstr(bad_pem, file));
    g_unlink(file);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/web/image-served-swapped-and-removed", image_served_swapped_and_removed);
    g_test_add_func("/web/head-and-other-methods", head_and_other_methods);
    g_test_add_func("/web/only-exact-paths", only_exact_paths);
    g_test_add_func("/web/random-tokens-not-found", random_tokens_not_found);
    g_test_add_func("/web/concurrent-swaps-never-tear", concurrent_swaps_never_tear);
    g_test_add_func("/web/status-page", status_page);
    g_test_add_func("/web/public-url-used", public_url_used);
    g_test_add_func("/web/https-with-self-signed-certificate", https_with_self_signed_certificate);
    g_test_add_func("/web/start-errors", start_errors);
    return g_test_run();
}
