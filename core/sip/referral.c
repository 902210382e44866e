/*
 * referral.c — REFER handling. See referral.h.
 *
 * After our 202, nua keeps the implicit "refer" subscription; our NOTIFYs carry the Event
 * header nua gave us with the REFER (NUTAG_REFER_EVENT), so the referrer can match them.
 */
#define G_LOG_DOMAIN "sylk-referral"
#include "sip/referral.h"

#include "plugin/loader.h"
#include "sip/pending.h"
#include "sip/request.h"
#include "sip/session.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <string.h>

struct sylk_referral {
    struct sylk_pending base; /* first; base.session: the dialog it arrived in, or NULL */
    bool finished;            /* the final NOTIFY went out (or cannot) */
    char *refer_to;
    char *method;
    char *event;  /* Event header value for the NOTIFYs */
    guint linger; /* after the final NOTIFY: our handle lives until nua has sent it */
};

#define LINGER_S 40 /* longer than a NOTIFY transaction */

static void referral_free(struct sylk_referral *r)
{
    if (r->linger)
        g_source_remove(r->linger);
    r->base.stack->referrals = g_list_remove(r->base.stack->referrals, r);
    sylk_pending_clear(&r->base);
    g_free(r->refer_to);
    g_free(r->method);
    g_free(r->event);
    g_free(r);
}

/* Refer-To: <sip:bob@example.com;method=BYE> → the URI without method, and the method. */
static void parse_refer_to(struct sylk_referral *r, const sip_t *sip)
{
    r->method = g_strdup("INVITE");
    if (!sip->sip_refer_to)
        return;
    url_t url = *sip->sip_refer_to->r_url;
    su_home_t home[1] = {SU_HOME_INIT(home)};
    if (url.url_params) {
        char *params = su_strdup(home, url.url_params);
        char *value = NULL;
        if (url_param(params, "method", NULL, 0) > 0) {
            char buf[32];
            if (url_param(params, "method", buf, sizeof(buf)) > 0) {
                value = g_ascii_strup(buf, -1);
                url.url_params = url_strip_param_string(params, "method");
                if (url.url_params && !*url.url_params)
                    url.url_params = NULL;
            }
        }
        if (value) {
            g_free(r->method);
            r->method = value;
        }
    }
    char *s = url_as_string(home, &url);
    r->refer_to = g_strdup(s);
    su_home_deinit(home);
}

static struct sylk_referral *referral_new(struct sylk_sip_stack *stack, nua_t *nua,
                                          nua_handle_t *nh, struct sylk_session *session,
                                          const sip_t *sip, tagi_t tags[], struct sylk_request *req)
{
    struct sylk_referral *r = g_new0(struct sylk_referral, 1);
    sylk_pending_init(&r->base, SYLK_OWNER_REFERRAL, stack, nua, nh, session, req);
    sip_event_t const *event = NULL;
    tl_gets(tags, NUTAG_REFER_EVENT_REF(event), TAG_END());
    su_home_t home[1] = {SU_HOME_INIT(home)};
    r->event = event ? g_strdup(sip_header_as_string(home, (const sip_header_t *)event))
                     : g_strdup("refer");
    su_home_deinit(home);
    parse_refer_to(r, sip);
    stack->referrals = g_list_prepend(stack->referrals, r);
    return r;
}

void sylk_referral_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                            const sip_t *sip, tagi_t tags[], struct sylk_request *req,
                            const struct sylk_loaded_plugin *plugin)
{
    if (!sip->sip_refer_to) {
        sylk_sip_respond(sip_method_refer, nh, 400, "Missing Refer-To", NUTAG_WITH_THIS(nua),
                         TAG_END());
        nua_handle_destroy(nh);
        sylk_request_free(req);
        return;
    }
    struct sylk_referral *r = referral_new(stack, nua, nh, NULL, sip, tags, req);
    g_info("REFER %s from %s: %s %s → %s", req->info.call_id, req->info.from_uri, r->method,
           r->refer_to, plugin->desc.name);
    plugin->desc.incoming_referral(r);
}

void sylk_referral_incoming_in_dialog(struct sylk_sip_stack *stack, struct sylk_session *session,
                                      nua_t *nua, const sip_t *sip, tagi_t tags[])
{
    const struct sylk_loaded_plugin *plugin = sylk_session_plugin(session);
    nua_handle_t *nh = sylk_session_handle(session);
    if (!plugin || !plugin->desc.incoming_referral) {
        sylk_sip_respond(sip_method_refer, nh, 405, "Method Not Allowed", NUTAG_WITH_THIS(nua),
                         TAG_END());
        return;
    }
    if (!sip->sip_refer_to) {
        sylk_sip_respond(sip_method_refer, nh, 400, "Missing Refer-To", NUTAG_WITH_THIS(nua),
                         TAG_END());
        return;
    }
    plugin->desc.incoming_referral(
        referral_new(stack, nua, nh, session, sip, tags, sylk_request_new(nua, sip)));
}

void sylk_referral_on_event(struct sylk_referral *r, nua_event_t event, int status,
                            const sip_t *sip, tagi_t tags[])
{
    (void)sip;
    if (event != nua_r_notify || status < 200)
        return;
    int substate = -1;
    tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
    if (r->linger && substate == nua_substate_terminated) {
        referral_free(r); /* the final NOTIFY is through: the handle may go */
        return;
    }
    /* A NOTIFY rejected with 481 means the referrer is gone. */
    if (status == 481)
        r->finished = true;
}

static gboolean linger_over(gpointer data)
{
    struct sylk_referral *r = data;
    r->linger = 0;
    referral_free(r);
    return G_SOURCE_REMOVE;
}

/* The plugin is done with the referral; destroying a handle would drop queued NOTIFYs. */
static void release(struct sylk_referral *r)
{
    r->finished = true;
    if (!r->base.session && r->base.nh && !r->linger)
        r->linger = g_timeout_add_seconds(LINGER_S, linger_over, r);
    else if (!r->linger)
        referral_free(r);
}

void sylk_referral_session_gone(struct sylk_sip_stack *stack, struct sylk_session *session)
{
    for (GList *l = stack->referrals; l; l = l->next) {
        struct sylk_referral *r = l->data;
        if (r->base.session == session)
            sylk_pending_detach(&r->base);
    }
}

static int answer(struct sylk_referral *r, int status, const char *reason);
static void send_notify(struct sylk_referral *r, int status, const char *reason);

void sylk_referral_terminate_all(struct sylk_sip_stack *stack)
{
    for (GList *l = stack->referrals; l; l = l->next) {
        struct sylk_referral *r = l->data;
        if (!r->base.answered)
            answer(r, 503, "Server Shutting Down");
        else if (!r->finished && r->base.nh)
            send_notify(r, 503, "Server Shutting Down");
        r->finished = true;
    }
}

void sylk_referral_free_all(struct sylk_sip_stack *stack)
{
    while (stack->referrals)
        referral_free(stack->referrals->data);
}

const struct sylk_request_info *sylk_referral_request(sylk_referral *r)
{
    return r ? &r->base.request->info : NULL;
}

const char *sylk_referral_refer_to(sylk_referral *r)
{
    return r ? r->refer_to : NULL;
}

const char *sylk_referral_refer_method(sylk_referral *r)
{
    return r ? r->method : NULL;
}

sylk_session *sylk_referral_session(sylk_referral *r)
{
    return r ? r->base.session : NULL;
}

static int answer(struct sylk_referral *r, int status, const char *reason)
{
    return sylk_pending_answer(&r->base, status, reason);
}

int sylk_referral_accept(sylk_referral *r)
{
    return r ? answer(r, 202, "Accepted") : -EINVAL;
}

int sylk_referral_reject(sylk_referral *r, int status, const char *reason)
{
    if (!r || status < 300 || status > 699)
        return -EINVAL;
    int rc = answer(r, status, reason);
    if (rc == 0 || rc == -ENOTCONN)
        referral_free(r);
    return rc;
}

static void send_notify(struct sylk_referral *r, int status, const char *reason)
{
    g_autofree char *frag =
        g_strdup_printf("SIP/2.0 %d %s\r\n", status, reason ? reason : sip_status_phrase(status));
    bool final = status >= 200;
    nua_notify(r->base.nh, SIPTAG_EVENT_STR(r->event),
               SIPTAG_CONTENT_TYPE_STR("message/sipfrag;version=2.0"), SIPTAG_PAYLOAD_STR(frag),
               NUTAG_SUBSTATE(final ? nua_substate_terminated : nua_substate_active),
               TAG_IF(final, SIPTAG_SUBSCRIPTION_STATE_STR("terminated;reason=noresource")),
               TAG_END());
}

int sylk_referral_notify(sylk_referral *r, int status, const char *reason)
{
    if (!r || status < 100 || status > 699)
        return -EINVAL;
    if (!r->base.answered)
        return -EINVAL;
    if (!r->base.nh || r->finished) {
        if (status >= 200 && !r->linger)
            referral_free(r);
        return -ENOTCONN;
    }
    send_notify(r, status, reason);
    if (status >= 200)
        release(r);
    return 0;
}
