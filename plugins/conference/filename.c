/*
 * filename.c — the names shared files are stored under. See files.h (files_sanitize_name).
 *
 * Thread: pure function.
 */
#include "files.h"

#include <string.h>

#define MAX_NAME 200 /* bytes of a stored file name */

/*
 * A name that is only a file name: the last path component, without control characters or
 * slashes, not starting with a dot (nothing hidden, nothing like our .meta and .upload-*),
 * at most MAX_NAME bytes of valid UTF-8; "file" when nothing is left.
 */
char *files_sanitize_name(const char *offered)
{
    const char *base = offered ? offered : "";
    for (const char *c = base; *c; c++) {
        if (*c == '/' || *c == '\\')
            base = c + 1;
    }
    GString *s = g_string_new(NULL);
    for (const char *c = base; *c && s->len < MAX_NAME; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch < 0x20 || ch == 0x7f || ch == ':' || ch == '"')
            g_string_append_c(s, '_');
        else
            g_string_append_c(s, (char)ch);
    }
    while (s->len && (s->str[0] == '.' || s->str[0] == ' '))
        g_string_erase(s, 0, 1);
    while (s->len && s->str[s->len - 1] == ' ')
        g_string_truncate(s, s->len - 1);
    const char *end;
    if (!g_utf8_validate(s->str, (gssize)s->len, &end))
        g_string_truncate(s, (gsize)(end - s->str));
    if (s->len == 0)
        g_string_assign(s, "file");
    return g_string_free(s, FALSE);
}
