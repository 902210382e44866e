/*
 * session_out.c — sessions the server originates (see session_out.h): the offer of
 * sylk_session_connect (audio, chat, files to send), its INVITE (as a focus when asked), and
 * the answer: our streams follow it and MSRP connects unless the answerer said it would.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_out.h"

#include "media/rtp.h"
#include "msrp/session.h"
#include "sip/session_focus.h"
#include "sip/session_media.h"
#include "sip/session_msrp.h"
#include "sip/session_offer.h"
#include "sip/session_streams.h"

#include <sofia-sip/sip_tag.h>
#include <string.h>

/* Our m=message line for an offer: chat (sendrecv), or a file we send (RFC 5547, sendonly). */
static bool offer_msrp(struct sylk_session *s, struct sylk_stream *st, enum sylk_media_type type,
                       const struct sylk_file_info *file)
{
    struct sylk_sdp_media *m = &s->local.m[st->index];
    m->type = type;
    m->media = g_strdup("message");
    m->formats = g_strdup("*");
    m->usable = true;
    m->dtmf_pt = -1;
    if (type == SYLK_MEDIA_CHAT) {
        m->direction = SYLK_DIR_SENDRECV;
        m->accept_types = g_strdup("message/cpim text/plain");
        m->accept_wrapped_types = g_strdup("*");
    } else {
        if (!file || !file->name || !file->size) {
            g_warning("session_connect: a file transfer needs a file with a name and a size");
            return false;
        }
        struct sylk_file_selector sel = {
            .name = (char *)file->name,
            .type = (char *)(file->type ? file->type : "application/octet-stream"),
            .size = file->size,
            .hash_sha1 = (char *)file->hash_sha1};
        m->direction = SYLK_DIR_SENDONLY;
        m->accept_types = g_strdup("*");
        m->file_selector = sylk_file_selector_format(&sel);
        g_autofree char *id =
            g_strdup_printf("%08x%08x%08x", g_random_int(), g_random_int(), g_random_int());
        m->file_transfer_id = g_strdup(file->transfer_id ? file->transfer_id : id);
    }
    sylk_session_open_msrp(s, st,
                           "actpass"); /* RFC 6135: the answerer picks; we connect unless it does */
    m->proto = g_strdup(m->msrp_tls ? "TCP/TLS/MSRP" : "TCP/MSRP");
    return st->msrp != NULL;
}

/* Our offer's MSRP streams, once answered: connect unless the answerer said it would. */
static void connect_msrp(struct sylk_session *s)
{
    for (unsigned i = 0; i < s->streams->len; i++) {
        struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        if (!st->msrp || st->index >= s->remote.count || !s->local.m[st->index].port)
            continue;
        const char *setup = s->remote.m[st->index].setup;
        if (setup && g_ascii_strcasecmp(setup, "active") == 0)
            continue; /* it connects to us */
        int rc = sylk_msrp_session_connect(st->msrp);
        if (rc < 0)
            g_info("session %s: MSRP stream %u: no connection (%s)", s->request->info.call_id,
                   st->index, g_strerror(-rc));
    }
}

/* One stream of an outgoing offer; false when it cannot be made. */
static bool offer_stream(struct sylk_session *s, enum sylk_media_type type,
                         const struct sylk_file_info *file)
{
    struct sylk_sdp_media *m = &s->local.m[s->local.count];
    sylk_session_add_stream(s, s->local.count++);
    struct sylk_stream *st = g_ptr_array_index(s->streams, s->streams->len - 1);
    if (type == SYLK_MEDIA_CHAT || type == SYLK_MEDIA_FILE_TRANSFER)
        return offer_msrp(s, st, type, file);
    sylk_session_offer_audio(m);
    if (sylk_rtp_open(&sylk_server_get()->rtp_ports, cfg()->local_ip, sylk_server_get()->media,
                      &st->rtp) < 0)
        return false;
    m->port = sylk_rtp_port(st->rtp);
    m->rtcp_port = m->port + 1;
    return true;
}

sylk_session *sylk_session_connect(const struct sylk_session_params *params)
{
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    struct sylk_session_params copy = {0}, *p = &copy;
    /* Read only what the plugin's SDK version had; later fields stay zero. */
    if (!params || params->struct_size <
                       offsetof(struct sylk_session_params, user_data) + sizeof(params->user_data))
        return NULL;
    memcpy(&copy, params, MIN((size_t)params->struct_size, sizeof(copy)));
    if (!stack || stack->shutting_down || !p->from || !p->to || !p->media || p->media_count == 0 ||
        p->media_count > SYLK_SDP_MAX_STREAMS || (p->file_count && !p->files))
        return NULL;
    size_t files = 0;
    for (size_t i = 0; i < p->media_count; i++) {
        bool msrp = p->media[i] == SYLK_MEDIA_CHAT || p->media[i] == SYLK_MEDIA_FILE_TRANSFER;
        if (p->media[i] != SYLK_MEDIA_AUDIO && !msrp) {
            g_warning("session_connect: only audio, chat and file transfer can be offered");
            return NULL;
        }
        if (msrp && !sylk_server_get()->msrp) {
            g_warning("session_connect: MSRP is not running");
            return NULL;
        }
        files += p->media[i] == SYLK_MEDIA_FILE_TRANSFER;
    }
    if (files > p->file_count) {
        g_warning("session_connect: %zu file transfer streams but %zu files", files, p->file_count);
        return NULL;
    }
    const char *target = p->request_uri ? p->request_uri : p->to;
    nua_handle_t *nh = sylk_sip_handle_new(stack, NULL, p->request_uri, p->from, p->to);
    if (!nh)
        return NULL;
    struct sylk_session *s = sylk_session_new(stack, nh);
    s->state = S_CALLING;
    s->request = sylk_request_new_outgoing("INVITE", target, p->from, p->to);
    sylk_session_set_handler(s, p->handler, p->user_data);
    size_t file = 0;
    for (size_t i = 0; i < p->media_count; i++) {
        const struct sylk_file_info *f =
            p->media[i] == SYLK_MEDIA_FILE_TRANSFER ? &p->files[file++] : NULL;
        if (!offer_stream(s, p->media[i], f)) {
            s->handler.ended = NULL; /* the plugin gets NULL, not a callback */
            sylk_session_finish(s, 503, "Cannot Make The Offer");
            return NULL;
        }
    }
    for (size_t i = 0; p->chatroom && i < s->local.count; i++)
        if (p->media[i] == SYLK_MEDIA_CHAT && !strpbrk(p->chatroom, "\r\n"))
            s->local.m[i].chatroom = g_strdup(p->chatroom);
    g_autofree char *sdp = sylk_sdp_print(&s->local, cfg()->advertised_ip, s->sess_id,
                                          s->sdp_version++, cfg()->audio_codecs);
    if (p->focus) {
        g_autofree char *user = sylk_session_uri_user(p->from);
        s->focus_contact =
            sylk_session_focus_contact(user, sylk_session_outgoing_transport(target));
    }
    sylk_sip_count_request(sip_method_invite);
    nua_invite(nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
               TAG_IF(p->extra_headers, SIPTAG_HEADER_STR(p->extra_headers)),
               TAG_IF(s->focus_contact, SIPTAG_CONTACT_STR(s->focus_contact)), TAG_END());
    g_info("INVITE to %s from %s sent", target, p->from);
    return s;
}

void sylk_session_on_invite_response(struct sylk_session *s, int status, const char *phrase,
                                     const sip_t *sip)
{
    if (s->incoming)
        return; /* we send no re-INVITEs (the remote refreshes session timers) */
    if (status < 200) {
        if (s->handler.progress && status > 100)
            s->handler.progress(s, status, phrase, s->user_data);
        return;
    }
    if (status >= 300) {
        sylk_session_set_end(s, status, phrase);
        return;
    }
    if (s->state != S_CALLING)
        return; /* a retransmitted 2xx */
    g_autofree char *error = NULL;
    if (!sylk_session_take_remote(s, sip, &error)) {
        g_info("outgoing session: 2xx without a usable SDP answer (%s); ending it", error);
        s->state = S_ESTABLISHED;
        sylk_session_terminate_with(s, 488, NULL);
        return;
    }
    sylk_session_adopt_answer(s);
    if (!sylk_session_apply_remote(s)) {
        sylk_session_terminate_with(s, 488, NULL);
        return;
    }
    connect_msrp(s);
}
