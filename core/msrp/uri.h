/*
 * uri.h — MSRP URIs (RFC 4975 §6, §9): msrp[s]://[user@]host[:port][/session-id];transport,
 * parsed, compared (§6.1) and written, and To-Path/From-Path lists of them.
 *
 * Thread: pure functions.
 */
#ifndef SYLK_MSRP_URI_H
#define SYLK_MSRP_URI_H

#include <glib.h>
#include <stdbool.h>

#define SYLK_MSRP_DEFAULT_PORT 2855

struct sylk_msrp_uri {
    bool secure;      /* msrps */
    char *user;       /* userinfo, or NULL */
    char *host;       /* without the brackets of an IPv6 literal */
    unsigned port;    /* SYLK_MSRP_DEFAULT_PORT when absent */
    char *session_id; /* or NULL (a relay's URI has none) */
    char *transport;  /* "tcp" */
    char *params;     /* further ";name=value" parameters as written, or NULL */
};

/** 0, or -EINVAL with `*error` saying why. */
int sylk_msrp_uri_parse(const char *text, size_t len, struct sylk_msrp_uri *out, char **error);
void sylk_msrp_uri_clear(struct sylk_msrp_uri *uri);

/** RFC 4975 §6.1: scheme, host (no case), port, session-id (exact) and transport (no case). */
bool sylk_msrp_uri_equal(const struct sylk_msrp_uri *a, const struct sylk_msrp_uri *b);

char *sylk_msrp_uri_format(const struct sylk_msrp_uri *uri);

/** A To-Path/From-Path value: URIs separated by spaces; NULL (and *error) when one is bad. */
GPtrArray *sylk_msrp_path_parse(const char *value, char **error);

/** The first / last URI of a path value as written (not parsed), or NULL when it has none. */
char *sylk_msrp_path_first(const char *value);
char *sylk_msrp_path_last(const char *value);

#endif
