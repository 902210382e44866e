/*
 * errmap.h — RFC 7247 §7: XMPP stanza error conditions <-> SIP response codes, both tables.
 *
 *   XMPP condition -> SIP (§7.1)             SIP -> XMPP condition (§7.2)
 *   bad-request              400             3xx: 301 gone; 300 302 305 380 redirect
 *   conflict                 400             400 bad-request       401 not-authorized
 *   feature-not-implemented  501             402 bad-request       403 forbidden
 *   forbidden                403             404 item-not-found    405 not-allowed
 *   gone                     410             406 not-acceptable    407 not-authorized
 *   internal-server-error    500             408 remote-server-timeout   410 gone
 *   item-not-found           404             413 414 policy-violation
 *   jid-malformed            484             415 bad-request       416 jid-malformed
 *   not-acceptable           406             420 421 bad-request   423 resource-constraint
 *   not-allowed              405             480 recipient-unavailable  481 item-not-found
 *   not-authorized           401             482 483 not-acceptable  484 485 item-not-found
 *   policy-violation         403             486 recipient-unavailable  487 service-unavailable
 *   recipient-unavailable    480             488 not-acceptable    489 bad-request
 *   redirect                 302             491 unexpected-request  493 bad-request
 *   registration-required    400             500 internal-server-error
 *   remote-server-not-found  404             501 feature-not-implemented
 *   remote-server-timeout    408             502 remote-server-not-found  503 service-unavailable
 *   resource-constraint      500             504 remote-server-timeout   505 not-acceptable
 *   service-unavailable      503             513 policy-violation
 *   subscription-required    400             600 recipient-unavailable  603 forbidden
 *   undefined-condition      400             604 item-not-found    606 not-acceptable
 *   unexpected-request       491
 *
 * Where §7.1 offers two codes (405 or 501, 403 or 603, 301 or 410, 404 or 604, 406 or 606,
 * 480 or 600, 404 or 408, 491 or 400) we answer the first one a single hop can stand behind:
 * a gateway never knows that a failure holds "everywhere" (6xx), and gone carries no new
 * address here (so 410, not 301). A code in no row falls back by class: other 3xx redirect,
 * 4xx bad-request, 5xx internal-server-error, 6xx service-unavailable.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_ERRMAP_H
#define XMPPGW_ERRMAP_H

#include "errors.h"

/** The SIP final response for an XMPP stanza error (§7.1); *reason: its standard phrase. */
int xgw_sip_status_for(enum xmpp_stanza_condition cond, const char **reason);

/** The XMPP stanza error condition for a SIP final response 300..699 (§7.2). */
enum xmpp_stanza_condition xgw_condition_for(int sip_status);

#endif
