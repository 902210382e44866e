/*
 * composing.h — message composition indication (RFC 3994, application/im-iscomposing+xml):
 * the "typing…" notices chat peers send each other. Parsed with libxml2 without network
 * access, DTDs or entity expansion, and bounded in size; formatted as the RFC writes it.
 *
 * Thread: pure functions.
 */
#ifndef SYLK_COMPOSING_H
#define SYLK_COMPOSING_H

#include <stdbool.h>
#include <stddef.h>

#define SYLK_COMPOSING_TYPE      "application/im-iscomposing+xml"
#define SYLK_COMPOSING_MAX_BYTES 4096

struct sylk_composing {
    bool active;        /* state: active, else idle */
    char *content_type; /* what is being composed, or NULL */
    unsigned refresh;   /* seconds until the next active notice, 0 when absent */
    char *last_active;  /* lastactive (date-time), or NULL */
};

/** 0, or -EBADMSG with *error saying why. */
int sylk_composing_parse(const char *data, size_t len, struct sylk_composing *out, char **error);
void sylk_composing_clear(struct sylk_composing *c);
/** The XML document (g_free). */
char *sylk_composing_format(const struct sylk_composing *c);

#endif
