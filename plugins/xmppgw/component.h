/*
 * component.h — the gateway as external components of one XMPP server (XEP-0114, mode =
 * component): one connection per domain of `domains`, to component_host:component_port, each
 * domain being the component's name on that server.
 *
 * A connection: our header (jabber:component:accept, to = the domain) → the server's header
 * (its stream id) → <handshake>hex(SHA-1(id + component_secret))</handshake> → the empty
 * <handshake/> of success, or a stream error (not-authorized: a wrong secret). Stanzas then
 * flow both ways. Whenever the connection is down (refused, wrong secret, the server
 * restarting) it is made again after a backoff of 1, 2, 4 … 30 s (back to 1 s once a
 * handshake succeeds); meanwhile stanzas wait in a bounded queue (queue_limit) for up to
 * connect_timeout, then fail with service-unavailable. Stanzas the broken connection had
 * not written go first on the next one.
 *
 * Thread: main thread.
 */
#ifndef XMPPGW_COMPONENT_H
#define XMPPGW_COMPONENT_H

#include "queue.h"
#include "settings.h"

/** Connects every domain. 0, or a negative errno with *why. */
int xgw_component_start(const struct xgw_settings *settings, char **why);

/** Shutdown, first step: queued stanzas fail, written ones go out, no reconnection. */
void xgw_component_quiesce(void);

/** Shutdown, last step: every connection closed (best effort) and freed. */
void xgw_component_stop(void);

/** Sends p from our domain `local` over its component connection. Takes p. */
void xgw_component_send(struct xgw_pending *p, const char *local);

#endif
