/*
 * cpim.c — message/cpim bodies of SIP MESSAGEs. See cpim.h.
 */
#include "cpim.h"

#include <errno.h>
#include <string.h>

static void header_clear(gpointer p)
{
    struct xgw_cpim_header *h = p;
    g_free(h->name);
    g_free(h->value);
}

/* The line starting at *pos (without its end), and *pos moved past its end. False at the end
 * of the data without a line end: a CPIM header block always ends with a blank line. */
static bool next_line(const char *data, size_t len, size_t *pos, const char **line, size_t *n)
{
    const char *start = data + *pos;
    const char *lf = memchr(start, '\n', len - *pos);
    if (!lf)
        return false;
    *line = start;
    *n = (size_t)(lf - start);
    if (*n && start[*n - 1] == '\r')
        (*n)--;
    *pos = (size_t)(lf - data) + 1;
    return true;
}

/* Reads "Name[;params]: value" lines into headers until a blank line. */
static int read_block(const char *data, size_t len, size_t *pos, GArray *headers, guint *count,
                      const char **why)
{
    for (;;) {
        const char *line;
        size_t n;
        if (!next_line(data, len, pos, &line, &n)) {
            *why = "header block without a blank line after it";
            return -EBADMSG;
        }
        if (n == 0)
            return 0;
        if (n > XGW_CPIM_MAX_LINE) {
            *why = "header line too long";
            return -EBADMSG;
        }
        if (++*count > XGW_CPIM_MAX_HEADERS) {
            *why = "too many headers";
            return -EBADMSG;
        }
        const char *colon = memchr(line, ':', n);
        if (!colon || colon == line) {
            *why = "header line without a name and a colon";
            return -EBADMSG;
        }
        size_t name_len = (size_t)(colon - line);
        const char *semi = memchr(line, ';', name_len);
        if (semi)
            name_len = (size_t)(semi - line); /* "Subject;lang=fr": the name without params */
        struct xgw_cpim_header h = {
            .name = g_strstrip(g_strndup(line, name_len)),
            .value = g_strstrip(g_strndup(colon + 1, n - (size_t)(colon + 1 - line))),
        };
        if (!*h.name || !g_utf8_validate(h.value, -1, NULL)) {
            header_clear(&h);
            *why = "bad header name or value";
            return -EBADMSG;
        }
        g_array_append_val(headers, h);
    }
}

int xgw_cpim_parse(const char *data, size_t len, struct xgw_cpim *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    out->headers = g_array_new(FALSE, TRUE, sizeof(struct xgw_cpim_header));
    out->content_headers = g_array_new(FALSE, TRUE, sizeof(struct xgw_cpim_header));
    g_array_set_clear_func(out->headers, header_clear);
    g_array_set_clear_func(out->content_headers, header_clear);
    size_t pos = 0;
    guint count = 0;
    int rc = read_block(data, len, &pos, out->headers, &count, why);
    if (rc == 0)
        rc = read_block(data, len, &pos, out->content_headers, &count, why);
    if (rc == 0 && out->headers->len == 0) {
        *why = "no message headers";
        rc = -EBADMSG;
    }
    if (rc < 0) {
        xgw_cpim_clear(out);
        return rc;
    }
    out->body = data + pos;
    out->body_len = len - pos;
    return 0;
}

void xgw_cpim_clear(struct xgw_cpim *cpim)
{
    if (cpim->headers)
        g_array_unref(cpim->headers);
    if (cpim->content_headers)
        g_array_unref(cpim->content_headers);
    memset(cpim, 0, sizeof(*cpim));
}

static const char *find(const GArray *headers, const char *name)
{
    for (guint i = 0; headers && i < headers->len; i++) {
        const struct xgw_cpim_header *h = &g_array_index(headers, struct xgw_cpim_header, i);
        if (g_ascii_strcasecmp(h->name, name) == 0)
            return h->value;
    }
    return NULL;
}

const char *xgw_cpim_header(const struct xgw_cpim *cpim, const char *name)
{
    return find(cpim->headers, name);
}

const char *xgw_cpim_content_header(const struct xgw_cpim *cpim, const char *name)
{
    return find(cpim->content_headers, name);
}

char *xgw_cpim_address_uri(const char *value)
{
    const char *lt = value ? strrchr(value, '<') : NULL;
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (!gt || gt == lt + 1)
        return NULL;
    return g_strndup(lt + 1, (gsize)(gt - lt - 1));
}

GString *xgw_cpim_format(const char *from, const char *to, const char *datetime,
                         const char *content_type, const char *body, size_t body_len)
{
    GString *s = g_string_sized_new(body_len + 256);
    g_string_append_printf(s,
                           "From: <%s>\r\nTo: <%s>\r\nDateTime: %s\r\n\r\n"
                           "Content-Type: %s\r\n\r\n",
                           from, to, datetime, content_type);
    g_string_append_len(s, body, (gssize)body_len);
    return s;
}
