/*
 * session.c — an MSRP session: receive, reassemble, report; send in chunks. See session.h.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/session.h"

#include "msrp/uri.h"

#include <errno.h>
#include <string.h>

struct incoming {
    char *content_type;
    GByteArray *data;
    size_t total;    /* 0 while unknown */
    size_t received; /* bytes placed so far */
    bool last_seen;  /* the chunk flagged '$' arrived */
    char *from_path; /* of the first chunk, where a REPORT goes */
    bool report;     /* Success-Report: yes */
};

struct outgoing {
    char *message_id;
    unsigned pending; /* chunks without a response yet */
    int status;       /* 200, or the first failure */
};

struct transaction {
    struct outgoing *msg;
    gint64 deadline; /* monotonic: no response by then is a 408 */
};

struct sylk_msrp_session {
    struct sylk_msrp_endpoint ep; /* first: the transport hands us this pointer */
    struct sylk_msrp_transport *transport;
    char *session_id, *uri;
    char *peer_path;           /* To-Path of what we send */
    struct sylk_msrp_uri peer; /* the last URI of the peer's path: its own */
    bool have_peer;
    size_t max_message;
    unsigned transaction_s;
    const struct sylk_msrp_session_events *events;
    void *user_data;
    GHashTable *incoming;     /* Message-ID -> struct incoming */
    GHashTable *outgoing;     /* Message-ID -> struct outgoing */
    GHashTable *transactions; /* transaction id -> struct transaction */
    guint sweep;              /* 1 s timer while transactions are pending */
};

static char *random_ident(unsigned len)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *s = g_malloc(len + 1);
    for (unsigned i = 0; i < len; i++)
        s[i] = alphabet[g_random_int_range(0, (gint32)sizeof(alphabet) - 1)];
    s[len] = '\0';
    return s;
}

static void incoming_free(gpointer p)
{
    struct incoming *in = p;
    g_free(in->content_type);
    g_byte_array_free(in->data, TRUE);
    g_free(in->from_path);
    g_free(in);
}

static void outgoing_free(gpointer p)
{
    struct outgoing *o = p;
    g_free(o->message_id);
    g_free(o);
}

/* ------------------------------------------------------------------ sending --- */

static GBytes *request(const char *tid, const char *method, const char *to_path,
                       const char *from_path, const char *const *headers, const void *body,
                       size_t len, char flag)
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

/* A message's transaction is over; the message is reported when it was its last one. */
static void transaction_done(struct sylk_msrp_session *s, struct outgoing *msg, int status)
{
    if (status / 100 != 2 && msg->status == 200)
        msg->status = status;
    if (--msg->pending == 0) {
        if (s->events->sent)
            s->events->sent(s, msg->message_id, msg->status, s->user_data);
        g_hash_table_remove(s->outgoing, msg->message_id);
    }
}

/*
 * Once a second while transactions are pending: those without a response for
 * SYLK_MSRP_TRANSACTION_S fail with 408. One timer per session, not one per chunk (a large
 * message has thousands of chunks in flight).
 */
static gboolean sweep_transactions(gpointer data)
{
    struct sylk_msrp_session *s = data;
    gint64 now = g_get_monotonic_time();
    GHashTableIter it;
    gpointer key, value;
    GPtrArray *expired = g_ptr_array_new();
    g_hash_table_iter_init(&it, s->transactions);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct transaction *t = value;
        if (t->deadline <= now) {
            g_ptr_array_add(expired, t->msg);
            g_hash_table_iter_remove(&it); /* frees the id and the transaction */
        }
    }
    for (guint i = 0; i < expired->len; i++)
        transaction_done(s, g_ptr_array_index(expired, i), 408);
    g_ptr_array_free(expired, TRUE);
    if (g_hash_table_size(s->transactions) > 0)
        return G_SOURCE_CONTINUE;
    s->sweep = 0;
    return G_SOURCE_REMOVE;
}

const char *sylk_msrp_session_send(struct sylk_msrp_session *s, const char *content_type,
                                   const void *body, size_t len)
{
    if (!s->ep.conn || !s->have_peer)
        return NULL;
    struct outgoing *msg = g_new0(struct outgoing, 1);
    msg->message_id = random_ident(16);
    msg->status = 200;
    g_hash_table_insert(s->outgoing, msg->message_id, msg);
    size_t off = 0;
    do {
        size_t n = MIN(len - off, (size_t)SYLK_MSRP_CHUNK_SIZE);
        g_autofree char *range = g_strdup_printf("%zu-%zu/%zu", off + 1, off + n, len);
        const char *headers[] = {"Message-ID",   msg->message_id, "Success-Report",
                                 "no",           "Byte-Range",    range,
                                 "Content-Type", content_type,    NULL};
        g_autofree char *tid = NULL;
        GBytes *wire = NULL;
        while (!wire) { /* a fresh id whose end-line cannot be inside the data */
            g_free(tid);
            tid = random_ident(12);
            wire = request(tid, "SEND", s->peer_path, s->uri, headers, (const uint8_t *)body + off,
                           n, off + n == len ? '$' : '+');
        }
        struct transaction *t = g_new0(struct transaction, 1);
        t->msg = msg;
        t->deadline = g_get_monotonic_time() + (gint64)s->transaction_s * G_USEC_PER_SEC;
        g_hash_table_insert(s->transactions, g_steal_pointer(&tid), t);
        if (!s->sweep)
            s->sweep = g_timeout_add_seconds(1, sweep_transactions, s);
        msg->pending++;
        sylk_msrp_conn_send(s->ep.conn, wire);
        g_bytes_unref(wire);
        off += n;
        if (!s->ep.conn)
            break; /* the connection failed while sending */
    } while (off < len);
    return msg->message_id;
}

static void on_response(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    struct transaction *t = g_hash_table_lookup(s->transactions, f->transaction_id);
    if (!t)
        return; /* late, or not ours */
    struct outgoing *msg = t->msg;
    g_hash_table_remove(s->transactions, f->transaction_id);
    transaction_done(s, msg, f->status);
}

/* ---------------------------------------------------------------- receiving --- */

static void send_report(struct sylk_msrp_session *s, struct sylk_msrp_conn *c, const char *msg_id,
                        const struct incoming *in)
{
    g_autofree char *tid = random_ident(12);
    g_autofree char *range = g_strdup_printf("1-%zu/%zu", in->total, in->total);
    const char *headers[] = {"Message-ID", msg_id,       "Byte-Range", range,
                             "Status",     "000 200 OK", NULL};
    g_autoptr(GBytes) wire = request(tid, "REPORT", in->from_path, s->uri, headers, NULL, 0, '$');
    if (wire)
        sylk_msrp_conn_send(c, wire);
}

/* Answers a request unless Failure-Report says not to (RFC 4975 7.1.2). */
static void respond(struct sylk_msrp_conn *c, const struct sylk_msrp_frame *f, int status,
                    const char *comment)
{
    const char *fr = sylk_msrp_header(f, "Failure-Report");
    if (fr && (g_ascii_strcasecmp(fr, "no") == 0 ||
               (g_ascii_strcasecmp(fr, "partial") == 0 && status / 100 == 2)))
        return;
    sylk_msrp_conn_respond(c, f, status, comment);
}

/* Places a chunk; returns the SEND's response status. */
static int take_chunk(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f,
                      const char *msg_id, struct incoming **done)
{
    int64_t start = 1, end = SYLK_MSRP_RANGE_UNKNOWN, total = SYLK_MSRP_RANGE_UNKNOWN;
    const char *br = sylk_msrp_header(f, "Byte-Range");
    if (br && !sylk_msrp_parse_byte_range(br, &start, &end, &total))
        return 400;
    size_t len = f->body_len;
    if ((total != SYLK_MSRP_RANGE_UNKNOWN && (uint64_t)total > s->max_message) ||
        (uint64_t)start - 1 + len > s->max_message)
        return 413;
    struct incoming *in = g_hash_table_lookup(s->incoming, msg_id);
    if (!in) {
        if (g_hash_table_size(s->incoming) >= SYLK_MSRP_MAX_IN_PROGRESS)
            return 413;
        in = g_new0(struct incoming, 1);
        in->data = g_byte_array_new();
        in->content_type = g_strdup(sylk_msrp_header(f, "Content-Type"));
        in->from_path = g_strdup(sylk_msrp_header(f, "From-Path"));
        const char *sr = sylk_msrp_header(f, "Success-Report");
        in->report = sr && g_ascii_strcasecmp(sr, "yes") == 0;
        g_hash_table_insert(s->incoming, g_strdup(msg_id), in);
    }
    if (f->flag == '#') { /* aborted by the sender: nothing of it is kept */
        g_hash_table_remove(s->incoming, msg_id);
        return 200;
    }
    size_t at = (size_t)start - 1;
    if (in->data->len < at + len)
        g_byte_array_set_size(in->data, (guint)(at + len));
    memcpy(in->data->data + at, f->body, len);
    in->received += len;
    if (total != SYLK_MSRP_RANGE_UNKNOWN)
        in->total = (size_t)total;
    if (f->flag == '$') {
        in->last_seen = true;
        if (!in->total)
            in->total = at + len;
    }
    if (in->last_seen && in->received >= in->total && in->data->len >= in->total) {
        g_byte_array_set_size(in->data, (guint)in->total);
        *done = in;
    }
    return 200;
}

static void on_send(struct sylk_msrp_session *s, struct sylk_msrp_conn *c,
                    struct sylk_msrp_frame *f)
{
    const char *msg_id = sylk_msrp_header(f, "Message-ID");
    if (!f->body && !sylk_msrp_header(f, "Content-Type")) {
        respond(c, f, 200, "OK"); /* an empty SEND: a keepalive (RFC 4975 7.1) */
        return;
    }
    if (!msg_id) {
        respond(c, f, 400, "Message-ID missing");
        return;
    }
    struct incoming *done = NULL;
    int status = take_chunk(s, f, msg_id, &done);
    respond(c, f, status, status == 200 ? "OK" : status == 413 ? "Too Large" : "Bad Request");
    if (status == 413)
        g_hash_table_remove(s->incoming, msg_id); /* what came of it is dropped */
    if (!done)
        return;
    gpointer key = NULL;
    g_hash_table_steal_extended(s->incoming, msg_id, &key, NULL);
    g_free(key);
    if (done->report)
        send_report(s, c, msg_id, done);
    GBytes *body = g_byte_array_free_to_bytes(g_steal_pointer(&done->data));
    done->data = g_byte_array_new();
    if (s->events->message)
        s->events->message(s, done->content_type, body, s->user_data);
    else
        g_bytes_unref(body);
    incoming_free(done);
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

static void on_frame(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c,
                     struct sylk_msrp_frame *f)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    if (!f->method) {
        on_response(s, f);
    } else if (!from_peer(s, f)) {
        g_info("MSRP %s from %s does not come from the session's peer: 481", f->method,
               sylk_msrp_conn_peer(c));
        if (strcmp(f->method, "REPORT") != 0)
            sylk_msrp_conn_respond(c, f, 481, "Session does not exist");
        ep->conn = NULL; /* not bound by a stranger */
    } else if (strcmp(f->method, "SEND") == 0) {
        on_send(s, c, f);
    } else if (strcmp(f->method, "REPORT") != 0) { /* REPORTs are taken silently */
        respond(c, f, 501, "Not Implemented");
    }
    sylk_msrp_frame_clear(f);
}

static void on_closed(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    (void)c;
    g_hash_table_remove_all(s->incoming);
    if (s->events->closed)
        s->events->closed(s, s->user_data);
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
    s->transport = transport;
    s->session_id = random_ident(20);
    bool v6 = strchr(host, ':') != NULL;
    s->uri = g_strdup_printf(
        "%s://%s%s%s:%u/%s;tcp", sylk_msrp_transport_tls(transport) ? "msrps" : "msrp",
        v6 ? "[" : "", host, v6 ? "]" : "", sylk_msrp_transport_port(transport), s->session_id);
    s->max_message = SYLK_MSRP_MAX_MESSAGE;
    s->transaction_s = SYLK_MSRP_TRANSACTION_S;
    s->events = events;
    s->user_data = user_data;
    s->incoming = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, incoming_free);
    s->outgoing = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, outgoing_free);
    s->transactions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sylk_msrp_transport_register(transport, s->session_id, &s->ep);
    return s;
}

void sylk_msrp_session_free(struct sylk_msrp_session *s)
{
    if (!s)
        return;
    sylk_msrp_transport_unregister(s->transport, s->session_id);
    if (s->sweep)
        g_source_remove(s->sweep);
    g_hash_table_destroy(s->transactions);
    g_hash_table_destroy(s->outgoing);
    g_hash_table_destroy(s->incoming);
    if (s->have_peer)
        sylk_msrp_uri_clear(&s->peer);
    g_free(s->peer_path);
    g_free(s->session_id);
    g_free(s->uri);
    g_free(s);
}

const char *sylk_msrp_session_uri(const struct sylk_msrp_session *s)
{
    return s->uri;
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
    g_free(s->peer_path);
    s->peer_path = g_strstrip(g_strdup(path));
    return 0;
}

void sylk_msrp_session_set_transaction_timeout(struct sylk_msrp_session *s, unsigned seconds)
{
    s->transaction_s = MAX(seconds, 1u);
}

void sylk_msrp_session_set_max_message(struct sylk_msrp_session *s, size_t bytes)
{
    s->max_message = bytes;
}
