/*
 * muc_sip.c — the SIP side of an XMPP occupant (see muc.h): its session with the room, its chat
 * stream and its conference-info subscription. Main thread.
 *
 * The conference plugin (RFC 7702 style) replays its history right after the session is
 * established and keeps no marker on it: what comes before the self-presence is held and sent
 * as history (with <delay/>). It relays a public message to everyone but the sending session
 * (muc.c reflects groupchat itself), addresses private messages by user@host in CPIM To, and
 * sends full conference-info documents, whose successive user lists muc_sip.c turns into
 * occupant presence. A join is freed once both its session and its subscription are over.
 */
#include "muc.h"

#include "cpim.h"
#include "errmap.h"
#include "ns.h"
#include "router.h"
#include "xmldoc.h"

#include <errno.h>
#include <string.h>

#define LOG_DOMAIN      "xmppgw-muc"
#define LOG(level, ...) xgw_host()->log(LOG_DOMAIN, level, __VA_ARGS__)
#define CI_NS           "urn:ietf:params:xml:ns:conference-info"
#define MAX_CONFINFO    (1u << 20)

static void left(struct muc_join *j);

/* ------------------------------------------------------------------ helpers --- */

static bool same_uri(const char *a, const char *b)
{
    return a && b && g_ascii_strcasecmp(a, b) == 0;
}

static const char *without_scheme(const char *uri)
{
    const char *colon = strchr(uri, ':');
    return colon ? colon + 1 : uri;
}

/* The quoted display name of a CPIM From ("Carol" <sip:…>), or NULL. */
static char *display_name(const char *value)
{
    const char *q = value ? strchr(value, '"') : NULL;
    const char *end = q ? strchr(q + 1, '"') : NULL;
    return end && end > q + 1 ? g_strndup(q + 1, (gsize)(end - q - 1)) : NULL;
}

/* XEP-0082 in UTC (XEP-0203 wants it so) of a CPIM DateTime; now when it has none. */
static char *utc_stamp(const char *datetime)
{
    GDateTime *t = datetime ? g_date_time_new_from_iso8601(datetime, NULL) : NULL;
    if (!t)
        t = g_date_time_new_now_utc();
    GDateTime *utc = g_date_time_to_utc(t);
    char *s = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(utc);
    g_date_time_unref(t);
    return s;
}

/* ---------------------------------------------------------------- conference-info --- */

static bool only_invited(xmlNode *user)
{
    bool any = false;
    for (xmlNode *e = user->children; e; e = e->next) {
        if (!xgw_xml_is(e, CI_NS, "endpoint"))
            continue;
        g_autofree char *st = xgw_xml_text(xgw_xml_child(e, CI_NS, "status"), 64, true);
        if (!st || (strcmp(st, "dialing-out") != 0 && strcmp(st, "alerting") != 0 &&
                    strcmp(st, "pending") != 0))
            return false;
        any = true;
    }
    return any; /* a REFER's dial-out not answered yet: not in the room */
}

/* entity -> nickname of the users but us, and the subject; NULL for a document not read. */
static GHashTable *read_users(struct muc_join *j, const void *body, size_t len, char **subject)
{
    const char *why = NULL;
    xmlDoc *doc = xgw_xml_read(body, len, MAX_CONFINFO, &why);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !xgw_xml_is(root, CI_NS, "conference-info")) {
        LOG(SYLK_LOG_WARNING, "%s: conference-info of %s not read: %s", j->user, j->room_uri,
            why ? why : "not a conference-info document");
        xmlFreeDoc(doc);
        return NULL;
    }
    GHashTable *users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTable *nicks = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_add(nicks, j->nick);
    xmlNode *desc = xgw_xml_child(root, CI_NS, "conference-description");
    *subject = desc ? xgw_xml_text(xgw_xml_child(desc, CI_NS, "subject"), 4096, true) : NULL;
    xmlNode *list = xgw_xml_child(root, CI_NS, "users");
    for (xmlNode *u = list ? list->children : NULL; u; u = u->next) {
        if (!xgw_xml_is(u, CI_NS, "user"))
            continue;
        xmlChar *entity = xmlGetProp(u, (const xmlChar *)"entity");
        if (entity && !same_uri((char *)entity, j->user_uri) && !only_invited(u)) {
            char *nick = xgw_xml_text(xgw_xml_child(u, CI_NS, "display-text"), 1024, true);
            /* display names need not be unique: a clash shows the address instead */
            if (!nick || !*nick || g_hash_table_contains(nicks, nick)) {
                g_free(nick);
                nick = g_strdup(without_scheme((char *)entity));
            }
            g_hash_table_add(nicks, nick);
            g_hash_table_insert(users, g_ascii_strdown((char *)entity, -1), nick);
        }
        xmlFree(entity);
    }
    g_hash_table_destroy(nicks);
    xmlFreeDoc(doc);
    return users;
}

/* Presence for what changed between the last document and this one. */
static void occupants_changed(struct muc_join *j, GHashTable *now)
{
    GHashTableIter it;
    gpointer entity, nick;
    g_hash_table_iter_init(&it, j->occupants);
    while (g_hash_table_iter_next(&it, &entity, &nick))
        if (!g_hash_table_contains(now, entity))
            xgw_muc_send(j, xgw_muc_presence(j, nick, false, NULL, NULL));
    g_hash_table_iter_init(&it, now);
    while (g_hash_table_iter_next(&it, &entity, &nick)) {
        const char *was = g_hash_table_lookup(j->occupants, entity);
        if (was && strcmp(was, nick) != 0) { /* §7.6: the old one goes with 303 */
            int codes[] = {303, 0};
            xgw_muc_send(j, xgw_muc_presence(j, was, false, nick, codes));
        }
        if (!was || strcmp(was, nick) != 0)
            xgw_muc_send(j, xgw_muc_presence(j, nick, true, NULL, NULL));
    }
}

static void on_notify(sylk_outgoing_subscription *s, const char *state, const char *content_type,
                      const void *body, size_t len, void *user_data)
{
    (void)s, (void)state, (void)content_type;
    struct muc_join *j = user_data;
    char *subject = NULL;
    GHashTable *now = len ? read_users(j, body, len, &subject) : NULL;
    if (!now || j->state == MUC_LEAVING) {
        g_free(subject);
        if (now)
            g_hash_table_destroy(now);
        return;
    }
    g_free(j->subject);
    j->subject = subject;
    if (j->state == MUC_ENTERING) {
        g_hash_table_destroy(j->occupants);
        j->occupants = now;
        /* alone in it: the room began with this INVITE (the conference makes a room on its
         * first INVITE) */
        xgw_muc_entered(j, g_hash_table_size(now) == 0);
        return;
    }
    if (j->state == MUC_JOINED)
        occupants_changed(j, now);
    g_hash_table_destroy(j->occupants);
    j->occupants = now;
}

static void on_sub_ended(sylk_outgoing_subscription *s, int status, const char *reason,
                         void *user_data)
{
    (void)s;
    struct muc_join *j = user_data;
    j->sub = NULL;
    if (j->state == MUC_ENTERING) { /* no roster: enter with what we know */
        LOG(SYLK_LOG_WARNING, "%s: conference-info of %s refused: %d %s", j->user, j->room_uri,
            status, reason ? reason : "");
        xgw_muc_entered(j, false);
    }
    if (!j->session)
        xgw_muc_forget(j);
}

static const struct sylk_outgoing_subscription_handler sub_handler = {
    .struct_size = sizeof(sub_handler), .notify = on_notify, .ended = on_sub_ended};

static void subscribe(struct muc_join *j)
{
    struct sylk_subscribe_params p = {.struct_size = sizeof(p),
                                      .from = j->user_uri,
                                      .to = j->room_uri,
                                      .event = "conference",
                                      .accept = "application/conference-info+xml",
                                      .expires = 600,
                                      .handler = &sub_handler,
                                      .user_data = j};
    j->sub = xgw_host()->subscribe(&p);
    if (!j->sub)
        xgw_muc_entered(j, false);
}

/* ----------------------------------------------------------------------- chat --- */

static struct xmpp_node *chat_stanza(struct muc_join *j, const struct sylk_chat_message *m,
                                     const char *from_uri, bool private)
{
    char *nick = g_strdup(g_hash_table_lookup(j->occupants, from_uri));
    if (!nick)
        nick = display_name(m->cpim_from);
    if (!nick)
        nick = g_strdup(without_scheme(from_uri));
    struct xmpp_node *s = xmpp_node_new(XMPP_NS_SERVER, "message");
    g_autofree char *from = g_strconcat(j->room, "/", nick, NULL);
    g_free(nick);
    xmpp_node_set_attr(s, "from", from);
    xmpp_node_set_attr(s, "type", private ? "chat" : "groupchat");
    g_autofree char *id = g_uuid_string_random();
    xmpp_node_set_attr(s, "id", id);
    xmpp_node_add_text(xmpp_node_add_element(s, XMPP_NS_SERVER, "body"), m->body,
                       (gssize)m->body_len);
    if (private)
        xmpp_node_add_element(s, XGW_NS_MUC_USER, "x");
    return s;
}

static void on_chat(sylk_stream *stream, const struct sylk_chat_message *m, void *user_data)
{
    (void)stream;
    struct muc_join *j = user_data;
    g_autofree char *from = m->cpim_from ? xgw_cpim_address_uri(m->cpim_from) : NULL;
    g_autofree char *to = m->cpim_to ? xgw_cpim_address_uri(m->cpim_to) : NULL;
    if (!from || same_uri(from, j->room_uri) || same_uri(from, j->user_uri))
        return; /* room notices (presence says it), our own private copies */
    if (!m->content_type || g_ascii_strncasecmp(m->content_type, "text/plain", 10) != 0 ||
        !g_utf8_validate(m->body, (gssize)m->body_len, NULL)) {
        LOG(SYLK_LOG_INFO, "%s: a %s message in %s not carried to XMPP", j->user,
            m->content_type ? m->content_type : "-", j->room);
        return;
    }
    g_autofree char *key = g_ascii_strdown(from, -1);
    bool private = to && !same_uri(to, j->room_uri);
    if (private && !same_uri(to, j->user_uri))
        return;
    struct xmpp_node *s = chat_stanza(j, m, key, private);
    if (j->state == MUC_JOINED) {
        xgw_muc_send(j, s);
    } else if (!private && j->state != MUC_LEAVING) { /* the room's replay: history */
        struct xmpp_node *d = xmpp_node_add_element(s, XGW_NS_DELAY, "delay");
        xmpp_node_set_attr(d, "from", j->room);
        g_autofree char *stamp = utc_stamp(m->cpim_datetime);
        xmpp_node_set_attr(d, "stamp", stamp);
        g_ptr_array_add(j->history, s);
    } else {
        xmpp_node_free(s);
    }
}

static void nick_changed(struct muc_join *j, int status)
{
    g_autofree char *nick = g_steal_pointer(&j->new_nick);
    if (status != 200) {
        j->new_nick = g_steal_pointer(&nick); /* the error comes from the nick asked for */
        xgw_muc_join_error(
            j, status == 425 ? XMPP_STANZA_ERR_CONFLICT : XMPP_STANZA_ERR_NOT_ACCEPTABLE, NULL);
        g_clear_pointer(&j->new_nick, g_free);
        return;
    }
    int gone[] = {303, 110, 0}, here[] = {110, 0};
    xgw_muc_send(j, xgw_muc_presence(j, j->nick, false, nick, gone));
    xgw_muc_send(j, xgw_muc_presence(j, nick, true, NULL, here));
    g_free(j->nick);
    j->nick = g_steal_pointer(&nick);
}

static void on_nickname(sylk_stream *stream, void *token, int status, void *user_data)
{
    (void)stream, (void)token;
    struct muc_join *j = user_data;
    if (j->state == MUC_JOINED && j->new_nick) {
        nick_changed(j, status);
        return;
    }
    if (j->state != MUC_NAMING)
        return;
    if (status == 200) {
        j->state = MUC_ENTERING;
        subscribe(j);
        return;
    }
    LOG(SYLK_LOG_INFO, "%s: nickname %s refused by %s: %d", j->user, j->nick, j->room_uri, status);
    xgw_muc_join_error(j, status == 425 ? XMPP_STANZA_ERR_CONFLICT : XMPP_STANZA_ERR_NOT_ACCEPTABLE,
                       status == 425 ? "that nickname is in use" : NULL);
    xgw_muc_sip_leave(j);
}

static void on_chat_closed(sylk_stream *stream, void *user_data)
{
    (void)stream;
    struct muc_join *j = user_data;
    if (j->state == MUC_JOINED) { /* §9.9's removal on an error */
        int codes[] = {110, 333, 0};
        xgw_muc_send(j, xgw_muc_presence(j, j->nick, false, NULL, codes));
    }
    xgw_muc_sip_leave(j);
}

static const struct sylk_chat_handler chat_handler = {.struct_size = sizeof(chat_handler),
                                                      .message = on_chat,
                                                      .closed = on_chat_closed,
                                                      .nickname_result = on_nickname};

/* -------------------------------------------------------------------- session --- */

static void on_established(sylk_session *s, void *user_data)
{
    (void)s;
    struct muc_join *j = user_data;
    if (j->state != MUC_CONNECTING)
        return;
    j->state = MUC_NAMING;
    int rc = xgw_host()->chat_send_nickname(j->chat, j->nick, NULL);
    if (rc < 0) { /* a room without RFC 7701 nicknames: no XMPP occupant could be named */
        LOG(SYLK_LOG_WARNING, "%s: %s takes no nickname (%d)", j->user, j->room_uri, rc);
        xgw_muc_join_error(j, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "not a chat room");
        xgw_muc_sip_leave(j);
    }
}

static void on_ended(sylk_session *s, int status, const char *reason, void *user_data)
{
    (void)s;
    struct muc_join *j = user_data;
    j->session = NULL;
    j->chat = NULL;
    LOG(SYLK_LOG_INFO, "%s: session with %s over: %d %s", j->user, j->room_uri, status,
        reason ? reason : "");
    if (j->state == MUC_CONNECTING) {
        xgw_muc_join_error(
            j, status >= 300 ? xgw_condition_for(status) : XMPP_STANZA_ERR_SERVICE_UNAVAILABLE,
            reason);
    } else if (j->state == MUC_NAMING || j->state == MUC_ENTERING) {
        xgw_muc_join_error(j, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, reason);
    } else if (j->state == MUC_JOINED) { /* the room's BYE: removed (307), else an error (333) */
        int codes[] = {110, status == 200 ? 307 : 333, 0};
        xgw_muc_send(j, xgw_muc_presence(j, j->nick, false, NULL, codes));
    }
    left(j);
}

static const struct sylk_session_handler session_handler = {
    .struct_size = sizeof(session_handler), .established = on_established, .ended = on_ended};

int xgw_muc_sip_connect(struct muc_join *j)
{
    enum sylk_media_type media = SYLK_MEDIA_CHAT;
    struct sylk_session_params p = {.struct_size = sizeof(p),
                                    .from = j->user_uri,
                                    .to = j->room_uri,
                                    .media = &media,
                                    .media_count = 1,
                                    .handler = &session_handler,
                                    .user_data = j};
    j->session = xgw_host()->session_connect(&p);
    if (!j->session)
        return -EINVAL;
    j->chat = xgw_host()->session_stream(j->session, 0);
    xgw_host()->chat_set_handler(j->chat, &chat_handler, j);
    j->state = MUC_CONNECTING;
    return 0;
}

int xgw_muc_sip_adopt(struct muc_join *j, sylk_session *session)
{
    sylk_stream *chat = NULL;
    size_t n = xgw_host()->session_stream_count(session);
    for (size_t i = 0; i < n && !chat; i++) {
        sylk_stream *st = xgw_host()->session_stream(session, i);
        if (xgw_host()->stream_type(st) == SYLK_MEDIA_CHAT)
            chat = st;
    }
    if (!chat) {
        xgw_host()->session_reject(session, 488, "Not Acceptable Here");
        return -EPROTO;
    }
    j->session = session;
    j->chat = chat;
    xgw_host()->session_set_handler(session, &session_handler, j);
    xgw_host()->chat_set_handler(chat, &chat_handler, j);
    j->state = MUC_CONNECTING;
    int rc = xgw_host()->session_accept(session, &chat, 1); /* its audio is refused */
    if (rc < 0) {
        LOG(SYLK_LOG_WARNING, "%s: cannot answer the invitation of %s: %d", j->user, j->room_uri,
            rc);
        return rc; /* the core ends the session: on_ended reports the join's failure */
    }
    LOG(SYLK_LOG_INFO, "%s: joins %s on the room's invitation", j->user, j->room_uri);
    return 0;
}

/* The session is over: the subscription goes too, then the join. */
static void left(struct muc_join *j)
{
    j->state = MUC_LEAVING;
    if (j->sub)
        xgw_host()->unsubscribe(j->sub); /* its ended frees the join */
    else
        xgw_muc_forget(j);
}

void xgw_muc_sip_leave(struct muc_join *j)
{
    j->state = MUC_LEAVING;
    if (j->session)
        xgw_host()->session_terminate(j->session); /* ended follows */
    else
        left(j);
}

int xgw_muc_sip_say(struct muc_join *j, const char *to_uri, const char *body, size_t len)
{
    if (!j->chat)
        return -ENOTCONN;
    /* name-addr form: the room reads the address inside <> (its sender check, F.2) */
    g_autofree char *from = g_strdup_printf("<%s>", j->user_uri);
    g_autofree char *to = g_strdup_printf("<%s>", to_uri ? to_uri : j->room_uri);
    struct sylk_chat_send_params p = {.struct_size = sizeof(p),
                                      .content_type = "text/plain",
                                      .body = body,
                                      .body_len = len,
                                      .cpim_from = from,
                                      .cpim_to = to};
    return xgw_host()->chat_send(j->chat, &p);
}

int xgw_muc_sip_nick(struct muc_join *j, const char *nick)
{
    return j->chat ? xgw_host()->chat_send_nickname(j->chat, nick, NULL) : -ENOTCONN;
}

/* ------------------------------------------------------- does a room exist? --- */

#define MAX_PROBES 100

/* A message from a non-occupant, waiting to learn whether its room exists (XEP-0045 §7.4:
 * not-acceptable in a room, item-not-found for no room). */
struct probe {
    struct xmpp_node *message;
    bool exists;
};

static unsigned probes;

static void on_probe_notify(sylk_outgoing_subscription *sub, const char *state,
                            const char *content_type, const void *body, size_t len, void *user_data)
{
    (void)state;
    (void)content_type;
    (void)body;
    (void)len;
    struct probe *p = user_data;
    if (!p->exists) {
        p->exists = true; /* the room answered with its state: enough */
        xgw_host()->unsubscribe(sub);
    }
}

static void on_probe_ended(sylk_outgoing_subscription *sub, int status, const char *reason,
                           void *user_data)
{
    (void)sub;
    (void)reason;
    struct probe *p = user_data;
    bool exists = p->exists || status < 300;
    LOG(SYLK_LOG_INFO, "%s to %s: not an occupant (the room %s)",
        xmpp_node_attr(p->message, "from"), xmpp_node_attr(p->message, "to"),
        exists ? "exists" : "does not exist");
    xgw_router_refuse(
        p->message, exists ? XMPP_STANZA_ERR_NOT_ACCEPTABLE : XMPP_STANZA_ERR_ITEM_NOT_FOUND, NULL);
    xmpp_node_free(p->message);
    g_free(p);
    probes--;
}

static const struct sylk_outgoing_subscription_handler probe_handler = {
    .struct_size = sizeof(probe_handler), .notify = on_probe_notify, .ended = on_probe_ended};

void xgw_muc_sip_probe(const struct xmpp_node *m, const char *from_uri, const char *room_uri)
{
    struct probe *p = g_new0(struct probe, 1);
    p->message = xmpp_node_copy(m);
    struct sylk_subscribe_params sp = {.struct_size = sizeof(sp),
                                       .from = from_uri,
                                       .to = room_uri,
                                       .event = "conference",
                                       .accept = "application/conference-info+xml",
                                       .expires = 60,
                                       .handler = &probe_handler,
                                       .user_data = p};
    if (probes >= MAX_PROBES || !from_uri || !xgw_host()->subscribe(&sp)) {
        xgw_router_refuse(m, XMPP_STANZA_ERR_NOT_ACCEPTABLE, NULL);
        xmpp_node_free(p->message);
        g_free(p);
        return;
    }
    probes++;
}
