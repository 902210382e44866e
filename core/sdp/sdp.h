/*
 * sdp.h — SDP offer/answer (RFC 3264) on top of sofia-sip's SDP parser: one model of a
 * description (struct sylk_sdp) used for offers received, answers built and offers made.
 *
 * Pure functions over strings; main thread. Audio codecs are those of media/codec.h (PCMU,
 * PCMA, G722 with its 8000 SDP clock, speex 8000/16000, opus/48000/2 with its fmtp),
 * telephone-event (RFC 4733) is kept when offered, and SRTP is keyed by SDES a=crypto lines
 * (RFC 4568) on RTP/SAVP, or on RTP/AVP when the offerer does best-effort SRTP. MSRP streams
 * (m=message over TCP/MSRP or TCP/TLS/MSRP) keep their path, accept-types, setup, chatroom and
 * file-transfer attributes; a valid a=path and accept-types make them usable.
 *
 * Offers are taken as RFC 3264 asks of an answerer: a malformed a=rtpmap or a=fmtp makes its
 * payload type unusable, not the whole description (sofia-sip's strict parser would refuse
 * it all); an RTP stream whose connection address is not a unicast IP address of the family
 * this server's media use is refused with the Warning code (RFC 3261 section 20.43) that says
 * why. Ports above 65535 make the description malformed (RFC 4566: a port is 16 bits).
 */
#ifndef SYLK_SDP_H
#define SYLK_SDP_H

#include "media/codec.h"
#include "media/srtp.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sylk/types.h>

#define SYLK_SDP_MAX_STREAMS 16
#define SYLK_SDP_MAX_SIZE    16384 /* bigger bodies are refused before parsing */

struct sylk_sdp_media {
    enum sylk_media_type type;
    char *media;   /* m= media name, "audio" */
    char *proto;   /* "RTP/AVP" */
    char *formats; /* the m= format list as offered, for refusing the line */
    char *address; /* connection address (media-level, else session-level) */
    unsigned port; /* 0: refused / disabled */
    unsigned rtcp_port;
    enum sylk_direction direction; /* as declared by the description's author */
    bool usable;                   /* this server can take part in the stream */
    /* why a stream with a port is not usable, when its connection is the cause: a Warning
     * code (RFC 3261 20.43: 301, 330, 399) and a static text; 0 and NULL otherwise */
    int refusal_code;
    const char *refusal;

    /* audio, once a codec is chosen */
    int pt;
    const char *codec; /* static string "PCMU" */
    unsigned clock;    /* SDP clock rate */
    const struct sylk_codec_info *info;
    struct sylk_codec_options options; /* the author's fmtp (opus) */
    int dtmf_pt;                       /* telephone-event payload type, -1 when absent */
    unsigned audio_level_id; /* RFC 6464 a=extmap id (1..14) of ssrc-audio-level, 0: none */
    unsigned dtmf_clock;     /* its clock: the codec\'s when offered so (RFC 4733 §2.1) */

    /* SRTP: `crypto` is the author's key (chosen one of an offer's a=crypto lines) */
    bool secure;
    struct sylk_sdes crypto;

    /* MSRP (m=message: RFC 4975 §8, RFC 6135, RFC 5547, RFC 7701): attribute values as
     * written, NULL when absent */
    bool msrp_tls; /* TCP/TLS/MSRP rather than TCP/MSRP */
    char *msrp_path;
    char *accept_types;
    char *accept_wrapped_types;
    char *setup; /* active, passive, actpass, holdconn */
    char *chatroom;
    char *file_selector;
    char *file_transfer_id;
};

/** How SRTP offers are treated ([rtp] srtp). */
enum sylk_srtp_mode {
    SYLK_SRTP_DISABLED = 0,  /* RTP/SAVP is refused, crypto lines on RTP/AVP ignored */
    SYLK_SRTP_OPTIONAL = 1,  /* SRTP when the offer has a usable crypto line */
    SYLK_SRTP_MANDATORY = 2, /* an audio stream without a usable crypto line is refused */
};

#define SYLK_SDP_MSRP_TCP 1u /* TCP/MSRP */
#define SYLK_SDP_MSRP_TLS 2u /* TCP/TLS/MSRP */

struct sylk_sdp_policy {
    char *const *codecs; /* [rtp] audio_codecs, in preference order */
    enum sylk_srtp_mode srtp;
    unsigned msrp; /* MSRP transports the server runs: SYLK_SDP_MSRP_TCP | SYLK_SDP_MSRP_TLS */
    int family;    /* AF_INET or AF_INET6: the family of our media address; 0 takes either */
};

struct sylk_sdp {
    unsigned count;
    struct sylk_sdp_media m[SYLK_SDP_MAX_STREAMS];
};

/**
 * Parses a received offer (or answer) and picks, for each audio stream, the first codec of
 * the policy's list it contains and its SRTP key. Returns 0, or -EINVAL with `*error`
 * (g_free) set when the body is not a usable SDP description at all.
 */
int sylk_sdp_parse(const char *body, size_t len, const struct sylk_sdp_policy *policy,
                   struct sylk_sdp *out, char **error);

/** Frees what sylk_sdp_parse or sylk_sdp_offer allocated. */
void sylk_sdp_clear(struct sylk_sdp *sdp);

/** Number of usable streams. */
unsigned sylk_sdp_usable_count(const struct sylk_sdp *sdp);

/** The first stream refused for its connection (refusal set), or NULL. */
const struct sylk_sdp_media *sylk_sdp_refused_connection(const struct sylk_sdp *sdp);

/** The reverse of a direction (the answerer's view of the offerer's). */
enum sylk_direction sylk_sdp_reverse(enum sylk_direction d);

/**
 * Prints a description. Each media with port 0 is printed as a refused line keeping its
 * formats; audio lines carry their chosen codec (or, with `offer_codecs` non-NULL, every codec
 * listed there plus telephone-event, for an offer), and their own key when secure.
 * `sess_id`/`version` go into o=.
 */
char *sylk_sdp_print(const struct sylk_sdp *sdp, const char *address, uint64_t sess_id,
                     unsigned version, char *const *offer_codecs);

/** Makes `m` our side of a stream: our own key for a secure one (same tag and suite). */
int sylk_sdp_localize(struct sylk_sdp_media *m);

/** Deep copy of one description into another; dst (zeroed or a description) is cleared first. */
void sylk_sdp_copy(struct sylk_sdp *dst, const struct sylk_sdp *src);
/** Deep copy of one media into a slot that holds nothing (its strings are not freed). */
void sylk_sdp_media_copy(struct sylk_sdp_media *dst, const struct sylk_sdp_media *src);
#endif
