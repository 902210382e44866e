/*
 * libFuzzer target: MSRP frames (RFC 4975) through sylk_msrp_parse, the serializer and back;
 * what sessions read from each frame: the Byte-Range (sylk_msrp_parse_byte_range: its
 * invariants, and what we write of it reads back the same), To-Path and From-Path (every URI
 * written and read back equal, RFC 4975 6.1) and the response made to a request. The input
 * is also taken whole as a Byte-Range value.
 */
#include "msrp/frame.h"
#include "msrp/uri.h"

#include <glib.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGE_TEXT 64

static void check_byte_range(const char *value)
{
    int64_t start, end, total;
    if (!sylk_msrp_parse_byte_range(value, &start, &end, &total))
        return;
    if (start < 1 || (end != SYLK_MSRP_RANGE_UNKNOWN && end < start - 1) ||
        (end != SYLK_MSRP_RANGE_UNKNOWN && total != SYLK_MSRP_RANGE_UNKNOWN && end > total) ||
        end < SYLK_MSRP_RANGE_UNKNOWN || total < SYLK_MSRP_RANGE_UNKNOWN)
        abort();
    char e[24] = "*", t[24] = "*";
    if (end != SYLK_MSRP_RANGE_UNKNOWN)
        g_snprintf(e, sizeof(e), "%" PRId64, end);
    if (total != SYLK_MSRP_RANGE_UNKNOWN)
        g_snprintf(t, sizeof(t), "%" PRId64, total);
    char *written = g_strdup_printf("%" PRId64 "-%s/%s", start, e, t);
    int64_t s2, e2, t2;
    if (!sylk_msrp_parse_byte_range(written, &s2, &e2, &t2) || s2 != start || e2 != end ||
        t2 != total)
        abort(); /* what we write (REPORTs, chunks) reads back the same */
    g_free(written);
}

static void check_path(const char *value)
{
    char *error = NULL;
    GPtrArray *path = value ? sylk_msrp_path_parse(value, &error) : NULL;
    if (!path) {
        if (value && !error)
            abort(); /* a refusal says why */
        g_free(error);
        return;
    }
    for (guint i = 0; i < path->len; i++) {
        const struct sylk_msrp_uri *u = g_ptr_array_index(path, i);
        char *text = sylk_msrp_uri_format(u), *why = NULL;
        struct sylk_msrp_uri back;
        if (sylk_msrp_uri_parse(text, strlen(text), &back, &why) < 0 ||
            !sylk_msrp_uri_equal(u, &back))
            abort(); /* a URI we write (our a=path, To-Path) reads back as the same URI */
        sylk_msrp_uri_clear(&back);
        g_free(text);
    }
    char *first = sylk_msrp_path_first(value), *last = sylk_msrp_path_last(value);
    if (!first || !last)
        abort(); /* a path that parsed has a first and a last URI */
    g_free(first);
    g_free(last);
    g_ptr_array_free(path, TRUE);
}

/* What a session reads from a frame, and the response it would make to a request. */
static void check_fields(const struct sylk_msrp_frame *f)
{
    const char *br = sylk_msrp_header(f, "Byte-Range");
    if (br)
        check_byte_range(br);
    check_path(sylk_msrp_header(f, "To-Path"));
    check_path(sylk_msrp_header(f, "From-Path"));
    if (!f->method)
        return;
    GBytes *resp = sylk_msrp_format_response(f, 200, "OK");
    if (resp) {
        gsize n;
        const uint8_t *w = g_bytes_get_data(resp, &n);
        struct sylk_msrp_frame r;
        size_t used;
        char *error = NULL;
        if (sylk_msrp_parse(w, n, NULL, &r, &used, &error) != SYLK_MSRP_FRAME || used != n ||
            r.method || r.status != 200 || strcmp(r.transaction_id, f->transaction_id) != 0)
            abort();
        sylk_msrp_frame_clear(&r);
        g_bytes_unref(resp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sylk_msrp_limits small = {.max_header_bytes = 2048, .max_body_bytes = 4096};
    if (size <= MAX_RANGE_TEXT) {
        char *whole = g_strndup((const char *)data, size);
        check_byte_range(whole);
        g_free(whole);
    }
    size_t pos = 0;
    while (pos < size) { /* a stream: frame after frame, as a connection reads them */
        struct sylk_msrp_frame f;
        size_t used = 0;
        char *error = NULL;
        enum sylk_msrp_parse_result r =
            sylk_msrp_parse(data + pos, size - pos, &small, &f, &used, &error);
        if (r != SYLK_MSRP_FRAME) {
            if ((r == SYLK_MSRP_ERROR) != (error != NULL))
                abort(); /* an error always says why, and only an error */
            g_free(error);
            return 0;
        }
        if (used == 0 || used > size - pos)
            abort();
        check_fields(&f);
        GBytes *wire = sylk_msrp_format(&f);
        if (wire) { /* what we write parses back to the same frame */
            gsize n;
            const uint8_t *w = g_bytes_get_data(wire, &n);
            struct sylk_msrp_frame g;
            size_t used2;
            char *error2 = NULL;
            if (sylk_msrp_parse(w, n, NULL, &g, &used2, &error2) != SYLK_MSRP_FRAME || used2 != n ||
                strcmp(g.transaction_id, f.transaction_id) != 0 || g.body_len != f.body_len ||
                g.flag != f.flag || g.headers->len != f.headers->len)
                abort();
            sylk_msrp_frame_clear(&g);
            g_bytes_unref(wire);
        }
        sylk_msrp_frame_clear(&f);
        pos += used;
    }
    return 0;
}
