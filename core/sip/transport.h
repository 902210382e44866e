/*
 * transport.h — limits on the SIP transports that sofia-sip's tport does not enforce itself:
 * the size of the UDP socket's receive buffer, TCP and TLS connections per source address,
 * and messages that take longer than [sip] message_timeout to arrive (one byte a second).
 * The idle and per-gap timeouts are sofia's own (TPTAG_IDLE, TPTAG_TIMEOUT in stack.c).
 *
 * sofia-sip 1.12 has neither a hook where tport accepts a connection nor a public way from nua
 * to its tports (nua keeps its nta agent private), so this module finds the transports' sockets
 * among the process's file descriptors by their local address ([sip] local_ip and ports). The
 * UDP socket gets its buffer once after nua_create. Connections are looked at when a listening
 * socket becomes readable (right after sofia accepted) and once a second: one over the limit
 * for its address, or one that has been receiving a message longer than message_timeout with
 * nothing sent back (TCP_INFO byte counters), is shut down (shutdown(2), never close(2): sofia
 * sees end of stream and closes it itself). Each such event is counted and logged, at most one
 * line per kind every 10 s.
 *
 * Main thread only (sofia's sockets are read and closed on it too, so a descriptor found in a
 * scan is still the same socket when it is shut down).
 */
#ifndef SYLK_SIP_TRANSPORT_H
#define SYLK_SIP_TRANSPORT_H

#include "config.h"

#include <glib.h>

struct sylk_counters;
struct sylk_sip_transport;

/**
 * After nua_create bound the transports: sizes the UDP receive buffer (logged; a warning when
 * the kernel grants less) and starts the connection limits when TCP or TLS listens. NULL when
 * there is nothing to watch (no TCP/TLS, or no limits set).
 */
struct sylk_sip_transport *sylk_sip_transport_start(const struct sylk_server_config *config,
                                                    struct sylk_counters *counters);

/** Stops watching (connections stay as they are; sofia closes them). NULL is ignored. */
void sylk_sip_transport_stop(struct sylk_sip_transport *t);

#endif
