/*
 * outgoing.c — the messages an MSRP session sends (see session.h): streamed in chunks as the
 * connection takes them, each chunk a transaction answered within transaction_s or failed 408,
 * and, when the connection is lost, sent again on the next one from the first byte the peer
 * did not acknowledge (same Message-ID and Byte-Ranges, RFC 4975 5.4).
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/session_internal.h"

#include <errno.h>
#include <unistd.h>

struct outgoing {
    char *message_id;
    char *content_type;
    GBytes *body; /* in memory, or NULL when read from fd */
    int fd;
    uint64_t size, next; /* bytes in all; offset of the next chunk to make */
    uint64_t acked;      /* bytes whose chunks got 200 */
    uint64_t reported;   /* progress told so far (acked may go back after a rewind) */
    unsigned pending;    /* chunks without a response yet */
    int status;          /* 200, or the first failure */
    uint64_t seq;        /* order among the session's messages */
    void *token;
    gint64 progress_at;
};

struct transaction {
    struct outgoing *msg;
    uint64_t off;    /* of its chunk */
    size_t len;      /* bytes of its chunk */
    gint64 deadline; /* monotonic: no response by then is a 408 */
};

void sylk_msrp_outgoing_free(gpointer p)
{
    struct outgoing *o = p;
    g_free(o->message_id);
    g_free(o->content_type);
    if (o->body)
        g_bytes_unref(o->body);
    if (o->fd >= 0)
        close(o->fd);
    g_free(o);
}

static bool throttle(gint64 *last)
{
    gint64 now = g_get_monotonic_time();
    if (now - *last < SYLK_MSRP_PROGRESS_MS * 1000)
        return false;
    *last = now;
    return true;
}

/* The message is over: reported, forgotten. */
static void message_done(struct sylk_msrp_session *s, struct outgoing *msg)
{
    g_queue_remove(&s->send_queue, msg);
    if (msg->body)
        s->queued_bytes -= g_bytes_get_size(msg->body);
    if (s->events->sent)
        s->events->sent(s, msg->message_id, msg->token, msg->status, s->user_data);
    g_hash_table_remove(s->outgoing, msg->message_id);
}

/* A chunk's transaction is over; the message is reported when it was its last one. */
static void transaction_done(struct sylk_msrp_session *s, struct outgoing *msg, size_t len,
                             int status)
{
    if (status / 100 != 2 && msg->status == 200)
        msg->status = status;
    if (status / 100 == 2) {
        msg->acked += len;
        if (s->events->progress && msg->fd >= 0 && msg->acked > msg->reported &&
            (msg->acked == msg->size || throttle(&msg->progress_at))) {
            msg->reported = msg->acked;
            s->events->progress(s, msg->token, msg->acked, msg->size, s->user_data);
        }
    }
    if (--msg->pending == 0 && (msg->next >= msg->size || msg->status != 200))
        message_done(s, msg);
}

/*
 * Once a second while transactions are pending: those without a response for transaction_s
 * fail with 408. One timer per session, not one per chunk (a large message has many chunks in
 * flight).
 */
static gboolean sweep_transactions(gpointer data)
{
    struct sylk_msrp_session *s = data;
    gint64 now = g_get_monotonic_time();
    GHashTableIter it;
    gpointer key, value;
    GArray *expired = g_array_new(FALSE, FALSE, sizeof(struct transaction));
    g_hash_table_iter_init(&it, s->transactions);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct transaction *t = value;
        if (t->deadline <= now) {
            g_array_append_val(expired, *t);
            g_hash_table_iter_remove(&it); /* frees the id and the transaction */
        }
    }
    for (guint i = 0; i < expired->len; i++) {
        struct transaction *t = &g_array_index(expired, struct transaction, i);
        transaction_done(s, t->msg, t->len, 408);
    }
    g_array_free(expired, TRUE);
    if (g_hash_table_size(s->transactions) > 0)
        return G_SOURCE_CONTINUE;
    s->sweep = 0;
    return G_SOURCE_REMOVE;
}

/*
 * Makes the next chunk of `msg` and queues it. The message's state is updated before the
 * bytes go to the connection, which may close (and rewind every message) while sending.
 */
static void send_chunk(struct sylk_msrp_session *s, struct outgoing *msg)
{
    uint64_t off = msg->next;
    size_t n = (size_t)MIN(msg->size - off, (uint64_t)s->chunk_size);
    g_autofree uint8_t *buf = NULL;
    const uint8_t *data = NULL;
    if (msg->body) {
        data = (const uint8_t *)g_bytes_get_data(msg->body, NULL) + off;
    } else if (n) {
        buf = g_malloc(n);
        if (!sylk_msrp_read_file_at(msg->fd, off, buf, n)) {
            g_warning("MSRP session %s: cannot read the file being sent at %" G_GUINT64_FORMAT
                      ": message %s fails",
                      s->session_id, off, msg->message_id);
            msg->status = 413; /* what MSRP has for "cannot be carried" */
            msg->next = msg->size;
            g_queue_remove(&s->send_queue, msg);
            if (msg->pending == 0)
                message_done(s, msg);
            return;
        }
        data = buf;
    }
    g_autofree char *range =
        g_strdup_printf("%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, off + 1,
                        off + n, msg->size);
    const char *headers[] = {"Message-ID", msg->message_id, "Success-Report",  "no", "Byte-Range",
                             range,        "Content-Type",  msg->content_type, NULL};
    g_autofree char *tid = NULL;
    GBytes *wire = NULL;
    while (!wire) { /* a fresh id whose end-line cannot be inside the data */
        g_free(tid);
        tid = sylk_msrp_session_ident(s, 12);
        wire = sylk_msrp_session_request(tid, "SEND", s->peer_path, s->uri, headers, data, n,
                                         off + n == msg->size ? '$' : '+');
    }
    struct transaction *t = g_new0(struct transaction, 1);
    t->msg = msg;
    t->off = off;
    t->len = n;
    t->deadline = g_get_monotonic_time() + (gint64)s->transaction_s * G_USEC_PER_SEC;
    g_hash_table_insert(s->transactions, g_steal_pointer(&tid), t);
    if (!s->sweep)
        s->sweep = g_timeout_add_seconds(1, sweep_transactions, s);
    msg->pending++;
    msg->next = off + n;
    if (msg->next >= msg->size)
        g_queue_remove(&s->send_queue, msg);
    sylk_msrp_conn_send(s->ep.conn, wire);
    g_bytes_unref(wire);
}

void sylk_msrp_out_pump(struct sylk_msrp_session *s)
{
    if (s->pumping || !s->have_peer)
        return;
    s->pumping = true; /* sending may drain the socket and call writable again */
    struct outgoing *msg;
    while (s->ep.conn && (msg = g_queue_peek_head(&s->send_queue)) &&
           sylk_msrp_conn_queued(s->ep.conn) < SYLK_MSRP_HIGH_WATER) {
        if (msg->status != 200) { /* a chunk failed: the rest is not sent */
            g_queue_pop_head(&s->send_queue);
            if (msg->pending == 0)
                message_done(s, msg);
            continue;
        }
        send_chunk(s, msg);
    }
    s->pumping = false;
}

void sylk_msrp_out_response(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    struct transaction *t = g_hash_table_lookup(s->transactions, f->transaction_id);
    if (!t)
        return; /* late, a keepalive's, from before a reconnect, or not ours */
    struct outgoing *msg = t->msg;
    size_t len = t->len;
    g_hash_table_remove(s->transactions, f->transaction_id);
    transaction_done(s, msg, len, f->status);
}

static gint by_seq(gconstpointer a, gconstpointer b)
{
    uint64_t x = ((const struct outgoing *)a)->seq, y = ((const struct outgoing *)b)->seq;
    return x < y ? -1 : x > y;
}

static gint by_seq_data(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    return by_seq(a, b);
}

/*
 * Bytes below the first chunk still in flight were all acknowledged (a refused chunk fails
 * its message instead), so a message starts again there; chunks above it that were
 * acknowledged go again too, which the peer takes as the duplicates they are.
 */
unsigned sylk_msrp_out_rewind(struct sylk_msrp_session *s, unsigned *messages)
{
    unsigned chunks = g_hash_table_size(s->transactions);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, s->transactions);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct transaction *t = value;
        if (t->msg->pending && t->off < t->msg->next)
            t->msg->next = t->off; /* lowered to the lowest offset in flight */
    }
    g_hash_table_remove_all(s->transactions);
    GList *msgs = g_hash_table_get_values(s->outgoing);
    GList *failed = NULL;
    g_queue_clear(&s->send_queue);
    for (GList *l = msgs; l; l = l->next) {
        struct outgoing *msg = l->data;
        bool in_flight = msg->pending > 0;
        msg->pending = 0;
        if (msg->status != 200) {
            failed = g_list_prepend(failed, msg);
            continue;
        }
        if (in_flight)
            msg->acked = msg->next;
        if (in_flight || msg->next < msg->size || msg->next == 0)
            g_queue_insert_sorted(&s->send_queue, msg, by_seq_data, NULL);
    }
    g_list_free(msgs);
    *messages = g_queue_get_length(&s->send_queue);
    for (GList *l = failed; l; l = l->next)
        message_done(s, l->data); /* its failure is already known: told now */
    g_list_free(failed);
    return chunks;
}

void sylk_msrp_out_fail_all(struct sylk_msrp_session *s, int status)
{
    g_hash_table_remove_all(s->transactions);
    g_queue_clear(&s->send_queue);
    GList *msgs = g_hash_table_get_values(s->outgoing);
    msgs = g_list_sort(msgs, by_seq);
    for (GList *l = msgs; l; l = l->next) {
        struct outgoing *msg = l->data;
        if (msg->status == 200)
            msg->status = status;
        message_done(s, msg);
    }
    g_list_free(msgs);
}

bool sylk_msrp_session_has_room(const struct sylk_msrp_session *s, size_t len)
{
    return s->queued_bytes + len <= SYLK_MSRP_MAX_QUEUED_BYTES;
}

const char *sylk_msrp_session_send_message(struct sylk_msrp_session *s, const char *content_type,
                                           GBytes *body, int fd, uint64_t size, void *token)
{
    if (!s->have_peer || s->gone)
        return NULL;
    if (body && !sylk_msrp_session_has_room(s, g_bytes_get_size(body)))
        return NULL;
    struct outgoing *msg = g_new0(struct outgoing, 1);
    msg->message_id = sylk_msrp_session_ident(s, 16);
    msg->content_type = g_strdup(content_type ? content_type : "text/plain");
    msg->body = body ? g_bytes_ref(body) : NULL;
    if (body)
        s->queued_bytes += g_bytes_get_size(body);
    msg->fd = body ? -1 : fd;
    msg->size = body ? g_bytes_get_size(body) : size;
    msg->status = 200;
    msg->seq = s->next_seq++;
    msg->token = token;
    g_hash_table_insert(s->outgoing, msg->message_id, msg);
    g_queue_push_tail(&s->send_queue, msg);
    const char *id = msg->message_id;
    sylk_msrp_out_pump(s);
    return id;
}

const char *sylk_msrp_session_send(struct sylk_msrp_session *s, const char *content_type,
                                   const void *body, size_t len)
{
    g_autoptr(GBytes) copy = g_bytes_new(body, len);
    return sylk_msrp_session_send_message(s, content_type, copy, -1, 0, NULL);
}
