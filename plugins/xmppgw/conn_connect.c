/*
 * conn_connect.c — outgoing XMPP connections: each address in turn, each for up to
 * XCONN_ATTEMPT_SECONDS. See conn.h.
 */
#define XGW_LOG_DOMAIN "xmppgw-conn"
#include "conn_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- connecting --- */

void xconn_connected(struct xconn *c)
{
    xconn_cancel_timer(&c->timer);
    if (c->p.handler->connected)
        c->p.handler->connected(c, c->p.user_data);
}

static void try_next_address(struct xconn *c);

static void on_first_attempt(sylk_timer *t, void *user_data)
{
    struct xconn *c = user_data;
    (void)t;
    c->timer = NULL;
    xconn_enter(c);
    try_next_address(c);
    xconn_leave(c);
}

static void on_attempt_timeout(sylk_timer *t, void *user_data)
{
    struct xconn *c = user_data;
    (void)t;
    c->timer = NULL;
    xconn_enter(c);
    g_free(c->connect_error);
    c->connect_error = g_strdup_printf("%s: no answer within %d s", c->peer, XCONN_ATTEMPT_SECONDS);
    try_next_address(c);
    xconn_leave(c);
}

static char *address_text(const char *address, uint16_t port)
{
    return strchr(address, ':') ? g_strdup_printf("[%s]:%u", address, port)
                                : g_strdup_printf("%s:%u", address, port);
}

/* One connect() to the next address; when none is left the connection has failed. */
static void try_next_address(struct xconn *c)
{
    xconn_close_socket(c);
    xconn_cancel_timer(&c->timer);
    while (c->next_addr < c->naddrs) {
        const struct xconn_address *a = &c->addrs[c->next_addr++];
        g_free(c->peer);
        c->peer = address_text(a->address, a->port);
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, a->address, &in4->sin_addr) == 1) {
            in4->sin_family = AF_INET;
            in4->sin_port = htons(a->port);
            sl = sizeof *in4;
        } else if (inet_pton(AF_INET6, a->address, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(a->port);
            sl = sizeof *in6;
        } else {
            continue;
        }
        c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)) {
            g_free(c->connect_error);
            c->connect_error = g_strdup_printf("%s: %s", c->peer, g_strerror(errno));
            xconn_close_socket(c);
            continue;
        }
        c->watch = xgw_host()->fd_watch_add(c->fd, SYLK_FD_WRITE, xconn_on_watch, c);
        c->timer =
            xgw_host()->timer_add(XCONN_ATTEMPT_SECONDS * 1000, false, on_attempt_timeout, c);
        XGW_LOG(SYLK_LOG_DEBUG, "%s: connecting to %s", c->label, c->peer);
        return;
    }
    g_autofree char *why =
        g_strdup_printf("cannot connect: %s", c->connect_error ? c->connect_error : "no address");
    xconn_teardown(c, why);
}

void xconn_finish_connect(struct xconn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return;
    if (err) {
        g_free(c->connect_error);
        c->connect_error = g_strdup_printf("%s: %s", c->peer, g_strerror(err));
        try_next_address(c);
        return;
    }
    xconn_cancel_timer(&c->timer);
    c->last_activity = g_get_monotonic_time();
    XGW_LOG(SYLK_LOG_DEBUG, "%s: connected to %s", c->label, c->peer);
    if (c->direct_tls) {
        if (xconn_start_tls(c, false))
            xconn_handshake(c);
        return;
    }
    c->state = ST_OPEN;
    xconn_update_watch(c);
    xconn_connected(c);
}

struct xconn *xconn_connect(const struct xconn_address *addresses, size_t count, bool direct_tls,
                            const char *server_name, const struct xconn_params *params)
{
    struct xconn *c = xconn_new(params);
    c->state = ST_CONNECTING;
    c->direct_tls = direct_tls;
    c->server_name = g_strdup(server_name);
    c->addrs = g_new0(struct xconn_address, MAX(count, 1));
    for (size_t i = 0; i < count; i++) {
        c->addrs[i].address = g_strdup(addresses[i].address);
        c->addrs[i].port = addresses[i].port;
    }
    c->naddrs = count;
    /* the first attempt is made from the loop: `closed` never comes inside this call */
    c->timer = xgw_host()->timer_add(0, false, on_first_attempt, c);
    return c;
}
