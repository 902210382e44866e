/*
 * subscription.c — the notifier side of SUBSCRIBE. See subscription.h.
 *
 * The subscription's state (granted expiry, refreshes, the final NOTIFY) is ours, and every
 * NOTIFY is sent with nua_method within the SUBSCRIBE's dialog, never with nua_notify. Why:
 * nua_notify makes nua keep the last NOTIFY as a template, and Debian's sofia-sip 1.12.11
 * answers an in-dialog SUBSCRIBE (refresh or un-SUBSCRIBE) itself and re-sends that template,
 * body included, before we hear of the SUBSCRIBE. A package whose documents carry a version
 * (RFC 4575 section 4.1: it rises with every document sent) would then send an old document
 * under an old version. With no template, nua sends nothing by itself: we tell the plugin of
 * the refresh (`refreshed`) and it sends a new document; an un-SUBSCRIBE and an expiry get a
 * final NOTIFY from us (RFC 6665 section 4.2.2).
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
/* RFC 6665 section 7.2: packages define the default; conference (RFC 4575) and presence use
 * 3600, which is also the most we grant. */
#define DEFAULT_EXPIRES_S 3600
#define MAX_EXPIRES_S     3600

struct sylk_subscription {
    struct sylk_pending base; /* first */
    bool terminating;         /* the final NOTIFY is out: no more NOTIFYs */
    bool timed_out;           /* answered 500 by the core: the plugin's accept/reject frees it */
    bool in_refreshed;        /* inside the plugin's refreshed callback of an un-SUBSCRIBE */
    char *event;              /* the package, "conference" */
    char *event_header;       /* the Event header as received, with its id parameter */
    unsigned requested_s;     /* what the SUBSCRIBE asked for, at most MAX_EXPIRES_S */
    gint64 expires_at;        /* monotonic µs; 0 before the 200 */
    guint expiry_timer;
    char *end_reason;         /* Subscription-State reason of the final NOTIFY */
    const char *ended_reason; /* what the plugin's ended callback is told */
    struct sylk_subscription_handler handler;
    void *user_data;
    const struct sylk_loaded_plugin *plugin; /* the one it was handed to */
};

static void stop_expiry_timer(struct sylk_subscription *sub)
{
    if (sub->expiry_timer) {
        g_source_remove(sub->expiry_timer);
        sub->expiry_timer = 0;
    }
}

static void subscription_free(struct sylk_subscription *sub, const char *reason)
{
    sub->base.stack->subscriptions = g_list_remove(sub->base.stack->subscriptions, sub);
    stop_expiry_timer(sub);
    if (sub->handler.ended)
        sub->handler.ended(sub, reason, sub->user_data);
    sylk_pending_clear(&sub->base);
    g_free(sub->event);
    g_free(sub->event_header);
    g_free(sub->end_reason);
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

/* Seconds the subscriber asked for (its Expires, else the package default), at most ours. */
static unsigned requested_expires(const sip_t *sip)
{
    unsigned long asked = sip && sip->sip_expires ? sip->sip_expires->ex_delta : DEFAULT_EXPIRES_S;
    return (unsigned)MIN(asked, (unsigned long)MAX_EXPIRES_S);
}

static unsigned remaining_s(const struct sylk_subscription *sub)
{
    gint64 left = sub->expires_at - g_get_monotonic_time();
    return left > 0 ? (unsigned)((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
}

/*
 * One NOTIFY in the dialog. An active one goes with nua_method, so that nua keeps no template
 * of it (see the top of this file); the final one with nua_notify, which ends nua's own
 * notifier state too (it would otherwise send a NOTIFY of its own at the expiry).
 */
static void send_notify(struct sylk_subscription *sub, const char *content_type, const void *body,
                        size_t body_len)
{
    g_autofree char *state = sub->terminating
                                 ? g_strdup_printf("terminated;reason=%s", sub->end_reason)
                                 : g_strdup_printf("active;expires=%u", remaining_s(sub));
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_payload_t *pl = body ? sip_payload_create(home, body, (isize_t)body_len) : NULL;
    if (sub->terminating)
        nua_notify(sub->base.nh, NUTAG_SUBSTATE(nua_substate_terminated),
                   SIPTAG_SUBSCRIPTION_STATE_STR(state),
                   TAG_IF(content_type, SIPTAG_CONTENT_TYPE_STR(content_type)),
                   TAG_IF(pl, SIPTAG_PAYLOAD(pl)), TAG_END());
    else
        nua_method(sub->base.nh, NUTAG_METHOD("NOTIFY"), NUTAG_DIALOG(1),
                   SIPTAG_EVENT_STR(sub->event_header), SIPTAG_SUBSCRIPTION_STATE_STR(state),
                   TAG_IF(content_type, SIPTAG_CONTENT_TYPE_STR(content_type)),
                   TAG_IF(pl, SIPTAG_PAYLOAD(pl)), TAG_END());
    su_home_deinit(home);
}

/* The final NOTIFY (no body unless the plugin gives one); the subscription is freed when it
 * is answered. */
static void end_subscription(struct sylk_subscription *sub, const char *reason,
                             const char *ended_reason, const char *content_type, const void *body,
                             size_t body_len)
{
    stop_expiry_timer(sub);
    sub->terminating = true;
    sub->ended_reason = ended_reason;
    g_free(sub->end_reason);
    sub->end_reason = g_strdup(reason && *reason ? reason : "noresource");
    send_notify(sub, content_type, body, body_len);
}

static gboolean expiry_timeout(gpointer data)
{
    struct sylk_subscription *sub = data;
    sub->expiry_timer = 0;
    g_debug("SUBSCRIBE %s: expired", sub->base.request->info.call_id);
    end_subscription(sub, "timeout", "timeout", NULL, NULL, 0);
    return G_SOURCE_REMOVE;
}

static void set_expiry(struct sylk_subscription *sub, unsigned seconds)
{
    stop_expiry_timer(sub);
    sub->expires_at = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
    sub->expiry_timer = g_timeout_add_seconds(seconds, expiry_timeout, sub);
}

void sylk_subscription_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                                const sip_t *sip, struct sylk_request *req,
                                const struct sylk_loaded_plugin *plugin)
{
    struct sylk_subscription *sub = g_new0(struct sylk_subscription, 1);
    sylk_pending_init(&sub->base, SYLK_OWNER_SUBSCRIPTION, stack, nua, nh, NULL, req);
    sylk_pending_set_timeout(&sub->base, ANSWER_TIMEOUT_S, answer_timeout);
    sub->event = g_strdup(sip->sip_event ? sip->sip_event->o_type : "");
    su_home_t home[1] = {SU_HOME_INIT(home)};
    char *event =
        sip->sip_event ? sip_header_as_string(home, (sip_header_t *)sip->sip_event) : NULL;
    sub->event_header = g_strdup(event ? event : sub->event);
    su_home_deinit(home);
    /* Kept for the answer: Expires 0 asks for one NOTIFY (a fetch, RFC 6665 4.4.3). */
    sub->requested_s = requested_expires(sip);
    sub->plugin = plugin;
    plugin->counters->subscriptions++;
    stack->subscriptions = g_list_prepend(stack->subscriptions, sub);
    g_info("SUBSCRIBE %s from %s to %s for %s → %s", req->info.call_id, req->info.from_uri,
           req->info.request_uri, sub->event, plugin->desc.name);
    plugin->desc.incoming_subscription(sub);
}

/* A refresh or an un-SUBSCRIBE in the dialog. nua has answered it already (200, the Expires
 * it computed: the same as ours). */
static void refreshed(struct sylk_subscription *sub, int status, nua_t *nua, const sip_t *sip)
{
    unsigned expires = requested_expires(sip);
    if (status < 200) { /* a sofia-sip that leaves the answer to us */
        g_autofree char *granted = g_strdup_printf("%u", expires);
        sylk_sip_respond(sip_method_subscribe, sub->base.nh, 200, "OK", NUTAG_WITH_THIS(nua),
                         SIPTAG_EXPIRES_STR(granted), TAG_END());
    }
    if (sub->terminating)
        return;
    if (expires == 0) {
        /* The plugin may send the final state now (subscription_notify inside refreshed goes
         * out as the final NOTIFY); otherwise the final NOTIFY has no body. */
        sub->in_refreshed = true;
        if (sub->handler.refreshed)
            sub->handler.refreshed(sub, 0, sub->user_data);
        sub->in_refreshed = false;
        if (!sub->terminating)
            end_subscription(sub, "timeout", "unsubscribed", NULL, NULL, 0);
        return;
    }
    set_expiry(sub, expires);
    g_debug("SUBSCRIBE %s: refreshed for %u s", sub->base.request->info.call_id, expires);
    if (sub->handler.refreshed)
        sub->handler.refreshed(sub, expires, sub->user_data);
    else
        send_notify(sub, NULL, NULL, 0); /* RFC 6665: a NOTIFY follows every SUBSCRIBE */
}

void sylk_subscription_on_event(struct sylk_subscription *sub, nua_event_t event, int status,
                                nua_t *nua, const sip_t *sip, tagi_t tags[])
{
    switch (event) {
    case nua_i_subscribe:
        refreshed(sub, status, nua, sip);
        return;
    case nua_r_notify: /* the final NOTIFY (or one nua sent by itself) */
    case nua_i_subscription: {
        int substate = -1;
        tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
        if (status >= 200 && (substate == nua_substate_terminated || status == 481))
            subscription_free(sub, sub->terminating ? sub->ended_reason : "timeout");
        return;
    }
    case nua_r_method:                      /* the answer to an active NOTIFY */
        if (status == 481 || status == 408) /* the subscriber is gone (RFC 6665 4.2.2) */
            subscription_free(sub, "unsubscribed");
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
        } else if (!sub->terminating) {
            end_subscription(sub, "noresource", "shutdown", NULL, NULL, 0);
        }
    }
}

const struct sylk_loaded_plugin *sylk_subscription_plugin(const struct sylk_subscription *sub)
{
    return sub->plugin;
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
    if (sub->timed_out)
        return late_answer(sub);
    g_autofree char *expires = g_strdup_printf("%u", sub->requested_s);
    int rc =
        sylk_pending_answer_tags(&sub->base, 200, "OK", SIPTAG_EXPIRES_STR(expires), TAG_END());
    if (rc == 0)
        set_expiry(sub, sub->requested_s); /* 0 (a fetch): the first NOTIFY is also the last */
    return rc;
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
    if (!sub->base.answered || sub->terminating || !sub->base.nh)
        return -ENOTCONN;
    if (sub->in_refreshed) /* the state at an un-SUBSCRIBE goes out as the final NOTIFY */
        end_subscription(sub, "timeout", "unsubscribed", content_type, body, body_len);
    else if (remaining_s(sub) == 0) /* a fetch, or the last moment before the expiry */
        end_subscription(sub, "timeout", "timeout", content_type, body, body_len);
    else
        send_notify(sub, content_type, body, body_len);
    return 0;
}

int sylk_subscription_terminate(sylk_subscription *sub, const char *reason)
{
    if (!sub)
        return -EINVAL;
    if (!sub->base.answered || sub->terminating || !sub->base.nh)
        return -ENOTCONN;
    end_subscription(sub, reason, "terminated", NULL, NULL, 0);
    return 0;
}

void sylk_subscription_drop_all(struct sylk_sip_stack *stack)
{
    while (stack->subscriptions)
        subscription_free(stack->subscriptions->data, "shutdown");
}
