/*
 * cpim.c — message/cpim parse and format. See cpim.h.
 */
#define G_LOG_DOMAIN "sylk-cpim"
#include "msrp/cpim.h"

#include <errno.h>
#include <string.h>

static GArray *header_array(void)
{
    return g_array_new(FALSE, FALSE, sizeof(struct sylk_cpim_header));
}

void sylk_cpim_init(struct sylk_cpim *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->headers = header_array();
    msg->content_headers = header_array();
}

static void free_headers(GArray *a)
{
    for (guint i = 0; a && i < a->len; i++) {
        struct sylk_cpim_header *h = &g_array_index(a, struct sylk_cpim_header, i);
        g_free(h->name);
        g_free(h->params);
        g_free(h->value);
    }
    if (a)
        g_array_free(a, TRUE);
}

void sylk_cpim_clear(struct sylk_cpim *msg)
{
    free_headers(msg->headers);
    free_headers(msg->content_headers);
    g_free(msg->body);
    memset(msg, 0, sizeof(*msg));
}

static int fail(char **error, const char *why)
{
    *error = g_strdup(why);
    return -EBADMSG;
}

/* One header line (without its line end) into `into`. */
static int parse_line(const char *line, size_t n, bool message_header, GArray *into, char **error)
{
    const char *colon = memchr(line, ':', n), *end = line + n;
    if (!colon || colon == line)
        return fail(error, "a header line without a name and colon");
    for (const char *p = line; p < colon; p++) {
        if ((unsigned char)*p <= ' ' || *p == ';' || (unsigned char)*p >= 0x7f)
            return fail(error, "bad character in a header name");
    }
    const char *v = colon + 1, *params = NULL;
    size_t params_len = 0;
    if (message_header && v < end && *v == ';') { /* RFC 3862: Name:;param=x SP value */
        params = v;
        while (v < end && *v != ' ')
            v++;
        params_len = (size_t)(v - params);
    }
    if (v < end && *v == ' ')
        v++;
    else if (v < end)
        return fail(error, "a space must follow the colon of a header");
    for (const char *p = v; p < end; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return fail(error, "control character in a header value");
    }
    if (into->len >= SYLK_CPIM_MAX_HEADERS)
        return fail(error, "too many headers");
    struct sylk_cpim_header h = {
        .name = g_strndup(line, (size_t)(colon - line)),
        .params = params ? g_strndup(params, params_len) : NULL,
        .value = g_strndup(v, (size_t)(end - v)),
    };
    g_array_append_val(into, h);
    return 0;
}

/* Header lines from *pos up to a blank line; *pos ends after the blank line. */
static int parse_block(const uint8_t *data, size_t len, size_t *pos, bool message_headers,
                       GArray *into, char **error)
{
    while (*pos < len) {
        const uint8_t *nl = memchr(data + *pos, '\n', MIN(len - *pos, SYLK_CPIM_MAX_LINE + 1));
        if (!nl)
            return fail(error, len - *pos > SYLK_CPIM_MAX_LINE ? "header line too long"
                                                               : "headers without a blank line");
        size_t n = (size_t)(nl - (data + *pos));
        if (n > 0 && data[*pos + n - 1] == '\r')
            n--; /* CRLF, as the RFC writes it; a bare LF is taken too */
        const char *line = (const char *)data + *pos;
        *pos = (size_t)(nl - data) + 1;
        if (n == 0)
            return 0;
        int rc = parse_line(line, n, message_headers, into, error);
        if (rc < 0)
            return rc;
    }
    return fail(error, "headers without a blank line");
}

int sylk_cpim_parse(const uint8_t *data, size_t len, struct sylk_cpim *out, char **error)
{
    sylk_cpim_init(out);
    *error = NULL;
    size_t pos = 0;
    int rc = parse_block(data, len, &pos, true, out->headers, error);
    if (rc == 0)
        rc = parse_block(data, len, &pos, false, out->content_headers, error);
    if (rc == 0 && !sylk_cpim_content(out, "Content-Type"))
        rc = fail(error, "the encapsulated object has no Content-Type");
    if (rc < 0) {
        char *keep = *error;
        sylk_cpim_clear(out);
        *error = keep;
        return rc;
    }
    out->body_len = len - pos;
    out->body = g_malloc(out->body_len + 1);
    memcpy(out->body, data + pos, out->body_len);
    out->body[out->body_len] = '\0';
    return 0;
}

static void add_to(GArray *a, const char *name, const char *value)
{
    struct sylk_cpim_header h = {g_strdup(name), NULL, g_strdup(value ? value : "")};
    g_array_append_val(a, h);
}

void sylk_cpim_add(struct sylk_cpim *msg, const char *name, const char *value)
{
    add_to(msg->headers, name, value);
}

void sylk_cpim_add_content(struct sylk_cpim *msg, const char *name, const char *value)
{
    add_to(msg->content_headers, name, value);
}

void sylk_cpim_set_body(struct sylk_cpim *msg, const void *body, size_t len)
{
    g_free(msg->body);
    msg->body = g_malloc(len + 1);
    memcpy(msg->body, body, len);
    msg->body[len] = '\0';
    msg->body_len = len;
}

/* The prefix an NS header binds to `ns` ("agp" for "NS: agp <urn:…>"), or NULL. */
static char *prefix_of(const struct sylk_cpim *msg, const char *ns)
{
    for (guint i = 0; i < msg->headers->len; i++) {
        const struct sylk_cpim_header *h = &g_array_index(msg->headers, struct sylk_cpim_header, i);
        if (g_ascii_strcasecmp(h->name, "NS") != 0)
            continue;
        const char *lt = strchr(h->value, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (!gt || (size_t)(gt - lt - 1) != strlen(ns) || strncmp(lt + 1, ns, strlen(ns)) != 0)
            continue;
        g_autofree char *prefix = g_strstrip(g_strndup(h->value, (size_t)(lt - h->value)));
        return *prefix ? g_steal_pointer(&prefix) : NULL;
    }
    return NULL;
}

static const char *find(GArray *a, const char *name)
{
    for (guint i = 0; a && i < a->len; i++) {
        const struct sylk_cpim_header *h = &g_array_index(a, struct sylk_cpim_header, i);
        if (g_ascii_strcasecmp(h->name, name) == 0)
            return h->value;
    }
    return NULL;
}

const char *sylk_cpim_get(const struct sylk_cpim *msg, const char *ns, const char *name)
{
    if (!ns)
        return find(msg->headers, name);
    g_autofree char *prefix = prefix_of(msg, ns);
    if (!prefix)
        return NULL;
    g_autofree char *full = g_strdup_printf("%s.%s", prefix, name);
    return find(msg->headers, full);
}

GPtrArray *sylk_cpim_get_all(const struct sylk_cpim *msg, const char *name)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; i < msg->headers->len; i++) {
        const struct sylk_cpim_header *h = &g_array_index(msg->headers, struct sylk_cpim_header, i);
        if (g_ascii_strcasecmp(h->name, name) == 0)
            g_ptr_array_add(out, h->value);
    }
    g_ptr_array_add(out, NULL);
    return out;
}

const char *sylk_cpim_content(const struct sylk_cpim *msg, const char *name)
{
    return find(msg->content_headers, name);
}

static void format_block(GString *s, GArray *a)
{
    for (guint i = 0; a && i < a->len; i++) {
        const struct sylk_cpim_header *h = &g_array_index(a, struct sylk_cpim_header, i);
        if (h->params)
            g_string_append_printf(s, "%s:%s %s\r\n", h->name, h->params, h->value);
        else
            g_string_append_printf(s, "%s: %s\r\n", h->name, h->value);
    }
    g_string_append(s, "\r\n");
}

GBytes *sylk_cpim_format(const struct sylk_cpim *msg)
{
    GString *s = g_string_sized_new(256 + msg->body_len);
    format_block(s, msg->headers);
    format_block(s, msg->content_headers);
    if (msg->body)
        g_string_append_len(s, (const char *)msg->body, (gssize)msg->body_len);
    return g_string_free_to_bytes(s);
}

bool sylk_cpim_address(const char *value, char **display, char **uri)
{
    const char *lt = value ? strrchr(value, '<') : NULL, *gt = lt ? strchr(lt, '>') : NULL;
    if (!gt || gt == lt + 1)
        return false;
    *uri = g_strndup(lt + 1, (size_t)(gt - lt - 1));
    g_autofree char *name = g_strstrip(g_strndup(value, (size_t)(lt - value)));
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '"' && name[n - 1] == '"') { /* quoted: undo \" and \\ */
        GString *un = g_string_new(NULL);
        for (size_t i = 1; i + 1 < n; i++) {
            if (name[i] == '\\' && i + 2 < n)
                i++;
            g_string_append_c(un, name[i]);
        }
        g_free(name);
        name = g_string_free(un, FALSE);
    }
    *display = *name ? g_steal_pointer(&name) : NULL;
    return true;
}

char *sylk_cpim_format_address(const char *display, const char *uri)
{
    if (!display || !*display)
        return g_strdup_printf("<%s>", uri);
    GString *s = g_string_new("\"");
    for (const char *p = display; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(s, '\\');
        if ((unsigned char)*p >= 0x20)
            g_string_append_c(s, *p);
    }
    g_string_append_printf(s, "\" <%s>", uri);
    return g_string_free(s, FALSE);
}
