/*
 * s2s.c — the s2s listeners, the dialback secret, deadlines. See s2s.h.
 */
#define XGW_LOG_DOMAIN "xmppgw-s2s"
#include "s2s.h"

#include "keys.h"
#include "ns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SWEEP_MS 1000

struct listener {
    int fd;
    sylk_fd_watch *watch;
    bool direct_tls;
    unsigned port;
};

static struct {
    const struct xgw_settings *settings;
    char *secret_hash;
    struct listener listeners[2];
    sylk_timer *sweep;
    gint64 last_full_warning;
} s;

const struct xgw_settings *xgw_s2s_settings(void)
{
    return s.settings;
}

const char *xgw_s2s_secret_hash(void)
{
    return s.secret_hash;
}

/* ---------------------------------------------------------------- dialback --- */

struct xmpp_node *xgw_db_element(const char *name, const char *from, const char *to, const char *id,
                                 const char *type, const char *key)
{
    struct xmpp_node *el = xmpp_node_new(XMPP_NS_DIALBACK, name);
    if (from)
        xmpp_node_set_attr(el, "from", from);
    if (to)
        xmpp_node_set_attr(el, "to", to);
    if (id)
        xmpp_node_set_attr(el, "id", id);
    if (type)
        xmpp_node_set_attr(el, "type", type);
    if (key)
        xmpp_node_add_text(el, key, -1);
    return el;
}

struct xmpp_node *xgw_db_error(const char *name, const char *from, const char *to, const char *id,
                               enum xmpp_stanza_condition condition)
{
    struct xmpp_node *el = xgw_db_element(name, from, to, id, "error", NULL);
    struct xmpp_node *error = xmpp_node_add_element(el, XMPP_NS_DIALBACK, "error");
    xmpp_node_set_attr(error, "type", xmpp_error_type_name(xmpp_stanza_condition_type(condition)));
    xmpp_node_add_element(error, XMPP_NS_STANZA_ERR, xmpp_stanza_condition_name(condition));
    return el;
}

enum xgw_db_verdict xgw_db_verdict_of(const struct xmpp_node *el,
                                      enum xmpp_stanza_condition *condition)
{
    const char *type = xmpp_node_attr(el, "type");
    if (g_strcmp0(type, "valid") == 0)
        return XGW_DB_VALID;
    *condition = XMPP_STANZA_ERR_UNDEFINED_CONDITION;
    if (g_strcmp0(type, "error") != 0)
        return XGW_DB_INVALID;
    const struct xmpp_node *error = NULL;
    for (guint i = 0; el->children && i < el->children->len && !error; i++) {
        const struct xmpp_node *c = g_ptr_array_index(el->children, i);
        if (c->kind == XMPP_NODE_ELEMENT && strcmp(c->name, "error") == 0)
            error = c;
    }
    const struct xmpp_node *cond = error ? xmpp_node_child_in(error, XMPP_NS_STANZA_ERR) : NULL;
    for (int i = 0; cond && i < XMPP_STANZA_ERR_COUNT; i++)
        if (strcmp(cond->name, xmpp_stanza_condition_name((enum xmpp_stanza_condition)i)) == 0)
            *condition = (enum xmpp_stanza_condition)i;
    return XGW_DB_ERROR;
}

/* ---------------------------------------------------------------- listeners --- */

static char *peer_text(const struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return g_strdup_printf("%s:%u", host, ntohs(in->sin_port));
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
        return g_strdup_printf("%s:%u", host + strlen("::ffff:"), ntohs(in6->sin6_port));
    return g_strdup_printf("[%s]:%u", host, ntohs(in6->sin6_port));
}

static void on_accept(sylk_fd_watch *w, int fd, unsigned events, void *user_data)
{
    struct listener *l = user_data;
    (void)w, (void)events;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                XGW_LOG(SYLK_LOG_WARNING, "accept on port %u: %s", l->port, g_strerror(errno));
            return;
        }
        g_autofree char *peer = peer_text(&ss);
        if (xgw_s2s_in_count() >= s.settings->max_incoming_streams) {
            gint64 now = g_get_monotonic_time();
            if (now - s.last_full_warning > G_USEC_PER_SEC * 10) {
                XGW_LOG(SYLK_LOG_WARNING, "refusing %s: max_incoming_streams (%u) reached", peer,
                        s.settings->max_incoming_streams);
                s.last_full_warning = now;
            }
            close(cfd);
            continue;
        }
        xgw_s2s_in_accept(cfd, peer, l->direct_tls);
    }
}

/* A listening socket on local_ip (every address when unset: IPv6 and IPv4 when possible). */
static int listen_on(const char *ip, unsigned port, int *out, char **why)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    bool any = !ip;
    if (any || inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (any)
            in6->sin6_addr = in6addr_any;
        sl = sizeof *in6;
    } else if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof *in4;
    } else {
        *why = g_strdup_printf("local_ip %s is not an IP address", ip);
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && any && errno == EAFNOSUPPORT) { /* no IPv6 here: IPv4 only */
        memset(&ss, 0, sizeof ss);
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof *in4;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    int one = 1, zero = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss.ss_family == AF_INET6 && any)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
        *why = g_strdup_printf("cannot listen on %s port %u: %s", ip ? ip : "every address", port,
                               g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    *out = fd;
    return 0;
}

static int start_listener(struct listener *l, unsigned port, bool direct_tls, char **why)
{
    l->fd = -1;
    if (!port)
        return 0;
    int rc = listen_on(s.settings->local_ip, port, &l->fd, why);
    if (rc < 0)
        return rc;
    l->port = port;
    l->direct_tls = direct_tls;
    l->watch = xgw_host()->fd_watch_add(l->fd, SYLK_FD_READ, on_accept, l);
    XGW_LOG(SYLK_LOG_INFO, "s2s listening on %s port %u (%s)",
            s.settings->local_ip ? s.settings->local_ip : "every address", port,
            direct_tls        ? "direct TLS"
            : s.settings->tls ? "STARTTLS"
                              : "TCP, no TLS");
    return 0;
}

static void stop_listener(struct listener *l)
{
    if (l->watch)
        xgw_host()->fd_watch_remove(l->watch);
    l->watch = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

/* ---------------------------------------------------------------- lifecycle --- */

static void on_sweep(sylk_timer *t, void *user_data)
{
    (void)t, (void)user_data;
    gint64 now = g_get_monotonic_time();
    xgw_s2s_in_sweep(now);
    xgw_s2s_out_sweep(now);
}

int xgw_s2s_start(const struct xgw_settings *settings, char **why)
{
    s.listeners[0].fd = s.listeners[1].fd = -1;
    s.settings = settings;
    g_autofree char *random = settings->dialback_secret ? NULL : xgw_random_secret();
    const char *secret = settings->dialback_secret ? settings->dialback_secret : random;
    if (!secret) {
        *why = g_strdup("cannot make a dialback secret (gnutls_rnd failed)");
        return -EIO;
    }
    s.secret_hash = xgw_dialback_secret_hash(secret);
    int rc = start_listener(&s.listeners[0], settings->local_port, false, why);
    if (rc == 0)
        rc = start_listener(&s.listeners[1], settings->tls_port, true, why);
    if (rc < 0) {
        xgw_s2s_stop();
        return rc;
    }
    s.sweep = xgw_host()->timer_add(SWEEP_MS, true, on_sweep, NULL);
    return 0;
}

void xgw_s2s_send(struct xgw_pending *p, const char *local, const char *remote)
{
    xgw_s2s_out_send(p, local, remote);
}

void xgw_s2s_quiesce(void)
{
    if (!s.settings)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(s.listeners); i++)
        stop_listener(&s.listeners[i]);
    xgw_s2s_out_quiesce();
}

void xgw_s2s_stop(void)
{
    if (!s.settings)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(s.listeners); i++)
        stop_listener(&s.listeners[i]);
    xgw_host()->timer_cancel(s.sweep);
    s.sweep = NULL;
    xgw_s2s_in_close_all();
    xgw_s2s_out_close_all();
    g_clear_pointer(&s.secret_hash, g_free);
    s.settings = NULL;
}
