/*
 * probe_endpoint.h — the probe's SDK 1.8 media endpoint commands (probe_endpoint.c).
 */
#ifndef PROBE_ENDPOINT_H
#define PROBE_ENDPOINT_H

#include <stdbool.h>
#include <sylk/host.h>

/** Runs an X-Probe endpoint-… command; false when it is not its own. */
bool probe_endpoint_command(const struct sylk_host *host, const char *command,
                            const struct sylk_request_info *request);

/** Takes an INVITE to sip:epbridge-TAG@… (true), or leaves it (false). */
bool probe_endpoint_session(const struct sylk_host *host, sylk_session *session, const char *user);

/** Frees the endpoints and mixers left. */
void probe_endpoint_shutdown(void);

#endif
