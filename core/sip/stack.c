/*
 * stack.c — nua on the GLib loop and the one event callback. See stack.h.
 */
#define G_LOG_DOMAIN "sylk-sip"
#include "sip/stack.h"

#include "log.h"
#include "server.h"
#include "sip/message.h"
#include "sip/referral.h"
#include "sip/referrer.h"
#include "sip/request.h"
#include "sip/router.h"
#include "sip/session.h"
#include "sip/subscriber.h"
#include "sip/subscription.h"
#include "sip/transport.h"
#include "sip/wire.h"
#include "sylk-build-config.h"

#include <errno.h>
#include <limits.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPL_METHODS    "INVITE, MESSAGE, SUBSCRIBE, OPTIONS"
#define ALLOWED_METHODS "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY"
/* nua answers 489 itself for events not listed; these reach routing so that an application
 * that does not handle SUBSCRIBE answers 405, as for any other method it lacks. */
#define ROUTED_EVENTS "conference, presence, dialog, message-summary, refer"

struct sylk_sip_stack *sylk_sip_stack_get(void)
{
    struct sylk_server *server = sylk_server_get();
    return server ? &server->sip : NULL;
}

const char *sylk_sip_phrase(int status, const char *phrase)
{
    const char *standard = sip_status_phrase(status);
    if (!phrase || (standard && strcmp(phrase, standard) == 0))
        return standard;
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    GHashTable *phrases = stack ? stack->phrases : NULL;
    const char *kept = phrases ? g_hash_table_lookup(phrases, phrase) : NULL;
    if (kept)
        return kept;
    if (!phrases || g_hash_table_size(phrases) >= SYLK_SIP_MAX_PHRASES) {
        g_warning("more than %d reason phrases: '%s' answered with the standard one",
                  SYLK_SIP_MAX_PHRASES, phrase);
        return standard ? standard : "";
    }
    char *copy = g_strdup(phrase);
    g_hash_table_add(phrases, copy);
    return copy;
}

void sylk_sip_reject_unowned(nua_t *nua, nua_handle_t *nh, int status, const char *reason,
                             const char *warning)
{
    struct sylk_server *server = sylk_server_get();
    g_autofree char *w =
        warning ? g_strdup_printf("399 %s \"%s\"", server->config.advertised_ip, warning) : NULL;
    sylk_sip_respond(sylk_sip_request_method(nua_current_request(nua)), nh, status,
                     sylk_sip_phrase(status, reason), NUTAG_WITH_THIS(nua),
                     TAG_IF(w, SIPTAG_WARNING_STR(w)), TAG_END());
    nua_handle_destroy(nh);
}

/* A From/To value: "Name <uri>" as it is; a bare URI goes in <>, so that its parameters
 * (sip:juliet@example.com;gr=balcony) stay the URI's and do not become the header's (RFC 3261
 * §20.10). */
static char *address_value(su_home_t *home, const char *address)
{
    if (!address || strchr(address, '<'))
        return su_strdup(home, address);
    return su_sprintf(home, "<%s>", address);
}

nua_handle_t *sylk_sip_handle_new(struct sylk_sip_stack *stack, struct sylk_owner *owner,
                                  const char *request_uri, const char *from, const char *to)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    const char *fv = address_value(home, from);
    const char *tv = address_value(home, to);
    sip_from_t *f = fv ? sip_from_make(home, fv) : NULL;
    sip_to_t *t = tv ? sip_to_make(home, tv) : NULL;
    url_t *target =
        request_uri ? url_hdup(home, URL_STRING_MAKE(request_uri)->us_url) : (t ? t->a_url : NULL);
    nua_handle_t *nh = NULL;
    if (f && t && target && target->url_host)
        nh = nua_handle(stack->nua, owner, NUTAG_URL(target), SIPTAG_FROM(f), SIPTAG_TO(t),
                        TAG_END());
    else
        g_warning("cannot originate a request from '%s' to '%s'%s%s: not SIP addresses", from, to,
                  request_uri ? " via " : "", request_uri ? request_uri : "");
    su_home_deinit(home);
    return nh;
}

static const char *header_value(const sip_t *sip, const char *name, su_home_t *home)
{
    for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next) {
        if (u->un_name && g_ascii_strcasecmp(u->un_name, name) == 0)
            return su_strdup(home, u->un_value);
    }
    return NULL;
}

static void route_incoming(struct sylk_sip_stack *stack, nua_event_t event, nua_t *nua,
                           nua_handle_t *nh, const sip_t *sip, tagi_t tags[])
{
    struct sylk_server *server = stack->server;
    if (!sip || !sip->sip_request) {
        nua_handle_destroy(nh);
        return;
    }
    if (stack->shutting_down) {
        sylk_sip_reject_unowned(nua, nh, 503, "Server Shutting Down", NULL);
        return;
    }
    struct sylk_request *req = sylk_request_new(nua, sip);
    su_home_t home[1] = {SU_HOME_INIT(home)};
    const url_t *ruri = sip->sip_request->rq_url;
    struct sylk_route_request rr = {
        .method = sip->sip_request->rq_method_name,
        .ruri_user = ruri->url_user,
        .ruri_host = ruri->url_host,
        .app_header = header_value(sip, "X-Sylk-App", home),
        .event = sip->sip_event ? sip->sip_event->o_type : NULL,
        .has_replaces = sip->sip_replaces != NULL,
        .source = sylk_request_source(req),
    };
    struct sylk_route route;
    sylk_router_route(&server->config, sylk_plugins_lookup, &server->plugins, &rr, &route);
    su_home_deinit(home);
    if (route.status) {
        g_info("%s %s from %s (%s): %d %s%s%s", req->info.method, req->info.request_uri,
               req->info.from_uri ? req->info.from_uri : "?",
               req->info.remote_address ? req->info.remote_address : "?", route.status,
               route.reason, route.warning ? ": " : "", route.warning ? route.warning : "");
        sylk_sip_reject_unowned(nua, nh, route.status, route.reason, route.warning);
        sylk_request_free(req);
        return;
    }
    const struct sylk_loaded_plugin *plugin = (const struct sylk_loaded_plugin *)route.plugin;
    switch (event) {
    case nua_i_invite:
        sylk_session_incoming(stack, nh, sip, req, plugin);
        break;
    case nua_i_message:
        sylk_message_incoming(stack, nua, nh, req, plugin);
        break;
    case nua_i_subscribe:
        sylk_subscription_incoming(stack, nua, nh, sip, req, plugin);
        break;
    case nua_i_refer:
        sylk_referral_incoming(stack, nua, nh, sip, tags, req, plugin);
        break;
    default:
        sylk_sip_reject_unowned(nua, nh, 405, "Method Not Allowed", NULL);
        sylk_request_free(req);
        break;
    }
}

/*
 * A request sofia-sip parsed leniently where RFC 3261's syntax is strict (wire.c) gets 400
 * with the reason, one of another SIP version 505; true when it did.
 */
static bool reject_malformed(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                             const sip_t *sip)
{
    const char *problem;
    int status = sylk_wire_request_problem(stack->wire, sip, &problem);
    if (!status)
        return false;
    const char *phrase = status == 505 ? "Version Not Supported" : "Bad Request";
    g_info("%s %s: %d %s: %s", sip->sip_request->rq_method_name,
           sip->sip_call_id ? sip->sip_call_id->i_id : "(no Call-ID)", status, phrase, problem);
    sylk_sip_reject_unowned(nua, nh, status, phrase, problem);
    return true;
}

static void answer_options(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh)
{
    struct sylk_request *req = sylk_request_new(nua, NULL);
    if (!sylk_config_peer_trusted(&stack->server->config, sylk_request_source(req)))
        sylk_sip_reject_unowned(nua, nh, 403, "Forbidden", "source address not in trusted_peers");
    else if (stack->shutting_down)
        sylk_sip_reject_unowned(nua, nh, 503, "Server Shutting Down", NULL);
    else {
        sylk_sip_respond(sip_method_options, nh, 200, "OK", NUTAG_WITH_THIS(nua),
                         SIPTAG_ACCEPT_STR("application/sdp, text/plain, message/cpim"), TAG_END());
        nua_handle_destroy(nh);
    }
    sylk_request_free(req);
}

static void on_owned_event(struct sylk_owner *owner, nua_event_t event, int status,
                           const char *phrase, nua_t *nua, const sip_t *sip, tagi_t tags[])
{
    switch (owner->kind) {
    case SYLK_OWNER_SESSION:
        sylk_session_on_event((struct sylk_session *)owner, event, status, phrase, nua, sip, tags);
        break;
    case SYLK_OWNER_MESSAGE_OUT:
        sylk_message_on_response((struct sylk_outgoing_message *)owner, event, status, phrase);
        break;
    case SYLK_OWNER_SUBSCRIPTION:
        sylk_subscription_on_event((struct sylk_subscription *)owner, event, status, nua, sip,
                                   tags);
        break;
    case SYLK_OWNER_REFERRAL:
        sylk_referral_on_event((struct sylk_referral *)owner, event, status, sip, tags);
        break;
    case SYLK_OWNER_SUBSCRIBER:
        sylk_subscriber_on_event((struct sylk_outgoing_subscription *)owner, event, status, phrase,
                                 sip, tags);
        break;
    case SYLK_OWNER_REFERRER:
        sylk_referrer_on_event((struct sylk_outgoing_referral *)owner, event, status, phrase, sip,
                               tags);
        break;
    case SYLK_OWNER_MESSAGE_IN:
        break;
    }
}

const char *sylk_sip_method_label(unsigned index)
{
    return index > 0 && index < SYLK_SIP_METHODS ? sip_method_name((sip_method_t)index, "other")
                                                 : "other";
}

static unsigned method_index(sip_method_t method)
{
    return method > 0 && method < SYLK_SIP_METHODS ? (unsigned)method : 0;
}

static void count_response(struct sylk_sip_stack *stack, sip_method_t method, int status)
{
    if (status >= 100 && status < 700)
        stack->counters.responses_out[method_index(method)][status / 100 - 1]++;
}

void sylk_sip_count_request(sip_method_t method)
{
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    if (stack)
        stack->counters.requests_out[method_index(method)]++;
}

void sylk_sip_count_response(sip_method_t method, int status)
{
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    if (stack)
        count_response(stack, method, status);
}

sip_method_t sylk_sip_request_method(msg_t *request)
{
    const sip_t *sip = request ? sip_object(request) : NULL;
    return sip && sip->sip_request ? sip->sip_request->rq_method : sip_method_unknown;
}

/*
 * What nua answered by itself before handing us a request, as its event's status says: a
 * final status is the response nua sent (BYE, NOTIFY of our subscriptions, SUBSCRIBE refreshes
 * of some sofia-sip versions); an INVITE got "100 Trying"; a CANCEL got 200 and its INVITE 487.
 * An ACK is answered by nothing.
 */
static void count_answered_by_nua(struct sylk_sip_stack *stack, nua_event_t event,
                                  sip_method_t method, int status)
{
    if (event == nua_i_ack)
        return;
    if (event == nua_i_cancel)
        count_response(stack, sip_method_invite, 487);
    if (status >= 200 || (method == sip_method_invite && status == 100))
        count_response(stack, method, status);
}

/* The method of a request nua answers with `event` when nua makes the answer up (a timeout). */
static sip_method_t method_of_answer(nua_event_t event)
{
    switch (event) {
    case nua_r_notify:
    case nua_r_method: /* the core sends only NOTIFYs with nua_method (subscription.c) */
        return sip_method_notify;
    case nua_r_subscribe:
    case nua_r_unsubscribe:
        return sip_method_subscribe;
    case nua_r_bye:
        return sip_method_bye;
    default:
        return sip_method_unknown;
    }
}

/*
 * Requests sent, counted at their answer: nua ACKs every final response to our INVITEs (a 2xx
 * itself, as NUTAG_AUTOACK is on by default; others in nta's transaction). NOTIFY, SUBSCRIBE
 * and BYE nua also sends by itself (a REFER's implicit subscription has NOTIFYs of nua's own,
 * a subscription its refreshes, a dialog whose ACK does not come a BYE): those methods are
 * counted at their final answer, received or nua's timeout (408), whoever asked for them.
 */
static void count_sent_at_answer(struct sylk_sip_stack *stack, nua_event_t event, int status,
                                 const sip_t *sip)
{
    if (status < 200 || event < nua_r_register || event > nua_r_method)
        return;
    sip_method_t method = sip && sip->sip_cseq    ? sip->sip_cseq->cs_method
                          : !sip && status == 408 ? method_of_answer(event)
                                                  : sip_method_unknown;
    if (method == sip_method_notify || method == sip_method_subscribe || method == sip_method_bye)
        stack->counters.requests_out[method]++;
    else if (method == sip_method_invite && sip)
        stack->counters.requests_out[sip_method_ack]++;
}

/* A request nua hands us (once per transaction), or a response to one we sent. */
static void count_message(struct sylk_sip_stack *stack, nua_event_t event, int status,
                          const sip_t *sip)
{
    count_sent_at_answer(stack, event, status, sip);
    if (!sip)
        return;
    switch (event) {
    case nua_i_invite:
    case nua_i_cancel:
    case nua_i_ack:
    case nua_i_bye:
    case nua_i_options:
    case nua_i_refer:
    case nua_i_publish:
    case nua_i_prack:
    case nua_i_info:
    case nua_i_update:
    case nua_i_message:
    case nua_i_subscribe:
    case nua_i_notify:
    case nua_i_method:
    case nua_i_register:
        if (sip->sip_request) {
            stack->counters.requests_in[method_index(sip->sip_request->rq_method)]++;
            count_answered_by_nua(stack, event, sip->sip_request->rq_method, status);
        }
        return;
    default:
        break;
    }
    if (event >= nua_r_register && event <= nua_r_method && sip->sip_status && sip->sip_cseq &&
        sip->sip_status->st_status >= 100 && sip->sip_status->st_status < 700)
        stack->counters.responses_in[method_index(sip->sip_cseq->cs_method)]
                                    [sip->sip_status->st_status / 100 - 1]++;
}

static void on_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
                         struct sylk_sip_stack *stack, nua_handle_t *nh, struct sylk_owner *owner,
                         sip_t const *sip, tagi_t tags[])
{
    count_message(stack, event, status, sip);
    if (event == nua_r_shutdown) {
        if (status >= 200 && !stack->shutdown_done) {
            stack->shutdown_done = true;
            sylk_server_sip_stopped(stack->server);
        }
        return;
    }
    if (owner) {
        on_owned_event(owner, event, status, phrase, nua, sip, tags);
        return;
    }
    switch (event) {
    case nua_i_invite:
    case nua_i_message:
    case nua_i_subscribe:
    case nua_i_refer:
        if (!reject_malformed(stack, nua, nh, sip))
            route_incoming(stack, event, nua, nh, sip, tags);
        return;
    case nua_i_options:
        if (!reject_malformed(stack, nua, nh, sip))
            answer_options(stack, nua, nh);
        return;
    case nua_i_error:
        g_warning("nua error %d %s", status, phrase);
        return;
    default:
        /* Requests nua answered by itself arrive on fresh handles nobody owns. */
        if (nh && event < nua_r_set_params)
            nua_handle_destroy(nh);
        return;
    }
}

/* Seconds from [sip] as tport milliseconds; 0 (no limit) is tport's "never", UINT_MAX. */
static unsigned tport_ms(unsigned seconds)
{
    return seconds ? seconds * 1000 : UINT_MAX;
}

static char *bracket(const char *ip)
{
    return strchr(ip, ':') ? g_strdup_printf("[%s]", ip) : g_strdup(ip);
}

/* sofia's TLS wants a directory with agent.pem (key + certificate) and cafile.pem. */
static bool prepare_tls_dir(struct sylk_sip_stack *stack, const struct sylk_server_config *c,
                            GError **error)
{
    stack->tls_dir = g_build_filename(c->spool_dir, "tls", NULL);
    if (g_mkdir_with_parents(stack->tls_dir, 0700) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot create %s: %s",
                    stack->tls_dir, g_strerror(errno));
        return false;
    }
    const char *links[][2] = {{"agent.pem", c->tls_certificate},
                              {"cafile.pem", c->tls_ca ? c->tls_ca : c->tls_certificate}};
    for (size_t i = 0; i < G_N_ELEMENTS(links); i++) {
        g_autofree char *path = g_build_filename(stack->tls_dir, links[i][0], NULL);
        unlink(path);
        if (symlink(links[i][1], path) < 0) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot link %s: %s",
                        path, g_strerror(errno));
            return false;
        }
    }
    return true;
}

/*
 * REFER is handed to us (and allowed) only when a loaded plugin handles it; otherwise nua
 * answers 405 itself. Were REFER listed, nua would create the implicit subscription and send
 * a NOTIFY before our 405 to an application without referrals could go out.
 */
static void methods(const struct sylk_plugin_registry *reg, char **appl, char **allow)
{
    bool refer = false;
    for (guint i = 0; i < reg->plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(reg->plugins, i);
        refer |= p->desc.incoming_referral != NULL;
    }
    *appl = g_strconcat(APPL_METHODS, refer ? ", REFER" : "", NULL);
    *allow = g_strconcat(ALLOWED_METHODS, refer ? ", REFER" : "", NULL);
}

static char *allowed_events(const struct sylk_plugin_registry *reg)
{
    GString *s = g_string_new(ROUTED_EVENTS);
    for (guint i = 0; i < reg->plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(reg->plugins, i);
        for (const char *const *e = p->desc.events; e && *e; e++) {
            if (!strstr(s->str, *e))
                g_string_append_printf(s, ", %s", *e);
        }
    }
    return g_string_free(s, FALSE);
}

/* nta parses with wire.c's message class (set apart from nua_create's options). */
static bool use_wire(struct sylk_sip_stack *stack, GError **error)
{
    stack->wire = sylk_wire_new();
    if (!stack->wire) {
        g_set_error(error, g_quark_from_static_string("sylk-sip"), 1,
                    "cannot make the SIP message class");
        return false;
    }
    nua_set_params(stack->nua, NTATAG_MCLASS(sylk_wire_mclass(stack->wire)),
                   NTATAG_SIPFLAGS(sylk_wire_sip_flags()), TAG_END());
    return true;
}

bool sylk_sip_stack_start(struct sylk_sip_stack *stack, struct sylk_server *server, GError **error)
{
    const struct sylk_server_config *c = &server->config;
    stack->server = server;
    stack->phrases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    su_init();
    sylk_log_redirect_sofia(&server->log, c->trace_sip);
    stack->root = su_glib_root_create(stack);
    if (!stack->root) {
        g_set_error(error, g_quark_from_static_string("sylk-sip"), 1, "su_glib_root_create failed");
        return false;
    }
    su_root_threading(stack->root, 0);
    /* Not blocked while it dispatches: GLib would take each of sofia's descriptors out of the
     * main context's poll set and put it back around every dispatch, and each of those changes
     * writes the context's wake-up eventfd (about ten writes a call). Nothing here runs the main
     * loop recursively, so there is nothing for the block to guard against. */
    g_source_set_can_recurse(su_glib_root_gsource(stack->root), TRUE);
    stack->source_id = g_source_attach(su_glib_root_gsource(stack->root), NULL);

    g_autofree char *adv = bracket(c->advertised_ip);
    unsigned port = c->udp_port ? c->udp_port : c->tcp_port;
    const char *transport = !c->udp_port ? ";transport=tcp" : !c->tcp_port ? ";transport=udp" : "";
    g_autofree char *url =
        port ? g_strdup_printf("sip:%s:%u;maddr=%s%s", adv, port, c->local_ip, transport) : NULL;
    g_autofree char *sips_url =
        c->tls_port ? g_strdup_printf("sips:%s:%u;maddr=%s", adv, c->tls_port, c->local_ip) : NULL;
    if (c->tls_port && !prepare_tls_dir(stack, c, error))
        return false;
    g_autofree char *events = allowed_events(&server->plugins);
    g_autofree char *appl = NULL, *allow = NULL;
    methods(&server->plugins, &appl, &allow);
    g_autofree char *ua = g_strdup_printf("sylkserver-c/%s", SYLK_VERSION);

    stack->nua = nua_create(
        stack->root, on_nua_event, stack, TAG_IF(url, NUTAG_URL(url)),
        TAG_IF(!url, NUTAG_URL("sip:*:*;transport=none")),
        TAG_IF(sips_url, NUTAG_SIPS_URL(sips_url)),
        TAG_IF(sips_url, TPTAG_CERTIFICATE(stack->tls_dir)),
        /* With tls_ca, the servers we connect to (the outbound proxy) must show a certificate
         * that CA signed; sofia checks nothing by default. */
        TAG_IF(sips_url && c->tls_ca, TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_OUT)),
        NUTAG_MEDIA_ENABLE(0), NUTAG_APPL_METHOD(appl), SIPTAG_ALLOW_STR(allow),
        NUTAG_ALLOW_EVENTS(events), NUTAG_AUTOALERT(0), NUTAG_AUTOANSWER(0), NUTAG_ENABLEMESSAGE(1),
        NUTAG_ENABLEINVITE(1), NUTAG_SESSION_TIMER(0),
        /* Neither "timer" nor "100rel": nua's session refresh re-INVITE could not carry our
         * SDP, and PRACK is not implemented; a caller's Session-Expires is then ignored. */
        NUTAG_SESSION_REFRESHER(nua_remote_refresher), SIPTAG_SUPPORTED_STR(""),
        TAG_IF(c->outbound_proxy, NUTAG_PROXY(c->outbound_proxy)),
        NTATAG_MAXSIZE(c->max_message_size), TPTAG_LOG(c->trace_sip),
        /* TCP and TLS: an idle connection (no message pending) is closed after
         * connection_timeout; a message whose next bytes do not come within message_timeout is
         * dropped (400, connection closed). transport.c adds the limit on the message as a
         * whole, and per source address. A CRLF keepalive gets its pong (RFC 5626 3.5.1). */
        TPTAG_IDLE(tport_ms(c->sip_connection_timeout)),
        TPTAG_TIMEOUT(tport_ms(c->sip_message_timeout)), TPTAG_PONG2PING(1),
        SIPTAG_USER_AGENT_STR(ua), SIPTAG_SERVER_STR(ua), TAG_END());
    if (!stack->nua) {
        g_set_error(error, g_quark_from_static_string("sylk-sip"), 1,
                    "cannot listen for SIP on %s%s%s (port in use or address not local?)",
                    url ? url : "", url && sips_url ? " and " : "", sips_url ? sips_url : "");
        return false;
    }
    if (!use_wire(stack, error))
        return false;
    stack->transport = sylk_sip_transport_start(c, &server->counters);
    return true;
}

void sylk_sip_stack_set_trace(struct sylk_sip_stack *stack, bool on)
{
    /* nua hands the tag to nta, nta to its master transport, which reopens its logging. */
    if (stack->nua && !stack->shutting_down)
        nua_set_params(stack->nua, TPTAG_LOG(on), TAG_END());
}

void sylk_sip_stack_shutdown(struct sylk_sip_stack *stack)
{
    if (stack->shutting_down)
        return;
    stack->shutting_down = true;
    sylk_sip_transport_stop(stack->transport);
    stack->transport = NULL;
    if (!stack->nua) {
        stack->shutdown_done = true;
        return;
    }
    sylk_message_abort_all(stack);
    sylk_referral_terminate_all(stack);
    sylk_subscription_terminate_all(stack);
    sylk_subscriber_end_all(stack); /* their handles go: nua un-SUBSCRIBEs the active ones */
    sylk_referrer_end_all(stack);
    sylk_session_terminate_all(stack);
    nua_shutdown(stack->nua);
}

void sylk_sip_stack_destroy(struct sylk_sip_stack *stack)
{
    /* Objects nua never reported as terminated are ended before their handles go away. */
    sylk_session_drop_all(stack);
    sylk_sip_transport_stop(stack->transport);
    stack->transport = NULL;
    if (stack->media_check)
        g_source_remove(stack->media_check);
    stack->media_check = 0;
    sylk_subscription_drop_all(stack);
    sylk_subscriber_end_all(stack);
    sylk_referrer_end_all(stack);
    sylk_referral_terminate_all(stack);
    sylk_message_abort_all(stack);
    sylk_message_free_outgoing(stack);
    sylk_message_free_all(stack);
    sylk_referral_free_all(stack);
    if (stack->nua) {
        nua_destroy(stack->nua);
        stack->nua = NULL;
    }
    if (stack->root) {
        su_root_destroy(stack->root);
        stack->root = NULL;
    }
    sylk_wire_free(stack->wire); /* after nua: its messages refer to the classes */
    stack->wire = NULL;
    g_clear_pointer(&stack->phrases, g_hash_table_unref); /* after nua: its responses too */
    sylk_log_unredirect_sofia();
    su_deinit();
    g_free(stack->tls_dir);
    stack->tls_dir = NULL;
}
