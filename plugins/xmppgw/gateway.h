/*
 * gateway.h — how the parts of the xmppgw plugin meet (main thread).
 *
 * Two halves, each behind a few functions:
 *   - the XMPP transport (xmppgw.c, conn.c, s2s.c, component.c, router.c): the plugin entry
 *     and its configuration, XMPP streams (TCP, STARTTLS/direct TLS with gnutls, the pure
 *     parser of xml_stream.c), s2s with dialback or one XEP-0114 component connection, the
 *     stanzas the gateway answers itself (disco, ping, version), and the routing of stanzas
 *     to and from remote XMPP domains;
 *   - the mapping (message.c, chatstate.c, presence.c, pidf.c and the SIP entry points):
 *     SIP MESSAGE, is-composing and presence SUBSCRIBE/NOTIFY <-> XMPP message, chat
 *     states, receipts and presence, with RFC 7247's address and error mapping (jid.c).
 *
 * The transport hands the mapping only stanzas it has checked: addressed (`from` and `to`
 * valid JIDs), `from` in a domain authenticated on the stream it came on (dialback) or any
 * domain but ours in component mode, `to` in one of our domains (`domains`, or
 * `muc_prefix.DOMAIN`). The mapping hands the transport stanzas whose `from` is in one of
 * our domains and whose `to` is remote.
 *
 * Stanzas cross in the jabber:server namespace (XMPP_NS_SERVER), whatever the stream: the
 * transport translates those of a component stream both ways (and takes jabber:client or no
 * namespace from the mapping as well).
 *
 * Shutdown: the transport first reports every xgw_sent_fn still due, then calls
 * xgw_mapping_shutdown; what the mapping sends from there is written best effort and its
 * `sent` is never called.
 */
#ifndef XMPPGW_GATEWAY_H
#define XMPPGW_GATEWAY_H

#include "errors.h"
#include "xml_node.h"

#include <stdbool.h>
#include <sylk/host.h>

#define XGW_NAME "xmppgw"

/* The plugin's settings (xmppgw.ini [general]); valid from init to shutdown. */
struct xgw_config {
    char **domains;               /* the SIP domains we serve towards XMPP (NULL-terminated) */
    char *muc_prefix;             /* "conference": MUC service at muc_prefix.DOMAIN (issue 14) */
    bool log_presence;            /* presence stanzas and PIDF documents logged at info level */
    bool trace_xmpp;              /* every stanza in and out logged at debug level */
    unsigned sip_session_timeout; /* seconds (issue 14: MSRP chat sessions) */
    bool use_cpim;                /* XMPP -> SIP MESSAGE bodies wrapped in message/cpim */
    bool use_msrp_for_chat;       /* XMPP chat messages open MSRP chat sessions (chat.c) */
};

const struct sylk_host *xgw_host(void);
const struct xgw_config *xgw_config(void);

/** True when `domain` is one of `domains` (case-insensitive). */
bool xgw_is_our_domain(const char *domain);

/* ------------------------------------------------------------ transport -> mapping --- */

/** An inbound <message/>, checked as said above; the mapping owns it from here. */
void xgw_message_in(struct xmpp_node *stanza);
/** An inbound <presence/>, checked as said above; the mapping owns it. */
void xgw_presence_in(struct xmpp_node *stanza);
/**
 * An inbound <iq/> the transport does not answer itself (it answers disco#info/items, ping,
 * version). The mapping owns it and must answer a get/set with a result or an error
 * (service-unavailable when it has nothing to do with it).
 */
void xgw_iq_in(struct xmpp_node *stanza);

/* ------------------------------------------------------------ mapping -> transport --- */

/**
 * The outcome of xgw_send, once: 0 when the stanza was written to a stream authenticated for
 * its `to` domain (the next hop has it, or will: TCP), else a stanza error condition for
 * the sender: XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND (no such domain, no address),
 * XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT (no stream within the time allowed, or the queue for
 * the domain was full), XMPP_STANZA_ERR_SERVICE_UNAVAILABLE (the component connection is down
 * for longer than allowed). Never called inside xgw_send.
 */
typedef void (*xgw_sent_fn)(int status, enum xmpp_stanza_condition condition, void *user_data);

/**
 * Sends a stanza to the XMPP network (its `to` domain, over the s2s stream to it, opened and
 * authenticated on demand, or over the component connection). Takes ownership. Queued
 * (bounded) while the stream is being set up. `sent` may be NULL.
 */
void xgw_send(struct xmpp_node *stanza, xgw_sent_fn sent, void *user_data);

/**
 * Stops (true) or resumes (false) reading every XMPP stream: the mapping's backpressure when
 * the SIP side is behind. Stanzas already read are still delivered; what is not read yet waits
 * in the kernel, so TCP slows the XMPP peers down and nothing is refused or lost. Writing goes
 * on. Connections made while paused start paused.
 */
void xgw_inbound_pause(bool paused);

/* ------------------------------------------------------------------ SIP -> mapping --- */

/* The plugin's SIP callbacks (struct sylk_plugin in xmppgw.c) go straight to the mapping. */
void xgw_sip_message_in(sylk_message *message);
void xgw_sip_subscription_in(sylk_subscription *subscription);
/* An INVITE: a chat session (chat.c); offers with audio are refused 488 until Jingle's part
 * takes them. */
void xgw_sip_session_in(sylk_session *session);

/* -------------------------------------------------------------- plugin lifecycle --- */

/** Mapping state made at init (after the config is read) and freed at shutdown. */
int xgw_mapping_init(void);
void xgw_mapping_shutdown(void);

#endif
