/*
 * rtp.h — RTP/RTCP UDP socket pairs from the configured port range, and the loopback relay
 * the echo plugin uses (every RTP packet sent back to its source, optionally delayed).
 *
 * Thread: this first version runs on the main loop (GLib fd sources). The media engine moves
 * streams to media threads; the API stays.
 */
#ifndef SYLK_RTP_H
#define SYLK_RTP_H

#include <glib.h>
#include <stdint.h>
#include <sys/socket.h>

/** Hands out even/odd port pairs from [min, max], round robin. Owned by the server. */
struct sylk_rtp_ports {
    unsigned min, max, next;
};

struct sylk_rtp_stats {
    uint64_t packets_in, packets_out, bytes_in, dropped;
    int64_t last_in_us; /* monotonic time of the last packet accepted, 0 before any */
};

struct sylk_rtp_socket;

/** Binds an RTP/RTCP pair on `local_ip`; -EADDRINUSE when the range is exhausted. */
int sylk_rtp_open(struct sylk_rtp_ports *ports, const char *local_ip, struct sylk_rtp_socket **out);
unsigned sylk_rtp_port(const struct sylk_rtp_socket *s);
/** Where to send until packets arrive (symmetric RTP then follows their source). */
int sylk_rtp_set_remote(struct sylk_rtp_socket *s, const char *address, unsigned port);
struct sylk_srtp;
/** SRTP for this stream from now on (owned: freed with the socket or the next call). */
void sylk_rtp_set_srtp(struct sylk_rtp_socket *s, struct sylk_srtp *srtp);

/** Called on the main thread once per key press (RFC 4733 event end). */
typedef void (*sylk_rtp_dtmf_fn)(void *user_data, char digit, unsigned duration_ms);

/** Report telephone-events of payload type `pt` (clock `clock`); pt < 0 stops. */
void sylk_rtp_set_dtmf(struct sylk_rtp_socket *s, int pt, unsigned clock, sylk_rtp_dtmf_fn fn,
                       void *user_data);

/** Reflect every RTP packet back to where it came from, after delay_ms (0: at once). */
int sylk_rtp_loopback(struct sylk_rtp_socket *s, unsigned delay_ms);
const struct sylk_rtp_stats *sylk_rtp_stats(const struct sylk_rtp_socket *s);
void sylk_rtp_close(struct sylk_rtp_socket *s);

#endif
