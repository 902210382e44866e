/*
 * wire.h — what the server takes from the wire, around sofia-sip's SIP parser. Main thread
 * (the parsers run inside sofia-sip's transports, on the main loop).
 *
 * sofia-sip drops some requests without a word (RFC 4475 has examples): a request line its
 * parser refuses (a method with '+' or '`', LWS inside the Request-URI) makes the message
 * "garbage", and a request whose Via it cannot parse cannot be answered; it also takes request
 * lines RFC 3261 does not (extra SP, trailing SP). The message class handed to nta
 * (sylk_wire_new) parses request lines, CSeq and Via headers leniently when sofia's own parser
 * fails, and keeps each header's raw bytes (MSG_DO_EXTRACT_COPY). A request line that breaks
 * RFC 3261's grammar gets its Request-URI marked invalid, which nta answers 400 itself; a Via
 * parsed leniently gets a header class of its own, by which sylk_wire_request_problem finds
 * it for the caller to answer 400.
 */
#ifndef SYLK_WIRE_H
#define SYLK_WIRE_H

#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_tag.h>
#include <stdbool.h>

/** The message class and the header classes it refers to; freed after nua_destroy. */
struct sylk_wire;

/** A message class for nta (see the file comment); NULL when sofia cannot clone its own. */
struct sylk_wire *sylk_wire_new(void);
void sylk_wire_free(struct sylk_wire *wire);

/** The message class, for NTATAG_MCLASS. */
msg_mclass_t const *sylk_wire_mclass(const struct sylk_wire *wire);

/** The message flags nta must parse with (NTATAG_SIPFLAGS): raw header bytes are kept. */
unsigned sylk_wire_sip_flags(void);

/**
 * The status a received request gets for what the class let through: 505 for a SIP version
 * other than 2.0 (nta would answer it before applying received/rport to the Via: see
 * request_line_d), 400 for Via headers parsed leniently; 0 when none, `*why` saying which.
 */
int sylk_wire_request_problem(const struct sylk_wire *wire, const sip_t *sip, const char **why);

/**
 * Why a raw request line breaks RFC 3261's "Method SP Request-URI SP SIP-Version CRLF" (one SP
 * each, no whitespace before or after, no LWS or <> in the URI), or NULL. CRLFs before it are
 * allowed (RFC 3261 7.5).
 */
const char *sylk_wire_request_line_problem(const char *line, size_t len);

/**
 * Whether the request's Accept admits `type` ("application/sdp"): true without Accept (RFC
 * 3261 20.1 then means application/sdp), false for an empty Accept or one that lists neither
 * the type, its "type/ *" nor "* / *" (or lists them with q=0).
 */
bool sylk_wire_accepts(const sip_t *sip, const char *type);

#endif
