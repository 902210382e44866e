/*
 * test_stun.c — core/media/stun.c, ICE-lite answers, against RFC 5769's test vectors: the
 * sample request (short-term credentials, FINGERPRINT) is accepted with its password and
 * refused with another password, another username fragment, a broken fingerprint, a cut
 * message; the answer's XOR-MAPPED-ADDRESS is RFC 5769's for 192.0.2.1:32853 and
 * 2001:db8:1234:5678:11:2233:4455:6677 port 32853, and its MESSAGE-INTEGRITY and FINGERPRINT
 * check out with an HMAC and a CRC computed here (GLib's GHmac, a CRC of this file's own).
 */
#include "media/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>

static const char PASSWORD[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* RFC 5769 §2.1: USERNAME "evtj:h6vY", SOFTWARE, PRIORITY, ICE-CONTROLLED, MI, FINGERPRINT. */
static const uint8_t SAMPLE_REQUEST[108] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

static uint32_t crc32_here(const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* The response's attributes: XOR-MAPPED-ADDRESS value (copied), MI and FINGERPRINT checked. */
static void check_response(const uint8_t *r, ssize_t n, uint8_t *xor_value, size_t xor_len)
{
    g_assert_cmpint(n, >, 20);
    g_assert_cmphex(r[0], ==, 0x01);
    g_assert_cmphex(r[1], ==, 0x01); /* Binding Success */
    g_assert_cmpuint((size_t)(r[2] << 8 | r[3]) + 20, ==, (size_t)n);
    g_assert_cmpmem(r + 8, 12, SAMPLE_REQUEST + 8, 12); /* the transaction id */
    g_assert_cmphex(r[20] << 8 | r[21], ==, 0x0020);
    g_assert_cmpuint((size_t)(r[22] << 8 | r[23]), ==, xor_len);
    memcpy(xor_value, r + 24, xor_len);
    size_t mi = 24 + xor_len;
    g_assert_cmphex(r[mi] << 8 | r[mi + 1], ==, 0x0008);
    /* HMAC-SHA1 over the message up to MI, its length field ending after MI */
    uint8_t copy[128];
    memcpy(copy, r, mi);
    copy[2] = 0;
    copy[3] = (uint8_t)(mi + 24 - 20);
    GHmac *h = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)PASSWORD, strlen(PASSWORD));
    g_hmac_update(h, copy, (gssize)mi);
    uint8_t digest[20];
    gsize dlen = sizeof(digest);
    g_hmac_get_digest(h, digest, &dlen);
    g_hmac_unref(h);
    g_assert_cmpmem(digest, 20, r + mi + 4, 20);
    size_t fp = mi + 24;
    g_assert_cmphex(r[fp] << 8 | r[fp + 1], ==, 0x8028);
    uint32_t want = crc32_here(r, fp) ^ 0x5354554eu;
    uint32_t got = (uint32_t)r[fp + 4] << 24 | (uint32_t)r[fp + 5] << 16 |
                   (uint32_t)r[fp + 6] << 8 | r[fp + 7];
    g_assert_cmphex(got, ==, want);
    g_assert_cmpuint(fp + 8, ==, (size_t)n);
}

static void sample_request_answered(void)
{
    struct sockaddr_in from = v4("192.0.2.1", 32853);
    uint8_t out[SYLK_STUN_MAX_RESPONSE], x[8];
    ssize_t n = sylk_stun_ice_answer(SAMPLE_REQUEST, sizeof(SAMPLE_REQUEST), "evtj", PASSWORD,
                                     (struct sockaddr *)&from, out);
    check_response(out, n, x, sizeof(x));
    static const uint8_t rfc[8] = {0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
    g_assert_cmpmem(x, 8, rfc, 8); /* RFC 5769 §2.2's XOR-MAPPED-ADDRESS */
    g_assert_false(sylk_stun_use_candidate(SAMPLE_REQUEST, sizeof(SAMPLE_REQUEST)));
}

static void ipv6_mapped_address(void)
{
    struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = htons(32853)};
    inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &from.sin6_addr);
    uint8_t out[SYLK_STUN_MAX_RESPONSE], x[20];
    ssize_t n = sylk_stun_ice_answer(SAMPLE_REQUEST, sizeof(SAMPLE_REQUEST), "evtj", PASSWORD,
                                     (struct sockaddr *)&from, out);
    check_response(out, n, x, sizeof(x));
    static const uint8_t rfc[20] = {0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
                                    0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9};
    g_assert_cmpmem(x, 20, rfc, 20); /* RFC 5769 §2.3's */
}

static void refused(void)
{
    struct sockaddr_in from = v4("127.0.0.1", 5000);
    uint8_t out[SYLK_STUN_MAX_RESPONSE], req[sizeof(SAMPLE_REQUEST)];
    const struct sockaddr *f = (struct sockaddr *)&from;
    g_assert_cmpint(sylk_stun_ice_answer(SAMPLE_REQUEST, sizeof(req), "evtj", "wrong", f, out), ==,
                    -EACCES);
    g_assert_cmpint(sylk_stun_ice_answer(SAMPLE_REQUEST, sizeof(req), "h6vY", PASSWORD, f, out), ==,
                    -EACCES); /* our fragment comes first */
    g_assert_cmpint(sylk_stun_ice_answer(SAMPLE_REQUEST, sizeof(req), "evt", PASSWORD, f, out), ==,
                    -EACCES); /* a prefix of it is not it */
    memcpy(req, SAMPLE_REQUEST, sizeof(req));
    req[sizeof(req) - 1] ^= 1; /* the fingerprint */
    g_assert_cmpint(sylk_stun_ice_answer(req, sizeof(req), "evtj", PASSWORD, f, out), ==, -EACCES);
    memcpy(req, SAMPLE_REQUEST, sizeof(req));
    req[30] ^= 1; /* the SOFTWARE text: the integrity check fails */
    g_assert_cmpint(sylk_stun_ice_answer(req, sizeof(req), "evtj", PASSWORD, f, out), ==, -EACCES);
    g_assert_cmpint(sylk_stun_ice_answer(SAMPLE_REQUEST, 60, "evtj", PASSWORD, f, out), ==,
                    -EPROTO); /* cut */
    memcpy(req, SAMPLE_REQUEST, sizeof(req));
    req[1] = 0x11; /* an indication */
    g_assert_cmpint(sylk_stun_ice_answer(req, sizeof(req), "evtj", PASSWORD, f, out), ==, -EPROTO);
    memcpy(req, SAMPLE_REQUEST, sizeof(req));
    req[63] = 0xff; /* USERNAME's length runs past the message */
    g_assert_cmpint(sylk_stun_ice_answer(req, sizeof(req), "evtj", PASSWORD, f, out), <, 0);
}

/* Our own check (the controlling side) is what the peer's answering code takes; its answer is
 * recognized by transaction id and the peer's password only. The request's integrity is checked
 * with GHmac here as well. */
static void our_check_and_its_answer(void)
{
    static const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t req[SYLK_STUN_MAX_REQUEST], resp[SYLK_STUN_MAX_RESPONSE];
    ssize_t n =
        sylk_stun_ice_request("peer", "ours", PASSWORD, 0x6e0001ff, 0x1122334455667788, tid, req);
    g_assert_cmpint(n, >, 20);
    g_assert_true(sylk_stun_use_candidate(req, (size_t)n));
    g_assert_cmpmem(req + 24, 9, "peer:ours", 9); /* USERNAME first: the peer's fragment */
    /* MESSAGE-INTEGRITY: 24 bytes before the 8-byte FINGERPRINT at the end */
    size_t mi = (size_t)n - 8 - 24;
    uint8_t copy[SYLK_STUN_MAX_REQUEST];
    memcpy(copy, req, mi);
    copy[2] = (uint8_t)((mi + 24 - 20) >> 8);
    copy[3] = (uint8_t)(mi + 24 - 20);
    GHmac *h = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)PASSWORD, strlen(PASSWORD));
    g_hmac_update(h, copy, (gssize)mi);
    uint8_t digest[20];
    gsize dlen = sizeof(digest);
    g_hmac_get_digest(h, digest, &dlen);
    g_hmac_unref(h);
    g_assert_cmpmem(digest, 20, req + mi + 4, 20);
    struct sockaddr_in from = v4("127.0.0.1", 40000);
    ssize_t r =
        sylk_stun_ice_answer(req, (size_t)n, "peer", PASSWORD, (struct sockaddr *)&from, resp);
    g_assert_cmpint(r, >, 0);
    g_assert_true(sylk_stun_check_answered(resp, (size_t)r, tid, PASSWORD));
    static const uint8_t other[12] = {0};
    g_assert_false(sylk_stun_check_answered(resp, (size_t)r, other, PASSWORD));
    g_assert_false(sylk_stun_check_answered(resp, (size_t)r, tid, "another password here!"));
    g_assert_false(sylk_stun_check_answered(req, (size_t)n, tid, PASSWORD)); /* not an answer */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/stun/sample-request-answered", sample_request_answered);
    g_test_add_func("/stun/ipv6-mapped-address", ipv6_mapped_address);
    g_test_add_func("/stun/refused", refused);
    g_test_add_func("/stun/our-check-and-its-answer", our_check_and_its_answer);
    return g_test_run();
}
