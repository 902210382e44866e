/*
 * jingle_sdp.h — Jingle RTP audio (XEP-0166/0167) with the raw-UDP transport (XEP-0177) to
 * SDP text and back, for the gateway's Jingle leg (the core's media endpoint speaks SDP).
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_JINGLE_SDP_H
#define XMPPGW_JINGLE_SDP_H

#include "xml_node.h"

#include <stdbool.h>

#define XGW_NS_JINGLE         "urn:xmpp:jingle:1"
#define XGW_NS_JINGLE_RTP     "urn:xmpp:jingle:apps:rtp:1"
#define XGW_NS_JINGLE_RAW_UDP "urn:xmpp:jingle:transports:raw-udp:1"
#define XGW_NS_JINGLE_ICE_UDP "urn:xmpp:jingle:transports:ice-udp:1"

/* Our ICE-UDP credentials: sent in the transport, and the key of the checks we answer. */
struct xgw_ice_creds {
    char ufrag[9];
    char pwd[25];
};

/* Why a content cannot be turned into an offer (the session-terminate reason to send). */
#define XGW_JINGLE_BAD_APPLICATION (-1) /* unsupported-applications: no RTP audio description */
#define XGW_JINGLE_BAD_TRANSPORT   (-2) /* unsupported-transports: neither raw-udp nor ice-udp */
#define XGW_JINGLE_MALFORMED       (-3) /* bad-request: no payload type or candidate */

/**
 * An SDP offer (one audio m= line) for a <content/> with an RTP audio <description/> and a
 * raw-UDP or ICE-UDP <transport/>: payload types in their order (rtpmap for every one, fmtp
 * from their parameters), the component-1 candidate as c= and port (ICE: the best UDP one,
 * host first; no connectivity checks), component 2 as a=rtcp. 0 with *sdp (g_free), or one
 * of XGW_JINGLE_*.
 */
int xgw_jingle_to_sdp(const struct xmpp_node *content, char **sdp);

/**
 * The <content/> of a session-accept (or session-initiate) for our SDP: `creator` and `name`
 * as the initiator gave them, a <description media='audio'/> with the m= line's payload types
 * (same ids; channels for opus; fmtp name=value pairs as <parameter/>s) and a raw-UDP
 * <transport/> (ICE-UDP with `ice`'s ufrag and pwd when not NULL: host candidates) with our
 * address as candidates 1 (RTP) and 2 (RTCP, port + 1). NULL when the SDP has no audio line
 * with a port or no connection address.
 */
struct xmpp_node *xgw_jingle_content_from_sdp(const char *sdp, const char *creator,
                                              const char *name, const struct xgw_ice_creds *ice);

/** Fresh ICE credentials (RFC 8445 §5.3: ice-chars, 8 and 24 long). */
void xgw_jingle_ice_creds(struct xgw_ice_creds *ice);

/** Whether the content's transport is ICE-UDP (the answer uses the offer's transport). */
bool xgw_jingle_uses_ice(const struct xmpp_node *content);

/** The peer's ICE-UDP ufrag and pwd in `content` (borrowed), or false (none, or not ICE). */
bool xgw_jingle_remote_ice(const struct xmpp_node *content, const char **ufrag, const char **pwd);

#endif
