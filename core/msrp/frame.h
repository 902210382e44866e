/*
 * frame.h — MSRP frames (RFC 4975 §7): an incremental, pure and bounded parser over a byte
 * stream, and the serializer.
 *
 * sylk_msrp_parse looks at the bytes received so far on a connection and says: here is one
 * whole frame (and how many bytes it used), or more bytes are needed, or the stream is broken
 * (a reason for the log; the connection should be closed, since MSRP cannot resynchronize).
 * Nothing is kept between calls, and every search is bounded by the limits: a peer can make the
 * parser wait for at most max_header_bytes + max_body_bytes + an end-line before it errs.
 *
 * Thread: pure functions; a frame belongs to its caller.
 */
#ifndef SYLK_MSRP_FRAME_H
#define SYLK_MSRP_FRAME_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_MSRP_MAX_HEADERS      32
#define SYLK_MSRP_IDENT_MIN        4 /* ident = alphanum 3*31ident-char */
#define SYLK_MSRP_IDENT_MAX        32
#define SYLK_MSRP_RANGE_UNKNOWN    (-1) /* "*" in a Byte-Range end or total */
#define SYLK_MSRP_DEFAULT_MAX_BODY (64 * 1024)

struct sylk_msrp_limits {
    size_t max_header_bytes; /* first line and headers, up to the blank line or end-line */
    size_t max_body_bytes;   /* one chunk's data */
};

/** 8 KiB of headers, SYLK_MSRP_DEFAULT_MAX_BODY of data. */
extern const struct sylk_msrp_limits sylk_msrp_default_limits;

struct sylk_msrp_header {
    char *name;  /* as received */
    char *value; /* without the leading space */
};

struct sylk_msrp_frame {
    char transaction_id[SYLK_MSRP_IDENT_MAX + 1];
    char *method;    /* request: "SEND", "REPORT", "NICKNAME", …; NULL for a response */
    int status;      /* response: 000-999; 0 for a request */
    char *comment;   /* response comment, or NULL */
    GArray *headers; /* struct sylk_msrp_header, in order (To-Path and From-Path first) */
    uint8_t *body;   /* the data of content-stuff, or NULL */
    size_t body_len;
    char flag; /* '$' last chunk, '+' more to come, '#' aborted */
};

enum sylk_msrp_parse_result {
    SYLK_MSRP_FRAME,     /* *frame is filled, *consumed bytes were used */
    SYLK_MSRP_NEED_MORE, /* no whole frame yet, and nothing wrong so far */
    SYLK_MSRP_ERROR,     /* *error says why */
};

/** Looks for one frame at the start of `data`. */
enum sylk_msrp_parse_result sylk_msrp_parse(const uint8_t *data, size_t len,
                                            const struct sylk_msrp_limits *limits,
                                            struct sylk_msrp_frame *frame, size_t *consumed,
                                            char **error);

void sylk_msrp_frame_clear(struct sylk_msrp_frame *frame);

/** The first header of that name (case-insensitive), or NULL. */
const char *sylk_msrp_header(const struct sylk_msrp_frame *frame, const char *name);

/** Byte-Range "start-end/total" (RFC 4975 §9): end and total may be SYLK_MSRP_RANGE_UNKNOWN. */
bool sylk_msrp_parse_byte_range(const char *value, int64_t *start, int64_t *end, int64_t *total);

/** True for an RFC 4975 ident (transaction and message ids): alphanum 3*31ident-char. */
bool sylk_msrp_ident_valid(const char *s, size_t len);

/**
 * The frame on the wire: first line, headers in order, the body after a blank line when there
 * is one, end-line. The caller makes sure the end-line does not occur in the body (a fresh
 * random transaction id does that in practice; sylk_msrp_format checks it and returns NULL).
 */
GBytes *sylk_msrp_format(const struct sylk_msrp_frame *frame);

/**
 * A response to `request` (RFC 4975 §7.2): To-Path the previous hop (the first From-Path URI),
 * From-Path us (the last To-Path URI); NULL when the request has no usable paths.
 */
GBytes *sylk_msrp_format_response(const struct sylk_msrp_frame *request, int status,
                                  const char *comment);

#endif
