/*
 * keys.h — the secrets of XMPP server authentication: dialback keys (XEP-0185, used by
 * XEP-0220), the component handshake (XEP-0114) and stream ids.
 *
 *   dialback key = hex(HMAC-SHA256(key = hex(SHA-256(secret)), "Receiving Originating StreamID"))
 *   handshake    = hex(SHA-1(StreamID + secret))
 * (hex: lower case; the HMAC key is the 64-character hex text, not the 32 bytes.)
 *
 * Thread: pure functions but xgw_stream_id (gnutls' random generator), any thread.
 */
#ifndef XMPPGW_KEYS_H
#define XMPPGW_KEYS_H

#include <stdbool.h>

#define XGW_DIALBACK_KEY_LEN 64 /* hex characters */
#define XGW_STREAM_ID_LEN    32 /* hex characters: 128 random bits */

/** hex(SHA-256(secret)): what dialback keys are made with (keep this, not the secret). */
char *xgw_dialback_secret_hash(const char *secret);

/** The key for the stream `id` that `originating` opened to `receiving` (a new string). */
char *xgw_dialback_key(const char *secret_hash, const char *receiving, const char *originating,
                       const char *id);

/** True when `key` is the one we make for (receiving, originating, id); constant time. */
bool xgw_dialback_key_valid(const char *secret_hash, const char *receiving, const char *originating,
                            const char *id, const char *key);

/** The XEP-0114 handshake for stream `id` (a new string). */
char *xgw_component_handshake(const char *id, const char *secret);

/** A fresh stream id: 128 bits from gnutls_rnd (GNUTLS_RND_NONCE) in hex; NULL on failure. */
char *xgw_stream_id(void);

/** A random secret of 256 bits in hex (the dialback secret when none is configured). */
char *xgw_random_secret(void);

#endif
