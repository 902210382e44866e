/*
 * disco.h — what the gateway answers itself for each of our domains: service discovery
 * (XEP-0030 disco#info and disco#items), ping (XEP-0199) and software version (XEP-0092).
 *
 * Identities as SylkServer's: gateway/simple and server/im, named "SylkServer". disco#items is
 * empty until the MUC service exists (issue 14). Queries about a node, and sets, get the
 * stanza errors XEP-0030 and RFC 6120 give them.
 *
 * Thread: main thread.
 */
#ifndef XMPPGW_DISCO_H
#define XMPPGW_DISCO_H

#include "xml_node.h"

#include <stdbool.h>

#define XMPP_NS_DISCO_INFO  "http://jabber.org/protocol/disco#info"
#define XMPP_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define XMPP_NS_PING        "urn:xmpp:ping"
#define XMPP_NS_VERSION     "jabber:iq:version"

/**
 * An iq get or set addressed to one of our domains (no local part, no resource): answered
 * (through xgw_send) and freed when it is one of the queries above, true; false (not taken)
 * otherwise.
 */
bool xgw_disco_handle(struct xmpp_node *iq);

/** The reply to a disco, ping or version query (pure): an iq result or error, or NULL when
 * the query is none of those. */
struct xmpp_node *xgw_disco_answer(const struct xmpp_node *iq, const char *server_version);

#endif
