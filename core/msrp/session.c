/*
 * session.c — an MSRP session and its connection: requests from the peer dispatched, the
 * connection bound, lost, taken over by a newer one, reopened when we are the active side,
 * given up after reconnect_s. See session.h; what is sent lives in outgoing.c, what is
 * received in incoming.c.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/session_internal.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <unistd.h>

#define RECONNECT_FIRST_MS 250 /* active side: the wait after a failed reconnect, doubling */
#define RECONNECT_MAX_MS   4000

static const char ident_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

char *sylk_msrp_session_ident(struct sylk_msrp_session *s, unsigned len)
{
    char *id = g_malloc(len + 1);
    for (unsigned i = 0; i < len; i++)
        id[i] = ident_chars[g_rand_int_range(s->rand, 0, (gint32)sizeof(ident_chars) - 1)];
    id[len] = '\0';
    return id;
}

/* The session id: the secret part of our URI, from the TLS library's random generator. It is
 * what keeps a stranger from binding a connection to the session (RFC 4975 14.5). */
static char *session_ident(unsigned len)
{
    uint8_t bytes[64];
    g_assert(len <= sizeof(bytes));
    if (gnutls_rnd(GNUTLS_RND_NONCE, bytes, len) < 0) {
        for (unsigned i = 0; i < len; i++)
            bytes[i] = (uint8_t)g_random_int();
    }
    char *id = g_malloc(len + 1);
    for (unsigned i = 0; i < len; i++)
        id[i] = ident_chars[bytes[i] % (sizeof(ident_chars) - 1)];
    id[len] = '\0';
    return id;
}

GBytes *sylk_msrp_session_request(const char *tid, const char *method, const char *to_path,
                                  const char *from_path, const char *const *headers,
                                  const void *body, size_t len, char flag)
{
    struct sylk_msrp_frame f = {.flag = flag};
    g_strlcpy(f.transaction_id, tid, sizeof(f.transaction_id));
    f.method = (char *)method;
    f.headers = g_array_new(FALSE, FALSE, sizeof(struct sylk_msrp_header));
    struct sylk_msrp_header h[2] = {{"To-Path", (char *)to_path}, {"From-Path", (char *)from_path}};
    g_array_append_vals(f.headers, h, 2);
    for (unsigned i = 0; headers && headers[i]; i += 2) {
        struct sylk_msrp_header x = {(char *)headers[i], (char *)headers[i + 1]};
        g_array_append_val(f.headers, x);
    }
    f.body = (uint8_t *)body;
    f.body_len = len;
    GBytes *wire = sylk_msrp_format(&f);
    g_array_free(f.headers, TRUE);
    return wire;
}

/* ---------------------------------------------------------- out on the connection --- */

/*
 * Responses and REPORTs follow the session's current connection. With none (lost, the peer
 * not back yet) they wait for the next one: a response to a request that came on the old
 * connection still ends the peer's transaction if it is waiting for it.
 */
void sylk_msrp_session_out(struct sylk_msrp_session *s, GBytes *wire)
{
    if (!wire)
        return;
    if (s->ep.conn) {
        sylk_msrp_conn_send(s->ep.conn, wire);
        g_bytes_unref(wire);
        return;
    }
    if (s->gone) {
        g_bytes_unref(wire);
        return;
    }
    g_queue_push_tail(&s->control, wire);
    if (g_queue_get_length(&s->control) > SYLK_MSRP_MAX_CONTROL) {
        g_debug("MSRP session %s: no connection; an old response or REPORT dropped", s->session_id);
        g_bytes_unref(g_queue_pop_head(&s->control));
    }
}

static const char *status_comment(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 413:
        return "Too Large";
    case 415:
        return "Unsupported Media Type";
    case 423:
        return "Parameter Out Of Bounds";
    case 425:
        return "Nickname Usage Failed";
    case 481:
        return "Session Does Not Exist";
    case 501:
        return "Not Implemented";
    default:
        return status / 100 == 2 ? "OK" : "Failed";
    }
}

/* Unless Failure-Report says not to (RFC 4975 7.1.2). */
void sylk_msrp_session_respond(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f,
                               int status)
{
    const char *fr = sylk_msrp_header(f, "Failure-Report");
    if (fr && (g_ascii_strcasecmp(fr, "no") == 0 ||
               (g_ascii_strcasecmp(fr, "partial") == 0 && status / 100 == 2)))
        return;
    GBytes *wire = sylk_msrp_format_response(f, status, status_comment(status));
    if (wire)
        sylk_msrp_session_out(s, wire);
}

/* ------------------------------------------------------------ the connection --- */

static void cancel_reconnect(struct sylk_msrp_session *s)
{
    if (s->give_up_timer)
        g_source_remove(s->give_up_timer);
    if (s->reconnect_timer)
        g_source_remove(s->reconnect_timer);
    s->give_up_timer = s->reconnect_timer = 0;
    s->lost_at = 0;
    s->reconnect_delay = 0;
}

static void log_rewind(struct sylk_msrp_session *s)
{
    sylk_msrp_nick_lost(s);
    unsigned messages, chunks = sylk_msrp_out_rewind(s, &messages);
    if (chunks || messages)
        g_info("MSRP session %s: %u unacknowledged chunk%s of %u message%s to send again",
               s->session_id, chunks, chunks == 1 ? "" : "s", messages, messages == 1 ? "" : "s");
}

/*
 * `c` carries the session from now on: a reconnect, or a newer connection taking over (RFC
 * 4975 lets the active side connect again; the newest one wins, the older is closed, and what
 * was in flight on it goes again). What waited goes out: the empty SEND that binds a
 * connection we opened (RFC 4975 5.4: the opener sends first), then responses and REPORTs,
 * then chunks.
 */
static void bind_conn(struct sylk_msrp_session *s, struct sylk_msrp_conn *c, bool opened)
{
    struct sylk_msrp_conn *old = s->ep.conn;
    if (old) {
        g_info("MSRP session %s: connection with %s replaced by one with %s", s->session_id,
               sylk_msrp_conn_peer(old), sylk_msrp_conn_peer(c));
        s->ep.conn = NULL;
        log_rewind(s);
        sylk_msrp_conn_release(old, "replaced by a newer connection for its session");
    } else if (s->lost_at) {
        g_info("MSRP session %s: connection with %s after %.1f s without one", s->session_id,
               sylk_msrp_conn_peer(c), (double)(g_get_monotonic_time() - s->lost_at) / 1e6);
    }
    cancel_reconnect(s);
    s->ep.conn = c;
    if (opened) {
        g_autofree char *tid = sylk_msrp_session_ident(s, 12);
        g_autoptr(GBytes) wire =
            sylk_msrp_session_request(tid, "SEND", s->peer_path, s->uri, NULL, NULL, 0, '$');
        sylk_msrp_conn_send(c, wire);
    }
    GBytes *held;
    while (s->ep.conn == c && (held = g_queue_pop_head(&s->control))) {
        sylk_msrp_conn_send(c, held);
        g_bytes_unref(held);
    }
    if (s->ep.conn == c)
        sylk_msrp_nick_flush(s);
}

/* Nobody came back in time, or the first connect failed: everything pending fails. */
static void give_up(struct sylk_msrp_session *s, const char *why)
{
    g_info("MSRP session %s: %s; what it had to send fails", s->session_id, why);
    cancel_reconnect(s);
    s->gone = true;
    g_queue_clear_full(&s->control, (GDestroyNotify)g_bytes_unref);
    sylk_msrp_in_drop_all(s, 408);
    sylk_msrp_out_fail_all(s, 408);
    sylk_msrp_nick_fail_all(s, 408);
    if (s->events->closed)
        s->events->closed(s, s->user_data);
}

static gboolean on_give_up(gpointer data)
{
    struct sylk_msrp_session *s = data;
    s->give_up_timer = 0;
    g_autofree char *why = g_strdup_printf("no reconnect within %u s", s->reconnect_s);
    give_up(s, why);
    return G_SOURCE_REMOVE;
}

static int start_connect(struct sylk_msrp_session *s)
{
    g_autofree char *error = NULL;
    g_autoptr(GPtrArray) uris = sylk_msrp_path_parse(s->peer_path, &error);
    if (!uris)
        return -EINVAL;
    s->connecting = true;
    int rc = sylk_msrp_transport_connect(s->transport, g_ptr_array_index(uris, 0), &s->ep, &error);
    if (rc < 0) {
        s->connecting = false;
        g_info("MSRP session %s: cannot connect to %s: %s", s->session_id, s->peer_path, error);
    }
    return rc;
}

static void schedule_reconnect(struct sylk_msrp_session *s);

static gboolean on_reconnect(gpointer data)
{
    struct sylk_msrp_session *s = data;
    s->reconnect_timer = 0;
    if (!s->gone && !s->ep.conn && !s->connecting && start_connect(s) < 0)
        schedule_reconnect(s);
    return G_SOURCE_REMOVE;
}

/* The next attempt: at once after a loss, then after 250 ms, 500 ms, … up to 4 s. */
static void schedule_reconnect(struct sylk_msrp_session *s)
{
    unsigned ms = s->reconnect_delay;
    s->reconnect_delay = ms ? MIN(ms * 2, (unsigned)RECONNECT_MAX_MS) : RECONNECT_FIRST_MS;
    s->reconnect_timer = ms ? g_timeout_add(ms, on_reconnect, s) : g_idle_add(on_reconnect, s);
}

static void on_closed(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    if (s->gone)
        return;
    log_rewind(s);
    if (s->reconnect_s == 0) {
        give_up(s, "connection lost");
        return;
    }
    s->lost_at = g_get_monotonic_time();
    s->give_up_timer = g_timeout_add(s->reconnect_s * 1000u, on_give_up, s);
    if (s->active) {
        g_info("MSRP session %s: connection to %s lost; reconnecting for up to %u s", s->session_id,
               sylk_msrp_conn_peer(c), s->reconnect_s);
        schedule_reconnect(s);
    } else {
        g_info("MSRP session %s: connection from %s lost; waiting %u s for the peer to reconnect",
               s->session_id, sylk_msrp_conn_peer(c), s->reconnect_s);
    }
}

static void on_connected(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c, int error)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    s->connecting = false;
    if (s->gone) { /* given up while this connect was under way */
        if (c)
            sylk_msrp_conn_release(c, "its session has ended");
        return;
    }
    if (error < 0) {
        g_info("MSRP session %s: cannot connect to %s: %s", s->session_id, s->peer_path,
               g_strerror(-error));
        if (s->lost_at)
            schedule_reconnect(s); /* until the give-up timer ends it */
        else
            give_up(s, "no connection to the peer"); /* nothing ever worked: no waiting */
        return;
    }
    bind_conn(s, c, true);
    sylk_msrp_out_pump(s);
}

static void on_writable(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c)
{
    (void)c;
    sylk_msrp_out_pump((struct sylk_msrp_session *)ep);
}

/* ---------------------------------------------------------------- requests --- */

/* RFC 7701: Use-Nickname is a quoted string; unquoted values are taken as they are. */
static char *unquote(const char *v)
{
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return g_strdup(v);
    GString *out = g_string_sized_new(n);
    for (size_t i = 1; i + 1 < n; i++) {
        if (v[i] == '\\' && i + 2 < n)
            i++;
        g_string_append_c(out, v[i]);
    }
    return g_string_free(out, FALSE);
}

static void on_nickname(struct sylk_msrp_session *s, struct sylk_msrp_frame *f)
{
    const char *v = sylk_msrp_header(f, "Use-Nickname");
    if (!v) {
        sylk_msrp_session_out(s, sylk_msrp_format_response(f, 400, "Use-Nickname missing"));
        return;
    }
    g_autofree char *nick = unquote(v);
    if (strlen(nick) > SYLK_MSRP_MAX_NICKNAME || !g_utf8_validate(nick, -1, NULL)) {
        sylk_msrp_session_out(s,
                              sylk_msrp_format_response(f, 423, "Nickname too long or not UTF-8"));
        return;
    }
    int status = s->events->nickname ? s->events->nickname(s, nick, s->user_data) : 501;
    sylk_msrp_session_out(s, sylk_msrp_format_response(f, status, status_comment(status)));
}

/* RFC 4975 7.3: the request comes from the peer of this session (last From-Path URI). */
static bool from_peer(const struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    const char *fp = sylk_msrp_header(f, "From-Path");
    g_autofree char *error = NULL;
    g_autoptr(GPtrArray) path = fp ? sylk_msrp_path_parse(fp, &error) : NULL;
    return s->have_peer && path &&
           sylk_msrp_uri_equal(g_ptr_array_index(path, path->len - 1), &s->peer);
}

/*
 * A request from the session's peer binds the connection it came on, whichever that is: the
 * first one, a reconnect after a loss, or a second connection that takes over. Anybody else
 * gets 481 and binds nothing; so does everybody once the session gave up.
 */
static void on_frame(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c,
                     struct sylk_msrp_frame *f)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    if (!f->method) {
        if (!sylk_msrp_nick_response(s, f))
            sylk_msrp_out_response(s, f);
        sylk_msrp_frame_clear(f);
        return;
    }
    if (s->gone || !from_peer(s, f)) {
        g_info("MSRP %s from %s %s: 481", f->method, sylk_msrp_conn_peer(c),
               s->gone ? "for a session given up" : "does not come from the session's peer");
        if (strcmp(f->method, "REPORT") != 0)
            sylk_msrp_conn_respond(c, f, 481, "Session does not exist");
        sylk_msrp_frame_clear(f);
        return;
    }
    if (c != s->ep.conn)
        bind_conn(s, c, false);
    if (strcmp(f->method, "REPORT") == 0) {
        /* taken silently */
    } else if (strcmp(f->method, "SEND") == 0) {
        sylk_msrp_in_send(s, f);
    } else if (strcmp(f->method, "NICKNAME") == 0) {
        on_nickname(s, f);
    } else {
        sylk_msrp_session_respond(s, f, 501);
    }
    sylk_msrp_frame_clear(f);
    sylk_msrp_out_pump(s); /* a new connection: what waited for it goes now */
}

/* ------------------------------------------------------------------ the API --- */

struct sylk_msrp_session *sylk_msrp_session_new(struct sylk_msrp_transport *transport,
                                                const char *host,
                                                const struct sylk_msrp_session_events *events,
                                                void *user_data)
{
    struct sylk_msrp_session *s = g_new0(struct sylk_msrp_session, 1);
    s->ep.frame = on_frame;
    s->ep.closed = on_closed;
    s->ep.writable = on_writable;
    s->ep.connected = on_connected;
    s->transport = transport;
    s->session_id = session_ident(20);
    s->rand = g_rand_new_with_seed(g_random_int());
    bool v6 = strchr(host, ':') != NULL;
    s->uri = g_strdup_printf(
        "%s://%s%s%s:%u/%s;tcp", sylk_msrp_transport_tls(transport) ? "msrps" : "msrp",
        v6 ? "[" : "", host, v6 ? "]" : "", sylk_msrp_transport_port(transport), s->session_id);
    s->max_message = SYLK_MSRP_MAX_MESSAGE;
    s->chunk_size = SYLK_MSRP_CHUNK_SIZE;
    s->transaction_s = SYLK_MSRP_TRANSACTION_S;
    s->reconnect_s = sylk_msrp_transport_reconnect_timeout(transport);
    s->events = events;
    s->user_data = user_data;
    s->file_fd = -1;
    g_queue_init(&s->control);
    g_queue_init(&s->nicknames);
    s->incoming = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, sylk_msrp_incoming_free);
    s->delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_queue_init(&s->delivered_order);
    s->outgoing = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, sylk_msrp_outgoing_free);
    g_queue_init(&s->send_queue);
    s->transactions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sylk_msrp_transport_register(transport, s->session_id, &s->ep);
    return s;
}

void sylk_msrp_session_free(struct sylk_msrp_session *s)
{
    if (!s)
        return;
    sylk_msrp_transport_unregister(s->transport, s->session_id);
    cancel_reconnect(s);
    if (s->sweep)
        g_source_remove(s->sweep);
    g_queue_clear_full(&s->control, (GDestroyNotify)g_bytes_unref);
    sylk_msrp_nick_free_all(s);
    g_queue_clear(&s->send_queue);
    g_hash_table_destroy(s->transactions);
    g_hash_table_destroy(s->outgoing);
    g_hash_table_destroy(s->incoming);
    g_queue_clear(&s->delivered_order); /* the ids are the table's keys */
    g_hash_table_destroy(s->delivered);
    if (s->have_peer)
        sylk_msrp_uri_clear(&s->peer);
    g_free(s->peer_path);
    g_free(s->session_id);
    g_free(s->uri);
    g_rand_free(s->rand);
    g_free(s);
}

const char *sylk_msrp_session_uri(const struct sylk_msrp_session *s)
{
    return s->uri;
}

struct sylk_msrp_conn *sylk_msrp_session_conn(const struct sylk_msrp_session *s)
{
    return s->ep.conn;
}

int sylk_msrp_session_set_peer(struct sylk_msrp_session *s, const char *path, char **error)
{
    g_autoptr(GPtrArray) uris = sylk_msrp_path_parse(path, error);
    if (!uris)
        return -EINVAL;
    if (s->have_peer)
        sylk_msrp_uri_clear(&s->peer);
    struct sylk_msrp_uri *last = g_ptr_array_index(uris, uris->len - 1);
    s->peer = *last;
    memset(last, 0, sizeof(*last)); /* moved */
    s->have_peer = true;
    if (!s->chunk_size_set)
        s->chunk_size = uris->len == 1 ? SYLK_MSRP_DIRECT_CHUNK_SIZE : SYLK_MSRP_CHUNK_SIZE;
    g_free(s->peer_path);
    s->peer_path = g_strstrip(g_strdup(path));
    return 0;
}

int sylk_msrp_session_connect(struct sylk_msrp_session *s)
{
    if (!s->have_peer)
        return -EINVAL;
    if (s->ep.conn || s->connecting)
        return -EALREADY;
    s->active = true;
    return start_connect(s);
}

void sylk_msrp_session_set_transaction_timeout(struct sylk_msrp_session *s, unsigned seconds)
{
    s->transaction_s = MAX(seconds, 1u);
}

void sylk_msrp_session_set_reconnect_timeout(struct sylk_msrp_session *s, unsigned seconds)
{
    s->reconnect_s = seconds;
}

void sylk_msrp_session_set_max_message(struct sylk_msrp_session *s, size_t bytes)
{
    s->max_message = bytes;
}

void sylk_msrp_session_set_chunk_size(struct sylk_msrp_session *s, size_t bytes)
{
    s->chunk_size = MAX(bytes, (size_t)64);
    s->chunk_size_set = true;
}

int sylk_msrp_session_receive_file(struct sylk_msrp_session *s, int fd)
{
    if (fd < 0)
        return -EINVAL;
    if (s->file_fd >= 0)
        return -EBUSY;
    s->file_fd = fd;
    return 0;
}

/* Reads [off, off+n) of a file message; false on a read error or a file that shrank. */
bool sylk_msrp_read_file_at(int fd, uint64_t off, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}
