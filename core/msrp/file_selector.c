/*
 * file_selector.c — RFC 5547 a=file-selector values. See file_selector.h.
 */
#include "msrp/file_selector.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

void sylk_file_selector_clear(struct sylk_file_selector *sel)
{
    g_free(sel->name);
    g_free(sel->type);
    g_free(sel->hash_sha1);
    memset(sel, 0, sizeof(*sel));
}

/* name:"…": the quoted string with its %XX escapes undone; NULL when malformed. */
static char *parse_name(const char **p)
{
    const char *s = *p;
    if (*s != '"')
        return NULL;
    const char *end = strchr(++s, '"');
    if (!end || end == s)
        return NULL;
    GString *out = g_string_sized_new((gsize)(end - s));
    for (; s < end; s++) {
        if (*s == '%') {
            int hi = s + 2 < end ? g_ascii_xdigit_value(s[1]) : -1;
            int lo = s + 2 < end ? g_ascii_xdigit_value(s[2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                g_string_free(out, TRUE);
                return NULL;
            }
            g_string_append_c(out, (char)(hi << 4 | lo));
            s += 2;
        } else if (*s == '\r' || *s == '\n') {
            g_string_free(out, TRUE);
            return NULL;
        } else {
            g_string_append_c(out, *s);
        }
    }
    *p = end + 1;
    return g_string_free(out, FALSE);
}

/* 20 colon-separated pairs of hex digits, returned upper-case. */
static char *parse_sha1(const char *v, size_t len)
{
    if (len != 59)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        bool colon = i % 3 == 2;
        if (colon ? v[i] != ':' : !g_ascii_isxdigit(v[i]))
            return NULL;
    }
    return g_ascii_strup(v, (gssize)len);
}

static int fail(struct sylk_file_selector *out, char **error, const char *why, const char *at)
{
    *error = g_strdup_printf("bad file-selector: %s at \"%.32s\"", why, at);
    sylk_file_selector_clear(out);
    return -EINVAL;
}

int sylk_file_selector_parse(const char *value, struct sylk_file_selector *out, char **error)
{
    memset(out, 0, sizeof(*out));
    if (!value)
        return fail(out, error, "no value", "");
    if (strlen(value) > SYLK_FILE_SELECTOR_MAX)
        return fail(out, error, "too long", value);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *start = p;
        if (g_ascii_strncasecmp(p, "name:", 5) == 0) {
            p += 5;
            char *name = parse_name(&p);
            if (!name)
                return fail(out, error, "name is not a quoted file name", start);
            g_free(out->name);
            out->name = name;
        } else {
            size_t len = strcspn(p, " \t");
            const char *v = memchr(p, ':', len);
            if (!v)
                return fail(out, error, "selector without a value", start);
            size_t key = (size_t)(v - p);
            v++;
            size_t vlen = len - key - 1;
            if (key == 4 && g_ascii_strncasecmp(p, "size", 4) == 0) {
                guint64 n = 0;
                g_autofree char *digits = g_strndup(v, vlen);
                if (!vlen || strspn(digits, "0123456789") != vlen ||
                    !g_ascii_string_to_unsigned(digits, 10, 0, G_MAXUINT64, &n, NULL))
                    return fail(out, error, "size is not a number", start);
                out->size = n;
            } else if (key == 4 && g_ascii_strncasecmp(p, "type", 4) == 0) {
                if (!vlen || !memchr(v, '/', vlen))
                    return fail(out, error, "type is not type/subtype", start);
                g_free(out->type);
                out->type = g_strndup(v, vlen);
            } else if (key == 4 && g_ascii_strncasecmp(p, "hash", 4) == 0) {
                if (vlen > 6 && g_ascii_strncasecmp(v, "sha-1:", 6) == 0) {
                    char *h = parse_sha1(v + 6, vlen - 6);
                    if (!h)
                        return fail(out, error, "sha-1 hash is not 20 hex pairs", start);
                    g_free(out->hash_sha1);
                    out->hash_sha1 = h;
                } /* other algorithms: ignored */
            }     /* unknown selectors: ignored (RFC 5547 §5) */
            p += len;
        }
        if (*p && *p != ' ' && *p != '\t')
            return fail(out, error, "selectors must be separated by spaces", p);
    }
    return 0;
}

char *sylk_file_selector_format(const struct sylk_file_selector *sel)
{
    GString *s = g_string_new(NULL);
    if (sel->name) {
        g_string_append(s, "name:\"");
        for (const char *c = sel->name; *c; c++) {
            if (*c == '%' || *c == '"' || *c == '\r' || *c == '\n')
                g_string_append_printf(s, "%%%02X", (unsigned char)*c);
            else
                g_string_append_c(s, *c);
        }
        g_string_append_c(s, '"');
    }
    if (sel->type)
        g_string_append_printf(s, "%stype:%s", s->len ? " " : "", sel->type);
    if (sel->size)
        g_string_append_printf(s, "%ssize:%" G_GUINT64_FORMAT, s->len ? " " : "", sel->size);
    if (sel->hash_sha1)
        g_string_append_printf(s, "%shash:sha-1:%s", s->len ? " " : "", sel->hash_sha1);
    return g_string_free(s, FALSE);
}
