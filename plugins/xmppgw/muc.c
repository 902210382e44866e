/*
 * muc.c — the XMPP side of the multi-user chat service (XEP-0045). See muc.h. Main thread.
 *
 * Stanzas to muc_prefix.DOMAIN come here from the router: disco of the service and of rooms,
 * join / nick change / leave presence, groupchat and private messages of occupants. What the
 * room says comes back from muc_sip.c through the builders below, in XEP-0045's order
 * (§7.2.3): the other occupants, the self-presence (110), the history, the subject.
 */
#include "muc.h"

#include "jingle.h"
#include "ns.h"
#include "router.h"

#include <string.h>

#define LOG_DOMAIN      "xmppgw-muc"
#define LOG(level, ...) xgw_host()->log(LOG_DOMAIN, level, __VA_ARGS__)
#define MAX_NICK        256 /* RFC 7701's limit on the SIP side */

static GHashTable *joins;    /* "full JID\nroom JID" -> struct muc_join * */
static GHashTable *detached; /* struct muc_join * leaving while the same occupant joins again */

static char *join_key(const char *user, const char *room)
{
    return g_strconcat(user, "\n", room, NULL);
}

void xgw_muc_init(void)
{
    joins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    detached = g_hash_table_new(g_direct_hash, g_direct_equal);
    xgw_muc_invite_init();
}

static void join_free(struct muc_join *j)
{
    g_free(j->user);
    g_free(j->user_uri);
    g_free(j->room);
    g_free(j->room_uri);
    g_free(j->nick);
    g_free(j->new_nick);
    g_free(j->join_id);
    g_free(j->subject);
    g_hash_table_destroy(j->occupants);
    g_ptr_array_free(j->history, true);
    g_free(j);
}

void xgw_muc_shutdown(void)
{
    /* the core ended every session and subscription before the plugins' shutdown: what is
     * left never got an INVITE out */
    GList *left = g_list_concat(g_hash_table_get_values(joins), g_hash_table_get_keys(detached));
    for (GList *l = left; l; l = l->next)
        join_free(l->data);
    g_list_free(left);
    xgw_muc_invite_shutdown();
    g_hash_table_destroy(joins);
    g_hash_table_destroy(detached);
    joins = NULL;
    detached = NULL;
}

void xgw_muc_forget(struct muc_join *j)
{
    g_autofree char *key = join_key(j->user, j->room);
    if (g_hash_table_lookup(joins, key) == j)
        g_hash_table_remove(joins, key);
    g_hash_table_remove(detached, j);
    join_free(j);
}

/* The occupant joins again while its last session is still being torn down: that one finishes
 * on its own (its end frees it), out of the way of the new join. */
static void detach(struct muc_join *j)
{
    g_autofree char *key = join_key(j->user, j->room);
    g_hash_table_remove(joins, key);
    g_hash_table_add(detached, j);
}

/* ------------------------------------------------------------------ stanzas out --- */

void xgw_muc_send(struct muc_join *j, struct xmpp_node *stanza)
{
    xmpp_node_set_attr(stanza, "to", j->user);
    xgw_send(stanza, NULL, NULL);
}

static char *occupant_jid(const struct muc_join *j, const char *nick)
{
    return g_strconcat(j->room, "/", nick, NULL);
}

struct xmpp_node *xgw_muc_presence(const struct muc_join *j, const char *nick, bool available,
                                   const char *new_nick, const int *codes)
{
    struct xmpp_node *p = xmpp_node_new(XMPP_NS_SERVER, "presence");
    g_autofree char *from = occupant_jid(j, nick);
    xmpp_node_set_attr(p, "from", from);
    if (!available)
        xmpp_node_set_attr(p, "type", "unavailable");
    struct xmpp_node *x = xmpp_node_add_element(p, XGW_NS_MUC_USER, "x");
    struct xmpp_node *item = xmpp_node_add_element(x, XGW_NS_MUC_USER, "item");
    /* nobody moderates the conference's rooms: every occupant is an equal participant; role
     * and affiliation are in every presence, unavailable ones included (§17.3) */
    xmpp_node_set_attr(item, "affiliation", "none");
    xmpp_node_set_attr(item, "role", available ? "participant" : "none");
    if (new_nick)
        xmpp_node_set_attr(item, "nick", new_nick);
    for (; codes && *codes; codes++) {
        char code[8];
        g_snprintf(code, sizeof(code), "%d", *codes);
        xmpp_node_set_attr(xmpp_node_add_element(x, XGW_NS_MUC_USER, "status"), "code", code);
    }
    return p;
}

static struct xmpp_node *presence_error(const char *from, const char *to, const char *by,
                                        const char *id, enum xmpp_stanza_condition cond,
                                        const char *text)
{
    struct xmpp_node *req = xmpp_node_new(XMPP_NS_SERVER, "presence");
    xmpp_node_set_attr(req, "from", from); /* the join, as the occupant sent it */
    xmpp_node_set_attr(req, "to", to);
    if (id)
        xmpp_node_set_attr(req, "id", id);
    struct xmpp_node *reply = xmpp_stanza_error_reply(req, cond, text);
    xmpp_node_free(req);
    /* slixmpp (and XEP-0045's examples) know a join error by the <x xmlns=muc/> in it */
    xmpp_node_append(reply, xmpp_node_new(XGW_NS_MUC, "x"));
    struct xmpp_node *err = xmpp_node_child(reply, XMPP_NS_SERVER, "error");
    if (err)
        xmpp_node_set_attr(err, "by", by);
    return reply;
}

void xgw_muc_join_error(struct muc_join *j, enum xmpp_stanza_condition cond, const char *text)
{
    g_autofree char *from = occupant_jid(j, j->new_nick ? j->new_nick : j->nick);
    xgw_send(presence_error(j->user, from, j->room, j->join_id, cond, text), NULL, NULL);
}

static void send_subject(struct muc_join *j)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", j->room);
    xmpp_node_set_attr(m, "type", "groupchat");
    g_autofree char *id = g_uuid_string_random();
    xmpp_node_set_attr(m, "id", id);
    struct xmpp_node *s = xmpp_node_add_element(m, XMPP_NS_SERVER, "subject");
    if (j->subject)
        xmpp_node_add_text(s, j->subject, -1);
    xgw_muc_send(j, m); /* always, empty when the room has none (§7.2.15) */
}

void xgw_muc_entered(struct muc_join *j, bool created)
{
    GHashTableIter it;
    gpointer entity, nick;
    g_hash_table_iter_init(&it, j->occupants);
    while (g_hash_table_iter_next(&it, &entity, &nick))
        xgw_muc_send(j, xgw_muc_presence(j, nick, true, NULL, NULL));
    int codes[] = {110, created ? 201 : 0, 0};
    struct xmpp_node *self = xgw_muc_presence(j, j->nick, true, NULL, codes);
    if (j->join_id)
        xmpp_node_set_attr(self, "id", j->join_id);
    xgw_muc_send(j, self);
    for (guint i = 0; i < j->history->len; i++)
        xgw_muc_send(j, g_ptr_array_index(j->history, i));
    g_ptr_array_set_free_func(j->history, NULL);
    g_ptr_array_set_size(j->history, 0);
    g_ptr_array_set_free_func(j->history, (GDestroyNotify)xmpp_node_free);
    send_subject(j);
    j->state = MUC_JOINED;
}

/* ---------------------------------------------------------------------- disco --- */

static void answer_iq(const struct xmpp_node *iq, const struct xmpp_jid *to)
{
    /* a Jingle call into the room (jingle.c); the room's own disco stays the room's */
    if (to->local && !xmpp_node_child(iq, "http://jabber.org/protocol/disco#info", "query") &&
        xgw_jingle_iq(iq))
        return;
    const char *type = xmpp_node_attr(iq, "type");
    if (g_strcmp0(type, "get") != 0 && g_strcmp0(type, "set") != 0)
        return;
    struct xmpp_node *q = xmpp_node_child(iq, "http://jabber.org/protocol/disco#info", "query");
    bool items = xmpp_node_child(iq, "http://jabber.org/protocol/disco#items", "query");
    if (!(q || items) || to->resource || strcmp(type, "get") != 0) {
        xgw_router_refuse(iq, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    struct xmpp_node *r = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(r, "from", xmpp_node_attr(iq, "to"));
    xmpp_node_set_attr(r, "to", xmpp_node_attr(iq, "from"));
    if (xmpp_node_attr(iq, "id"))
        xmpp_node_set_attr(r, "id", xmpp_node_attr(iq, "id"));
    xmpp_node_set_attr(r, "type", "result");
    if (items) { /* rooms come and go with their participants: none is listed */
        xmpp_node_add_element(r, "http://jabber.org/protocol/disco#items", "query");
        xgw_send(r, NULL, NULL);
        return;
    }
    const char *ns = "http://jabber.org/protocol/disco#info";
    struct xmpp_node *a = xmpp_node_add_element(r, ns, "query");
    struct xmpp_node *id = xmpp_node_add_element(a, ns, "identity");
    xmpp_node_set_attr(id, "category", "conference");
    xmpp_node_set_attr(id, "type", "text");
    xmpp_node_set_attr(id, "name", to->local ? to->local : "SylkServer Chat Service");
    const char *features[] = {
        ns, XGW_NS_MUC, "muc_temporary", "muc_open", "muc_unmoderated", "muc_semianonymous", NULL};
    for (const char **f = features; *f && (to->local || f - features < 2); f++)
        xmpp_node_set_attr(xmpp_node_add_element(a, ns, "feature"), "var", *f);
    xgw_send(r, NULL, NULL);
}

/* ------------------------------------------------------------------- presence --- */

static struct muc_join *find(const char *user, const char *room)
{
    g_autofree char *key = join_key(user, room);
    return g_hash_table_lookup(joins, key);
}

/* room@muc_prefix.DOMAIN is sip:room@DOMAIN (the router only hands us MUC domains) */
static char *room_uri_of(const struct xmpp_jid *to)
{
    const char *domain = to->domain + strlen(xgw_config()->muc_prefix) + 1;
    return g_strdup_printf("sip:%s@%s", to->local, domain);
}

/* The SIP address of a stanza's sender (its bare JID mapped), or NULL. */
static char *sender_uri(const struct xmpp_node *stanza)
{
    struct xmpp_jid from;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0)
        return NULL;
    struct xmpp_jid bare = {.local = from.local, .domain = from.domain};
    char *uri = xmpp_jid_to_sip_uri(&bare, false, NULL);
    xmpp_jid_clear(&from);
    return uri;
}

static bool nick_acceptable(const char *nick)
{
    /* a nickname the room shows as is: no markup, no control characters */
    if (strlen(nick) > MAX_NICK || !g_utf8_validate(nick, -1, NULL))
        return false;
    for (const char *c = nick; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '<' || *c == '>' || *c == '&')
            return false;
    return true;
}

static void join(const struct xmpp_node *p, const struct xmpp_jid *from, const struct xmpp_jid *to,
                 const char *room)
{
    const char *user = xmpp_node_attr(p, "from");
    if (g_hash_table_size(joins) >= XGW_MUC_MAX_JOINS) {
        xgw_send(presence_error(user, xmpp_node_attr(p, "to"), room, xmpp_node_attr(p, "id"),
                                XMPP_STANZA_ERR_RESOURCE_CONSTRAINT, NULL),
                 NULL, NULL);
        return;
    }
    struct muc_join *j = g_new0(struct muc_join, 1);
    j->user = g_strdup(user);
    struct xmpp_jid bare = {.local = from->local, .domain = from->domain};
    j->user_uri = xmpp_jid_to_sip_uri(&bare, false, NULL);
    j->room = g_strdup(room);
    j->room_uri = room_uri_of(to);
    j->nick = g_strdup(to->resource);
    j->join_id = g_strdup(xmpp_node_attr(p, "id"));
    j->occupants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    j->history = g_ptr_array_new_with_free_func((GDestroyNotify)xmpp_node_free);
    g_hash_table_insert(joins, join_key(j->user, j->room), j);
    LOG(SYLK_LOG_INFO, "%s joins %s as %s (%s -> %s)", j->user, j->room, j->nick, j->user_uri,
        j->room_uri);
    sylk_session *invited = j->user_uri ? xgw_muc_invite_take(j->room_uri, j->user_uri) : NULL;
    if (invited) {
        xgw_muc_sip_adopt(j, invited); /* a failure is reported by its session's end */
    } else if (!j->user_uri || xgw_muc_sip_connect(j) < 0) {
        xgw_muc_join_error(j, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, "the room cannot be reached");
        xgw_muc_forget(j);
    }
}

static void presence_in(const struct xmpp_node *p, const struct xmpp_jid *from,
                        const struct xmpp_jid *to, const char *room)
{
    const char *type = xmpp_node_attr(p, "type");
    struct muc_join *j = find(xmpp_node_attr(p, "from"), room);
    bool muc = xmpp_node_child(p, XGW_NS_MUC, "x") != NULL;
    if (type && (strcmp(type, "unavailable") == 0 || strcmp(type, "error") == 0)) {
        if (j && j->state != MUC_LEAVING) {
            if (j->state == MUC_JOINED) {
                int codes[] = {110, 0};
                xgw_muc_send(j, xgw_muc_presence(j, j->nick, false, NULL, codes));
            }
            xgw_muc_sip_leave(j);
        }
        return;
    }
    if (type) /* probe, subscribe…: no join (§17.3) */
        return;
    if (!to->resource || !nick_acceptable(to->resource)) {
        bool none = !to->resource;
        xgw_send(
            presence_error(xmpp_node_attr(p, "from"), xmpp_node_attr(p, "to"), room,
                           xmpp_node_attr(p, "id"),
                           none ? XMPP_STANZA_ERR_JID_MALFORMED : XMPP_STANZA_ERR_NOT_ACCEPTABLE,
                           none ? "a nickname is needed" : "nickname not acceptable"),
            NULL, NULL);
        return;
    }
    if (j && j->state == MUC_LEAVING && muc) {
        detach(j);
        j = NULL;
    }
    if (!j) {
        if (muc)
            join(p, from, to, room);
        return;
    }
    if (j->state != MUC_JOINED)
        return; /* a join in progress: its self-presence answers this one too */
    if (strcmp(j->nick, to->resource) == 0) { /* a join again: everything again (§7.2.2) */
        if (muc)
            xgw_muc_entered(j, false);
        return;
    }
    if (!j->new_nick && xgw_muc_sip_nick(j, to->resource) == 0)
        j->new_nick = g_strdup(to->resource);
}

/* ------------------------------------------------------------------- messages --- */

static void refuse(const struct xmpp_node *m, enum xmpp_stanza_condition cond)
{
    xgw_router_refuse(m, cond, NULL);
}

static const char *occupant_entity(struct muc_join *j, const char *nick)
{
    GHashTableIter it;
    gpointer entity, n;
    g_hash_table_iter_init(&it, j->occupants);
    while (g_hash_table_iter_next(&it, &entity, &n))
        if (strcmp(n, nick) == 0)
            return entity;
    return NULL;
}

static void message_in(const struct xmpp_node *m, const struct xmpp_jid *to, const char *room)
{
    const char *type = xmpp_node_attr(m, "type");
    if (g_strcmp0(type, "error") == 0)
        return; /* an occupant's server bounced one: its presence error or leave follows */
    struct muc_join *j = find(xmpp_node_attr(m, "from"), room);
    struct xmpp_node *b = xmpp_node_child(m, XMPP_NS_SERVER, "body");
    g_autofree char *body = b ? xmpp_node_text(b) : NULL;
    bool groupchat = g_strcmp0(type, "groupchat") == 0;
    if (groupchat && to->resource) {
        refuse(m, XMPP_STANZA_ERR_BAD_REQUEST); /* §7.5: private messages are not groupchat */
        return;
    }
    if (!groupchat && !to->resource) { /* invitations, declines */
        g_autofree char *room_uri = room_uri_of(to);
        if (!xgw_muc_invite_message(m, j && j->state == MUC_JOINED ? j : NULL, room_uri))
            refuse(m, XMPP_STANZA_ERR_FEATURE_NOT_IMPLEMENTED);
        return;
    }
    if (!j || j->state != MUC_JOINED) { /* §7.4: not an occupant, or no such room */
        if (j) {
            refuse(m, XMPP_STANZA_ERR_NOT_ACCEPTABLE);
        } else {
            g_autofree char *room_uri = room_uri_of(to);
            g_autofree char *from_uri = sender_uri(m);
            xgw_muc_sip_probe(m, from_uri, room_uri);
        }
        return;
    }
    if (!body) {
        if (groupchat && xmpp_node_child(m, XMPP_NS_SERVER, "subject"))
            refuse(m, XMPP_STANZA_ERR_FORBIDDEN); /* the conference's subject is fixed */
        return;                                   /* chat states and the like: not carried */
    }
    const char *entity = NULL;
    if (!groupchat && !(entity = occupant_entity(j, to->resource))) {
        refuse(m, XMPP_STANZA_ERR_ITEM_NOT_FOUND);
        return;
    }
    if (xgw_muc_sip_say(j, entity, body, strlen(body)) < 0) {
        refuse(m, XMPP_STANZA_ERR_RECIPIENT_UNAVAILABLE);
        return;
    }
    if (groupchat) { /* the conference relays to all but the sender: reflect it here */
        struct xmpp_node *echo = xmpp_node_copy(m);
        g_autofree char *from = occupant_jid(j, j->nick);
        xmpp_node_set_attr(echo, "from", from);
        xgw_muc_send(j, echo);
    }
}

/* --------------------------------------------------------------------- entry --- */

void xgw_muc_in(struct xmpp_node *stanza)
{
    struct xmpp_jid from = {0}, to = {0};
    char *room = NULL;
    if (xmpp_jid_parse(xmpp_node_attr(stanza, "from"), &from, NULL) < 0 ||
        xmpp_jid_parse(xmpp_node_attr(stanza, "to"), &to, NULL) < 0)
        goto out; /* the router checked both */
    struct xmpp_jid bare = {.local = to.local, .domain = to.domain};
    room = xmpp_jid_format(&bare, false);
    if (strcmp(stanza->name, "iq") == 0)
        answer_iq(stanza, &to);
    else if (!to.local) {
        if (strcmp(stanza->name, "message") == 0)
            refuse(stanza, XMPP_STANZA_ERR_FEATURE_NOT_IMPLEMENTED);
    } else if (strcmp(stanza->name, "presence") == 0)
        presence_in(stanza, &from, &to, room);
    else
        message_in(stanza, &to, room);
out:
    g_free(room);
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
    xmpp_node_free(stanza);
}
