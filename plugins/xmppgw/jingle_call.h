/*
 * jingle_call.h — what jingle.c (Jingle -> SIP, the IQ dispatcher) and jingle_out.c (SIP ->
 * Jingle) share: one call, its two legs and the Jingle stanzas about it. Main thread.
 */
#ifndef XMPPGW_JINGLE_CALL_H
#define XMPPGW_JINGLE_CALL_H

#include "gateway.h"
#include "jid.h"
#include "xml_node.h"

#include <glib.h>
#include <stdbool.h>

#define XGW_NS_JINGLE_ERRORS   "urn:xmpp:jingle:errors:1"
#define XGW_NS_JINGLE_RTP_INFO "urn:xmpp:jingle:apps:rtp:info:1"
#define XGW_NS_JINGLE_MESSAGE  "urn:xmpp:jingle-message:0"
#define XGW_JINGLE_MAX_CALLS   1000

enum jcall_state {
    JCALL_PROPOSED, /* SIP -> Jingle: the XEP-0353 propose is out, no proceed yet */
    JCALL_RINGING,  /* the other leg is being set up */
    JCALL_ACTIVE,   /* bridged */
};

struct jcall {
    char *key;            /* "peer sid" (calls table); NULL while proposed */
    char *sid;            /* the Jingle session id */
    char *peer;           /* the XMPP party's full JID (bare while proposed) */
    char *local;          /* our side's JID as the peer sees it (the SIP user's) */
    char *creator, *name; /* the content's (the initiator's) */
    bool outgoing;        /* we are the Jingle initiator (the call came from SIP) */
    enum jcall_state state;
    sylk_media_endpoint *endpoint;
    sylk_session *session;
    sylk_mixer *mixer;
    struct xmpp_node *content; /* our content, for session-accept or session-initiate */
    char *stanza_id;           /* the propose message's or the session-initiate's id */
    sylk_timer *ending;        /* the end after a media timeout (not inside its callback) */
};

/* jingle.c */
struct jcall *jcall_new(const char *sid, const char *peer, const char *local, bool outgoing);
/** Files the call under "peer sid" (after a proceed the peer is known). */
void jcall_file(struct jcall *c);
struct jcall *jcall_find(const char *peer, const char *sid);
/** The call whose propose or session-initiate had this id (from that bare peer), or NULL. */
struct jcall *jcall_find_stanza(const char *id);
/** The call proposed (XEP-0353) with this sid, not proceeded yet, or NULL. */
struct jcall *jcall_find_proposal(const char *sid);
/** Forgets and frees the call: its SIP session is ended (CANCEL, BYE or a rejection), its
 *  mixer and endpoint freed. Nothing is sent to XMPP. */
void jcall_forget(struct jcall *c);
/** session-terminate with `reason` (a XEP-0166 condition), then jcall_forget. */
void jcall_end(struct jcall *c, const char *reason, const char *text);
/** <iq type='set' from=local to=peer><jingle action sid/></iq>; returns the <jingle/>. */
struct xmpp_node *jcall_iq(const struct jcall *c, const char *action, struct xmpp_node **iq);
/** The IQ result (ack) to an IQ set. */
void jcall_ack(const struct xmpp_node *iq);
/** An IQ error with a Jingle condition (XEP-0166 §10) beside the stanza's. */
void jcall_refuse(const struct xmpp_node *iq, enum xmpp_stanza_condition cond,
                  const char *jingle_cond);
/** The media endpoint of a call (timeouts end it). */
sylk_media_endpoint *jcall_endpoint_new(struct jcall *c);
/** Bridges the endpoint and the SIP audio stream in a 2-member mixer; 0 or -errno. */
int jcall_bridge(struct jcall *c, sylk_stream *audio);
/** The first enabled audio stream of a session, or NULL. */
sylk_stream *jcall_audio(sylk_session *session);
/** The SIP status for a Jingle <reason/> condition (before an answer). */
int jcall_status_for(const char *reason);
/** The condition of a <reason/> in a Jingle element, or NULL. */
const char *jcall_reason_of(const struct xmpp_node *jingle);

/** Files the call under the id of its propose or session-initiate (replacing the last). */
void jcall_file_stanza(struct jcall *c, const char *id);

/* jingle_out.c */
/** session-accept (or another action) from the peer of an outgoing call: answered here. */
void jcall_out_action(const struct xmpp_node *iq, struct jcall *c, const char *action,
                      const struct xmpp_node *jingle);
/** An IQ result or error to our session-initiate: true when it was one. */
bool jcall_out_iq_answer(const struct xmpp_node *iq);

#endif
