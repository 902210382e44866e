/*
 * session_offer.h — SDP offer/answer of a session (session_offer.c): what offers are
 * negotiated against, our own offers (a late offer's audio, a fresh offer in a 200), the
 * answers we receive (in an ACK or a 2xx) and re-INVITEs. Not a public header.
 *
 * Thread: main thread.
 */
#ifndef SYLK_SESSION_OFFER_H
#define SYLK_SESSION_OFFER_H

#include "sip/session_internal.h"

/** What offers are negotiated against: [rtp] audio_codecs and srtp, MSRP, local_ip's family. */
struct sylk_sdp_policy sylk_session_policy(void);
/** One audio m= line of ours for an offer: every codec, and a key unless SRTP is disabled. */
void sylk_session_offer_audio(struct sylk_sdp_media *m);
/** A late offer: the core proposes one audio stream, offered in the 200. */
void sylk_session_propose_audio(struct sylk_session *s);
/** Our description in a `status` response; `offer_codecs` lists every codec in an offer. */
int sylk_session_send_sdp(struct sylk_session *s, int status, char *const *offer_codecs);
/** Replaces the remote description with the SDP of a message; false when it is unusable. */
bool sylk_session_take_remote(struct sylk_session *s, const sip_t *sip, char **error);
/** Our codec choice follows the answer we received to our offer. */
void sylk_session_adopt_answer(struct sylk_session *s);
/** An ACK: the answer to the offer in our 2xx, when it carried one. */
void sylk_session_on_ack(struct sylk_session *s, const sip_t *sip);
/** A re-INVITE: answered here (or ours offered), streams added or disabled, plugin told. */
void sylk_session_on_reinvite(struct sylk_session *s, const sip_t *sip);

#endif
