/*
 * cpim.h — Common Presence and Instant Messaging message format (RFC 3862), the wrapping chat
 * messages travel in over MSRP ("message/cpim"): message headers (From, To, cc, DateTime,
 * Subject, NS, Require and name-spaced extension headers such as agp.Message-Type), then the
 * encapsulated MIME object's headers (Content-Type, …) and its body.
 *
 * Parsing is pure and bounded (header count and line length); values keep their RFC 3862
 * escaping undone (\" and \\ in quoted strings are left to the field parsers). Formatting
 * writes headers in the order given.
 *
 * Thread: pure functions; a message belongs to its caller.
 */
#ifndef SYLK_CPIM_H
#define SYLK_CPIM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_CPIM_MAX_HEADERS 64
#define SYLK_CPIM_MAX_LINE    4096

struct sylk_cpim_header {
    char *name;   /* as written, prefix included: "agp.Message-Type" */
    char *params; /* ";lang=fr" parameters after the name, or NULL */
    char *value;
};

struct sylk_cpim {
    GArray *headers;         /* struct sylk_cpim_header: the message headers, in order */
    GArray *content_headers; /* struct sylk_cpim_header: the MIME object's headers */
    uint8_t *body;           /* the MIME object's content (NUL-terminated for convenience) */
    size_t body_len;
};

/** Parses a message/cpim body; 0, or -EBADMSG with `*error` saying why. */
int sylk_cpim_parse(const uint8_t *data, size_t len, struct sylk_cpim *out, char **error);
void sylk_cpim_clear(struct sylk_cpim *msg);

/** A new, empty message to fill with sylk_cpim_add / sylk_cpim_add_content / body. */
void sylk_cpim_init(struct sylk_cpim *msg);
void sylk_cpim_add(struct sylk_cpim *msg, const char *name, const char *value);
void sylk_cpim_add_content(struct sylk_cpim *msg, const char *name, const char *value);
void sylk_cpim_set_body(struct sylk_cpim *msg, const void *body, size_t len);

/**
 * The value of the first message header `name` in name space `ns` (a URI declared with an NS
 * header, e.g. "urn:ag-projects:xml:ns:cpim"; NULL for the default urn:ietf:params:cpim-headers:
 * name space, where headers carry no prefix). Header names compare case-insensitively.
 */
const char *sylk_cpim_get(const struct sylk_cpim *msg, const char *ns, const char *name);
/** Every value of message header `name` (default name space), e.g. several To; NULL-ended. */
GPtrArray *sylk_cpim_get_all(const struct sylk_cpim *msg, const char *name);
/** The first MIME header of the encapsulated object (Content-Type, …), or NULL. */
const char *sylk_cpim_content(const struct sylk_cpim *msg, const char *name);

/** The message on the wire: headers, blank line, content headers, blank line, body. */
GBytes *sylk_cpim_format(const struct sylk_cpim *msg);

/**
 * A From/To value, `["Display Name"] <URI>` or `Display <URI>` (RFC 3862 §3.3.1): the URI and
 * the display name (unquoted, NULL when absent). False when there is no <URI>.
 */
bool sylk_cpim_address(const char *value, char **display, char **uri);
/** `"Display" <uri>` with the display name quoted and escaped, or `<uri>` without one. */
char *sylk_cpim_format_address(const char *display, const char *uri);

#endif
