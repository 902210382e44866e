/*
 * log.h — the server's GLib log writer: one record per message with time, level and domain,
 * on stderr or in [server] log_file; a level filter that may change while the server runs;
 * sofia-sip's own logs redirected into it, its SIP message dump (trace_sip) assembled into one
 * record per message, in the log or in [server] trace_file. SIGHUP reopens both files.
 *
 * Thread: the writer may be called from any thread (a mutex makes each record one whole write
 * to its file; the level is an atomic); everything else runs on the main thread.
 */
#ifndef SYLK_LOG_H
#define SYLK_LOG_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>

struct sylk_log {
    atomic_int max_level;    /* GLogLevelFlags: messages above this (less severe) are dropped */
    GMutex lock;             /* held for each record's write and while a file is reopened */
    int fd, trace_fd;        /* where records and SIP traces go; -1: stderr, the log */
    char *path, *trace_path; /* the files reopened on SIGHUP; NULL: stderr, the log */
    GString *sofia_line[2];  /* sofia logs arrive in fragments: assembled per kind */
    GString *trace_block;    /* the SIP message being dumped; NULL between messages */
    unsigned trace_rules;    /* separator lines seen in trace_block */
};

/** Parses "error", "warning", "info" or "debug"; returns false for anything else. */
bool sylk_log_level_parse(const char *name, GLogLevelFlags *level);

/** The name sylk_log_level_parse takes for `level` ("info" …). */
const char *sylk_log_level_name(GLogLevelFlags level);

/** Installs the writer (on stderr); `log` must outlive every logging call. */
void sylk_log_install(struct sylk_log *log);

/**
 * Opens the files records (`path`) and SIP traces (`trace_path`) go to from now on, appending;
 * NULL keeps stderr (traces: the log). Returns false with `error` set when one cannot be opened.
 */
bool sylk_log_open(struct sylk_log *log, const char *path, const char *trace_path, GError **error);

/**
 * Opens both files again at their paths (after logrotate moved them): records written from any
 * thread meanwhile go whole to the old file or the new one. On failure the old file stays in
 * use and `error` says why.
 */
bool sylk_log_reopen(struct sylk_log *log, GError **error);

/** Closes the files (at exit, after the last thread that logs). */
void sylk_log_close(struct sylk_log *log);

/** True when a message at `level` would be written (callers skip formatting it otherwise). */
bool sylk_log_would_write(const struct sylk_log *log, GLogLevelFlags level);

/** Any thread may log meanwhile; sofia's own levels follow at the next redirect. */
void sylk_log_set_level(struct sylk_log *log, GLogLevelFlags level);

/**
 * Sends sofia-sip's logs to ours, at levels following ours. With trace_sip, every SIP message
 * sofia's transports send or receive (TPTAG_LOG) is written as one record: "recv|send N bytes
 * from|to PROTO/[ADDRESS]:PORT at TIME:", then the message indented, between two rules. Called
 * again to switch tracing or follow a new level.
 */
void sylk_log_redirect_sofia(struct sylk_log *log, bool trace_sip);

/** Restores sofia-sip's default logging (before su_deinit). */
void sylk_log_unredirect_sofia(void);

/** Frees what the sofia redirection assembled (at exit). */
void sylk_log_clear_sofia(struct sylk_log *log);

#endif
