/*
 * sdp.h — SDP offer/answer (RFC 3264) on top of sofia-sip's SDP parser: one model of a
 * description (struct sylk_sdp) used for offers received, answers built and offers made.
 *
 * Pure functions over strings; main thread. Audio in this version: PCMU, PCMA, G722 (SDP clock
 * 8000, audio 16 kHz per RFC 3551) and telephone-event (RFC 4733) kept when offered.
 */
#ifndef SYLK_SDP_H
#define SYLK_SDP_H

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

    /* audio, once a codec is chosen */
    int pt;
    const char *codec; /* static string "PCMU" */
    unsigned clock;    /* SDP clock rate */
    int dtmf_pt;       /* telephone-event payload type, -1 when absent */
};

struct sylk_sdp {
    unsigned count;
    struct sylk_sdp_media m[SYLK_SDP_MAX_STREAMS];
};

/**
 * Parses a received offer (or answer) and picks, for each audio stream, the first codec of
 * `codecs` (preference order) it contains. Returns 0, or -EINVAL with `*error` (g_free) set
 * when the body is not a usable SDP description at all.
 */
int sylk_sdp_parse(const char *body, size_t len, char *const *codecs, struct sylk_sdp *out,
                   char **error);

/** Frees what sylk_sdp_parse or sylk_sdp_offer allocated. */
void sylk_sdp_clear(struct sylk_sdp *sdp);

/** Number of usable streams. */
unsigned sylk_sdp_usable_count(const struct sylk_sdp *sdp);

/** The reverse of a direction (the answerer's view of the offerer's). */
enum sylk_direction sylk_sdp_reverse(enum sylk_direction d);

/**
 * Prints a description. Each media with port 0 is printed as a refused line keeping its
 * formats; audio lines carry their chosen codec (or, with `offer_codecs` non-NULL, every codec
 * listed there plus telephone-event, for an offer). `sess_id`/`version` go into o=.
 */
char *sylk_sdp_print(const struct sylk_sdp *sdp, const char *address, uint64_t sess_id,
                     unsigned version, char *const *offer_codecs);

/** Static payload type and SDP clock of a codec name this build knows; false otherwise. */
bool sylk_sdp_codec_info(const char *name, int *pt, unsigned *clock);

/** Deep copy of one description into another (dst cleared first). */
void sylk_sdp_copy(struct sylk_sdp *dst, const struct sylk_sdp *src);
#endif
