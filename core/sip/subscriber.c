/*
 * subscriber.c — the subscriber side of SUBSCRIBE. See subscriber.h.
 *
 * nua does the protocol: it refreshes the subscription (about half way to its expiry), answers
 * every NOTIFY of the dialog 200 itself (NOTIFY is not in our NUTAG_APPL_METHOD) and reports it
 * as nua_i_notify, and after an un-SUBSCRIBE waits 64*T1 for the final NOTIFY. What nua leaves
 * to us: Timer N (it would wait forever for the first NOTIFY after a 200), and not subscribing
 * again when a NOTIFY says "terminated;reason=deactivated" or "probation" (RFC 6665 lets the
 * subscriber retry; here the plugin decides, so the subscription ends). Ending always means
 * destroying the handle, which makes nua un-SUBSCRIBE a subscription still active.
 */
#define G_LOG_DOMAIN "sylk-subscriber"
#include "sip/subscriber.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>
#include <string.h>

/* RFC 6665 section 7.2: the package defines the default; presence and conference use 3600. */
#define DEFAULT_EXPIRES_S 3600

struct sylk_outgoing_subscription {
    struct sylk_owner owner; /* first: what the nua handle is bound to */
    struct sylk_sip_stack *stack;
    nua_handle_t *nh;
    char *what; /* "presence of sip:bob@example.com", for logs */
    struct sylk_outgoing_subscription_handler handler;
    void *user_data;
    bool accepted;      /* a 2xx to the SUBSCRIBE came */
    bool unsubscribing; /* the plugin un-SUBSCRIBEd */
    bool terminated;    /* a NOTIFY said "terminated": the end follows it */
    bool ending;        /* `ended` is being reported */
    guint timer_n;      /* until the first NOTIFY */
};

static void stop_timer_n(struct sylk_outgoing_subscription *sub)
{
    if (sub->timer_n)
        g_source_remove(sub->timer_n);
    sub->timer_n = 0;
}

/* Tells the plugin (once), then frees: destroying the handle un-SUBSCRIBEs if still active. */
static void end(struct sylk_outgoing_subscription *sub, int status, const char *reason)
{
    if (sub->ending)
        return;
    sub->ending = true;
    stop_timer_n(sub);
    g_info("subscription to %s ended: %d %s", sub->what, status, reason ? reason : "");
    if (sub->handler.ended)
        sub->handler.ended(sub, status, reason, sub->user_data);
    sub->stack->subscribers = g_list_remove(sub->stack->subscribers, sub);
    nua_handle_bind(sub->nh, NULL);
    nua_handle_destroy(sub->nh);
    g_free(sub->what);
    g_free(sub);
}

static gboolean timer_n_fired(gpointer data)
{
    struct sylk_outgoing_subscription *sub = data;
    sub->timer_n = 0;
    g_info("subscription to %s: no NOTIFY within %d s (Timer N)", sub->what,
           SYLK_SUBSCRIBER_TIMER_N_S);
    end(sub, 408, "No NOTIFY");
    return G_SOURCE_REMOVE;
}

static const char *substate_name(int substate)
{
    switch (substate) {
    case nua_substate_pending:
        return "pending";
    case nua_substate_terminated:
        return "terminated";
    default:
        return "active";
    }
}

/* A NOTIFY nua answered 200 (sip set), or nua's own word that the subscription is over (sip
 * NULL: no final NOTIFY after an un-SUBSCRIBE, a refresh that could not be sent). */
static void on_notify(struct sylk_outgoing_subscription *sub, int status, const char *phrase,
                      const sip_t *sip, tagi_t tags[])
{
    int substate = nua_substate_active;
    tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
    if (!sip) {
        end(sub, sub->accepted ? 200 : 408, phrase);
        return;
    }
    if (status >= 300) { /* nua refused it (a forked NOTIFY: 481); not ours to see */
        g_debug("subscription to %s: NOTIFY answered %d by nua", sub->what, status);
        return;
    }
    stop_timer_n(sub);
    const sip_subscription_state_t *ss = sip->sip_subscription_state;
    const char *state = ss && ss->ss_substate ? ss->ss_substate : substate_name(substate);
    /* nua calls "terminated;reason=deactivated" embryonic (it would subscribe again): the
     * header is what the plugin hears. */
    sub->terminated = g_ascii_strcasecmp(state, "terminated") == 0;
    const sip_payload_t *pl = sip->sip_payload;
    bool body = pl && pl->pl_len > 0;
    g_debug("subscription to %s: NOTIFY %s (%zu bytes)", sub->what, state,
            body ? (size_t)pl->pl_len : 0);
    if (sub->handler.notify)
        sub->handler.notify(sub, state,
                            body && sip->sip_content_type ? sip->sip_content_type->c_type : NULL,
                            body ? pl->pl_data : NULL, body ? pl->pl_len : 0, sub->user_data);
    if (sub->terminated)
        end(sub, 200, ss ? ss->ss_reason : NULL);
}

/* The answer to the SUBSCRIBE or to one of nua's refreshes. */
static void on_subscribe_answer(struct sylk_outgoing_subscription *sub, int status,
                                const char *phrase, tagi_t tags[])
{
    if (status < 200)
        return;
    if (status >= 300) {
        /* Refused at once: its status; a refresh refused ends an accepted one: 200. */
        end(sub, sub->accepted ? 200 : status, phrase);
        return;
    }
    int substate = -1;
    tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
    if (sub->accepted)
        g_debug("subscription to %s refreshed: %d %s", sub->what, status, phrase);
    else
        g_info("subscription to %s accepted: %d %s", sub->what, status, phrase);
    sub->accepted = true;
    if (substate == nua_substate_terminated) /* nua dropped the usage: nothing more comes */
        end(sub, 200, phrase);
}

/* The answer to the plugin's un-SUBSCRIBE: a failure ends it now; after a 2xx the final
 * NOTIFY does, or nua's wait for it. */
static void on_unsubscribe_answer(struct sylk_outgoing_subscription *sub, int status,
                                  const char *phrase, tagi_t tags[])
{
    int substate = -1;
    tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
    if (status >= 300 || (status >= 200 && substate == nua_substate_terminated))
        end(sub, sub->accepted ? 200 : status, phrase);
}

void sylk_subscriber_on_event(struct sylk_outgoing_subscription *sub, nua_event_t event, int status,
                              const char *phrase, const sip_t *sip, tagi_t tags[])
{
    switch (event) {
    case nua_i_notify:
        on_notify(sub, status, phrase, sip, tags);
        return;
    case nua_r_subscribe:
        on_subscribe_answer(sub, status, phrase, tags);
        return;
    case nua_r_unsubscribe:
        on_unsubscribe_answer(sub, status, phrase, tags);
        return;
    default:
        return;
    }
}

void sylk_subscriber_end_all(struct sylk_sip_stack *stack)
{
    while (stack->subscribers)
        end(stack->subscribers->data, 503, "Server Shutting Down");
}

sylk_outgoing_subscription *sylk_subscriber_subscribe(const struct sylk_subscribe_params *params)
{
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    struct sylk_subscribe_params p = {0};
    /* Read only what the plugin's SDK version had; later fields stay zero. */
    if (!params || params->struct_size < offsetof(struct sylk_subscribe_params, user_data) +
                                             sizeof(params->user_data))
        return NULL;
    memcpy(&p, params, MIN((size_t)params->struct_size, sizeof(p)));
    if (!p.from || !p.to || !p.event || !p.event[0] || !p.handler ||
        p.handler->struct_size < sizeof(uint32_t))
        return NULL;
    if (!stack || stack->shutting_down) {
        g_info("SUBSCRIBE to %s not sent: the server is shutting down", p.to);
        return NULL;
    }
    struct sylk_outgoing_subscription *sub = g_new0(struct sylk_outgoing_subscription, 1);
    sub->owner.kind = SYLK_OWNER_SUBSCRIBER;
    sub->stack = stack;
    memcpy(&sub->handler, p.handler, MIN((size_t)p.handler->struct_size, sizeof(sub->handler)));
    sub->user_data = p.user_data;
    sub->nh = sylk_sip_handle_new(stack, &sub->owner, p.request_uri, p.from, p.to);
    if (!sub->nh) {
        g_free(sub);
        return NULL;
    }
    sub->what = g_strdup_printf("%s of %s", p.event, p.to);
    stack->subscribers = g_list_prepend(stack->subscribers, sub);
    g_autofree char *expires = g_strdup_printf("%u", p.expires ? p.expires : DEFAULT_EXPIRES_S);
    nua_subscribe(sub->nh, SIPTAG_EVENT_STR(p.event), SIPTAG_EXPIRES_STR(expires),
                  TAG_IF(p.accept, SIPTAG_ACCEPT_STR(p.accept)),
                  TAG_IF(p.extra_headers, SIPTAG_HEADER_STR(p.extra_headers)), TAG_END());
    sub->timer_n = g_timeout_add_seconds(SYLK_SUBSCRIBER_TIMER_N_S, timer_n_fired, sub);
    g_debug("SUBSCRIBE to %s from %s for %s sent (expires %s)", p.to, p.from, p.event, expires);
    return sub;
}

int sylk_subscriber_unsubscribe(sylk_outgoing_subscription *sub)
{
    if (!sub)
        return -EINVAL;
    if (sub->ending || sub->terminated || sub->unsubscribing)
        return -ENOTCONN;
    sub->unsubscribing = true;
    g_debug("subscription to %s: un-SUBSCRIBE", sub->what);
    nua_unsubscribe(sub->nh, TAG_END());
    return 0;
}
