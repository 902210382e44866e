/*
 * im.c — instant messages and chat states across the gateway (RFC 7572, XEP-0085 <-> RFC
 * 3994, XEP-0184). Main thread.
 *
 * SIP MESSAGE -> XMPP <message type='chat'>: the final response waits for the outcome. A
 * stanza the transport could not hand to the next XMPP hop is refused with the RFC 7247 status
 * for its condition (remote-server-not-found 404, remote-server-timeout 408,
 * service-unavailable 503). Once it is written, the response waits for an error stanza about it
 * (an XMPP server answers at once for an unknown user) until the next hop has answered a ping
 * written after it (barrier.h: one round trip) and XGW_MESSAGE_GRACE_MS more for an error from
 * the recipient's client, or XGW_MESSAGE_HOLD_MS when no answer comes: until then the error maps
 * to its status; after it the MESSAGE gets 200 ("accepted by the next hop", RFC 3428 §7), and a
 * later error can only be logged. No outcome within
 * XGW_MESSAGE_OUTCOME_MS: 408. An is-composing MESSAGE gets 200 at once (a typing notice lost
 * on the way is harmless).
 *
 * XMPP <message/> -> SIP MESSAGE (through the core: [sip] outbound_proxy or the Request-URI's
 * route): its SIP failure comes back as an error stanza with the RFC 7247 condition; a 200 is
 * answered with the XEP-0184 receipt the sender asked for. A 200 to a MESSAGE comes from the
 * recipient's user agent (RFC 3428 §7 asks relays and store-and-forward servers to answer
 * 202), so it is the "received by the recipient's client" XEP-0184 means; a 202 or other 2xx
 * gets no receipt. (Nothing is ever "displayed": that is XEP-0333, not carried.) A 415 to a
 * MESSAGE in another type than text/plain (CPIM, HTML) is followed by one more in text/plain
 * with the message's text, as RFC 3428 §7 lets a UAC do (many SIP user agents take nothing
 * else); a 415 to an is-composing one (after its CPIM wrapping went) makes the conversation
 * stop sending chat states to SIP. A chat state that fails is only logged. Messages of
 * type groupchat get service-unavailable; error messages answer our SIP MESSAGEs or are
 * dropped; messages with neither text nor a chat state (receipts, markers) are dropped.
 *
 * Chat states: a conversation (XMPP bare JID, SIP address) remembers whether an is-composing
 * "active" was sent to SIP (so that idle is sent only to end one) and the last chat state sent
 * to XMPP (no repeats, XEP-0085 §5.2); content messages to XMPP carry <active/> once the SIP
 * side has used is-composing (XEP-0085 §5.1). Memories unused for XGW_CONVERSATION_IDLE_S are
 * forgotten.
 *
 * With use_msrp_for_chat, chat messages go to chat.c first (RFC 7573 sessions); what it does not
 * take, and what it gives back when a session fails, comes here (xgw_im_xmpp_message_by_sip).
 */
#include "barrier.h"
#include "chat.h"
#include "chatstate.h"
#include "cpim.h"
#include "errmap.h"
#include "mapping.h"
#include "message.h"

#include <string.h>

#define LOG_DOMAIN          "xmppgw-im"
#define XGW_MESSAGE_HOLD_MS 2000
/* After the barrier: the recipient's own client may still refuse the message (its server
 * routed it, the client answers with an error), one more hop away. */
#define XGW_MESSAGE_GRACE_MS    250
#define XGW_MESSAGE_OUTCOME_MS  25000 /* within the core's 30 s limit for our response */
#define XGW_CONVERSATION_IDLE_S 900

#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)

/* A SIP MESSAGE sent on as a stanza, waiting for its outcome. */
struct pending_in {
    guint serial;
    sylk_message *message;
    char *id;    /* the stanza's id */
    char *peer;  /* the stanza's to, bare: an error about it comes from there */
    char *local; /* the stanza's from domain (ours): the barrier's pair with peer's */
    sylk_timer *timer;
    bool written; /* the next hop has it: the hold runs */
};

/* An XMPP message sent on as a SIP MESSAGE, waiting for the response. */
struct pending_out {
    guint serial;
    struct xmpp_node *stanza; /* the message, without children but <request/> */
    bool receipt;
    bool composing; /* an is-composing MESSAGE: its failure is only logged */
    char *from_uri; /* the MESSAGE's From and To, for a second try */
    char *to_uri;
    char *headers;    /* its extra headers, or NULL */
    char *retry_type; /* after a 415: the type of the second try, or NULL for none */
    GString *retry_body;
    char *first_type; /* while it waits for its turn (XGW_SIP_WINDOW): what it sends first */
    GString *first_body;
};

struct conversation {
    bool sip_active;       /* we told SIP "active" and not yet idle */
    bool sip_no_composing; /* the SIP side refused is-composing (415): none is sent */
    gint64 sip_active_at;
    bool sip_composes;             /* the SIP side sent is-composing */
    enum xgw_chat_state xmpp_last; /* last standalone state sent to XMPP */
    gint64 used;
};

static struct {
    GHashTable *in;            /* serial -> struct pending_in */
    GHashTable *out;           /* serial -> struct pending_out */
    GHashTable *conversations; /* "xmpp-bare sip-bare" -> struct conversation */
    guint serial;
    guint in_flight; /* MESSAGEs of `out` in transaction */
    GQueue waiting;  /* serials of `out` waiting for their turn, oldest first */
    bool paused;     /* we asked the transport to stop reading (xgw_inbound_pause) */
} im;

static guint next_serial(void)
{
    if (++im.serial == 0)
        im.serial = 1;
    return im.serial;
}

/* ------------------------------------------------------------ conversations --- */

static char *conversation_key(const struct xmpp_jid *xmpp, const struct xmpp_jid *sip)
{
    g_autofree char *a = xmpp_jid_format(xmpp, false);
    g_autofree char *b = xmpp_jid_format(sip, false);
    return g_strconcat(a, " ", b, NULL);
}

static gboolean stale(gpointer key, gpointer value, gpointer now)
{
    (void)key;
    const struct conversation *c = value;
    return *(gint64 *)now - c->used > (gint64)XGW_CONVERSATION_IDLE_S * G_USEC_PER_SEC;
}

/* The conversation's memory, made when create is set (NULL when the table is full). */
static struct conversation *conversation(const struct xmpp_jid *xmpp, const struct xmpp_jid *sip,
                                         bool create)
{
    g_autofree char *key = conversation_key(xmpp, sip);
    gint64 now = g_get_monotonic_time();
    struct conversation *c = g_hash_table_lookup(im.conversations, key);
    if (!c && create) {
        if (g_hash_table_size(im.conversations) >= XGW_MAX_CONVERSATIONS)
            g_hash_table_foreach_remove(im.conversations, stale, &now);
        if (g_hash_table_size(im.conversations) >= XGW_MAX_CONVERSATIONS)
            return NULL;
        c = g_new0(struct conversation, 1);
        g_hash_table_insert(im.conversations, g_steal_pointer(&key), c);
    }
    if (c)
        c->used = now;
    return c;
}

/* ------------------------------------------------------------- SIP -> XMPP --- */

static void pending_in_free(gpointer p)
{
    struct pending_in *pi = p;
    if (pi->timer)
        xgw_host()->timer_cancel(pi->timer);
    g_free(pi->id);
    g_free(pi->peer);
    g_free(pi->local);
    g_free(pi);
}

/* Answers the MESSAGE and forgets it. */
static void answer(struct pending_in *pi, int status, const char *reason)
{
    LOG(status < 300 ? SYLK_LOG_DEBUG : SYLK_LOG_INFO, "message %s to %s: SIP %d %s", pi->id,
        pi->peer, status, reason);
    xgw_host()->message_respond(pi->message, status, reason);
    g_hash_table_remove(im.in, GUINT_TO_POINTER(pi->serial));
}

static void answer_condition(struct pending_in *pi, enum xmpp_stanza_condition cond)
{
    const char *reason;
    int status = xgw_sip_status_for(cond, &reason);
    answer(pi, status, reason);
}

static void on_in_timer(sylk_timer *timer, void *user_data)
{
    (void)timer;
    struct pending_in *pi = g_hash_table_lookup(im.in, user_data);
    if (!pi)
        return;
    pi->timer = NULL; /* freed by the host after this callback */
    if (pi->written)
        answer(pi, 200, "OK");
    else
        answer(pi, 408, "Request Timeout");
}

static void on_in_sent(int status, enum xmpp_stanza_condition cond, void *user_data)
{
    struct pending_in *pi = g_hash_table_lookup(im.in, user_data);
    if (!pi)
        return; /* answered already (timeout) or the mapping stopped */
    if (status != 0) {
        LOG(SYLK_LOG_INFO, "message %s to %s not sent: %s", pi->id, pi->peer,
            xmpp_stanza_condition_name(cond));
        answer_condition(pi, cond);
        return;
    }
    pi->written = true;
    if (pi->timer)
        xgw_host()->timer_cancel(pi->timer);
    pi->timer = xgw_host()->timer_add(XGW_MESSAGE_HOLD_MS, false, on_in_timer, user_data);
    const char *at = strchr(pi->peer, '@');
    xgw_barrier_written(pi->local, at ? at + 1 : pi->peer, pi->serial);
}

/* The next hop answered a ping written after the message: an error about it would have come. */
static void on_barrier_passed(guint serial)
{
    struct pending_in *pi = g_hash_table_lookup(im.in, GUINT_TO_POINTER(serial));
    if (!pi || !pi->written)
        return;
    LOG(SYLK_LOG_DEBUG, "message %s to %s: the next hop answered the ping after it", pi->id,
        pi->peer);
    if (pi->timer)
        xgw_host()->timer_cancel(pi->timer);
    pi->timer =
        xgw_host()->timer_add(XGW_MESSAGE_GRACE_MS, false, on_in_timer, GUINT_TO_POINTER(serial));
}

/* An error stanza about a message we sent: the MESSAGE it came from, when still waiting. */
static bool error_for_pending(const struct xmpp_node *stanza)
{
    const char *id = xmpp_node_attr(stanza, "id");
    struct xmpp_jid from;
    if (!id || xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0)
        return false;
    g_autofree char *peer = xmpp_jid_format(&from, false);
    xmpp_jid_clear(&from);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, im.in);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct pending_in *pi = value;
        if (strcmp(pi->id, id) != 0 || strcmp(pi->peer, peer) != 0)
            continue;
        enum xmpp_stanza_condition cond;
        enum xmpp_error_type type;
        g_autofree char *text = NULL;
        if (!xmpp_stanza_error_read(stanza, &cond, &type, &text))
            cond = XMPP_STANZA_ERR_UNDEFINED_CONDITION;
        LOG(SYLK_LOG_INFO, "message %s to %s: error %s%s%s", id, peer,
            xmpp_stanza_condition_name(cond), text ? ": " : "", text ? text : "");
        answer_condition(pi, cond);
        return true;
    }
    return false;
}

/* Sends a message on and waits for its outcome to answer the MESSAGE. */
static void send_held(sylk_message *message, struct xmpp_node *stanza, const char *peer,
                      const char *local)
{
    if (g_hash_table_size(im.in) >= XGW_MAX_PENDING) {
        LOG(SYLK_LOG_WARNING, "too many messages waiting for XMPP: refusing one to %s", peer);
        xgw_host()->message_respond(message, 503, "Service Unavailable");
        xmpp_node_free(stanza);
        return;
    }
    struct pending_in *pi = g_new0(struct pending_in, 1);
    pi->serial = next_serial();
    pi->message = message;
    pi->id = g_strdup(xmpp_node_attr(stanza, "id"));
    pi->peer = g_strdup(peer);
    pi->local = g_strdup(local);
    g_hash_table_insert(im.in, GUINT_TO_POINTER(pi->serial), pi);
    pi->timer = xgw_host()->timer_add(XGW_MESSAGE_OUTCOME_MS, false, on_in_timer,
                                      GUINT_TO_POINTER(pi->serial));
    xgw_send(stanza, on_in_sent, GUINT_TO_POINTER(pi->serial));
}

/* A chat state for XMPP, or nothing when it would repeat the last one. */
static bool chat_state_wanted(struct conversation *c, enum xgw_chat_state state)
{
    if (!c)
        return true;
    c->sip_composes = true;
    if (c->xmpp_last == state)
        return false;
    c->xmpp_last = state;
    return true;
}

/* A decoded MESSAGE from `from` to `to` on to XMPP. */
static void forward_sip(sylk_message *message, const struct sylk_request_info *info,
                        const struct xmpp_jid *from, const struct xmpp_jid *to,
                        const struct xgw_sip_content *content)
{
    g_autofree char *f = xmpp_jid_format(from, true);
    g_autofree char *t = xmpp_jid_format(to, true);
    g_autofree char *peer = xmpp_jid_format(to, false);
    struct conversation *c = conversation(to, from, true);
    bool composing = content->kind == XGW_CONTENT_COMPOSING;
    enum xgw_chat_state state = XGW_CHAT_NONE;
    if (composing) {
        state = xgw_chat_state_from_composing(content->composing.active);
        if (!chat_state_wanted(c, state)) {
            xgw_host()->message_respond(message, 200, "OK");
            return;
        }
    } else if (c) {
        if (c->sip_composes)
            state = XGW_CHAT_ACTIVE; /* a content message ends composing (XEP-0085 §5.1) */
        c->xmpp_last = XGW_CHAT_ACTIVE;
    }
    g_autofree char *id = xgw_map_new_id();
    const char *subject = xgw_host()->request_header(info, "Subject");
    const char *lang = xgw_host()->request_header(info, "Content-Language");
    struct xmpp_node *stanza =
        xgw_message_from_sip(f, t, id, content, subject, lang, composing ? XGW_CHAT_NONE : state);
    LOG(SYLK_LOG_DEBUG, "MESSAGE %s -> <message id='%s'> from %s to %s", info->call_id, id, f, t);
    if (composing) {
        /* a typing notice is answered at once: losing one is harmless */
        xgw_send(stanza, NULL, NULL);
        xgw_host()->message_respond(message, 200, "OK");
    } else {
        send_held(message, stanza, peer, from->domain);
    }
}

void xgw_im_sip_message(sylk_message *message)
{
    const struct sylk_request_info *info = xgw_host()->message_request(message);
    struct xmpp_jid from, to;
    const char *reason = NULL;
    int status = xgw_map_sip_parties(info, &from, &to, &reason);
    if (status) {
        xgw_host()->message_respond(message, status, reason);
        return;
    }
    const char *type = xgw_host()->request_header(info, "Content-Type");
    struct xgw_sip_content content;
    const char *why = NULL;
    status = xgw_sip_content_decode(type, info->body, info->body_len, &content, &why);
    if (status) {
        LOG(SYLK_LOG_INFO, "MESSAGE from %s to %s (%s) refused: %d %s", info->from_uri,
            info->request_uri, type ? type : "no type", status, why);
        /* 415 wants an Accept header (RFC 3261 §21.4.13): the SDK cannot add one to a MESSAGE
         * response yet, so the phrase names what we take. */
        xgw_host()->message_respond(message, status,
                                    status == 415
                                        ? "Unsupported Media Type (Accept: " XGW_SIP_ACCEPT ")"
                                    : status == 413 ? "Request Entity Too Large"
                                                    : why);
    } else {
        forward_sip(message, info, &from, &to, &content);
        xgw_sip_content_clear(&content);
    }
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

/* ------------------------------------------------------------- XMPP -> SIP --- */

static void pending_out_free(gpointer p)
{
    struct pending_out *po = p;
    xmpp_node_free(po->stanza);
    g_free(po->from_uri);
    g_free(po->to_uri);
    g_free(po->headers);
    g_free(po->retry_type);
    if (po->retry_body)
        g_string_free(po->retry_body, TRUE);
    g_free(po->first_type);
    if (po->first_body)
        g_string_free(po->first_body, TRUE);
    g_free(po);
}

static void on_sip_result(int status, const char *reason, void *user_data);
static void send_waiting(void);

/* Sends the MESSAGE of po: 0, or the core's negative error. */
static int message_send(struct pending_out *po, const char *type, const GString *body)
{
    const struct sylk_message_params params = {
        .struct_size = sizeof(params),
        .from = po->from_uri,
        .to = po->to_uri,
        .content_type = type,
        .body = body->str,
        .body_len = body->len,
        .extra_headers = po->headers,
        .result = on_sip_result,
        .user_data = GUINT_TO_POINTER(po->serial),
    };
    return xgw_host()->message_send(&params);
}

/* After a 415: the second try, in text/plain (or is-composing unwrapped). True when sent. */
static bool send_again(struct pending_out *po)
{
    if (!po->retry_type)
        return false;
    g_autofree char *type = g_steal_pointer(&po->retry_type);
    g_autoptr(GString) body = g_steal_pointer(&po->retry_body);
    LOG(SYLK_LOG_INFO, "MESSAGE from %s to %s refused 415: sending it again as %s", po->from_uri,
        po->to_uri, type);
    return message_send(po, type, body) == 0;
}

/* The SIP side takes no is-composing: the conversation stops sending them. */
static void composing_refused(const struct pending_out *po)
{
    struct xmpp_jid x, s;
    if (xmpp_jid_parse(xmpp_node_attr(po->stanza, "from"), &x, NULL) == 0 &&
        xmpp_jid_parse(xmpp_node_attr(po->stanza, "to"), &s, NULL) == 0) {
        struct conversation *c = conversation(&x, &s, false);
        if (c)
            c->sip_no_composing = true;
        xmpp_jid_clear(&s);
    }
    xmpp_jid_clear(&x);
}

static void on_sip_result(int status, const char *reason, void *user_data)
{
    struct pending_out *po = g_hash_table_lookup(im.out, user_data);
    if (!po)
        return;
    const char *id = xmpp_node_attr(po->stanza, "id");
    LOG(status < 300 ? SYLK_LOG_DEBUG : SYLK_LOG_INFO, "message %s from %s: SIP %d %s",
        id ? id : "-", xmpp_node_attr(po->stanza, "from"), status, reason ? reason : "");
    if (status == 415 && send_again(po))
        return; /* its result comes to this callback again */
    struct xmpp_node *reply = NULL;
    if (po->composing) {
        /* a lost typing notice is harmless: no error for the sender */
        if (status == 415)
            composing_refused(po);
    } else if (status >= 300) {
        g_autofree char *text = g_strdup_printf("SIP %d %s", status, reason ? reason : "");
        reply = xmpp_stanza_error_reply(po->stanza, xgw_condition_for(status), text);
    } else if (status == 200 && po->receipt) {
        g_autofree char *rid = xgw_map_new_id();
        reply = xgw_receipt_for(po->stanza, rid);
    }
    if (reply)
        xgw_send(reply, NULL, NULL);
    g_hash_table_remove(im.out, user_data);
    im.in_flight--;
    send_waiting();
}

static void refuse(const struct xmpp_node *stanza, enum xmpp_stanza_condition cond,
                   const char *text)
{
    struct xmpp_node *reply = xmpp_stanza_error_reply(stanza, cond, text);
    if (reply)
        xgw_send(reply, NULL, NULL);
}

/* What the sender needs to hear back: the message's address, id, type and receipt request. */
static struct xmpp_node *keep_for_reply(const struct xmpp_node *stanza)
{
    struct xmpp_node *keep = xmpp_node_new(stanza->ns, stanza->name);
    static const char *const attrs[] = {"from", "to", "id", "type"};
    for (guint i = 0; i < G_N_ELEMENTS(attrs); i++)
        if (xmpp_node_attr(stanza, attrs[i]))
            xmpp_node_set_attr(keep, attrs[i], xmpp_node_attr(stanza, attrs[i]));
    return keep;
}

/* Starts what waits, in order, while the window has room; pauses or resumes reading XMPP. */
static void send_waiting(void)
{
    while (im.in_flight < XGW_SIP_WINDOW && !g_queue_is_empty(&im.waiting)) {
        gpointer key = g_queue_pop_head(&im.waiting);
        struct pending_out *po = g_hash_table_lookup(im.out, key);
        if (!po)
            continue;
        g_autofree char *type = g_steal_pointer(&po->first_type);
        g_autoptr(GString) body = g_steal_pointer(&po->first_body);
        int rc = message_send(po, type, body);
        if (rc < 0) {
            LOG(SYLK_LOG_WARNING, "MESSAGE from %s to %s not sent: %d", po->from_uri, po->to_uri,
                rc);
            refuse(po->stanza, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, NULL);
            g_hash_table_remove(im.out, key);
            continue;
        }
        im.in_flight++;
    }
    guint waiting = g_queue_get_length(&im.waiting);
    if (!im.paused && waiting >= XGW_SIP_WAITING_HIGH) {
        im.paused = true;
        xgw_inbound_pause(true);
    } else if (im.paused && waiting <= XGW_SIP_WAITING_LOW) {
        im.paused = false;
        xgw_inbound_pause(false);
    }
}

/* The is-composing MESSAGE for a chat state, or nothing (state unchanged, or idle with no
 * active to end). */
static bool composing_wanted(struct conversation *c, enum xgw_chat_state state, bool *active)
{
    if (!xgw_chat_state_to_composing(state, active))
        return false;
    if (!c)
        return true;
    gint64 now = g_get_monotonic_time();
    if (*active && c->sip_active &&
        now - c->sip_active_at < (gint64)XGW_COMPOSING_REFRESH / 2 * G_USEC_PER_SEC)
        return false; /* still fresh on the SIP side */
    if (c->sip_no_composing || (!*active && !c->sip_active))
        return false;
    c->sip_active = *active;
    c->sip_active_at = now;
    return true;
}

/* The MESSAGE's body and *type for content (or an is-composing document when content is
 * NULL); po gets the extra headers and what a 415 would be answered with. */
static GString *message_body(struct pending_out *po, const struct xgw_xmpp_content *content,
                             bool composing_active, char **type)
{
    g_autofree char *now = xgw_datetime_now();
    bool cpim = xgw_config()->use_cpim;
    if (content) {
        GString *body = xgw_sip_body_for(content, cpim, po->from_uri, po->to_uri, now, type);
        po->headers = xgw_sip_headers_for(content);
        if (content->body && !g_str_has_prefix(*type, "text/plain")) {
            po->retry_type = g_strdup("text/plain;charset=utf-8");
            po->retry_body = g_string_new(content->body);
        }
        return body;
    }
    g_autofree char *doc = xgw_composing_format(composing_active, XGW_COMPOSING_REFRESH, now);
    if (!cpim) {
        *type = g_strdup(XGW_COMPOSING_TYPE);
        return g_string_new(doc);
    }
    po->retry_type = g_strdup(XGW_COMPOSING_TYPE);
    po->retry_body = g_string_new(doc);
    *type = g_strdup("message/cpim");
    return xgw_cpim_format(po->from_uri, po->to_uri, now, XGW_COMPOSING_TYPE, doc, strlen(doc));
}

static void send_to_sip(const struct xmpp_node *stanza, const struct xmpp_jid *from,
                        const struct xmpp_jid *to, const struct xgw_xmpp_content *content,
                        bool composing_active)
{
    g_autofree char *from_uri = xgw_map_sip_uri(from, true);
    g_autofree char *to_uri = xgw_map_sip_uri(to, true);
    if (!from_uri || !to_uri) {
        refuse(stanza, XMPP_STANZA_ERR_JID_MALFORMED, "address not mappable to SIP");
        return;
    }
    if (g_hash_table_size(im.out) >= XGW_MAX_PENDING) {
        LOG(SYLK_LOG_WARNING, "too many messages waiting for SIP: refusing one from %s",
            xmpp_node_attr(stanza, "from"));
        refuse(stanza, XMPP_STANZA_ERR_RESOURCE_CONSTRAINT, NULL);
        return;
    }
    struct pending_out *po = g_new0(struct pending_out, 1);
    po->serial = next_serial();
    po->stanza = keep_for_reply(stanza);
    po->receipt = content && content->receipt_request;
    po->composing = !content;
    po->from_uri = g_steal_pointer(&from_uri);
    po->to_uri = g_steal_pointer(&to_uri);
    po->first_body = message_body(po, content, composing_active, &po->first_type);
    g_hash_table_insert(im.out, GUINT_TO_POINTER(po->serial), po);
    g_queue_push_tail(&im.waiting, GUINT_TO_POINTER(po->serial));
    send_waiting();
}

/* An XMPP message on to SIP; `sessions`: a chat session (chat.c) may take it first. */
static void xmpp_message(struct xmpp_node *stanza, bool sessions)
{
    const char *type = xmpp_node_attr(stanza, "type");
    struct xmpp_jid from = {0}, to = {0};
    struct xgw_xmpp_content content = {0};
    if (g_strcmp0(type, "error") == 0) {
        if (!error_for_pending(stanza))
            LOG(SYLK_LOG_INFO, "error message from %s (id %s) matches no waiting MESSAGE",
                xmpp_node_attr(stanza, "from"), xmpp_node_attr(stanza, "id"));
        goto out;
    }
    if (g_strcmp0(type, "groupchat") == 0) {
        refuse(stanza, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "no groupchat to a user");
        goto out;
    }
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0 ||
        xmpp_jid_parse(xmpp_node_attr(stanza, "to"), &to, NULL) < 0 || !to.local) {
        refuse(stanza, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, NULL);
        goto out;
    }
    if (sessions && xgw_config()->use_msrp_for_chat && xgw_chat_xmpp_message(stanza)) {
        stanza = NULL; /* the chat session's now */
        goto out;
    }
    xgw_xmpp_content_read(stanza, &content);
    struct conversation *c = conversation(&from, &to, content.state != XGW_CHAT_NONE);
    if (xgw_xmpp_content_has_text(&content)) {
        if (c)
            c->sip_active = false; /* a message ends composing (RFC 3994 §3.3) */
        send_to_sip(stanza, &from, &to, &content, false);
        goto out;
    }
    bool active;
    if (composing_wanted(c, content.state, &active)) {
        send_to_sip(stanza, &from, &to, NULL, active);
        goto out;
    }
    LOG(SYLK_LOG_DEBUG, "message from %s to %s with nothing to carry (id %s)",
        xmpp_node_attr(stanza, "from"), xmpp_node_attr(stanza, "to"), xmpp_node_attr(stanza, "id"));
out:
    xgw_xmpp_content_clear(&content);
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
    xmpp_node_free(stanza);
}

void xgw_im_xmpp_message(struct xmpp_node *stanza)
{
    xmpp_message(stanza, true);
}

void xgw_im_xmpp_message_by_sip(struct xmpp_node *stanza)
{
    xmpp_message(stanza, false);
}

/* ------------------------------------------------------------------- life --- */

void xgw_im_init(void)
{
    im.in = g_hash_table_new_full(NULL, NULL, NULL, pending_in_free);
    im.out = g_hash_table_new_full(NULL, NULL, NULL, pending_out_free);
    im.conversations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_queue_init(&im.waiting);
    im.in_flight = 0;
    xgw_barrier_init(on_barrier_passed);
    im.paused = false;
}

void xgw_im_shutdown(void)
{
    /* the core answered the MESSAGEs still waiting (503) and reported the ones it sent;
     * those that never had their turn are refused here */
    for (GList *l = im.waiting.head; l; l = l->next) {
        struct pending_out *po = g_hash_table_lookup(im.out, l->data);
        if (po)
            refuse(po->stanza, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "gateway shutting down");
    }
    g_queue_clear(&im.waiting);
    if (im.paused)
        xgw_inbound_pause(false);
    im.paused = false;
    xgw_barrier_shutdown();
    g_clear_pointer(&im.in, g_hash_table_unref);
    g_clear_pointer(&im.out, g_hash_table_unref);
    g_clear_pointer(&im.conversations, g_hash_table_unref);
}

void xgw_im_counts(struct xgw_mapping_counts *counts)
{
    counts->pending_in = im.in ? g_hash_table_size(im.in) : 0;
    counts->pending_out = im.out ? g_hash_table_size(im.out) : 0;
    counts->conversations = im.conversations ? g_hash_table_size(im.conversations) : 0;
}
