/* Unit tests for core/msrp/frame.c: the example messages of RFC 4975 (§7 and §10) parse and
 * re-serialize byte for byte, every split point of a stream of frames waits for more instead of
 * failing, and the limits turn oversized input into errors instead of growth. */
#include "msrp/frame.h"

#include <glib.h>
#include <string.h>

/* RFC 4975 examples, with the CRLFs the wire has. */
static const char *const rfc_examples[] = {
    /* §7.1.1: a SEND and its response */
    "MSRP d93kswow SEND\r\n"
    "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
    "Message-ID: 12339sdqwer\r\n"
    "Byte-Range: 1-16/16\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Hi, I'm Alice!\r\n"
    "-------d93kswow$\r\n",
    "MSRP d93kswow 200 OK\r\n"
    "To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
    "From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "-------d93kswow$\r\n",
    /* §7.1.2: a REPORT */
    "MSRP dkei38sd REPORT\r\n"
    "To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
    "From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "Message-ID: 12339sdqwer\r\n"
    "Byte-Range: 1-106/106\r\n"
    "Status: 000 200 OK\r\n"
    "-------dkei38sd$\r\n",
    /* §10.2: a message with Success-Report and Failure-Report */
    "MSRP d93kswow SEND\r\n"
    "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
    "Message-ID: 12339sdqwer\r\n"
    "Byte-Range: 1-137/137\r\n"
    "Success-Report: yes\r\n"
    "Failure-Report: no\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<html><body>\r\n"
    "<p>See how to <a href=\"http://example.com/fr\">set up</a></p>\r\n"
    "</body></html>\r\n"
    "-------d93kswow$\r\n",
    /* §10.3: the first chunk of a message of unknown size, then the last one */
    "MSRP 7443ee SEND\r\n"
    "To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
    "From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "Message-ID: 87652\r\n"
    "Byte-Range: 1-*/*\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "abcd\r\n"
    "-------7443ee+\r\n",
    "MSRP 7443ef SEND\r\n"
    "To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
    "From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "Message-ID: 87652\r\n"
    "Byte-Range: 5-8/8\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "efgh\r\n"
    "-------7443ef$\r\n",
    /* §10.4: a system message that wants no reports */
    "MSRP dkei38sd SEND\r\n"
    "To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
    "From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "Message-ID: 456\r\n"
    "Byte-Range: 1-38/38\r\n"
    "Failure-Report: no\r\n"
    "Success-Report: no\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "This conference will end in 5 minutes\r\n"
    "-------dkei38sd$\r\n",
    /* §10.6: an aborted message, and an empty SEND (keepalive, §7.1) */
    "MSRP 49fh3x SEND\r\n"
    "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
    "Message-ID: 1234\r\n"
    "Byte-Range: 1-*/8\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "abc\r\n"
    "-------49fh3x#\r\n",
    "MSRP 49fh3y SEND\r\n"
    "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
    "From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n"
    "Message-ID: 1235\r\n"
    "Byte-Range: 1-0/0\r\n"
    "-------49fh3y$\r\n",
    /* RFC 4976 §5: AUTH to a relay */
    "MSRP 49fh AUTH\r\n"
    "To-Path: msrps://alice@intra.example.com;tcp\r\n"
    "From-Path: msrps://alice.example.com:9892/98cjs;tcp\r\n"
    "-------49fh$\r\n",
};

static void rfc_examples_round_trip(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rfc_examples); i++) {
        const char *text = rfc_examples[i];
        size_t len = strlen(text), used = 0;
        struct sylk_msrp_frame f;
        g_autofree char *error = NULL;
        g_assert_cmpint(sylk_msrp_parse((const uint8_t *)text, len, NULL, &f, &used, &error), ==,
                        SYLK_MSRP_FRAME);
        g_assert_null(error);
        g_assert_cmpuint(used, ==, len);
        g_autoptr(GBytes) again = sylk_msrp_format(&f);
        g_assert_nonnull(again);
        gsize n;
        const char *wire = g_bytes_get_data(again, &n);
        g_assert_cmpuint(n, ==, len);
        g_assert_cmpmem(wire, n, text, len);
        sylk_msrp_frame_clear(&f);
    }
}

static void fields(void)
{
    struct sylk_msrp_frame f;
    size_t used;
    g_autofree char *error = NULL;
    const char *send = rfc_examples[0];
    g_assert_cmpint(sylk_msrp_parse((const uint8_t *)send, strlen(send), NULL, &f, &used, &error),
                    ==, SYLK_MSRP_FRAME);
    g_assert_cmpstr(f.transaction_id, ==, "d93kswow");
    g_assert_cmpstr(f.method, ==, "SEND");
    g_assert_cmpint(f.status, ==, 0);
    g_assert_cmpint(f.flag, ==, '$');
    g_assert_cmpmem(f.body, f.body_len, "Hi, I'm Alice!", 14);
    g_assert_cmpstr(sylk_msrp_header(&f, "message-id"), ==, "12339sdqwer");
    g_assert_cmpstr(sylk_msrp_header(&f, "Content-Type"), ==, "text/plain");
    g_assert_null(sylk_msrp_header(&f, "Status"));
    sylk_msrp_frame_clear(&f);

    const char *resp = rfc_examples[1];
    g_assert_cmpint(sylk_msrp_parse((const uint8_t *)resp, strlen(resp), NULL, &f, &used, &error),
                    ==, SYLK_MSRP_FRAME);
    g_assert_null(f.method);
    g_assert_cmpint(f.status, ==, 200);
    g_assert_cmpstr(f.comment, ==, "OK");
    g_assert_null(f.body);
    sylk_msrp_frame_clear(&f);

    int64_t a, b, c;
    g_assert_true(sylk_msrp_parse_byte_range("1-16/16", &a, &b, &c));
    g_assert_true(a == 1 && b == 16 && c == 16);
    g_assert_true(sylk_msrp_parse_byte_range("1-*/*", &a, &b, &c));
    g_assert_true(b == SYLK_MSRP_RANGE_UNKNOWN && c == SYLK_MSRP_RANGE_UNKNOWN);
    g_assert_true(sylk_msrp_parse_byte_range("1-0/0", &a, &b, &c)); /* empty message */
    const char *bad[] = {"0-5/5",  "5-3/9",  "1-9/5",
                         "1-/5",   "-1-2/3", "1-2/3x",
                         "1 -2/3", "",       "99999999999999999999-1/1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(sylk_msrp_parse_byte_range(bad[i], &a, &b, &c));
}

/* All the examples back to back, cut at every byte: only whole frames ever come out. */
static void every_split(void)
{
    GString *stream = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(rfc_examples); i++)
        g_string_append(stream, rfc_examples[i]);
    const uint8_t *data = (const uint8_t *)stream->str;
    for (size_t cut = 0; cut <= stream->len; cut++) {
        /* the parser sees data[0, cut), then everything: frames never depend on the cut */
        size_t pos = 0, frames = 0;
        for (size_t avail = cut;; avail = stream->len) {
            struct sylk_msrp_frame f;
            size_t used;
            g_autofree char *error = NULL;
            enum sylk_msrp_parse_result r =
                sylk_msrp_parse(data + pos, avail - pos, NULL, &f, &used, &error);
            g_assert_cmpint(r, !=, SYLK_MSRP_ERROR);
            if (r == SYLK_MSRP_NEED_MORE) {
                if (avail == stream->len)
                    break;
                continue;
            }
            g_assert_cmpuint(used, ==, strlen(rfc_examples[frames]));
            pos += used;
            frames++;
            sylk_msrp_frame_clear(&f);
            if (pos == stream->len)
                break;
        }
        g_assert_cmpuint(frames, ==, G_N_ELEMENTS(rfc_examples));
    }
    g_string_free(stream, TRUE);
}

static enum sylk_msrp_parse_result parse_text(const char *text, const struct sylk_msrp_limits *lim,
                                              char **error)
{
    struct sylk_msrp_frame f;
    size_t used;
    enum sylk_msrp_parse_result r =
        sylk_msrp_parse((const uint8_t *)text, strlen(text), lim, &f, &used, error);
    if (r == SYLK_MSRP_FRAME)
        sylk_msrp_frame_clear(&f);
    return r;
}

#define PATHS                                                                                      \
    "To-Path: msrp://b.example.com:8888/s1;tcp\r\nFrom-Path: msrp://a.example.com:7777/s2;tcp\r\n"

static void malformed(void)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\n", "not an MSRP frame"},
        {"MSRP ab SEND\r\n", "bad transaction id"},
        {"MSRP abcd send\r\n", "bad method"},
        {"MSRP abcd\r\n", "bad transaction id"},
        {"MSRP abcd SEND\r\nTo-Path msrp://x\r\n", "bad character in a header name"},
        {"MSRP abcd SEND\r\nno colon here\r\n", "malformed header"},
        {"MSRP abcd SEND\r\nTo-Path:msrp://x\r\n", "space must follow"},
        {"MSRP abcd SEND\r\n" PATHS "\r\nhello\r\n-------abcd$\r\n", "without Content-Type"},
        {"MSRP abcd 200 OK\r\n" PATHS "Content-Type: text/plain\r\n\r\nx\r\n-------abcd$\r\n",
         "response carries no body"},
        {"MSRP abcd SEND\r\nFrom-Path: msrp://a.example.com/s;tcp\r\n-------abcd$\r\n",
         "To-Path and From-Path"},
        {"MSRP abcd SEND\r\n" PATHS "X-Bad: a\001b\r\n-------abcd$\r\n", "control character"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *error = NULL;
        g_assert_cmpint(parse_text(cases[i].text, NULL, &error), ==, SYLK_MSRP_ERROR);
        g_assert_nonnull(error);
        if (!strstr(error, cases[i].why))
            g_error("case %zu: '%s' does not say '%s'", i, error, cases[i].why);
    }
}

/* Oversized input is an error as soon as it is too big, never a buffer that keeps growing. */
static void limits(void)
{
    struct sylk_msrp_limits lim = {.max_header_bytes = 256, .max_body_bytes = 64};
    g_autofree char *error = NULL;
    /* a header line that never ends */
    g_autofree char *endless = g_strnfill(300, 'a');
    g_autofree char *text = g_strconcat("MSRP abcd SEND\r\nX-Long: ", endless, NULL);
    g_assert_cmpint(parse_text(text, &lim, &error), ==, SYLK_MSRP_ERROR);
    g_assert_nonnull(strstr(error, "header section longer"));
    g_clear_pointer(&error, g_free);

    /* too many headers */
    GString *many = g_string_new("MSRP abcd SEND\r\n" PATHS);
    for (int i = 0; i < SYLK_MSRP_MAX_HEADERS; i++)
        g_string_append_printf(many, "X-H%d: v\r\n", i);
    g_assert_cmpint(parse_text(many->str, NULL, &error), ==, SYLK_MSRP_ERROR);
    g_assert_nonnull(strstr(error, "more than"));
    g_string_free(many, TRUE);
    g_clear_pointer(&error, g_free);

    /* a chunk bigger than allowed, with or without its end-line */
    g_autofree char *big = g_strnfill(100, 'x');
    g_autofree char *chunk =
        g_strconcat("MSRP abcd SEND\r\n" PATHS "Content-Type: text/plain\r\n\r\n", big,
                    "\r\n-------abcd$\r\n", NULL);
    g_assert_cmpint(parse_text(chunk, &lim, &error), ==, SYLK_MSRP_ERROR);
    g_clear_pointer(&error, g_free);
    chunk[strlen(chunk) - 20] = '\0'; /* no end-line yet, but already too long */
    g_assert_cmpint(parse_text(chunk, &lim, &error), ==, SYLK_MSRP_ERROR);
    g_clear_pointer(&error, g_free);
    /* within the limit it waits */
    g_autofree char *small = g_strconcat(
        "MSRP abcd SEND\r\n" PATHS "Content-Type: text/plain\r\n\r\n", "partial data", NULL);
    g_assert_cmpint(parse_text(small, &lim, &error), ==, SYLK_MSRP_NEED_MORE);
}

/* Data that merely looks like another end-line is data; ours is found after it. */
static void lookalike_end_lines(void)
{
    const char *text = "MSRP abcd SEND\r\n" PATHS "Content-Type: text/plain\r\n\r\n"
                       "line\r\n-------abce$\r\n-------abcdX\r\nmore\r\n-------abcd+\r\n";
    struct sylk_msrp_frame f;
    size_t used;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_msrp_parse((const uint8_t *)text, strlen(text), NULL, &f, &used, &error),
                    ==, SYLK_MSRP_FRAME);
    const char *body = "line\r\n-------abce$\r\n-------abcdX\r\nmore";
    g_assert_cmpmem(f.body, f.body_len, body, strlen(body));
    g_assert_cmpint(f.flag, ==, '+');
    /* our own serializer refuses data holding our end-line: a new transaction id is needed */
    memcpy(f.transaction_id, "abce", 5);
    g_assert_null(sylk_msrp_format(&f));
    sylk_msrp_frame_clear(&f);
}

/* Where the body's end-line is found (and when format refuses a body), checked against a plain
 * memmem search over bodies full of dashes, CR, LF and the tid's characters. */
static void end_line_search_matches_memmem(void)
{
    static const char alphabet[] = "---\r\nab1";
    static const char marker[] = "\r\n-------ab1b";
    GRand *rand = g_rand_new_with_seed(4975);
    for (unsigned round = 0; round < 3000; round++) {
        size_t n = (size_t)g_rand_int_range(rand, 0, 60);
        g_autoptr(GString) body = g_string_new(NULL);
        for (size_t i = 0; i < n; i++) {
            if (g_rand_int_range(rand, 0, 12) == 0)
                g_string_append(body, marker + (g_rand_boolean(rand) ? 0 : 2));
            else
                g_string_append_c(body, alphabet[g_rand_int_range(rand, 0, 8)]);
        }
        /* format refuses exactly the bodies holding "-------ab1b" */
        struct sylk_msrp_frame f = {.transaction_id = "ab1b", .flag = '$', .method = "SEND"};
        f.body = (uint8_t *)body->str;
        f.body_len = body->len;
        g_autoptr(GBytes) wire = sylk_msrp_format(&f);
        bool inside = memmem(body->str, body->len, marker + 2, strlen(marker) - 2) != NULL;
        g_assert_cmpint(wire == NULL, ==, inside);

        /* the parser ends the body at the first CRLF "-------ab1b" flag CRLF */
        g_autoptr(GString) text = g_string_new("MSRP ab1b SEND\r\nTo-Path: msrp://a/b;tcp\r\n"
                                               "From-Path: msrp://c/d;tcp\r\n"
                                               "Content-Type: text/plain\r\n\r\n");
        size_t start = text->len;
        g_string_append_len(text, body->str, (gssize)body->len);
        g_string_append(text, "\r\n-------ab1b$\r\n");
        size_t expect = 0;
        for (const char *p = text->str + start;; p++) {
            p = memmem(p, text->len - (size_t)(p - text->str), marker, strlen(marker));
            g_assert_nonnull(p);
            const char *after = p + strlen(marker);
            if (strchr("+$#", after[0]) && after[0] && after[1] == '\r' && after[2] == '\n') {
                expect = (size_t)(p - text->str) - start;
                break;
            }
        }
        struct sylk_msrp_frame g;
        size_t used;
        g_autofree char *error = NULL;
        g_assert_cmpint(
            sylk_msrp_parse((const uint8_t *)text->str, text->len, NULL, &g, &used, &error), ==,
            SYLK_MSRP_FRAME);
        g_assert_cmpuint(g.body_len, ==, expect);
        sylk_msrp_frame_clear(&g);
    }
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/msrp-frame/rfc-examples", rfc_examples_round_trip);
    g_test_add_func("/msrp-frame/fields", fields);
    g_test_add_func("/msrp-frame/every-split", every_split);
    g_test_add_func("/msrp-frame/malformed", malformed);
    g_test_add_func("/msrp-frame/limits", limits);
    g_test_add_func("/msrp-frame/lookalike-end-lines", lookalike_end_lines);
    g_test_add_func("/msrp-frame/end-line-search-matches-memmem", end_line_search_matches_memmem);
    return g_test_run();
}
