/*
 * probe_net.c — the probe's SDK 1.7 commands, each a MESSAGE with X-Probe: COMMAND to the
 * probe (see probe.c), each step logged under "plugin-probe":
 *
 *   echo-listen → a TCP listener on 127.0.0.1 (a free port) watched with fd_watch_add:
 *       "echo listening on 127.0.0.1:PORT". Each connection is echoed through its own watch
 *       (a partial write pauses reading and waits for writable, logged once: "echo waits for
 *       writable"); "echo eof after N bytes"
 *       when the peer closes, "echo closed after N bytes (events E)" on SYLK_FD_CLOSED. The
 *       listener's watch is never removed: the core removes it at stop (and logs it).
 *   resolve TAG SERVICE PROTO DOMAIN PORT ("-" for no service or protocol) →
 *       "resolve TAG: STATUS ADDRESS:PORT(TARGET) …" (IPv6 addresses in brackets).
 *   resolve-cancel TAG MS SERVICE PROTO DOMAIN PORT → the same, cancelled after MS ms:
 *       "resolve TAG cancelled" (and never its answer).
 *   subscribe TAG EXPIRES EVENT URI [ACCEPT] → SUBSCRIBE from the MESSAGE's Request-URI:
 *       "sub TAG notify STATE TYPE LENGTH version=V" for each NOTIFY (V from the first version="N"
 *       attribute after the XML declaration, "-" without one), "sub TAG ended STATUS REASON" at the
 * end. unsubscribe TAG → "unsubscribe TAG: RC".
 */
#include "probe_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct sylk_host *host;

#define LOG(...) host->log("probe", SYLK_LOG_INFO, __VA_ARGS__)

/* ---------------------------------------------------------------- echo --- */

struct echo_conn {
    int fd;
    sylk_fd_watch *watch;
    GByteArray *unsent;
    size_t bytes; /* echoed so far */
    bool waited;  /* a write was partial once (logged once) */
};

static GList *echo_conns;

static void conn_close(struct echo_conn *c)
{
    host->fd_watch_remove(c->watch); /* inside its own callback: allowed */
    close(c->fd);
    g_byte_array_free(c->unsent, TRUE);
    echo_conns = g_list_remove(echo_conns, c);
    g_free(c);
}

/* Sends what is unsent; reading waits while the peer does not take it all. */
static void conn_flush(struct echo_conn *c)
{
    while (c->unsent->len) {
        ssize_t n = send(c->fd, c->unsent->data, c->unsent->len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        c->bytes += (size_t)n;
        g_byte_array_remove_range(c->unsent, 0, (guint)n);
    }
    if (c->unsent->len && !c->waited) {
        c->waited = true;
        LOG("echo waits for writable");
    }
    host->fd_watch_update(c->watch, c->unsent->len ? SYLK_FD_WRITE : SYLK_FD_READ);
}

static void conn_ready(sylk_fd_watch *w, int fd, unsigned events, void *user_data)
{
    struct echo_conn *c = user_data;
    (void)w;
    if (events & SYLK_FD_CLOSED) {
        LOG("echo closed after %zu bytes (events %u)", c->bytes, events);
        conn_close(c);
        return;
    }
    if (events & SYLK_FD_WRITE)
        conn_flush(c);
    if (!(events & SYLK_FD_READ))
        return;
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) {
        LOG("echo eof after %zu bytes", c->bytes);
        conn_close(c);
    } else if (n > 0) {
        g_byte_array_append(c->unsent, (const guint8 *)buf, (guint)n);
        conn_flush(c);
    } else if (errno != EAGAIN && errno != EINTR) {
        LOG("echo error %s", g_strerror(errno));
        conn_close(c);
    }
}

static void listener_ready(sylk_fd_watch *w, int fd, unsigned events, void *user_data)
{
    (void)w;
    (void)user_data;
    if (events & SYLK_FD_CLOSED) {
        LOG("echo listener closed (events %u)", events);
        return;
    }
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    struct echo_conn *c = g_new0(struct echo_conn, 1);
    c->fd = cfd;
    c->unsent = g_byte_array_new();
    c->watch = host->fd_watch_add(cfd, SYLK_FD_READ, conn_ready, c);
    echo_conns = g_list_prepend(echo_conns, c);
    LOG("echo accepted (watch %s)", c->watch ? "added" : "refused");
}

static void echo_listen(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        LOG("echo listen failed: %s", g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    if (!host->fd_watch_add(fd, SYLK_FD_READ, listener_ready, NULL)) {
        LOG("echo listen: fd_watch_add refused");
        close(fd);
        return;
    }
    LOG("echo listening on 127.0.0.1:%u", ntohs(a.sin_port));
}

/* ---------------------------------------------------------------- resolve --- */

struct probe_resolve {
    char *tag;
    sylk_resolve *query;
    sylk_timer *cancel_timer;
};

static void resolved(sylk_resolve *query, int status, const struct sylk_resolved_address *a,
                     size_t count, void *user_data)
{
    struct probe_resolve *pr = user_data;
    (void)query;
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < count; i++) {
        bool v6 = strchr(a[i].address, ':') != NULL;
        g_string_append_printf(s, " %s%s%s:%u(%s)", v6 ? "[" : "", a[i].address, v6 ? "]" : "",
                               a[i].port, a[i].target);
    }
    LOG("resolve %s: %d%s", pr->tag, status, s->str);
    g_string_free(s, TRUE);
    if (pr->cancel_timer)
        host->timer_cancel(pr->cancel_timer);
    g_free(pr->tag);
    g_free(pr);
}

static void cancel_later(sylk_timer *timer, void *user_data)
{
    struct probe_resolve *pr = user_data;
    (void)timer;
    host->resolve_cancel(pr->query);
    LOG("resolve %s cancelled", pr->tag);
    g_free(pr->tag);
    g_free(pr);
}

static const char *or_null(const char *word)
{
    return strcmp(word, "-") == 0 ? NULL : word;
}

/* words: TAG SERVICE PROTO DOMAIN PORT, after the command (and MS for resolve-cancel). */
static void resolve_probe(char **words, bool cancel)
{
    unsigned delay = cancel && words[0] ? (unsigned)atoi(words[0]) : 0;
    char **w = cancel && words[0] ? words + 1 : words;
    if (g_strv_length(w) != 5) {
        LOG("resolve: bad X-Probe");
        return;
    }
    struct probe_resolve *pr = g_new0(struct probe_resolve, 1);
    pr->tag = g_strdup(w[0]);
    pr->query =
        host->resolve(or_null(w[1]), or_null(w[2]), w[3], (uint16_t)atoi(w[4]), resolved, pr);
    if (!pr->query) {
        LOG("resolve %s: refused", pr->tag);
        g_free(pr->tag);
        g_free(pr);
        return;
    }
    if (cancel)
        pr->cancel_timer = host->timer_add(delay, false, cancel_later, pr);
}

/* ---------------------------------------------------------------- subscribe --- */

static GHashTable *subs; /* tag → sylk_outgoing_subscription * */

static void sub_notify(sylk_outgoing_subscription *sub, const char *state, const char *type,
                       const void *body, size_t len, void *user_data)
{
    const char *tag = user_data;
    (void)sub;
    g_autofree char *text = body ? g_strndup(body, len) : NULL;
    const char *prolog_end = text ? strstr(text, "?>") : NULL; /* not <?xml version="1.0"?> */
    const char *v = text ? strstr(prolog_end ? prolog_end : text, "version=\"") : NULL;
    g_autofree char *version = v ? g_strndup(v + 9, strcspn(v + 9, "\"")) : g_strdup("-");
    LOG("sub %s notify %s %s %zu version=%s", tag, state, type ? type : "-", len, version);
}

static void sub_ended(sylk_outgoing_subscription *sub, int status, const char *reason,
                      void *user_data)
{
    char *tag = user_data;
    (void)sub;
    LOG("sub %s ended %d %s", tag, status, reason ? reason : "-");
    g_hash_table_remove(subs, tag); /* frees tag */
}

static const struct sylk_outgoing_subscription_handler sub_handler = {
    .struct_size = sizeof(struct sylk_outgoing_subscription_handler),
    .notify = sub_notify,
    .ended = sub_ended,
};

/* words: TAG EXPIRES EVENT URI [ACCEPT] */
static void subscribe_probe(char **words, const struct sylk_request_info *request)
{
    if (g_strv_length(words) < 4 || g_hash_table_contains(subs, words[0])) {
        LOG("subscribe: bad X-Probe");
        return;
    }
    char *tag = g_strdup(words[0]);
    struct sylk_subscribe_params p = {
        .struct_size = sizeof(p),
        .from = request->request_uri,
        .to = words[3],
        .event = words[2],
        .accept = words[4],
        .expires = (unsigned)atoi(words[1]),
        .extra_headers = "X-Probe: subscriber\r\n",
        .handler = &sub_handler,
        .user_data = tag,
    };
    sylk_outgoing_subscription *sub = host->subscribe(&p);
    LOG("sub %s: %s", tag, sub ? "sent" : "refused");
    if (sub)
        g_hash_table_insert(subs, tag, sub);
    else
        g_free(tag);
}

/* ---------------------------------------------------------------- dispatch --- */

bool probe_net_command(const struct sylk_host *h, const char *command,
                       const struct sylk_request_info *request)
{
    host = h;
    if (!SYLK_HOST_HAS(h, unsubscribe)) {
        LOG("host ABI %u.%u lacks the 1.7 functions", h->abi_major, h->abi_minor);
        return false;
    }
    if (!subs)
        subs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) words = g_strsplit(command, " ", 0);
    if (strcmp(words[0], "echo-listen") == 0)
        echo_listen();
    else if (strcmp(words[0], "resolve") == 0)
        resolve_probe(words + 1, false);
    else if (strcmp(words[0], "resolve-cancel") == 0)
        resolve_probe(words + 1, true);
    else if (strcmp(words[0], "subscribe") == 0)
        subscribe_probe(words + 1, request);
    else if (strcmp(words[0], "unsubscribe") == 0 && words[1]) {
        sylk_outgoing_subscription *sub = g_hash_table_lookup(subs, words[1]);
        LOG("unsubscribe %s: %d", words[1], sub ? host->unsubscribe(sub) : -ENOENT);
    } else
        return false;
    return true;
}

void probe_net_shutdown(void)
{
    while (echo_conns)
        conn_close(echo_conns->data);
    if (subs) /* empty: the core ended every subscription before the plugins' shutdown */
        g_hash_table_destroy(subs);
    subs = NULL;
}
