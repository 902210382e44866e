/*
 * probe_sdk18.h — the probe's SDK 1.8 parts (probe_sdk18.c): NICKNAMEs sent on a chat stream,
 * REFERs sent as the referrer. Main thread only.
 */
#ifndef PROBE_SDK18_H
#define PROBE_SDK18_H

#include <stdbool.h>
#include <sylk/sylk.h>

/** Runs an X-Probe command it knows (refer, refer-cancel); false when it is not its own. */
bool probe_sdk18_command(const struct sylk_host *host, const char *command,
                         const struct sylk_request_info *request);

/** Takes an INVITE to sip:nickprobe@… (true), or leaves it (false). */
bool probe_sdk18_session(const struct sylk_host *host, sylk_session *session, const char *user);

/** Cancels the REFERs still under way. */
void probe_sdk18_shutdown(void);

#endif
