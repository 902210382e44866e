/*
 * tls.h — server TLS credentials (gnutls) for MSRP (and later HTTPS/XMPP): a configured PEM
 * file with the certificate chain and its key, or a self-signed certificate made on first
 * start for the server's address and kept in the spool directory, so a loopback server works
 * out of the box and its clients see the same certificate across restarts.
 *
 * Thread: main thread (setup); the credentials are then read-only.
 */
#ifndef SYLK_TLS_H
#define SYLK_TLS_H

#include <gnutls/gnutls.h>

/**
 * Loads `pem` (certificate chain and private key), or when `pem` is NULL the self-signed one
 * in `<spool_dir>/tls/<name>.pem`, made first if absent (ECDSA P-256, 10 years, CN and
 * subjectAltName `host`). When that file cannot be written, the certificate is kept in
 * memory only (a warning says so) and `*used_path` is "(in memory)"; otherwise it names the
 * file used. 0, or a negative errno with *error.
 */
int sylk_tls_server_credentials(const char *pem, const char *spool_dir, const char *name,
                                const char *host, gnutls_certificate_credentials_t *out,
                                char **used_path, char **error);

#endif
