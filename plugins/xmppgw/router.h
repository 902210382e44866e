/*
 * router.h — stanzas into and out of the gateway.
 *
 * Out: xgw_send (gateway.h) checks what the mapping sends (a stanza from one of our domains
 * to a remote one) and hands it to s2s or to the component connection of its domain. Its
 * outcome is reported from the main loop, never inside xgw_send.
 * In: the streams hand every top-level element of an authenticated stream to
 * xgw_router_inbound, which checks it as gateway.h says and delivers it: disco, ping and
 * version for our domains are answered here (disco.c), the MUC domains (muc_prefix.DOMAIN)
 * answer service-unavailable until the MUC gateway exists (issue 14), the rest goes to the
 * mapping.
 *
 * Stanzas cross gateway.h in the jabber:server namespace: the router translates stanzas of a
 * component stream (jabber:component:accept) on the way in, the component on the way out, and
 * xgw_send accepts jabber:client, the component namespace or none as well.
 *
 * Shutdown (gateway.h): xgw_router_quiesce reports every outcome still due, then callbacks are
 * dropped: sends from xgw_mapping_shutdown go out best effort without their `sent`.
 *
 * Thread: main thread.
 */
#ifndef XMPPGW_ROUTER_H
#define XMPPGW_ROUTER_H

#include "queue.h"
#include "settings.h"

#include <stdbool.h>

/** Whether a stream may carry stanzas from `domain`; else the stream error to send. */
typedef bool (*xgw_authorized_fn)(const char *domain, void *user_data,
                                  enum xmpp_stream_condition *refusal);

int xgw_router_start(const struct xgw_settings *settings);

/** Reports every outcome still due now; later ones are dropped (see above). */
void xgw_router_quiesce(void);

void xgw_router_stop(void);

/**
 * Takes a top-level element of an authenticated stream whose namespace is content_ns (`label`
 * names the stream in log lines) and delivers it, or answers it with a stanza error: 0. A
 * refusal that is a stream error: -EPROTO with *condition and *text (a new string) set, for the
 * caller to send. A stanza must be message, presence or iq (unsupported-stanza-type), have
 * from and to (improper-addressing), a from that is a JID (improper-addressing) in a domain
 * `authorized` accepts, a to that is a JID (a jid-malformed stanza error), in one of our domains
 * (host-unknown).
 */
int xgw_router_inbound(struct xmpp_node *element, const char *content_ns, const char *label,
                       xgw_authorized_fn authorized, void *user_data,
                       enum xmpp_stream_condition *condition, char **text);

/** Answers a stanza we received with a stanza error (nothing for an error). */
void xgw_router_refuse(const struct xmpp_node *stanza, enum xmpp_stanza_condition condition,
                       const char *text);

/** True when domain is one of ours or the MUC domain of one (muc_prefix.DOMAIN). */
bool xgw_router_serves(const char *domain);

/**
 * A copy of stanza with its elements in the stanza's namespace moved to `ns` (jabber:server,
 * jabber:component:accept); NULL when it already is in `ns`.
 */
struct xmpp_node *xgw_stanza_in_ns(const struct xmpp_node *stanza, const char *ns);

/** True for message, presence and iq in one of the stanza namespaces (or none). */
bool xgw_is_stanza(const struct xmpp_node *node);

#endif
