/*
 * endpoint.h — media endpoints (SDK 1.8 media_endpoint_*): one RTP audio stream that belongs
 * to no SIP session, negotiated with SDP text the plugin exchanges itself (a gateway's other
 * leg, e.g. Jingle), presented to the plugin as a sylk_stream so mixers and prompts take it.
 *
 * Thread: main thread (the RTP stream runs on a media thread, see media/rtp.h).
 */
#ifndef SYLK_ENDPOINT_H
#define SYLK_ENDPOINT_H

#include <sylk/host.h>

sylk_media_endpoint *sylk_endpoint_new(const struct sylk_media_endpoint_handler *handler,
                                       void *user_data);
int sylk_endpoint_answer(sylk_media_endpoint *ep, const char *offer_sdp, const char **answer);
int sylk_endpoint_offer(sylk_media_endpoint *ep, const char **offer);
int sylk_endpoint_set_answer(sylk_media_endpoint *ep, const char *answer_sdp);
int sylk_endpoint_set_ice(sylk_media_endpoint *ep, const char *ufrag, const char *pwd);
int sylk_endpoint_ice_connect(sylk_media_endpoint *ep, const char *remote_ufrag,
                              const char *remote_pwd);
sylk_stream *sylk_endpoint_stream(sylk_media_endpoint *ep);
void sylk_endpoint_free(sylk_media_endpoint *ep);

/** The endpoint's description of its audio line (session_streams.c), NULL before any. */
const struct sylk_sdp_media *sylk_endpoint_local(const sylk_media_endpoint *ep);
/** Negotiated, with media flowing (stream_enabled). */
bool sylk_endpoint_active(const sylk_media_endpoint *ep);

#endif
