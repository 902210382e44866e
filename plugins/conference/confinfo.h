/*
 * confinfo.h — RFC 4575 conference-info documents (application/conference-info+xml) of a room,
 * with the AG Projects extensions (urn:ag-projects:xml:ns:conference-info: shared files and
 * screen-sharing URLs), built with libxml2 from a plain description so that every piece of text
 * a participant chose (display names, nicknames) is escaped by the library.
 *
 * Thread: pure functions (main thread in practice).
 */
#ifndef CONF_CONFINFO_H
#define CONF_CONFINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFINFO_NS     "urn:ietf:params:xml:ns:conference-info"
#define CONFINFO_AGP_NS "urn:ag-projects:xml:ns:conference-info"

struct confinfo_media {
    const char *id;     /* unique within its endpoint: "audio", "chat" */
    const char *type;   /* "audio" or "message" */
    const char *status; /* "sendrecv", "sendonly", "recvonly", "inactive" */
};

struct confinfo_endpoint {
    const char *entity;       /* the participant's contact URI */
    const char *display_text; /* or NULL */
    const char *status;       /* "connected", "on-hold", "dialing-out", "alerting" */
    const char *joined_at;    /* joining-info/when, xs:dateTime */
    const struct confinfo_media *media;
    size_t media_count;
    bool dialed_out; /* joining-method: the room called it (REFER), else it dialed in */
};

struct confinfo_user {
    const char *entity;           /* the participant's address of record */
    const char *display_text;     /* nickname, else display name, or NULL */
    const char *screen_image_url; /* agp-conf:screen_image_url, or NULL */
    const struct confinfo_endpoint *endpoints;
    size_t endpoint_count;
};

/*
 * A shared file: agp-conf:file, whose fields are attributes (sipsimple's FileResource), as
 * SylkServer writes them: hash="sha1:3B:A8:…", sender="Display <sip:user@host>" or the URI.
 */
struct confinfo_file {
    const char *name;
    const char *hash;        /* "3B:A8:…": the SHA-1's 20 hex pairs, as RFC 5547 writes them */
    const char *sender_uri;  /* "sip:user@host" */
    const char *sender_name; /* its display name (nickname), or NULL */
    uint64_t size;
};

struct confinfo {
    const char *entity; /* the room URI, also its conf-uris entry (purpose participation) */
    unsigned version;
    const char *display_text; /* conference-description/display-text */
    const char *subject;      /* or NULL */
    const char *free_text;    /* "Hosted by …", or NULL */
    const char *web_page;     /* host-info/web-page, or NULL */
    const struct confinfo_user *users;
    size_t user_count;
    const struct confinfo_file *files; /* agp-conf:resources, when any */
    size_t file_count;
};

/** The document (g_free); its length in *len. */
char *confinfo_build(const struct confinfo *info, size_t *len);

/**
 * A copy of a document of confinfo_build with the root's version set to `version` (g_free):
 * versions count the documents sent to each subscriber (RFC 4575 section 5.1), so one
 * document built per change is stamped per subscriber. NULL when `doc` has no version.
 */
char *confinfo_with_version(const char *doc, size_t len, unsigned version, size_t *out_len);

#endif
