/*
 * transport.c — MSRP listener and connections on the main loop: accepting, reading and
 * dispatching frames, writing, closing. Outgoing connects are transport_connect.c's.
 * See transport.h.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/transport_internal.h"

#include "msrp/uri.h"

#include <errno.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE         65536 /* a 64 KB chunk in one read: the parser scans it once */
#define STAGE_SIZE        65536
#define PARSE_BATCH       (256u << 10)
#define MAX_READ_PER_WAKE (1u << 20) /* then other connections get their turn */
/* Bytes waiting to be written before the peer is dropped: sessions stream (they stop making
 * chunks at SYLK_MSRP_HIGH_WATER), so this is room for many sessions on one connection. */
#define MAX_QUEUED (40u << 20)

/* ------------------------------------------------------------------- writing --- */

static ssize_t conn_write(struct sylk_msrp_conn *c, const void *data, size_t len)
{
    if (c->tls) {
        ssize_t n = gnutls_record_send(c->tls, data, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            return -EAGAIN;
        return n < 0 ? -EIO : n;
    }
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

/*
 * Writes what the socket takes; false when the connection failed. Queued frames are gathered
 * into one staging buffer of up to STAGE_SIZE bytes, so TLS makes few large records rather than
 * one per 2 KB chunk; the stage is only refilled once it is all written (gnutls wants the same
 * data again after GNUTLS_E_AGAIN).
 */
static bool flush_out(struct sylk_msrp_conn *c)
{
    for (;;) {
        if (c->stage_off == c->stage->len) {
            g_byte_array_set_size(c->stage, 0);
            c->stage_off = 0;
            GBytes *b;
            while (c->stage->len < STAGE_SIZE && (b = g_queue_pop_head(&c->out))) {
                gsize len;
                const uint8_t *data = g_bytes_get_data(b, &len);
                g_byte_array_append(c->stage, data, (guint)len);
                g_bytes_unref(b);
            }
            if (c->stage->len == 0)
                return true;
        }
        ssize_t n = conn_write(c, c->stage->data + c->stage_off, c->stage->len - c->stage_off);
        if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
            return true;
        if (n < 0)
            return false;
        c->stage_off += (size_t)n;
        c->out_queued -= (size_t)n;
        c->t->counters.bytes_out += (uint64_t)n;
    }
}

/*
 * The queue fell to the low-water mark after a send left it above: every endpoint bound to the
 * connection is told. Their session ids are collected first and each is looked up again
 * before its call, since a callback may unregister (and free) any endpoint or close the
 * connection; once one has queued enough to go above the mark again, the rest wait for the
 * next fall.
 */
static void notify_writable(struct sylk_msrp_conn *c)
{
    if (c->closing || !c->above_low || c->out_queued > SYLK_MSRP_LOW_WATER)
        return;
    c->above_low = false;
    g_autoptr(GPtrArray) sids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, c->t->endpoints);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct sylk_msrp_endpoint *ep = value;
        if (ep->conn == c && ep->writable)
            g_ptr_array_add(sids, g_strdup(key));
    }
    for (guint i = 0; i < sids->len && !c->closing && !c->above_low; i++) {
        struct sylk_msrp_endpoint *ep = g_hash_table_lookup(c->t->endpoints, sids->pdata[i]);
        if (ep && ep->conn == c && ep->writable)
            ep->writable(ep, c);
    }
}

/* A frame queued: "MSRP <tid> <status>" is a response, "MSRP <tid> <METHOD>" a request. */
static void count_out(struct sylk_msrp_counters *counters, GBytes *frame)
{
    gsize len;
    const char *p = g_bytes_get_data(frame, &len);
    const char *sp = len > 5 ? memchr(p + 5, ' ', MIN(len - 5, 40)) : NULL;
    bool response = sp && (size_t)(sp - p) + 4 < len && g_ascii_isdigit(sp[1]) &&
                    g_ascii_isdigit(sp[2]) && g_ascii_isdigit(sp[3]) &&
                    (sp[4] == ' ' || sp[4] == '\r');
    if (response)
        counters->responses_out++;
    else
        counters->requests_out++;
}

/*
 * Only queues: the bytes are written from the main loop (at the end of the connection's own
 * input handling, or when the socket is writable), so the frames a session queues in one go
 * (a large message is thousands of 2 KB chunks) leave in a few large TLS records and system
 * calls instead of one each.
 */
void sylk_msrp_conn_send(struct sylk_msrp_conn *c, GBytes *bytes)
{
    if (c->closing)
        return;
    count_out(&c->t->counters, bytes);
    c->out_queued += g_bytes_get_size(bytes);
    g_queue_push_tail(&c->out, g_bytes_ref(bytes));
    if (c->out_queued > MAX_QUEUED) {
        sylk_msrp_conn_close(c, "peer does not read what it is sent");
        return;
    }
    if (c->out_queued > SYLK_MSRP_LOW_WATER)
        c->above_low = true;
    if (!c->in_io) /* on_io looks at what to watch when it returns */
        sylk_msrp_conn_watch(c);
}

size_t sylk_msrp_conn_queued(const struct sylk_msrp_conn *c)
{
    return c->out_queued;
}

void sylk_msrp_conn_respond(struct sylk_msrp_conn *c, const struct sylk_msrp_frame *request,
                            int status, const char *comment)
{
    g_autoptr(GBytes) wire = sylk_msrp_format_response(request, status, comment);
    if (wire)
        sylk_msrp_conn_send(c, wire);
}

/* Whether an endpoint is bound to the connection. */
static bool conn_bound(struct sylk_msrp_conn *c)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, c->t->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (((struct sylk_msrp_endpoint *)value)->conn == c)
            return true;
    }
    return false;
}

void sylk_msrp_conn_release(struct sylk_msrp_conn *c, const char *why)
{
    if (!c->closing && !c->connect_sid && !conn_bound(c))
        sylk_msrp_conn_close(c, why);
}

const char *sylk_msrp_conn_peer(const struct sylk_msrp_conn *c)
{
    return c->peer;
}

/* ------------------------------------------------------------------- reading --- */

/* The session id of the last To-Path URI (ours). */
static char *our_session_id(const char *to_path)
{
    g_autofree char *uri = sylk_msrp_path_last(to_path), *error = NULL;
    struct sylk_msrp_uri u;
    if (!uri || sylk_msrp_uri_parse(uri, strlen(uri), &u, &error) < 0)
        return NULL;
    char *sid = g_steal_pointer(&u.session_id);
    sylk_msrp_uri_clear(&u);
    return sid;
}

/*
 * The session id for a frame's To-Path. A connection's frames mostly repeat the same To-Path
 * (thousands of chunks and responses of one message), so the last one's id is kept rather
 * than the URI parsed again for each.
 */
static const char *session_id_for(struct sylk_msrp_conn *c, const struct sylk_msrp_frame *f)
{
    const char *to_path = sylk_msrp_header(f, "To-Path");
    if (!to_path)
        return NULL;
    if (c->last_to_path && strcmp(c->last_to_path, to_path) == 0)
        return c->last_sid;
    g_free(c->last_to_path);
    g_free(c->last_sid);
    c->last_to_path = g_strdup(to_path);
    c->last_sid = our_session_id(to_path);
    return c->last_sid;
}

static void dispatch(struct sylk_msrp_conn *c, struct sylk_msrp_frame *f)
{
    const char *sid = session_id_for(c, f);
    struct sylk_msrp_endpoint *ep = sid ? g_hash_table_lookup(c->t->endpoints, sid) : NULL;
    if (!ep) {
        /* RFC 4975 7.2: no response to REPORT, nor to a response */
        if (f->method && strcmp(f->method, "REPORT") != 0) {
            g_info("MSRP %s from %s for unknown session %s: 481", f->method, c->peer,
                   sid ? sid : "(none)");
            sylk_msrp_conn_respond(c, f, 481, "Session does not exist");
        }
        sylk_msrp_frame_clear(f);
        return;
    }
    ep->frame(ep, c, f); /* bound or not: the endpoint decides whether to bind c */
}

static ssize_t conn_read(struct sylk_msrp_conn *c, uint8_t *buf, size_t len)
{
    if (c->tls) {
        ssize_t n = gnutls_record_recv(c->tls, buf, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            return -EAGAIN;
        return n < 0 ? -EIO : n;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    return n < 0 ? -errno : n;
}

/* Frames in the input buffer; false when the connection was closed for a bad one. */
static bool parse_input(struct sylk_msrp_conn *c)
{
    /* Frames are taken from an offset and the buffer is compacted once at the end: removing
     * each frame from the front would move the rest of a large batch again and again. */
    size_t pos = 0;
    bool ok = true;
    while (pos < c->in->len && !c->closing) {
        struct sylk_msrp_frame f;
        size_t used;
        g_autofree char *error = NULL;
        enum sylk_msrp_parse_result r =
            sylk_msrp_parse(c->in->data + pos, c->in->len - pos, NULL, &f, &used, &error);
        if (r == SYLK_MSRP_NEED_MORE)
            break;
        if (r == SYLK_MSRP_ERROR) {
            g_autofree char *why = g_strdup_printf("bad MSRP frame: %s", error);
            sylk_msrp_conn_close(c, why);
            ok = false;
            break;
        }
        pos += used;
        if (f.method)
            c->t->counters.requests_in++;
        else
            c->t->counters.responses_in++;
        dispatch(c, &f);
    }
    g_byte_array_remove_range(c->in, 0, (guint)pos);
    return ok && !c->closing;
}

/*
 * The connection can carry frames (TCP up, TLS handshake done): an outgoing one reports its
 * outcome, then what was queued meanwhile goes out. False when it closed.
 */
static bool conn_up(struct sylk_msrp_conn *c)
{
    c->handshaken = true;
    if (c->connect_sid) {
        sylk_msrp_connect_done(c, 0, NULL);
        if (c->closing)
            return false;
    }
    if (!flush_out(c)) {
        sylk_msrp_conn_close(c, "write failed");
        return false;
    }
    return true;
}

static bool handshake(struct sylk_msrp_conn *c)
{
    int rc = gnutls_handshake(c->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        return true;
    if (rc < 0) {
        g_autofree char *why = g_strdup_printf("TLS handshake failed: %s", gnutls_strerror(rc));
        if (c->connect_sid)
            sylk_msrp_connect_done(c, -EPROTO, why);
        else
            sylk_msrp_conn_close(c, why);
        return false;
    }
    return conn_up(c);
}

/* The TCP connect() of an outgoing connection ended: on to TLS, or up. */
static bool finish_connect(struct sylk_msrp_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return true;
    c->connecting = false;
    if (err) {
        g_autofree char *why = g_strdup_printf("connect failed: %s", g_strerror(err));
        sylk_msrp_connect_done(c, -err, why);
        return false;
    }
    return c->tls ? handshake(c) : conn_up(c);
}

static GIOCondition wanted(struct sylk_msrp_conn *c)
{
    if (c->connecting)
        return G_IO_OUT;
    GIOCondition want = G_IO_IN;
    if (!g_queue_is_empty(&c->out) || c->stage_off < c->stage->len ||
        (c->tls && !c->handshaken && gnutls_record_get_direction(c->tls) == 1))
        want |= G_IO_OUT;
    return want;
}

/*
 * One wake of a connection: connect and handshake steps, then input (frames dispatched, whose
 * callbacks queue responses and messages), then everything queued is written at once. False
 * when the connection closed.
 */
static bool conn_io(struct sylk_msrp_conn *c, GIOCondition cond)
{
    if (c->connecting) {
        if (!finish_connect(c))
            return false;
    } else if (c->tls && !c->handshaken && !handshake(c)) {
        return false;
    }
    if (!c->handshaken)
        return true;
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        /* Read what is there (TLS gives one 16 KB record per call) straight into the input
         * buffer, parsing in batches, so a large chunk is scanned for its end-line a few times
         * rather than once per record. */
        size_t got = 0;
        while (got < MAX_READ_PER_WAKE) {
            guint had = c->in->len;
            g_byte_array_set_size(c->in, had + READ_SIZE);
            ssize_t n = conn_read(c, c->in->data + had, READ_SIZE);
            g_byte_array_set_size(c->in, had + (guint)MAX(n, 0));
            if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
                break;
            if (n <= 0) {
                sylk_msrp_conn_close(c, n == 0 ? "closed by the peer" : "read failed");
                return false;
            }
            got += (size_t)n;
            c->t->counters.bytes_in += (uint64_t)n;
            if (c->in->len >= PARSE_BATCH && !parse_input(c))
                return false;
        }
        if (!parse_input(c))
            return false;
    }
    if ((!g_queue_is_empty(&c->out) || c->stage_off < c->stage->len) && !flush_out(c)) {
        sylk_msrp_conn_close(c, "write failed");
        return false;
    }
    if (c->close_when_flushed && g_queue_is_empty(&c->out) && c->stage_off == c->stage->len) {
        sylk_msrp_conn_close(c, "no session uses it any more");
        return false;
    }
    notify_writable(c);
    return !c->closing;
}

static gboolean on_io(gint fd, GIOCondition cond, gpointer data)
{
    struct sylk_msrp_conn *c = data;
    (void)fd;
    /* Sends from the callbacks below leave the watch alone (in_io); a close leaves c
     * allocated until an idle callback after this one. */
    c->in_io = true;
    bool open = conn_io(c, cond);
    c->in_io = false;
    if (!open || c->closing)
        return G_SOURCE_REMOVE;
    if (wanted(c) == c->watching)
        return G_SOURCE_CONTINUE; /* the same source goes on: no churn per read */
    c->watch = 0;
    sylk_msrp_conn_watch(c);
    return G_SOURCE_REMOVE;
}

/* Watches for input always, and for output while something waits to be written. */
void sylk_msrp_conn_watch(struct sylk_msrp_conn *c)
{
    if (c->closing)
        return;
    GIOCondition want = wanted(c);
    if (c->watch && want == c->watching)
        return;
    if (c->watch)
        g_source_remove(c->watch);
    c->watching = want;
    c->watch = g_unix_fd_add(c->fd, want, on_io, c);
}

static void free_conn_now(struct sylk_msrp_conn *c)
{
    c->t->dying = g_list_remove(c->t->dying, c);
    if (c->tls)
        gnutls_deinit(c->tls);
    close(c->fd);
    g_byte_array_free(c->in, TRUE);
    g_byte_array_free(c->stage, TRUE);
    g_queue_clear_full(&c->out, (GDestroyNotify)g_bytes_unref);
    g_free(c->connect_sid);
    g_free(c->last_to_path);
    g_free(c->last_sid);
    g_free(c);
}

static gboolean free_conn(gpointer data)
{
    free_conn_now(data);
    return G_SOURCE_REMOVE;
}

void sylk_msrp_conn_close(struct sylk_msrp_conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    g_info("MSRP connection %s %s closed: %s", c->connect_ep ? "to" : "from", c->peer, why);
    if (c->watch)
        g_source_remove(c->watch);
    c->watch = 0;
    if (c->connect_timer)
        g_source_remove(c->connect_timer);
    c->connect_timer = 0;
    g_clear_pointer(&c->connect_sid, g_free); /* a pending connect ends without a word */
    c->t->conns = g_list_remove(c->t->conns, c);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, c->t->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct sylk_msrp_endpoint *ep = value;
        if (ep->conn == c) {
            ep->conn = NULL;
            if (ep->closed)
                ep->closed(ep, c);
        }
    }
    if (c->tls && c->handshaken)
        gnutls_bye(c->tls, GNUTLS_SHUT_WR); /* best effort: the socket is non-blocking */
    c->t->dying = g_list_prepend(c->t->dying, c);
    c->free_idle = g_idle_add(free_conn, c); /* after the callbacks on the stack returned */
}

/* ------------------------------------------------------------------ listening --- */

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
    getnameinfo((const struct sockaddr *)ss, sizeof(*ss), host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    g_snprintf(out, size, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

/* A connection on a connected (or connecting) socket, listed in t->conns; not watched yet. */
struct sylk_msrp_conn *sylk_msrp_conn_new(struct sylk_msrp_transport *t, int fd,
                                          const struct sockaddr_storage *ss)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sylk_msrp_conn *c = g_new0(struct sylk_msrp_conn, 1);
    c->t = t;
    c->fd = fd;
    c->in = g_byte_array_new();
    c->stage = g_byte_array_new();
    g_queue_init(&c->out);
    peer_name(ss, c->peer, sizeof(c->peer));
    t->conns = g_list_prepend(t->conns, c);
    return c;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct sylk_msrp_transport *t = data;
    (void)cond;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            break;
        if (g_list_length(t->conns) >= MAX_CONNECTIONS) {
            g_warning("MSRP: %d connections open; refusing another", MAX_CONNECTIONS);
            close(cfd);
            continue;
        }
        struct sylk_msrp_conn *c = sylk_msrp_conn_new(t, cfd, &ss);
        if (t->cred) {
            gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK);
            gnutls_set_default_priority(c->tls);
            gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, t->cred);
            gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_IGNORE);
            gnutls_transport_set_int(c->tls, cfd);
        }
        c->handshaken = !t->cred;
        g_debug("MSRP connection from %s", c->peer);
        sylk_msrp_conn_watch(c);
    }
    return G_SOURCE_CONTINUE;
}

int sylk_msrp_transport_start(const char *ip, unsigned port, gnutls_certificate_credentials_t cred,
                              struct sylk_msrp_transport **out, char **error)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM},
                    *ai;
    char service[8];
    g_snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(ip, service, &hints, &ai) != 0) {
        *error = g_strdup_printf("bad MSRP address %s", ip);
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        int err = errno;
        *error = g_strdup_printf("cannot listen for MSRP on %s:%u: %s", ip, port, g_strerror(err));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -err;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    struct sylk_msrp_transport *t = g_new0(struct sylk_msrp_transport, 1);
    t->fd = fd;
    t->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    t->cred = cred;
    t->reconnect_s = SYLK_MSRP_RECONNECT_S;
    t->endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    t->watch = g_unix_fd_add(fd, G_IO_IN, on_accept, t);
    *out = t;
    return 0;
}

void sylk_msrp_transport_stop(struct sylk_msrp_transport *t)
{
    if (!t)
        return;
    g_source_remove(t->watch);
    close(t->fd);
    while (t->conns)
        sylk_msrp_conn_close(t->conns->data, "server stopping");
    while (t->dying) { /* the main loop may not run again: free them here */
        struct sylk_msrp_conn *c = t->dying->data;
        g_source_remove(c->free_idle);
        free_conn_now(c);
    }
    g_hash_table_destroy(t->endpoints);
    if (t->client_cred)
        gnutls_certificate_free_credentials(t->client_cred);
    g_free(t);
}

unsigned sylk_msrp_transport_port(const struct sylk_msrp_transport *t)
{
    return t->port;
}

struct sylk_msrp_counters sylk_msrp_transport_counters(const struct sylk_msrp_transport *t)
{
    struct sylk_msrp_counters c = t->counters;
    c.connections = g_list_length(t->conns);
    return c;
}

bool sylk_msrp_transport_tls(const struct sylk_msrp_transport *t)
{
    return t->cred != NULL;
}

void sylk_msrp_transport_set_reconnect_timeout(struct sylk_msrp_transport *t, unsigned seconds)
{
    t->reconnect_s = seconds;
}

unsigned sylk_msrp_transport_reconnect_timeout(const struct sylk_msrp_transport *t)
{
    return t->reconnect_s;
}

void sylk_msrp_transport_register(struct sylk_msrp_transport *t, const char *session_id,
                                  struct sylk_msrp_endpoint *ep)
{
    ep->conn = NULL;
    g_hash_table_replace(t->endpoints, g_strdup(session_id), ep);
}

/* Whether a session still uses the connection (bound to it, or waiting for its connect). */
static bool conn_in_use(struct sylk_msrp_conn *c)
{
    if (c->connect_sid)
        return true;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, c->t->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (((struct sylk_msrp_endpoint *)value)->conn == c)
            return true;
    return false;
}

/*
 * The last session on a connection has ended: it is closed once what was queued for it is
 * written (a last REPORT or message). Left open, neither side might close it when both ends
 * wait for the other (two sessions of this server, or a peer that keeps connections for
 * reuse): its socket and 64 KB input buffer stayed until the server stopped.
 */
static void conn_release(struct sylk_msrp_conn *c)
{
    if (c->closing || conn_in_use(c))
        return;
    if (g_queue_is_empty(&c->out) && c->stage_off == c->stage->len) {
        sylk_msrp_conn_close(c, "no session uses it any more");
        return;
    }
    c->close_when_flushed = true;
    if (!c->in_io)
        sylk_msrp_conn_watch(c);
}

void sylk_msrp_transport_unregister(struct sylk_msrp_transport *t, const char *session_id)
{
    struct sylk_msrp_endpoint *ep = g_hash_table_lookup(t->endpoints, session_id);
    struct sylk_msrp_conn *used = ep ? ep->conn : NULL;
    g_hash_table_remove(t->endpoints, session_id);
    /* a connect still pending for it is dropped now rather than at its outcome */
    for (GList *l = t->conns, *next; l; l = next) {
        next = l->next;
        struct sylk_msrp_conn *c = l->data;
        if (c->connect_sid && strcmp(c->connect_sid, session_id) == 0)
            sylk_msrp_conn_close(c, "the session it was for has ended");
    }
    if (used && g_list_find(t->conns, used))
        conn_release(used);
}
