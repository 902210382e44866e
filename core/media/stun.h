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

#define SYLK_STUN_MAX_REQUEST 256

/**
 * A connectivity check of the controlling agent (RFC 8445 §7.2.2, aggressive nomination):
 * a Binding Request with USERNAME "remote_ufrag:local_ufrag", PRIORITY, ICE-CONTROLLING
 * (tiebreaker), USE-CANDIDATE, MESSAGE-INTEGRITY keyed with the peer's `remote_pwd`, and
 * FINGERPRINT, with transaction id `tid`, into `out` (SYLK_STUN_MAX_REQUEST bytes). Its
 * length, or -EINVAL (a username over 200 bytes, an empty password) or -ENOMEM.
 */
ssize_t sylk_stun_ice_request(const char *remote_ufrag, const char *local_ufrag,
                              const char *remote_pwd, uint32_t priority, uint64_t tiebreaker,
                              const uint8_t tid[12], uint8_t *out);

/**
 * Whether `m` is the Binding Success Response to our check `tid`, with a MESSAGE-INTEGRITY
 * keyed with the peer's `remote_pwd` (and a right FINGERPRINT when present).
 */
bool sylk_stun_check_answered(const uint8_t *m, size_t len, const uint8_t tid[12],
                              const char *remote_pwd);

#endif
