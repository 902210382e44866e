/*
 * xml_stream.h — the XMPP stream layer (RFC 6120 §4, §11): a pure incremental parser that
 * takes the bytes read from a connection and gives back events (the peer's stream header,
 * each stanza as an element tree, the stream's end, or the stream error to send), and the
 * writers of our own stream header and footer.
 *
 * The parser is libxml2's SAX2 push parser with no DTD, no entity substitution and no network.
 * Restricted XML (RFC 6120 §11.1: a DOCTYPE, entity or other declarations, comments,
 * processing instructions, references to entities other than the five predefined ones) is
 * the stream error restricted-xml and nothing is expanded (a "billion laughs" document stops at
 * its DOCTYPE). Limits: a stanza (with the whitespace before it) or the stream header may not
 * exceed max_stanza_bytes, counted on the bytes fed, whether libxml2 has parsed them or still
 * holds them, so that a huge attribute or text is cut as soon as it passes the limit; elements
 * may not nest deeper than max_depth below the stream element; the distinct names of a stream
 * may not take more than XMPP_STREAM_MAX_NAME_BYTES. All are policy-violation.
 * Other errors: not-well-formed (bad XML, bad UTF-8), unsupported-encoding (an encoding other
 * than UTF-8 declared or detected), invalid-namespace (root not {streams}stream, or a default
 * namespace other than the expected one), bad-namespace-prefix (an undeclared prefix),
 * bad-format (text at stream level, root of another name), unsupported-version (version not
 * "major.minor", or major > 1), improper-addressing (header to/from not a JID). libxml2's
 * messages never reach stderr: they become the error's text.
 *
 * Events are queued in order; after an error event no other follows and feed refuses input.
 * After </stream:stream> further input is ignored. After STARTTLS or a SASL success the
 * stream restarts: call xmpp_stream_reset, which drops what is queued and any bytes already
 * fed after the stanza that caused the restart (RFC 6120 §5.4.3.3: they must not be used).
 *
 * Ownership: the caller owns the parser, and what an event it took holds (clear the event).
 * Thread: pure (no I/O), any thread; one parser is used by one thread at a time.
 */
#ifndef XMPPGW_XML_STREAM_H
#define XMPPGW_XML_STREAM_H

#include "errors.h"
#include "xml_node.h"

#include <stdbool.h>
#include <stddef.h>

#define XMPP_STREAM_DEFAULT_MAX_STANZA (256 * 1024) /* max_stanza_kb = 256 */
#define XMPP_STREAM_DEFAULT_MAX_DEPTH  64
#define XMPP_STREAM_MAX_DEPTH_LIMIT    200 /* libxml2 itself refuses past 256 levels */
/* libxml2 keeps each distinct element name, prefix and namespace URI of a stream for as long as
 * the stream lasts: past this much, the stream is a policy-violation. */
#define XMPP_STREAM_MAX_NAME_BYTES (1024 * 1024)

struct xmpp_stream_limits {
    size_t max_stanza_bytes; /* a stanza, or the stream header, in bytes as received */
    unsigned max_depth;      /* element levels below <stream:stream>: the stanza is level 1 */
};

/* A stream header: the peer's (from an OPEN event) or ours (for xmpp_stream_header_write). */
struct xmpp_stream_header {
    char *content_ns; /* default namespace: XMPP_NS_SERVER, XMPP_NS_COMPONENT, ... */
    bool dialback;    /* xmlns:db='jabber:server:dialback' */
    char *to;         /* NULL when absent or empty (prosody sends from='' when unknown) */
    char *from;
    char *id;
    char *version; /* "1.0"; NULL when absent (a pre-1.0 peer: no stream features) */
    char *lang;    /* xml:lang, NULL when absent */
};

enum xmpp_stream_event_type {
    XMPP_STREAM_EV_OPEN,   /* the peer's stream header: .header */
    XMPP_STREAM_EV_STANZA, /* a complete top-level element: .stanza */
    XMPP_STREAM_EV_CLOSE,  /* </stream:stream> */
    XMPP_STREAM_EV_ERROR,  /* .condition to send as a stream error, .text says why (for logs) */
};

struct xmpp_stream_event {
    enum xmpp_stream_event_type type;
    struct xmpp_stream_header *header;
    struct xmpp_node *stanza; /* its xml:lang, when absent, is the header's */
    enum xmpp_stream_condition condition;
    char *text;
};

struct xmpp_stream_parser;

/**
 * A parser for a stream whose default namespace must be content_ns (XMPP_NS_SERVER for s2s,
 * XMPP_NS_COMPONENT for XEP-0114; NULL accepts jabber:server, jabber:client and
 * jabber:component:accept). limits NULL: the defaults. NULL when max_depth is 0 or above
 * XMPP_STREAM_MAX_DEPTH_LIMIT or max_stanza_bytes is 0.
 */
struct xmpp_stream_parser *xmpp_stream_parser_new(const char *content_ns,
                                                  const struct xmpp_stream_limits *limits);

void xmpp_stream_parser_free(struct xmpp_stream_parser *parser);

/** Parses len more bytes. 0, or -EPROTO once the stream has failed (an ERROR is queued). */
int xmpp_stream_feed(struct xmpp_stream_parser *parser, const void *data, size_t len);

/** The connection ended: an open stream that was not closed becomes a not-well-formed ERROR. */
void xmpp_stream_finish(struct xmpp_stream_parser *parser);

/** Starts a new stream on the same connection (after STARTTLS, SASL): see above. */
void xmpp_stream_reset(struct xmpp_stream_parser *parser);

/** How many times libxml2 was handed bytes (a figure for tests and logs). */
size_t xmpp_stream_parse_calls(const struct xmpp_stream_parser *parser);

/** Takes the next event, if any; the event is the caller's: xmpp_stream_event_clear it. */
bool xmpp_stream_next(struct xmpp_stream_parser *parser, struct xmpp_stream_event *event);

void xmpp_stream_event_clear(struct xmpp_stream_event *event);

void xmpp_stream_header_free(struct xmpp_stream_header *header);

/** RFC 6120 §4.7.5 "major.minor" (leading zeros ignored); false when not of that form. */
bool xmpp_stream_version_parse(const char *version, unsigned *major, unsigned *minor);

/**
 * Our stream header: <?xml version='1.0'?><stream:stream xmlns=content_ns
 * xmlns:stream=… [xmlns:db=…] [from] [to] [id] [version] [xml:lang]> (NULL fields left
 * out). NULL when content_ns is missing or a value is not valid XML text.
 */
char *xmpp_stream_header_write(const struct xmpp_stream_header *header);

/** "</stream:stream>" */
const char *xmpp_stream_footer(void);

/** The scope for writing stanzas after the header h we sent (xmpp_node_write). */
struct xmpp_scope xmpp_stream_scope(const struct xmpp_stream_header *h);

#endif
