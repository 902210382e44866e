/*
 * jingle.c — Jingle audio calls (XEP-0166/0167 with the raw-UDP transport, XEP-0177) to and
 * from SIP audio sessions, main thread.
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
 * Calls are found by (peer full JID, sid). A Jingle IQ for an unknown session gets
 * item-not-found with <unknown-session/> (XEP-0166 §10), an unknown action bad-request, a
 * session-info without payload (a ping) its result, other session-info payloads
 * feature-not-implemented with <unsupported-info/>.
 */
#include "jingle.h"

#include "jingle_sdp.h"
#include "mapping.h"
#include "ns.h"

#include <errno.h>
#include <string.h>

#define LOG_DOMAIN         "xmppgw-jingle"
#define LOG(level, ...)    XGW_MAP_LOG(LOG_DOMAIN, level, __VA_ARGS__)
#define NS_JINGLE_ERRORS   "urn:xmpp:jingle:errors:1"
#define NS_JINGLE_RTP_INFO "urn:xmpp:jingle:apps:rtp:info:1"
#define MAX_CALLS          1000

enum call_state {
    CALL_RINGING, /* the SIP leg is being set up */
    CALL_ACTIVE,  /* bridged */
};

struct call {
    char *key;            /* "peer sid" */
    char *sid;            /* the Jingle session id */
    char *peer;           /* the XMPP party's full JID */
    char *local;          /* our side's JID as the peer addresses it (the SIP user's) */
    char *creator, *name; /* the content's, echoed in session-accept */
    enum call_state state;
    sylk_media_endpoint *endpoint;
    sylk_session *session;
    sylk_mixer *mixer;
    struct xmpp_node *content; /* our content, for session-accept */
    sylk_timer *ending;        /* the end after a media timeout (not inside its callback) */
};

static struct {
    GHashTable *calls; /* key -> struct call */
} jg;

static char *call_key(const char *peer, const char *sid)
{
    return g_strdup_printf("%s %s", peer, sid);
}

static void call_free(gpointer p)
{
    struct call *c = p;
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
    g_free(c);
}

void xgw_jingle_init(void)
{
    jg.calls = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, call_free);
}

void xgw_jingle_shutdown(void)
{
    g_clear_pointer(&jg.calls, g_hash_table_unref);
}

unsigned xgw_jingle_count(void)
{
    return jg.calls ? g_hash_table_size(jg.calls) : 0;
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

/* ----------------------------------------------------------------- stanzas --- */

/* <iq type='set' from=local to=peer><jingle action sid/></iq>; returns the <jingle/>. */
static struct xmpp_node *jingle_iq(const struct call *c, const char *action, struct xmpp_node **iq)
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

static void send_terminate(const struct call *c, const char *reason, const char *text)
{
    struct xmpp_node *iq;
    struct xmpp_node *j = jingle_iq(c, "session-terminate", &iq);
    struct xmpp_node *r = xmpp_node_add_element(j, XGW_NS_JINGLE, "reason");
    xmpp_node_add_element(r, XGW_NS_JINGLE, reason);
    if (text)
        xmpp_node_add_text(xmpp_node_add_element(r, XGW_NS_JINGLE, "text"), text, -1);
    xgw_send(iq, NULL, NULL);
}

static void send_ringing(const struct call *c)
{
    struct xmpp_node *iq;
    struct xmpp_node *j = jingle_iq(c, "session-info", &iq);
    xmpp_node_add_element(j, NS_JINGLE_RTP_INFO, "ringing");
    xgw_send(iq, NULL, NULL);
}

static void send_accept(struct call *c)
{
    struct xmpp_node *iq;
    struct xmpp_node *j = jingle_iq(c, "session-accept", &iq);
    xmpp_node_set_attr(j, "responder", c->local);
    xmpp_node_append(j, c->content);
    c->content = NULL;
    xgw_send(iq, NULL, NULL);
}

/* The IQ result (ack) to a Jingle IQ set. */
static void ack(const struct xmpp_node *iq)
{
    struct xmpp_node *r = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(r, "type", "result");
    xmpp_node_set_attr(r, "from", xmpp_node_attr(iq, "to"));
    xmpp_node_set_attr(r, "to", xmpp_node_attr(iq, "from"));
    xmpp_node_set_attr(r, "id", xmpp_node_attr(iq, "id"));
    xgw_send(r, NULL, NULL);
}

/* An IQ error with a Jingle condition (XEP-0166 §10) beside the stanza's, or only the latter. */
static void refuse(const struct xmpp_node *iq, enum xmpp_stanza_condition cond,
                   const char *jingle_cond)
{
    struct xmpp_node *e = xmpp_stanza_error_reply(iq, cond, NULL);
    if (!e)
        return;
    struct xmpp_node *error = xmpp_node_child(e, iq->ns, "error");
    if (jingle_cond && error)
        xmpp_node_add_element(error, NS_JINGLE_ERRORS, jingle_cond);
    xgw_send(e, NULL, NULL);
}

/* Ends the call on the Jingle side with `reason` and forgets it (the SIP leg goes too). */
static void end_call(struct call *c, const char *reason, const char *text)
{
    send_terminate(c, reason, text);
    g_hash_table_remove(jg.calls, c->key);
}

/* --------------------------------------------------------------- SIP leg --- */

static void on_progress(sylk_session *s, int status, const char *reason, void *user_data)
{
    (void)s;
    (void)reason;
    struct call *c = user_data;
    if ((status == 180 || status == 183) && c->state == CALL_RINGING)
        send_ringing(c);
}

static void on_established(sylk_session *s, void *user_data)
{
    struct call *c = user_data;
    sylk_stream *audio = NULL;
    for (size_t i = 0; i < xgw_host()->session_stream_count(s) && !audio; i++) {
        sylk_stream *st = xgw_host()->session_stream(s, i);
        if (xgw_host()->stream_type(st) == SYLK_MEDIA_AUDIO && xgw_host()->stream_enabled(st))
            audio = st;
    }
    c->mixer = xgw_host()->mixer_new(2);
    if (!audio || !c->mixer ||
        xgw_host()->mixer_add(c->mixer, xgw_host()->media_endpoint_stream(c->endpoint)) < 0 ||
        xgw_host()->mixer_add(c->mixer, audio) < 0) {
        LOG(SYLK_LOG_WARNING, "call %s: cannot bridge the two legs", c->key);
        end_call(c, "failed-application", "the gateway cannot bridge the call");
        return;
    }
    c->state = CALL_ACTIVE;
    send_accept(c);
    LOG(SYLK_LOG_INFO, "call %s: answered, bridged", c->key);
}

static void on_ended(sylk_session *s, int status, const char *reason, void *user_data)
{
    (void)s;
    struct call *c = user_data;
    c->session = NULL; /* gone with this callback */
    LOG(SYLK_LOG_INFO, "call %s: SIP side over: %d %s", c->key, status, reason ? reason : "");
    if (c->state == CALL_ACTIVE)
        end_call(c, "success", NULL);
    else
        end_call(c, xgw_jingle_reason_for(status >= 300 ? status : 480), reason);
}

static const struct sylk_session_handler sip_handler = {.struct_size = sizeof(sip_handler),
                                                        .progress = on_progress,
                                                        .established = on_established,
                                                        .ended = on_ended};

static void on_timed_out(sylk_timer *timer, void *user_data)
{
    (void)timer;
    struct call *c = user_data;
    c->ending = NULL; /* freed by the host after this callback */
    end_call(c, "timeout", "no media");
}

/* XEP-0177 §6: no media within a reasonable time ends the session. The endpoint is not freed
 * inside its own callback: the end comes from a timer. */
static void on_media_timeout(sylk_media_endpoint *endpoint, void *user_data)
{
    (void)endpoint;
    struct call *c = user_data;
    LOG(SYLK_LOG_INFO, "call %s: no RTP from the Jingle side", c->key);
    if (!c->ending)
        c->ending = xgw_host()->timer_add(0, false, on_timed_out, c);
}

static const struct sylk_media_endpoint_handler endpoint_handler = {
    .struct_size = sizeof(endpoint_handler), .timeout = on_media_timeout};

/* ------------------------------------------------------------- Jingle in --- */

/* Negotiates the Jingle leg of a session-initiate; the reason to terminate with, or NULL. */
static const char *answer_content(struct call *c, const struct xmpp_node *content)
{
    g_autofree char *offer = NULL;
    int rc = xgw_jingle_to_sdp(content, &offer);
    if (rc == XGW_JINGLE_BAD_APPLICATION)
        return "unsupported-applications";
    if (rc == XGW_JINGLE_BAD_TRANSPORT)
        return "unsupported-transports";
    if (rc < 0)
        return "general-error";
    c->endpoint = xgw_host()->media_endpoint_new(&endpoint_handler, c);
    if (!c->endpoint)
        return "general-error";
    const char *answer = NULL;
    rc = xgw_host()->media_endpoint_answer(c->endpoint, offer, &answer);
    if (rc < 0)
        return rc == -ENOTSUP ? "incompatible-parameters" : "general-error";
    c->content = xgw_jingle_content_from_sdp(answer, c->creator, c->name);
    return c->content ? NULL : "general-error";
}

/* The SIP leg: an INVITE with audio from the caller's SIP address to the callee's. */
static int call_sip(struct call *c, const struct xmpp_jid *from, const struct xmpp_jid *to)
{
    struct xmpp_jid callee = {.local = to->local, .domain = to->domain};
    g_autofree char *from_uri = xgw_map_sip_uri(from, true);
    g_autofree char *to_uri = xgw_map_sip_uri(&callee, false);
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

static void session_initiate(const struct xmpp_node *iq, const struct xmpp_node *jingle,
                             const char *key)
{
    const struct xmpp_node *content = xmpp_node_child(jingle, XGW_NS_JINGLE, "content");
    const char *sid = xmpp_node_attr(jingle, "sid");
    struct xmpp_jid from = {0}, to = {0};
    if (!content || xmpp_jid_parse(xmpp_node_attr(iq, "from"), &from, NULL) < 0 ||
        xmpp_jid_parse(xmpp_node_attr(iq, "to"), &to, NULL) < 0 || !to.local) {
        refuse(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
        goto out;
    }
    if (g_hash_table_contains(jg.calls, key)) {
        refuse(iq, XMPP_STANZA_ERR_CONFLICT, NULL); /* the same sid again */
        goto out;
    }
    if (g_hash_table_size(jg.calls) >= MAX_CALLS) {
        refuse(iq, XMPP_STANZA_ERR_RESOURCE_CONSTRAINT, NULL);
        goto out;
    }
    ack(iq);
    struct call *c = g_new0(struct call, 1);
    c->key = g_strdup(key);
    c->sid = g_strdup(sid);
    c->peer = g_strdup(xmpp_node_attr(iq, "from"));
    c->local = g_strdup(xmpp_node_attr(iq, "to"));
    c->creator = g_strdup(xmpp_node_attr(content, "creator"));
    c->name = g_strdup(xmpp_node_attr(content, "name"));
    g_hash_table_insert(jg.calls, c->key, c);
    const char *reason = c->creator && c->name ? answer_content(c, content) : "general-error";
    if (reason) {
        LOG(SYLK_LOG_INFO, "call %s: Jingle offer refused: %s", key, reason);
        end_call(c, reason, NULL);
        goto out;
    }
    if (call_sip(c, &from, &to) < 0)
        end_call(c, "general-error", "the SIP call cannot be made");
out:
    xmpp_jid_clear(&from);
    xmpp_jid_clear(&to);
}

static void session_terminate(const struct xmpp_node *iq, struct call *c)
{
    ack(iq);
    LOG(SYLK_LOG_INFO, "call %s: ended by the Jingle side", c->key);
    g_hash_table_remove(jg.calls, c->key); /* its SIP leg is cancelled or ended */
}

static void session_info(const struct xmpp_node *iq, const struct xmpp_node *jingle)
{
    const struct xmpp_node *payload = xmpp_node_child_in(jingle, NS_JINGLE_RTP_INFO);
    bool any = jingle->children && jingle->children->len > 0;
    if (!any || payload) /* a ping, or RTP info (ringing, active, mute...) we take note of */
        ack(iq);
    else
        refuse(iq, XMPP_STANZA_ERR_FEATURE_NOT_IMPLEMENTED, "unsupported-info");
}

bool xgw_jingle_iq(const struct xmpp_node *iq)
{
    const char *type = xmpp_node_attr(iq, "type");
    const struct xmpp_node *jingle = xmpp_node_child(iq, XGW_NS_JINGLE, "jingle");
    if (!jingle || g_strcmp0(type, "set") != 0)
        return false;
    const char *action = xmpp_node_attr(jingle, "action");
    const char *sid = xmpp_node_attr(jingle, "sid");
    const char *from = xmpp_node_attr(iq, "from");
    if (!action || !sid || !*sid || !from) {
        refuse(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
        return true;
    }
    g_autofree char *key = call_key(from, sid);
    if (strcmp(action, "session-initiate") == 0) {
        session_initiate(iq, jingle, key);
        return true;
    }
    struct call *c = g_hash_table_lookup(jg.calls, key);
    if (!c) {
        refuse(iq, XMPP_STANZA_ERR_ITEM_NOT_FOUND, "unknown-session");
        return true;
    }
    if (strcmp(action, "session-terminate") == 0)
        session_terminate(iq, c);
    else if (strcmp(action, "session-info") == 0)
        session_info(iq, jingle);
    else if (strcmp(action, "transport-info") == 0 || strcmp(action, "description-info") == 0 ||
             strcmp(action, "security-info") == 0)
        ack(iq); /* raw UDP has one candidate per component: nothing to add */
    else if (strncmp(action, "content-", 8) == 0 || strncmp(action, "transport-", 10) == 0 ||
             strcmp(action, "session-accept") == 0)
        refuse(iq, XMPP_STANZA_ERR_UNEXPECTED_REQUEST, "out-of-order");
    else
        refuse(iq, XMPP_STANZA_ERR_BAD_REQUEST, NULL);
    return true;
}
