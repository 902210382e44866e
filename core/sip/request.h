/*
 * request.h — a received SIP request as the plugin sees it (struct sylk_request_info) plus
 * header lookup by name. Holds a reference to sofia's message; main thread.
 */
#ifndef SYLK_REQUEST_H
#define SYLK_REQUEST_H

#include <glib.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>
#include <sylk/types.h>

#define SYLK_REQUEST_MAGIC 0x53594c4bu /* "SYLK" */

struct sylk_request {
    struct sylk_request_info info; /* first: the SDK pointer maps back to this struct */
    uint32_t magic;                /* SYLK_REQUEST_MAGIC while alive */
    msg_t *msg;                    /* reference held; NULL for requests we sent */
    GStringChunk *strings;
    GHashTable *headers; /* lower-case name → value, filled on demand */
    struct sockaddr_storage source;
    bool has_source;
};

/** Captures the request being processed in a nua callback. */
struct sylk_request *sylk_request_new(nua_t *nua, const sip_t *sip);
void sylk_request_free(struct sylk_request *req);

/** The description of a request the server originates (no received message behind it). */
struct sylk_request *sylk_request_new_outgoing(const char *method, const char *request_uri,
                                               const char *from, const char *to);

/** Value of the first header called `name` (case-insensitive; compact forms work), or NULL. */
const char *sylk_request_header(const struct sylk_request_info *info, const char *name);

/** "user@host" style helpers used by routing. */
const struct sockaddr *sylk_request_source(const struct sylk_request *req);

/** Prints a URL ("sip:a@b") into the request's string chunk. */
const char *sylk_request_url_str(struct sylk_request *req, const url_t *url);

#endif
