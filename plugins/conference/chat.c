/*
 * chat.c — the room's chat (MSRP, CPIM-wrapped): public messages relayed to everyone else and
 * kept for newcomers, private messages to one participant, is-composing relayed the same way,
 * nicknames (RFC 7701).
 *
 * A message is taken only when it is CPIM whose From is the sender's own address (403
 * otherwise), of a text or image type (415); a private message to nobody in the room gets
 * 404, to several people 403. The relayed copy's From carries the sender's nickname or display
 * name; its DateTime is the sender's.
 *
 * Thread: main thread.
 */
#include "policy.h"
#include "room.h"
#include "screen.h"

#include <string.h>

#define LOG(level, ...) conf_host()->log(CONF_NAME, level, __VA_ARGS__)

/* user@host of a CPIM address ("Name" <sip:a@b> or <sip:a@b>), or NULL. */
static char *cpim_key(const char *value)
{
    const char *lt = value ? strchr(value, '<') : NULL, *gt = lt ? strchr(lt, '>') : NULL;
    if (!lt || !gt || gt == lt + 1)
        return NULL;
    g_autofree char *uri = g_strndup(lt + 1, (gsize)(gt - lt - 1));
    return conf_uri_key(uri);
}

/* The CPIM To addresses of a message that are not the room: its recipients. */
static GPtrArray *recipients(const struct room *room, const char *const *headers)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (const char *const *h = headers; h && h[0]; h += 2) {
        if (g_ascii_strcasecmp(h[0], "To") != 0)
            continue;
        char *key = cpim_key(h[1]);
        if (key && strcmp(key, room->key) != 0)
            g_ptr_array_add(out, key);
        else
            g_free(key);
    }
    return out;
}

static bool relayable_type(const char *type)
{
    return type && (g_ascii_strncasecmp(type, "text/", 5) == 0 ||
                    g_ascii_strncasecmp(type, "image/", 6) == 0);
}

static void deliver(struct participant *to, const char *from, const char *to_addr,
                    const char *datetime, const char *type, const void *body, size_t len)
{
    if (!to->chat || !to->established || !conf_host()->stream_enabled(to->chat))
        return;
    const char *headers[] = {"DateTime", datetime, NULL};
    struct sylk_chat_send_params params = {
        .struct_size = sizeof(params),
        .content_type = type,
        .body = body,
        .body_len = len,
        .cpim_from = from,
        .cpim_to = to_addr,
        .cpim_headers = datetime ? headers : NULL,
    };
    int rc = conf_host()->chat_send(to->chat, &params);
    if (rc < 0)
        LOG(SYLK_LOG_DEBUG, "room %s: not delivered to %s: %d", to->room->uri, to->uri, rc);
}

static void history_entry_free(gpointer p)
{
    struct history_entry *e = p;
    g_free(e->from);
    g_free(e->datetime);
    g_free(e->content_type);
    g_bytes_unref(e->body);
    g_free(e);
}

static void remember(struct room *room, const char *from, const char *datetime, const char *type,
                     const void *body, size_t len)
{
    long size = conf_settings()->history_size;
    if (size <= 0)
        return;
    struct history_entry *e = g_new0(struct history_entry, 1);
    e->from = g_strdup(from);
    e->datetime = g_strdup(datetime);
    e->content_type = g_strdup(type);
    e->body = g_bytes_new(body, len);
    g_queue_push_tail(&room->history, e);
    while (g_queue_get_length(&room->history) > (guint)size)
        history_entry_free(g_queue_pop_head(&room->history));
}

void chat_history_clear(struct room *room)
{
    g_queue_clear_full(&room->history, history_entry_free);
}

void chat_replay_history(struct participant *p)
{
    for (GList *l = p->room->history.head; l; l = l->next) {
        struct history_entry *e = l->data;
        gsize len;
        const void *body = g_bytes_get_data(e->body, &len);
        deliver(p, e->from, p->room->uri, e->datetime, e->content_type, body, len);
    }
}

/* Checks common to messages and is-composing: 0, or the MSRP status to refuse with. */
static int check_sender(struct participant *p, bool cpim, const char *from)
{
    if (!cpim)
        return 415; /* the room takes message/cpim only (a=accept-types) */
    g_autofree char *key = cpim_key(from);
    if (!key || strcmp(key, p->key) != 0) {
        LOG(SYLK_LOG_INFO, "room %s: %s sent a message as %s: refused", p->room->uri, p->uri,
            from ? from : "(nobody)");
        return 403;
    }
    return 0;
}

static void chat_message(sylk_stream *stream, const struct sylk_chat_message *m, void *ud)
{
    struct participant *p = ud;
    struct room *room = p->room;
    int status = check_sender(p, m->cpim, m->cpim_from);
    if (!status && m->content_type &&
        g_ascii_strcasecmp(m->content_type, SCREEN_SHARING_TYPE) == 0) {
        status = screen_image(p, m->body, m->body_len); /* for the web page, not the chat */
        if (status != 200)
            conf_host()->chat_refuse(stream, status);
        return;
    }
    if (!status && !relayable_type(m->content_type))
        status = 415;
    g_autoptr(GPtrArray) to = status ? NULL : recipients(room, m->cpim_headers);
    if (to && to->len > 1)
        status = 403; /* one recipient at a time, as SylkServer */
    g_autoptr(GPtrArray) targets =
        to && to->len == 1 ? room_participants_of(room, to->pdata[0], NULL) : NULL;
    if (targets && targets->len == 0)
        status = 404;
    if (status) {
        conf_host()->chat_refuse(stream, status);
        return;
    }
    g_autofree char *from = participant_cpim_address(p);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    const char *datetime = m->cpim_datetime ? m->cpim_datetime : stamp;
    if (targets) { /* private: the addressee's sessions, and the sender's other ones */
        g_autofree char *to_addr = g_strdup_printf("<sip:%s>", (char *)to->pdata[0]);
        for (guint i = 0; i < targets->len; i++)
            deliver(targets->pdata[i], from, to_addr, datetime, m->content_type, m->body,
                    m->body_len);
        g_autoptr(GPtrArray) mine = room_participants_of(room, p->key, p);
        for (guint i = 0; i < mine->len; i++) {
            if (!g_ptr_array_find(targets, mine->pdata[i], NULL))
                deliver(mine->pdata[i], from, to_addr, datetime, m->content_type, m->body,
                        m->body_len);
        }
        return;
    }
    g_autofree char *room_addr = g_strdup_printf("<%s>", room->uri);
    for (guint i = 0; i < room->participants->len; i++) {
        struct participant *q = g_ptr_array_index(room->participants, i);
        if (q != p)
            deliver(q, from, room_addr, datetime, m->content_type, m->body, m->body_len);
    }
    remember(room, from, datetime, m->content_type, m->body, m->body_len);
}

static void send_composing(struct participant *to, const struct sylk_chat_composing *c,
                           const char *from, const char *to_addr)
{
    if (!to->chat || !to->established || !conf_host()->stream_enabled(to->chat))
        return;
    struct sylk_chat_composing out = *c;
    out.struct_size = sizeof(out);
    out.cpim_from = from;
    out.cpim_to = to_addr;
    out.cpim_headers = NULL;
    conf_host()->chat_send_composing(to->chat, &out);
}

static void chat_composing(sylk_stream *stream, const struct sylk_chat_composing *c, void *ud)
{
    struct participant *p = ud;
    struct room *room = p->room;
    (void)stream;
    if (check_sender(p, c->cpim_from != NULL, c->cpim_from))
        return; /* not worth refusing: nothing is relayed */
    g_autoptr(GPtrArray) to = recipients(room, c->cpim_headers);
    g_autofree char *from = participant_cpim_address(p);
    if (to->len == 1) {
        g_autofree char *to_addr = g_strdup_printf("<sip:%s>", (char *)to->pdata[0]);
        g_autoptr(GPtrArray) targets = room_participants_of(room, to->pdata[0], NULL);
        for (guint i = 0; i < targets->len; i++)
            send_composing(targets->pdata[i], c, from, to_addr);
        return;
    }
    g_autofree char *room_addr = g_strdup_printf("<%s>", room->uri);
    for (guint i = 0; i < room->participants->len; i++) {
        struct participant *q = g_ptr_array_index(room->participants, i);
        if (q != p)
            send_composing(q, c, from, room_addr);
    }
}

static int chat_nickname(sylk_stream *stream, const char *nickname, void *ud)
{
    struct participant *p = ud;
    struct room *room = p->room;
    (void)stream;
    for (guint i = 0; *nickname && i < room->participants->len; i++) {
        struct participant *q = g_ptr_array_index(room->participants, i);
        if (strcmp(q->key, p->key) != 0 && q->nickname &&
            g_utf8_collate(q->nickname, nickname) == 0) {
            LOG(SYLK_LOG_INFO, "room %s: nickname %s of %s is taken", room->uri, nickname, p->uri);
            return 425;
        }
    }
    g_autofree char *before = g_strdup(participant_name(p));
    /* every session of this user shows the same name */
    for (guint i = 0; i < room->participants->len; i++) {
        struct participant *q = g_ptr_array_index(room->participants, i);
        if (strcmp(q->key, p->key) == 0) {
            g_free(q->nickname);
            q->nickname = *nickname ? g_strdup(nickname) : NULL;
        }
    }
    if (strcmp(before, participant_name(p)) != 0) {
        room_notice(room, NULL, "%s is now known as %s", before, participant_name(p));
        room_changed(room);
    }
    return 200;
}

const struct sylk_chat_handler conf_chat_handler = {
    .struct_size = sizeof(struct sylk_chat_handler),
    .message = chat_message,
    .composing = chat_composing,
    .nickname = chat_nickname,
};
