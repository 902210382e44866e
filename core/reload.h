/*
 * reload.h — what SIGHUP does while the server runs: the log files are reopened (logrotate
 * moves them, then sends SIGHUP), and the configuration file is read again for `log_level`
 * and `trace_sip`, which apply at once. Any other change in the file is reported in one log
 * line as needing a restart; a file that no longer loads keeps the running values and its
 * errors are logged as "FILE:LINE: [section] key: why".
 *
 * Thread: main thread (a g_unix_signal_add source).
 */
#ifndef SYLK_RELOAD_H
#define SYLK_RELOAD_H

#include <glib.h>

struct sylk_server;

/* The file's values the running server was started with (its other options' baseline). */
struct sylk_reload {
    GHashTable *values; /* "[section] key" → value as written, log_level and trace_sip aside */
};

/** Remembers the configuration file as it was loaded at start. */
void sylk_reload_init(struct sylk_reload *reload, const char *config_path);

/** SIGHUP: reopens the logs, applies log_level and trace_sip, reports other changes. */
void sylk_reload_run(struct sylk_reload *reload, struct sylk_server *server);

void sylk_reload_clear(struct sylk_reload *reload);

#endif
