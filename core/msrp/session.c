/*
 * session.c — an MSRP session: receive, reassemble, report; stream out in chunks. See
 * session.h.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/session.h"

#include "msrp/uri.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <unistd.h>

#define FILE_READ_BLOCK 65536
#define MAX_NICKNAME    256 /* bytes of a Use-Nickname value */

struct incoming {
    char *content_type;
    GByteArray *data; /* in memory, or NULL when it goes to fd */
    int fd;           /* the file of receive_file, or -1 */
    GChecksum *sha1;  /* file: over the bytes [0, hashed) */
    uint64_t hashed;
    uint64_t total;    /* 0 while unknown */
    uint64_t received; /* bytes placed so far */
    bool last_seen;    /* the chunk flagged '$' arrived */
    char *from_path;   /* of the first chunk, where a REPORT goes */
    bool report;       /* Success-Report: yes */
    gint64 progress_at;
};

struct outgoing {
    char *message_id;
    char *content_type;
    GBytes *body; /* in memory, or NULL when read from fd */
    int fd;
    uint64_t size, next; /* bytes in all; offset of the next chunk to make */
    uint64_t acked;      /* bytes whose chunks got 200 */
    unsigned pending;    /* chunks without a response yet */
    int status;          /* 200, or the first failure */
    void *token;
    gint64 progress_at;
};

struct transaction {
    struct outgoing *msg;
    size_t len;      /* bytes of its chunk */
    gint64 deadline; /* monotonic: no response by then is a 408 */
};

struct sylk_msrp_session {
    struct sylk_msrp_endpoint ep; /* first: the transport hands us this pointer */
    struct sylk_msrp_transport *transport;
    char *session_id, *uri;
    char *peer_path;           /* To-Path of what we send */
    struct sylk_msrp_uri peer; /* the last URI of the peer's path: its own */
    bool have_peer;
    bool connecting; /* an active connect is under way */
    bool gone;       /* the connection (or the connect) was lost: nothing more is sent */
    bool pumping;
    struct sylk_msrp_conn *bound; /* the connection the peer's frames came on, or ours */
    size_t max_message, chunk_size;
    bool chunk_size_set; /* by set_chunk_size, not from the path */
    GRand *rand;         /* transaction and message ids: no global lock per character */
    unsigned transaction_s;
    const struct sylk_msrp_session_events *events;
    void *user_data;
    int file_fd;              /* receive_file: where the next message goes, or -1 */
    struct incoming *file;    /* that message, once it started */
    GHashTable *incoming;     /* Message-ID -> struct incoming */
    GHashTable *outgoing;     /* Message-ID -> struct outgoing */
    GQueue send_queue;        /* struct outgoing with chunks still to make, in order */
    GHashTable *transactions; /* transaction id -> struct transaction */
    guint sweep;              /* 1 s timer while transactions are pending */
};

static const char ident_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* An id unique within the session: a transaction or message id. */
static char *random_ident(struct sylk_msrp_session *s, unsigned len)
{
    char *id = g_malloc(len + 1);
    for (unsigned i = 0; i < len; i++)
        id[i] = ident_chars[g_rand_int_range(s->rand, 0, (gint32)sizeof(ident_chars) - 1)];
    id[len] = '\0';
    return id;
}

/* The session id: the secret part of our URI, from the TLS library's random generator. */
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

static void incoming_free(gpointer p)
{
    struct incoming *in = p;
    g_free(in->content_type);
    if (in->data)
        g_byte_array_free(in->data, TRUE);
    if (in->sha1)
        g_checksum_free(in->sha1);
    g_free(in->from_path);
    g_free(in);
}

static void outgoing_free(gpointer p)
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

/* The message is over: reported, forgotten. */
static void message_done(struct sylk_msrp_session *s, struct outgoing *msg)
{
    g_queue_remove(&s->send_queue, msg);
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
        if (s->events->progress && msg->fd >= 0 &&
            (msg->acked == msg->size || throttle(&msg->progress_at)))
            s->events->progress(s, msg->token, msg->acked, msg->size, s->user_data);
    }
    if (--msg->pending == 0 && (msg->next >= msg->size || msg->status != 200))
        message_done(s, msg);
}

/*
 * Once a second while transactions are pending: those without a response for
 * SYLK_MSRP_TRANSACTION_S fail with 408. One timer per session, not one per chunk (a large
 * message has many chunks in flight).
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

/* Reads [off, off+n) of a file message; false on a read error or a file that shrank. */
static bool read_file_at(int fd, uint64_t off, uint8_t *buf, size_t n)
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

/*
 * Makes the next chunk of `msg` and queues it. The message's state is updated before the
 * bytes go to the connection, which may close (and fail every message) while sending.
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
        if (!read_file_at(msg->fd, off, buf, n)) {
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
        tid = random_ident(s, 12);
        wire = request(tid, "SEND", s->peer_path, s->uri, headers, data, n,
                       off + n == msg->size ? '$' : '+');
    }
    struct transaction *t = g_new0(struct transaction, 1);
    t->msg = msg;
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

/* Makes chunks while the connection is not holding too much (called again when it drains). */
static void pump(struct sylk_msrp_session *s)
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

/* Every message not yet delivered fails: the connection is gone. */
static void fail_outgoing(struct sylk_msrp_session *s, int status)
{
    g_hash_table_remove_all(s->transactions);
    g_queue_clear(&s->send_queue);
    GList *msgs = g_hash_table_get_values(s->outgoing);
    for (GList *l = msgs; l; l = l->next) {
        struct outgoing *msg = l->data;
        if (msg->status == 200)
            msg->status = status;
        message_done(s, msg);
    }
    g_list_free(msgs);
}

const char *sylk_msrp_session_send_message(struct sylk_msrp_session *s, const char *content_type,
                                           GBytes *body, int fd, uint64_t size, void *token)
{
    if (!s->have_peer || s->gone)
        return NULL;
    struct outgoing *msg = g_new0(struct outgoing, 1);
    msg->message_id = random_ident(s, 16);
    msg->content_type = g_strdup(content_type ? content_type : "text/plain");
    msg->body = body ? g_bytes_ref(body) : NULL;
    msg->fd = body ? -1 : fd;
    msg->size = body ? g_bytes_get_size(body) : size;
    msg->status = 200;
    msg->token = token;
    g_hash_table_insert(s->outgoing, msg->message_id, msg);
    g_queue_push_tail(&s->send_queue, msg);
    const char *id = msg->message_id;
    pump(s);
    return id;
}

const char *sylk_msrp_session_send(struct sylk_msrp_session *s, const char *content_type,
                                   const void *body, size_t len)
{
    g_autoptr(GBytes) copy = g_bytes_new(body, len);
    return sylk_msrp_session_send_message(s, content_type, copy, -1, 0, NULL);
}

static void on_response(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    struct transaction *t = g_hash_table_lookup(s->transactions, f->transaction_id);
    if (!t)
        return; /* late, a keepalive's, or not ours */
    struct outgoing *msg = t->msg;
    size_t len = t->len;
    g_hash_table_remove(s->transactions, f->transaction_id);
    transaction_done(s, msg, len, f->status);
}

/* ---------------------------------------------------------------- receiving --- */

static void send_report(struct sylk_msrp_session *s, struct sylk_msrp_conn *c, const char *msg_id,
                        const struct incoming *in)
{
    g_autofree char *tid = random_ident(s, 12);
    g_autofree char *range =
        g_strdup_printf("1-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, in->total, in->total);
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

/* The file message is over (complete or not): its owner hears it once. */
static void file_finished(struct sylk_msrp_session *s, int status, const char *sha1, uint64_t n)
{
    s->file = NULL;
    s->file_fd = -1;
    if (s->events->file_received)
        s->events->file_received(s, status, sha1, n, s->user_data);
}

/* Hashes what is contiguous from the start: in order, each chunk as it lands. */
static bool hash_file_upto(struct incoming *in, uint64_t end)
{
    uint8_t buf[FILE_READ_BLOCK];
    while (in->hashed < end) {
        size_t n = (size_t)MIN(end - in->hashed, (uint64_t)sizeof(buf));
        if (!read_file_at(in->fd, in->hashed, buf, n))
            return false;
        g_checksum_update(in->sha1, buf, n);
        in->hashed += n;
    }
    return true;
}

static bool write_file_at(int fd, uint64_t off, const uint8_t *data, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, data + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        done += (size_t)w;
    }
    return true;
}

static struct incoming *incoming_new(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    struct incoming *in = g_new0(struct incoming, 1);
    in->fd = -1;
    if (s->file_fd >= 0 && !s->file) { /* the file of receive_file */
        in->fd = s->file_fd;
        in->sha1 = g_checksum_new(G_CHECKSUM_SHA1);
        s->file = in;
    } else {
        in->data = g_byte_array_new();
    }
    in->content_type = g_strdup(sylk_msrp_header(f, "Content-Type"));
    in->from_path = g_strdup(sylk_msrp_header(f, "From-Path"));
    const char *sr = sylk_msrp_header(f, "Success-Report");
    in->report = sr && g_ascii_strcasecmp(sr, "yes") == 0;
    return in;
}

/* Drops a message being received; a file's owner is told with `status`. */
static void incoming_drop(struct sylk_msrp_session *s, const char *msg_id, int status)
{
    struct incoming *in = g_hash_table_lookup(s->incoming, msg_id);
    if (in && in == s->file)
        file_finished(s, status, NULL, in->received);
    else if (!in && s->file_fd >= 0 && !s->file)
        file_finished(s, status, NULL, 0); /* refused from its first chunk on */
    g_hash_table_remove(s->incoming, msg_id);
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
        in = incoming_new(s, f);
        g_hash_table_insert(s->incoming, g_strdup(msg_id), in);
    }
    if (f->flag == '#') { /* aborted by the sender: nothing of it is kept */
        incoming_drop(s, msg_id, 400);
        return 200;
    }
    uint64_t at = (uint64_t)start - 1;
    if (in->data) {
        if (in->data->len < at + len)
            g_byte_array_set_size(in->data, (guint)(at + len));
        memcpy(in->data->data + at, f->body, len);
    } else {
        if (!write_file_at(in->fd, at, f->body, len)) {
            int err = errno;
            g_warning("MSRP session %s: cannot write the file being received: %s", s->session_id,
                      g_strerror(err));
            return 413; /* a full disk: the message cannot be taken */
        }
        if (at == in->hashed) {
            g_checksum_update(in->sha1, f->body, len);
            in->hashed += len;
        }
    }
    in->received += len;
    if (total != SYLK_MSRP_RANGE_UNKNOWN)
        in->total = (uint64_t)total;
    if (f->flag == '$') {
        in->last_seen = true;
        if (!in->total)
            in->total = at + len;
    }
    bool complete = in->last_seen && in->received >= in->total;
    if (in->data)
        complete = complete && in->data->len >= in->total;
    if (in->fd >= 0 && s->events->progress && in->total && (complete || throttle(&in->progress_at)))
        s->events->progress(s, NULL, MIN(in->received, in->total), in->total, s->user_data);
    if (complete) {
        if (in->data) { /* a NUL after the body (not counted) spares its readers a copy */
            g_byte_array_set_size(in->data, (guint)in->total + 1);
            in->data->data[in->total] = 0;
            g_byte_array_set_size(in->data, (guint)in->total);
        }
        *done = in;
    }
    return 200;
}

/* A file complete on disk: the hash of what was not hashed in order, then its owner. */
static int finish_file(struct sylk_msrp_session *s, struct incoming *in)
{
    if (!hash_file_upto(in, in->total)) {
        g_warning("MSRP session %s: cannot read back the file received", s->session_id);
        file_finished(s, 413, NULL, in->total);
        return 413;
    }
    file_finished(s, 200, g_checksum_get_string(in->sha1), in->total);
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
    if (status != 200) {
        respond(c, f, status, status_comment(status));
        incoming_drop(s, msg_id, status); /* what came of it is dropped */
        return;
    }
    if (!done) {
        respond(c, f, 200, "OK");
        return;
    }
    gpointer key = NULL;
    g_hash_table_steal_extended(s->incoming, msg_id, &key, NULL);
    g_autofree char *id = key;
    if (done->fd >= 0) {
        status = finish_file(s, done);
    } else if (s->events->message) {
        /* The last chunk is answered with the owner's verdict on the whole message. */
        struct sylk_msrp_received m = {id, done->content_type,
                                       g_byte_array_free_to_bytes(g_steal_pointer(&done->data))};
        status = s->events->message(s, &m, s->user_data);
        g_bytes_unref(m.body);
    }
    respond(c, f, status, status_comment(status));
    if (done->report && status == 200)
        send_report(s, c, id, done);
    incoming_free(done);
}

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

static void on_nickname(struct sylk_msrp_session *s, struct sylk_msrp_conn *c,
                        struct sylk_msrp_frame *f)
{
    const char *v = sylk_msrp_header(f, "Use-Nickname");
    if (!v) {
        sylk_msrp_conn_respond(c, f, 400, "Use-Nickname missing");
        return;
    }
    g_autofree char *nick = unquote(v);
    if (strlen(nick) > MAX_NICKNAME || !g_utf8_validate(nick, -1, NULL)) {
        sylk_msrp_conn_respond(c, f, 423, "Nickname too long or not UTF-8");
        return;
    }
    int status = s->events->nickname ? s->events->nickname(s, nick, s->user_data) : 501;
    sylk_msrp_conn_respond(c, f, status, status_comment(status));
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
        sylk_msrp_frame_clear(f);
        return;
    }
    if (!from_peer(s, f)) {
        g_info("MSRP %s from %s does not come from the session's peer: 481", f->method,
               sylk_msrp_conn_peer(c));
        if (strcmp(f->method, "REPORT") != 0)
            sylk_msrp_conn_respond(c, f, 481, "Session does not exist");
        ep->conn = s->bound; /* not bound by a stranger */
        sylk_msrp_frame_clear(f);
        return;
    }
    s->bound = c;
    if (strcmp(f->method, "REPORT") == 0) {
        /* taken silently */
    } else if (strcmp(f->method, "SEND") == 0) {
        on_send(s, c, f);
    } else if (strcmp(f->method, "NICKNAME") == 0) {
        on_nickname(s, c, f);
    } else {
        respond(c, f, 501, "Not Implemented");
    }
    sylk_msrp_frame_clear(f);
    pump(s); /* the first frame bound the connection: what waited for it goes now */
}

static void on_closed(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    (void)c;
    s->gone = true;
    s->bound = NULL;
    if (s->file)
        file_finished(s, 408, NULL, s->file->received);
    g_hash_table_remove_all(s->incoming);
    fail_outgoing(s, 408);
    if (s->events->closed)
        s->events->closed(s, s->user_data);
}

static void on_writable(struct sylk_msrp_endpoint *ep, struct sylk_msrp_conn *c)
{
    (void)c;
    pump((struct sylk_msrp_session *)ep);
}

static void on_connected(struct sylk_msrp_endpoint *ep, int error)
{
    struct sylk_msrp_session *s = (struct sylk_msrp_session *)ep;
    s->connecting = false;
    s->bound = ep->conn;
    if (error < 0) {
        g_info("MSRP session %s: cannot connect to %s: %s", s->session_id, s->peer_path,
               g_strerror(-error));
        on_closed(ep, NULL);
        return;
    }
    /* RFC 4975 5.4: the side that opened the connection sends first, an empty SEND if need
     * be, so that the peer binds it to the session. */
    g_autofree char *tid = random_ident(s, 12);
    g_autoptr(GBytes) wire = request(tid, "SEND", s->peer_path, s->uri, NULL, NULL, 0, '$');
    sylk_msrp_conn_send(ep->conn, wire);
    pump(s);
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
    s->events = events;
    s->user_data = user_data;
    s->file_fd = -1;
    s->incoming = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, incoming_free);
    s->outgoing = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, outgoing_free);
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
    if (s->sweep)
        g_source_remove(s->sweep);
    g_queue_clear(&s->send_queue);
    g_hash_table_destroy(s->transactions);
    g_hash_table_destroy(s->outgoing);
    g_hash_table_destroy(s->incoming);
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

void sylk_msrp_session_set_transaction_timeout(struct sylk_msrp_session *s, unsigned seconds)
{
    s->transaction_s = MAX(seconds, 1u);
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
