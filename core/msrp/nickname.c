/*
 * nickname.c — the NICKNAME requests (RFC 7701) an MSRP session sends: each one a transaction
 * of its own (To-Path, From-Path, Use-Nickname as a quoted string; no Message-ID, Byte-Range or
 * report headers, as the RFC's examples and msrplib send it), answered within transaction_s or
 * failed 408. Requests made without a connection wait for one; a request on a connection that
 * is lost fails 408 rather than going again (the peer may have acted on it). The NICKNAMEs a
 * peer sends are answered in session.c.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/session_internal.h"

#include <errno.h>
#include <string.h>

struct nickname {
    struct sylk_msrp_session *s;
    char *tid;    /* while on the wire */
    char *quoted; /* the Use-Nickname value */
    void *token;
    guint timer; /* transaction_s from when it went on the wire */
};

static void nickname_free(struct nickname *n)
{
    if (n->timer)
        g_source_remove(n->timer);
    g_free(n->tid);
    g_free(n->quoted);
    g_free(n);
}

void sylk_msrp_nick_free_all(struct sylk_msrp_session *s)
{
    g_queue_clear_full(&s->nicknames, (GDestroyNotify)nickname_free);
}

/* Forgotten first, then told: the callback may send another one. */
static void nickname_done(struct sylk_msrp_session *s, struct nickname *n, int status)
{
    g_queue_remove(&s->nicknames, n);
    void *token = n->token;
    nickname_free(n);
    if (s->events->nickname_result)
        s->events->nickname_result(s, token, status, s->user_data);
}

static gboolean on_timeout(gpointer data)
{
    struct nickname *n = data;
    n->timer = 0;
    g_info("MSRP session %s: NICKNAME %s got no response in %u s", n->s->session_id, n->tid,
           n->s->transaction_s);
    nickname_done(n->s, n, 408);
    return G_SOURCE_REMOVE;
}

/* RFC 7701 Use-Nickname = quoted-string (RFC 4975's: '"' and '\' escaped with '\'). */
static char *quote(const char *nickname)
{
    GString *q = g_string_sized_new(strlen(nickname) + 2);
    g_string_append_c(q, '"');
    for (const char *p = nickname; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(q, '\\');
        g_string_append_c(q, *p);
    }
    g_string_append_c(q, '"');
    return g_string_free(q, FALSE);
}

static void put_on_wire(struct sylk_msrp_session *s, struct nickname *n)
{
    const char *headers[] = {"Use-Nickname", n->quoted, NULL};
    n->tid = sylk_msrp_session_ident(s, 12);
    g_autoptr(GBytes) wire =
        sylk_msrp_session_request(n->tid, "NICKNAME", s->peer_path, s->uri, headers, NULL, 0, '$');
    n->timer = g_timeout_add_seconds(s->transaction_s, on_timeout, n);
    sylk_msrp_conn_send(s->ep.conn, wire);
}

void sylk_msrp_nick_flush(struct sylk_msrp_session *s)
{
    struct sylk_msrp_conn *c = s->ep.conn;
    for (GList *l = s->nicknames.head; l && s->ep.conn == c && c; l = l->next) {
        struct nickname *n = l->data;
        if (!n->tid)
            put_on_wire(s, n);
    }
}

void sylk_msrp_nick_lost(struct sylk_msrp_session *s)
{
    GList *lost = NULL;
    for (GList *l = s->nicknames.head; l; l = l->next)
        if (((struct nickname *)l->data)->tid)
            lost = g_list_append(lost, l->data);
    for (GList *l = lost; l; l = l->next)
        nickname_done(s, l->data, 408);
    g_list_free(lost);
}

void sylk_msrp_nick_fail_all(struct sylk_msrp_session *s, int status)
{
    struct nickname *n;
    while ((n = g_queue_peek_head(&s->nicknames)))
        nickname_done(s, n, status);
}

bool sylk_msrp_nick_response(struct sylk_msrp_session *s, const struct sylk_msrp_frame *f)
{
    for (GList *l = s->nicknames.head; l; l = l->next) {
        struct nickname *n = l->data;
        if (n->tid && strcmp(n->tid, f->transaction_id) == 0) {
            g_debug("MSRP session %s: NICKNAME %s answered %d", s->session_id, n->tid, f->status);
            nickname_done(s, n, f->status);
            return true;
        }
    }
    return false;
}

int sylk_msrp_session_send_nickname(struct sylk_msrp_session *s, const char *nickname, void *token)
{
    if (!nickname || strlen(nickname) > SYLK_MSRP_MAX_NICKNAME ||
        !g_utf8_validate(nickname, -1, NULL) || strpbrk(nickname, "\r\n"))
        return -EINVAL;
    if (!s->have_peer || s->gone)
        return -ENOTCONN;
    struct nickname *n = g_new0(struct nickname, 1);
    n->s = s;
    n->quoted = quote(nickname);
    n->token = token;
    g_queue_push_tail(&s->nicknames, n);
    if (s->ep.conn)
        put_on_wire(s, n);
    return 0;
}
