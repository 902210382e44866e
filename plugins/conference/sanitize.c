/*
 * sanitize.c — what the room takes from participants before it uses it: the names shared
 * files are stored under (files.h, files_sanitize_name) and screen images (screen.h,
 * screen_decode). Pure functions, unit-tested and fuzzed (test/fuzz/fuzz_conference.c).
 *
 * Thread: any.
 */
#include "files.h"
#include "screen.h"

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
    const char *end;
    if (!g_utf8_validate(s->str, (gssize)s->len, &end))
        g_string_truncate(s, (gsize)(end - s->str));
    /* after the cut: what is trimmed stays trimmed when the name is sanitized again */
    while (s->len && (s->str[0] == '.' || s->str[0] == ' '))
        g_string_erase(s, 0, 1);
    while (s->len && s->str[s->len - 1] == ' ')
        g_string_truncate(s, s->len - 1);
    if (s->len == 0)
        g_string_assign(s, "file");
    return g_string_free(s, FALSE);
}

static bool is_jpeg(const guint8 *data, size_t len)
{
    /* SOI then a marker: FF D8 FF; and the EOI marker at the end (FF D9) */
    return len >= 4 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff &&
           data[len - 2] == 0xff && data[len - 1] == 0xd9;
}

/*
 * The smallest JPEG is_jpeg takes (4 bytes) is 6 base64 characters. Shorter text is refused
 * here: g_base64_decode_inplace asserts on fewer than 2 characters (a GLib CRITICAL, fatal
 * under G_DEBUG=fatal-criticals), and a participant chooses what we get.
 */
#define MIN_BASE64_JPEG 6

/* Base64 text (with white space) of at least MIN_BASE64_JPEG characters of the alphabet. */
static bool base64_text(const guint8 *data, size_t len)
{
    size_t significant = 0;
    for (size_t i = 0; i < len; i++) {
        guint8 c = data[i];
        if (g_ascii_isalnum(c) || c == '+' || c == '/')
            significant++;
        else if (c != '=' && !g_ascii_isspace(c))
            return false;
    }
    return significant >= MIN_BASE64_JPEG;
}

GBytes *screen_decode(const void *body, size_t len)
{
    const guint8 *data = body;
    if (is_jpeg(data, len))
        return g_bytes_new(data, len);
    if (!base64_text(data, len))
        return NULL;
    g_autofree char *text = g_strndup(body, len);
    gsize out_len = 0;
    guchar *out = g_base64_decode_inplace(text, &out_len);
    if (!is_jpeg(out, out_len))
        return NULL;
    return g_bytes_new(out, out_len);
}
