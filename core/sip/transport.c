/*
 * transport.c — the SIP UDP buffer and the TCP/TLS connection limits. See transport.h.
 */
#define G_LOG_DOMAIN "sylk-sip"
#include "sip/transport.h"

#include "server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <glib-unix.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A look at the connections once a second, and soon after each accept (at most this often). */
#define TICK_S          1
#define ACCEPT_SCAN_MS  100
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

/* An address without its port, IPv4-mapped IPv6 addresses as IPv4. */
struct address {
    int family;
    guint8 bytes[16];
    unsigned port;
};

struct rate_log {
    gint64 last;
    unsigned suppressed;
};

struct conn {
    uint64_t inode;
    int fd;
    unsigned generation; /* of the last scan that found it */
    char peer[INET6_ADDRSTRLEN];
    unsigned peer_port;
    gint64 seen;              /* when a scan first found it */
    uint64_t received, acked; /* TCP_INFO byte counters at the last look */
    gint64 last_received;     /* when `received` last grew */
    gint64 waiting;           /* since when bytes came in with nothing sent back; 0: not */
    bool shut;                /* refused or cut: sofia closes it */
    bool fresh;               /* found by the scan under way */
    bool served;              /* while fresh: we already answered on it */
};

struct other {
    uint64_t inode;
    unsigned generation;
};

struct sylk_sip_transport {
    struct sylk_counters *counters;
    struct address local;      /* [sip] local_ip; port unused */
    bool wildcard;             /* local_ip is 0.0.0.0 or :: */
    unsigned ports[2];         /* TCP and TLS listening ports, 0 when off */
    unsigned per_ip;           /* 0: no limit */
    gint64 message_timeout_us; /* 0: no limit */
    gint64 idle_us;            /* connection_timeout, for connections that never send; 0: none */
    GHashTable *conns;         /* inode → struct conn */
    GHashTable *others;        /* inode → struct other: sockets that are not SIP connections */
    GArray *listeners;         /* int fds of the TCP and TLS listening sockets */
    GArray *watches;           /* guint sources, one per listener while armed */
    unsigned generation;
    gint64 last_scan;
    guint tick, soon;
    bool no_tcp_info; /* the kernel's TCP_INFO lacks the byte counters: no message timeout */
    struct rate_log refused_log, cut_log;
};

static bool address_of(const struct sockaddr_storage *ss, struct address *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        a->family = AF_INET;
        memcpy(a->bytes, &in->sin_addr, 4);
        a->port = ntohs(in->sin_port);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        a->port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            a->family = AF_INET;
            memcpy(a->bytes, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            a->family = AF_INET6;
            memcpy(a->bytes, &in6->sin6_addr, 16);
        }
        return true;
    }
    return false;
}

static bool same_host(const struct address *a, const struct address *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

/* The local address of socket `fd` when it is of `type` (SOCK_DGRAM, SOCK_STREAM). */
static bool local_address(int fd, int type, struct address *a)
{
    int t = 0;
    socklen_t len = sizeof(t);
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) == 0 && t == type &&
           getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0 && address_of(&ss, a);
}

static bool is_sip_address(const struct sylk_sip_transport *t, const struct address *a,
                           unsigned port)
{
    return a->port == port && (t->wildcard || same_host(a, &t->local));
}

static uint64_t inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? (uint64_t)st.st_ino : 0;
}

/*
 * Calls `fn` with every socket descriptor of the process and its inode. Other threads open and
 * close descriptors meanwhile: `fn` checks the inode again after looking at a socket.
 */
static void each_socket(void (*fn)(int fd, uint64_t inode, void *data), void *data)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        g_warning("cannot list /proc/self/fd: %s", g_strerror(errno));
        return;
    }
    for (struct dirent *e; (e = readdir(dir));) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd == dirfd(dir))
            continue;
        uint64_t inode = inode_of((int)fd);
        if (inode)
            fn((int)fd, inode, data);
    }
    closedir(dir);
}

/* --------------------------------------------------------------------- UDP buffer --- */

struct udp_search {
    const struct sylk_server_config *config;
    struct address local;
    int fd;
};

static void find_udp(int fd, uint64_t inode, void *data)
{
    struct udp_search *s = data;
    struct address a;
    (void)inode;
    if (s->fd < 0 && local_address(fd, SOCK_DGRAM, &a) && a.port == s->config->udp_port &&
        same_host(&a, &s->local))
        s->fd = fd;
}

static unsigned rmem_max(void)
{
    g_autofree char *text = NULL;
    return g_file_get_contents("/proc/sys/net/core/rmem_max", &text, NULL, NULL)
               ? (unsigned)strtoul(text, NULL, 10)
               : 0;
}

/*
 * SO_RCVBUFFORCE first: with CAP_NET_ADMIN the size configured is granted even above
 * net.core.rmem_max (a limit meant for unprivileged programs); without it SO_RCVBUF, which the
 * kernel caps there. The kernel doubles the value for its bookkeeping; getsockopt says so.
 */
static void size_udp_buffer(const struct sylk_server_config *c, const struct address *local)
{
    struct udp_search s = {.config = c, .local = *local, .fd = -1};
    each_socket(find_udp, &s);
    if (s.fd < 0) {
        g_warning("cannot find the SIP UDP socket on port %u to size its receive buffer",
                  c->udp_port);
        return;
    }
    int asked = (int)c->udp_receive_buffer, got = 0;
    socklen_t len = sizeof(got);
    bool forced = setsockopt(s.fd, SOL_SOCKET, SO_RCVBUFFORCE, &asked, sizeof(asked)) == 0;
    if (!forced && setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &asked, sizeof(asked)) < 0)
        g_warning("SIP UDP receive buffer: setsockopt: %s", g_strerror(errno));
    if (getsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0)
        return;
    unsigned granted = (unsigned)got / 2, max = rmem_max();
    if (granted >= c->udp_receive_buffer)
        g_info("SIP UDP receive buffer: %u bytes%s", c->udp_receive_buffer,
               forced && c->udp_receive_buffer > max ? " (above net.core.rmem_max: the server "
                                                       "has CAP_NET_ADMIN)"
                                                     : "");
    else
        g_warning("SIP UDP receive buffer: asked for %u bytes, the kernel granted %u: raise "
                  "net.core.rmem_max (now %u) or give the server CAP_NET_ADMIN; a burst of "
                  "requests beyond it is lost",
                  c->udp_receive_buffer, granted, max);
}

/* ------------------------------------------------------------------- connections --- */

static bool rate_log_due(struct rate_log *r, gint64 now, unsigned *suppressed)
{
    if (r->last && now - r->last < LOG_INTERVAL_US) {
        r->suppressed++;
        return false;
    }
    *suppressed = r->suppressed;
    r->suppressed = 0;
    r->last = now;
    return true;
}

static void shut(struct conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->shut = true;
}

static void refuse(struct sylk_sip_transport *t, struct conn *c, unsigned open, gint64 now)
{
    shut(c);
    atomic_fetch_add_explicit(&t->counters->sip_connections_refused, 1, memory_order_relaxed);
    unsigned more;
    if (rate_log_due(&t->refused_log, now, &more))
        g_warning("SIP connection from %s:%u refused: %u already open from %s "
                  "(max_connections_per_ip = %u)%s",
                  c->peer, c->peer_port, open, c->peer, t->per_ip,
                  more ? " (more refused since the last such line)" : "");
}

static void cut(struct sylk_sip_transport *t, struct conn *c, gint64 now, const char *why,
                gint64 since)
{
    shut(c);
    atomic_fetch_add_explicit(&t->counters->sip_connections_cut, 1, memory_order_relaxed);
    unsigned more;
    if (rate_log_due(&t->cut_log, now, &more))
        g_warning("SIP connection from %s:%u cut: %s for %" G_GINT64_FORMAT " s%s", c->peer,
                  c->peer_port, why, (now - since) / G_USEC_PER_SEC,
                  more ? " (more cut since the last such line)" : "");
}

/*
 * A connection that never sent a byte is closed after connection_timeout: sofia's idle timer
 * (TPTAG_IDLE) starts only with the first bytes received.
 *
 * A message is arriving while bytes come in and the server sends nothing back (it answers
 * every complete request, and a CRLF keepalive with a pong). Quiet for message_timeout, the
 * connection is not receiving a message any more: sofia's own per-gap timeout (TPTAG_TIMEOUT)
 * has dropped what was partial, and idleness is TPTAG_IDLE's business.
 */
static void check_progress(struct sylk_sip_transport *t, struct conn *c, gint64 now)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
        return;
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received)) {
        g_warning("this kernel's TCP_INFO has no byte counters: [sip] message_timeout only "
                  "applies to pauses within a message, connection_timeout only after a message");
        t->no_tcp_info = true;
        return;
    }
    if (info.tcpi_bytes_received > c->received) {
        c->received = info.tcpi_bytes_received;
        c->last_received = now;
        if (!c->waiting)
            c->waiting = now;
    }
    if (info.tcpi_bytes_acked > c->acked) {
        c->acked = info.tcpi_bytes_acked;
        c->waiting = 0;
    }
    if (t->idle_us && !c->received && now - c->seen >= t->idle_us) {
        cut(t, c, now, "nothing received (connection_timeout)", c->seen);
        return;
    }
    if (!t->message_timeout_us)
        return;
    if (c->waiting && now - c->last_received >= t->message_timeout_us)
        c->waiting = 0;
    if (c->waiting && now - c->waiting >= t->message_timeout_us)
        cut(t, c, now, "an incomplete message (message_timeout)", c->waiting);
}

struct scan {
    struct sylk_sip_transport *t;
    GPtrArray *fresh; /* struct conn * found for the first time */
};

static struct conn *classify(struct sylk_sip_transport *t, int fd, uint64_t inode)
{
    struct address local, peer;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (!local_address(fd, SOCK_STREAM, &local) ||
        !(is_sip_address(t, &local, t->ports[0]) || is_sip_address(t, &local, t->ports[1])) ||
        getpeername(fd, (struct sockaddr *)&ss, &sslen) < 0 || !address_of(&ss, &peer) ||
        inode_of(fd) != inode)
        return NULL;
    struct conn *c = g_new0(struct conn, 1);
    c->inode = inode;
    c->fd = fd;
    c->seen = g_get_monotonic_time();
    inet_ntop(peer.family, peer.bytes, c->peer, sizeof(c->peer));
    c->peer_port = peer.port;
    return c;
}

static void scan_one(int fd, uint64_t inode, void *data)
{
    struct scan *s = data;
    struct sylk_sip_transport *t = s->t;
    struct conn *c = g_hash_table_lookup(t->conns, &inode);
    if (c) {
        c->fd = fd;
        c->generation = t->generation;
        return;
    }
    struct other *o = g_hash_table_lookup(t->others, &inode);
    if (o) {
        o->generation = t->generation;
        return;
    }
    c = classify(t, fd, inode);
    if (!c) {
        o = g_new(struct other, 1);
        *o = (struct other){.inode = inode, .generation = t->generation};
        g_hash_table_insert(t->others, &o->inode, o);
        return;
    }
    c->generation = t->generation;
    c->fresh = true;
    g_hash_table_insert(t->conns, &c->inode, c);
    g_ptr_array_add(s->fresh, c);
}

static gboolean gone_conn(gpointer key, gpointer value, gpointer data)
{
    (void)key;
    return ((struct conn *)value)->generation != *(unsigned *)data;
}

static gboolean gone_other(gpointer key, gpointer value, gpointer data)
{
    (void)key;
    return ((struct other *)value)->generation != *(unsigned *)data;
}

/* Whether we already answered on c: a client in use keeps its place before silent ones. */
static bool served(const struct conn *c)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    return getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
           len >= offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(info.tcpi_bytes_acked) &&
           info.tcpi_bytes_acked > 0;
}

/* Connections we answered on first, then by inode: about the order they were accepted in,
 * not exactly (the kernel hands inode numbers out in per-CPU batches), which is why a
 * connection in use must not depend on it. */
static int by_use_then_inode(gconstpointer a, gconstpointer b)
{
    const struct conn *x = *(struct conn *const *)a, *y = *(struct conn *const *)b;
    if (x->served != y->served)
        return x->served ? -1 : 1;
    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Connections already known keep their place; new ones over the limit are refused. */
static void enforce_per_ip(struct sylk_sip_transport *t, GPtrArray *fresh, gint64 now)
{
    g_autoptr(GHashTable) open = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, t->conns);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct conn *c = value;
        if (!c->shut && !c->fresh)
            g_hash_table_insert(
                open, c->peer,
                GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(open, c->peer)) + 1));
    }
    for (guint i = 0; i < fresh->len; i++) {
        struct conn *c = g_ptr_array_index(fresh, i);
        c->served = served(c);
    }
    g_ptr_array_sort(fresh, by_use_then_inode);
    for (guint i = 0; i < fresh->len; i++) {
        struct conn *c = g_ptr_array_index(fresh, i);
        unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(open, c->peer));
        if (n >= t->per_ip)
            refuse(t, c, n, now);
        else
            g_hash_table_insert(open, c->peer, GUINT_TO_POINTER(n + 1));
    }
}

static void arm_listeners(struct sylk_sip_transport *t);

static void scan(struct sylk_sip_transport *t)
{
    gint64 now = g_get_monotonic_time();
    t->last_scan = now;
    t->generation++;
    struct scan s = {.t = t, .fresh = g_ptr_array_new()};
    each_socket(scan_one, &s);
    g_hash_table_foreach_remove(t->conns, gone_conn, &t->generation);
    g_hash_table_foreach_remove(t->others, gone_other, &t->generation);
    if (t->per_ip && s.fresh->len)
        enforce_per_ip(t, s.fresh, now);
    for (guint i = 0; i < s.fresh->len; i++)
        ((struct conn *)g_ptr_array_index(s.fresh, i))->fresh = false;
    g_ptr_array_free(s.fresh, TRUE);
    if ((t->message_timeout_us || t->idle_us) && !t->no_tcp_info) {
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, t->conns);
        while (g_hash_table_iter_next(&it, NULL, &value) && !t->no_tcp_info) {
            struct conn *c = value;
            if (!c->shut)
                check_progress(t, c, now);
        }
    }
    arm_listeners(t);
}

static gboolean on_tick(gpointer data)
{
    scan(data);
    return G_SOURCE_CONTINUE;
}

static gboolean on_soon(gpointer data)
{
    struct sylk_sip_transport *t = data;
    t->soon = 0;
    scan(t);
    return G_SOURCE_REMOVE;
}

/*
 * A connection is waiting to be accepted: sofia accepts it in this same main loop iteration,
 * so a scan a moment later finds it. The watch goes until that scan, so that it never fires
 * again and again while sofia has yet to accept.
 */
static gboolean on_listener_readable(int fd, GIOCondition condition, gpointer data)
{
    struct sylk_sip_transport *t = data;
    (void)fd;
    (void)condition;
    for (guint i = 0; i < t->watches->len; i++) {
        guint id = g_array_index(t->watches, guint, i);
        if (id != g_source_get_id(g_main_current_source()))
            g_source_remove(id);
    }
    g_array_set_size(t->watches, 0);
    if (!t->soon) {
        gint64 wait_ms = (t->last_scan + ACCEPT_SCAN_MS * 1000 - g_get_monotonic_time()) / 1000;
        t->soon = g_timeout_add((guint)CLAMP(wait_ms, 1, ACCEPT_SCAN_MS), on_soon, t);
    }
    return G_SOURCE_REMOVE;
}

static void arm_listeners(struct sylk_sip_transport *t)
{
    if (t->watches->len || !t->per_ip)
        return;
    for (guint i = 0; i < t->listeners->len; i++) {
        guint id =
            g_unix_fd_add(g_array_index(t->listeners, int, i), G_IO_IN, on_listener_readable, t);
        g_array_append_val(t->watches, id);
    }
}

static void find_listener(int fd, uint64_t inode, void *data)
{
    struct sylk_sip_transport *t = data;
    struct address a;
    int listening = 0;
    socklen_t len = sizeof(listening);
    (void)inode;
    if (local_address(fd, SOCK_STREAM, &a) &&
        (is_sip_address(t, &a, t->ports[0]) || is_sip_address(t, &a, t->ports[1])) &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
        g_array_append_val(t->listeners, fd);
}

static bool parse_local(const char *ip, struct address *a, bool *wildcard)
{
    memset(a, 0, sizeof(*a));
    static const guint8 zero[16];
    if (inet_pton(AF_INET, ip, a->bytes) == 1)
        a->family = AF_INET;
    else if (inet_pton(AF_INET6, ip, a->bytes) == 1)
        a->family = AF_INET6;
    else
        return false;
    if (a->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a->bytes)) {
        memmove(a->bytes, a->bytes + 12, 4);
        a->family = AF_INET;
    }
    *wildcard = memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
    return true;
}

struct sylk_sip_transport *sylk_sip_transport_start(const struct sylk_server_config *c,
                                                    struct sylk_counters *counters)
{
    struct address local;
    bool wildcard;
    if (!parse_local(c->local_ip, &local, &wildcard))
        return NULL;
    if (c->udp_port && c->udp_receive_buffer)
        size_udp_buffer(c, &local);
    if ((!c->tcp_port && !c->tls_port) ||
        (!c->sip_max_connections_per_ip && !c->sip_message_timeout && !c->sip_connection_timeout))
        return NULL;
    struct sylk_sip_transport *t = g_new0(struct sylk_sip_transport, 1);
    t->counters = counters;
    t->local = local;
    t->wildcard = wildcard;
    t->ports[0] = c->tcp_port;
    t->ports[1] = c->tls_port;
    t->per_ip = c->sip_max_connections_per_ip;
    t->message_timeout_us = (gint64)c->sip_message_timeout * G_USEC_PER_SEC;
    t->idle_us = (gint64)c->sip_connection_timeout * G_USEC_PER_SEC;
    t->conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    t->others = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    t->listeners = g_array_new(FALSE, FALSE, sizeof(int));
    t->watches = g_array_new(FALSE, FALSE, sizeof(guint));
    each_socket(find_listener, t);
    if (t->per_ip && t->listeners->len == 0)
        g_warning("cannot find the SIP TCP/TLS listening sockets: connections are counted "
                  "once a second only");
    scan(t);
    t->tick = g_timeout_add_seconds(TICK_S, on_tick, t);
    return t;
}

void sylk_sip_transport_stop(struct sylk_sip_transport *t)
{
    if (!t)
        return;
    for (guint i = 0; i < t->watches->len; i++)
        g_source_remove(g_array_index(t->watches, guint, i));
    if (t->tick)
        g_source_remove(t->tick);
    if (t->soon)
        g_source_remove(t->soon);
    g_array_free(t->watches, TRUE);
    g_array_free(t->listeners, TRUE);
    g_hash_table_destroy(t->conns);
    g_hash_table_destroy(t->others);
    g_free(t);
}
