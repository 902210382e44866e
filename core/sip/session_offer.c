/*
 * session_offer.c — SDP offer/answer of a session (see session_offer.h): the policy offers are
 * negotiated against, our offers (late offer, re-INVITE without SDP), answers received in an
 * ACK or to our INVITE, and re-INVITEs (hold, new addresses, keys, streams added or disabled).
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_offer.h"

#include "media/rtp.h"
#include "sip/session_media.h"
#include "sip/session_msrp.h"
#include "sip/session_streams.h"

#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <string.h>
#include <sys/socket.h>

/* What offers are negotiated against: [rtp] audio_codecs and srtp. */
struct sylk_sdp_policy sylk_session_policy(void)
{
    struct sylk_msrp_transport *msrp = sylk_server_get()->msrp;
    unsigned transports = !msrp                           ? 0
                          : sylk_msrp_transport_tls(msrp) ? SYLK_SDP_MSRP_TLS
                                                          : SYLK_SDP_MSRP_TCP;
    /* our RTP sockets are bound to local_ip: offers must use its family (README) */
    return (struct sylk_sdp_policy){.codecs = cfg()->audio_codecs,
                                    .srtp = cfg()->srtp,
                                    .msrp = transports,
                                    .family = strchr(cfg()->local_ip, ':') ? AF_INET6 : AF_INET};
}

/* One audio m= line of ours for an offer: every codec, and a key unless SRTP is disabled. */
void sylk_session_offer_audio(struct sylk_sdp_media *m)
{
    m->type = SYLK_MEDIA_AUDIO;
    m->media = g_strdup("audio");
    m->proto = g_strdup(cfg()->srtp == SYLK_SRTP_MANDATORY ? "RTP/SAVP" : "RTP/AVP");
    m->formats = g_strdup("0");
    m->direction = SYLK_DIR_SENDRECV;
    m->usable = true;
    m->dtmf_pt = -1;
    m->secure = cfg()->srtp != SYLK_SRTP_DISABLED;
    sylk_sdp_localize(m);
}

/* A late offer: the core proposes one audio stream, offered in the 200. */
void sylk_session_propose_audio(struct sylk_session *s)
{
    s->local.count = 1;
    sylk_session_offer_audio(&s->local.m[0]);
    sylk_session_add_stream(s, 0);
}

int sylk_session_send_sdp(struct sylk_session *s, int status, char *const *offer_codecs)
{
    g_autofree char *sdp =
        sylk_sdp_print(&s->local, cfg()->advertised_ip, s->sess_id, s->sdp_version++, offer_codecs);
    sylk_sip_respond(sip_method_invite, s->nh, status, sip_status_phrase(status),
                     SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
                     TAG_IF(s->focus_contact, SIPTAG_CONTACT_STR(s->focus_contact)), TAG_END());
    return 0;
}

/* Our codec choice follows the answer we received to our offer. */
void sylk_session_adopt_answer(struct sylk_session *s)
{
    for (unsigned i = 0; i < s->local.count && i < s->remote.count; i++) {
        struct sylk_sdp_media *l = &s->local.m[i], *r = &s->remote.m[i];
        if (!l->port)
            continue;
        if (!r->usable) {
            l->port = 0; /* refused by the answerer */
            continue;
        }
        if (l->secure && (!r->secure || r->crypto.suite != l->crypto.suite)) {
            if (r->secure || cfg()->srtp == SYLK_SRTP_MANDATORY) {
                l->port = 0; /* no SRTP agreement */
                continue;
            }
            l->secure = false; /* the answerer declined best-effort SRTP */
        }
        l->codec = r->codec;
        l->info = r->info;
        l->pt = r->pt;
        l->clock = r->clock;
        l->dtmf_pt = r->dtmf_pt;
        l->direction = sylk_sdp_reverse(r->direction);
    }
}

/* Replaces the remote description with the SDP of a message; false when it is unusable. */
bool sylk_session_take_remote(struct sylk_session *s, const sip_t *sip, char **error)
{
    sylk_sdp_clear(&s->remote);
    if (!sip || !sip->sip_payload || sip->sip_payload->pl_len == 0) {
        *error = g_strdup("no SDP");
        return false;
    }
    struct sylk_sdp_policy pol = sylk_session_policy();
    if (sylk_sdp_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &pol, &s->remote,
                       error) < 0)
        return false;
    if (s->remote.count != s->local.count || sylk_sdp_usable_count(&s->remote) == 0) {
        *error = g_strdup("the answer does not match the offer or has no common codec");
        return false;
    }
    return true;
}

/* When our 2xx carried an offer (late offer, re-INVITE without SDP), the ACK has the answer. */
void sylk_session_on_ack(struct sylk_session *s, const sip_t *sip)
{
    if (!s->answer_in_ack)
        return;
    s->answer_in_ack = false;
    g_autofree char *error = NULL;
    if (!sylk_session_take_remote(s, sip, &error)) {
        g_info("session %s: ACK without a usable SDP answer (%s); ending it",
               s->request->info.call_id, error);
        sylk_session_terminate_with(s, 488, "Not Acceptable Here");
        return;
    }
    sylk_session_adopt_answer(s);
    if (!sylk_session_apply_remote(s))
        sylk_session_terminate_with(s, 488, "Not Acceptable Here");
}

/*
 * SRTP in a re-offer: keep our key while the suite stays, answer with the offer's tag, make a
 * key when SRTP starts, drop it when the offer goes plain (the policy allowing).
 */
static void follow_offer_keying(struct sylk_sdp_media *l, const struct sylk_sdp_media *offer,
                                const struct sylk_sdp_media *previous)
{
    if (!offer->secure) {
        l->secure = false;
        return;
    }
    /* A new remote key means new contexts: ours must not restart on a key already used. */
    bool rekeyed =
        !previous || !previous->secure || !sylk_session_same_key(&previous->crypto, &offer->crypto);
    if (!l->secure || l->crypto.suite != offer->crypto.suite || rekeyed) {
        l->crypto = offer->crypto;
        l->secure = true;
        sylk_sdp_localize(l);
    }
    l->crypto.tag = offer->crypto.tag;
}

/*
 * A stream a re-INVITE adds: ours is refused (port 0) unless the plugin takes it through its
 * stream_added callback; then a chat stream gets its MSRP session, an audio one its RTP.
 */
static void add_offered_stream(struct sylk_session *s, const struct sylk_sdp_media *om,
                               unsigned index)
{
    struct sylk_sdp_media *l = &s->local.m[index];
    sylk_sdp_media_copy(l, om);
    l->port = 0;
    l->direction = sylk_sdp_reverse(om->direction);
    sylk_sdp_localize(l);
    s->local.count = index + 1;
    sylk_session_add_stream(s, index);
    struct sylk_stream *st = g_ptr_array_index(s->streams, s->streams->len - 1);
    if (!om->usable || !om->port || !s->handler.stream_added ||
        !s->handler.stream_added(s, st, s->user_data))
        return;
    if (om->type == SYLK_MEDIA_CHAT || om->type == SYLK_MEDIA_FILE_TRANSFER) {
        sylk_session_accept_chat(s, st);
    } else if (om->type == SYLK_MEDIA_AUDIO &&
               sylk_rtp_open(&sylk_server_get()->rtp_ports, cfg()->local_ip,
                             sylk_server_get()->media, &st->rtp) == 0) {
        l->port = sylk_rtp_port(st->rtp);
        l->rtcp_port = l->port + 1;
    }
}

/* A re-INVITE: new addresses or directions (hold), and maybe streams added at the end. */
void sylk_session_on_reinvite(struct sylk_session *s, const sip_t *sip)
{
    g_autofree char *error = NULL;
    struct sylk_sdp offer = {0};
    if (!sip->sip_payload || sip->sip_payload->pl_len == 0) {
        /* We make a fresh offer with every codec; the answer comes in the ACK. */
        s->answer_in_ack = true;
        sylk_session_send_sdp(s, 200, cfg()->audio_codecs);
        return;
    }
    struct sylk_sdp_policy pol = sylk_session_policy();
    if (sylk_sdp_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &pol, &offer, &error) <
        0) {
        g_autofree char *w = g_strdup_printf("399 %s \"%s\"", cfg()->advertised_ip, error);
        sylk_sip_respond(sip_method_invite, s->nh, 488, "Not Acceptable Here",
                         SIPTAG_WARNING_STR(w), TAG_END());
        return;
    }
    if (offer.count < s->local.count) { /* RFC 3264 8.2: lines are disabled, never removed */
        sylk_sip_respond(
            sip_method_invite, s->nh, 488, "Not Acceptable Here",
            SIPTAG_WARNING_STR("399 - \"m= lines cannot be removed; set their port to 0\""),
            TAG_END());
        sylk_sdp_clear(&offer);
        return;
    }
    for (unsigned i = 0; i < s->local.count; i++) {
        if (s->local.m[i].port && offer.m[i].port && !offer.m[i].usable) {
            sylk_sip_respond(sip_method_invite, s->nh, 488, "Not Acceptable Here",
                             SIPTAG_WARNING_STR("305 - \"no common codec in the new offer\""),
                             TAG_END());
            sylk_sdp_clear(&offer);
            return;
        }
    }
    unsigned known = s->local.count;
    for (unsigned i = known; i < offer.count; i++)
        add_offered_stream(s, &offer.m[i], i);
    for (unsigned i = 0; i < known; i++) {
        struct sylk_sdp_media *l = &s->local.m[i];
        if (l->port == 0)
            continue;
        if (offer.m[i].port == 0) {
            l->port = 0; /* the offerer disabled the stream */
            sylk_session_disable_msrp(s, i);
            continue;
        }
        l->direction = sylk_sdp_reverse(offer.m[i].direction);
        follow_offer_keying(l, &offer.m[i], i < s->remote.count ? &s->remote.m[i] : NULL);
        l->codec = offer.m[i].codec;
        l->info = offer.m[i].info;
        l->pt = offer.m[i].pt;
        l->clock = offer.m[i].clock;
        l->dtmf_pt = offer.m[i].dtmf_pt;
    }
    sylk_sdp_clear(&s->remote);
    s->remote = offer;
    if (!sylk_session_apply_remote(s)) {
        sylk_sip_respond(sip_method_invite, s->nh, 488, "Not Acceptable Here",
                         SIPTAG_WARNING_STR("399 - \"SRTP setup failed\""), TAG_END());
        return;
    }
    sylk_session_send_sdp(s, 200, NULL);
    if (s->handler.updated)
        s->handler.updated(s, s->user_data);
}
