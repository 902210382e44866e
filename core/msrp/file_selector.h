/*
 * file_selector.h — the a=file-selector attribute of RFC 5547 (MSRP file transfer): the
 * name, type, size and SHA-1 hash of the file a stream carries, parsed from an offer and
 * written into ours.
 *
 *   file-selector:name:"report.pdf" type:application/pdf size:32349 hash:sha-1:72:24:…:1B
 *
 * Names are percent-decoded (RFC 5547 escapes %, DQUOTE, CR and LF in them) and may still
 * hold any other character, '/' included: whoever stores a file sanitizes its name. Unknown
 * selectors and hash algorithms other than sha-1 are ignored, as the RFC asks.
 *
 * Thread: pure functions.
 */
#ifndef SYLK_FILE_SELECTOR_H
#define SYLK_FILE_SELECTOR_H

#include <stdint.h>

#define SYLK_FILE_SELECTOR_MAX 4096 /* bytes of attribute value */

struct sylk_file_selector {
    char *name;      /* decoded, or NULL */
    char *type;      /* "image/png" (parameters kept), or NULL */
    uint64_t size;   /* 0 when absent */
    char *hash_sha1; /* "72:24:…" upper-case, 20 pairs, or NULL */
};

/** 0, or -EINVAL with *error (g_free) when the value is not a selector list; `out` cleared. */
int sylk_file_selector_parse(const char *value, struct sylk_file_selector *out, char **error);
void sylk_file_selector_clear(struct sylk_file_selector *sel);
/** The attribute value for the fields that are set (g_free). */
char *sylk_file_selector_format(const struct sylk_file_selector *sel);

#endif
