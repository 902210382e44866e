/*
 * muc_invite.c — mediated invitations (XEP-0045 §7.8.2) in both directions, main thread.
 *
 * XMPP -> SIP: an occupant's <invite to='user@DOMAIN'/> (a SIP user we serve) becomes a REFER
 * (RFC 4579 §5.5) from the occupant's SIP address to the room with Refer-To
 * <sip:user@DOMAIN;method=INVITE>: the conference calls the invitee. When the REFER or the call
 * fails, the inviter gets a <decline/> from the invitee whose reason is the SIP status. An
 * invitation to any other address is sent on by the room, as XEP-0045 says.
 *
 * SIP -> XMPP: the room's INVITE to an XMPP user (From one of our rooms, Contact isfocus: the
 * conference calling after a SIP participant's REFER) becomes the room's <invite from='referrer'/>
 * to the user's bare JID, and the INVITE rings. The user's <decline/> answers it 603. When the user
 * joins the room (any resource), the gateway answers that INVITE with the occupant's chat stream
 * and it becomes the occupant's session (muc_sip.c): the conference counts the occupant as
 * dialed-out and the referrer's NOTIFY says 200. Unanswered, the core ends it (408) after 32 s.
 */
#include "muc.h"

#include "mapping.h"
#include "ns.h"
#include "router.h"

#include <string.h>

#define LOG_DOMAIN      "xmppgw-muc"
#define LOG(level, ...) xgw_host()->log(LOG_DOMAIN, level, __VA_ARGS__)
#define MAX_INVITATIONS 1000 /* each direction */

/* A REFER we sent for an occupant's invitation. */
struct refer {
    sylk_outgoing_referral *referral;
    char *room;    /* the room's bare JID: the decline's from */
    char *inviter; /* the occupant's full JID: the decline's to */
    char *invitee; /* the invitee's bare JID */
};

/* The room's INVITE to an XMPP user, ringing until the user joins or declines. */
struct invitation {
    char *key; /* "room_uri user_uri" */
    char *room;
    char *referrer; /* user@host of Referred-By: the invitation's from */
    sylk_session *session;
};

static struct {
    GHashTable *refers;      /* struct refer * (set) */
    GHashTable *invitations; /* key -> struct invitation */
} inv;

static char *invitation_key(const char *room_uri, const char *user_uri)
{
    return g_strdup_printf("%s %s", room_uri, user_uri);
}

static void refer_free(struct refer *r)
{
    g_free(r->room);
    g_free(r->inviter);
    g_free(r->invitee);
    g_free(r);
}

static void invitation_free(gpointer p)
{
    struct invitation *i = p;
    g_free(i->key);
    g_free(i->room);
    g_free(i->referrer);
    g_free(i);
}

void xgw_muc_invite_init(void)
{
    inv.refers = g_hash_table_new(g_direct_hash, g_direct_equal);
    inv.invitations = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, invitation_free);
}

void xgw_muc_invite_shutdown(void)
{
    GHashTableIter it;
    gpointer r;
    if (inv.refers) {
        g_hash_table_iter_init(&it, inv.refers);
        while (g_hash_table_iter_next(&it, &r, NULL)) {
            xgw_host()->refer_cancel(((struct refer *)r)->referral);
            refer_free(r);
        }
    }
    if (inv.invitations) { /* the sessions end with the server's shutdown */
        g_hash_table_iter_init(&it, inv.invitations);
        while (g_hash_table_iter_next(&it, NULL, &r))
            xgw_host()->session_set_handler(((struct invitation *)r)->session, NULL, NULL);
    }
    g_clear_pointer(&inv.refers, g_hash_table_unref);
    g_clear_pointer(&inv.invitations, g_hash_table_unref);
}

/* <message from=room to=to><x muc#user><NAME ATTR=value>[<reason/>]</NAME></x></message> */
static struct xmpp_node *muc_user_message(const char *room, const char *to, const char *name,
                                          const char *attr, const char *value, const char *reason)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", room);
    xmpp_node_set_attr(m, "to", to);
    g_autofree char *id = g_uuid_string_random();
    xmpp_node_set_attr(m, "id", id);
    struct xmpp_node *x = xmpp_node_add_element(m, XGW_NS_MUC_USER, "x");
    struct xmpp_node *el = xmpp_node_add_element(x, XGW_NS_MUC_USER, name);
    xmpp_node_set_attr(el, attr, value);
    if (reason && *reason)
        xmpp_node_add_text(xmpp_node_add_element(el, XGW_NS_MUC_USER, "reason"), reason, -1);
    return m;
}

/* The room tells the inviter that the invitee declined (or could not be invited). */
static void send_decline(const char *room, const char *inviter, const char *invitee,
                         const char *reason)
{
    xgw_send(muc_user_message(room, inviter, "decline", "from", invitee, reason), NULL, NULL);
}

/* ------------------------------------------------------------ XMPP -> SIP --- */

static void on_refer_progress(sylk_outgoing_referral *referral, int status, const char *reason,
                              void *user_data)
{
    (void)referral;
    struct refer *r = user_data;
    LOG(SYLK_LOG_DEBUG, "%s invites %s to %s: %d %s", r->inviter, r->invitee, r->room, status,
        reason ? reason : "");
}

static void on_refer_ended(sylk_outgoing_referral *referral, int status, const char *reason,
                           void *user_data)
{
    (void)referral;
    struct refer *r = user_data;
    g_hash_table_remove(inv.refers, r);
    LOG(SYLK_LOG_INFO, "%s invites %s to %s: %d %s", r->inviter, r->invitee, r->room, status,
        reason ? reason : "");
    if (status >= 300) {
        g_autofree char *why = g_strdup_printf("SIP %d %s", status, reason ? reason : "");
        send_decline(r->room, r->inviter, r->invitee, g_strstrip(why));
    }
    refer_free(r);
}

static const struct sylk_outgoing_referral_handler refer_handler = {
    .struct_size = sizeof(refer_handler), .progress = on_refer_progress, .ended = on_refer_ended};

static void invite_sip_user(struct muc_join *j, const struct xmpp_jid *invitee, const char *bare)
{
    struct xmpp_jid user = {.local = invitee->local, .domain = invitee->domain};
    g_autofree char *target = xmpp_jid_to_sip_uri(&user, false, NULL);
    if (!target || g_hash_table_size(inv.refers) >= MAX_INVITATIONS) {
        send_decline(j->room, j->user, bare, target ? "too many invitations" : "not a SIP address");
        return;
    }
    g_autofree char *refer_to = g_strdup_printf("<%s;method=INVITE>", target);
    struct refer *r = g_new0(struct refer, 1);
    r->room = g_strdup(j->room);
    r->inviter = g_strdup(j->user);
    r->invitee = g_strdup(bare);
    struct sylk_refer_params p = {.struct_size = sizeof(p),
                                  .from = j->user_uri,
                                  .to = j->room_uri,
                                  .refer_to = refer_to,
                                  .handler = &refer_handler,
                                  .user_data = r};
    r->referral = xgw_host()->refer(&p);
    if (!r->referral) {
        send_decline(j->room, j->user, bare, "the room cannot be reached");
        refer_free(r);
        return;
    }
    g_hash_table_add(inv.refers, r);
    LOG(SYLK_LOG_INFO, "%s invites %s to %s: REFER %s", j->user, bare, j->room, refer_to);
}

static void invite_one(struct muc_join *j, const struct xmpp_node *invite)
{
    const char *to = xmpp_node_attr(invite, "to");
    struct xmpp_jid invitee;
    if (!to || xmpp_jid_parse(to, &invitee, NULL) < 0 || !invitee.local) {
        send_decline(j->room, j->user, to ? to : "", "not an address");
        return;
    }
    struct xmpp_jid bare_jid = {.local = invitee.local, .domain = invitee.domain};
    g_autofree char *bare = xmpp_jid_format(&bare_jid, false);
    if (xgw_is_our_domain(invitee.domain)) {
        invite_sip_user(j, &invitee, bare);
    } else { /* an XMPP user: the room sends the invitation on (§7.8.2) */
        struct xmpp_node *reason = xmpp_node_child(invite, XGW_NS_MUC_USER, "reason");
        g_autofree char *text = reason ? xmpp_node_text(reason) : NULL;
        xgw_send(muc_user_message(j->room, to, "invite", "from", j->user, text), NULL, NULL);
        LOG(SYLK_LOG_INFO, "%s invites %s to %s", j->user, to, j->room);
    }
    xmpp_jid_clear(&invitee);
}

/* The invitee's <decline to='…'/>: the room's ringing INVITE to it is answered 603. */
static void decline(const char *from, const char *room_uri)
{
    struct xmpp_jid user;
    if (xmpp_jid_parse(from, &user, NULL) < 0)
        return;
    struct xmpp_jid bare = {.local = user.local, .domain = user.domain};
    g_autofree char *user_uri = xmpp_jid_to_sip_uri(&bare, false, NULL);
    xmpp_jid_clear(&user);
    g_autofree char *key = user_uri ? invitation_key(room_uri, user_uri) : NULL;
    struct invitation *i = key ? g_hash_table_lookup(inv.invitations, key) : NULL;
    if (!i)
        return;
    LOG(SYLK_LOG_INFO, "%s declines the invitation to %s", from, i->room);
    sylk_session *session = i->session;
    g_hash_table_remove(inv.invitations, key);
    xgw_host()->session_set_handler(session, NULL, NULL);
    xgw_host()->session_reject(session, 603, "Decline");
}

bool xgw_muc_invite_message(const struct xmpp_node *m, struct muc_join *j, const char *room_uri)
{
    struct xmpp_node *x = xmpp_node_child(m, XGW_NS_MUC_USER, "x");
    if (!x)
        return false;
    bool taken = false;
    for (guint n = 0; x->children && n < x->children->len; n++) {
        const struct xmpp_node *c = g_ptr_array_index(x->children, n);
        if (c->kind != XMPP_NODE_ELEMENT || g_strcmp0(c->ns, XGW_NS_MUC_USER) != 0)
            continue;
        if (strcmp(c->name, "decline") == 0) {
            decline(xmpp_node_attr(m, "from"), room_uri);
            taken = true;
        } else if (strcmp(c->name, "invite") == 0) {
            taken = true;
            if (!j || j->state != MUC_JOINED) { /* only occupants invite (no relay for others) */
                xgw_router_refuse(m, XMPP_STANZA_ERR_NOT_ACCEPTABLE, "only occupants invite");
                return true;
            }
            invite_one(j, c);
        }
    }
    return taken;
}

/* ------------------------------------------------------------ SIP -> XMPP --- */

static void on_invitation_ended(sylk_session *session, int status, const char *reason,
                                void *user_data)
{
    (void)session;
    struct invitation *i = user_data;
    LOG(SYLK_LOG_INFO, "invitation of %s to %s over: %d %s", i->key, i->room, status,
        reason ? reason : "");
    g_hash_table_remove(inv.invitations, i->key);
}

static const struct sylk_session_handler invitation_handler = {
    .struct_size = sizeof(invitation_handler), .ended = on_invitation_ended};

/* user@host of a Referred-By value ("<sip:alice@example.com>" or a bare URI), or NULL. */
static char *referrer_of(const char *value)
{
    if (!value)
        return NULL;
    const char *lt = strchr(value, '<');
    const char *start = lt ? lt + 1 : value;
    const char *end = lt ? strchr(start, '>') : start + strcspn(start, ";");
    if (!end || g_ascii_strncasecmp(start, "sip:", 4) != 0)
        return NULL;
    g_autofree char *uri = g_strndup(start, (gsize)(end - start));
    struct xmpp_jid jid;
    if (xmpp_jid_from_sip_uri(uri, &jid, NULL) < 0)
        return NULL;
    char *s = xmpp_jid_format(&jid, false);
    xmpp_jid_clear(&jid);
    return s;
}

/* A room of ours: sip:room@DOMAIN whose DOMAIN we serve; its MUC JID. */
static char *room_jid_of(const char *uri)
{
    struct xmpp_jid jid;
    if (xmpp_jid_from_sip_uri(uri, &jid, NULL) < 0)
        return NULL;
    char *room = NULL;
    if (jid.local && xgw_is_our_domain(jid.domain))
        room = g_strdup_printf("%s@%s.%s", jid.local, xgw_config()->muc_prefix, jid.domain);
    xmpp_jid_clear(&jid);
    return room;
}

bool xgw_muc_invite_session(sylk_session *session)
{
    const struct sylk_request_info *info = xgw_host()->session_request(session);
    const char *contact = xgw_host()->request_header(info, "Contact");
    if (!contact || !strstr(contact, "isfocus"))
        return false;
    g_autofree char *room = room_jid_of(info->from_uri);
    if (!room)
        return false; /* another focus: a call like any other */
    struct xmpp_jid to;
    if (xmpp_jid_from_sip_uri(info->to_uri, &to, NULL) < 0) {
        xgw_host()->session_reject(session, 404, "Not Found");
        return true;
    }
    struct xmpp_jid bare = {.local = to.local, .domain = to.domain};
    g_autofree char *invitee = xmpp_jid_format(&bare, false);
    g_autofree char *user_uri = xmpp_jid_to_sip_uri(&bare, false, NULL);
    xmpp_jid_clear(&to);
    g_autofree char *referrer = referrer_of(xgw_host()->request_header(info, "Referred-By"));
    g_autofree char *key = user_uri ? invitation_key(info->from_uri, user_uri) : NULL;
    if (!referrer || !key) {
        xgw_host()->session_reject(session, 488, "Referred-By Required");
        return true;
    }
    if (g_hash_table_contains(inv.invitations, key) ||
        g_hash_table_size(inv.invitations) >= MAX_INVITATIONS) {
        xgw_host()->session_reject(session, 486, "Busy Here");
        return true;
    }
    struct invitation *i = g_new0(struct invitation, 1);
    i->key = g_steal_pointer(&key);
    i->room = g_strdup(room);
    i->referrer = g_strdup(referrer);
    i->session = session;
    g_hash_table_insert(inv.invitations, i->key, i);
    xgw_host()->session_set_handler(session, &invitation_handler, i);
    xgw_send(muc_user_message(room, invitee, "invite", "from", referrer, NULL), NULL, NULL);
    xgw_host()->session_ring(session);
    LOG(SYLK_LOG_INFO, "%s invites %s to %s", referrer, invitee, room);
    return true;
}

sylk_session *xgw_muc_invite_take(const char *room_uri, const char *user_uri)
{
    g_autofree char *key = invitation_key(room_uri, user_uri);
    struct invitation *i = g_hash_table_lookup(inv.invitations, key);
    if (!i)
        return NULL;
    sylk_session *session = i->session;
    xgw_host()->session_set_handler(session, NULL, NULL);
    g_hash_table_remove(inv.invitations, key);
    return session;
}
