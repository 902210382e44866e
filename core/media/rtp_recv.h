/*
 * rtp_recv.h — the receive path of an RTP stream (rtp_recv.c): what its socket watches call.
 * Not a public header.
 *
 * Thread: the stream's media thread.
 */
#ifndef SYLK_RTP_RECV_H
#define SYLK_RTP_RECV_H

#include "media/rtp_internal.h"

/** The RTP socket is readable. */
void sylk_rtp_on_rtp(struct sylk_media_watch *w);
/** The RTCP socket is readable. */
void sylk_rtp_on_rtcp(struct sylk_media_watch *w);

#endif
