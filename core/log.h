/*
 * log.h — the server's GLib log writer: one line per message on stderr with time, level and
 * domain; a level filter; sofia-sip's own logs redirected into it.
 *
 * Thread: the writer may be called from any thread (GLib serialises nothing, so each line is
 * written with one write(2)); configuration happens on the main thread before other threads.
 */
#ifndef SYLK_LOG_H
#define SYLK_LOG_H

#include <glib.h>
#include <stdbool.h>

struct sylk_log {
    GLogLevelFlags max_level; /* messages above this (less severe) are dropped */
    GString *sofia_line[2];   /* sofia logs arrive in fragments: assembled per kind */
};

/** Parses "error", "warning", "info" or "debug"; returns false for anything else. */
bool sylk_log_level_parse(const char *name, GLogLevelFlags *level);

/** Installs the writer; `log` must outlive every logging call. */
void sylk_log_install(struct sylk_log *log);

/** True when a message at `level` would be written (callers skip formatting it otherwise). */
bool sylk_log_would_write(const struct sylk_log *log, GLogLevelFlags level);

void sylk_log_set_level(struct sylk_log *log, GLogLevelFlags level);

/** Sends sofia-sip's logs to ours; with trace_sip, every SIP message in and out is logged. */
void sylk_log_redirect_sofia(struct sylk_log *log, bool trace_sip);

/** Restores sofia-sip's default logging (before su_deinit). */
void sylk_log_unredirect_sofia(void);

#endif
