/*
 * referrer.h — REFERs the server sends as the referrer (RFC 3515), for plugins (SDK 1.8 refer,
 * refer_cancel): out of dialog, through [sip] outbound_proxy (or to the Request-URI), with the
 * implicit "refer" subscription's NOTIFYs (message/sipfrag, RFC 3420) answered 200 by nua and
 * reported to the plugin, which hears once of the end.
 *
 * Main thread. Each REFER owns its nua handle (SYLK_OWNER_REFERRER) and is freed right after
 * the plugin's `ended` callback (a final sipfrag, the REFER refused or unanswered, no NOTIFY
 * within SYLK_REFERRER_WAIT_S, the subscription terminated, the server shutting down), or at
 * refer_cancel without a callback.
 */
#ifndef SYLK_REFERRER_H
#define SYLK_REFERRER_H

#include "sip/stack.h"

#include <sofia-sip/sip.h>
#include <sylk/host.h>

/**
 * Seconds the referrer waits for the next NOTIFY after the REFER's 2xx and after each NOTIFY
 * that was not final (64*T1, as Timer N of RFC 6665): past it the REFER ends 408 "No NOTIFY".
 */
#define SYLK_REFERRER_WAIT_S 32

/** An event on a REFER's handle. */
void sylk_referrer_on_event(struct sylk_outgoing_referral *ref, nua_event_t event, int status,
                            const char *phrase, const sip_t *sip, tagi_t tags[]);

/** Shutdown: every REFER still waiting ends (503, "Server Shutting Down") and its handle goes. */
void sylk_referrer_end_all(struct sylk_sip_stack *stack);

/**
 * The sipfrag status line of a NOTIFY body ("SIP/2.0 180 Ringing"): the status, and the
 * phrase in `reason` (at most reason_size bytes with its NUL); 0 when it is not one.
 */
int sylk_referrer_parse_sipfrag(const char *body, size_t len, char *reason, size_t reason_size);

sylk_outgoing_referral *sylk_referrer_refer(const struct sylk_refer_params *params);
void sylk_referrer_cancel(sylk_outgoing_referral *ref);

#endif
