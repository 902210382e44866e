/* Unit tests for core/sdp/sdp.c: offers from real clients, negotiation, the G.722 clock quirk,
 * refused streams, malformed bodies. */
#include "sdp/sdp.h"

#include <glib.h>
#include <string.h>
#include <sys/socket.h>

static char *prefs[] = {"G722", "PCMU", "PCMA", NULL};
static const struct sylk_sdp_policy policy = {.codecs = prefs, .srtp = SYLK_SRTP_OPTIONAL};
static const struct sylk_sdp_policy plain = {.codecs = prefs, .srtp = SYLK_SRTP_DISABLED};

#define BARESIP_OFFER                                                                              \
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"                    \
    "m=audio 20000 RTP/AVP 0 9 101\r\nb=AS:64\r\na=rtpmap:0 PCMU/8000\r\n"                         \
    "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"             \
    "a=sendrecv\r\na=rtcp:20001\r\n"

static void test_parse_offer(void)
{
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(BARESIP_OFFER, strlen(BARESIP_OFFER), &policy, &sdp, &error), ==,
                    0);
    g_assert_cmpuint(sdp.count, ==, 1);
    const struct sylk_sdp_media *m = &sdp.m[0];
    g_assert_cmpint(m->type, ==, SYLK_MEDIA_AUDIO);
    g_assert_true(m->usable);
    g_assert_cmpstr(m->codec, ==, "G722"); /* server preference, not offer order */
    g_assert_cmpint(m->pt, ==, 9);
    g_assert_cmpuint(m->clock, ==, 8000); /* RFC 3551 quirk: 8000 in SDP */
    g_assert_cmpint(m->dtmf_pt, ==, 101);
    g_assert_cmpstr(m->address, ==, "127.0.0.1");
    g_assert_cmpuint(m->port, ==, 20000);
    g_assert_cmpuint(m->rtcp_port, ==, 20001);
    g_assert_cmpint(m->direction, ==, SYLK_DIR_SENDRECV);
    sylk_sdp_clear(&sdp);
}

static void test_static_payload_without_rtpmap(void)
{
    const char *offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                        "m=audio 4000 RTP/AVP 8\r\na=sendonly\r\n";
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &policy, &sdp, &error), ==, 0);
    g_assert_cmpstr(sdp.m[0].codec, ==, "PCMA");
    g_assert_cmpint(sdp.m[0].dtmf_pt, ==, -1);
    g_assert_cmpint(sylk_sdp_reverse(sdp.m[0].direction), ==, SYLK_DIR_RECVONLY);
    sylk_sdp_clear(&sdp);
}

static void test_unusable_streams(void)
{
    const char *offer =
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 18 3\r\na=rtpmap:18 G729/8000\r\n" /* unknown codecs */
        "m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"  /* video */
        "m=audio 4004 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
        "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VuZGVy\r\n" /* SRTP when disabled */
        "m=audio 0 RTP/AVP 0\r\n";                                 /* disabled */
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &plain, &sdp, &error), ==, 0);
    g_assert_cmpuint(sdp.count, ==, 4);
    g_assert_cmpuint(sylk_sdp_usable_count(&sdp), ==, 0);
    g_assert_cmpstr(sdp.m[0].formats, ==, "18 3");
    g_assert_cmpstr(sdp.m[1].media, ==, "video");

    /* The answer refuses every line, keeping order and formats (RFC 3264 §6). */
    for (unsigned i = 0; i < sdp.count; i++)
        sdp.m[i].port = 0;
    g_autofree char *answer = sylk_sdp_print(&sdp, "127.0.0.1", 7, 1, NULL);
    g_assert_nonnull(strstr(answer, "m=audio 0 RTP/AVP 18 3\r\n"));
    g_assert_nonnull(strstr(answer, "m=video 0 RTP/AVP 96\r\n"));
    g_assert_nonnull(strstr(answer, "m=audio 0 RTP/SAVP 0\r\n"));
    sylk_sdp_clear(&sdp);
}

static void test_answer(void)
{
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(BARESIP_OFFER, strlen(BARESIP_OFFER), &policy, &sdp, &error), ==,
                    0);
    sdp.m[0].port = 30000;
    sdp.m[0].rtcp_port = 30001;
    g_autofree char *answer = sylk_sdp_print(&sdp, "127.0.0.1", 42, 3, NULL);
    g_assert_nonnull(strstr(answer, "o=- 42 3 IN IP4 127.0.0.1\r\n"));
    g_assert_nonnull(strstr(answer, "c=IN IP4 127.0.0.1\r\n"));
    g_assert_nonnull(strstr(answer, "m=audio 30000 RTP/AVP 9 101\r\n"));
    g_assert_nonnull(strstr(answer, "a=rtpmap:9 G722/8000\r\n"));
    g_assert_nonnull(strstr(answer, "a=rtpmap:101 telephone-event/8000\r\n"));
    g_assert_null(strstr(answer, "PCMU"));

    /* What we print parses back to the same choice. */
    struct sylk_sdp again;
    g_assert_cmpint(sylk_sdp_parse(answer, strlen(answer), &policy, &again, &error), ==, 0);
    g_assert_cmpstr(again.m[0].codec, ==, "G722");
    g_assert_cmpuint(again.m[0].port, ==, 30000);
    sylk_sdp_clear(&again);
    sylk_sdp_clear(&sdp);
}

static void test_offer_ipv6(void)
{
    struct sylk_sdp sdp = {.count = 1};
    sdp.m[0] = (struct sylk_sdp_media){.type = SYLK_MEDIA_AUDIO,
                                       .media = "audio",
                                       .proto = "RTP/AVP",
                                       .port = 5000,
                                       .rtcp_port = 5001,
                                       .direction = SYLK_DIR_SENDRECV};
    g_autofree char *offer = sylk_sdp_print(&sdp, "::1", 1, 1, prefs);
    g_assert_nonnull(strstr(offer, "c=IN IP6 ::1\r\n"));
    g_assert_nonnull(strstr(offer, "m=audio 5000 RTP/AVP 9 0 8 101\r\n"));
    g_assert_nonnull(strstr(offer, "a=rtpmap:8 PCMA/8000\r\n"));
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "this is not SDP",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n", /* no m= */
        "v=0\r\nm=audio abc RTP/AVP 0\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio\r\n",
        "",
        /* sofia-sip allocates without end on these (fuzzer finding): refused before it */
        "v=0\r\nm=audio 20000 RT?P/AVP 0 9ap:9 G722ephone-event\xce/8000",
        "v=0\r\nm=audio 2 X \xce\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\x01\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\n"
        "m=audio 400 X 8 =\r\n",
        "v=0\r\nm=-audio 20/0///00 ///////////-6 H\r", /* fuzzer: slashes in port and proto */
        "v=0\r\nm=audio 20 RTP//AVP 0\r\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct sylk_sdp sdp;
        char *error = NULL;
        g_assert_cmpint(sylk_sdp_parse(bad[i], strlen(bad[i]), &policy, &sdp, &error), <, 0);
        g_assert_nonnull(error);
        g_test_message("case %zu: %s", i, error);
        g_free(error);
        g_assert_cmpuint(sdp.count, ==, 0);
    }
    /* Oversize bodies are refused before parsing. */
    g_autofree char *huge = g_strnfill(SYLK_SDP_MAX_SIZE + 1, 'a');
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(huge, strlen(huge), &policy, &sdp, &error), <, 0);
}

#define SESSION_V4 "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"

/* Parses `body` (must succeed) with `pol`; the caller clears `sdp`. */
static void parse_ok(const char *body, const struct sylk_sdp_policy *pol, struct sylk_sdp *sdp)
{
    g_autofree char *error = NULL;
    int rc = sylk_sdp_parse(body, strlen(body), pol, sdp, &error);
    if (rc < 0)
        g_test_message("error: %s", error);
    g_assert_cmpint(rc, ==, 0);
}

/* RFC 4475's own SDP: "a=rtpmap:31 LPC" has no clock rate. RFC 3264 lets the answerer ignore
 * that payload type; the audio stream next to it is fine. */
static void malformed_rtpmap_ignores_its_payload_type(void)
{
    struct sylk_sdp sdp;
    parse_ok(SESSION_V4 "m=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\n"
                        "a=rtpmap:31 LPC\r\n",
             &policy, &sdp);
    g_assert_cmpuint(sdp.count, ==, 2);
    g_assert_true(sdp.m[0].usable);
    g_assert_cmpstr(sdp.m[0].codec, ==, "PCMU");
    g_assert_false(sdp.m[1].usable);
    g_assert_cmpstr(sdp.m[1].formats, ==, "31"); /* refused keeping its formats */
    sylk_sdp_clear(&sdp);

    /* A static payload type whose rtpmap is broken is not used either: PCMA is chosen. */
    parse_ok(SESSION_V4 "m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU\r\n", &policy, &sdp);
    g_assert_cmpstr(sdp.m[0].codec, ==, "PCMA");
    sylk_sdp_clear(&sdp);

    static const char *const broken_only[] = {
        "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/abc\r\n",
        "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96\r\n",
        "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/\r\n",
        "m=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G7 22/8000\r\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(broken_only); i++) {
        g_autofree char *body = g_strconcat(SESSION_V4, broken_only[i], NULL);
        parse_ok(body, &policy, &sdp);
        g_assert_cmpuint(sylk_sdp_usable_count(&sdp), ==, 0); /* nothing left: the caller 488s */
        sylk_sdp_clear(&sdp);
    }
}

/* rtpmap and fmtp lines about payload types the m= line does not list are ignored. */
static void format_lines_for_unlisted_payloads(void)
{
    struct sylk_sdp sdp;
    parse_ok(SESSION_V4 "m=audio 4000 RTP/AVP 0 101\r\na=fmtp:99 mode=30\r\n"
                        "a=rtpmap:96 opus/48000/2\r\na=rtpmap:200 PCMU/8000\r\na=rtpmap:x y/1\r\n"
                        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
             &policy, &sdp);
    g_assert_cmpstr(sdp.m[0].codec, ==, "PCMU");
    g_assert_cmpint(sdp.m[0].dtmf_pt, ==, 101);
    sylk_sdp_clear(&sdp);
    /* MSRP's "*" format list has no payload types: its lines are not touched */
    parse_ok(SESSION_V4 "m=message 2855 TCP/MSRP *\r\na=path:msrp://10.0.0.1:2855/abc;tcp\r\n"
                        "a=accept-types:text/plain\r\n",
             &(struct sylk_sdp_policy){.codecs = prefs, .msrp = SYLK_SDP_MSRP_TCP}, &sdp);
    g_assert_true(sdp.m[0].usable);
    sylk_sdp_clear(&sdp);
}

/* RFC 4566: ports are 16 bits. */
static void port_out_of_range(void)
{
    static const char *const ports[] = {"65536", "70000", "4294967297", "99999999999999999999"};
    for (size_t i = 0; i < G_N_ELEMENTS(ports); i++) {
        g_autofree char *body = g_strdup_printf(SESSION_V4 "m=audio %s RTP/AVP 0\r\n", ports[i]);
        struct sylk_sdp sdp;
        g_autofree char *error = NULL;
        g_assert_cmpint(sylk_sdp_parse(body, strlen(body), &policy, &sdp, &error), <, 0);
        g_assert_nonnull(strstr(error, "65535"));
    }
    struct sylk_sdp sdp;
    parse_ok(SESSION_V4 "m=audio 65535 RTP/AVP 0\r\n", &policy, &sdp);
    g_assert_cmpuint(sdp.m[0].port, ==, 65535);
    sylk_sdp_clear(&sdp);
    parse_ok(SESSION_V4 "m=audio 0 RTP/AVP 0\r\n", &policy, &sdp); /* disabled, not wrong */
    g_assert_false(sdp.m[0].usable);
    g_assert_null(sdp.m[0].refusal);
    sylk_sdp_clear(&sdp);
}

/* Streams whose connection this server cannot use are refused with the Warning code that
 * says why; others in the same offer are kept. */
static void connection_refusals(void)
{
    const struct sylk_sdp_policy v4 = {.codecs = prefs, .family = AF_INET};
    const struct sylk_sdp_policy v6 = {.codecs = prefs, .family = AF_INET6};
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
         301},
        {SESSION_V4 "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 media.example.com\r\n", 301},
        {SESSION_V4 "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 999.1.1.1\r\n", 301},
        {SESSION_V4 "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127\r\n", 330},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct sylk_sdp sdp;
        parse_ok(cases[i].body, &v4, &sdp);
        g_assert_false(sdp.m[0].usable);
        const struct sylk_sdp_media *r = sylk_sdp_refused_connection(&sdp);
        g_assert_nonnull(r);
        g_assert_cmpint(r->refusal_code, ==, cases[i].code);
        g_test_message("case %zu: %d %s", i, r->refusal_code, r->refusal);
        sylk_sdp_clear(&sdp);
    }
    /* no c= at all: sofia-sip refuses the description (RFC 4566 requires one) */
    const char *no_c =
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(no_c, strlen(no_c), &v4, &sdp, &error), <, 0);
    g_assert_nonnull(strstr(error, "c="));
    /* IPv6 media offered to a server whose media are IPv6 (and family 0 takes either) */
    parse_ok(cases[0].body, &v6, &sdp);
    g_assert_true(sdp.m[0].usable);
    sylk_sdp_clear(&sdp);
    parse_ok(SESSION_V4 "m=audio 4000 RTP/AVP 0\r\n", &v6, &sdp);
    g_assert_cmpint(sdp.m[0].refusal_code, ==, 301);
    sylk_sdp_clear(&sdp);
    parse_ok(cases[0].body, &policy, &sdp);
    g_assert_true(sdp.m[0].usable);
    sylk_sdp_clear(&sdp);
    /* one stream over IPv6, one over IPv4: the IPv4 one is answered */
    parse_ok(SESSION_V4 "m=audio 4000 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\n"
                        "m=audio 4002 RTP/AVP 8\r\n",
             &v4, &sdp);
    g_assert_false(sdp.m[0].usable);
    g_assert_true(sdp.m[1].usable);
    g_assert_cmpstr(sdp.m[1].codec, ==, "PCMA");
    sylk_sdp_clear(&sdp);
}

#define SDES_KEY "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

static void srtp_policies(void)
{
    const char *savp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                       "m=audio 4000 RTP/SAVP 0\r\n"
                       "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" SDES_KEY SDES_KEY "\r\n"
                       "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" SDES_KEY "\r\n";
    const char *avp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                      "m=audio 4000 RTP/AVP 0\r\n";
    struct sylk_sdp_policy mandatory = {.codecs = prefs, .srtp = SYLK_SRTP_MANDATORY};
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;

    /* The first supported suite is chosen (tag 2 here); the answer keeps tag and suite. */
    g_assert_cmpint(sylk_sdp_parse(savp, strlen(savp), &policy, &sdp, &error), ==, 0);
    g_assert_true(sdp.m[0].usable && sdp.m[0].secure);
    g_assert_cmpuint(sdp.m[0].crypto.tag, ==, 2);
    g_assert_cmpint(sdp.m[0].crypto.suite, ==, SYLK_SRTP_AES_CM_128_HMAC_SHA1_32);
    struct sylk_sdes theirs = sdp.m[0].crypto;
    g_assert_cmpint(sylk_sdp_localize(&sdp.m[0]), ==, 0);
    g_assert_cmpmem(&sdp.m[0].crypto.suite, sizeof(theirs.suite), &theirs.suite,
                    sizeof(theirs.suite));
    g_assert_true(memcmp(sdp.m[0].crypto.master, theirs.master, sizeof(theirs.master)) != 0);
    g_autofree char *answer = sylk_sdp_print(&sdp, "127.0.0.1", 1, 1, NULL);
    g_assert_nonnull(strstr(answer, "m=audio 4000 RTP/SAVP 0\r\n"));
    g_assert_nonnull(strstr(answer, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
    sylk_sdp_clear(&sdp);

    g_assert_cmpint(sylk_sdp_parse(savp, strlen(savp), &plain, &sdp, &error), ==, 0);
    g_assert_false(sdp.m[0].usable); /* SRTP disabled: RTP/SAVP refused */
    sylk_sdp_clear(&sdp);
    g_assert_cmpint(sylk_sdp_parse(avp, strlen(avp), &mandatory, &sdp, &error), ==, 0);
    g_assert_false(sdp.m[0].usable); /* SRTP mandatory: plain RTP refused */
    sylk_sdp_clear(&sdp);
    g_assert_cmpint(sylk_sdp_parse(avp, strlen(avp), &policy, &sdp, &error), ==, 0);
    g_assert_true(sdp.m[0].usable && !sdp.m[0].secure); /* optional: plain is fine */
    sylk_sdp_clear(&sdp);
}

static void opus_and_speex(void)
{
    static char *wide[] = {"opus", "speex", "G722", NULL};
    struct sylk_sdp_policy p = {.codecs = wide, .srtp = SYLK_SRTP_OPTIONAL};
    const char *offer =
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 96 97 9 100 101\r\n"
        "a=rtpmap:96 speex/16000\r\n"
        "a=rtpmap:97 opus/48000/2\r\n"
        "a=rtpmap:100 telephone-event/8000\r\na=rtpmap:101 telephone-event/48000\r\n"
        "a=fmtp:97 useinbandfec=1; maxplaybackrate=16000\r\n";
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &p, &sdp, &error), ==, 0);
    g_assert_cmpstr(sdp.m[0].codec, ==, "opus");
    g_assert_cmpint(sdp.m[0].pt, ==, 97); /* the offerer's dynamic payload type */
    g_assert_true(sdp.m[0].options.fec);
    g_assert_cmpint(sdp.m[0].dtmf_pt, ==, 101); /* events on the codec's clock */
    g_assert_cmpuint(sdp.m[0].options.max_playback_rate, ==, 16000);
    g_autofree char *answer = sylk_sdp_print(&sdp, "127.0.0.1", 1, 1, NULL);
    g_assert_nonnull(strstr(answer, "a=rtpmap:97 opus/48000/2\r\n"));
    g_assert_null(strstr(answer, "a=fmtp:97"));
    g_assert_nonnull(strstr(answer, "a=rtpmap:101 telephone-event/48000\r\n"));
    sylk_sdp_clear(&sdp);

    static char *speex_first[] = {"speex", NULL};
    p.codecs = speex_first;
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &p, &sdp, &error), ==, 0);
    g_assert_cmpstr(sdp.m[0].codec, ==, "speex");
    g_assert_cmpuint(sdp.m[0].clock, ==, 16000);
    sylk_sdp_clear(&sdp);

    /* An offer of ours lists both speex rates and opus with dynamic payload types. */
    struct sylk_sdp ours = {.count = 1};
    ours.m[0] = (struct sylk_sdp_media){.type = SYLK_MEDIA_AUDIO,
                                        .media = "audio",
                                        .proto = "RTP/AVP",
                                        .port = 5000,
                                        .rtcp_port = 5001};
    g_autofree char *text = sylk_sdp_print(&ours, "127.0.0.1", 1, 1, wide);
    g_assert_nonnull(strstr(text, "m=audio 5000 RTP/AVP 111 97 98 9 101\r\n"));
    g_assert_nonnull(strstr(text, "a=rtpmap:98 speex/8000\r\n"));
}

/* RFC 6464 audio levels: the id offered is taken and answered; other forms are not. */
static void audio_level_extmap(void)
{
    static const struct {
        const char *line;
        unsigned id;
    } cases[] = {
        {"a=extmap:3 urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n", 3},
        {"a=extmap:5/sendrecv urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", 5},
        {"a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", 0},
        {"a=extmap:15 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", 0},
        {"a=extmap:0 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", 0},
        {"a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n", 0},
        {"a=extmap:x urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", 0},
        {"a=extmap:4 urn:ietf:params:rtp-hdrext:ssrc-audio-levelX\r\n", 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *offer = g_strdup_printf(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 40000 RTP/AVP 0\r\n%s",
            cases[i].line);
        struct sylk_sdp sdp;
        g_autofree char *error = NULL;
        g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &plain, &sdp, &error), ==, 0);
        g_assert_cmpuint(sdp.m[0].audio_level_id, ==, cases[i].id);
        g_autofree char *answer = sylk_sdp_print(&sdp, "127.0.0.1", 1, 1, NULL);
        g_autofree char *expect = g_strdup_printf(
            "a=extmap:%u/recvonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", cases[i].id);
        if (cases[i].id)
            g_assert_nonnull(strstr(answer, expect));
        else
            g_assert_null(strstr(answer, "a=extmap"));
        sylk_sdp_clear(&sdp);
    }
}

/* MSRP streams: their attributes are kept, and they are usable only when MSRP runs. */
static void msrp_streams(void)
{
    static const char offer[] =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=message 2855 TCP/TLS/MSRP *\r\n"
        "a=path:msrps://127.0.0.1:2855/kjhd37s2s20w2a;tcp\r\n"
        "a=accept-types:message/cpim text/plain\r\n"
        "a=accept-wrapped-types:*\r\n"
        "a=setup:active\r\n"
        "a=chatroom:nickname private-messages\r\n"
        "m=message 2856 TCP/MSRP *\r\n"
        "a=path:msrp://127.0.0.1:2856/x9dj2;tcp\r\n"
        "a=accept-types:*\r\n"
        "a=sendonly\r\n"
        "a=file-selector:name:\"a b.txt\" type:text/plain size:5 hash:sha-1:"
        "72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E\r\n"
        "a=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd\r\n"
        "m=message 2857 TCP/MSRP *\r\n"
        "a=path:not-a-uri\r\n"
        "a=accept-types:text/plain\r\n"
        "m=message 2858 TCP/MSRP *\r\n"
        "a=path:msrp://127.0.0.1:2858/abc;tcp\r\n";
    struct sylk_sdp sdp;
    g_autofree char *error = NULL;
    struct sylk_sdp_policy with_msrp = policy;
    with_msrp.msrp = SYLK_SDP_MSRP_TCP | SYLK_SDP_MSRP_TLS;
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &with_msrp, &sdp, &error), ==, 0);
    g_assert_cmpuint(sdp.count, ==, 4);
    g_assert_cmpint(sdp.m[0].type, ==, SYLK_MEDIA_CHAT);
    g_assert_true(sdp.m[0].msrp_tls);
    g_assert_cmpstr(sdp.m[0].msrp_path, ==, "msrps://127.0.0.1:2855/kjhd37s2s20w2a;tcp");
    g_assert_cmpstr(sdp.m[0].accept_types, ==, "message/cpim text/plain");
    g_assert_cmpstr(sdp.m[0].setup, ==, "active");
    g_assert_cmpstr(sdp.m[0].chatroom, ==, "nickname private-messages");
    g_assert_true(sdp.m[0].usable);
    g_assert_cmpint(sdp.m[1].type, ==, SYLK_MEDIA_FILE_TRANSFER);
    g_assert_false(sdp.m[1].msrp_tls);
    g_assert_cmpint(sdp.m[1].direction, ==, SYLK_DIR_SENDONLY);
    g_assert_nonnull(strstr(sdp.m[1].file_selector, "hash:sha-1:72:24"));
    g_assert_cmpstr(sdp.m[1].file_transfer_id, ==, "vBnG916bdberum2fFEABR1FR3ExZMUrd");
    g_assert_true(sdp.m[1].usable);
    g_assert_false(sdp.m[2].usable); /* the path is no MSRP URI */
    g_assert_false(sdp.m[3].usable); /* no accept-types */

    /* an answer: our path, passive, the reverse direction; it parses back the same */
    struct sylk_sdp answer = {0}; /* copy clears its destination first */
    sylk_sdp_copy(&answer, &sdp);
    g_free(answer.m[0].msrp_path);
    answer.m[0].msrp_path = g_strdup("msrps://127.0.0.1:2999/ours;tcp");
    g_free(answer.m[0].setup);
    answer.m[0].setup = g_strdup("passive");
    answer.m[1].direction = SYLK_DIR_RECVONLY;
    answer.m[2].port = answer.m[3].port = 0;
    g_autofree char *text = sylk_sdp_print(&answer, "127.0.0.1", 7, 1, NULL);
    g_assert_nonnull(strstr(text, "m=message 2855 TCP/TLS/MSRP *\r\n"
                                  "a=path:msrps://127.0.0.1:2999/ours;tcp\r\n"
                                  "a=accept-types:message/cpim text/plain\r\n"
                                  "a=accept-wrapped-types:*\r\n"
                                  "a=setup:passive\r\n"
                                  "a=chatroom:nickname private-messages\r\n"
                                  "a=sendrecv\r\n"));
    g_assert_nonnull(strstr(text, "a=recvonly\r\n"));
    g_assert_nonnull(strstr(text, "m=message 0 TCP/MSRP *\r\n"));
    struct sylk_sdp back;
    g_assert_cmpint(sylk_sdp_parse(text, strlen(text), &with_msrp, &back, &error), ==, 0);
    g_assert_cmpstr(back.m[1].file_transfer_id, ==, sdp.m[1].file_transfer_id);
    g_assert_cmpstr(back.m[1].file_selector, ==, sdp.m[1].file_selector);
    sylk_sdp_clear(&back);
    sylk_sdp_clear(&answer);
    sylk_sdp_clear(&sdp);

    /* a TLS-only server takes only the TLS stream */
    with_msrp.msrp = SYLK_SDP_MSRP_TLS;
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &with_msrp, &sdp, &error), ==, 0);
    g_assert_true(sdp.m[0].usable);
    g_assert_false(sdp.m[1].usable);
    sylk_sdp_clear(&sdp);

    /* without MSRP running, the same offer has nothing usable */
    g_assert_cmpint(sylk_sdp_parse(offer, strlen(offer), &policy, &sdp, &error), ==, 0);
    g_assert_cmpuint(sylk_sdp_usable_count(&sdp), ==, 0);
    sylk_sdp_clear(&sdp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sdp/parse-offer", test_parse_offer);
    g_test_add_func("/sdp/static-payload", test_static_payload_without_rtpmap);
    g_test_add_func("/sdp/unusable-streams", test_unusable_streams);
    g_test_add_func("/sdp/answer", test_answer);
    g_test_add_func("/sdp/offer-ipv6", test_offer_ipv6);
    g_test_add_func("/sdp/malformed", test_malformed);
    g_test_add_func("/sdp/malformed-rtpmap", malformed_rtpmap_ignores_its_payload_type);
    g_test_add_func("/sdp/unlisted-format-lines", format_lines_for_unlisted_payloads);
    g_test_add_func("/sdp/port-range", port_out_of_range);
    g_test_add_func("/sdp/connection-refusals", connection_refusals);
    g_test_add_func("/sdp/srtp-policies", srtp_policies);
    g_test_add_func("/sdp/opus-and-speex", opus_and_speex);
    g_test_add_func("/sdp/audio-level-extmap", audio_level_extmap);
    g_test_add_func("/sdp/msrp-streams", msrp_streams);
    return g_test_run();
}
