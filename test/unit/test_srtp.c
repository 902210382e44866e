/* Unit tests for core/media/srtp.c.
 *
 * Known answers from RFC 3711 Appendix B: the AES-CM keystream (B.2) and the key derivation
 * (B.3) are computed here by an independent AES-CM/KDF/HMAC written on gnutls, checked against
 * the RFC's figures, then used to build the SRTP packet that our libsrtp2-based context must
 * produce byte for byte. Plus SDES (RFC 4568) parsing, round trips, tampering and replays. */
#include "media/srtp.h"

#include <errno.h>
#include <glib.h>
#include <gnutls/crypto.h>
#include <string.h>

static void hex(const char *text, uint8_t *out, size_t n)
{
    g_assert_cmpuint(strlen(text), ==, n * 2);
    for (size_t i = 0; i < n; i++) {
        char b[3] = {text[2 * i], text[2 * i + 1], 0};
        out[i] = (uint8_t)strtoul(b, NULL, 16);
    }
}

/* One AES-128 block: CBC with a zero IV over a single block is ECB. */
static void aes_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
    uint8_t zero[16] = {0};
    gnutls_datum_t k = {(unsigned char *)key, 16}, iv = {zero, 16};
    gnutls_cipher_hd_t h;
    g_assert_cmpint(gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &k, &iv), ==, 0);
    g_assert_cmpint(gnutls_cipher_encrypt2(h, in, 16, out, 16), ==, 0);
    gnutls_cipher_deinit(h);
}

/* AES-CM keystream (RFC 3711 §4.1.1): AES(key, IV + block counter). */
static void aes_cm(const uint8_t key[16], const uint8_t iv[16], uint8_t *out, size_t n)
{
    for (size_t block = 0; block * 16 < n; block++) {
        uint8_t ctr[16], ks[16];
        memcpy(ctr, iv, 16);
        unsigned carry = (unsigned)block;
        for (int i = 15; i >= 14; i--) { /* the counter is the low 16 bits */
            unsigned v = ctr[i] + (carry & 0xff);
            ctr[i] = (uint8_t)v;
            carry = (carry >> 8) + (v >> 8);
        }
        aes_block(key, ctr, ks);
        memcpy(out + block * 16, ks, MIN((size_t)16, n - block * 16));
    }
}

/* Key derivation with kdr = 0 (RFC 3711 §4.3.1): x = label<<48 XOR salt, IV = x * 2^16. */
static void derive(const uint8_t master[16], const uint8_t salt[14], uint8_t label, uint8_t *out,
                   size_t n)
{
    uint8_t iv[16] = {0};
    memcpy(iv, salt, 14);
    iv[7] ^= label;
    aes_cm(master, iv, out, n);
}

static void test_rfc3711_b2_keystream(void)
{
    uint8_t key[16], iv[16], ks[48], expect[48];
    hex("2B7E151628AED2A6ABF7158809CF4F3C", key, 16);
    hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", iv, 16);
    hex("E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901"
        "E4FCA894C0",
        expect, 48);
    aes_cm(key, iv, ks, 48);
    g_assert_cmpmem(ks, 48, expect, 48);
}

static void test_rfc3711_b3_derivation(void)
{
    uint8_t master[16], salt[14], k_e[16], k_a[20], k_s[14], expect[16];
    hex("E1F97A0D3E018BE0D64FA32C06DE4139", master, 16);
    hex("0EC675AD498AFEEBB6960B3AABE6", salt, 14);
    derive(master, salt, 0x00, k_e, 16);
    hex("C61E7A93744F39EE10734AFE3FF7A087", expect, 16);
    g_assert_cmpmem(k_e, 16, expect, 16);
    derive(master, salt, 0x02, k_s, 14);
    hex("30CBBC08863D8C85D49DB34A9AE1", expect, 14);
    g_assert_cmpmem(k_s, 14, expect, 14);
    derive(master, salt, 0x01, k_a, 20);
    hex("CEBE321F6FF7716B6FD4AB49AF256A15", expect, 16);
    g_assert_cmpmem(k_a, 16, expect, 16);
}

/*
 * Our context, keyed with the RFC 3711 B.3 master key, against the independent computation,
 * for payloads of whole AES blocks, more blocks than media/srtp_crypto.c makes in one call,
 * and a last block partly used.
 */
static void packet_matches_independent_srtp(size_t payload)
{
    enum { MAX = 400 };
    g_assert_cmpuint(payload, <=, MAX);
    struct sylk_sdes sdes = {.tag = 1, .suite = SYLK_SRTP_AES_CM_128_HMAC_SHA1_80};
    hex("E1F97A0D3E018BE0D64FA32C06DE4139", sdes.master, 16);
    hex("0EC675AD498AFEEBB6960B3AABE6", sdes.master + 16, 14);
    struct sylk_srtp *s;
    g_assert_cmpint(sylk_srtp_new(&sdes, &sdes, &s), ==, 0);

    uint8_t pkt[12 + MAX + SYLK_SRTP_MAX_TRAILER] = {0x80, 0x00, 0x12, 0x34, 0x00, 0x00,
                                                     0x00, 0xa0, 0xca, 0xfe, 0xba, 0xbe};
    for (size_t i = 0; i < payload; i++)
        pkt[12 + i] = (uint8_t)(i * 7);
    uint8_t plain[sizeof(pkt)];
    memcpy(plain, pkt, sizeof(pkt));
    size_t len = 12 + payload;
    g_assert_cmpint(sylk_srtp_protect(s, pkt, &len, sizeof(pkt)), ==, 0);
    g_assert_cmpuint(len, ==, 12 + payload + 10);

    /* Expected: payload XOR AES-CM(k_e, IV), IV = k_s*2^16 XOR SSRC*2^64 XOR index*2^16. */
    uint8_t k_e[16], k_a[20], k_s[14], iv[16] = {0}, ks[MAX], expect[12 + MAX + 10];
    derive(sdes.master, sdes.master + 16, 0x00, k_e, 16);
    derive(sdes.master, sdes.master + 16, 0x01, k_a, 20);
    derive(sdes.master, sdes.master + 16, 0x02, k_s, 14);
    memcpy(iv, k_s, 14);
    for (int i = 0; i < 4; i++)
        iv[4 + i] ^= plain[8 + i];          /* SSRC */
    iv[12] ^= plain[2], iv[13] ^= plain[3]; /* index = ROC 0 || SEQ */
    aes_cm(k_e, iv, ks, payload);
    memcpy(expect, plain, 12);
    for (size_t i = 0; i < payload; i++)
        expect[12 + i] = plain[12 + i] ^ ks[i];
    uint8_t auth_input[12 + MAX + 4] = {0}, mac[20];
    memcpy(auth_input, expect, 12 + payload); /* followed by ROC = 0 */
    g_assert_cmpint(gnutls_hmac_fast(GNUTLS_MAC_SHA1, k_a, 20, auth_input, 12 + payload + 4, mac),
                    ==, 0);
    memcpy(expect + 12 + payload, mac, 10);
    g_assert_cmpmem(pkt, len, expect, 12 + payload + 10);

    g_assert_cmpint(sylk_srtp_unprotect(s, pkt, &len), ==, 0);
    g_assert_cmpmem(pkt, len, plain, 12 + payload);
    sylk_srtp_free(s);
}

static void test_packet_matches_independent_srtp(void)
{
    static const size_t payloads[] = {160, 1, 15, 17, 301, 400};
    for (size_t i = 0; i < G_N_ELEMENTS(payloads); i++)
        packet_matches_independent_srtp(payloads[i]);
}

static void test_round_trip_tamper_replay(void)
{
    for (int suite = 1; suite <= 2; suite++) {
        struct sylk_sdes a, b;
        g_assert_cmpint(sylk_sdes_generate(&a, 1, suite), ==, 0);
        g_assert_cmpint(sylk_sdes_generate(&b, 1, suite), ==, 0);
        struct sylk_srtp *alice, *bob;
        g_assert_cmpint(sylk_srtp_new(&a, &b, &alice), ==, 0);
        g_assert_cmpint(sylk_srtp_new(&b, &a, &bob), ==, 0);
        for (uint16_t seq = 1; seq < 20; seq++) {
            uint8_t pkt[200] = {0x80, 0x08, (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, 1, 0, 1, 2,
                                3,    4};
            memset(pkt + 12, 0x55, 160);
            size_t len = 172;
            g_assert_cmpint(sylk_srtp_protect(alice, pkt, &len, sizeof(pkt)), ==, 0);
            g_assert_cmpuint(len, ==, 172 + (suite == 1 ? 10 : 4));
            uint8_t copy[200];
            memcpy(copy, pkt, len);
            size_t copy_len = len;
            if (seq == 5) { /* a flipped bit fails authentication */
                copy[20] ^= 1;
                g_assert_cmpint(sylk_srtp_unprotect(bob, copy, &copy_len), ==, -EBADMSG);
            }
            g_assert_cmpint(sylk_srtp_unprotect(bob, pkt, &len), ==, 0);
            g_assert_cmpuint(len, ==, 172);
            g_assert_cmpint(pkt[12], ==, 0x55);
            if (seq == 7) { /* the same packet again is a replay */
                memcpy(pkt, copy, copy_len);
                len = copy_len;
                g_assert_cmpint(sylk_srtp_unprotect(bob, pkt, &len), ==, -EBADMSG);
            }
        }
        uint8_t rtcp[100] = {0x80, 200, 0, 6, 1, 2, 3, 4};
        size_t rlen = 28;
        g_assert_cmpint(sylk_srtp_protect_rtcp(alice, rtcp, &rlen, sizeof(rtcp)), ==, 0);
        g_assert_cmpint(sylk_srtp_unprotect_rtcp(bob, rtcp, &rlen), ==, 0);
        g_assert_cmpuint(rlen, ==, 28);
        sylk_srtp_free(alice);
        sylk_srtp_free(bob);
    }
}

static void test_sdes(void)
{
    struct sylk_sdes s;
    char *error = NULL;
    const char *line =
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
    g_assert_cmpint(sylk_sdes_parse(line, &s, &error), ==, 0);
    g_assert_cmpuint(s.tag, ==, 1);
    g_assert_cmpint(s.suite, ==, SYLK_SRTP_AES_CM_128_HMAC_SHA1_80);
    g_autofree char *back = sylk_sdes_format(&s);
    g_assert_cmpstr(back, ==,
                    "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
    /* tag = 1*9DIGIT (RFC 4568 §9.1): 0 is a valid tag */
    g_assert_cmpint(
        sylk_sdes_parse("0 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
                        &s, &error),
        ==, 0);
    g_assert_cmpuint(s.tag, ==, 0);
    g_assert_cmpint(s.suite, ==, SYLK_SRTP_AES_CM_128_HMAC_SHA1_32);

    static const struct {
        const char *line;
        int rc;
    } bad[] = {
        {"", -EINVAL},
        {"1 AES_CM_128_HMAC_SHA1_80", -EINVAL},
        {"x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", -EINVAL},
        {"1 AES_CM_128_HMAC_SHA1_80 inline:short", -EINVAL},
        {"1 AES_CM_128_HMAC_SHA1_80 inline:", -EINVAL}, /* fuzzer finding: empty key */
        {"1 AES_CM_128_HMAC_SHA1_80 uri:http://example.com", -EINVAL},
        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtx!VBR", -EINVAL},
        {"1 AES_256_CM_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", -ENOTSUP},
        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
         -ENOTSUP},
        {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR "
         "UNENCRYPTED_SRTP",
         -ENOTSUP},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        error = NULL;
        int rc = sylk_sdes_parse(bad[i].line, &s, &error);
        if (rc != bad[i].rc)
            g_error("case %zu (%s): %d", i, bad[i].line, rc);
        g_assert_nonnull(error);
        g_free(error);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sylk_srtp_library_init(), ==, 0);
    g_test_add_func("/srtp/rfc3711-b2-keystream", test_rfc3711_b2_keystream);
    g_test_add_func("/srtp/rfc3711-b3-derivation", test_rfc3711_b3_derivation);
    g_test_add_func("/srtp/packet-known-answer", test_packet_matches_independent_srtp);
    g_test_add_func("/srtp/round-trip-tamper-replay", test_round_trip_tamper_replay);
    g_test_add_func("/srtp/sdes", test_sdes);
    return g_test_run();
}
