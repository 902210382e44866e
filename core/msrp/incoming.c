/*
 * incoming.c — the SENDs an MSRP session receives (see session.h): chunks placed at their
 * Byte-Range in memory or in a file (hashed on the way), each answered; a whole message goes
 * to the owner, whose verdict answers its last chunk, and a REPORT follows when asked. A
 * message survives a lost connection (the peer sends again what it had no answer for: chunks
 * received twice count once), and a whole message received again under the same Message-ID
 * is answered as before without being handed over twice (RFC 4975 5.4).
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/session_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define FILE_READ_BLOCK 65536

struct range {
    uint64_t start, end; /* [start, end) */
};

struct incoming {
    char *content_type;
    GByteArray *data; /* in memory, or NULL when it goes to fd */
    int fd;           /* the file of receive_file, or -1 */
    GChecksum *sha1;  /* file: over the bytes [0, hashed) */
    uint64_t hashed;
    uint64_t total;    /* 0 while unknown */
    uint64_t received; /* bytes placed so far, each counted once */
    GArray *ranges;    /* struct range placed, sorted, disjoint */
    bool last_seen;    /* the chunk flagged '$' arrived */
    char *from_path;   /* of the first chunk, where a REPORT goes */
    bool report;       /* Success-Report: yes */
    gint64 progress_at;
};

void sylk_msrp_incoming_free(gpointer p)
{
    struct incoming *in = p;
    g_free(in->content_type);
    if (in->data)
        g_byte_array_free(in->data, TRUE);
    if (in->sha1)
        g_checksum_free(in->sha1);
    g_array_free(in->ranges, TRUE);
    g_free(in->from_path);
    g_free(in);
}

/* Adds [start, end) to the placed ranges; returns how many of its bytes were new. */
static uint64_t place_range(GArray *ranges, uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    uint64_t overlap = 0;
    guint i = 0;
    while (i < ranges->len && g_array_index(ranges, struct range, i).end < start)
        i++;
    struct range merged = {start, end};
    /* every range overlapping or touching [start, end) merges into it (they are disjoint, so
     * their overlaps with it add up) */
    while (i < ranges->len && g_array_index(ranges, struct range, i).start <= end) {
        struct range r = g_array_index(ranges, struct range, i);
        uint64_t lo = MAX(r.start, start), hi = MIN(r.end, end);
        if (hi > lo)
            overlap += hi - lo;
        merged.start = MIN(merged.start, r.start);
        merged.end = MAX(merged.end, r.end);
        g_array_remove_index(ranges, i);
    }
    g_array_insert_val(ranges, i, merged);
    return (end - start) - overlap;
}

static bool throttle(gint64 *last)
{
    gint64 now = g_get_monotonic_time();
    if (now - *last < SYLK_MSRP_PROGRESS_MS * 1000)
        return false;
    *last = now;
    return true;
}

static void send_report(struct sylk_msrp_session *s, const char *msg_id, const char *to_path,
                        uint64_t total)
{
    g_autofree char *tid = sylk_msrp_session_ident(s, 12);
    g_autofree char *range =
        g_strdup_printf("1-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, total, total);
    const char *headers[] = {"Message-ID", msg_id,       "Byte-Range", range,
                             "Status",     "000 200 OK", NULL};
    GBytes *wire = sylk_msrp_session_request(tid, "REPORT", to_path, s->uri, headers, NULL, 0, '$');
    if (wire)
        sylk_msrp_session_out(s, wire);
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
        if (!sylk_msrp_read_file_at(in->fd, in->hashed, buf, n))
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
    in->ranges = g_array_new(FALSE, FALSE, sizeof(struct range));
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

void sylk_msrp_in_drop_all(struct sylk_msrp_session *s, int status)
{
    if (s->file)
        file_finished(s, status, NULL, s->file->received);
    g_hash_table_remove_all(s->incoming);
}

/* Places a chunk's data in memory or in the file; false when the disk would not take it. */
static bool put_data(struct sylk_msrp_session *s, struct incoming *in, uint64_t at,
                     const struct sylk_msrp_frame *f)
{
    size_t len = f->body_len;
    if (in->data) {
        if (in->data->len < at + len)
            g_byte_array_set_size(in->data, (guint)(at + len));
        memcpy(in->data->data + at, f->body, len);
        return true;
    }
    if (!write_file_at(in->fd, at, f->body, len)) {
        int err = errno;
        g_warning("MSRP session %s: cannot write the file being received: %s", s->session_id,
                  g_strerror(err));
        return false;
    }
    if (at == in->hashed) {
        g_checksum_update(in->sha1, f->body, len);
        in->hashed += len;
    }
    return true;
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
    if (!put_data(s, in, at, f))
        return 413; /* a full disk: the message cannot be taken */
    in->received += place_range(in->ranges, at, at + len);
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

/* A whole message was answered `status`: a copy sent again later gets the same answer. */
static void remember(struct sylk_msrp_session *s, const char *msg_id, int status)
{
    if (!g_hash_table_contains(s->delivered, msg_id)) {
        char *id = g_strdup(msg_id);
        g_queue_push_tail(&s->delivered_order, id);
        g_hash_table_insert(s->delivered, id, GINT_TO_POINTER(status));
    }
    while (g_queue_get_length(&s->delivered_order) > SYLK_MSRP_MAX_DELIVERED)
        g_hash_table_remove(s->delivered, g_queue_pop_head(&s->delivered_order));
}

/*
 * A chunk of a message already handed over: answered as before (its last chunk with the
 * owner's verdict, and the REPORT again when one was asked for), not taken again.
 */
static bool resent_copy(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f,
                        const char *msg_id)
{
    gpointer status;
    if (g_hash_table_contains(s->incoming, msg_id) ||
        !g_hash_table_lookup_extended(s->delivered, msg_id, NULL, &status))
        return false;
    g_debug("MSRP session %s: message %s again: a copy of one already received", s->session_id,
            msg_id);
    int verdict = f->flag == '$' ? GPOINTER_TO_INT(status) : 200;
    sylk_msrp_session_respond(s, f, verdict);
    const char *sr = sylk_msrp_header(f, "Success-Report");
    int64_t start, end, total;
    const char *br = sylk_msrp_header(f, "Byte-Range");
    if (f->flag == '$' && verdict == 200 && sr && g_ascii_strcasecmp(sr, "yes") == 0 && br &&
        sylk_msrp_parse_byte_range(br, &start, &end, &total) && total >= 0)
        send_report(s, msg_id, sylk_msrp_header(f, "From-Path"), (uint64_t)total);
    return true;
}

void sylk_msrp_in_send(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    const char *msg_id = sylk_msrp_header(f, "Message-ID");
    if (!f->body && !sylk_msrp_header(f, "Content-Type")) {
        sylk_msrp_session_respond(s, f, 200); /* an empty SEND: a keepalive (RFC 4975 7.1) */
        return;
    }
    if (!msg_id) {
        sylk_msrp_session_respond(s, f, 400);
        return;
    }
    if (resent_copy(s, f, msg_id))
        return;
    struct incoming *done = NULL;
    int status = take_chunk(s, f, msg_id, &done);
    if (status != 200) {
        sylk_msrp_session_respond(s, f, status);
        incoming_drop(s, msg_id, status); /* what came of it is dropped */
        return;
    }
    if (!done) {
        sylk_msrp_session_respond(s, f, 200);
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
    remember(s, id, status);
    sylk_msrp_session_respond(s, f, status);
    if (done->report && status == 200)
        send_report(s, id, done->from_path, done->total);
    sylk_msrp_incoming_free(done);
}
