/*
 * jingle_out.c — SIP -> Jingle: an INVITE with audio to an XMPP user becomes a Jingle call
 * (XEP-0166/0167, raw UDP XEP-0177), the user found by Jingle Message Initiation (XEP-0353).
 * Main thread.
 *
 * The INVITE rings (180) and the core's media endpoint makes our offer (a content named
 * "audio", creator initiator, ICE-UDP with host candidates; the answer's ICE credentials make us
 * the controlling agent: the core checks and nominates the pair). A user addressed with a resource
 * (the Request-URI's gr) gets the session-initiate at once; for a bare JID the gateway sends a
 * propose (a chat message with <propose id=sid><description media='audio'/></propose>) and the
 * session-initiate goes to the resource that answers <proceed/>. A <reject/> answers the INVITE
 * 603, an error to the propose or to the session-initiate its RFC 7247 status. The session-accept's
 * content is the answer to our offer: the INVITE is answered 200 with its audio stream and the legs
 * are bridged. A CANCEL before that sends <retract/> (proposed) or session-terminate <cancel/>; a
 * BYE after it session-terminate <success/>.
 */
#include "jingle.h"

#include "errmap.h"
#include "jingle_call.h"
#include "jingle_sdp.h"
#include "mapping.h"
#include "ns.h"

#include <errno.h>
#include <string.h>

#define LOG_DOMAIN      "xmppgw-jingle"
#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)

/* The INVITE's audio stream (offered, not yet answered), or NULL. */
static sylk_stream *offered_audio(sylk_session *session)
{
    for (size_t i = 0; i < xgw_host()->session_stream_count(session); i++) {
        sylk_stream *st = xgw_host()->session_stream(session, i);
        if (xgw_host()->stream_type(st) == SYLK_MEDIA_AUDIO)
            return st;
    }
    return NULL;
}

/* Refuses the INVITE with `status` and forgets the call (nothing more goes to XMPP). */
static void refuse_sip(struct jcall *c, int status, const char *reason)
{
    if (c->session) {
        xgw_host()->session_set_handler(c->session, NULL, NULL);
        xgw_host()->session_reject(c->session, status, reason);
        c->session = NULL;
    }
    jcall_forget(c);
}

/* An error stanza about our propose or session-initiate: the INVITE gets its RFC 7247 status. */
static void refuse_for_error(struct jcall *c, const struct xmpp_node *error, const char *what)
{
    enum xmpp_stanza_condition cond;
    enum xmpp_error_type etype;
    g_autofree char *text = NULL;
    if (!xmpp_stanza_error_read(error, &cond, &etype, &text))
        cond = XMPP_STANZA_ERR_UNDEFINED_CONDITION;
    const char *reason;
    int status = xgw_sip_status_for(cond, &reason);
    LOG(SYLK_LOG_INFO, "call %s: %s: %s", c->key ? c->key : c->sid, what,
        xmpp_stanza_condition_name(cond));
    refuse_sip(c, status, reason);
}

static void send_retract(const struct jcall *c)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", c->local);
    xmpp_node_set_attr(m, "to", c->peer);
    xmpp_node_set_attr(m, "type", "chat");
    g_autofree char *id = xgw_map_new_id();
    xmpp_node_set_attr(m, "id", id);
    struct xmpp_node *r = xmpp_node_add_element(m, XGW_NS_JINGLE_MESSAGE, "retract");
    xmpp_node_set_attr(r, "id", c->sid);
    xgw_send(m, NULL, NULL);
}

static void on_sip_ended(sylk_session *s, int status, const char *reason, void *user_data)
{
    (void)s;
    struct jcall *c = user_data;
    c->session = NULL; /* gone with this callback */
    LOG(SYLK_LOG_INFO, "call %s: SIP side over: %d %s", c->key ? c->key : c->sid, status,
        reason ? reason : "");
    if (c->state == JCALL_PROPOSED) {
        send_retract(c);
        jcall_forget(c);
    } else {
        jcall_end(c, c->state == JCALL_ACTIVE ? "success" : "cancel", NULL);
    }
}

static const struct sylk_session_handler sip_handler = {.struct_size = sizeof(sip_handler),
                                                        .ended = on_sip_ended};

static void send_initiate(struct jcall *c)
{
    struct xmpp_node *iq;
    struct xmpp_node *j = jcall_iq(c, "session-initiate", &iq);
    xmpp_node_set_attr(j, "initiator", c->local);
    xmpp_node_append(j, c->content);
    c->content = NULL;
    jcall_file_stanza(c, xmpp_node_attr(iq, "id"));
    c->state = JCALL_RINGING;
    xgw_send(iq, NULL, NULL);
    LOG(SYLK_LOG_INFO, "call %s: session-initiate", c->key);
}

static void send_propose(struct jcall *c)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", c->local);
    xmpp_node_set_attr(m, "to", c->peer);
    xmpp_node_set_attr(m, "type", "chat");
    g_autofree char *id = xgw_map_new_id();
    xmpp_node_set_attr(m, "id", id);
    struct xmpp_node *p = xmpp_node_add_element(m, XGW_NS_JINGLE_MESSAGE, "propose");
    xmpp_node_set_attr(p, "id", c->sid);
    struct xmpp_node *d = xmpp_node_add_element(p, XGW_NS_JINGLE_RTP, "description");
    xmpp_node_set_attr(d, "media", "audio");
    xmpp_node_add_element(m, "urn:xmpp:hints", "store");
    jcall_file_stanza(c, id);
    xgw_send(m, NULL, NULL);
    LOG(SYLK_LOG_INFO, "call %s -> %s: propose", c->sid, c->peer);
}

void xgw_jingle_sip_session(sylk_session *session, const struct xmpp_jid *from,
                            const struct xmpp_jid *to)
{
    g_autofree char *local = xgw_map_jid(from, true);
    g_autofree char *peer = xgw_map_jid(to, true);
    g_autofree char *sid = g_uuid_string_random();
    struct jcall *c = local && peer ? jcall_new(sid, peer, local, true) : NULL;
    if (!c) {
        xgw_host()->session_reject(session, local && peer ? 503 : 404, NULL);
        return;
    }
    c->session = session;
    c->state = JCALL_PROPOSED;
    xgw_host()->session_set_handler(session, &sip_handler, c);
    const char *offer = NULL;
    struct xgw_ice_creds ice; /* ICE-UDP (XEP-0176): what current clients speak */
    xgw_jingle_ice_creds(&ice);
    if (!offered_audio(session) || !jcall_endpoint_new(c) ||
        xgw_host()->media_endpoint_offer(c->endpoint, &offer) < 0 ||
        xgw_host()->media_endpoint_set_ice(c->endpoint, ice.ufrag, ice.pwd) < 0 ||
        !(c->content = xgw_jingle_content_from_sdp(offer, "initiator", "audio", &ice))) {
        LOG(SYLK_LOG_WARNING, "call %s: no Jingle offer can be made", sid);
        refuse_sip(c, 500, "Cannot Make The Jingle Offer");
        return;
    }
    xgw_host()->session_ring(session);
    if (to->resource) { /* a device of the user: no need to ask which one */
        jcall_file(c);
        send_initiate(c);
    } else {
        send_propose(c);
    }
}

/* <proceed/> from a resource of the proposed user: the session-initiate goes there. */
static void proceed(struct jcall *c, const char *from)
{
    g_free(c->peer);
    c->peer = g_strdup(from);
    jcall_file(c);
    send_initiate(c);
}

bool xgw_jingle_message(const struct xmpp_node *m)
{
    const char *type = xmpp_node_attr(m, "type");
    if (g_strcmp0(type, "error") == 0) {
        struct jcall *c = jcall_find_stanza(xmpp_node_attr(m, "id"));
        if (!c || c->state != JCALL_PROPOSED)
            return false;
        refuse_for_error(c, m, "the propose bounced");
        return true;
    }
    const struct xmpp_node *jm = xmpp_node_child_in(m, XGW_NS_JINGLE_MESSAGE);
    if (!jm)
        return false;
    const char *sid = xmpp_node_attr(jm, "id");
    const char *from = xmpp_node_attr(m, "from");
    struct jcall *c = sid ? jcall_find_proposal(sid) : NULL;
    if (!c) /* a reply to nothing of ours (or already proceeded elsewhere): dropped */
        return true;
    struct xmpp_jid fj = {0};
    bool same_user = false, full = false;
    if (from && xmpp_jid_parse(from, &fj, NULL) == 0) {
        g_autofree char *bare = xmpp_jid_format(&fj, false);
        same_user = g_strcmp0(bare, c->peer) == 0;
        full = fj.resource != NULL;
    }
    xmpp_jid_clear(&fj);
    if (!same_user) /* only the proposed user's devices answer */
        return true;
    if (strcmp(jm->name, "proceed") == 0 && full) {
        proceed(c, from);
    } else if (strcmp(jm->name, "reject") == 0) {
        LOG(SYLK_LOG_INFO, "call %s: rejected by %s", c->sid, from);
        refuse_sip(c, 603, "Decline");
    }
    return true; /* ringing, accept (to the user's other devices): nothing to do */
}

bool jcall_out_iq_answer(const struct xmpp_node *iq)
{
    struct jcall *c = jcall_find_stanza(xmpp_node_attr(iq, "id"));
    if (!c || !c->outgoing || c->state != JCALL_RINGING)
        return false;
    if (g_strcmp0(xmpp_node_attr(iq, "type"), "error") == 0)
        refuse_for_error(c, iq, "session-initiate refused");
    return true; /* the ack: the session-accept or -terminate follows */
}

void jcall_out_action(const struct xmpp_node *iq, struct jcall *c, const char *action,
                      const struct xmpp_node *jingle)
{
    (void)action;
    if (c->state != JCALL_RINGING || !c->session) {
        jcall_refuse(iq, XMPP_STANZA_ERR_UNEXPECTED_REQUEST, "out-of-order");
        return;
    }
    jcall_ack(iq);
    const struct xmpp_node *content = xmpp_node_child(jingle, XGW_NS_JINGLE, "content");
    g_autofree char *answer = NULL;
    int rc = content ? xgw_jingle_to_sdp(content, &answer) : XGW_JINGLE_MALFORMED;
    if (rc == 0)
        rc = xgw_host()->media_endpoint_set_answer(c->endpoint, answer);
    const char *rufrag, *rpwd; /* we offered: we are the controlling agent */
    if (rc == 0 && xgw_jingle_remote_ice(content, &rufrag, &rpwd))
        rc = xgw_host()->media_endpoint_ice_connect(c->endpoint, rufrag, rpwd);
    if (rc < 0) {
        LOG(SYLK_LOG_INFO, "call %s: session-accept not usable (%d)", c->key, rc);
        sylk_session *s = c->session;
        xgw_host()->session_set_handler(s, NULL, NULL);
        c->session = NULL;
        xgw_host()->session_reject(s, 488, "Not Acceptable Here");
        jcall_end(c, "incompatible-parameters", NULL);
        return;
    }
    sylk_stream *audio = offered_audio(c->session);
    rc = xgw_host()->session_accept(c->session, &audio, 1);
    if (rc == 0)
        rc = jcall_bridge(c, audio);
    if (rc < 0) {
        LOG(SYLK_LOG_WARNING, "call %s: cannot answer or bridge the SIP call: %d", c->key, rc);
        jcall_end(c, "failed-application", "the gateway cannot bridge the call");
        return;
    }
    LOG(SYLK_LOG_INFO, "call %s: answered, bridged", c->key);
}
