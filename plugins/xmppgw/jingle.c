/*
 * jingle.c — Jingle audio calls (XEP-0166/0167 with the raw-UDP transport, XEP-0177) to and
 * from SIP audio sessions: the calls, the Jingle IQ dispatcher and the Jingle -> SIP direction.
 * Main thread. SIP -> Jingle is jingle_out.c.
 *
 * Two legs negotiated each on its own and bridged by a 2-member mixer (each leg in its own
 * codec, the mixer transcodes): the Jingle leg is a media endpoint of the core, negotiated
 * with the SDP jingle_sdp.c makes of the Jingle content; the SIP leg is an ordinary session.
 *
 * Jingle -> SIP: a session-initiate to user@DOMAIN[/resource] is acknowledged (IQ result), the
 * endpoint answers its content, and an INVITE with audio goes to sip:user@DOMAIN from the caller's
 * SIP address (jid.h, gr = its resource). 180 -> session-info <ringing/>; 200 -> the bridge and
 * session-accept with our content (the initiator's creator and name); a failure -> session-
 * terminate with the reason for the status (xgw_jingle_reason_for). A session-terminate from the
 * caller cancels or ends the SIP call; a BYE ends the Jingle session (<success/>).
 *
 * A session-initiate to room@muc_prefix.DOMAIN (muc.c hands it here) calls the conference room
 * sip:room@DOMAIN: the caller's audio is in the room's mix.
 *
 * Calls are found by (peer full JID, sid). A Jingle IQ for an unknown session gets
 * item-not-found with <unknown-session/> (XEP-0166 §10), an unknown action bad-request, a
 * session-info without payload (a ping) its result, other session-info payloads
 * feature-not-implemented with <unsupported-info/>.
 */
#include "jingle.h"

#include "jingle_call.h"
#include "jingle_sdp.h"
#include "mapping.h"
#include "ns.h"

#include <errno.h>
#include <string.h>

#define LOG_DOMAIN      "xmppgw-jingle"
#define LOG(level, ...) XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)

static struct {
    GHashTable *calls;    /* key -> struct jcall (owned) */
    GHashTable *stanzas;  /* propose / session-initiate id -> struct jcall (borrowed) */
    GHashTable *proposed; /* struct jcall * not filed under a key yet (owned) */
} jg;

static void call_free(struct jcall *c)
{
    if (c->ending)
        xgw_host()->timer_cancel(c->ending);
    if (c->mixer)
        xgw_host()->mixer_free(c->mixer);
    if (c->session) {
        xgw_host()->session_set_handler(c->session, NULL, NULL);
        xgw_host()->session_terminate(c->session);
    }
    xgw_host()->media_endpoint_free(c->endpoint);
    xmpp_node_free(c->content);
    g_free(c->key);
    g_free(c->sid);
    g_free(c->peer);
    g_free(c->local);
    g_free(c->creator);
    g_free(c->name);
    g_free(c->stanza_id);
    g_free(c);
}

void xgw_jingle_init(void)
{
    jg.calls = g_hash_table_new(g_str_hash, g_str_equal);
    jg.stanzas = g_hash_table_new(g_str_hash, g_str_equal);
    jg.proposed = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void xgw_jingle_shutdown(void)
{
    /* the core ended the SIP sessions before: what is left is forgotten without a word */
    GList *all =
        g_list_concat(g_hash_table_get_values(jg.calls), g_hash_table_get_keys(jg.proposed));
    for (GList *l = all; l; l = l->next)
        jcall_forget(l->data);
    g_list_free(all);
    g_clear_pointer(&jg.calls, g_hash_table_unref);
    g_clear_pointer(&jg.stanzas, g_hash_table_unref);
    g_clear_pointer(&jg.proposed, g_hash_table_unref);
}

unsigned xgw_jingle_count(void)
{
    return jg.calls ? g_hash_table_size(jg.calls) + g_hash_table_size(jg.proposed) : 0;
}

/* ------------------------------------------------------------------ calls --- */

struct jcall *jcall_new(const char *sid, const char *peer, const char *local, bool outgoing)
{
    if (xgw_jingle_count() >= XGW_JINGLE_MAX_CALLS)
        return NULL;
    struct jcall *c = g_new0(struct jcall, 1);
    c->sid = g_strdup(sid);
    c->peer = g_strdup(peer);
    c->local = g_strdup(local);
    c->outgoing = outgoing;
    g_hash_table_add(jg.proposed, c);
    return c;
}

void jcall_file(struct jcall *c)
{
    g_hash_table_remove(jg.proposed, c);
    if (c->key)
        g_hash_table_remove(jg.calls, c->key);
    g_free(c->key);
    c->key = g_strdup_printf("%s %s", c->peer, c->sid);
    g_hash_table_insert(jg.calls, c->key, c);
}

void jcall_file_stanza(struct jcall *c, const char *id)
{
    if (c->stanza_id)
        g_hash_table_remove(jg.stanzas, c->stanza_id);
    g_free(c->stanza_id);
    c->stanza_id = g_strdup(id);
    g_hash_table_insert(jg.stanzas, c->stanza_id, c);
}

struct jcall *jcall_find(const char *peer, const char *sid)
{
    g_autofree char *key = g_strdup_printf("%s %s", peer, sid);
    return g_hash_table_lookup(jg.calls, key);
}

struct jcall *jcall_find_proposal(const char *sid)
{
    GHashTableIter it;
    gpointer c;
    g_hash_table_iter_init(&it, jg.proposed);
    while (g_hash_table_iter_next(&it, &c, NULL))
        if (((struct jcall *)c)->state == JCALL_PROPOSED &&
            strcmp(((struct jcall *)c)->sid, sid) == 0)
            return c;
    return NULL;
}

struct jcall *jcall_find_stanza(const char *id)
{
    return id ? g_hash_table_lookup(jg.stanzas, id) : NULL;
}

void jcall_forget(struct jcall *c)
{
    if (c->key)
        g_hash_table_remove(jg.calls, c->key);
    g_hash_table_remove(jg.proposed, c);
    if (c->stanza_id)
        g_hash_table_remove(jg.stanzas, c->stanza_id);
    call_free(c);
}

struct xmpp_node *jcall_iq(const struct jcall *c, const char *action, struct xmpp_node **iq)
{
    *iq = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(*iq, "type", "set");
    xmpp_node_set_attr(*iq, "from", c->local);
    xmpp_node_set_attr(*iq, "to", c->peer);
    g_autofree char *id = xgw_map_new_id();
    xmpp_node_set_attr(*iq, "id", id);
    struct xmpp_node *j = xmpp_node_add_element(*iq, XGW_NS_JINGLE, "jingle");
    xmpp_node_set_attr(j, "action", action);
    xmpp_node_set_attr(j, "sid", c->sid);
    return j;
}

void jcall_end(struct jcall *c, const char *reason, const char *text)
{
    struct xmpp_node *iq;
    struct xmpp_node *j = jcall_iq(c, "session-terminate", &iq);
    struct xmpp_node *r = xmpp_node_add_element(j, XGW_NS_JINGLE, "reason");
    xmpp_node_add_element(r, XGW_NS_JINGLE, reason);
    if (text && *text)
        xmpp_node_add_text(xmpp_node_add_element(r, XGW_NS_JINGLE, "text"), text, -1);
    xgw_send(iq, NULL, NULL);
    jcall_forget(c);
}

void jcall_ack(const struct xmpp_node *iq)
{
    struct xmpp_node *r = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(r, "type", "result");
    xmpp_node_set_attr(r, "from", xmpp_node_attr(iq, "to"));
    xmpp_node_set_attr(r, "to", xmpp_node_attr(iq, "from"));
    xmpp_node_set_attr(r, "id", xmpp_node_attr(iq, "id"));
    xgw_send(r, NULL, NULL);
}

void jcall_refuse(const struct xmpp_node *iq, enum xmpp_stanza_condition cond,
                  const char *jingle_cond)
{
    struct xmpp_node *e = xmpp_stanza_error_reply(iq, cond, NULL);
    if (!e)
        return;
    struct xmpp_node *error = xmpp_node_child(e, iq->ns, "error");
    if (jingle_cond && error)
        xmpp_node_add_element(error, XGW_NS_JINGLE_ERRORS, jingle_cond);
    xgw_send(e, NULL, NULL);
}

static void on_timed_out(sylk_timer *timer, void *user_data)
{
    (void)timer;
    struct jcall *c = user_data;
    c->ending = NULL; /* freed by the host after this callback */
    jcall_end(c, "timeout", "no media");
}

/* XEP-0177 §6: no media within a reasonable time ends the session. The endpoint is not freed
 * inside its own callback: the end comes from a timer. */
static void on_media_timeout(sylk_media_endpoint *endpoint, void *user_data)
{
    (void)endpoint;
    struct jcall *c = user_data;
    LOG(SYLK_LOG_INFO, "call %s: no RTP from the Jingle side", c->key ? c->key : c->sid);
    if (!c->ending)
        c->ending = xgw_host()->timer_add(0, false, on_timed_out, c);
}

static const struct sylk_media_endpoint_handler endpoint_handler = {
    .struct_size = sizeof(endpoint_handler), .timeout = on_media_timeout};

sylk_media_endpoint *jcall_endpoint_new(struct jcall *c)
{
    c->endpoint = xgw_host()->media_endpoint_new(&endpoint_handler, c);
    return c->endpoint;
}

sylk_stream *jcall_audio(sylk_session *session)
{
    for (size_t i = 0; i < xgw_host()->session_stream_count(session); i++) {
        sylk_stream *st = xgw_host()->session_stream(session, i);
        if (xgw_host()->stream_type(st) == SYLK_MEDIA_AUDIO && xgw_host()->stream_enabled(st))
            return st;
    }
    return NULL;
}

int jcall_bridge(struct jcall *c, sylk_stream *audio)
{
    c->mixer = xgw_host()->mixer_new(2);
    if (!audio || !c->mixer)
        return -EINVAL;
    int rc = xgw_host()->mixer_add(c->mixer, xgw_host()->media_endpoint_stream(c->endpoint));
    if (rc == 0)
        rc = xgw_host()->mixer_add(c->mixer, audio);
    if (rc == 0)
        c->state = JCALL_ACTIVE;
    return rc;
}

const char *xgw_jingle_reason_for(int status)
{
    switch (status) {
    case 200:
        return "success";
    case 486:
    case 600:
        return "busy";
    case 603:
        return "decline";
    case 404:
    case 410:
    case 480:
    case 604:
        return "gone";
    case 408:
        return "timeout";
    case 415:
    case 488:
    case 606:
        return "incompatible-parameters";
    case 401:
    case 403:
    case 407:
        return "security-error";
    case 487:
        return "cancel";
    default:
        return "general-error";
    }
}

int jcall_status_for(const char *reason)
{
    static const struct {
        const char *reason;
        int status;
    } map[] = {{"busy", 486},
               {"decline", 603},
               {"gone", 480},
               {"timeout", 408},
               {"expired", 408},
               {"cancel", 487},
               {"incompatible-parameters", 488},
               {"unsupported-applications", 488},
               {"unsupported-transports", 488},
               {"failed-application", 488},
               {"failed-transport", 488},
               {"media-error", 488},
               {"security-error", 403},
               {"connectivity-error", 503},
               {"general-error", 500}};
    for (size_t i = 0; reason && i < G_N_ELEMENTS(map); i++)
        if (strcmp(map[i].reason, reason) == 0)
            return map[i].status;
    return 480;
}

const char *jcall_reason_of(const struct xmpp_node *jingle)
{
    const struct xmpp_node *r = xmpp_node_child(jingle, XGW_NS_JINGLE, "reason");
    for (guint i = 0; r && r->children && i < r->children->len; i++) {
        const struct xmpp_node *el = g_ptr_array_index(r->children, i);
        if (el->kind == XMPP_NODE_ELEMENT && strcmp(el->name, "text") != 0)
            return el->name;
    }
    return NULL;
}

/* ------------------------------------------------------ Jingle -> SIP leg --- */

static void on_progress(sylk_session *s, int status, const char *reason, void *user_data)
{
    (void)s;
    (void)reason;
    struct jcall *c = user_data;
    if ((status == 180 || status == 183) && c->state == JCALL_RINGING) {
        struct xmpp_node *iq;
        struct xmpp_node *j = jcall_iq(c, "session-info", &iq);
        xmpp_node_add_element(j, XGW_NS_JINGLE_RTP_INFO, "ringing");
        xgw_send(iq, NULL, NULL);
    }
}

static void on_established(sylk_session *s, void *user_data)
{
    struct jcall *c = user_data;
    if (jcall_bridge(c, jcall_audio(s)) < 0) {
        LOG(SYLK_LOG_WARNING, "call %s: cannot bridge the two legs", c->key);
        jcall_end(c, "failed-application", "the gateway cannot bridge the call");
        return;
    }
    struct xmpp_node *iq;
    struct xmpp_node *j = jcall_iq(c, "session-accept", &iq);
    xmpp_node_set_attr(j, "responder", c->local);
    xmpp_node_append(j, c->content);
    c->content = NULL;
    xgw_send(iq, NULL, NULL);
    LOG(SYLK_LOG_INFO, "call %s: answered, bridged", c->key);
}

static void on_ended(sylk_session *s, int status, const char *reason, void *user_data)
{
    (void)s;
    struct jcall *c = user_data;
    c->session = NULL; /* gone with this callback */
    LOG(SYLK_LOG_INFO, "call %s: SIP side over: %d %s", c->key, status, reason ? reason : "");
    if (c->state == JCALL_ACTIVE)
        jcall_end(c, "success", NULL);
    else
        jcall_end(c, xgw_jingle_reason_for(status >= 300 ? status : 480), reason);
}

static const struct sylk_session_handler sip_handler = {.struct_size = sizeof(sip_handler),
                                                        .progress = on_progress,
                                                        .established = on_established,
                                                        .ended = on_ended};

/* Negotiates the Jingle leg of a session-initiate; the reason to terminate with, or NULL. */
static const char *answer_content(struct jcall *c, const struct xmpp_node *content)
{
    g_autofree char *offer = NULL;
    int rc = xgw_jingle_to_sdp(content, &offer);
    if (rc == XGW_JINGLE_BAD_APPLICATION)
        return "unsupported-applications";
    if (rc == XGW_JINGLE_BAD_TRANSPORT)
        return "unsupported-transports";
    if (rc < 0)
        return "general-error";
    if (!jcall_endpoint_new(c))
        return "general-error";
    const char *answer = NULL;
    rc = xgw_host()->media_endpoint_answer(c->endpoint, offer, &answer);
    if (rc < 0)
        return rc == -ENOTSUP ? "incompatible-parameters" : "general-error";
    struct xgw_ice_creds ice;
    bool use_ice = xgw_jingle_uses_ice(content);
    if (use_ice) { /* ICE-lite: the core answers the peer's checks with these */
        xgw_jingle_ice_creds(&ice);
        if (xgw_host()->media_endpoint_set_ice(c->endpoint, ice.ufrag, ice.pwd) < 0)
            return "general-error";
    }
    c->content = xgw_jingle_content_from_sdp(answer, c->creator, c->name, use_ice ? &ice : NULL);
    return c->content ? NULL : "general-error";
}

/* The callee's SIP address: a user's, or for room@muc_prefix.DOMAIN the room sip:room@DOMAIN
 * (a Jingle caller joins the conference with its audio). */
static char *callee_uri(const struct xmpp_jid *to)
{
    const char *prefix = xgw_config()->muc_prefix;
    size_t n = prefix ? strlen(prefix) : 0;
    if (n && strncmp(to->domain, prefix, n) == 0 && to->domain[n] == '.' &&
        xgw_is_our_domain(to->domain + n + 1))
        return g_strdup_printf("sip:%s@%s", to->local, to->domain + n + 1);
    struct xmpp_jid callee = {.local = to->local, .domain = to->domain};
    return xgw_map_sip_uri(&callee, false);
}

/* The SIP leg: an INVITE with audio from the caller's SIP address to the callee's. */
static int call_sip(struct jcall *c, const struct xmpp_jid *from, const struct xmpp_jid *to)
{
    g_autofree char *from_uri = xgw_map_sip_uri(from, true);
    g_autofree char *to_uri = callee_uri(to);
    enum sylk_media_type audio = SYLK_MEDIA_AUDIO;
    struct sylk_session_params p = {.struct_size = sizeof(p),
                                    .from = from_uri,
                                    .to = to_uri,
                                    .media = &audio,
                                    .media_count = 1,
                                    .handler = &sip_handler,
                                    .user_data = c};
    c->session = from_uri && to_uri ? xgw_host()->session_connect(&p) : NULL;
    if (!c->session)
        return -EINVAL;
    LOG(SYLK_LOG_INFO, "call %s: Jingle %s -> SIP %s", c->key, c->peer, to_uri);
    return 0;
}

static void session_initiate(const struct xmpp_node *iq, const struct xmpp_node *jingle)
{
    const struct xmpp_node *content = xmpp_node_child(jingle, XGW_NS_JINGLE, "content");
    const char *peer = xmpp_node_attr(iq, "from");
    const char *sid = xmpp_node_attr(jingle, "sid");
    struct xmpp_jid from = {0}, to = {0};
    if (!content || xmpp_jid_parse(peer, &from, NULL) < 0 ||
        xmpp_jid_parse(xmpp_node_attr(iq, "to"), &to, NULL) < 0 || !to.local) {
        jcall_refuse(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
        goto out;
    }
    if (jcall_find(peer, sid)) {
        jcall_refuse(iq, XMPP_STANZA_ERR_CONFLICT, NULL); /* the same sid again */
        goto out;
    }
    struct jcall *c = jcall_new(sid, peer, xmpp_node_attr(iq, "to"), false);
    if (!c) {
        jcall_refuse(iq, XMPP_STANZA_ERR_RESOURCE_CONSTRAINT, NULL);
        goto out;
    }
    jcall_file(c);
    jcall_ack(iq);
    c->state = JCALL_RINGING;
    c->creator = g_strdup(xmpp_node_attr(content, "creator"));
    c->name = g_strdup(xmpp_node_attr(content, "name"));
    const char *reason = c->creator && c->name ? answer_content(c, content) : "general-error";
    if (reason) {
        LOG(SYLK_LOG_INFO, "call %s: Jingle offer refused: %s", c->key, reason);
        jcall_end(c, reason, NULL);
    } else if (call_sip(c, &from, &to) < 0) {
        jcall_end(c, "general-error", "the SIP call cannot be made");
    }
out:
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

static void session_info(const struct xmpp_node *iq, const struct xmpp_node *jingle)
{
    const struct xmpp_node *payload = xmpp_node_child_in(jingle, XGW_NS_JINGLE_RTP_INFO);
    bool any = jingle->children && jingle->children->len > 0;
    if (!any || payload) /* a ping, or RTP info (ringing, active, mute...) we take note of */
        jcall_ack(iq);
    else
        jcall_refuse(iq, XMPP_STANZA_ERR_FEATURE_NOT_IMPLEMENTED, "unsupported-info");
}

/* An action of a live call that both directions answer alike. */
static void common_action(const struct xmpp_node *iq, struct jcall *c, const char *action,
                          const struct xmpp_node *jingle)
{
    if (strcmp(action, "session-terminate") == 0) {
        jcall_ack(iq);
        const char *reason = jcall_reason_of(jingle);
        LOG(SYLK_LOG_INFO, "call %s: ended by the Jingle side (%s)", c->key,
            reason ? reason : "no reason");
        if (c->outgoing && c->session && c->state != JCALL_ACTIVE) {
            int status = jcall_status_for(reason);
            xgw_host()->session_set_handler(c->session, NULL, NULL);
            xgw_host()->session_reject(c->session, status, NULL);
            c->session = NULL;
        }
        jcall_forget(c); /* its SIP leg is cancelled, refused or ended */
    } else if (strcmp(action, "session-info") == 0) {
        session_info(iq, jingle);
    } else if (strcmp(action, "transport-info") == 0 || strcmp(action, "description-info") == 0 ||
               strcmp(action, "security-info") == 0) {
        jcall_ack(iq); /* raw UDP has one candidate per component: nothing to add */
    } else if (strncmp(action, "content-", 8) == 0 || strncmp(action, "transport-", 10) == 0 ||
               strcmp(action, "session-accept") == 0) {
        jcall_refuse(iq, XMPP_STANZA_ERR_UNEXPECTED_REQUEST, "out-of-order");
    } else {
        jcall_refuse(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
    }
}

/* disco#info of a user of ours (XEP-0030): what a Jingle client looks for before calling
 * (XEP-0166 §11, XEP-0167 §10, XEP-0176/0177, XEP-0353). */
static bool disco_info(const struct xmpp_node *iq)
{
    static const char *const features[] = {"http://jabber.org/protocol/disco#info",
                                           XGW_NS_JINGLE,
                                           XGW_NS_JINGLE_RTP,
                                           "urn:xmpp:jingle:apps:rtp:audio",
                                           XGW_NS_JINGLE_RAW_UDP,
                                           XGW_NS_JINGLE_ICE_UDP,
                                           XGW_NS_JINGLE_MESSAGE,
                                           "urn:ietf:rfc:3264"};
    const char *ns = features[0];
    const struct xmpp_node *q = xmpp_node_child(iq, ns, "query");
    if (!q || g_strcmp0(xmpp_node_attr(iq, "type"), "get") != 0 || xmpp_node_attr(q, "node"))
        return false;
    struct xmpp_node *r = xmpp_node_new(iq->ns, "iq");
    xmpp_node_set_attr(r, "type", "result");
    xmpp_node_set_attr(r, "from", xmpp_node_attr(iq, "to"));
    xmpp_node_set_attr(r, "to", xmpp_node_attr(iq, "from"));
    xmpp_node_set_attr(r, "id", xmpp_node_attr(iq, "id"));
    struct xmpp_node *a = xmpp_node_add_element(r, ns, "query");
    struct xmpp_node *id = xmpp_node_add_element(a, ns, "identity");
    xmpp_node_set_attr(id, "category", "client");
    xmpp_node_set_attr(id, "type", "phone"); /* a SIP user behind the gateway */
    for (size_t i = 0; i < G_N_ELEMENTS(features); i++)
        xmpp_node_set_attr(xmpp_node_add_element(a, ns, "feature"), "var", features[i]);
    xgw_send(r, NULL, NULL);
    return true;
}

bool xgw_jingle_iq(const struct xmpp_node *iq)
{
    const char *type = xmpp_node_attr(iq, "type");
    if (disco_info(iq))
        return true;
    if (g_strcmp0(type, "result") == 0 || g_strcmp0(type, "error") == 0)
        return jcall_out_iq_answer(iq);
    const struct xmpp_node *jingle = xmpp_node_child(iq, XGW_NS_JINGLE, "jingle");
    if (!jingle || g_strcmp0(type, "set") != 0)
        return false;
    const char *action = xmpp_node_attr(jingle, "action");
    const char *sid = xmpp_node_attr(jingle, "sid");
    const char *from = xmpp_node_attr(iq, "from");
    if (!action || !sid || !*sid || !from) {
        jcall_refuse(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
        return true;
    }
    if (strcmp(action, "session-initiate") == 0) {
        session_initiate(iq, jingle);
        return true;
    }
    struct jcall *c = jcall_find(from, sid);
    if (!c)
        jcall_refuse(iq, XMPP_STANZA_ERR_ITEM_NOT_FOUND, "unknown-session");
    else if (c->outgoing && strcmp(action, "session-accept") == 0)
        jcall_out_action(iq, c, action, jingle);
    else
        common_action(iq, c, action, jingle);
    return true;
}
