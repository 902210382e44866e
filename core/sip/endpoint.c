/*
 * endpoint.c — media endpoints (see endpoint.h): an RTP socket pair from the [rtp] range, an
 * SDP offer/answer of one audio line against the sessions' policy (sdp.c does the parsing,
 * codec choice and printing, so the endpoint keeps its own codec and a mixer transcodes),
 * the result applied to the stream in one step (sylk_rtp_apply), DTMF and the RTP timeout
 * reported to the plugin's handler.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-endpoint"
#include "sip/endpoint.h"

#include "media/rtp.h"
#include "media/srtp.h"
#include "sip/session_internal.h"
#include "sip/session_offer.h"

#include <errno.h>
#include <string.h>

enum ep_state { EP_NEW, EP_OFFERED, EP_ACTIVE };

struct sylk_media_endpoint {
    struct sylk_stream stream; /* session NULL, endpoint this */
    struct sylk_media_endpoint_handler handler;
    void *user_data;
    enum ep_state state;
    struct sylk_sdp local, remote;
    unsigned line; /* our audio m= line in local and remote */
    bool ice_set;  /* local ICE credentials given (media_endpoint_set_ice) */
    uint64_t sess_id;
    unsigned version;
    char *text;        /* the last SDP handed out */
    guint watch;       /* RTP timeout check, once a second */
    gint64 started_us; /* when media started */
};

static void on_dtmf(void *user_data, char digit, unsigned duration_ms)
{
    struct sylk_media_endpoint *ep = user_data;
    if (ep->handler.dtmf)
        ep->handler.dtmf(ep, digit, duration_ms, ep->user_data);
}

/* Reports once that the peer sends nothing for [rtp] timeout seconds. */
static gboolean check_timeout(gpointer data)
{
    struct sylk_media_endpoint *ep = data;
    gint64 since = MAX(sylk_rtp_last_in(ep->stream.rtp), ep->started_us);
    if (g_get_monotonic_time() - since < (gint64)cfg()->rtp_timeout * G_USEC_PER_SEC)
        return G_SOURCE_CONTINUE;
    ep->watch = 0;
    g_info("media endpoint on port %u: no RTP for %u s", sylk_rtp_port(ep->stream.rtp),
           cfg()->rtp_timeout);
    if (ep->handler.timeout)
        ep->handler.timeout(ep, ep->user_data);
    return G_SOURCE_REMOVE;
}

sylk_media_endpoint *sylk_endpoint_new(const struct sylk_media_endpoint_handler *handler,
                                       void *user_data)
{
    struct sylk_media_endpoint *ep = g_new0(struct sylk_media_endpoint, 1);
    int rc = sylk_rtp_open(&sylk_server_get()->rtp_ports, cfg()->local_ip, sylk_server_get()->media,
                           &ep->stream.rtp);
    if (rc < 0) {
        sylk_server_rtp_open_failed(sylk_server_get(), rc);
        g_free(ep);
        errno = -rc;
        return NULL;
    }
    ep->stream.endpoint = ep;
    ep->stream.file_fd = -1;
    if (handler)
        memcpy(&ep->handler, handler, MIN((size_t)handler->struct_size, sizeof(ep->handler)));
    ep->user_data = user_data;
    ep->sess_id = g_random_int();
    return ep;
}

/* Our SDP, kept for the plugin until the next call. */
static const char *print_local(struct sylk_media_endpoint *ep, char *const *offer_codecs)
{
    g_free(ep->text);
    ep->text =
        sylk_sdp_print(&ep->local, cfg()->advertised_ip, ep->sess_id, ep->version++, offer_codecs);
    return ep->text;
}

/* The negotiated description takes effect on the stream (codec, address, DTMF, SRTP). */
static int apply(struct sylk_media_endpoint *ep)
{
    const struct sylk_sdp_media *l = &ep->local.m[ep->line], *m = &ep->remote.m[ep->line];
    struct sylk_rtp_params p = {
        .address = m->address,
        .port = m->port,
        .rtcp_port = m->rtcp_port,
        .info = m->info,
        .pt = m->pt,
        .options = m->options,
        .send = (l->direction & SYLK_DIR_SENDONLY) && (m->direction & SYLK_DIR_RECVONLY),
        .recv = (l->direction & SYLK_DIR_RECVONLY) && (m->direction & SYLK_DIR_SENDONLY),
        .dtmf_pt = m->dtmf_pt,
        .dtmf_clock = m->dtmf_clock,
        .dtmf_fn = on_dtmf,
        .dtmf_data = ep,
        .audio_level_id = m->audio_level_id,
    };
    if (l->secure && m->secure) {
        int rc = sylk_srtp_new(&l->crypto, &m->crypto, &p.srtp);
        if (rc < 0)
            return -ENOTSUP;
        p.srtp_change = true;
    }
    int rc = sylk_rtp_apply(ep->stream.rtp, &p);
    if (rc < 0)
        return rc;
    if (m->codec)
        g_snprintf(ep->stream.codec, sizeof(ep->stream.codec), "%s/%u", m->codec, m->clock);
    ep->state = EP_ACTIVE;
    ep->started_us = g_get_monotonic_time();
    if (cfg()->rtp_timeout && !ep->watch)
        ep->watch = g_timeout_add_seconds(1, check_timeout, ep);
    return 0;
}

/* Parses SDP text against the sessions' policy; -EINVAL when it is not SDP. */
static int parse(const char *sdp, struct sylk_sdp *out)
{
    struct sylk_sdp_policy pol = sylk_session_policy();
    pol.msrp = 0; /* an endpoint carries audio only */
    g_autofree char *error = NULL;
    if (sylk_sdp_parse(sdp, strlen(sdp), &pol, out, &error) < 0) {
        g_info("media endpoint: unusable SDP: %s", error);
        return -EINVAL;
    }
    return 0;
}

int sylk_endpoint_answer(sylk_media_endpoint *ep, const char *offer_sdp, const char **answer)
{
    if (!ep || !offer_sdp || !answer)
        return -EINVAL;
    if (ep->state != EP_NEW)
        return -EALREADY;
    struct sylk_sdp offer = {0};
    int rc = parse(offer_sdp, &offer);
    if (rc < 0)
        return rc;
    unsigned line = offer.count;
    for (unsigned i = 0; i < offer.count && line == offer.count; i++) {
        if (offer.m[i].type == SYLK_MEDIA_AUDIO && offer.m[i].usable && offer.m[i].port)
            line = i;
    }
    if (line == offer.count) {
        sylk_sdp_clear(&offer);
        return -ENOTSUP;
    }
    sylk_sdp_copy(&ep->local, &offer);
    for (unsigned i = 0; i < ep->local.count; i++) {
        ep->local.m[i].port = 0;
        ep->local.m[i].direction = sylk_sdp_reverse(offer.m[i].direction);
        sylk_sdp_localize(&ep->local.m[i]);
    }
    ep->local.m[line].port = sylk_rtp_port(ep->stream.rtp);
    ep->local.m[line].rtcp_port = ep->local.m[line].port + 1;
    sylk_sdp_clear(&ep->remote); /* from an answer that failed to apply */
    ep->remote = offer;
    ep->line = line;
    rc = apply(ep);
    if (rc < 0)
        return rc;
    *answer = print_local(ep, NULL);
    return 0;
}

int sylk_endpoint_offer(sylk_media_endpoint *ep, const char **offer)
{
    if (!ep || !offer)
        return -EINVAL;
    if (ep->state != EP_NEW)
        return -EALREADY;
    sylk_sdp_clear(&ep->local);
    ep->local.count = 1;
    ep->line = 0;
    sylk_session_offer_audio(&ep->local.m[0]);
    ep->local.m[0].port = sylk_rtp_port(ep->stream.rtp);
    ep->local.m[0].rtcp_port = ep->local.m[0].port + 1;
    ep->state = EP_OFFERED;
    *offer = print_local(ep, cfg()->audio_codecs);
    return 0;
}

int sylk_endpoint_set_answer(sylk_media_endpoint *ep, const char *answer_sdp)
{
    if (!ep || !answer_sdp)
        return -EINVAL;
    if (ep->state != EP_OFFERED)
        return -EALREADY;
    struct sylk_sdp answer = {0};
    int rc = parse(answer_sdp, &answer);
    if (rc < 0)
        return rc;
    struct sylk_sdp_media *l = &ep->local.m[0], *r = &answer.m[0];
    bool keyed = !l->secure || (r->secure && r->crypto.suite == l->crypto.suite) ||
                 (!r->secure && cfg()->srtp != SYLK_SRTP_MANDATORY);
    if (answer.count < 1 || r->type != SYLK_MEDIA_AUDIO || !r->usable || !r->port || !keyed) {
        sylk_sdp_clear(&answer);
        return -ENOTSUP;
    }
    l->secure = l->secure && r->secure;
    l->codec = r->codec;
    l->info = r->info;
    l->pt = r->pt;
    l->clock = r->clock;
    l->dtmf_pt = r->dtmf_pt;
    l->direction = sylk_sdp_reverse(r->direction);
    sylk_sdp_clear(&ep->remote);
    ep->remote = answer;
    return apply(ep);
}

int sylk_endpoint_set_ice(sylk_media_endpoint *ep, const char *ufrag, const char *pwd)
{
    if (!ep || !ep->stream.rtp || !ufrag != !pwd ||
        (ufrag && (strlen(ufrag) < 4 || strlen(pwd) < 22)))
        return -EINVAL;
    sylk_rtp_set_ice(ep->stream.rtp, ufrag, pwd);
    ep->ice_set = ufrag != NULL;
    return 0;
}

int sylk_endpoint_ice_connect(sylk_media_endpoint *ep, const char *remote_ufrag,
                              const char *remote_pwd)
{
    if (!ep || !ep->stream.rtp || !remote_ufrag || !remote_pwd || !*remote_ufrag || !*remote_pwd ||
        !ep->ice_set)
        return -EINVAL;
    sylk_rtp_ice_connect(ep->stream.rtp, remote_ufrag, remote_pwd);
    return 0;
}

sylk_stream *sylk_endpoint_stream(sylk_media_endpoint *ep)
{
    return ep ? &ep->stream : NULL;
}

void sylk_endpoint_free(sylk_media_endpoint *ep)
{
    if (!ep)
        return;
    if (ep->watch)
        g_source_remove(ep->watch);
    sylk_rtp_close(ep->stream.rtp);
    sylk_sdp_clear(&ep->local);
    sylk_sdp_clear(&ep->remote);
    g_free(ep->text);
    g_free(ep);
}

const struct sylk_sdp_media *sylk_endpoint_local(const sylk_media_endpoint *ep)
{
    return ep->local.count ? &ep->local.m[ep->line] : NULL;
}

bool sylk_endpoint_active(const sylk_media_endpoint *ep)
{
    return ep->state == EP_ACTIVE && ep->local.m[ep->line].port != 0;
}
