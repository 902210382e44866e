/*
 * probe_net.h — the probe's SDK 1.7 commands (probe_net.c): fd watches, resolve, subscribe.
 * Main thread only.
 */
#ifndef PROBE_NET_H
#define PROBE_NET_H

#include <stdbool.h>
#include <sylk/sylk.h>

/** Runs an X-Probe command it knows; false when the command is not one of its own. */
bool probe_net_command(const struct sylk_host *host, const char *command,
                       const struct sylk_request_info *request);

/** Closes the echo connections (the listener's watch is left for the core to remove). */
void probe_net_shutdown(void);

#endif
