/*
 * session.c — the INVITE dialog of a session (see session.h): an incoming INVITE checked and
 * handed to its plugin, the plugin's answer (ring, accept, reject, terminate), nua's events on
 * the dialog (ACK, re-INVITE, BYE, CANCEL, requests inside it) and the single end of every
 * session. The other parts of a session are listed in session_internal.h.
 *
 * SDP is ours (NUTAG_MEDIA_ENABLE(0)): offers are parsed with sdp/sdp.c, answers printed by
 * it and passed to nua as the response payload. A stream handle is given to the plugin for
 * each usable m= line; the others are refused (port 0) in the answer.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_internal.h"

#include "media/rtp.h"
#include "msrp/session.h"
#include "plugin/loader.h"
#include "sip/message.h"
#include "sip/referral.h"
#include "sip/session_media.h"
#include "sip/session_msrp.h"
#include "sip/session_offer.h"
#include "sip/session_out.h"
#include "sip/session_streams.h"
#include "sip/wire.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <string.h>

#define ANSWER_TIMEOUT_S 32

struct sylk_session *sylk_session_new(struct sylk_sip_stack *stack, nua_handle_t *nh)
{
    struct sylk_session *s = g_new0(struct sylk_session, 1);
    s->owner.kind = SYLK_OWNER_SESSION;
    s->stack = stack;
    s->nh = nh;
    s->streams = g_ptr_array_new_with_free_func(sylk_session_stream_free);
    s->sess_id = (guint64)g_get_real_time() ^ ((guint64)g_random_int() << 20);
    nua_handle_bind(nh, &s->owner);
    stack->sessions = g_list_prepend(stack->sessions, s);
    return s;
}

void sylk_session_set_end(struct sylk_session *s, int status, const char *reason)
{
    if (s->end_status)
        return;
    s->end_status = status;
    s->end_reason = g_strdup(sylk_sip_phrase(status, reason ? reason : sip_status_phrase(status)));
}

/* The single exit: tell the plugin, release everything, destroy the handle. */
void sylk_session_finish(struct sylk_session *s, int status, const char *phrase)
{
    sylk_session_set_end(s, status, phrase);
    s->state = S_ENDING; /* the plugin may call session_terminate from ended */
    if (s->answer_timer)
        g_source_remove(s->answer_timer);
    s->stack->sessions = g_list_remove(s->stack->sessions, s);
    sylk_referral_session_gone(s->stack, s);
    sylk_message_session_gone(s->stack, s);
    g_info("session %s ended: %d %s",
           s->request->info.call_id ? s->request->info.call_id : s->request->info.request_uri,
           s->end_status, s->end_reason);
    /* Media stops first: the plugin's ended sees its streams out of their mixers. */
    for (unsigned i = 0; i < s->streams->len; i++) {
        struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        sylk_rtp_close(st->rtp);
        st->rtp = NULL;
        sylk_msrp_session_free(st->msrp);
        st->msrp = NULL;
    }
    if (s->handler.ended)
        s->handler.ended(s, s->end_status, s->end_reason, s->user_data);
    nua_handle_bind(s->nh, NULL);
    nua_handle_destroy(s->nh);
    g_ptr_array_free(s->streams, TRUE);
    sylk_sdp_clear(&s->remote);
    sylk_sdp_clear(&s->local);
    sylk_request_free(s->request);
    g_free(s->end_reason);
    g_free(s->transport);
    g_free(s->focus_contact);
    g_free(s);
}

void sylk_session_respond_error(struct sylk_session *s, int status, const char *reason,
                                const char *warning)
{
    g_autofree char *w =
        warning ? g_strdup_printf("399 %s \"%s\"", cfg()->advertised_ip, warning) : NULL;
    sylk_session_set_end(s, status, reason);
    s->state = S_ENDING;
    /* RFC 3261 21.4.13: a 415 lists the body types we take, which for INVITE is SDP */
    sylk_sip_respond(sip_method_invite, s->nh, status,
                     sylk_sip_phrase(status, reason ? reason : sip_status_phrase(status)),
                     TAG_IF(w, SIPTAG_WARNING_STR(w)),
                     TAG_IF(status == 415, SIPTAG_ACCEPT_STR("application/sdp")), TAG_END());
}

static gboolean answer_timeout(gpointer data)
{
    struct sylk_session *s = data;
    s->answer_timer = 0;
    g_warning("session %s: application %s did not answer within %d s", s->request->info.call_id,
              s->plugin->desc.name, ANSWER_TIMEOUT_S);
    sylk_session_respond_error(s, 408, "Application Did Not Answer", NULL);
    return G_SOURCE_REMOVE;
}

/* The transport an INVITE came on, from its top Via ("SIP/2.0/TCP"): "udp", "tcp" or "tls". */
static char *via_transport(const sip_t *sip)
{
    const char *proto = sip->sip_via ? sip->sip_via->v_protocol : NULL;
    const char *slash = proto ? strrchr(proto, '/') : NULL;
    return g_ascii_strdown(slash ? slash + 1 : "udp", -1);
}

void sylk_session_incoming(struct sylk_sip_stack *stack, nua_handle_t *nh, const sip_t *sip,
                           struct sylk_request *req, const struct sylk_loaded_plugin *plugin)
{
    struct sylk_session *s = sylk_session_new(stack, nh);
    s->incoming = true;
    s->request = req;
    s->plugin = plugin;
    plugin->counters->sessions++;
    s->state = S_INCOMING;
    s->transport = via_transport(sip);

    if (!sylk_wire_accepts(sip, "application/sdp")) { /* our 2xx would carry SDP */
        g_info("INVITE %s: Accept excludes application/sdp: 406", req->info.call_id);
        sylk_session_respond_error(s, 406, "Not Acceptable",
                                   "our answer is application/sdp, not in Accept");
        return;
    }
    if (!sip->sip_payload || sip->sip_payload->pl_len == 0) {
        s->late_offer = true;
        sylk_session_propose_audio(s);
    } else {
        const char *ctype = sip->sip_content_type ? sip->sip_content_type->c_type : NULL;
        g_autofree char *error = NULL;
        if (!ctype || g_ascii_strcasecmp(ctype, "application/sdp") != 0) {
            g_info("INVITE %s: body of type %s is not SDP", req->info.call_id,
                   ctype ? ctype : "(none)");
            sylk_session_respond_error(s, 415, "Unsupported Media Type",
                                       "only application/sdp bodies");
            return;
        }
        struct sylk_sdp_policy pol = sylk_session_policy();
        if (sylk_sdp_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &pol, &s->remote,
                           &error) < 0) {
            g_info("INVITE %s from %s: %s", req->info.call_id, req->info.remote_address, error);
            sylk_session_respond_error(s, 488, "Not Acceptable Here", error);
            return;
        }
        for (unsigned i = 0; i < s->remote.count; i++) {
            if (s->remote.m[i].usable)
                sylk_session_add_stream(s, i);
        }
        if (s->streams->len == 0) {
            g_autofree char *codecs = g_strjoinv(", ", cfg()->audio_codecs);
            static const char *const srtp[] = {"disabled", "optional", "mandatory"};
            const struct sylk_sdp_media *refused = sylk_sdp_refused_connection(&s->remote);
            g_autofree char *why =
                refused ? g_strdup(refused->refusal)
                        : g_strdup_printf(
                              "Incompatible media format: no usable stream (audio codecs: %s; "
                              "SRTP %s)",
                              codecs, srtp[cfg()->srtp]);
            g_info("INVITE %s from %s: %s", req->info.call_id, req->info.remote_address, why);
            sylk_session_set_end(s, 488, "Not Acceptable Here");
            s->state = S_ENDING;
            g_autofree char *w = g_strdup_printf(
                "%d %s \"%s\"", refused ? refused->refusal_code : 305, cfg()->advertised_ip, why);
            sylk_sip_respond(sip_method_invite, nh, 488, "Not Acceptable Here",
                             SIPTAG_WARNING_STR(w), TAG_END());
            return;
        }
    }
    s->answer_timer = g_timeout_add_seconds(ANSWER_TIMEOUT_S, answer_timeout, s);
    g_info("INVITE %s from %s to %s → %s (%u stream%s%s)", req->info.call_id, req->info.from_uri,
           req->info.request_uri, plugin->desc.name, s->streams->len,
           s->streams->len == 1 ? "" : "s", s->late_offer ? ", late offer" : "");
    plugin->desc.incoming_session(s);
}

static bool stream_listed(struct sylk_stream *st, sylk_stream *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == st)
            return true;
    }
    return false;
}

int sylk_session_accept(sylk_session *s, sylk_stream *const *streams, size_t count)
{
    if (!s || (count && !streams))
        return -EINVAL;
    if (s->state != S_INCOMING && s->state != S_EARLY)
        return -EALREADY;
    if (count == 0)
        return -EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (!streams[i] || streams[i]->session != s)
            return -EINVAL;
    }
    if (!s->late_offer) {
        sylk_sdp_copy(&s->local, &s->remote);
        for (unsigned i = 0; i < s->local.count; i++) {
            s->local.m[i].port = 0;
            s->local.m[i].direction = sylk_sdp_reverse(s->remote.m[i].direction);
            sylk_sdp_localize(&s->local.m[i]); /* our own key, same tag and suite */
        }
    }
    for (unsigned i = 0; i < s->streams->len; i++) {
        struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        if (!stream_listed(st, streams, count))
            continue;
        if (sylk_stream_type(st) == SYLK_MEDIA_CHAT ||
            sylk_stream_type(st) == SYLK_MEDIA_FILE_TRANSFER) {
            sylk_session_accept_chat(s, st);
            continue;
        }
        if (sylk_stream_type(st) != SYLK_MEDIA_AUDIO)
            continue;
        int rc = sylk_rtp_open(&sylk_server_get()->rtp_ports, cfg()->local_ip,
                               sylk_server_get()->media, &st->rtp);
        if (rc < 0) {
            sylk_server_rtp_open_failed(sylk_server_get(), rc); /* counted, logged per burst */
            sylk_session_respond_error(s, 503, "Service Unavailable", "no free RTP port");
            return rc;
        }
        s->local.m[st->index].port = sylk_rtp_port(st->rtp);
        s->local.m[st->index].rtcp_port = sylk_rtp_port(st->rtp) + 1;
    }
    if (s->answer_timer) {
        g_source_remove(s->answer_timer);
        s->answer_timer = 0;
    }
    if (!s->late_offer && !sylk_session_apply_remote(s)) {
        sylk_session_respond_error(s, 488, "Not Acceptable Here", "SRTP setup failed");
        return -EPROTO;
    }
    s->state = S_ACCEPTED;
    s->answer_in_ack = s->late_offer;
    return sylk_session_send_sdp(s, 200, s->late_offer ? cfg()->audio_codecs : NULL);
}

int sylk_session_ring(sylk_session *s)
{
    if (!s)
        return -EINVAL;
    if (s->state != S_INCOMING && s->state != S_EARLY)
        return -EALREADY;
    s->state = S_EARLY;
    sylk_sip_respond(sip_method_invite, s->nh, 180, "Ringing", TAG_END());
    return 0;
}

int sylk_session_reject(sylk_session *s, int status, const char *reason)
{
    if (!s || status < 300 || status > 699)
        return -EINVAL;
    if (s->state != S_INCOMING && s->state != S_EARLY)
        return -EALREADY;
    if (s->answer_timer) {
        g_source_remove(s->answer_timer);
        s->answer_timer = 0;
    }
    sylk_session_respond_error(s, status, reason, NULL);
    return 0;
}

int sylk_session_terminate_with(struct sylk_session *s, int unanswered_status, const char *reason)
{
    switch (s->state) {
    case S_INCOMING:
    case S_EARLY:
        if (s->answer_timer) {
            g_source_remove(s->answer_timer);
            s->answer_timer = 0;
        }
        sylk_session_respond_error(s, unanswered_status, reason, NULL);
        return 0;
    case S_CALLING:
        sylk_session_set_end(s, 487, "Request Terminated");
        s->state = S_ENDING;
        sylk_sip_count_request(sip_method_cancel);
        nua_cancel(s->nh, TAG_END());
        return 0;
    case S_ACCEPTED:
    case S_ESTABLISHED:
        sylk_session_set_end(s, 200, "BYE sent");
        s->state = S_ENDING;
        nua_bye(s->nh, TAG_END());
        return 0;
    case S_ENDING:
        return -ENOTCONN;
    }
    return -EINVAL;
}

int sylk_session_terminate(sylk_session *s)
{
    return s ? sylk_session_terminate_with(s, 480, "Temporarily Unavailable") : -EINVAL;
}

void sylk_session_terminate_all(struct sylk_sip_stack *stack)
{
    for (GList *l = stack->sessions; l; l = l->next)
        sylk_session_terminate_with(l->data, 503, "Server Shutting Down");
}

void sylk_session_on_event(struct sylk_session *s, nua_event_t event, int status,
                           const char *phrase, nua_t *nua, const sip_t *sip, tagi_t tags[])
{
    switch (event) {
    case nua_i_state: {
        int cs = -1;
        tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
        if (cs == nua_callstate_ready && s->state != S_ENDING && !s->established_reported) {
            s->state = S_ESTABLISHED;
            s->established_reported = true;
            sylk_session_watch_media(s);
            if (s->handler.established)
                s->handler.established(s, s->user_data);
        } else if (cs == nua_callstate_terminated) {
            sylk_session_finish(s, status, phrase);
        }
        return;
    }
    case nua_i_ack:
        sylk_session_on_ack(s, sip);
        return;
    case nua_i_invite:
        sylk_session_on_reinvite(s, sip);
        return;
    case nua_r_invite:
        sylk_session_on_invite_response(s, status, phrase, sip);
        return;
    case nua_i_bye:
        sylk_session_set_end(s, 200, "BYE received");
        s->state = S_ENDING;
        return;
    case nua_i_cancel:
        sylk_session_set_end(s, 487, "Request Terminated");
        s->state = S_ENDING;
        return;
    case nua_i_refer:
        sylk_referral_incoming_in_dialog(s->stack, s, nua, sip, tags);
        return;
    case nua_i_message:
        sylk_message_incoming_in_dialog(s->stack, s, nua, sip);
        return;
    case nua_i_options: /* keepalive probes of proxies (e.g. Kamailio's dialog module) */
        sylk_sip_respond(sip_method_options, s->nh, 200, "OK", NUTAG_WITH_THIS(nua), TAG_END());
        return;
    case nua_i_subscribe:
        sylk_sip_respond(sip_method_subscribe, s->nh, 403, "Subscriptions Not Accepted In Calls",
                         NUTAG_WITH_THIS(nua), TAG_END());
        return;
    default:
        return;
    }
}

const struct sylk_loaded_plugin *sylk_session_plugin(const struct sylk_session *s)
{
    return s->plugin;
}

nua_handle_t *sylk_session_handle(const struct sylk_session *s)
{
    return s->nh;
}

const struct sylk_request_info *sylk_session_request(sylk_session *s)
{
    return s ? &s->request->info : NULL;
}

void sylk_session_set_handler(sylk_session *s, const struct sylk_session_handler *h, void *ud)
{
    if (!s)
        return;
    memset(&s->handler, 0, sizeof(s->handler));
    if (h)
        memcpy(&s->handler, h, MIN((size_t)h->struct_size, sizeof(s->handler)));
    s->user_data = ud;
}

void *sylk_session_user_data(sylk_session *s)
{
    return s ? s->user_data : NULL;
}

void sylk_session_drop_all(struct sylk_sip_stack *stack)
{
    while (stack->sessions)
        sylk_session_finish(stack->sessions->data, 503, "Server Shut Down");
}
