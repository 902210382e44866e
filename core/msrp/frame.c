/*
 * frame.c — MSRP frame parser and serializer. See frame.h.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/frame.h"

#include "msrp/uri.h"

#include <errno.h>
#include <string.h>

#define END_DASHES     "-------"
#define END_DASHES_LEN 7

const struct sylk_msrp_limits sylk_msrp_default_limits = {
    .max_header_bytes = 8 * 1024,
    .max_body_bytes = 1024 * 1024,
};

static bool is_alnum(unsigned char c)
{
    return g_ascii_isalnum(c);
}

bool sylk_msrp_ident_valid(const char *s, size_t len)
{
    if (len < SYLK_MSRP_IDENT_MIN || len > SYLK_MSRP_IDENT_MAX || !is_alnum((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && !strchr(".-+%=", c))
            return false;
    }
    return true;
}

/* RFC 4975 token characters (as in SIP): alphanum and -.!%*_+`'~ */
static bool token_char(unsigned char c)
{
    return is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}

static enum sylk_msrp_parse_result fail(char **error, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum sylk_msrp_parse_result fail(char **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return SYLK_MSRP_ERROR;
}

/* The next line of the header section at `pos`; its length without CRLF, or -1 for none yet. */
static gssize line_at(const uint8_t *data, size_t len, size_t pos)
{
    const uint8_t *crlf = NULL;
    for (const uint8_t *p = data + pos; p + 1 < data + len; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            crlf = p;
            break;
        }
    }
    return crlf ? crlf - (data + pos) : -1;
}

/* "MSRP SP transact-id SP (method / status-code [SP comment])" */
static enum sylk_msrp_parse_result parse_start(const char *line, size_t n,
                                               struct sylk_msrp_frame *f, char **error)
{
    if (n < 5 || memcmp(line, "MSRP ", 5) != 0)
        return fail(error, "not an MSRP frame (first line must start with \"MSRP \")");
    const char *tid = line + 5, *sp = memchr(tid, ' ', n - 5);
    if (!sp || !sylk_msrp_ident_valid(tid, (size_t)(sp - tid)))
        return fail(error, "bad transaction id in the first line");
    memcpy(f->transaction_id, tid, (size_t)(sp - tid));
    f->transaction_id[sp - tid] = '\0';
    const char *rest = sp + 1, *end = line + n;
    if (rest + 3 <= end && g_ascii_isdigit(rest[0]) && g_ascii_isdigit(rest[1]) &&
        g_ascii_isdigit(rest[2]) && (rest + 3 == end || rest[3] == ' ')) {
        f->status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
        if (rest + 3 < end)
            f->comment = g_strndup(rest + 4, (size_t)(end - rest - 4));
        return SYLK_MSRP_FRAME;
    }
    if (rest == end)
        return fail(error, "no method or status in the first line");
    for (const char *p = rest; p < end; p++) {
        if (!g_ascii_isupper(*p))
            return fail(error, "bad method in the first line (methods are upper-case letters)");
    }
    f->method = g_strndup(rest, (size_t)(end - rest));
    return SYLK_MSRP_FRAME;
}

/* "hname: hval" with hname = ALPHA *token */
static enum sylk_msrp_parse_result parse_header(const char *line, size_t n,
                                                struct sylk_msrp_frame *f, char **error)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line || !g_ascii_isalpha(line[0]))
        return fail(error, "malformed header line");
    for (const char *p = line; p < colon; p++) {
        if (!token_char((unsigned char)*p))
            return fail(error, "bad character in a header name");
    }
    if (colon + 1 >= line + n || colon[1] != ' ')
        return fail(error, "header %.*s: a space must follow the colon", (int)(colon - line), line);
    for (const char *p = colon + 2; p < line + n; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return fail(error, "control character in a header value");
    }
    if (f->headers->len >= SYLK_MSRP_MAX_HEADERS)
        return fail(error, "more than %d headers", SYLK_MSRP_MAX_HEADERS);
    struct sylk_msrp_header h = {g_strndup(line, (size_t)(colon - line)),
                                 g_strndup(colon + 2, (size_t)(line + n - colon - 2))};
    g_array_append_val(f->headers, h);
    return SYLK_MSRP_FRAME;
}

/* "-------" transact-id continuation-flag, the line without its CRLF */
static bool is_end_line(const char *line, size_t n, const char *tid, char *flag)
{
    size_t tl = strlen(tid);
    if (n != END_DASHES_LEN + tl + 1 || memcmp(line, END_DASHES, END_DASHES_LEN) != 0 ||
        memcmp(line + END_DASHES_LEN, tid, tl) != 0 || !strchr("+$#", line[n - 1]) || !line[n - 1])
        return false;
    *flag = line[n - 1];
    return true;
}

/*
 * The first "-------" + tid in data[0, len), preceded by CRLF when `crlf` (and then the
 * CRLF's offset is returned), or -1. Linear and mostly memchr: a dash run is measured once,
 * and only its last seven dashes can start the marker since the tid starts with an
 * alphanumeric (glibc's memmem ran its generic two-way search over every chunk instead).
 */
static gssize find_marker(const uint8_t *data, size_t len, const char *tid, size_t tl, bool crlf)
{
    size_t pos = crlf ? 2 : 0;
    while (pos + END_DASHES_LEN + tl <= len) {
        const uint8_t *dash = memchr(data + pos, '-', len - pos - END_DASHES_LEN - tl + 1);
        if (!dash)
            return -1;
        size_t run = (size_t)(dash - data), end = run;
        while (end < len && data[end] == '-')
            end++;
        if (end - run >= END_DASHES_LEN && end + tl <= len && memcmp(data + end, tid, tl) == 0) {
            size_t at = end - END_DASHES_LEN; /* the marker's dashes */
            if (!crlf)
                return (gssize)at;
            if (data[at - 2] == '\r' && data[at - 1] == '\n')
                return (gssize)(at - 2);
        }
        pos = end + 1; /* the byte after a run is no dash */
    }
    return -1;
}

/*
 * The data of content-stuff: from `start` to the CRLF before the end-line. Bounded: past
 * max_body_bytes without an end-line the frame is refused.
 */
static enum sylk_msrp_parse_result find_body_end(const uint8_t *data, size_t len, size_t start,
                                                 const struct sylk_msrp_limits *lim,
                                                 struct sylk_msrp_frame *f, size_t *consumed,
                                                 char **error)
{
    size_t tl = strlen(f->transaction_id), ml = 2 + END_DASHES_LEN + tl;
    size_t limit = MIN(len, start + lim->max_body_bytes + ml + 3);
    for (size_t from = start; from + ml <= limit;) {
        gssize hit = find_marker(data + from, limit - from, f->transaction_id, tl, true);
        if (hit < 0)
            break;
        size_t at = from + (size_t)hit, after = at + ml;
        if (after + 3 > len)
            return SYLK_MSRP_NEED_MORE; /* the flag and CRLF have not come yet */
        if (strchr("+$#", data[after]) && data[after] && data[after + 1] == '\r' &&
            data[after + 2] == '\n') {
            if (at - start > lim->max_body_bytes)
                break;
            f->flag = (char)data[after];
            f->body_len = at - start;
            f->body = g_memdup2(data + start, f->body_len ? f->body_len : 1);
            *consumed = after + 3;
            return SYLK_MSRP_FRAME;
        }
        from = at + 1; /* the data only looked like an end-line */
    }
    if (len - start > lim->max_body_bytes + ml + 3)
        return fail(error, "chunk data longer than %zu bytes, or no end-line", lim->max_body_bytes);
    return SYLK_MSRP_NEED_MORE;
}

static enum sylk_msrp_parse_result parse_frame(const uint8_t *data, size_t len,
                                               const struct sylk_msrp_limits *lim,
                                               struct sylk_msrp_frame *f, size_t *consumed,
                                               char **error)
{
    size_t pos = 0;
    bool first = true;
    for (;;) {
        gssize n = line_at(data, len, pos);
        if (n < 0) {
            if (len - pos + pos > lim->max_header_bytes)
                return fail(error, "header section longer than %zu bytes", lim->max_header_bytes);
            return SYLK_MSRP_NEED_MORE;
        }
        if (pos + (size_t)n + 2 > lim->max_header_bytes)
            return fail(error, "header section longer than %zu bytes", lim->max_header_bytes);
        const char *line = (const char *)data + pos;
        size_t next = pos + (size_t)n + 2;
        enum sylk_msrp_parse_result r;
        if (first) {
            r = parse_start(line, (size_t)n, f, error);
            first = false;
        } else if (n == 0) { /* the blank line: content-stuff follows */
            if (!f->method)
                return fail(error, "a response carries no body");
            if (!sylk_msrp_header(f, "Content-Type"))
                return fail(error, "a body without Content-Type");
            return find_body_end(data, len, next, lim, f, consumed, error);
        } else if (is_end_line(line, (size_t)n, f->transaction_id, &f->flag)) {
            *consumed = next;
            return SYLK_MSRP_FRAME;
        } else {
            r = parse_header(line, (size_t)n, f, error);
        }
        if (r != SYLK_MSRP_FRAME)
            return r;
        pos = next;
    }
}

enum sylk_msrp_parse_result sylk_msrp_parse(const uint8_t *data, size_t len,
                                            const struct sylk_msrp_limits *limits,
                                            struct sylk_msrp_frame *frame, size_t *consumed,
                                            char **error)
{
    const struct sylk_msrp_limits *lim = limits ? limits : &sylk_msrp_default_limits;
    memset(frame, 0, sizeof(*frame));
    frame->headers = g_array_new(FALSE, FALSE, sizeof(struct sylk_msrp_header));
    *consumed = 0;
    *error = NULL;
    enum sylk_msrp_parse_result r = parse_frame(data, len, lim, frame, consumed, error);
    if (r == SYLK_MSRP_FRAME &&
        (!sylk_msrp_header(frame, "To-Path") || !sylk_msrp_header(frame, "From-Path"))) {
        *consumed = 0;
        r = fail(error, "To-Path and From-Path are required");
    }
    if (r != SYLK_MSRP_FRAME) {
        char *keep = *error;
        sylk_msrp_frame_clear(frame);
        *error = keep;
    }
    return r;
}

void sylk_msrp_frame_clear(struct sylk_msrp_frame *f)
{
    if (f->headers) {
        for (guint i = 0; i < f->headers->len; i++) {
            struct sylk_msrp_header *h = &g_array_index(f->headers, struct sylk_msrp_header, i);
            g_free(h->name);
            g_free(h->value);
        }
        g_array_free(f->headers, TRUE);
    }
    g_free(f->method);
    g_free(f->comment);
    g_free(f->body);
    memset(f, 0, sizeof(*f));
}

const char *sylk_msrp_header(const struct sylk_msrp_frame *f, const char *name)
{
    for (guint i = 0; f->headers && i < f->headers->len; i++) {
        const struct sylk_msrp_header *h = &g_array_index(f->headers, struct sylk_msrp_header, i);
        if (g_ascii_strcasecmp(h->name, name) == 0)
            return h->value;
    }
    return NULL;
}

/* 1*DIGIT, or "*" when allowed; false on anything else or overflow. */
static bool range_number(const char **p, const char *stop, bool star, int64_t *out)
{
    if (star && **p == '*') {
        (*p)++;
        *out = SYLK_MSRP_RANGE_UNKNOWN;
        return true;
    }
    int64_t v = 0;
    const char *start = *p;
    while (**p && g_ascii_isdigit(**p) && (!stop || *p < stop)) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return *p > start;
}

bool sylk_msrp_parse_byte_range(const char *value, int64_t *start, int64_t *end, int64_t *total)
{
    const char *p = value;
    if (!p || !range_number(&p, NULL, false, start) || *p++ != '-' ||
        !range_number(&p, NULL, true, end) || *p++ != '/' || !range_number(&p, NULL, true, total) ||
        *p)
        return false;
    if (*start < 1)
        return false; /* byte numbers start at 1 */
    if (*end != SYLK_MSRP_RANGE_UNKNOWN && *end < *start - 1)
        return false;
    if (*total != SYLK_MSRP_RANGE_UNKNOWN && *end != SYLK_MSRP_RANGE_UNKNOWN && *end > *total)
        return false;
    return true;
}

/* Appends `len` bytes at *p and moves it past them. */
static void put(char **p, const void *data, size_t len)
{
    memcpy(*p, data, len);
    *p += len;
}

static void put_str(char **p, const char *s)
{
    put(p, s, strlen(s));
}

/*
 * Written into one buffer of the exact size, measured first: a large message goes out as
 * thousands of chunks, so no printf and no growing string per chunk.
 */
GBytes *sylk_msrp_format(const struct sylk_msrp_frame *f)
{
    size_t tl = strlen(f->transaction_id);
    if (!sylk_msrp_ident_valid(f->transaction_id, tl) || !strchr("+$#", f->flag) || !f->flag)
        return NULL;
    if (!f->method && (f->status < 0 || f->status > 999))
        return NULL;
    char marker[2 + END_DASHES_LEN + SYLK_MSRP_IDENT_MAX];
    memcpy(marker, "\r\n" END_DASHES, 2 + END_DASHES_LEN);
    memcpy(marker + 2 + END_DASHES_LEN, f->transaction_id, tl);
    size_t ml = 2 + END_DASHES_LEN + tl;
    if (f->body && find_marker(f->body, f->body_len, f->transaction_id, tl, false) >= 0)
        return NULL; /* the data holds the end-line: another transaction id is needed */

    size_t method_len = f->method ? strlen(f->method) : 0;
    size_t comment_len = f->comment ? strlen(f->comment) : 0;
    size_t size =
        5 + tl + 1 + (f->method ? method_len : 3 + (f->comment ? 1 + comment_len : 0)) + 2;
    for (guint i = 0; f->headers && i < f->headers->len; i++) {
        const struct sylk_msrp_header *h = &g_array_index(f->headers, struct sylk_msrp_header, i);
        size += strlen(h->name) + 2 + strlen(h->value) + 2;
    }
    if (f->body)
        size += 2 + f->body_len + 2;
    size += ml - 2 + 1 + 2;

    char *buf = g_malloc(size), *p = buf;
    put(&p, "MSRP ", 5);
    put(&p, f->transaction_id, tl);
    put(&p, " ", 1);
    if (f->method) {
        put(&p, f->method, method_len);
    } else {
        char code[3] = {(char)('0' + f->status / 100), (char)('0' + f->status / 10 % 10),
                        (char)('0' + f->status % 10)};
        put(&p, code, 3);
        if (f->comment) {
            put(&p, " ", 1);
            put(&p, f->comment, comment_len);
        }
    }
    put(&p, "\r\n", 2);
    for (guint i = 0; f->headers && i < f->headers->len; i++) {
        const struct sylk_msrp_header *h = &g_array_index(f->headers, struct sylk_msrp_header, i);
        put_str(&p, h->name);
        put(&p, ": ", 2);
        put_str(&p, h->value);
        put(&p, "\r\n", 2);
    }
    if (f->body) {
        put(&p, "\r\n", 2);
        put(&p, f->body, f->body_len);
    }
    put(&p, f->body ? marker : marker + 2, f->body ? ml : ml - 2);
    put(&p, &f->flag, 1);
    put(&p, "\r\n", 2);
    g_assert((size_t)(p - buf) == size);
    return g_bytes_new_take(buf, size);
}

GBytes *sylk_msrp_format_response(const struct sylk_msrp_frame *request, int status,
                                  const char *comment)
{
    g_autofree char *to = sylk_msrp_path_first(sylk_msrp_header(request, "From-Path"));
    g_autofree char *from = sylk_msrp_path_last(sylk_msrp_header(request, "To-Path"));
    if (!to || !from)
        return NULL;
    struct sylk_msrp_frame r = {.status = status, .flag = '$', .comment = (char *)comment};
    memcpy(r.transaction_id, request->transaction_id, sizeof(r.transaction_id));
    r.headers = g_array_new(FALSE, FALSE, sizeof(struct sylk_msrp_header));
    struct sylk_msrp_header h[2] = {{"To-Path", to}, {"From-Path", from}};
    g_array_append_vals(r.headers, h, 2);
    GBytes *wire = sylk_msrp_format(&r);
    g_array_free(r.headers, TRUE);
    return wire;
}
