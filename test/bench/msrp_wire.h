/*
 * msrp_wire — what the benchmarks' MSRP peers (msrp_peer, conference_chat) share: a client
 * connection over TLS (no certificate check) or plain TCP, non-blocking, with its output
 * queued and its input buffered, and a parser of RFC 4975 frames. Written from the RFC:
 * nothing of core/ or the server is used.
 *
 * Errors end the program (wire_fail: the program's name, the message, exit status 1): these
 * are benchmark drivers, for which anything unexpected makes the figures meaningless.
 */
#ifndef BENCH_MSRP_WIRE_H
#define BENCH_MSRP_WIRE_H

#include <glib.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>

struct wire_conn {
    int fd;
    gnutls_session_t tls; /* NULL over plain TCP */
    GByteArray *out;      /* queued to write, from out_off */
    size_t out_off;
    bool send_again; /* the last record send returned GNUTLS_E_AGAIN */
    GByteArray *in;  /* read, not yet parsed */
};

/** One frame as parsed: pointers into the input buffer, not NUL-terminated. */
struct wire_frame {
    const char *tid, *method, *to_path, *from_path, *byte_range, *failure_report;
    size_t tid_len, method_len, to_path_len, from_path_len, byte_range_len, failure_report_len;
    int status; /* a response: its code; a request: 0 */
    const guint8 *body;
    size_t body_len;
    char flag;
};

G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void wire_fail(const char *fmt, ...);

/** Connects to host:port, over TLS with `cred` (TLS handshake done), or TCP when NULL. */
void wire_connect(struct wire_conn *c, const char *host, const char *port,
                  gnutls_certificate_credentials_t cred);
void wire_close(struct wire_conn *c);
size_t wire_pending_out(const struct wire_conn *c);
/** Writes what is queued while the socket takes it, at most `limit` bytes. */
void wire_write_some(struct wire_conn *c, size_t limit);
/** Reads what has arrived, at most about `limit` bytes: the byte count (0: nothing yet). */
size_t wire_read_some(struct wire_conn *c, size_t limit);
/** Queues formatted text (a frame's start line and headers, a response). */
G_GNUC_PRINTF(2, 3) void wire_printf(struct wire_conn *c, const char *fmt, ...);
/** `len` random letters and digits and a NUL (transaction and message ids). */
void wire_random_id(char *out, size_t len);

/**
 * Parses one frame at buf: its length when whole, 0 when more is needed, -1 when it is not
 * MSRP or its headers pass max_header or its content max_body.
 */
gssize wire_parse_frame(const guint8 *buf, size_t len, size_t max_header, size_t max_body,
                        struct wire_frame *f);

#endif
