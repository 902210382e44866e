/*
 * ns.h — the XML namespace names the XMPP gateway reads and writes (RFC 6120, XEP-0114,
 * XEP-0220). Constants only.
 *
 * Thread: any (no state).
 */
#ifndef XMPPGW_NS_H
#define XMPPGW_NS_H

#define XMPP_NS_XML        "http://www.w3.org/XML/1998/namespace" /* xml:lang */
#define XMPP_NS_XMLNS      "http://www.w3.org/2000/xmlns/"
#define XMPP_NS_STREAMS    "http://etherx.jabber.org/streams"
#define XMPP_NS_SERVER     "jabber:server"
#define XMPP_NS_CLIENT     "jabber:client"
#define XMPP_NS_COMPONENT  "jabber:component:accept"
#define XMPP_NS_DIALBACK   "jabber:server:dialback"
#define XMPP_NS_DIALBACK_F "urn:xmpp:features:dialback"
#define XMPP_NS_STREAM_ERR "urn:ietf:params:xml:ns:xmpp-streams"
#define XMPP_NS_STANZA_ERR "urn:ietf:params:xml:ns:xmpp-stanzas"
#define XMPP_NS_TLS        "urn:ietf:params:xml:ns:xmpp-tls"
#define XMPP_NS_SASL       "urn:ietf:params:xml:ns:xmpp-sasl"

#endif
