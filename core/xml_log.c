/*
 * xml_log.c — libxml2's reports to our log, rate-limited. See xml_log.h.
 */
#define G_LOG_DOMAIN "sylk-xml"
#include "xml_log.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdarg.h>

#define MAX_REPORT 300 /* bytes of a report kept in the line: they quote what the peer sent */

/* One line, unless one was logged less than SYLK_XML_LOG_INTERVAL_S ago. */
static void report(struct sylk_xml_log *log, const char *what, const char *message)
{
    log->reports++;
    gint64 now = g_get_monotonic_time();
    if (log->logged_at && now - log->logged_at < SYLK_XML_LOG_INTERVAL_S * G_USEC_PER_SEC) {
        log->suppressed++;
        return;
    }
    g_autofree char *text = g_strstrip(g_strndup(message ? message : "", MAX_REPORT));
    g_autofree char *safe = g_utf8_make_valid(text, -1);
    for (char *p = safe; *p; p++) {
        if ((unsigned char)*p < 0x20)
            *p = ' '; /* one line, whatever the report quotes */
    }
    if (log->suppressed)
        g_debug("libxml2 %s: %s (%u more report%s in the last %d s not logged)", what, safe,
                log->suppressed, log->suppressed == 1 ? "" : "s", SYLK_XML_LOG_INTERVAL_S);
    else
        g_debug("libxml2 %s: %s (more within %d s are not logged)", what, safe,
                SYLK_XML_LOG_INTERVAL_S);
    log->logged_at = now;
    log->lines++;
    log->suppressed = 0;
}

/* Errors and warnings with their details (nearly all of libxml2's reports come this way). */
static void on_structured(void *data, xmlErrorPtr e)
{
    g_autofree char *what = g_strdup_printf("%s %d (domain %d, line %d)",
                                            e->level == XML_ERR_WARNING ? "warning" : "error",
                                            e->code, e->domain, e->line);
    report(data, what, e->message);
}

/* The few reports libxml2 still prints through the generic handler. */
static void on_generic(void *data, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    report(data, "report", message);
}

void sylk_xml_log_install(struct sylk_xml_log *log)
{
    xmlInitParser();
    xmlSetStructuredErrorFunc(log, on_structured);
    xmlSetGenericErrorFunc(log, on_generic);
}

void sylk_xml_log_uninstall(void)
{
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlSetGenericErrorFunc(NULL, NULL);
}
