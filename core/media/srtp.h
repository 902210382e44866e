/*
 * srtp.h — SRTP (RFC 3711) through libsrtp2, keyed by SDES (RFC 4568): the a=crypto attribute,
 * parsed and generated, and one protect/unprotect context per stream for RTP and RTCP.
 * Suites: AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32. libsrtp2 does the protocol; its
 * AES-CM and HMAC-SHA1 are ours on nettle (media/srtp_crypto.h says why).
 *
 * Thread: parsing anywhere; a context belongs to the media thread of its stream.
 * sylk_srtp_library_init() runs once at start-up (server.c) before any context exists.
 */
#ifndef SYLK_SRTP_H
#define SYLK_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYLK_SRTP_MASTER_LEN  30 /* 16-byte key followed by a 14-byte salt */
#define SYLK_SRTP_MAX_TRAILER 16 /* bytes protect may add (auth tag, no MKI) */

enum sylk_srtp_suite {
    SYLK_SRTP_NONE = 0,
    SYLK_SRTP_AES_CM_128_HMAC_SHA1_80 = 1,
    SYLK_SRTP_AES_CM_128_HMAC_SHA1_32 = 2,
};

/** One a=crypto line (its value after "crypto:"). */
struct sylk_sdes {
    unsigned tag;
    enum sylk_srtp_suite suite;
    uint8_t master[SYLK_SRTP_MASTER_LEN];
};

/** Initialises libsrtp2; 0 or -EIO. */
int sylk_srtp_library_init(void);

const char *sylk_srtp_suite_name(enum sylk_srtp_suite suite);
enum sylk_srtp_suite sylk_srtp_suite_parse(const char *name);

/**
 * Parses "1 AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>[|lifetime][|MKI:len]".
 * Returns 0, -ENOTSUP for a well-formed line of another suite or with an MKI, -EINVAL with
 * `*error` set (g_free) otherwise.
 */
int sylk_sdes_parse(const char *value, struct sylk_sdes *out, char **error);

/** A fresh random master key and salt for `suite`. */
int sylk_sdes_generate(struct sylk_sdes *out, unsigned tag, enum sylk_srtp_suite suite);

/** The attribute value for `sdes` (g_free). */
char *sylk_sdes_format(const struct sylk_sdes *sdes);

struct sylk_srtp;

/** Outbound keyed with `local`, inbound with `remote` (both of the same suite). */
int sylk_srtp_new(const struct sylk_sdes *local, const struct sylk_sdes *remote,
                  struct sylk_srtp **out);
void sylk_srtp_free(struct sylk_srtp *srtp);

/**
 * Drops the per-SSRC state libsrtp made for `ssrc` (in both directions). Contexts accept any
 * SSRC and keep state for each one, so the owner bounds them (see media/rtp.c).
 */
void sylk_srtp_forget(struct sylk_srtp *srtp, uint32_t ssrc);

/** In place; `*len` grows by the trailer; `cap` is the buffer size. 0 or negative errno. */
int sylk_srtp_protect(struct sylk_srtp *srtp, uint8_t *packet, size_t *len, size_t cap);
/** In place; -EBADMSG on an authentication failure or a replay. */
int sylk_srtp_unprotect(struct sylk_srtp *srtp, uint8_t *packet, size_t *len);
int sylk_srtp_protect_rtcp(struct sylk_srtp *srtp, uint8_t *packet, size_t *len, size_t cap);
int sylk_srtp_unprotect_rtcp(struct sylk_srtp *srtp, uint8_t *packet, size_t *len);

#endif
