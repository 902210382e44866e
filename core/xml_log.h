/*
 * xml_log.h — libxml2's error reports routed to our log. libxml2 (2.9) writes parser, encoding
 * and I/O errors to stderr through per-thread handlers unless told otherwise, and some of them
 * (an encoding error in a document a peer sent: "encoding error : input conversion failed")
 * ignore XML_PARSE_NOERROR. Installed on a thread, this sends every report libxml2 makes there —
 * in our parsers (is-composing, XMPP) and in plugins' (they run on the main thread and share the
 * process's libxml2) — to g_debug in the "sylk-xml" domain, at most one line per
 * SYLK_XML_LOG_INTERVAL_S seconds: a peer cannot flood the log, and the next line says how
 * many reports were not logged. Who parses is still told by its own return values.
 *
 * Thread: any thread that uses libxml2 installs it for itself, with its own struct
 * (the main thread's belongs to the server). No locking: a struct is used by its thread only.
 */
#ifndef SYLK_XML_LOG_H
#define SYLK_XML_LOG_H

#include <glib.h>

#define SYLK_XML_LOG_INTERVAL_S 10

struct sylk_xml_log {
    gint64 logged_at;    /* monotonic time of the last line logged, 0: none yet */
    guint64 reports;     /* every report libxml2 made on the thread */
    guint64 lines;       /* lines logged */
    unsigned suppressed; /* reports since the last line that were not logged */
};

/** Initialises libxml2 (once per process) and routes this thread's reports to `log`. */
void sylk_xml_log_install(struct sylk_xml_log *log);

/** Gives this thread's reports back to libxml2's defaults (before `log` goes away). */
void sylk_xml_log_uninstall(void);

#endif
