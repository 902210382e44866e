/*
 * referral.h — REFER (RFC 3515): out of dialog (routed like any request) or inside a
 * session's dialog (given to the session's plugin); progress reported to the referrer with
 * message/sipfrag NOTIFYs. Main thread.
 */
#ifndef SYLK_REFERRAL_H
#define SYLK_REFERRAL_H

#include "sip/stack.h"

#include <sofia-sip/sip.h>
#include <sylk/host.h>

struct sylk_request;
struct sylk_loaded_plugin;

void sylk_referral_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                            const sip_t *sip, tagi_t tags[], struct sylk_request *req,
                            const struct sylk_loaded_plugin *plugin);
void sylk_referral_incoming_in_dialog(struct sylk_sip_stack *stack, struct sylk_session *session,
                                      nua_t *nua, const sip_t *sip, tagi_t tags[]);
void sylk_referral_on_event(struct sylk_referral *r, nua_event_t event, int status,
                            const sip_t *sip, tagi_t tags[]);
/** A session is going away: referrals received in its dialog lose their handle. */
void sylk_referral_session_gone(struct sylk_sip_stack *stack, struct sylk_session *session);
/** Shutdown: reject pending referrals, end the others (handles stay valid for the plugin). */
void sylk_referral_terminate_all(struct sylk_sip_stack *stack);
/** After the plugins stopped: frees every referral left. */
void sylk_referral_free_all(struct sylk_sip_stack *stack);

const struct sylk_request_info *sylk_referral_request(sylk_referral *r);
const char *sylk_referral_refer_to(sylk_referral *r);
const char *sylk_referral_refer_method(sylk_referral *r);
sylk_session *sylk_referral_session(sylk_referral *r);
int sylk_referral_accept(sylk_referral *r);
int sylk_referral_reject(sylk_referral *r, int status, const char *reason);
int sylk_referral_notify(sylk_referral *r, int status, const char *reason);

#endif
