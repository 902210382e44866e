/*
 * subscriber.h — SUBSCRIBE dialogs where the server is the subscriber (RFC 6665), for plugins
 * (SDK 1.7 subscribe, unsubscribe): the SUBSCRIBE goes through [sip] outbound_proxy (or to
 * the Request-URI), nua refreshes it before it expires and answers each NOTIFY 200, and the
 * plugin hears of every NOTIFY and, once, of the end.
 *
 * Main thread. Each subscription owns its nua handle (SYLK_OWNER_SUBSCRIBER) and is freed
 * right after the plugin's `ended` callback, which always comes: refused, timed out, ended by
 * the notifier, unsubscribed, no NOTIFY within Timer N, or the server shutting down.
 */
#ifndef SYLK_SUBSCRIBER_H
#define SYLK_SUBSCRIBER_H

#include "sip/stack.h"

#include <sofia-sip/sip.h>
#include <sylk/host.h>

/**
 * RFC 6665 section 4.1.2.4, Timer N (64*T1): a subscription with no NOTIFY this long after
 * its SUBSCRIBE went out has failed (ended 408), though the notifier may have answered 200.
 */
#define SYLK_SUBSCRIBER_TIMER_N_S 32

/** An event on a subscription's handle. */
void sylk_subscriber_on_event(struct sylk_outgoing_subscription *sub, nua_event_t event, int status,
                              const char *phrase, const sip_t *sip, tagi_t tags[]);

/**
 * Shutdown, before nua_shutdown: every subscription ends (503, "Server Shutting Down") and
 * its handle goes, which makes nua send the un-SUBSCRIBE of those still active.
 */
void sylk_subscriber_end_all(struct sylk_sip_stack *stack);

sylk_outgoing_subscription *sylk_subscriber_subscribe(const struct sylk_subscribe_params *params);
int sylk_subscriber_unsubscribe(sylk_outgoing_subscription *sub);

#endif
