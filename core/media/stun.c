/*
 * stun.c — ICE-lite connectivity check answers (RFC 8445 §2.5, RFC 5389). See stun.h.
 */
#include "media/stun.h"

#include "media/bytes.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <string.h>

#define HEADER           20
#define MAGIC_COOKIE     0x2112A442u
#define BINDING_REQUEST  0x0001
#define BINDING_SUCCESS  0x0101
#define ATTR_USERNAME    0x0006
#define ATTR_INTEGRITY   0x0008
#define ATTR_XOR_MAPPED  0x0020
#define ATTR_USE_CAND    0x0025
#define ATTR_FINGERPRINT 0x8028
#define INTEGRITY_LEN    20
#define FINGERPRINT_XOR  0x5354554eu

/* CRC-32 (ISO-HDLC, as zlib's), bit by bit: a check is a hundred bytes, a few per second. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The header of a well-formed STUN message: type, and the attributes' length. */
static bool header_ok(const uint8_t *m, size_t len, uint16_t *type, size_t *body)
{
    if (len < HEADER || (m[0] & 0xC0) != 0 || sylk_rd32(m + 4) != MAGIC_COOKIE)
        return false;
    *type = sylk_rd16(m);
    *body = sylk_rd16(m + 2);
    return *body % 4 == 0 && HEADER + *body == len;
}

/* Walks the attributes: the offset of the first of `want`, or 0 (none, or malformed). */
static size_t find_attr(const uint8_t *m, size_t len, uint16_t want)
{
    size_t off = HEADER;
    while (off + 4 <= len) {
        uint16_t type = sylk_rd16(m + off), alen = sylk_rd16(m + off + 2);
        size_t next = off + 4 + ((alen + 3u) & ~3u);
        if (next > len)
            return 0;
        if (type == want)
            return off;
        off = next;
    }
    return 0;
}

/* HMAC-SHA1 of m[0..end) with the header's length field set to `length`. */
static int integrity_of(const uint8_t *m, size_t end, uint16_t length, const char *pwd,
                        uint8_t digest[INTEGRITY_LEN])
{
    uint8_t copy[HEADER];
    memcpy(copy, m, HEADER);
    sylk_wr16(copy + 2, length);
    gnutls_hmac_hd_t h;
    if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA1, pwd, strlen(pwd)) < 0)
        return -ENOMEM;
    int rc = gnutls_hmac(h, copy, HEADER);
    if (rc == 0 && end > HEADER)
        rc = gnutls_hmac(h, m + HEADER, end - HEADER);
    gnutls_hmac_deinit(h, digest);
    return rc < 0 ? -EINVAL : 0;
}

/* RFC 5389 §15.4-15.5: MESSAGE-INTEGRITY keyed with pwd, then FINGERPRINT if there. */
static bool message_authentic(const uint8_t *m, size_t len, const char *pwd)
{
    size_t mi = find_attr(m, len, ATTR_INTEGRITY);
    if (!mi || sylk_rd16(m + mi + 2) != INTEGRITY_LEN)
        return false;
    uint8_t digest[INTEGRITY_LEN];
    size_t mi_end = mi + 4 + INTEGRITY_LEN;
    if (integrity_of(m, mi, (uint16_t)(mi_end - HEADER), pwd, digest) < 0 ||
        memcmp(digest, m + mi + 4, INTEGRITY_LEN) != 0)
        return false;
    size_t fp = find_attr(m, len, ATTR_FINGERPRINT);
    if (fp) { /* last, over everything before it: the header's length already covers it */
        if (fp < mi_end || sylk_rd16(m + fp + 2) != 4 || fp + 8 != len ||
            (crc32_of(m, fp) ^ FINGERPRINT_XOR) != sylk_rd32(m + fp + 4))
            return false;
    }
    return true;
}

/* A check to us: USERNAME "ufrag:…" before the integrity, which is keyed with our password. */
static bool request_authentic(const uint8_t *m, size_t len, const char *ufrag, const char *pwd)
{
    size_t user = find_attr(m, len, ATTR_USERNAME);
    size_t mi = find_attr(m, len, ATTR_INTEGRITY);
    if (!user || !mi || user > mi)
        return false;
    size_t ulen = sylk_rd16(m + user + 2), flen = strlen(ufrag);
    if (ulen <= flen || memcmp(m + user + 4, ufrag, flen) != 0 || m[user + 4 + flen] != ':')
        return false;
    return message_authentic(m, len, pwd);
}

/* XOR-MAPPED-ADDRESS of `from` at out; its length with the attribute header, or -errno. */
static ssize_t put_xor_mapped(uint8_t *out, const uint8_t *tid, const struct sockaddr *from)
{
    sylk_wr16(out, ATTR_XOR_MAPPED);
    out[4] = 0;
    if (from->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)from;
        sylk_wr16(out + 2, 8);
        out[5] = 0x01;
        sylk_wr16(out + 6, (uint16_t)(ntohs(a->sin_port) ^ (MAGIC_COOKIE >> 16)));
        sylk_wr32(out + 8, ntohl(a->sin_addr.s_addr) ^ MAGIC_COOKIE);
        return 12;
    }
    if (from->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
        uint8_t key[16];
        sylk_wr32(key, MAGIC_COOKIE);
        memcpy(key + 4, tid, 12);
        sylk_wr16(out + 2, 20);
        out[5] = 0x02;
        sylk_wr16(out + 6, (uint16_t)(ntohs(a->sin6_port) ^ (MAGIC_COOKIE >> 16)));
        for (int i = 0; i < 16; i++)
            out[8 + i] = a->sin6_addr.s6_addr[i] ^ key[i];
        return 24;
    }
    return -EAFNOSUPPORT;
}

/* Appends MESSAGE-INTEGRITY (keyed with pwd) and FINGERPRINT to the message of `off` bytes at
 * out, and sets the header's length: the message's whole length, or -ENOMEM. */
static ssize_t sign(uint8_t *out, size_t off, const char *pwd)
{
    sylk_wr16(out + off, ATTR_INTEGRITY);
    sylk_wr16(out + off + 2, INTEGRITY_LEN);
    size_t mi_end = off + 4 + INTEGRITY_LEN;
    if (integrity_of(out, off, (uint16_t)(mi_end - HEADER), pwd, out + off + 4) < 0)
        return -ENOMEM;
    size_t total = mi_end + 8;
    sylk_wr16(out + 2, (uint16_t)(total - HEADER));
    sylk_wr16(out + mi_end, ATTR_FINGERPRINT);
    sylk_wr16(out + mi_end + 2, 4);
    sylk_wr32(out + mi_end + 4, crc32_of(out, mi_end) ^ FINGERPRINT_XOR);
    return (ssize_t)total;
}

ssize_t sylk_stun_ice_answer(const uint8_t *req, size_t len, const char *ufrag, const char *pwd,
                             const struct sockaddr *from, uint8_t *out)
{
    uint16_t type;
    size_t body;
    if (!req || !out || !from || !header_ok(req, len, &type, &body) || type != BINDING_REQUEST)
        return -EPROTO;
    if (!ufrag || !pwd || !*ufrag || !*pwd || !request_authentic(req, len, ufrag, pwd))
        return -EACCES;
    sylk_wr16(out, BINDING_SUCCESS);
    sylk_wr32(out + 4, MAGIC_COOKIE);
    memcpy(out + 8, req + 8, 12);
    ssize_t n = put_xor_mapped(out + HEADER, req + 8, from);
    if (n < 0)
        return n;
    return sign(out, HEADER + (size_t)n, pwd);
}

bool sylk_stun_use_candidate(const uint8_t *req, size_t len)
{
    uint16_t type;
    size_t body;
    return header_ok(req, len, &type, &body) && type == BINDING_REQUEST &&
           find_attr(req, len, ATTR_USE_CAND) != 0;
}

#define ATTR_PRIORITY    0x0024
#define ATTR_CONTROLLING 0x802A

ssize_t sylk_stun_ice_request(const char *remote_ufrag, const char *local_ufrag,
                              const char *remote_pwd, uint32_t priority, uint64_t tiebreaker,
                              const uint8_t tid[12], uint8_t *out)
{
    if (!remote_ufrag || !local_ufrag || !remote_pwd || !*remote_pwd || !tid || !out)
        return -EINVAL;
    size_t ulen = strlen(remote_ufrag) + 1 + strlen(local_ufrag);
    if (ulen > 200)
        return -EINVAL;
    sylk_wr16(out, BINDING_REQUEST);
    sylk_wr32(out + 4, MAGIC_COOKIE);
    memcpy(out + 8, tid, 12);
    size_t off = HEADER;
    sylk_wr16(out + off, ATTR_USERNAME);
    sylk_wr16(out + off + 2, (uint16_t)ulen);
    size_t rlen = strlen(remote_ufrag);
    memcpy(out + off + 4, remote_ufrag, rlen);
    out[off + 4 + rlen] = ':';
    memcpy(out + off + 5 + rlen, local_ufrag, ulen - rlen - 1);
    off += 4 + ulen;
    while (off % 4)
        out[off++] = 0;
    sylk_wr16(out + off, ATTR_PRIORITY);
    sylk_wr16(out + off + 2, 4);
    sylk_wr32(out + off + 4, priority);
    off += 8;
    sylk_wr16(out + off, ATTR_CONTROLLING);
    sylk_wr16(out + off + 2, 8);
    sylk_wr32(out + off + 4, (uint32_t)(tiebreaker >> 32));
    sylk_wr32(out + off + 8, (uint32_t)tiebreaker);
    off += 12;
    sylk_wr16(out + off, ATTR_USE_CAND);
    sylk_wr16(out + off + 2, 0);
    off += 4;
    return sign(out, off, remote_pwd);
}

bool sylk_stun_check_answered(const uint8_t *m, size_t len, const uint8_t tid[12],
                              const char *remote_pwd)
{
    uint16_t type;
    size_t body;
    return m && tid && remote_pwd && header_ok(m, len, &type, &body) && type == BINDING_SUCCESS &&
           memcmp(m + 8, tid, 12) == 0 && message_authentic(m, len, remote_pwd);
}
