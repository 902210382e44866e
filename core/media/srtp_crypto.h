/*
 * srtp_crypto.h — the two primitives our SRTP suites need (AES-128 counter mode and HMAC-SHA1),
 * on nettle, installed into libsrtp2 in place of its own.
 *
 * Why: Debian's libsrtp2 does its crypto through NSS, which creates and destroys a PKCS #11
 * context per packet and looks sessions and keys up in fixed-size hash tables (32 buckets
 * as libsrtp2 initialises NSS): the cost of each packet grows with the number of SRTP contexts
 * alive in the process, so a room of 500 cost three times as much per participant as a room of
 * 100. Here each context holds its expanded AES key and keyed HMAC state: no allocation, lock
 * or lookup per packet. libsrtp2 keeps the protocol (key derivation, ROC, replay, SRTCP); it
 * checks both primitives against its own test vectors when they are installed.
 *
 * Thread: sylk_srtp_crypto_install() once at start-up, after srtp_init() and before any
 * context exists; the contexts themselves belong to the thread of their SRTP context.
 */
#ifndef SYLK_SRTP_CRYPTO_H
#define SYLK_SRTP_CRYPTO_H

/** Replaces libsrtp2's AES-ICM-128 and HMAC-SHA1; 0 or -EIO (a self-test failed). */
int sylk_srtp_crypto_install(void);

#endif
