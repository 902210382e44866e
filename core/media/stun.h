/*
 * stun.h — the answering half of ICE-lite (RFC 8445 §2.5, RFC 5389): a STUN Binding Request
 * checked against our ICE credentials, and its Binding Success Response.
 *
 * Thread: pure functions, any thread (the media thread calls them per datagram).
 */
#ifndef SYLK_MEDIA_STUN_H
#define SYLK_MEDIA_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SYLK_STUN_MAX_RESPONSE 128

/**
 * Answers a connectivity check. `req`: a datagram of `len` bytes (RFC 7983 demultiplexed as
 * STUN). It must be a Binding Request whose USERNAME starts with "ufrag:" (our fragment first,
 * RFC 8445 §7.2.2), whose MESSAGE-INTEGRITY is the HMAC-SHA1 of the message keyed with `pwd`
 * (short-term credentials, RFC 5389 §15.4), and whose FINGERPRINT, when present, is right.
 * Writes the Binding Success Response (same transaction id; XOR-MAPPED-ADDRESS of `from`,
 * MESSAGE-INTEGRITY, FINGERPRINT) into `out` (at least SYLK_STUN_MAX_RESPONSE bytes).
 *
 * Returns the response's length; -EPROTO for what is not a well-formed Binding Request (an
 * indication, a response, a truncated attribute: dropped); -EACCES for a request that fails
 * the username, integrity or fingerprint check (dropped: RFC 8445 §7.3 lets an agent discard
 * those silently); -EAFNOSUPPORT for an address family that is neither IPv4 nor IPv6.
 */
ssize_t sylk_stun_ice_answer(const uint8_t *req, size_t len, const char *ufrag, const char *pwd,
                             const struct sockaddr *from, uint8_t *out);

/** Whether a Binding Request carries USE-CANDIDATE (the controlling agent nominates the pair). */
bool sylk_stun_use_candidate(const uint8_t *req, size_t len);

#endif
