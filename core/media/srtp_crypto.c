/*
 * srtp_crypto.c — AES-ICM-128 and HMAC-SHA1 for libsrtp2 on nettle. See srtp_crypto.h.
 */
#define G_LOG_DOMAIN "sylk-srtp"
#include "media/srtp_crypto.h"

#include <errno.h>
#include <glib.h>
#include <nettle/aes.h>
#include <nettle/hmac.h>
#include <nettle/memxor.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <string.h>

#define BLOCK 16
#define BATCH 8 /* keystream blocks made per AES call: a 20 ms opus or G.711 payload or less */

/* ----------------------------------------------------------------- AES-ICM-128 --- */

/*
 * RFC 3711 §4.1.1: the keystream of a packet is AES(key, (salt * 2^16) XOR IV + i) for its
 * blocks i; libsrtp2 passes the IV (SSRC and packet index) to set_iv and may encrypt a
 * packet in several calls, so a partly used keystream block is kept for the next call.
 */
struct icm {
    srtp_cipher_t cipher;
    struct aes128_ctx aes;
    uint8_t offset[BLOCK]; /* the salt, its two low octets zero */
    uint8_t counter[BLOCK];
    uint8_t keystream[BLOCK];
    unsigned used; /* octets of keystream[] already used */
};

static const srtp_cipher_type_t icm_type;

static srtp_err_status_t icm_alloc(srtp_cipher_pointer_t *cp, int key_len, int tag_len)
{
    (void)tag_len;
    if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT)
        return srtp_err_status_bad_param;
    struct icm *c = g_new0(struct icm, 1);
    c->cipher.type = &icm_type;
    c->cipher.state = c;
    c->cipher.key_len = key_len;
    c->cipher.algorithm = SRTP_AES_ICM_128;
    c->used = BLOCK;
    *cp = &c->cipher;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_pointer_t cp)
{
    struct icm *c = cp->state;
    explicit_bzero(c, sizeof(*c));
    g_free(c);
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
    struct icm *c = state;
    aes128_set_encrypt_key(&c->aes, key);
    memset(c->offset, 0, sizeof(c->offset));
    memcpy(c->offset, key + SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN);
    memcpy(c->counter, c->offset, BLOCK);
    c->used = BLOCK;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t direction)
{
    (void)direction;
    struct icm *c = state;
    for (unsigned i = 0; i < BLOCK; i++)
        c->counter[i] = c->offset[i] ^ iv[i];
    c->used = BLOCK;
    return srtp_err_status_ok;
}

/* The block counter is the low 16 bits (RFC 3711 §4.1.1: at most 2^16 blocks a packet). */
static void icm_advance(struct icm *c)
{
    if (++c->counter[BLOCK - 1] == 0)
        c->counter[BLOCK - 2]++;
}

/* Encryption and decryption are the same XOR with the keystream. */
static srtp_err_status_t icm_crypt(void *state, uint8_t *buf, unsigned int *len)
{
    struct icm *c = state;
    size_t n = *len, i = 0;
    while (i < n && c->used < BLOCK)
        buf[i++] ^= c->keystream[c->used++];
    while (i < n) {
        uint8_t ctr[BATCH * BLOCK], ks[BATCH * BLOCK];
        size_t blocks = MIN((size_t)BATCH, (n - i + BLOCK - 1) / BLOCK);
        for (size_t b = 0; b < blocks; b++) {
            memcpy(ctr + b * BLOCK, c->counter, BLOCK);
            icm_advance(c);
        }
        aes128_encrypt(&c->aes, blocks * BLOCK, ks, ctr);
        size_t take = MIN(blocks * BLOCK, n - i);
        memxor(buf + i, ks, take);
        i += take;
        if (take < blocks * BLOCK) { /* only the last block is partly used */
            memcpy(c->keystream, ks + (blocks - 1) * BLOCK, BLOCK);
            c->used = (unsigned)(take - (blocks - 1) * BLOCK);
        }
    }
    return srtp_err_status_ok;
}

/* RFC 3711 B.2: the first two keystream blocks of the test key and salt (IV zero). */
static const uint8_t icm_test_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
    0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static uint8_t icm_test_iv[BLOCK];
static const uint8_t icm_test_plain[32];
static const uint8_t icm_test_cipher[32] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
static const srtp_cipher_test_case_t icm_test = {
    .key_length_octets = SRTP_AES_ICM_128_KEY_LEN_WSALT,
    .key = icm_test_key,
    .idx = icm_test_iv, /* libsrtp2's type wants it writable; it is only read */
    .plaintext_length_octets = sizeof(icm_test_plain),
    .plaintext = icm_test_plain,
    .ciphertext_length_octets = sizeof(icm_test_cipher),
    .ciphertext = icm_test_cipher,
};

static const srtp_cipher_type_t icm_type = {
    .alloc = icm_alloc,
    .dealloc = icm_dealloc,
    .init = icm_init,
    .encrypt = icm_crypt,
    .decrypt = icm_crypt,
    .set_iv = icm_set_iv,
    .description = "AES-128 integer counter mode (nettle)",
    .test_data = &icm_test,
    .id = SRTP_AES_ICM_128,
};

/* ------------------------------------------------------------------- HMAC-SHA1 --- */

struct hmac {
    srtp_auth_t auth;
    struct hmac_sha1_ctx ctx; /* keyed; ctx.state restarts from ctx.inner */
};

static const srtp_auth_type_t mac_type;

static srtp_err_status_t mac_alloc(srtp_auth_pointer_t *ap, int key_len, int out_len)
{
    if (key_len < 0 || key_len > SHA1_DIGEST_SIZE || out_len < 0 || out_len > SHA1_DIGEST_SIZE)
        return srtp_err_status_bad_param;
    struct hmac *h = g_new0(struct hmac, 1);
    h->auth.type = &mac_type;
    h->auth.state = h;
    h->auth.key_len = key_len;
    h->auth.out_len = out_len;
    h->auth.prefix_len = 0;
    *ap = &h->auth;
    return srtp_err_status_ok;
}

static srtp_err_status_t mac_dealloc(srtp_auth_pointer_t ap)
{
    struct hmac *h = ap->state;
    explicit_bzero(h, sizeof(*h));
    g_free(h);
    return srtp_err_status_ok;
}

static srtp_err_status_t mac_init(void *state, const uint8_t *key, int key_len)
{
    struct hmac *h = state;
    hmac_sha1_set_key(&h->ctx, (size_t)key_len, key);
    return srtp_err_status_ok;
}

static srtp_err_status_t mac_start(void *state)
{
    struct hmac *h = state;
    h->ctx.state = h->ctx.inner;
    return srtp_err_status_ok;
}

static srtp_err_status_t mac_update(void *state, const uint8_t *buf, int len)
{
    struct hmac *h = state;
    hmac_sha1_update(&h->ctx, (size_t)len, buf);
    return srtp_err_status_ok;
}

static srtp_err_status_t mac_compute(void *state, const uint8_t *buf, int len, int tag_len,
                                     uint8_t *tag)
{
    struct hmac *h = state;
    if (tag_len < 0 || tag_len > SHA1_DIGEST_SIZE)
        return srtp_err_status_bad_param;
    uint8_t digest[SHA1_DIGEST_SIZE];
    hmac_sha1_update(&h->ctx, (size_t)len, buf);
    hmac_sha1_digest(&h->ctx, sizeof(digest), digest); /* also restarts ctx.state */
    memcpy(tag, digest, (size_t)tag_len);
    return srtp_err_status_ok;
}

/* RFC 2202 test case 1. */
static const uint8_t mac_test_key[20] = {0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                         0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                         0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
static const uint8_t mac_test_data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
static const uint8_t mac_test_tag[20] = {0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72,
                                         0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37,
                                         0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
static const srtp_auth_test_case_t mac_test = {
    .key_length_octets = sizeof(mac_test_key),
    .key = mac_test_key,
    .data_length_octets = sizeof(mac_test_data),
    .data = mac_test_data,
    .tag_length_octets = sizeof(mac_test_tag),
    .tag = mac_test_tag,
};

static const srtp_auth_type_t mac_type = {
    .alloc = mac_alloc,
    .dealloc = mac_dealloc,
    .init = mac_init,
    .compute = mac_compute,
    .update = mac_update,
    .start = mac_start,
    .description = "HMAC-SHA1 (nettle)",
    .test_data = &mac_test,
    .id = SRTP_HMAC_SHA1,
};

int sylk_srtp_crypto_install(void)
{
    /* libsrtp2 runs our test vectors and those of the type replaced before accepting. */
    srtp_err_status_t st = srtp_replace_cipher_type(&icm_type, SRTP_AES_ICM_128);
    if (st != srtp_err_status_ok) {
        g_warning("libsrtp2 refused the nettle AES-ICM-128 (status %d)", (int)st);
        return -EIO;
    }
    st = srtp_replace_auth_type(&mac_type, SRTP_HMAC_SHA1);
    if (st != srtp_err_status_ok) {
        g_warning("libsrtp2 refused the nettle HMAC-SHA1 (status %d)", (int)st);
        return -EIO;
    }
    return 0;
}
