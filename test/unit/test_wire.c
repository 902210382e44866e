/* Unit tests for core/sip/wire.c: the request-line grammar, Accept matching, and whole
 * messages through the message class nta parses with (RFC 4475 examples among them). */
#include "sip/wire.h"

#include <glib.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>
#include <sofia-sip/sip_util.h>
#include <string.h>

static void request_line_grammar(void)
{
    static const char *const good[] = {
        "INVITE sip:a@b SIP/2.0\r\n",
        "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n", /* RFC 3261 7.5: CRLFs before it */
        "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$"
        "/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n",
        "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0",
        "OPTIONS sip:t.watson@example.org SIP/7.0\r\n", /* a version, if not ours */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        g_assert_null(sylk_wire_request_line_problem(good[i], strlen(good[i])));
    static const struct {
        const char *line, *problem;
    } bad[] = {
        {"INVITE  sip:a@b  SIP/2.0\r\n", "more than one SP before the Request-URI"},
        {"INVITE sip:a@b  SIP/2.0\r\n", "more than one SP before the version"},
        {"OPTIONS sip:a@b SIP/2.0  \r\n", "whitespace after the SIP version"},
        {" OPTIONS sip:a@b SIP/2.0\r\n", "whitespace before the request line"},
        {"INVITE sip:user@example.com; lr SIP/2.0\r\n", "LWS inside the Request-URI"},
        {"INVITE <sip:user@example.com> SIP/2.0\r\n", "<> around or inside the Request-URI"},
        {"INVITE sip:a@b SIP/2\r\n", "malformed SIP version"},
        {"INVITE sip:a@b SIP/\r\n", "malformed SIP version"},
        {"INVITE sip:a@b HTTP/1.1\r\n", "malformed SIP version"},
        {"INVITE sip:a@b SIP/2.0 x\r\n", "whitespace after the SIP version"},
        {"INVITE\r\n", "the method is not a token followed by one SP"},
        {"INV{TE sip:a@b SIP/2.0\r\n", "the method is not a token followed by one SP"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_cmpstr(sylk_wire_request_line_problem(bad[i].line, strlen(bad[i].line)), ==,
                        bad[i].problem);
}

/* A message parsed as nta parses it with our class; the caller destroys it. */
static msg_t *parse(const struct sylk_wire *w, const char *text)
{
    msg_t *msg = msg_make(sylk_wire_mclass(w), (int)sylk_wire_sip_flags(), text, strlen(text));
    g_assert_nonnull(msg);
    return msg;
}

#define HEADERS                                                                                    \
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"                           \
    "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n"

static void messages(void)
{
    struct sylk_wire *w = sylk_wire_new();
    g_assert_nonnull(w);

    /* sofia-sip's own parser refuses '+' and '`' in methods: ours takes them, unknown */
    const char *odd =
        "A+B`C sip:b@example.com SIP/2.0\r\n" HEADERS "CSeq: 7 A+B`C\r\nContent-Length: 0\r\n\r\n";
    msg_t *msg = parse(w, odd);
    sip_t *sip = sip_object(msg);
    g_assert_nonnull(sip->sip_request);
    g_assert_cmpint(sip->sip_request->rq_method, ==, sip_method_unknown);
    g_assert_cmpstr(sip->sip_request->rq_method_name, ==, "A+B`C");
    g_assert_cmpstr(sip->sip_cseq->cs_method_name, ==, "A+B`C");
    g_assert_cmpint(sip_sanity_check(sip), ==, 0);
    g_assert_null(sip->sip_error);
    const char *why = NULL;
    g_assert_cmpint(sylk_wire_request_problem(w, sip, &why), ==, 0);
    g_assert_null(why);
    msg_destroy(msg);

    /* another SIP version: taken as 2.0 so that it reaches us (nta would answer it before
     * applying received and rport to the Via), marked to be answered 505 */
    msg = parse(w, "OPTIONS sip:b@example.com SIP/7.0\r\n" HEADERS
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    sip = sip_object(msg);
    g_assert_cmpstr(sip->sip_request->rq_version, ==, sip_version_2_0);
    g_assert_cmpint(sylk_wire_request_problem(w, sip, &why), ==, 505);
    g_assert_nonnull(why);
    msg_destroy(msg);

    /* LWS in the Request-URI: parsed, marked invalid, which nta answers 400 */
    msg = parse(w, "INVITE sip:b@example.com; lr SIP/2.0\r\n" HEADERS
                   "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    sip = sip_object(msg);
    g_assert_nonnull(sip->sip_request);
    g_assert_cmpint(sip->sip_request->rq_url->url_type, ==, url_invalid);
    g_assert_cmpint(sip_sanity_check(sip), <, 0);
    msg_destroy(msg);

    /* headers in a SIP Request-URI likewise */
    msg = parse(w, "INVITE sip:b@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n" HEADERS
                   "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    g_assert_cmpint(sip_object(msg)->sip_request->rq_url->url_type, ==, url_invalid);
    msg_destroy(msg);

    /* whitespace before the line: sofia's copy mode would lose the line; parsed, then 400 */
    msg = parse(w, " OPTIONS sip:b@example.com SIP/2.0\r\n" HEADERS
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    g_assert_cmpint(sip_object(msg)->sip_request->rq_url->url_type, ==, url_invalid);
    msg_destroy(msg);

    /* a good line keeps its URI and its raw bytes */
    msg = parse(w, "\r\nOPTIONS sip:b@example.com SIP/2.0\r\n" HEADERS
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    sip = sip_object(msg);
    g_assert_cmpint(sip->sip_request->rq_url->url_type, ==, url_sip);
    g_assert_cmpstr(sip->sip_request->rq_url->url_host, ==, "example.com");
    g_assert_nonnull(sip->sip_request->rq_common->h_data);
    msg_destroy(msg);

    /* RFC 4475 badinv01's Via: sofia leaves no Via (nothing to answer to); ours parses it and
     * says it was malformed, also once the Via gets a parameter */
    msg = parse(w, "OPTIONS sip:b@example.com SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\r\nMax-Forwards: 70\r\n"
                   "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c2\r\n"
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    sip = sip_object(msg);
    g_assert_nonnull(sip->sip_via);
    g_assert_cmpstr(sip->sip_via->v_host, ==, "192.0.2.15");
    g_assert_cmpint(sylk_wire_request_problem(w, sip, &why), ==, 400);
    msg_header_replace_param(msg_home(msg), sip->sip_via->v_common, "rport=5060");
    g_assert_cmpint(sylk_wire_request_problem(w, sip, &why), ==, 400);
    /* headers of sofia's own Via class still go into messages of this class */
    sip_via_t *mine = sip_via_make(msg_home(msg), "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK2");
    g_assert_cmpint(msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)mine), ==, 0);
    g_assert_true(sip->sip_via == mine);
    msg_destroy(msg);

    /* a response after keepalive CRLFs on a stream: sofia's copy mode alone would lose it */
    msg = parse(w, "\r\n\r\nSIP/2.0 200 OK\r\n" HEADERS
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    g_assert_nonnull(sip_object(msg)->sip_status);
    g_assert_cmpint(sip_object(msg)->sip_status->st_status, ==, 200);
    msg_destroy(msg);

    sylk_wire_free(w);
}

/* Accept and the default RFC 3261 20.1 gives it */
static void accept_header(void)
{
    static const struct {
        const char *accept;
        bool sdp;
    } cases[] = {
        {NULL, true},
        {"application/sdp", true},
        {"text/plain, application/sdp", true},
        {"application/*", true},
        {"*/*", true},
        {"application/SDP;level=1", true},
        {"text/nobodyKnowsThis", false},
        {"application/sdp;q=0", false},
        {"application/sdpx", false},
        {"", false},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "INVITE sip:b@example.com SIP/2.0\r\n" HEADERS "CSeq: 1 INVITE\r\n%s%s%s"
            "Content-Length: 0\r\n\r\n",
            cases[i].accept ? "Accept: " : "", cases[i].accept ? cases[i].accept : "",
            cases[i].accept ? "\r\n" : "");
        msg_t *msg = msg_make(sip_default_mclass(), 0, text, strlen(text));
        g_assert_nonnull(msg);
        g_test_message("Accept: %s", cases[i].accept ? cases[i].accept : "(none)");
        g_assert_cmpint(sylk_wire_accepts(sip_object(msg), "application/sdp"), ==, cases[i].sdp);
        msg_destroy(msg);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wire/request-line-grammar", request_line_grammar);
    g_test_add_func("/wire/messages", messages);
    g_test_add_func("/wire/accept", accept_header);
    return g_test_run();
}
