/*
 * subscription.h — SUBSCRIBE dialogs where the server is the notifier (RFC 6665): accepted
 * or rejected by the plugin, NOTIFYs sent on its behalf, refreshes and unsubscribes answered
 * by the core. Main thread.
 */
#ifndef SYLK_SUBSCRIPTION_H
#define SYLK_SUBSCRIPTION_H

#include "sip/stack.h"

#include <sofia-sip/sip.h>
#include <sylk/host.h>

struct sylk_request;
struct sylk_loaded_plugin;

void sylk_subscription_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                                const sip_t *sip, struct sylk_request *req,
                                const struct sylk_loaded_plugin *plugin);
void sylk_subscription_on_event(struct sylk_subscription *sub, nua_event_t event, int status,
                                nua_t *nua, const sip_t *sip, tagi_t tags[]);
void sylk_subscription_terminate_all(struct sylk_sip_stack *stack);
void sylk_subscription_drop_all(struct sylk_sip_stack *stack);

/** The plugin the subscription was handed to. */
const struct sylk_loaded_plugin *sylk_subscription_plugin(const struct sylk_subscription *sub);

const struct sylk_request_info *sylk_subscription_request(sylk_subscription *sub);
const char *sylk_subscription_event(sylk_subscription *sub);
void sylk_subscription_set_handler(sylk_subscription *sub,
                                   const struct sylk_subscription_handler *h, void *ud);
int sylk_subscription_accept(sylk_subscription *sub);
int sylk_subscription_reject(sylk_subscription *sub, int status, const char *reason);
int sylk_subscription_notify(sylk_subscription *sub, const char *content_type, const void *body,
                             size_t body_len);
int sylk_subscription_terminate(sylk_subscription *sub, const char *reason);

#endif
