/*
 * conn.c — one XMPP connection: its lifetime, writing, closing, reading and I/O (TLS in
 * conn_tls.c, connecting in conn_connect.c). See conn.h.
 *
 * Every callback to the owner comes from an entry of our own (the fd watch, a timer), framed by
 * xconn_enter/xconn_leave so that the owner may free the connection inside it: the memory then
 * goes when the outermost entry returns. Writes only queue bytes and ask the watch for
 * writability, so nothing calls the owner back from inside xconn_send.
 */
#define XGW_LOG_DOMAIN "xmppgw-conn"
#include "conn_priv.h"

#include "keys.h"
#include "ns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK    16384
#define READ_PER_WAKE (256 * 1024) /* then other connections get their turn */
#define TLS_CHUNK     16384

/* Every connection, and whether the mapping asked them all to stop reading (xgw_inbound_pause
 * in gateway.h: the SIP side is behind, so TCP pushes back on the XMPP peers instead of the
 * gateway refusing their stanzas). */
static struct {
    GList *all;
    bool paused;
} conns;

/* ----------------------------------------------------------------- lifetime --- */

struct xconn *xconn_new(const struct xconn_params *p)
{
    struct xconn *c = g_new0(struct xconn, 1);
    c->p = *p;
    c->label = g_strdup(p->label);
    c->p.label = c->label;
    c->fd = -1;
    c->out = g_byte_array_new();
    g_queue_init(&c->marks);
    struct xmpp_stream_limits limits = {p->max_stanza_bytes, XMPP_STREAM_DEFAULT_MAX_DEPTH};
    c->parser = xmpp_stream_parser_new(p->content_ns, &limits);
    c->last_activity = g_get_monotonic_time();
    conns.all = g_list_prepend(conns.all, c);
    c->link = conns.all;
    return c;
}

static void destroy(struct xconn *c)
{
    xconn_teardown(c, NULL);
    conns.all = g_list_delete_link(conns.all, c->link);
    xmpp_stream_parser_free(c->parser);
    xmpp_stream_header_free(c->ours);
    g_byte_array_unref(c->out);
    for (size_t i = 0; i < c->naddrs; i++)
        xconn_address_clear(&c->addrs[i]);
    g_free(c->addrs);
    g_free(c->label);
    g_free(c->peer);
    g_free(c->local_name);
    g_free(c->server_name);
    g_free(c->close_why);
    g_free(c->connect_error);
    g_free(c);
}

void xconn_enter(struct xconn *c)
{
    c->busy++;
}

void xconn_leave(struct xconn *c)
{
    if (--c->busy == 0 && c->freed)
        destroy(c);
}

bool xconn_alive(const struct xconn *c)
{
    return !c->freed && c->state != ST_DEAD;
}

void xconn_free(struct xconn *c)
{
    if (!c || c->freed)
        return;
    c->freed = true;
    if (c->busy == 0)
        destroy(c);
}

void xconn_address_clear(struct xconn_address *a)
{
    g_clear_pointer(&a->address, g_free);
}

void xconn_cancel_timer(sylk_timer **t)
{
    if (*t)
        xgw_host()->timer_cancel(*t);
    *t = NULL;
}

void xconn_close_socket(struct xconn *c)
{
    if (c->watch)
        xgw_host()->fd_watch_remove(c->watch);
    c->watch = NULL;
    if (c->tls)
        gnutls_deinit(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Writes not done are lost: their owners hear it, oldest first. */
static void fail_marks(struct xconn *c)
{
    struct mark *m;
    while ((m = g_queue_pop_head(&c->marks))) {
        m->fn(false, m->user_data);
        g_free(m);
    }
}

/* The end: socket closed, writes not done reported, then `closed` (unless freed). */
void xconn_teardown(struct xconn *c, const char *why)
{
    if (c->state == ST_DEAD)
        return;
    c->state = ST_DEAD;
    xconn_cancel_timer(&c->timer);
    xconn_cancel_timer(&c->defer);
    xconn_cancel_timer(&c->resume);
    xconn_close_socket(c);
    fail_marks(c);
    if (!c->freed && c->p.handler->closed) {
        g_autofree char *reason = g_strdup(c->close_why ? c->close_why : why);
        c->p.handler->closed(c, reason ? reason : "closed", c->p.user_data);
    }
}

static void set_close_why(struct xconn *c, const char *why)
{
    if (!c->close_why)
        c->close_why = g_strdup(why);
}

static void on_defer(sylk_timer *t, void *user_data)
{
    struct xconn *c = user_data;
    (void)t;
    c->defer = NULL;
    xconn_enter(c);
    xconn_teardown(c, NULL);
    xconn_leave(c);
}

/* Ends the connection from the loop, not from inside the owner's call that noticed why. */
static void fail_later(struct xconn *c, const char *why)
{
    set_close_why(c, why);
    if (!c->defer && c->state != ST_DEAD)
        c->defer = xgw_host()->timer_add(0, false, on_defer, c);
}

/* ------------------------------------------------------------------- writing --- */

static void trace(const struct xconn *c, const char *dir, const char *xml, size_t len)
{
    if (c->p.trace)
        XGW_LOG(SYLK_LOG_DEBUG, "%s %s %.*s", c->label, dir, (int)MIN(len, (size_t)INT_MAX), xml);
}

static void queue_bytes(struct xconn *c, const char *data, size_t len)
{
    g_byte_array_append(c->out, (const guint8 *)data, (guint)len);
    c->queued += len;
    trace(c, ">>", data, len);
    xconn_update_watch(c);
}

static ssize_t raw_send(struct xconn *c, const guint8 *data, size_t len, bool use_tls)
{
    if (use_tls) {
        ssize_t n = c->tls_again ? gnutls_record_send(c->tls, NULL, 0)
                                 : gnutls_record_send(c->tls, data, MIN(len, (size_t)TLS_CHUNK));
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            c->tls_again = c->tls_again ? c->tls_again : MIN(len, (size_t)TLS_CHUNK);
            return -EAGAIN;
        }
        c->tls_again = 0;
        return n < 0 ? -EIO : n;
    }
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

static void fire_marks(struct xconn *c)
{
    struct mark *m;
    while ((m = g_queue_peek_head(&c->marks)) && m->end <= c->written && xconn_alive(c)) {
        g_queue_pop_head(&c->marks);
        m->fn(true, m->user_data);
        g_free(m);
    }
}

/* Writes what the socket takes. False when the connection failed (torn down). */
static bool flush(struct xconn *c)
{
    while (c->out_off < c->out->len) {
        bool use_tls = c->tls && !(c->starttls_pending && c->written < c->plain_until);
        size_t len = c->out->len - c->out_off;
        if (c->starttls_pending && c->written < c->plain_until)
            len = MIN(len, (size_t)(c->plain_until - c->written));
        ssize_t n = raw_send(c, c->out->data + c->out_off, len, use_tls);
        if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
            break;
        if (n <= 0) {
            xconn_teardown(c, n == -EIO ? "TLS write failed" : "write failed");
            return false;
        }
        c->out_off += (size_t)n;
        c->written += (guint64)n;
        c->last_activity = g_get_monotonic_time();
        if (c->starttls_pending && c->written == c->plain_until) {
            c->starttls_pending = false;
            if (!xconn_start_tls(c, true))
                return false;
            break; /* the handshake comes first */
        }
    }
    if (c->out_off == c->out->len) {
        g_byte_array_set_size(c->out, 0);
        c->out_off = 0;
    } else if (c->out_off > 65536) {
        g_byte_array_remove_range(c->out, 0, (guint)c->out_off);
        c->out_off = 0;
    }
    fire_marks(c);
    if (!xconn_alive(c))
        return false;
    /* a closing stream whose last bytes went out: done when the peer closed too, else it
     * learns that nothing more comes (and has the close wait to answer) */
    if (c->state == ST_CLOSING && c->out->len == 0 && c->footer_sent) {
        if (c->peer_closed) {
            xconn_teardown(c, NULL);
            return false;
        }
        if (!c->shut_wr) {
            c->shut_wr = true;
            if (c->tls)
                gnutls_bye(c->tls, GNUTLS_SHUT_WR); /* best effort: non-blocking */
            shutdown(c->fd, SHUT_WR);
        }
    }
    return true;
}

void xconn_update_watch(struct xconn *c)
{
    if (!c->watch)
        return;
    unsigned events = SYLK_FD_READ;
    if (c->state == ST_CONNECTING)
        events = SYLK_FD_WRITE;
    else if (c->state == ST_HANDSHAKE)
        events = gnutls_record_get_direction(c->tls) ? SYLK_FD_WRITE : SYLK_FD_READ;
    else {
        if (conns.paused)
            events = 0;
        if (c->out_off < c->out->len)
            events |= SYLK_FD_WRITE;
    }
    xgw_host()->fd_watch_update(c->watch, events);
}

int xconn_send_header(struct xconn *c, const struct xmpp_stream_header *h)
{
    if (c->state != ST_OPEN)
        return -ENOTCONN;
    g_autofree char *text = xmpp_stream_header_write(h);
    if (!text)
        return -EINVAL;
    xmpp_stream_header_free(c->ours);
    c->ours = g_new0(struct xmpp_stream_header, 1);
    c->ours->content_ns = g_strdup(h->content_ns);
    c->ours->dialback = h->dialback;
    c->ours->to = g_strdup(h->to);
    c->ours->from = g_strdup(h->from);
    c->ours->id = g_strdup(h->id);
    c->ours->version = g_strdup(h->version);
    c->ours->lang = g_strdup(h->lang);
    queue_bytes(c, text, strlen(text));
    return 0;
}

int xconn_send(struct xconn *c, const struct xmpp_node *element, xconn_written_fn written,
               void *user_data)
{
    if (c->state != ST_OPEN || !c->ours || c->close_why)
        return -ENOTCONN;
    struct xmpp_scope scope = xmpp_stream_scope(c->ours);
    g_autoptr(GString) xml = g_string_new(NULL);
    xmpp_node_write(element, &scope, xml);
    queue_bytes(c, xml->str, xml->len);
    if (written) {
        struct mark *m = g_new0(struct mark, 1);
        *m = (struct mark){c->queued, written, user_data};
        g_queue_push_tail(&c->marks, m);
    }
    if (c->out->len - c->out_off > c->p.send_buffer_bytes) {
        g_autofree char *why =
            g_strdup_printf("the peer does not read: %zu bytes not sent", xconn_unsent(c));
        XGW_LOG(SYLK_LOG_WARNING, "%s: %s; dropping the connection", c->label, why);
        fail_later(c, why);
        return -ENOBUFS;
    }
    return 0;
}

/* ------------------------------------------------------------------ closing --- */

static void on_close_wait(sylk_timer *t, void *user_data)
{
    struct xconn *c = user_data;
    (void)t;
    c->timer = NULL;
    xconn_enter(c);
    xconn_teardown(c, "closed");
    xconn_leave(c);
}

static void send_footer(struct xconn *c)
{
    if (c->footer_sent)
        return;
    c->footer_sent = true;
    const char *footer = xmpp_stream_footer();
    queue_bytes(c, footer, strlen(footer));
}

/* Our side of the closing handshake; the peer gets a few seconds to answer with its own. */
static void begin_closing(struct xconn *c)
{
    send_footer(c);
    c->state = ST_CLOSING;
    xconn_cancel_timer(&c->timer);
    c->timer = xgw_host()->timer_add(XCONN_CLOSE_WAIT_SECONDS * 1000, false, on_close_wait, c);
    xconn_update_watch(c);
}

void xconn_close(struct xconn *c)
{
    if (!xconn_alive(c) || c->state == ST_CLOSING)
        return;
    set_close_why(c, "closed by us");
    if (c->state != ST_OPEN || !c->ours) {
        fail_later(c, c->close_why);
        return;
    }
    begin_closing(c);
}

static enum sylk_log_level error_level(enum xmpp_stream_condition cond)
{
    switch (cond) {
    case XMPP_STREAM_ERR_CONNECTION_TIMEOUT:
    case XMPP_STREAM_ERR_SYSTEM_SHUTDOWN:
        return SYLK_LOG_INFO;
    default:
        return SYLK_LOG_WARNING;
    }
}

void xconn_stream_error(struct xconn *c, enum xmpp_stream_condition cond, const char *text)
{
    if (!xconn_alive(c) || c->state == ST_CLOSING)
        return;
    const char *name = xmpp_stream_condition_name(cond);
    XGW_LOG(error_level(cond), "%s%s%s: stream error %s%s%s", c->label, c->peer ? " from " : "",
            c->peer ? c->peer : "", name, text ? ": " : "", text ? text : "");
    g_autofree char *why = g_strdup_printf("stream error %s (ours)", name);
    set_close_why(c, why);
    if (c->state != ST_OPEN) {
        fail_later(c, why);
        return;
    }
    if (!c->ours) {
        g_autofree char *id = xgw_stream_id();
        struct xmpp_stream_header h = {.content_ns = (char *)c->p.content_ns,
                                       .dialback = c->p.dialback,
                                       .from = c->local_name,
                                       .id = id,
                                       .version = "1.0"};
        xconn_send_header(c, &h);
    }
    struct xmpp_node *err = xmpp_stream_error_new(cond, text);
    struct xmpp_scope scope = xmpp_stream_scope(c->ours);
    g_autoptr(GString) xml = g_string_new(NULL);
    xmpp_node_write(err, &scope, xml);
    xmpp_node_free(err);
    queue_bytes(c, xml->str, xml->len);
    begin_closing(c);
}

/* ------------------------------------------------------------------ reading --- */

static void handle_element(struct xconn *c, struct xmpp_node *el)
{
    if (xmpp_node_is(el, XMPP_NS_STREAMS, "error")) {
        enum xmpp_stream_condition cond;
        g_autofree char *text = NULL;
        xmpp_stream_error_read(el, &cond, &text);
        c->have_peer_error = true;
        c->peer_error = cond;
        g_autofree char *why =
            g_strdup_printf("stream error %s from the peer%s%s", xmpp_stream_condition_name(cond),
                            text ? ": " : "", text ? text : "");
        XGW_LOG(SYLK_LOG_WARNING, "%s: %s", c->label, why);
        set_close_why(c, why);
        xmpp_node_free(el);
        begin_closing(c);
        return;
    }
    c->p.handler->element(c, el, c->p.user_data);
}

static void process_events(struct xconn *c)
{
    struct xmpp_stream_event ev;
    while (xconn_alive(c) && xmpp_stream_next(c->parser, &ev)) {
        switch (ev.type) {
        case XMPP_STREAM_EV_OPEN:
            if (c->state == ST_OPEN && c->p.handler->opened)
                c->p.handler->opened(c, ev.header, c->p.user_data);
            break;
        case XMPP_STREAM_EV_STANZA:
            if (c->p.trace) {
                g_autofree char *xml = xmpp_node_to_string(ev.stanza, NULL);
                trace(c, "<<", xml, strlen(xml));
            }
            if (c->state == ST_OPEN)
                handle_element(c, g_steal_pointer(&ev.stanza));
            break;
        case XMPP_STREAM_EV_CLOSE:
            set_close_why(c, "closed by the peer");
            c->peer_closed = true;
            if (c->state != ST_CLOSING)
                begin_closing(c);
            break;
        case XMPP_STREAM_EV_ERROR:
            xconn_stream_error(c, ev.condition, ev.text);
            break;
        }
        xmpp_stream_event_clear(&ev);
    }
}

static ssize_t raw_recv(struct xconn *c, guint8 *buf, size_t len)
{
    if (c->tls) {
        ssize_t n = gnutls_record_recv(c->tls, buf, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            return -EAGAIN;
        if (n == GNUTLS_E_PREMATURE_TERMINATION)
            return 0;
        return n < 0 ? -EIO : n;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    return n < 0 ? -errno : n;
}

/* The peer is gone: what the parser still holds is judged, then the connection ends. */
static void peer_gone(struct xconn *c, const char *why)
{
    if (c->state == ST_OPEN) {
        xmpp_stream_finish(c->parser);
        struct xmpp_stream_event ev;
        while (xmpp_stream_next(c->parser, &ev)) {
            if (ev.type == XMPP_STREAM_EV_ERROR)
                XGW_LOG(SYLK_LOG_INFO, "%s: %s", c->label, ev.text);
            xmpp_stream_event_clear(&ev);
        }
    }
    xconn_teardown(c, why);
}

static void read_input(struct xconn *c)
{
    guint8 buf[READ_CHUNK];
    size_t total = 0;
    while (xconn_alive(c) && (c->state == ST_OPEN || c->state == ST_CLOSING)) {
        ssize_t n = raw_recv(c, buf, sizeof buf);
        if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
            return;
        if (n <= 0) {
            g_autofree char *why =
                n == 0 ? g_strdup("connection closed by the peer")
                       : g_strdup_printf("read failed: %s",
                                         n == -EIO ? "TLS error" : g_strerror((int)-n));
            peer_gone(c, why);
            return;
        }
        c->last_activity = g_get_monotonic_time();
        xmpp_stream_feed(c->parser, buf, (size_t)n);
        process_events(c);
        total += (size_t)n;
        if (conns.paused)
            return; /* the rest waits in the kernel (or in gnutls: see xgw_inbound_pause) */
        if (total >= READ_PER_WAKE && !(c->tls && gnutls_record_check_pending(c->tls)))
            return;
    }
}

/* ---------------------------------------------------------------------- I/O --- */

bool xconn_flowing(const struct xconn *c)
{
    return xconn_alive(c) && (c->state == ST_OPEN || c->state == ST_CLOSING);
}

size_t xconn_flowing_count(void)
{
    size_t n = 0;
    for (GList *l = conns.all; l; l = l->next)
        n += xconn_flowing(l->data);
    return n;
}

/* One wake: connect or handshake steps, writes, reads (whose handlers queue more), writes. */
static void io(struct xconn *c, unsigned events)
{
    if (c->state == ST_CONNECTING) {
        xconn_finish_connect(c);
        return;
    }
    if (c->state == ST_HANDSHAKE) {
        xconn_handshake(c);
        if (!xconn_alive(c) || c->state == ST_HANDSHAKE)
            return;
        /* records that came with the last handshake message wait in gnutls, where poll()
         * does not see them */
        events |= SYLK_FD_READ;
    }
    if ((events & SYLK_FD_WRITE) && xconn_flowing(c) && !flush(c))
        return;
    if (events & (SYLK_FD_READ | SYLK_FD_CLOSED))
        read_input(c);
    if (xconn_flowing(c) && !flush(c))
        return;
    if (xconn_alive(c) && c->state == ST_HANDSHAKE) { /* STARTTLS began in this wake */
        xconn_handshake(c);
        if (xconn_flowing(c)) /* done at once: what came with it waits in gnutls */
            read_input(c);
        if (xconn_flowing(c))
            flush(c);
    }
    if (xconn_alive(c))
        xconn_update_watch(c);
}

void xconn_on_watch(sylk_fd_watch *w, int fd, unsigned events, void *user_data)
{
    struct xconn *c = user_data;
    (void)w, (void)fd;
    xconn_enter(c);
    if (xconn_alive(c))
        io(c, events);
    xconn_leave(c);
}

/* ---------------------------------------------------------------- pausing --- */

static void on_resume(sylk_timer *t, void *user_data)
{
    struct xconn *c = user_data;
    (void)t;
    c->resume = NULL;
    xconn_enter(c);
    if (xconn_flowing(c) && !conns.paused)
        io(c, SYLK_FD_READ);
    xconn_leave(c);
}

void xgw_inbound_pause(bool paused)
{
    if (conns.paused == paused)
        return;
    conns.paused = paused;
    XGW_LOG(SYLK_LOG_INFO, "%s reading XMPP streams: %s", paused ? "pausing" : "resuming",
            paused ? "too many messages waiting for SIP" : "the SIP side caught up");
    for (GList *l = conns.all; l; l = l->next) {
        struct xconn *c = l->data;
        if (!xconn_flowing(c))
            continue;
        xconn_update_watch(c);
        /* records gnutls already decrypted are not seen by poll(): read them from the loop */
        if (!paused && !c->resume && c->tls && gnutls_record_check_pending(c->tls))
            c->resume = xgw_host()->timer_add(0, false, on_resume, c);
    }
}

/* ------------------------------------------------------------------- making --- */

struct xconn *xconn_accept(int fd, const char *peer, bool direct_tls,
                           const struct xconn_params *params)
{
    struct xconn *c = xconn_new(params);
    c->fd = fd;
    c->peer = g_strdup(peer);
    c->state = ST_OPEN;
    c->watch = xgw_host()->fd_watch_add(fd, SYLK_FD_READ, xconn_on_watch, c);
    if (!c->parser || !c->watch || (direct_tls && !xconn_start_tls(c, true))) {
        xconn_free(c);
        return NULL;
    }
    return c;
}

void xconn_flush_now(struct xconn *c)
{
    if (!xconn_flowing(c))
        return;
    xconn_enter(c);
    flush(c);
    xconn_leave(c);
}

void xconn_shutdown(struct xconn *c)
{
    if (!c)
        return;
    if (xconn_flowing(c) && c->ours) {
        c->freed = true; /* no more callbacks, but for the writes' */
        xconn_enter(c);
        send_footer(c);
        flush(c);
        xconn_leave(c);
        return;
    }
    xconn_free(c);
}

/* ---------------------------------------------------------------- accessors --- */

void xconn_set_local_name(struct xconn *c, const char *name)
{
    g_free(c->local_name);
    c->local_name = g_strdup(name);
}

bool xconn_tls_active(const struct xconn *c)
{
    return c->tls != NULL && c->state != ST_HANDSHAKE;
}

bool xconn_header_sent(const struct xconn *c)
{
    return c->ours != NULL;
}

const char *xconn_stream_id(const struct xconn *c)
{
    return c->ours ? c->ours->id : NULL;
}

const char *xconn_label(const struct xconn *c)
{
    return c->label;
}

const char *xconn_peer(const struct xconn *c)
{
    return c->peer ? c->peer : "?";
}

gint64 xconn_last_activity(const struct xconn *c)
{
    return c->last_activity;
}

size_t xconn_unsent(const struct xconn *c)
{
    return c->out->len - c->out_off;
}

bool xconn_peer_error(const struct xconn *c, enum xmpp_stream_condition *condition)
{
    if (c->have_peer_error)
        *condition = c->peer_error;
    return c->have_peer_error;
}
