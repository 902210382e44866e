/*
 * chat.c — one-to-one chat sessions across the gateway (RFC 7573): an XMPP conversation as a
 * SIP session with an MSRP chat stream, both ways. Main thread.
 *
 * A conversation is keyed by (SIP user's bare address, XMPP user's bare JID), as SylkServer
 * does: every resource of the XMPP user shares the session, and what the SIP side writes goes
 * to the full JID that wrote last (the bare JID until one has written).
 *
 * XMPP -> SIP (with use_msrp_for_chat): the first <message type='chat'/> with text to a SIP
 * user opens an INVITE with one MSRP chat stream through the outbound proxy (From the XMPP
 * user as a SIP URI with its resource in gr, To the SIP user); its messages and those that
 * follow wait (at most XGW_CHAT_MAX_QUEUED, in order) until the session is established, then
 * go as chat_send text/plain in CPIM (From/To as the MESSAGE path maps them). When the INVITE
 * fails (final >= 300, no answer, ended before being established) every waiting message goes,
 * in order, through im.c's MESSAGE path, whose error stanzas and receipts then apply (and the
 * conversation stays on MESSAGE for XGW_CHAT_REFUSED_S when it failed with a status); so does
 * a message chat_send refuses or whose `sent` reports a failure, and every message still
 * waiting for its `sent` when the session ends: nothing is lost (a message whose 200 was on
 * its way when the session ended may arrive twice). An XEP-0184 request is answered once
 * MSRP reports 200. Chat states map to is-composing on the session (composing <-> active,
 * paused/active/inactive <-> idle); without a session they stay with im.c.
 *
 * SIP -> XMPP: an INVITE with a chat stream (and no audio: Jingle is not this file's) from one
 * of our users to a remote XMPP user is accepted at once; its MSRP messages go out as chat
 * messages (text/plain or text/html, as MESSAGE bodies map), is-composing as chat states.
 *
 * A session with no message or composing either way for sip_session_timeout seconds is ended
 * with BYE; a session that ends after it was up sends the XMPP side <gone/>; an XMPP <gone/>
 * ends the session.
 */
#include "chat.h"

#include "chatstate.h"
#include "jingle.h"
#include "message.h"
#include "ns.h"

#include <string.h>

#define LOG_DOMAIN      "xmppgw-chat"
#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)

enum chat_phase {
    CHAT_PENDING, /* our INVITE waits for its answer */
    CHAT_UP,      /* established (or accepted, for a session the SIP side opened) */
    CHAT_ENDING,  /* BYE or CANCEL sent: `ended` follows */
};

/* A message sent on the stream, waiting for its `sent`. */
struct in_flight {
    guint token;
    struct xmpp_node *stanza;
    bool receipt;
};

struct chat {
    char *key;
    char *xmpp_to;    /* where messages to XMPP go: the last full JID that wrote, or bare */
    char *sip_jid;    /* the SIP user as a JID: `from` of what goes to XMPP */
    char *local_uri;  /* the XMPP user as a SIP URI: CPIM From */
    char *remote_uri; /* the SIP user: CPIM To */
    sylk_session *session;
    sylk_stream *stream;
    enum chat_phase phase;
    bool was_up;
    bool xmpp_ended;   /* the XMPP side said <gone/>: none is sent back */
    bool sip_active;   /* we told the SIP side "active" and not yet idle */
    bool sip_composes; /* the SIP side uses is-composing: messages to XMPP carry <active/> */
    GQueue queued;     /* struct xmpp_node *: waiting for the session, oldest first */
    GQueue in_flight;  /* struct in_flight *, oldest first */
    guint next_token;
    sylk_timer *idle;
    gint64 last_activity;
};

static struct {
    GHashTable *chats;   /* key -> struct chat */
    GHashTable *refused; /* key -> gint64 (monotonic us): no INVITE for it until then */
    bool stopping;
} cs;

/* After an INVITE of ours failed, the conversation stays on MESSAGE for this long: the SIP
 * side said it takes no session, and asking again with every message would only delay them. */
#define XGW_CHAT_REFUSED_S 300

static bool refused_lately(const char *key)
{
    gpointer until = g_hash_table_lookup(cs.refused, key);
    if (!until)
        return false;
    if (*(gint64 *)until > g_get_monotonic_time())
        return true;
    g_hash_table_remove(cs.refused, key);
    return false;
}

static void remember_refusal(const char *key)
{
    if (g_hash_table_size(cs.refused) >= XGW_CHAT_MAX_SESSIONS)
        g_hash_table_remove_all(cs.refused); /* a memory, not a promise */
    gint64 *until = g_new(gint64, 1);
    *until = g_get_monotonic_time() + (gint64)XGW_CHAT_REFUSED_S * G_USEC_PER_SEC;
    g_hash_table_replace(cs.refused, g_strdup(key), until);
}

static char *chat_key(const struct xmpp_jid *sip, const struct xmpp_jid *xmpp)
{
    g_autofree char *a = xmpp_jid_format(sip, false);
    g_autofree char *b = xmpp_jid_format(xmpp, false);
    return g_strconcat(a, " ", b, NULL);
}

static void in_flight_free(gpointer p)
{
    struct in_flight *f = p;
    xmpp_node_free(f->stanza);
    g_free(f);
}

static void chat_free(gpointer p)
{
    struct chat *c = p;
    if (c->idle)
        xgw_host()->timer_cancel(c->idle);
    g_queue_clear_full(&c->queued, (GDestroyNotify)xmpp_node_free);
    g_queue_clear_full(&c->in_flight, in_flight_free);
    g_free(c->key);
    g_free(c->xmpp_to);
    g_free(c->sip_jid);
    g_free(c->local_uri);
    g_free(c->remote_uri);
    g_free(c);
}

/* Everything that waits, in the order it was written (what is in flight came before what is
 * queued), through the MESSAGE path. */
static void fall_back(struct chat *c)
{
    struct in_flight *f;
    while ((f = g_queue_pop_head(&c->in_flight))) {
        xgw_im_xmpp_message_by_sip(g_steal_pointer(&f->stanza));
        in_flight_free(f);
    }
    struct xmpp_node *stanza;
    while ((stanza = g_queue_pop_head(&c->queued)))
        xgw_im_xmpp_message_by_sip(stanza);
}

/* ------------------------------------------------------------------ idleness --- */

static void end_session(struct chat *c)
{
    if (c->phase == CHAT_ENDING)
        return;
    c->phase = CHAT_ENDING;
    xgw_host()->session_terminate(c->session); /* `ended` follows */
}

static void arm_idle(struct chat *c, gint64 ms);

static void on_idle(sylk_timer *timer, void *user_data)
{
    (void)timer;
    struct chat *c = user_data;
    c->idle = NULL; /* freed by the host after this callback */
    gint64 limit = (gint64)xgw_config()->sip_session_timeout * G_USEC_PER_SEC;
    gint64 left = c->last_activity + limit - g_get_monotonic_time();
    if (left > 0) {
        arm_idle(c, left / 1000 + 1);
        return;
    }
    LOG(SYLK_LOG_INFO, "chat %s idle for %u s: ending it", c->key,
        xgw_config()->sip_session_timeout);
    end_session(c);
}

static void arm_idle(struct chat *c, gint64 ms)
{
    if (c->idle)
        xgw_host()->timer_cancel(c->idle);
    c->idle = xgw_host()->timer_add((unsigned)MIN(ms, G_MAXUINT), false, on_idle, c);
}

static void touch(struct chat *c)
{
    c->last_activity = g_get_monotonic_time();
}

/* ------------------------------------------------------------- XMPP -> SIP --- */

static void send_on_stream(struct chat *c, struct xmpp_node *stanza)
{
    struct xgw_xmpp_content content = {0};
    xgw_xmpp_content_read(stanza, &content);
    struct in_flight *f = g_new0(struct in_flight, 1);
    if (++c->next_token == 0)
        c->next_token = 1;
    f->token = c->next_token;
    f->receipt = content.receipt_request;
    const char *body = content.body ? content.body : "";
    const struct sylk_chat_send_params params = {
        .struct_size = sizeof(params),
        .content_type = "text/plain;charset=utf-8",
        .body = body,
        .body_len = strlen(body),
        .cpim_from = c->local_uri,
        .cpim_to = c->remote_uri,
        .token = GUINT_TO_POINTER(f->token),
    };
    int rc = xgw_host()->chat_send(c->stream, &params);
    xgw_xmpp_content_clear(&content);
    if (rc < 0) {
        LOG(SYLK_LOG_INFO, "chat %s: message not sent on the session (%d): by MESSAGE", c->key, rc);
        g_free(f);
        xgw_im_xmpp_message_by_sip(stanza);
        return;
    }
    f->stanza = stanza;
    g_queue_push_tail(&c->in_flight, f);
    c->sip_active = false; /* a message ends composing (RFC 3994 §3.3) */
}

static void send_composing(struct chat *c, enum xgw_chat_state state)
{
    bool active;
    if (!xgw_chat_state_to_composing(state, &active) || active == c->sip_active)
        return;
    c->sip_active = active;
    const struct sylk_chat_composing composing = {
        .struct_size = sizeof(composing),
        .active = active,
        .content_type = "text/plain",
        .refresh = active ? XGW_COMPOSING_REFRESH : 0,
        .cpim_from = c->local_uri,
        .cpim_to = c->remote_uri,
    };
    int rc = xgw_host()->chat_send_composing(c->stream, &composing);
    if (rc < 0)
        LOG(SYLK_LOG_DEBUG, "chat %s: is-composing not sent (%d)", c->key, rc);
}

static const struct sylk_session_handler session_handler;
static const struct sylk_chat_handler chat_handler;

/* The first chat stream of a session, or NULL. */
static sylk_stream *chat_stream(sylk_session *session, bool *audio)
{
    sylk_stream *chat = NULL;
    size_t n = xgw_host()->session_stream_count(session);
    for (size_t i = 0; i < n; i++) {
        sylk_stream *s = xgw_host()->session_stream(session, i);
        enum sylk_media_type type = xgw_host()->stream_type(s);
        if (type == SYLK_MEDIA_CHAT && !chat)
            chat = s;
        else if (type == SYLK_MEDIA_AUDIO && audio)
            *audio = true;
    }
    return chat;
}

static struct chat *start_outgoing(const struct xmpp_jid *from, const struct xmpp_jid *to,
                                   char *key)
{
    struct chat *c = g_new0(struct chat, 1);
    c->key = key;
    c->local_uri = xgw_map_sip_uri(from, true);
    c->remote_uri = xgw_map_sip_uri(to, true);
    c->sip_jid = xgw_map_jid(to, true);
    c->phase = CHAT_PENDING;
    g_queue_init(&c->queued);
    g_queue_init(&c->in_flight);
    enum sylk_media_type media = SYLK_MEDIA_CHAT;
    const struct sylk_session_params params = {
        .struct_size = sizeof(params),
        .from = c->local_uri,
        .to = c->remote_uri,
        .media = &media,
        .media_count = 1,
        .handler = &session_handler,
        .user_data = c,
    };
    if (c->local_uri && c->remote_uri)
        c->session = xgw_host()->session_connect(&params);
    if (c->session)
        c->stream = chat_stream(c->session, NULL);
    if (!c->stream) {
        LOG(SYLK_LOG_WARNING, "chat %s: no session could be started: by MESSAGE", c->key);
        if (c->session)
            xgw_host()->session_terminate(c->session);
        chat_free(c);
        return NULL;
    }
    xgw_host()->chat_set_handler(c->stream, &chat_handler, c);
    g_hash_table_insert(cs.chats, c->key, c);
    LOG(SYLK_LOG_INFO, "chat %s: INVITE from %s to %s", c->key, c->local_uri, c->remote_uri);
    return c;
}

bool xgw_chat_xmpp_message(struct xmpp_node *stanza)
{
    if (g_strcmp0(xmpp_node_attr(stanza, "type"), "chat") != 0)
        return false; /* normal messages are MESSAGEs (as SylkServer) */
    struct xmpp_jid from, to;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0)
        return false;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "to"), &to, NULL) < 0 || !to.local) {
        xmpp_jid_clear(&from);
        return false;
    }
    bool taken = false;
    struct xgw_xmpp_content content = {0};
    xgw_xmpp_content_read(stanza, &content);
    bool text = xgw_xmpp_content_has_text(&content);
    char *key = chat_key(&to, &from);
    struct chat *c = g_hash_table_lookup(cs.chats, key);
    if (!c && text && !cs.stopping && g_hash_table_size(cs.chats) < XGW_CHAT_MAX_SESSIONS &&
        !refused_lately(key))
        c = start_outgoing(&from, &to, g_steal_pointer(&key));
    g_free(key);
    if (!c || c->phase == CHAT_ENDING)
        goto out; /* no session: the MESSAGE path */
    g_free(c->xmpp_to);
    c->xmpp_to = xgw_map_jid(&from, true); /* replies go to who wrote last */
    touch(c);
    if (text) {
        if (c->phase == CHAT_UP) {
            send_on_stream(c, stanza);
            taken = true;
        } else if (g_queue_get_length(&c->queued) < XGW_CHAT_MAX_QUEUED) {
            g_queue_push_tail(&c->queued, stanza);
            taken = true;
        }
        goto out;
    }
    taken = true;
    if (content.state == XGW_CHAT_GONE) {
        LOG(SYLK_LOG_INFO, "chat %s: the XMPP side is gone: ending it", c->key);
        c->xmpp_ended = true;
        xmpp_node_free(stanza);
        end_session(c); /* may free c */
        goto out;
    }
    if (c->phase == CHAT_UP)
        send_composing(c, content.state);
    xmpp_node_free(stanza);
out:
    xgw_xmpp_content_clear(&content);
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
    return taken;
}

/* ------------------------------------------------------------- SIP -> XMPP --- */

static void to_xmpp(struct xmpp_node *stanza)
{
    if (stanza)
        xgw_send(stanza, NULL, NULL);
}

static struct xmpp_node *state_message(struct chat *c, enum xgw_chat_state state)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    g_autofree char *id = xgw_map_new_id();
    xmpp_node_set_attr(m, "from", c->sip_jid);
    xmpp_node_set_attr(m, "to", c->xmpp_to);
    xmpp_node_set_attr(m, "type", "chat");
    xmpp_node_set_attr(m, "id", id);
    xgw_chat_state_add(m, state);
    return m;
}

static void on_chat_message(sylk_stream *stream, const struct sylk_chat_message *msg,
                            void *user_data)
{
    struct chat *c = user_data;
    touch(c);
    struct xgw_sip_content content;
    const char *why = NULL;
    int status =
        xgw_sip_content_decode(msg->content_type, msg->body, msg->body_len, &content, &why);
    if (status) {
        LOG(SYLK_LOG_INFO, "chat %s: message of type %s refused: %d %s", c->key,
            msg->content_type ? msg->content_type : "-", status, why ? why : "");
        xgw_host()->chat_refuse(stream, status >= 400 && status < 500 ? status : 415);
        return;
    }
    if (content.kind == XGW_CONTENT_COMPOSING) {
        c->sip_composes = true;
        to_xmpp(state_message(c, xgw_chat_state_from_composing(content.composing.active)));
    } else {
        g_autofree char *id = msg->message_id ? g_strdup(msg->message_id) : xgw_map_new_id();
        to_xmpp(xgw_message_from_sip(c->sip_jid, c->xmpp_to, id, &content, content.subject, NULL,
                                     c->sip_composes ? XGW_CHAT_ACTIVE : XGW_CHAT_NONE));
    }
    xgw_sip_content_clear(&content);
}

static void on_chat_composing(sylk_stream *stream, const struct sylk_chat_composing *composing,
                              void *user_data)
{
    (void)stream;
    struct chat *c = user_data;
    touch(c);
    c->sip_composes = true;
    to_xmpp(state_message(c, xgw_chat_state_from_composing(composing->active)));
}

static void on_chat_sent(sylk_stream *stream, void *token, int status, void *user_data)
{
    (void)stream;
    struct chat *c = user_data;
    for (GList *l = c->in_flight.head; l; l = l->next) {
        struct in_flight *f = l->data;
        if (f->token != GPOINTER_TO_UINT(token))
            continue;
        g_queue_delete_link(&c->in_flight, l);
        if (status != 200) {
            LOG(SYLK_LOG_INFO, "chat %s: MSRP %d for a message: sending it by MESSAGE", c->key,
                status);
            xgw_im_xmpp_message_by_sip(g_steal_pointer(&f->stanza));
        } else if (f->receipt) {
            g_autofree char *id = xgw_map_new_id();
            to_xmpp(xgw_receipt_for(f->stanza, id));
        }
        in_flight_free(f);
        return;
    }
}

static void on_chat_closed(sylk_stream *stream, void *user_data)
{
    (void)stream;
    struct chat *c = user_data;
    LOG(SYLK_LOG_INFO, "chat %s: MSRP connection lost: ending the session", c->key);
    end_session(c);
}

/* ------------------------------------------------------------------ session --- */

static void on_established(sylk_session *session, void *user_data)
{
    (void)session;
    struct chat *c = user_data;
    if (c->phase == CHAT_ENDING)
        return;
    c->phase = CHAT_UP;
    c->was_up = true;
    touch(c);
    arm_idle(c, (gint64)xgw_config()->sip_session_timeout * 1000);
    LOG(SYLK_LOG_INFO, "chat %s: established, %u message(s) waited", c->key,
        g_queue_get_length(&c->queued));
    struct xmpp_node *stanza;
    while (c->phase == CHAT_UP && (stanza = g_queue_pop_head(&c->queued)))
        send_on_stream(c, stanza);
}

static void on_ended(sylk_session *session, int status, const char *reason, void *user_data)
{
    (void)session;
    struct chat *c = user_data;
    LOG(SYLK_LOG_INFO, "chat %s: ended %d %s%s", c->key, status, reason ? reason : "",
        c->was_up ? "" : " before it was established: its messages go by MESSAGE");
    g_hash_table_steal(cs.chats, c->key);
    if (!c->was_up && status >= 300)
        remember_refusal(c->key);
    fall_back(c);
    if (c->was_up && !c->xmpp_ended && c->xmpp_to)
        to_xmpp(state_message(c, XGW_CHAT_GONE));
    chat_free(c);
}

static const struct sylk_session_handler session_handler = {
    .struct_size = sizeof(session_handler),
    .established = on_established,
    .ended = on_ended,
};

static const struct sylk_chat_handler chat_handler = {
    .struct_size = sizeof(chat_handler),
    .message = on_chat_message,
    .closed = on_chat_closed,
    .composing = on_chat_composing,
    .sent = on_chat_sent,
};

void xgw_chat_sip_session(sylk_session *session)
{
    const struct sylk_request_info *info = xgw_host()->session_request(session);
    struct xmpp_jid from, to;
    const char *reason = NULL;
    int status = xgw_map_sip_parties(info, &from, &to, &reason);
    if (status) {
        xgw_host()->session_reject(session, status, reason);
        return;
    }
    bool audio = false;
    sylk_stream *stream = chat_stream(session, &audio);
    g_autofree char *key = chat_key(&from, &to);
    if (audio) { /* a call: Jingle (jingle_out.c) */
        xgw_jingle_sip_session(session, &from, &to);
    } else if (!stream) {
        LOG(SYLK_LOG_INFO, "INVITE %s: no chat stream: 488", key);
        xgw_host()->session_reject(session, 488, "Not Acceptable Here");
    } else if (g_hash_table_contains(cs.chats, key) || cs.stopping ||
               g_hash_table_size(cs.chats) >= XGW_CHAT_MAX_SESSIONS) {
        LOG(SYLK_LOG_INFO, "INVITE %s: a chat session exists or too many: 486", key);
        xgw_host()->session_reject(session, 486, "Busy Here");
    } else {
        struct chat *c = g_new0(struct chat, 1);
        c->key = g_steal_pointer(&key);
        c->sip_jid = xgw_map_jid(&from, true);
        c->xmpp_to = xgw_map_jid(&to, true); /* the bare JID unless the R-URI had gr */
        c->local_uri = xgw_map_sip_uri(&to, true);
        c->remote_uri = g_strdup(info->from_uri);
        c->session = session;
        c->stream = stream;
        c->phase = CHAT_UP;
        c->was_up = true;
        g_queue_init(&c->queued);
        g_queue_init(&c->in_flight);
        touch(c);
        g_hash_table_insert(cs.chats, c->key, c);
        xgw_host()->session_set_handler(session, &session_handler, c);
        xgw_host()->chat_set_handler(stream, &chat_handler, c);
        arm_idle(c, (gint64)xgw_config()->sip_session_timeout * 1000);
        int rc = xgw_host()->session_accept(session, &stream, 1);
        LOG(rc < 0 ? SYLK_LOG_WARNING : SYLK_LOG_INFO, "chat %s: INVITE from %s accepted: %d",
            c->key, info->from_uri, rc);
    }
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

/* ------------------------------------------------------------------- life --- */

void xgw_chat_init(void)
{
    cs.chats = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL);
    cs.refused = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    cs.stopping = false;
}

void xgw_chat_shutdown(void)
{
    cs.stopping = true;
    g_clear_pointer(&cs.refused, g_hash_table_unref);
    if (!cs.chats)
        return;
    LOG(SYLK_LOG_INFO, "chat sessions stop: %u left", g_hash_table_size(cs.chats));
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, cs.chats);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct chat *c = value;
        g_hash_table_iter_steal(&it);
        xgw_host()->session_set_handler(c->session, NULL, NULL);
        xgw_host()->chat_set_handler(c->stream, NULL, NULL);
        if (c->phase != CHAT_ENDING)
            xgw_host()->session_terminate(c->session);
        fall_back(c);
        chat_free(c);
    }
    g_clear_pointer(&cs.chats, g_hash_table_unref);
}

unsigned xgw_chat_count(void)
{
    return cs.chats ? g_hash_table_size(cs.chats) : 0;
}
