/*
 * session_media.c — the media of a session's streams (see session_media.h): the remote
 * description applied to each stream in one step (where to send, codec, direction, DTMF, audio
 * levels, SRTP contexts kept or made from the keys; the peer's MSRP path), the RTP timeout of
 * established calls, and the SDK's access to a stream's RTP.
 *
 * Thread: main thread (the RTP streams themselves run on media threads, see media/rtp.h).
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_media.h"

#include "media/rtp.h"
#include "media/srtp.h"
#include "msrp/session.h"

#include <errno.h>
#include <string.h>

static void on_dtmf(void *user_data, char digit, unsigned duration_ms)
{
    struct sylk_stream *st = user_data;
    struct sylk_session *s = st->session;
    g_debug("session %s: DTMF %c (%u ms)", s->request->info.call_id, digit, duration_ms);
    if (s->handler.dtmf)
        s->handler.dtmf(s, st, digit, duration_ms, s->user_data);
}

bool sylk_session_same_key(const struct sylk_sdes *a, const struct sylk_sdes *b)
{
    return a->suite == b->suite && memcmp(a->master, b->master, sizeof(a->master)) == 0;
}

/*
 * SRTP contexts follow the keys: unchanged keys keep the contexts (their rollover counters
 * and replay windows), changed keys make new ones. A new outbound context always comes with
 * a new key of ours (follow_offer_keying), so no keystream is ever used twice. Fills the SRTP
 * part of `p`; false when the keys cannot be used.
 */
static bool srtp_params(struct sylk_session *s, struct sylk_stream *st,
                        const struct sylk_sdp_media *l, const struct sylk_sdp_media *m,
                        struct sylk_rtp_params *p)
{
    if (!(l->secure && m->secure)) {
        p->srtp_change = st->keyed; /* back to plain RTP */
        st->keyed = false;
        return true;
    }
    if (st->keyed && sylk_session_same_key(&st->key_local, &l->crypto) &&
        sylk_session_same_key(&st->key_remote, &m->crypto))
        return true;
    if (sylk_srtp_new(&l->crypto, &m->crypto, &p->srtp) < 0) {
        g_warning("session %s: cannot set up SRTP (%s against %s)", s->request->info.call_id,
                  sylk_srtp_suite_name(l->crypto.suite), sylk_srtp_suite_name(m->crypto.suite));
        return false;
    }
    p->srtp_change = true;
    st->key_local = l->crypto;
    st->key_remote = m->crypto;
    st->keyed = true;
    return true;
}

/*
 * The remote description takes effect on each stream in one step: where to send, which codec,
 * direction, DTMF, audio levels and SRTP. A stream refused (port 0) stops. False when SRTP
 * cannot be set up: nothing flows on that stream and the caller ends the call rather than let
 * media go unprotected.
 */
bool sylk_session_apply_remote(struct sylk_session *s)
{
    bool ok = true;
    for (unsigned i = 0; i < s->streams->len; i++) {
        struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        if (st->msrp && st->index < s->remote.count) {
            g_autofree char *error = NULL;
            const char *path = s->remote.m[st->index].msrp_path;
            if (path && sylk_msrp_session_set_peer(st->msrp, path, &error) < 0)
                g_warning("session %s: chat stream: %s", s->request->info.call_id, error);
            continue;
        }
        if (!st->rtp || st->index >= s->remote.count || st->index >= s->local.count)
            continue;
        const struct sylk_sdp_media *m = &s->remote.m[st->index];
        const struct sylk_sdp_media *l = &s->local.m[st->index];
        if (l->port == 0) {
            sylk_rtp_close(st->rtp);
            st->rtp = NULL;
            st->keyed = false;
            continue;
        }
        if (m->codec)
            g_snprintf(st->codec, sizeof(st->codec), "%s/%u", m->codec, m->clock);
        /* RFC 3264 6.1: an answer keeps the offer's payload types, so one pt serves both ways.
         * SYLK_DIR_SENDONLY and _RECVONLY are bits of SENDRECV: both sides must agree. */
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
            .dtmf_data = st,
            .audio_level_id = m->audio_level_id,
        };
        if (!srtp_params(s, st, l, m, &p)) {
            ok = false;
            p.info = NULL;
            p.send = p.recv = false;
        }
        int rc = sylk_rtp_apply(st->rtp, &p);
        if (rc < 0)
            g_warning("session %s: audio stream %u: %s", s->request->info.call_id, st->index,
                      g_strerror(-rc));
    }
    return ok;
}

/* Whether the remote side is expected to send on any of our audio streams (not on hold). */
static bool expects_rtp(const struct sylk_session *s, gint64 *last_in)
{
    bool expects = false;
    *last_in = 0;
    for (unsigned i = 0; i < s->streams->len; i++) {
        const struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        if (!st->rtp || st->index >= s->remote.count)
            continue;
        enum sylk_direction d = s->remote.m[st->index].direction;
        expects |= d == SYLK_DIR_SENDRECV || d == SYLK_DIR_SENDONLY;
        *last_in = MAX(*last_in, sylk_rtp_last_in(st->rtp));
    }
    return expects;
}

/* Ends the call when it has had no RTP for rtp_timeout seconds; false when it is over. */
static bool check_media(struct sylk_session *s, gint64 now)
{
    gint64 last_in;
    if (s->state != S_ESTABLISHED || !expects_rtp(s, &last_in))
        return true;
    gint64 since = MAX(last_in, s->established_us);
    if (now - since < (gint64)cfg()->rtp_timeout * G_USEC_PER_SEC)
        return true;
    g_info("session %s: no RTP for %u s; ending the call", s->request->info.call_id,
           cfg()->rtp_timeout);
    s->media_watched = false;
    sylk_session_terminate_with(s, 408, "RTP Timeout");
    return false;
}

/*
 * One timer for every session, not one each: the main loop walks each GSource in every
 * iteration, and sofia-sip's timers can make it iterate in bursts (its GSource reports a
 * timer under 1 ms away as ready), so per-session sources made those bursts cost O(calls).
 */
static gboolean check_all_media(gpointer data)
{
    struct sylk_sip_stack *stack = data;
    gint64 now = g_get_monotonic_time();
    bool any = false;
    for (GList *l = stack->sessions, *next; l; l = next) {
        /* sylk_session_terminate_with only sends the BYE: the session stays listed */
        next = l->next;
        struct sylk_session *s = l->data;
        if (s->media_watched)
            any |= check_media(s, now);
    }
    if (any)
        return G_SOURCE_CONTINUE;
    stack->media_check = 0;
    return G_SOURCE_REMOVE;
}

/* Every stream of ours is audio (this version's only media), so a silent call is a dead one. */
void sylk_session_watch_media(struct sylk_session *s)
{
    s->established_us = g_get_monotonic_time();
    if (!cfg()->rtp_timeout)
        return;
    s->media_watched = true;
    if (!s->stack->media_check)
        s->stack->media_check = g_timeout_add_seconds(1, check_all_media, s->stack);
}

int sylk_stream_rtp(sylk_stream *st, struct sylk_rtp_socket **out)
{
    if (!st || sylk_stream_type(st) != SYLK_MEDIA_AUDIO)
        return -EINVAL;
    if (!st->rtp || (st->session && st->session->state == S_ENDING))
        return -ENOTCONN; /* an endpoint's stream (no session) has RTP until it is freed */
    *out = st->rtp;
    return 0;
}

int sylk_stream_audio_loopback(sylk_stream *st, unsigned delay_ms)
{
    struct sylk_rtp_socket *rtp;
    int rc = sylk_stream_rtp(st, &rtp);
    return rc < 0 ? rc : sylk_rtp_loopback(rtp, delay_ms);
}
