/*
 * cpim.h — message/cpim (RFC 3862) as SIP MESSAGE bodies carry it: message headers (From, To,
 * DateTime, Subject, NS, extension headers), a blank line, the encapsulated object's MIME
 * headers (Content-Type), a blank line, its content.
 *
 * The gateway's own small parser: plugins cannot link the core's (core/msrp/cpim.c), and it
 * needs only this much. Bounded: at most XGW_CPIM_MAX_HEADERS headers in all, each line at
 * most XGW_CPIM_MAX_LINE bytes; CRLF or bare LF line ends. The content is not copied: it
 * points into the parsed buffer.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_CPIM_H
#define XMPPGW_CPIM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define XGW_CPIM_TYPE        "message/cpim"
#define XGW_CPIM_MAX_HEADERS 64
#define XGW_CPIM_MAX_LINE    4096

struct xgw_cpim_header {
    char *name;  /* as written, without ";params" */
    char *value; /* trimmed */
};

struct xgw_cpim {
    GArray *headers;         /* struct xgw_cpim_header: message headers, in order */
    GArray *content_headers; /* struct xgw_cpim_header: the MIME object's headers */
    const char *body;        /* into the parsed buffer */
    size_t body_len;
};

/** Parses data; 0, or -EBADMSG with *why (static text). The caller keeps data alive. */
int xgw_cpim_parse(const char *data, size_t len, struct xgw_cpim *out, const char **why);
void xgw_cpim_clear(struct xgw_cpim *cpim);

/** The first message header `name` (case-insensitive), or NULL. */
const char *xgw_cpim_header(const struct xgw_cpim *cpim, const char *name);
/** The first MIME header `name` of the content (case-insensitive), or NULL. */
const char *xgw_cpim_content_header(const struct xgw_cpim *cpim, const char *name);

/** The URI inside "<...>" of a From/To value (a new string), or NULL when there is none. */
char *xgw_cpim_address_uri(const char *value);

/**
 * A message/cpim body: From: <from>, To: <to>, DateTime: datetime (all three required), a
 * blank line, Content-Type: content_type, a blank line, the content as given.
 */
GString *xgw_cpim_format(const char *from, const char *to, const char *datetime,
                         const char *content_type, const char *body, size_t body_len);

#endif
