/*
 * session_msrp.c — the MSRP streams of a session (see session_msrp.h): chat messages
 * unwrapped from CPIM for the plugin and wrapped for the peer, is-composing and nicknames,
 * and file transfer (RFC 5547: a file received to a path, or sent from one).
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_msrp.h"

#include "msrp/composing.h"
#include "msrp/cpim.h"
#include "msrp/session.h"
#include "sip/session_streams.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void file_done(struct sylk_stream *st, int status, const char *hash, uint64_t size);

static int arm_file_receive(struct sylk_stream *st);

/* ------------------------------------------------------------ chat (MSRP) --- */

/* The CPIM headers as name/value pairs for the plugin (strings borrowed from `cpim`). */
static const char **cpim_pairs(const struct sylk_cpim *cpim)
{
    const char **pairs = g_new0(const char *, 2 * cpim->headers->len + 1);
    for (guint i = 0; i < cpim->headers->len; i++) {
        const struct sylk_cpim_header *h =
            &g_array_index(cpim->headers, struct sylk_cpim_header, i);
        pairs[2 * i] = h->name;
        pairs[2 * i + 1] = h->value;
    }
    return pairs;
}

/* An is-composing body to the plugin's composing callback; its MSRP status. */
static int chat_composing(struct sylk_stream *st, const void *body, size_t len,
                          const struct sylk_chat_message *m)
{
    struct sylk_composing c = {0};
    g_autofree char *error = NULL;
    if (sylk_composing_parse(body, len, &c, &error) < 0) {
        g_info("session %s: bad is-composing document on the chat stream (%s): 400",
               st->session->request->info.call_id, error);
        return 400;
    }
    struct sylk_chat_composing e = {
        .struct_size = sizeof(e),
        .active = c.active,
        .content_type = c.content_type,
        .refresh = c.refresh,
        .last_active = c.last_active,
        .cpim_from = m->cpim_from,
        .cpim_to = m->cpim_to,
        .cpim_headers = m->cpim_headers,
    };
    st->chat.composing(st, &e, st->chat_data);
    sylk_composing_clear(&c);
    return 200;
}

/*
 * A whole chat message: unwrapped from CPIM when wrapped, then to the plugin, whose
 * chat_refuse during the callback becomes the status of the SEND that completed it.
 */
static int chat_message(struct sylk_msrp_session *ms, const struct sylk_msrp_received *r, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    const char *type = r->content_type;
    gsize n;
    const uint8_t *data = g_bytes_get_data(r->body, &n);
    struct sylk_chat_message m = {.struct_size = sizeof(m), .message_id = r->message_id};
    struct sylk_cpim cpim = {0};
    g_autofree const char **pairs = NULL;
    if (type && g_ascii_strncasecmp(type, "message/cpim", 12) == 0) {
        g_autofree char *error = NULL;
        if (sylk_cpim_parse(data, n, &cpim, &error) < 0) {
            g_info("session %s: bad CPIM on the chat stream (%s): 400",
                   st->session->request->info.call_id, error);
            return 400;
        }
        m.cpim = true;
        m.content_type = sylk_cpim_content(&cpim, "Content-Type");
        m.body = cpim.body;
        m.body_len = cpim.body_len;
        m.cpim_from = sylk_cpim_get(&cpim, NULL, "From");
        m.cpim_to = sylk_cpim_get(&cpim, NULL, "To");
        m.cpim_datetime = sylk_cpim_get(&cpim, NULL, "DateTime");
        m.cpim_headers = pairs = cpim_pairs(&cpim);
    } else {
        m.content_type = type ? type : "text/plain";
        m.body = data; /* the MSRP session put a NUL after it */
        m.body_len = n;
    }
    int status = 200;
    bool composing = m.content_type && g_ascii_strncasecmp(m.content_type, SYLK_COMPOSING_TYPE,
                                                           strlen(SYLK_COMPOSING_TYPE)) == 0;
    if (composing && st->chat.composing) {
        status = chat_composing(st, m.body, m.body_len, &m);
    } else if (st->chat.message) {
        st->in_message = true;
        st->refuse_status = 0;
        st->chat.message(st, &m, st->chat_data);
        st->in_message = false;
        if (st->refuse_status)
            status = st->refuse_status;
    }
    sylk_cpim_clear(&cpim);
    return status;
}

static void chat_sent(struct sylk_msrp_session *ms, const char *message_id, void *token, int status,
                      void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (status / 100 != 2)
        g_info("session %s: message %s not delivered: %d", st->session->request->info.call_id,
               message_id, status);
    if (token == &st->file_size)
        file_done(st, status, NULL, st->file_size); /* the file of file_send */
    else if (token && st->chat.sent)
        st->chat.sent(st, token, status, st->chat_data);
}

static void chat_closed(struct sylk_msrp_session *ms, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (st->chat.closed)
        st->chat.closed(st, st->chat_data);
}

static int chat_nickname(struct sylk_msrp_session *ms, const char *nickname, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (!st->chat.nickname)
        return 501;
    int status = st->chat.nickname(st, nickname, st->chat_data);
    return status >= 200 && status <= 599 ? status : 500;
}

static void chat_nickname_result(struct sylk_msrp_session *ms, void *token, int status, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (status / 100 != 2)
        g_info("session %s: NICKNAME refused or unanswered: %d",
               st->session->request ? st->session->request->info.call_id : "?", status);
    if (st->chat.nickname_result)
        st->chat.nickname_result(st, token, status, st->chat_data);
}

static void file_progress(struct sylk_msrp_session *ms, void *token, uint64_t bytes, uint64_t total,
                          void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    (void)token;
    if (st->file_busy && st->file.progress)
        st->file.progress(st, bytes, total, st->file_data);
}

static void file_received(struct sylk_msrp_session *ms, int status, const char *sha1_hex,
                          uint64_t size, void *ud)
{
    (void)ms;
    char selector_hash[60] = "";
    /* RFC 5547 writes hashes as upper-case hex pairs separated by colons */
    for (unsigned i = 0; sha1_hex && sha1_hex[i] && sha1_hex[i + 1] && i < 40; i += 2)
        g_snprintf(selector_hash + strlen(selector_hash), 4, "%s%c%c", i ? ":" : "",
                   g_ascii_toupper(sha1_hex[i]), g_ascii_toupper(sha1_hex[i + 1]));
    file_done(ud, status, sha1_hex ? selector_hash : NULL, size);
}

static const struct sylk_msrp_session_events chat_events = {
    .message = chat_message,
    .sent = chat_sent,
    .closed = chat_closed,
    .nickname = chat_nickname,
    .nickname_result = chat_nickname_result,
    .progress = file_progress,
    .file_received = file_received,
};

/*
 * Our side of an accepted MSRP stream (chat or file transfer): an MSRP session, its URI in
 * a=path; setup passive when answering (RFC 6135: the peer connects to us), actpass when
 * offering.
 */
void sylk_session_open_msrp(struct sylk_session *s, struct sylk_stream *st, const char *setup)
{
    struct sylk_msrp_transport *t = sylk_server_get()->msrp;
    if (!t)
        return; /* not usable without MSRP: the core never offers it to plugins */
    st->msrp = sylk_msrp_session_new(t, cfg()->advertised_ip, &chat_events, st);
    struct sylk_sdp_media *l = &s->local.m[st->index];
    l->port = sylk_msrp_transport_port(t);
    l->msrp_tls = sylk_msrp_transport_tls(t);
    g_free(l->msrp_path);
    l->msrp_path = g_strdup(sylk_msrp_session_uri(st->msrp));
    g_free(l->setup);
    l->setup = g_strdup(setup);
    char **fields[] = {&l->accept_types, &l->accept_wrapped_types, &l->chatroom};
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        if (!st->local_attrs[i])
            continue;
        g_free(*fields[i]);
        *fields[i] = *st->local_attrs[i] ? g_strdup(st->local_attrs[i]) : NULL;
    }
    if (st->file_busy && st->file_fd >= 0)
        arm_file_receive(st); /* file_receive was called before the answer */
}

void sylk_session_accept_chat(struct sylk_session *s, struct sylk_stream *st)
{
    sylk_session_open_msrp(s, st, "passive");
}

/* A chat or file stream the peer disabled: its MSRP session goes (a pending file fails). */
void sylk_session_disable_msrp(struct sylk_session *s, unsigned index)
{
    for (unsigned i = 0; i < s->streams->len; i++) {
        struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        if (st->index != index || !st->msrp)
            continue;
        sylk_msrp_session_free(st->msrp);
        st->msrp = NULL;
        file_done(st, 408, NULL, 0);
    }
}

void sylk_stream_chat_set_handler(sylk_stream *st, const struct sylk_chat_handler *h, void *ud)
{
    if (!st)
        return;
    memset(&st->chat, 0, sizeof(st->chat));
    if (h)
        memcpy(&st->chat, h, MIN((size_t)h->struct_size, sizeof(st->chat)));
    st->chat_data = ud;
}

static int msrp_usable(sylk_stream *st, enum sylk_media_type type)
{
    if (!st || sylk_stream_type(st) != type)
        return -EINVAL;
    return !st->msrp || st->session->state == S_ENDING ? -ENOTCONN : 0;
}

/* The payload as it goes out: wrapped in CPIM with From, To, DateTime when cpim_from is set. */
static GBytes *chat_payload(const char *from, const char *to, const char *const *headers,
                            const char *content_type, const void *body, size_t len,
                            const char **type)
{
    if (!from) {
        *type = content_type;
        return g_bytes_new(body, len);
    }
    struct sylk_cpim c;
    sylk_cpim_init(&c);
    sylk_cpim_add(&c, "From", from);
    if (to)
        sylk_cpim_add(&c, "To", to);
    bool dated = false; /* a DateTime of the plugin's (a message replayed from history) */
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        dated |= g_ascii_strcasecmp(h[0], "DateTime") == 0;
    if (!dated) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format_iso8601(now);
        sylk_cpim_add(&c, "DateTime", stamp);
    }
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        sylk_cpim_add(&c, h[0], h[1]);
    sylk_cpim_add_content(&c, "Content-Type", content_type);
    sylk_cpim_set_body(&c, body ? body : "", len);
    GBytes *wrapped = sylk_cpim_format(&c);
    sylk_cpim_clear(&c);
    *type = "message/cpim";
    return wrapped;
}

/* A peer that does not take what it is sent (it stopped reading, or is away within its
 * reconnect window) gets no more than SYLK_MSRP_MAX_QUEUED_BYTES held for it: -ENOBUFS, and a
 * warning at most every 10 s per stream. */
static int has_room(sylk_stream *st, GBytes *payload)
{
    size_t len = g_bytes_get_size(payload);
    if (sylk_msrp_session_has_room(st->msrp, len))
        return 0;
    gint64 now = g_get_monotonic_time();
    if (now - st->full_warned_at >= 10 * G_USEC_PER_SEC) {
        st->full_warned_at = now;
        g_warning("session %s: chat messages of %u bytes or more wait for the peer; one of %zu "
                  "bytes refused (and others for 10 s, unlogged)",
                  st->session->request ? st->session->request->info.call_id : "?",
                  SYLK_MSRP_MAX_QUEUED_BYTES, len);
    }
    return -ENOBUFS;
}

int sylk_stream_chat_send(sylk_stream *st, const struct sylk_chat_send_params *params)
{
    struct sylk_chat_send_params p = {0};
    if (!st || !params || params->struct_size < offsetof(struct sylk_chat_send_params, cpim_from))
        return -EINVAL;
    memcpy(&p, params, MIN((size_t)params->struct_size, sizeof(p)));
    if (!p.content_type || (!p.body && p.body_len))
        return -EINVAL;
    int rc = msrp_usable(st, SYLK_MEDIA_CHAT);
    if (rc < 0)
        return rc;
    const char *type;
    g_autoptr(GBytes) payload = chat_payload(p.cpim_from, p.cpim_to, p.cpim_headers, p.content_type,
                                             p.body, p.body_len, &type);
    rc = has_room(st, payload);
    if (rc < 0)
        return rc;
    return sylk_msrp_session_send_message(st->msrp, type, payload, -1, 0, p.token) ? 0 : -ENOTCONN;
}

/* RFC 7701 section 4: the chat room lists "nickname" in a=chatroom when it takes NICKNAME. */
static bool peer_takes_nicknames(sylk_stream *st)
{
    const char *room = sylk_stream_remote_attribute(st, "chatroom");
    if (!room)
        return false;
    g_auto(GStrv) tokens = g_strsplit_set(room, " \t", -1);
    for (char **t = tokens; *t; t++) {
        if (g_ascii_strcasecmp(*t, "nickname") == 0)
            return true;
    }
    return false;
}

int sylk_stream_chat_send_nickname(sylk_stream *st, const char *nickname, void *token)
{
    if (!nickname || strlen(nickname) > SYLK_MSRP_MAX_NICKNAME ||
        !g_utf8_validate(nickname, -1, NULL))
        return -EINVAL;
    int rc = msrp_usable(st, SYLK_MEDIA_CHAT);
    if (rc < 0)
        return rc;
    if (!peer_takes_nicknames(st))
        return -EOPNOTSUPP;
    return sylk_msrp_session_send_nickname(st->msrp, nickname, token);
}

int sylk_stream_chat_refuse(sylk_stream *st, int status)
{
    if (!st || !st->in_message || status < 400 || status > 499)
        return -EINVAL;
    st->refuse_status = status;
    return 0;
}

int sylk_stream_chat_send_composing(sylk_stream *st, const struct sylk_chat_composing *composing)
{
    struct sylk_chat_composing p = {0};
    if (!composing || composing->struct_size < offsetof(struct sylk_chat_composing, cpim_headers))
        return -EINVAL;
    memcpy(&p, composing, MIN((size_t)composing->struct_size, sizeof(p)));
    int rc = msrp_usable(st, SYLK_MEDIA_CHAT);
    if (rc < 0)
        return rc;
    struct sylk_composing c = {
        .active = p.active, .content_type = (char *)p.content_type, .refresh = p.refresh};
    g_autofree char *xml = sylk_composing_format(&c);
    const char *type;
    g_autoptr(GBytes) payload = chat_payload(p.cpim_from, p.cpim_to, p.cpim_headers,
                                             SYLK_COMPOSING_TYPE, xml, strlen(xml), &type);
    rc = has_room(st, payload);
    if (rc < 0)
        return rc;
    return sylk_msrp_session_send_message(st->msrp, type, payload, -1, 0, NULL) ? 0 : -ENOTCONN;
}

/* ----------------------------------------------------- file transfer (RFC 5547) --- */

/* The transfer is over: the plugin hears it once. */
static void file_done(struct sylk_stream *st, int status, const char *hash, uint64_t size)
{
    if (!st->file_busy)
        return;
    st->file_busy = false;
    if (st->file_fd >= 0) {
        close(st->file_fd);
        st->file_fd = -1;
    }
    g_info("session %s: file transfer on stream %u: %d (%" G_GUINT64_FORMAT " bytes)",
           st->session->request->info.call_id, st->index, status, size);
    if (st->file.done)
        st->file.done(st, status, hash, size, st->file_data);
}

int sylk_stream_file_info(sylk_stream *st, struct sylk_file_info *info)
{
    if (!st || !info || sylk_stream_type(st) != SYLK_MEDIA_FILE_TRANSFER)
        return -EINVAL;
    struct sylk_file_info out = {.struct_size = sizeof(out)};
    const struct sylk_sdp_media *m = st->index < st->session->remote.count
                                         ? &st->session->remote.m[st->index]
                                         : sylk_session_stream_local(st);
    if (!st->selector_parsed) {
        g_autofree char *error = NULL;
        st->selector_bad = sylk_file_selector_parse(m->file_selector, &st->selector, &error) < 0;
        if (st->selector_bad)
            g_info("session %s: stream %u: %s", st->session->request->info.call_id, st->index,
                   error);
        st->selector_parsed = true;
    }
    out.name = st->selector.name;
    out.type = st->selector.type;
    out.size = st->selector.size;
    out.hash_sha1 = st->selector.hash_sha1;
    out.transfer_id = m->file_transfer_id;
    size_t n = MIN((size_t)info->struct_size, sizeof(out));
    uint32_t size = info->struct_size;
    memcpy(info, &out, n);
    info->struct_size = size;
    return 0;
}

static void set_file_handler(struct sylk_stream *st, const struct sylk_file_handler *h, void *ud)
{
    memset(&st->file, 0, sizeof(st->file));
    if (h)
        memcpy(&st->file, h, MIN((size_t)h->struct_size, sizeof(st->file)));
    st->file_data = ud;
}

/* The MSRP session takes the file of file_receive: its size bounds the message. */
static int arm_file_receive(struct sylk_stream *st)
{
    struct sylk_file_info info = {.struct_size = sizeof(info)};
    sylk_stream_file_info(st, &info);
    sylk_msrp_session_set_max_message(st->msrp, info.size ? info.size : SYLK_MSRP_MAX_MESSAGE);
    return sylk_msrp_session_receive_file(st->msrp, st->file_fd);
}

int sylk_stream_file_receive(sylk_stream *st, const char *path, const struct sylk_file_handler *h,
                             void *ud)
{
    if (!st || !path || sylk_stream_type(st) != SYLK_MEDIA_FILE_TRANSFER)
        return -EINVAL;
    enum state state = st->session->state;
    bool unanswered = state == S_INCOMING || state == S_EARLY;
    if (state == S_ENDING || (!st->msrp && !unanswered))
        return -ENOTCONN;
    if (st->file_busy)
        return -EBUSY;
    if (!(sylk_stream_direction(st) & SYLK_DIR_RECVONLY))
        return -EINVAL; /* the peer does not send on it */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    st->file_fd = fd;
    int rc = st->msrp ? arm_file_receive(st) : 0; /* else when the stream is accepted */
    if (rc < 0) {
        close(fd);
        st->file_fd = -1;
        return rc;
    }
    st->file_busy = true;
    set_file_handler(st, h, ud);
    return 0;
}

int sylk_stream_file_send(sylk_stream *st, const char *path, const struct sylk_file_handler *h,
                          void *ud)
{
    int rc = msrp_usable(st, SYLK_MEDIA_FILE_TRANSFER);
    if (!path || rc == -EINVAL)
        return -EINVAL;
    if (rc < 0)
        return rc;
    if (st->file_busy)
        return -EBUSY;
    if (!(sylk_stream_direction(st) & SYLK_DIR_SENDONLY))
        return -EINVAL; /* the peer does not receive on it */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    struct sylk_file_info info = {.struct_size = sizeof(info)};
    sylk_stream_file_info(st, &info);
    set_file_handler(st, h, ud);
    st->file_busy = true;
    st->file_size = (uint64_t)sb.st_size;
    /* the session owns fd from here on, whatever happens */
    if (!sylk_msrp_session_send_message(st->msrp,
                                        info.type ? info.type : "application/octet-stream", NULL,
                                        fd, st->file_size, &st->file_size)) {
        st->file_busy = false;
        close(fd);
        return -ENOTCONN;
    }
    return 0;
}
