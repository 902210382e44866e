/*
 * subscription.c — the notifier side of SUBSCRIBE. See subscription.h.
 *
 * nua keeps the subscription state (expiry, refresh); we answer the initial SUBSCRIBE when the
 * plugin decides, answer refreshes ourselves, and end the subscription when nua reports its
 * final NOTIFY (NUTAG_SUBSTATE terminated).
 */
#define G_LOG_DOMAIN "sylk-subscription"
#include "sip/subscription.h"

#include "plugin/loader.h"
#include "sip/pending.h"
#include "sip/request.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_alloc.h>
#include <string.h>

#define ANSWER_TIMEOUT_S 32

struct sylk_subscription {
    struct sylk_pending base; /* first */
    bool terminating;
    bool timed_out; /* answered 500 by the core: the plugin's accept/reject frees it */
    char *event;
    struct sylk_subscription_handler handler;
    void *user_data;
};

static void subscription_free(struct sylk_subscription *sub, const char *reason)
{
    sub->base.stack->subscriptions = g_list_remove(sub->base.stack->subscriptions, sub);
    if (sub->handler.ended)
        sub->handler.ended(sub, reason, sub->user_data);
    sylk_pending_clear(&sub->base);
    g_free(sub->event);
    g_free(sub);
}

static gboolean answer_timeout(gpointer data)
{
    struct sylk_subscription *sub = data;
    sub->base.timer = 0;
    g_warning("SUBSCRIBE %s: application did not answer within %d s",
              sub->base.request->info.call_id, ANSWER_TIMEOUT_S);
    sylk_pending_answer(&sub->base, 500, "Application Did Not Answer");
    sub->timed_out = true;
    /* A plugin with a handler learns it through ended; otherwise its late answer frees it. */
    if (sub->handler.ended)
        subscription_free(sub, "timeout");
    return G_SOURCE_REMOVE;
}

void sylk_subscription_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                                const sip_t *sip, struct sylk_request *req,
                                const struct sylk_loaded_plugin *plugin)
{
    struct sylk_subscription *sub = g_new0(struct sylk_subscription, 1);
    sylk_pending_init(&sub->base, SYLK_OWNER_SUBSCRIPTION, stack, nua, nh, NULL, req);
    sylk_pending_set_timeout(&sub->base, ANSWER_TIMEOUT_S, answer_timeout);
    sub->event = g_strdup(sip->sip_event ? sip->sip_event->o_type : "");
    stack->subscriptions = g_list_prepend(stack->subscriptions, sub);
    g_info("SUBSCRIBE %s from %s to %s for %s → %s", req->info.call_id, req->info.from_uri,
           req->info.request_uri, sub->event, plugin->desc.name);
    plugin->desc.incoming_subscription(sub);
}

void sylk_subscription_on_event(struct sylk_subscription *sub, nua_event_t event, int status,
                                nua_t *nua, const sip_t *sip, tagi_t tags[])
{
    (void)status;
    int substate = -1;
    switch (event) {
    case nua_i_subscribe: /* refresh or unsubscribe within the dialog */
        nua_respond(sub->base.nh, 200, "OK", NUTAG_WITH_THIS(nua), TAG_END());
        if (sip && sip->sip_expires && sip->sip_expires->ex_delta == 0)
            sylk_subscription_terminate(sub, "timeout");
        return;
    case nua_r_notify:
    case nua_i_subscription:
        tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
        if (substate == nua_substate_terminated || (event == nua_r_notify && status == 481))
            subscription_free(sub, sub->terminating ? "terminated" : "unsubscribed");
        return;
    default:
        return;
    }
}

void sylk_subscription_terminate_all(struct sylk_sip_stack *stack)
{
    for (GList *l = stack->subscriptions, *next; l; l = next) {
        next = l->next;
        struct sylk_subscription *sub = l->data;
        if (!sub->base.answered) {
            sylk_pending_answer(&sub->base, 503, "Server Shutting Down");
            subscription_free(sub, "shutdown");
        } else {
            sylk_subscription_terminate(sub, "noresource");
        }
    }
}

const struct sylk_request_info *sylk_subscription_request(sylk_subscription *sub)
{
    return sub ? &sub->base.request->info : NULL;
}

const char *sylk_subscription_event(sylk_subscription *sub)
{
    return sub ? sub->event : NULL;
}

void sylk_subscription_set_handler(sylk_subscription *sub,
                                   const struct sylk_subscription_handler *h, void *ud)
{
    if (!sub)
        return;
    memset(&sub->handler, 0, sizeof(sub->handler));
    if (h)
        memcpy(&sub->handler, h, MIN((size_t)h->struct_size, sizeof(sub->handler)));
    sub->user_data = ud;
}

/* A late answer to a subscription the core already answered for the plugin. */
static int late_answer(struct sylk_subscription *sub)
{
    subscription_free(sub, "timeout");
    return -ETIMEDOUT;
}

int sylk_subscription_accept(sylk_subscription *sub)
{
    if (!sub)
        return -EINVAL;
    return sub->timed_out ? late_answer(sub) : sylk_pending_answer(&sub->base, 200, "OK");
}

int sylk_subscription_reject(sylk_subscription *sub, int status, const char *reason)
{
    if (!sub || status < 300 || status > 699)
        return -EINVAL;
    if (sub->timed_out)
        return late_answer(sub);
    int rc = sylk_pending_answer(&sub->base, status, reason);
    if (rc == 0)
        subscription_free(sub, "rejected");
    return rc;
}

int sylk_subscription_notify(sylk_subscription *sub, const char *content_type, const void *body,
                             size_t body_len)
{
    if (!sub || !content_type || (body_len && !body))
        return -EINVAL;
    if (!sub->base.answered || sub->terminating)
        return -ENOTCONN;
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_payload_t *pl = sip_payload_create(home, body, (isize_t)body_len);
    nua_notify(sub->base.nh, NUTAG_SUBSTATE(nua_substate_active),
               SIPTAG_CONTENT_TYPE_STR(content_type), SIPTAG_PAYLOAD(pl), TAG_END());
    su_home_deinit(home);
    return 0;
}

int sylk_subscription_terminate(sylk_subscription *sub, const char *reason)
{
    if (!sub)
        return -EINVAL;
    if (!sub->base.answered || sub->terminating)
        return -ENOTCONN;
    sub->terminating = true;
    g_autofree char *state =
        g_strdup_printf("terminated;reason=%s", reason && *reason ? reason : "noresource");
    nua_notify(sub->base.nh, NUTAG_SUBSTATE(nua_substate_terminated),
               SIPTAG_SUBSCRIPTION_STATE_STR(state), TAG_END());
    return 0;
}

void sylk_subscription_drop_all(struct sylk_sip_stack *stack)
{
    while (stack->subscriptions)
        subscription_free(stack->subscriptions->data, "shutdown");
}
