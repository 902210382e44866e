/*
 * uri.c — MSRP URIs. See uri.h.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/uri.h"

#include <errno.h>
#include <string.h>

#define MAX_URI 1024

static int fail(char **error, const char *why)
{
    *error = g_strdup(why);
    return -EINVAL;
}

/* RFC 3986 unreserved plus the "+", "=" and "/" session-id allows */
static bool session_char(char c)
{
    return g_ascii_isalnum(c) || strchr("-._~+=/%", c);
}

static bool host_char(char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '.';
}

static int parse_authority(const char *p, const char *end, struct sylk_msrp_uri *u, char **error)
{
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        if (at == p)
            return fail(error, "empty user part");
        u->user = g_strndup(p, (size_t)(at - p));
        p = at + 1;
    }
    const char *host_end;
    if (p < end && *p == '[') { /* an IPv6 literal */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb || rb == p + 1)
            return fail(error, "bad IPv6 literal");
        for (const char *q = p + 1; q < rb; q++) {
            if (!g_ascii_isxdigit(*q) && *q != ':' && *q != '.')
                return fail(error, "bad IPv6 literal");
        }
        u->host = g_strndup(p + 1, (size_t)(rb - p - 1));
        host_end = rb + 1;
    } else {
        host_end = p;
        while (host_end < end && host_char(*host_end))
            host_end++;
        if (host_end == p)
            return fail(error, "no host");
        u->host = g_strndup(p, (size_t)(host_end - p));
    }
    u->port = SYLK_MSRP_DEFAULT_PORT;
    if (host_end < end && *host_end == ':') {
        unsigned port = 0;
        const char *q = host_end + 1;
        if (q == end)
            return fail(error, "empty port");
        for (; q < end; q++) {
            if (!g_ascii_isdigit(*q) || (port = port * 10 + (unsigned)(*q - '0')) > 65535)
                return fail(error, "bad port");
        }
        if (port == 0)
            return fail(error, "bad port");
        u->port = port;
    } else if (host_end != end) {
        return fail(error, "bad character in the host");
    }
    return 0;
}

static int parse_uri(const char *text, size_t len, struct sylk_msrp_uri *u, char **error)
{
    const char *end = text + len, *p;
    if (len > MAX_URI)
        return fail(error, "URI too long");
    if (len >= 7 && g_ascii_strncasecmp(text, "msrp://", 7) == 0) {
        p = text + 7;
    } else if (len >= 8 && g_ascii_strncasecmp(text, "msrps://", 8) == 0) {
        u->secure = true;
        p = text + 8;
    } else {
        return fail(error, "not an msrp: or msrps: URI");
    }
    const char *semi = memchr(p, ';', (size_t)(end - p));
    if (!semi)
        return fail(error, "no ;transport");
    const char *slash = memchr(p, '/', (size_t)(semi - p));
    const char *auth_end = slash ? slash : semi;
    int rc = parse_authority(p, auth_end, u, error);
    if (rc < 0)
        return rc;
    if (slash) {
        if (slash + 1 == semi)
            return fail(error, "empty session id");
        for (const char *q = slash + 1; q < semi; q++) {
            if (!session_char(*q))
                return fail(error, "bad character in the session id");
        }
        u->session_id = g_strndup(slash + 1, (size_t)(semi - slash - 1));
    }
    const char *t = semi + 1, *t_end = memchr(t, ';', (size_t)(end - t));
    if (!t_end)
        t_end = end;
    if (t == t_end)
        return fail(error, "empty transport");
    for (const char *q = t; q < t_end; q++) {
        if (!g_ascii_isalnum(*q))
            return fail(error, "bad transport");
    }
    u->transport = g_ascii_strdown(t, t_end - t);
    if (t_end < end) {
        for (const char *q = t_end; q < end; q++) {
            if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
                return fail(error, "bad character in a parameter");
        }
        u->params = g_strndup(t_end, (size_t)(end - t_end));
    }
    return 0;
}

int sylk_msrp_uri_parse(const char *text, size_t len, struct sylk_msrp_uri *out, char **error)
{
    memset(out, 0, sizeof(*out));
    *error = NULL;
    int rc = parse_uri(text, len, out, error);
    if (rc < 0) {
        char *keep = *error;
        sylk_msrp_uri_clear(out);
        *error = keep;
    }
    return rc;
}

void sylk_msrp_uri_clear(struct sylk_msrp_uri *u)
{
    g_free(u->user);
    g_free(u->host);
    g_free(u->session_id);
    g_free(u->transport);
    g_free(u->params);
    memset(u, 0, sizeof(*u));
}

bool sylk_msrp_uri_equal(const struct sylk_msrp_uri *a, const struct sylk_msrp_uri *b)
{
    return a->secure == b->secure && g_ascii_strcasecmp(a->host, b->host) == 0 &&
           a->port == b->port && g_strcmp0(a->session_id, b->session_id) == 0 &&
           g_ascii_strcasecmp(a->transport, b->transport) == 0;
}

char *sylk_msrp_uri_format(const struct sylk_msrp_uri *u)
{
    bool v6 = strchr(u->host, ':') != NULL;
    return g_strdup_printf("%s://%s%s%s%s%s:%u%s%s;%s%s", u->secure ? "msrps" : "msrp",
                           u->user ? u->user : "", u->user ? "@" : "", v6 ? "[" : "", u->host,
                           v6 ? "]" : "", u->port, u->session_id ? "/" : "",
                           u->session_id ? u->session_id : "", u->transport,
                           u->params ? u->params : "");
}

static void uri_free(gpointer p)
{
    sylk_msrp_uri_clear(p);
    g_free(p);
}

GPtrArray *sylk_msrp_path_parse(const char *value, char **error)
{
    GPtrArray *path = g_ptr_array_new_with_free_func(uri_free);
    *error = NULL;
    for (const char *p = value; p && *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        struct sylk_msrp_uri *u = g_new0(struct sylk_msrp_uri, 1);
        if (sylk_msrp_uri_parse(p, n, u, error) < 0) {
            g_free(u);
            g_ptr_array_free(path, TRUE);
            return NULL;
        }
        g_ptr_array_add(path, u);
        p += n;
    }
    if (path->len == 0) {
        g_ptr_array_free(path, TRUE);
        *error = g_strdup("empty path");
        return NULL;
    }
    return path;
}

char *sylk_msrp_path_first(const char *value)
{
    if (!value)
        return NULL;
    while (*value == ' ')
        value++;
    return *value ? g_strndup(value, strcspn(value, " ")) : NULL;
}

char *sylk_msrp_path_last(const char *value)
{
    if (!value)
        return NULL;
    const char *end = value + strlen(value);
    while (end > value && end[-1] == ' ')
        end--;
    const char *start = end;
    while (start > value && start[-1] != ' ')
        start--;
    return start < end ? g_strndup(start, (gsize)(end - start)) : NULL;
}
