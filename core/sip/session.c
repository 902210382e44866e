/*
 * session.c — INVITE dialogs. See session.h.
 *
 * SDP is ours (NUTAG_MEDIA_ENABLE(0)): offers are parsed with sdp/sdp.c, answers printed by
 * it and passed to nua as the response payload. A stream handle is given to the plugin for
 * each usable m= line; the others are refused (port 0) in the answer.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session.h"

#include "media/rtp.h"
#include "media/srtp.h"
#include "msrp/composing.h"
#include "msrp/cpim.h"
#include "msrp/file_selector.h"
#include "msrp/session.h"
#include "plugin/loader.h"
#include "sdp/sdp.h"
#include "server.h"
#include "sip/message.h"
#include "sip/referral.h"
#include "sip/request.h"
#include "sip/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ANSWER_TIMEOUT_S 32

enum state {
    S_INCOMING,    /* waiting for the plugin to answer */
    S_EARLY,       /* 180 sent */
    S_ACCEPTED,    /* 200 sent, waiting for ACK */
    S_CALLING,     /* outgoing INVITE sent */
    S_ESTABLISHED, /* confirmed */
    S_ENDING,      /* BYE/CANCEL/error sent or received */
};

struct sylk_stream {
    struct sylk_session *session;
    unsigned index; /* m= line */
    struct sylk_rtp_socket *rtp;
    char codec[32];
    bool keyed; /* SRTP contexts exist, made from these two keys */
    struct sylk_sdes key_local, key_remote;
    struct sylk_msrp_session *msrp; /* an accepted chat or file-transfer stream */
    struct sylk_chat_handler chat;
    void *chat_data;
    bool in_message;   /* inside chat.message: chat_refuse may set refuse_status */
    int refuse_status; /* 0, or the MSRP status the plugin refused the message with */
    /* file transfer */
    struct sylk_file_selector selector; /* parsed on first use */
    bool selector_parsed, selector_bad;
    struct sylk_file_handler file;
    void *file_data;
    bool file_busy;     /* file_receive or file_send under way: file.done is owed */
    int file_fd;        /* the file being received, or -1 */
    uint64_t file_size; /* of the file being sent */
    /* set_local_attribute: accept-types, accept-wrapped-types, chatroom of our answer; NULL
     * mirrors the offer, "" leaves the attribute out */
    char *local_attrs[3];
};

static void file_done(struct sylk_stream *st, int status, const char *hash, uint64_t size);
static const struct sylk_sdp_media *stream_local(sylk_stream *st);
static void connect_msrp(struct sylk_session *s);
static int arm_file_receive(struct sylk_stream *st);

struct sylk_session {
    struct sylk_owner owner;
    struct sylk_sip_stack *stack;
    nua_handle_t *nh;
    const struct sylk_loaded_plugin *plugin;
    struct sylk_request *request; /* the INVITE received, or the one we sent */
    enum state state;
    bool incoming, late_offer, established_reported;
    bool answer_in_ack;     /* our 2xx carried an offer: the ACK carries the answer */
    struct sylk_sdp remote; /* last offer or answer received */
    struct sylk_sdp local;  /* last description sent */
    GPtrArray *streams;     /* struct sylk_stream *, presented to the plugin */
    guint64 sess_id;
    unsigned sdp_version;
    struct sylk_session_handler handler;
    void *user_data;
    guint answer_timer;
    bool media_watched; /* its RTP timeout is checked (check_all_media), once established */
    gint64 established_us;
    int end_status;
    char *end_reason;
    char *transport;     /* of the INVITE received: "udp", "tcp", "tls" */
    char *focus_contact; /* our Contact with isfocus (RFC 4579), or NULL: the stack's own */
};

static void stream_free(gpointer p)
{
    struct sylk_stream *st = p;
    sylk_rtp_close(st->rtp);
    sylk_msrp_session_free(st->msrp);
    if (st->file_fd >= 0)
        close(st->file_fd);
    sylk_file_selector_clear(&st->selector);
    for (size_t i = 0; i < G_N_ELEMENTS(st->local_attrs); i++)
        g_free(st->local_attrs[i]);
    g_free(st);
}

static struct sylk_server_config *cfg(void)
{
    return &sylk_server_get()->config;
}

/* What offers are negotiated against: [rtp] audio_codecs and srtp. */
static struct sylk_sdp_policy policy(void)
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
static void offer_audio(struct sylk_sdp_media *m)
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

static struct sylk_session *session_new(struct sylk_sip_stack *stack, nua_handle_t *nh)
{
    struct sylk_session *s = g_new0(struct sylk_session, 1);
    s->owner.kind = SYLK_OWNER_SESSION;
    s->stack = stack;
    s->nh = nh;
    s->streams = g_ptr_array_new_with_free_func(stream_free);
    s->sess_id = (guint64)g_get_real_time() ^ ((guint64)g_random_int() << 20);
    nua_handle_bind(nh, &s->owner);
    stack->sessions = g_list_prepend(stack->sessions, s);
    return s;
}

static void set_end(struct sylk_session *s, int status, const char *reason)
{
    if (s->end_status)
        return;
    s->end_status = status;
    s->end_reason = g_strdup(sylk_sip_phrase(s->nh, reason ? reason : sip_status_phrase(status)));
}

/* The single exit: tell the plugin, release everything, destroy the handle. */
static void session_finish(struct sylk_session *s, int status, const char *phrase)
{
    set_end(s, status, phrase);
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

static void respond_error(struct sylk_session *s, int status, const char *reason,
                          const char *warning)
{
    g_autofree char *w =
        warning ? g_strdup_printf("399 %s \"%s\"", cfg()->advertised_ip, warning) : NULL;
    set_end(s, status, reason);
    s->state = S_ENDING;
    /* RFC 3261 21.4.13: a 415 lists the body types we take, which for INVITE is SDP */
    nua_respond(s->nh, status, sylk_sip_phrase(s->nh, reason ? reason : sip_status_phrase(status)),
                TAG_IF(w, SIPTAG_WARNING_STR(w)),
                TAG_IF(status == 415, SIPTAG_ACCEPT_STR("application/sdp")), TAG_END());
}

static gboolean answer_timeout(gpointer data)
{
    struct sylk_session *s = data;
    s->answer_timer = 0;
    g_warning("session %s: application %s did not answer within %d s", s->request->info.call_id,
              s->plugin->desc.name, ANSWER_TIMEOUT_S);
    respond_error(s, 408, "Application Did Not Answer", NULL);
    return G_SOURCE_REMOVE;
}

static void add_stream(struct sylk_session *s, unsigned index)
{
    struct sylk_stream *st = g_new0(struct sylk_stream, 1);
    st->session = s;
    st->index = index;
    st->file_fd = -1;
    g_ptr_array_add(s->streams, st);
}

/* The transport an INVITE came on, from its top Via ("SIP/2.0/TCP"): "udp", "tcp" or "tls". */
static char *via_transport(const sip_t *sip)
{
    const char *proto = sip->sip_via ? sip->sip_via->v_protocol : NULL;
    const char *slash = proto ? strrchr(proto, '/') : NULL;
    return g_ascii_strdown(slash ? slash + 1 : "udp", -1);
}

/*
 * Our Contact as a conference focus (RFC 4579 section 3): the focus user at our address on
 * `transport`, with the isfocus feature tag, which the stack's own Contact cannot carry.
 */
static char *focus_contact(const char *user, const char *transport)
{
    struct sylk_server_config *c = cfg();
    bool tls = g_ascii_strcasecmp(transport, "tls") == 0;
    bool tcp = g_ascii_strcasecmp(transport, "tcp") == 0;
    unsigned port = tls ? c->tls_port : tcp ? c->tcp_port : c->udp_port;
    bool v6 = strchr(c->advertised_ip, ':') != NULL;
    return g_strdup_printf("<%s:%s%s%s%s%s:%u%s>;isfocus", tls ? "sips" : "sip", user ? user : "",
                           user && *user ? "@" : "", v6 ? "[" : "", c->advertised_ip, v6 ? "]" : "",
                           port, tcp ? ";transport=tcp" : "");
}

/* The transport an INVITE to `uri` leaves on: the outbound proxy's or the URI's. */
static const char *outgoing_transport(const char *uri)
{
    const char *via = cfg()->outbound_proxy ? cfg()->outbound_proxy : uri;
    if (g_str_has_prefix(via, "sips:") || strstr(via, "<sips:"))
        return "tls";
    g_autofree char *lower = g_ascii_strdown(via, -1);
    const char *t = strstr(lower, ";transport=");
    if (t && g_str_has_prefix(t + 11, "tcp"))
        return "tcp";
    if (t && g_str_has_prefix(t + 11, "tls"))
        return "tls";
    return "udp";
}

/* The user part of a SIP URI in a name-addr or bare ("Name" <sip:user@host>), or NULL. */
static char *uri_user(const char *addr)
{
    const char *lt = strchr(addr, '<');
    const char *uri = lt ? lt + 1 : addr;
    const char *colon = strchr(uri, ':');
    const char *at = colon ? strpbrk(colon + 1, "@>;") : NULL;
    return at && *at == '@' ? g_strndup(colon + 1, (gsize)(at - colon - 1)) : NULL;
}

int sylk_session_set_focus(sylk_session *s)
{
    if (!s || !s->incoming)
        return -EINVAL;
    if (s->state != S_INCOMING)
        return -EALREADY;
    g_autofree char *user = uri_user(s->request->info.request_uri);
    g_free(s->focus_contact);
    s->focus_contact = focus_contact(user, s->transport);
    return 0;
}

/* A late offer: the core proposes one audio stream, offered in the 200. */
static void propose_audio(struct sylk_session *s)
{
    s->local.count = 1;
    offer_audio(&s->local.m[0]);
    add_stream(s, 0);
}

void sylk_session_incoming(struct sylk_sip_stack *stack, nua_handle_t *nh, const sip_t *sip,
                           struct sylk_request *req, const struct sylk_loaded_plugin *plugin)
{
    struct sylk_session *s = session_new(stack, nh);
    s->incoming = true;
    s->request = req;
    s->plugin = plugin;
    s->state = S_INCOMING;
    s->transport = via_transport(sip);

    if (!sylk_wire_accepts(sip, "application/sdp")) { /* our 2xx would carry SDP */
        g_info("INVITE %s: Accept excludes application/sdp: 406", req->info.call_id);
        respond_error(s, 406, "Not Acceptable", "our answer is application/sdp, not in Accept");
        return;
    }
    if (!sip->sip_payload || sip->sip_payload->pl_len == 0) {
        s->late_offer = true;
        propose_audio(s);
    } else {
        const char *ctype = sip->sip_content_type ? sip->sip_content_type->c_type : NULL;
        g_autofree char *error = NULL;
        if (!ctype || g_ascii_strcasecmp(ctype, "application/sdp") != 0) {
            g_info("INVITE %s: body of type %s is not SDP", req->info.call_id,
                   ctype ? ctype : "(none)");
            respond_error(s, 415, "Unsupported Media Type", "only application/sdp bodies");
            return;
        }
        struct sylk_sdp_policy pol = policy();
        if (sylk_sdp_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &pol, &s->remote,
                           &error) < 0) {
            g_info("INVITE %s from %s: %s", req->info.call_id, req->info.remote_address, error);
            respond_error(s, 488, "Not Acceptable Here", error);
            return;
        }
        for (unsigned i = 0; i < s->remote.count; i++) {
            if (s->remote.m[i].usable)
                add_stream(s, i);
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
            set_end(s, 488, "Not Acceptable Here");
            s->state = S_ENDING;
            g_autofree char *w = g_strdup_printf(
                "%d %s \"%s\"", refused ? refused->refusal_code : 305, cfg()->advertised_ip, why);
            nua_respond(nh, 488, "Not Acceptable Here", SIPTAG_WARNING_STR(w), TAG_END());
            return;
        }
    }
    s->answer_timer = g_timeout_add_seconds(ANSWER_TIMEOUT_S, answer_timeout, s);
    g_info("INVITE %s from %s to %s → %s (%u stream%s%s)", req->info.call_id, req->info.from_uri,
           req->info.request_uri, plugin->desc.name, s->streams->len,
           s->streams->len == 1 ? "" : "s", s->late_offer ? ", late offer" : "");
    plugin->desc.incoming_session(s);
}

/*
 * The remote description takes effect: where to send, which codec, and the SRTP contexts
 * (rebuilt from both keys each time, so a re-INVITE may rekey).
 */
static void on_dtmf(void *user_data, char digit, unsigned duration_ms)
{
    struct sylk_stream *st = user_data;
    struct sylk_session *s = st->session;
    g_debug("session %s: DTMF %c (%u ms)", s->request->info.call_id, digit, duration_ms);
    if (s->handler.dtmf)
        s->handler.dtmf(s, st, digit, duration_ms, s->user_data);
}

static bool same_key(const struct sylk_sdes *a, const struct sylk_sdes *b)
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
    if (st->keyed && same_key(&st->key_local, &l->crypto) && same_key(&st->key_remote, &m->crypto))
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
static bool apply_remote(struct sylk_session *s)
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

static int send_sdp(struct sylk_session *s, int status, char *const *offer_codecs)
{
    g_autofree char *sdp =
        sylk_sdp_print(&s->local, cfg()->advertised_ip, s->sess_id, s->sdp_version++, offer_codecs);
    nua_respond(s->nh, status, sip_status_phrase(status),
                SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
                TAG_IF(s->focus_contact, SIPTAG_CONTACT_STR(s->focus_contact)), TAG_END());
    return 0;
}

static bool stream_listed(struct sylk_stream *st, sylk_stream *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == st)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ chat (MSRP) --- */

/* The CPIM headers as name/value pairs for the plugin (strings borrowed from `cpim`). */
static const char **cpim_pairs(const struct sylk_cpim *cpim)
{
    const char **pairs = g_new0(const char *, 2 * cpim->headers->len + 1);
    for (guint i = 0; i < cpim->headers->len; i++) {
        const struct sylk_cpim_header *h =
            &g_array_index(cpim->headers, struct sylk_cpim_header, i);
        pairs[2 * i] = h->name;
        pairs[2 * i + 1] = h->value;
    }
    return pairs;
}

/* An is-composing body to the plugin's composing callback; its MSRP status. */
static int chat_composing(struct sylk_stream *st, const void *body, size_t len,
                          const struct sylk_chat_message *m)
{
    struct sylk_composing c = {0};
    g_autofree char *error = NULL;
    if (sylk_composing_parse(body, len, &c, &error) < 0) {
        g_info("session %s: bad is-composing document on the chat stream (%s): 400",
               st->session->request->info.call_id, error);
        return 400;
    }
    struct sylk_chat_composing e = {
        .struct_size = sizeof(e),
        .active = c.active,
        .content_type = c.content_type,
        .refresh = c.refresh,
        .last_active = c.last_active,
        .cpim_from = m->cpim_from,
        .cpim_to = m->cpim_to,
        .cpim_headers = m->cpim_headers,
    };
    st->chat.composing(st, &e, st->chat_data);
    sylk_composing_clear(&c);
    return 200;
}

/*
 * A whole chat message: unwrapped from CPIM when wrapped, then to the plugin, whose
 * chat_refuse during the callback becomes the status of the SEND that completed it.
 */
static int chat_message(struct sylk_msrp_session *ms, const struct sylk_msrp_received *r, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    const char *type = r->content_type;
    gsize n;
    const uint8_t *data = g_bytes_get_data(r->body, &n);
    struct sylk_chat_message m = {.struct_size = sizeof(m), .message_id = r->message_id};
    struct sylk_cpim cpim = {0};
    g_autofree const char **pairs = NULL;
    if (type && g_ascii_strncasecmp(type, "message/cpim", 12) == 0) {
        g_autofree char *error = NULL;
        if (sylk_cpim_parse(data, n, &cpim, &error) < 0) {
            g_info("session %s: bad CPIM on the chat stream (%s): 400",
                   st->session->request->info.call_id, error);
            return 400;
        }
        m.cpim = true;
        m.content_type = sylk_cpim_content(&cpim, "Content-Type");
        m.body = cpim.body;
        m.body_len = cpim.body_len;
        m.cpim_from = sylk_cpim_get(&cpim, NULL, "From");
        m.cpim_to = sylk_cpim_get(&cpim, NULL, "To");
        m.cpim_datetime = sylk_cpim_get(&cpim, NULL, "DateTime");
        m.cpim_headers = pairs = cpim_pairs(&cpim);
    } else {
        m.content_type = type ? type : "text/plain";
        m.body = data; /* the MSRP session put a NUL after it */
        m.body_len = n;
    }
    int status = 200;
    bool composing = m.content_type && g_ascii_strncasecmp(m.content_type, SYLK_COMPOSING_TYPE,
                                                           strlen(SYLK_COMPOSING_TYPE)) == 0;
    if (composing && st->chat.composing) {
        status = chat_composing(st, m.body, m.body_len, &m);
    } else if (st->chat.message) {
        st->in_message = true;
        st->refuse_status = 0;
        st->chat.message(st, &m, st->chat_data);
        st->in_message = false;
        if (st->refuse_status)
            status = st->refuse_status;
    }
    sylk_cpim_clear(&cpim);
    return status;
}

static void chat_sent(struct sylk_msrp_session *ms, const char *message_id, void *token, int status,
                      void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (status / 100 != 2)
        g_info("session %s: message %s not delivered: %d", st->session->request->info.call_id,
               message_id, status);
    if (token == &st->file_size)
        file_done(st, status, NULL, st->file_size); /* the file of file_send */
    else if (token && st->chat.sent)
        st->chat.sent(st, token, status, st->chat_data);
}

static void chat_closed(struct sylk_msrp_session *ms, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (st->chat.closed)
        st->chat.closed(st, st->chat_data);
}

static int chat_nickname(struct sylk_msrp_session *ms, const char *nickname, void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    if (!st->chat.nickname)
        return 501;
    int status = st->chat.nickname(st, nickname, st->chat_data);
    return status >= 200 && status <= 599 ? status : 500;
}

static void file_progress(struct sylk_msrp_session *ms, void *token, uint64_t bytes, uint64_t total,
                          void *ud)
{
    struct sylk_stream *st = ud;
    (void)ms;
    (void)token;
    if (st->file_busy && st->file.progress)
        st->file.progress(st, bytes, total, st->file_data);
}

static void file_received(struct sylk_msrp_session *ms, int status, const char *sha1_hex,
                          uint64_t size, void *ud)
{
    (void)ms;
    char selector_hash[60] = "";
    /* RFC 5547 writes hashes as upper-case hex pairs separated by colons */
    for (unsigned i = 0; sha1_hex && sha1_hex[i] && sha1_hex[i + 1] && i < 40; i += 2)
        g_snprintf(selector_hash + strlen(selector_hash), 4, "%s%c%c", i ? ":" : "",
                   g_ascii_toupper(sha1_hex[i]), g_ascii_toupper(sha1_hex[i + 1]));
    file_done(ud, status, sha1_hex ? selector_hash : NULL, size);
}

static const struct sylk_msrp_session_events chat_events = {
    .message = chat_message,
    .sent = chat_sent,
    .closed = chat_closed,
    .nickname = chat_nickname,
    .progress = file_progress,
    .file_received = file_received,
};

/*
 * Our side of an accepted MSRP stream (chat or file transfer): an MSRP session, its URI in
 * a=path; setup passive when answering (RFC 6135: the peer connects to us), actpass when
 * offering.
 */
static void open_msrp(struct sylk_session *s, struct sylk_stream *st, const char *setup)
{
    struct sylk_msrp_transport *t = sylk_server_get()->msrp;
    if (!t)
        return; /* not usable without MSRP: the core never offers it to plugins */
    st->msrp = sylk_msrp_session_new(t, cfg()->advertised_ip, &chat_events, st);
    struct sylk_sdp_media *l = &s->local.m[st->index];
    l->port = sylk_msrp_transport_port(t);
    l->msrp_tls = sylk_msrp_transport_tls(t);
    g_free(l->msrp_path);
    l->msrp_path = g_strdup(sylk_msrp_session_uri(st->msrp));
    g_free(l->setup);
    l->setup = g_strdup(setup);
    char **fields[] = {&l->accept_types, &l->accept_wrapped_types, &l->chatroom};
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        if (!st->local_attrs[i])
            continue;
        g_free(*fields[i]);
        *fields[i] = *st->local_attrs[i] ? g_strdup(st->local_attrs[i]) : NULL;
    }
    if (st->file_busy && st->file_fd >= 0)
        arm_file_receive(st); /* file_receive was called before the answer */
}

static void accept_chat(struct sylk_session *s, struct sylk_stream *st)
{
    open_msrp(s, st, "passive");
}

void sylk_stream_chat_set_handler(sylk_stream *st, const struct sylk_chat_handler *h, void *ud)
{
    if (!st)
        return;
    memset(&st->chat, 0, sizeof(st->chat));
    if (h)
        memcpy(&st->chat, h, MIN((size_t)h->struct_size, sizeof(st->chat)));
    st->chat_data = ud;
}

static int msrp_usable(sylk_stream *st, enum sylk_media_type type)
{
    if (!st || sylk_stream_type(st) != type)
        return -EINVAL;
    return !st->msrp || st->session->state == S_ENDING ? -ENOTCONN : 0;
}

/* The payload as it goes out: wrapped in CPIM with From, To, DateTime when cpim_from is set. */
static GBytes *chat_payload(const char *from, const char *to, const char *const *headers,
                            const char *content_type, const void *body, size_t len,
                            const char **type)
{
    if (!from) {
        *type = content_type;
        return g_bytes_new(body, len);
    }
    struct sylk_cpim c;
    sylk_cpim_init(&c);
    sylk_cpim_add(&c, "From", from);
    if (to)
        sylk_cpim_add(&c, "To", to);
    bool dated = false; /* a DateTime of the plugin's (a message replayed from history) */
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        dated |= g_ascii_strcasecmp(h[0], "DateTime") == 0;
    if (!dated) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format_iso8601(now);
        sylk_cpim_add(&c, "DateTime", stamp);
    }
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        sylk_cpim_add(&c, h[0], h[1]);
    sylk_cpim_add_content(&c, "Content-Type", content_type);
    sylk_cpim_set_body(&c, body ? body : "", len);
    GBytes *wrapped = sylk_cpim_format(&c);
    sylk_cpim_clear(&c);
    *type = "message/cpim";
    return wrapped;
}

int sylk_stream_chat_send(sylk_stream *st, const struct sylk_chat_send_params *params)
{
    struct sylk_chat_send_params p = {0};
    if (!st || !params || params->struct_size < offsetof(struct sylk_chat_send_params, cpim_from))
        return -EINVAL;
    memcpy(&p, params, MIN((size_t)params->struct_size, sizeof(p)));
    if (!p.content_type || (!p.body && p.body_len))
        return -EINVAL;
    int rc = msrp_usable(st, SYLK_MEDIA_CHAT);
    if (rc < 0)
        return rc;
    const char *type;
    g_autoptr(GBytes) payload = chat_payload(p.cpim_from, p.cpim_to, p.cpim_headers, p.content_type,
                                             p.body, p.body_len, &type);
    return sylk_msrp_session_send_message(st->msrp, type, payload, -1, 0, p.token) ? 0 : -ENOTCONN;
}

int sylk_stream_chat_refuse(sylk_stream *st, int status)
{
    if (!st || !st->in_message || status < 400 || status > 499)
        return -EINVAL;
    st->refuse_status = status;
    return 0;
}

int sylk_stream_chat_send_composing(sylk_stream *st, const struct sylk_chat_composing *composing)
{
    struct sylk_chat_composing p = {0};
    if (!composing || composing->struct_size < offsetof(struct sylk_chat_composing, cpim_headers))
        return -EINVAL;
    memcpy(&p, composing, MIN((size_t)composing->struct_size, sizeof(p)));
    int rc = msrp_usable(st, SYLK_MEDIA_CHAT);
    if (rc < 0)
        return rc;
    struct sylk_composing c = {
        .active = p.active, .content_type = (char *)p.content_type, .refresh = p.refresh};
    g_autofree char *xml = sylk_composing_format(&c);
    const char *type;
    g_autoptr(GBytes) payload = chat_payload(p.cpim_from, p.cpim_to, p.cpim_headers,
                                             SYLK_COMPOSING_TYPE, xml, strlen(xml), &type);
    return sylk_msrp_session_send_message(st->msrp, type, payload, -1, 0, NULL) ? 0 : -ENOTCONN;
}

/* ----------------------------------------------------- file transfer (RFC 5547) --- */

/* The transfer is over: the plugin hears it once. */
static void file_done(struct sylk_stream *st, int status, const char *hash, uint64_t size)
{
    if (!st->file_busy)
        return;
    st->file_busy = false;
    if (st->file_fd >= 0) {
        close(st->file_fd);
        st->file_fd = -1;
    }
    g_info("session %s: file transfer on stream %u: %d (%" G_GUINT64_FORMAT " bytes)",
           st->session->request->info.call_id, st->index, status, size);
    if (st->file.done)
        st->file.done(st, status, hash, size, st->file_data);
}

int sylk_stream_file_info(sylk_stream *st, struct sylk_file_info *info)
{
    if (!st || !info || sylk_stream_type(st) != SYLK_MEDIA_FILE_TRANSFER)
        return -EINVAL;
    struct sylk_file_info out = {.struct_size = sizeof(out)};
    const struct sylk_sdp_media *m = st->index < st->session->remote.count
                                         ? &st->session->remote.m[st->index]
                                         : stream_local(st);
    if (!st->selector_parsed) {
        g_autofree char *error = NULL;
        st->selector_bad = sylk_file_selector_parse(m->file_selector, &st->selector, &error) < 0;
        if (st->selector_bad)
            g_info("session %s: stream %u: %s", st->session->request->info.call_id, st->index,
                   error);
        st->selector_parsed = true;
    }
    out.name = st->selector.name;
    out.type = st->selector.type;
    out.size = st->selector.size;
    out.hash_sha1 = st->selector.hash_sha1;
    out.transfer_id = m->file_transfer_id;
    size_t n = MIN((size_t)info->struct_size, sizeof(out));
    uint32_t size = info->struct_size;
    memcpy(info, &out, n);
    info->struct_size = size;
    return 0;
}

static void set_file_handler(struct sylk_stream *st, const struct sylk_file_handler *h, void *ud)
{
    memset(&st->file, 0, sizeof(st->file));
    if (h)
        memcpy(&st->file, h, MIN((size_t)h->struct_size, sizeof(st->file)));
    st->file_data = ud;
}

/* The MSRP session takes the file of file_receive: its size bounds the message. */
static int arm_file_receive(struct sylk_stream *st)
{
    struct sylk_file_info info = {.struct_size = sizeof(info)};
    sylk_stream_file_info(st, &info);
    sylk_msrp_session_set_max_message(st->msrp, info.size ? info.size : SYLK_MSRP_MAX_MESSAGE);
    return sylk_msrp_session_receive_file(st->msrp, st->file_fd);
}

int sylk_stream_file_receive(sylk_stream *st, const char *path, const struct sylk_file_handler *h,
                             void *ud)
{
    if (!st || !path || sylk_stream_type(st) != SYLK_MEDIA_FILE_TRANSFER)
        return -EINVAL;
    enum state state = st->session->state;
    bool unanswered = state == S_INCOMING || state == S_EARLY;
    if (state == S_ENDING || (!st->msrp && !unanswered))
        return -ENOTCONN;
    if (st->file_busy)
        return -EBUSY;
    if (!(sylk_stream_direction(st) & SYLK_DIR_RECVONLY))
        return -EINVAL; /* the peer does not send on it */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    st->file_fd = fd;
    int rc = st->msrp ? arm_file_receive(st) : 0; /* else when the stream is accepted */
    if (rc < 0) {
        close(fd);
        st->file_fd = -1;
        return rc;
    }
    st->file_busy = true;
    set_file_handler(st, h, ud);
    return 0;
}

int sylk_stream_file_send(sylk_stream *st, const char *path, const struct sylk_file_handler *h,
                          void *ud)
{
    int rc = msrp_usable(st, SYLK_MEDIA_FILE_TRANSFER);
    if (!path || rc == -EINVAL)
        return -EINVAL;
    if (rc < 0)
        return rc;
    if (st->file_busy)
        return -EBUSY;
    if (!(sylk_stream_direction(st) & SYLK_DIR_SENDONLY))
        return -EINVAL; /* the peer does not receive on it */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    struct sylk_file_info info = {.struct_size = sizeof(info)};
    sylk_stream_file_info(st, &info);
    set_file_handler(st, h, ud);
    st->file_busy = true;
    st->file_size = (uint64_t)sb.st_size;
    /* the session owns fd from here on, whatever happens */
    if (!sylk_msrp_session_send_message(st->msrp,
                                        info.type ? info.type : "application/octet-stream", NULL,
                                        fd, st->file_size, &st->file_size)) {
        st->file_busy = false;
        close(fd);
        return -ENOTCONN;
    }
    return 0;
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
            accept_chat(s, st);
            continue;
        }
        if (sylk_stream_type(st) != SYLK_MEDIA_AUDIO)
            continue;
        int rc = sylk_rtp_open(&sylk_server_get()->rtp_ports, cfg()->local_ip,
                               sylk_server_get()->media, &st->rtp);
        if (rc < 0) {
            sylk_server_rtp_open_failed(sylk_server_get(), rc); /* counted, logged per burst */
            respond_error(s, 503, "Service Unavailable", "no free RTP port");
            return rc;
        }
        s->local.m[st->index].port = sylk_rtp_port(st->rtp);
        s->local.m[st->index].rtcp_port = sylk_rtp_port(st->rtp) + 1;
    }
    if (s->answer_timer) {
        g_source_remove(s->answer_timer);
        s->answer_timer = 0;
    }
    if (!s->late_offer && !apply_remote(s)) {
        respond_error(s, 488, "Not Acceptable Here", "SRTP setup failed");
        return -EPROTO;
    }
    s->state = S_ACCEPTED;
    s->answer_in_ack = s->late_offer;
    return send_sdp(s, 200, s->late_offer ? cfg()->audio_codecs : NULL);
}

int sylk_session_ring(sylk_session *s)
{
    if (!s)
        return -EINVAL;
    if (s->state != S_INCOMING && s->state != S_EARLY)
        return -EALREADY;
    s->state = S_EARLY;
    nua_respond(s->nh, 180, "Ringing", TAG_END());
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
    respond_error(s, status, reason, NULL);
    return 0;
}

static int terminate_with(struct sylk_session *s, int unanswered_status, const char *reason)
{
    switch (s->state) {
    case S_INCOMING:
    case S_EARLY:
        if (s->answer_timer) {
            g_source_remove(s->answer_timer);
            s->answer_timer = 0;
        }
        respond_error(s, unanswered_status, reason, NULL);
        return 0;
    case S_CALLING:
        set_end(s, 487, "Request Terminated");
        s->state = S_ENDING;
        nua_cancel(s->nh, TAG_END());
        return 0;
    case S_ACCEPTED:
    case S_ESTABLISHED:
        set_end(s, 200, "BYE sent");
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
    return s ? terminate_with(s, 480, "Temporarily Unavailable") : -EINVAL;
}

void sylk_session_terminate_all(struct sylk_sip_stack *stack)
{
    for (GList *l = stack->sessions; l; l = l->next)
        terminate_with(l->data, 503, "Server Shutting Down");
}

/* Our codec choice follows the answer we received to our offer. */
static void adopt_answer(struct sylk_session *s)
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
static bool take_remote(struct sylk_session *s, const sip_t *sip, char **error)
{
    sylk_sdp_clear(&s->remote);
    if (!sip || !sip->sip_payload || sip->sip_payload->pl_len == 0) {
        *error = g_strdup("no SDP");
        return false;
    }
    struct sylk_sdp_policy pol = policy();
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
static void on_ack(struct sylk_session *s, const sip_t *sip)
{
    if (!s->answer_in_ack)
        return;
    s->answer_in_ack = false;
    g_autofree char *error = NULL;
    if (!take_remote(s, sip, &error)) {
        g_info("session %s: ACK without a usable SDP answer (%s); ending it",
               s->request->info.call_id, error);
        terminate_with(s, 488, "Not Acceptable Here");
        return;
    }
    adopt_answer(s);
    if (!apply_remote(s))
        terminate_with(s, 488, "Not Acceptable Here");
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
    bool rekeyed = !previous || !previous->secure || !same_key(&previous->crypto, &offer->crypto);
    if (!l->secure || l->crypto.suite != offer->crypto.suite || rekeyed) {
        l->crypto = offer->crypto;
        l->secure = true;
        sylk_sdp_localize(l);
    }
    l->crypto.tag = offer->crypto.tag;
}

/* A chat or file stream the peer disabled: its MSRP session goes (a pending file fails). */
static void disable_msrp(struct sylk_session *s, unsigned index)
{
    for (unsigned i = 0; i < s->streams->len; i++) {
        struct sylk_stream *st = g_ptr_array_index(s->streams, i);
        if (st->index != index || !st->msrp)
            continue;
        sylk_msrp_session_free(st->msrp);
        st->msrp = NULL;
        file_done(st, 408, NULL, 0);
    }
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
    add_stream(s, index);
    struct sylk_stream *st = g_ptr_array_index(s->streams, s->streams->len - 1);
    if (!om->usable || !om->port || !s->handler.stream_added ||
        !s->handler.stream_added(s, st, s->user_data))
        return;
    if (om->type == SYLK_MEDIA_CHAT || om->type == SYLK_MEDIA_FILE_TRANSFER) {
        accept_chat(s, st);
    } else if (om->type == SYLK_MEDIA_AUDIO &&
               sylk_rtp_open(&sylk_server_get()->rtp_ports, cfg()->local_ip,
                             sylk_server_get()->media, &st->rtp) == 0) {
        l->port = sylk_rtp_port(st->rtp);
        l->rtcp_port = l->port + 1;
    }
}

/* A re-INVITE: new addresses or directions (hold), and maybe streams added at the end. */
static void on_reinvite(struct sylk_session *s, const sip_t *sip)
{
    g_autofree char *error = NULL;
    struct sylk_sdp offer = {0};
    if (!sip->sip_payload || sip->sip_payload->pl_len == 0) {
        /* We make a fresh offer with every codec; the answer comes in the ACK. */
        s->answer_in_ack = true;
        send_sdp(s, 200, cfg()->audio_codecs);
        return;
    }
    struct sylk_sdp_policy pol = policy();
    if (sylk_sdp_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &pol, &offer, &error) <
        0) {
        g_autofree char *w = g_strdup_printf("399 %s \"%s\"", cfg()->advertised_ip, error);
        nua_respond(s->nh, 488, "Not Acceptable Here", SIPTAG_WARNING_STR(w), TAG_END());
        return;
    }
    if (offer.count < s->local.count) { /* RFC 3264 8.2: lines are disabled, never removed */
        nua_respond(s->nh, 488, "Not Acceptable Here",
                    SIPTAG_WARNING_STR("399 - \"m= lines cannot be removed; set their port to 0\""),
                    TAG_END());
        sylk_sdp_clear(&offer);
        return;
    }
    for (unsigned i = 0; i < s->local.count; i++) {
        if (s->local.m[i].port && offer.m[i].port && !offer.m[i].usable) {
            nua_respond(s->nh, 488, "Not Acceptable Here",
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
            disable_msrp(s, i);
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
    if (!apply_remote(s)) {
        nua_respond(s->nh, 488, "Not Acceptable Here",
                    SIPTAG_WARNING_STR("399 - \"SRTP setup failed\""), TAG_END());
        return;
    }
    send_sdp(s, 200, NULL);
    if (s->handler.updated)
        s->handler.updated(s, s->user_data);
}

static void on_invite_response(struct sylk_session *s, int status, const char *phrase,
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
        set_end(s, status, phrase);
        return;
    }
    if (s->state != S_CALLING)
        return; /* a retransmitted 2xx */
    g_autofree char *error = NULL;
    if (!take_remote(s, sip, &error)) {
        g_info("outgoing session: 2xx without a usable SDP answer (%s); ending it", error);
        s->state = S_ESTABLISHED;
        terminate_with(s, 488, NULL);
        return;
    }
    adopt_answer(s);
    if (!apply_remote(s)) {
        terminate_with(s, 488, NULL);
        return;
    }
    connect_msrp(s);
}

static void watch_media(struct sylk_session *s);

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
            watch_media(s);
            if (s->handler.established)
                s->handler.established(s, s->user_data);
        } else if (cs == nua_callstate_terminated) {
            session_finish(s, status, phrase);
        }
        return;
    }
    case nua_i_ack:
        on_ack(s, sip);
        return;
    case nua_i_invite:
        on_reinvite(s, sip);
        return;
    case nua_r_invite:
        on_invite_response(s, status, phrase, sip);
        return;
    case nua_i_bye:
        set_end(s, 200, "BYE received");
        s->state = S_ENDING;
        return;
    case nua_i_cancel:
        set_end(s, 487, "Request Terminated");
        s->state = S_ENDING;
        return;
    case nua_i_refer:
        sylk_referral_incoming_in_dialog(s->stack, s, nua, sip, tags);
        return;
    case nua_i_message:
        sylk_message_incoming_in_dialog(s->stack, s, nua, sip);
        return;
    case nua_i_options: /* keepalive probes of proxies (e.g. Kamailio's dialog module) */
        nua_respond(s->nh, 200, "OK", NUTAG_WITH_THIS(nua), TAG_END());
        return;
    case nua_i_subscribe:
        nua_respond(s->nh, 403, "Subscriptions Not Accepted In Calls", NUTAG_WITH_THIS(nua),
                    TAG_END());
        return;
    default:
        return;
    }
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
    terminate_with(s, 408, "RTP Timeout");
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
        next = l->next; /* terminate_with only sends the BYE: the session stays listed */
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
static void watch_media(struct sylk_session *s)
{
    s->established_us = g_get_monotonic_time();
    if (!cfg()->rtp_timeout)
        return;
    s->media_watched = true;
    if (!s->stack->media_check)
        s->stack->media_check = g_timeout_add_seconds(1, check_all_media, s->stack);
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

size_t sylk_session_stream_count(sylk_session *s)
{
    return s ? s->streams->len : 0;
}

sylk_stream *sylk_session_stream(sylk_session *s, size_t index)
{
    return s && index < s->streams->len ? g_ptr_array_index(s->streams, index) : NULL;
}

static const struct sylk_sdp_media *stream_local(sylk_stream *st)
{
    struct sylk_session *s = st->session;
    if (st->index < s->local.count)
        return &s->local.m[st->index];
    return st->index < s->remote.count ? &s->remote.m[st->index] : NULL;
}

enum sylk_media_type sylk_stream_type(sylk_stream *st)
{
    const struct sylk_sdp_media *m = st ? stream_local(st) : NULL;
    return m ? m->type : SYLK_MEDIA_UNKNOWN;
}

enum sylk_direction sylk_stream_direction(sylk_stream *st)
{
    if (!st)
        return SYLK_DIR_INACTIVE;
    if (st->index < st->session->local.count)
        return st->session->local.m[st->index].direction;
    return sylk_sdp_reverse(st->session->remote.m[st->index].direction);
}

bool sylk_stream_enabled(sylk_stream *st)
{
    if (!st || st->session->state == S_ENDING || st->index >= st->session->local.count)
        return false;
    return st->session->local.m[st->index].port != 0;
}

/* The MSRP attributes the SDK names, in a media description. */
static char **msrp_attribute(struct sylk_sdp_media *m, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } attrs[] = {
        {"path", offsetof(struct sylk_sdp_media, msrp_path)},
        {"accept-types", offsetof(struct sylk_sdp_media, accept_types)},
        {"accept-wrapped-types", offsetof(struct sylk_sdp_media, accept_wrapped_types)},
        {"setup", offsetof(struct sylk_sdp_media, setup)},
        {"chatroom", offsetof(struct sylk_sdp_media, chatroom)},
        {"file-selector", offsetof(struct sylk_sdp_media, file_selector)},
        {"file-transfer-id", offsetof(struct sylk_sdp_media, file_transfer_id)},
    };
    for (size_t i = 0; name && i < G_N_ELEMENTS(attrs); i++) {
        if (strcmp(attrs[i].name, name) == 0)
            return (char **)((char *)m + attrs[i].offset);
    }
    return NULL;
}

const char *sylk_stream_remote_attribute(sylk_stream *st, const char *name)
{
    if (!st || st->index >= st->session->remote.count)
        return NULL;
    char **value = msrp_attribute(&st->session->remote.m[st->index], name);
    return value ? *value : NULL;
}

int sylk_stream_set_local_attribute(sylk_stream *st, const char *name, const char *value)
{
    static const char *const settable[] = {"accept-types", "accept-wrapped-types", "chatroom"};
    if (!st || !name)
        return -EINVAL;
    size_t which = G_N_ELEMENTS(settable);
    for (size_t i = 0; i < G_N_ELEMENTS(settable); i++) {
        if (strcmp(settable[i], name) == 0)
            which = i;
    }
    enum sylk_media_type type = sylk_stream_type(st);
    if (which == G_N_ELEMENTS(settable) ||
        (type != SYLK_MEDIA_CHAT && type != SYLK_MEDIA_FILE_TRANSFER))
        return -ENOTSUP;
    if (value && (strpbrk(value, "\r\n") || strlen(value) > 1024))
        return -EINVAL;
    if (st->msrp || st->session->state == S_ENDING)
        return -EALREADY; /* our description of it is out */
    g_free(st->local_attrs[which]);
    st->local_attrs[which] = g_strdup(value ? value : "");
    return 0;
}

sylk_session *sylk_stream_session(sylk_stream *st)
{
    return st ? st->session : NULL;
}

const char *sylk_stream_codec(sylk_stream *st)
{
    return st && st->codec[0] ? st->codec : NULL;
}

int sylk_stream_rtp(sylk_stream *st, struct sylk_rtp_socket **out)
{
    if (!st || sylk_stream_type(st) != SYLK_MEDIA_AUDIO)
        return -EINVAL;
    if (!st->rtp || st->session->state == S_ENDING)
        return -ENOTCONN;
    *out = st->rtp;
    return 0;
}

int sylk_stream_audio_loopback(sylk_stream *st, unsigned delay_ms)
{
    struct sylk_rtp_socket *rtp;
    int rc = sylk_stream_rtp(st, &rtp);
    return rc < 0 ? rc : sylk_rtp_loopback(rtp, delay_ms);
}

/* ---------------------------------------------------------------- outgoing INVITE --- */

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
    open_msrp(s, st, "actpass"); /* RFC 6135: the answerer picks; we connect unless it does */
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
    add_stream(s, s->local.count++);
    struct sylk_stream *st = g_ptr_array_index(s->streams, s->streams->len - 1);
    if (type == SYLK_MEDIA_CHAT || type == SYLK_MEDIA_FILE_TRANSFER)
        return offer_msrp(s, st, type, file);
    offer_audio(m);
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
    struct sylk_session *s = session_new(stack, nh);
    s->state = S_CALLING;
    s->request = sylk_request_new_outgoing("INVITE", target, p->from, p->to);
    sylk_session_set_handler(s, p->handler, p->user_data);
    size_t file = 0;
    for (size_t i = 0; i < p->media_count; i++) {
        const struct sylk_file_info *f =
            p->media[i] == SYLK_MEDIA_FILE_TRANSFER ? &p->files[file++] : NULL;
        if (!offer_stream(s, p->media[i], f)) {
            s->handler.ended = NULL; /* the plugin gets NULL, not a callback */
            session_finish(s, 503, "Cannot Make The Offer");
            return NULL;
        }
    }
    g_autofree char *sdp = sylk_sdp_print(&s->local, cfg()->advertised_ip, s->sess_id,
                                          s->sdp_version++, cfg()->audio_codecs);
    if (p->focus) {
        g_autofree char *user = uri_user(p->from);
        s->focus_contact = focus_contact(user, outgoing_transport(target));
    }
    nua_invite(nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
               TAG_IF(p->extra_headers, SIPTAG_HEADER_STR(p->extra_headers)),
               TAG_IF(s->focus_contact, SIPTAG_CONTACT_STR(s->focus_contact)), TAG_END());
    g_info("INVITE to %s from %s sent", target, p->from);
    return s;
}

void sylk_session_drop_all(struct sylk_sip_stack *stack)
{
    while (stack->sessions)
        session_finish(stack->sessions->data, 503, "Server Shut Down");
}
