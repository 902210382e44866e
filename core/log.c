/*
 * log.c — GLib structured-log writer and sofia-sip log redirection. See log.h.
 */
#define G_LOG_DOMAIN "sylk"
#include "log.h"

#include <sofia-sip/su_log.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Exported by libsofia-sip-ua but not declared in its public headers. */
extern su_log_t nua_log[], nta_log[], tport_log[], soa_log[], nea_log[], sresolv_log[];

enum { SOFIA_GENERAL, SOFIA_TRACE };

bool sylk_log_level_parse(const char *name, GLogLevelFlags *level)
{
    static const struct {
        const char *name;
        GLogLevelFlags level;
    } levels[] = {
        {"error", G_LOG_LEVEL_CRITICAL},
        {"warning", G_LOG_LEVEL_WARNING},
        {"info", G_LOG_LEVEL_INFO},
        {"debug", G_LOG_LEVEL_DEBUG},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(levels); i++) {
        if (g_ascii_strcasecmp(name, levels[i].name) == 0) {
            *level = levels[i].level;
            return true;
        }
    }
    return false;
}

static const char *level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return "FATAL";
    if (level & G_LOG_LEVEL_CRITICAL)
        return "ERROR";
    if (level & G_LOG_LEVEL_WARNING)
        return "WARNING";
    if (level & G_LOG_LEVEL_MESSAGE)
        return "NOTICE";
    if (level & G_LOG_LEVEL_INFO)
        return "INFO";
    return "DEBUG";
}

/* GLogLevelFlags grow numerically as severity drops: ERROR=4 … DEBUG=128. */
static bool level_enabled(const struct sylk_log *log, GLogLevelFlags level)
{
    GLogLevelFlags l = level & G_LOG_LEVEL_MASK;
    /* Notices (start, ready, stop) are shown at every level. */
    return l <= log->max_level || l == G_LOG_LEVEL_MESSAGE;
}

static GLogWriterOutput write_line(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                   gpointer user_data)
{
    const struct sylk_log *log = user_data;
    if (!level_enabled(log, level))
        return G_LOG_WRITER_HANDLED;

    const char *domain = "sylk", *message = "";
    for (gsize i = 0; i < n_fields; i++) {
        if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].value)
            domain = fields[i].value;
        else if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].value)
            message = fields[i].value;
    }
    GDateTime *now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");
    int usec = g_date_time_get_microsecond(now);
    g_date_time_unref(now);

    g_autofree char *line = g_strdup_printf("%s.%03d %s %s: %s\n", stamp, usec / 1000,
                                            level_name(level), domain, message);
    /* One write per line keeps lines whole when media threads log concurrently. */
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    return G_LOG_WRITER_HANDLED;
}

void sylk_log_install(struct sylk_log *log)
{
    if (log->max_level == 0)
        log->max_level = G_LOG_LEVEL_INFO;
    g_log_set_writer_func(write_line, log, NULL);
}

bool sylk_log_would_write(const struct sylk_log *log, GLogLevelFlags level)
{
    return level_enabled(log, level);
}

void sylk_log_set_level(struct sylk_log *log, GLogLevelFlags level)
{
    log->max_level = level;
}

/* sofia-sip hands us printf fragments; emit a line each time one ends with a newline. */
static void sofia_logger(struct sylk_log *log, int kind, const char *fmt, va_list ap)
{
    GString **line = &log->sofia_line[kind];
    if (!*line)
        *line = g_string_new(NULL);
    g_string_append_vprintf(*line, fmt, ap);
    if ((*line)->len == 0 || (*line)->str[(*line)->len - 1] != '\n')
        return;
    g_string_truncate(*line, (*line)->len - 1);
    if (kind == SOFIA_TRACE)
        g_log("sylk-sip-trace", G_LOG_LEVEL_INFO, "%s", (*line)->str);
    else
        g_log("sylk-sofia", G_LOG_LEVEL_DEBUG, "%s", (*line)->str);
    g_string_truncate(*line, 0);
}

static void sofia_general(void *stream, const char *fmt, va_list ap)
{
    sofia_logger(stream, SOFIA_GENERAL, fmt, ap);
}

/* tport's message dump (TPTAG_LOG) goes through su_log_default. */
static void sofia_trace(void *stream, const char *fmt, va_list ap)
{
    sofia_logger(stream, SOFIA_TRACE, fmt, ap);
}

void sylk_log_redirect_sofia(struct sylk_log *log, bool trace_sip)
{
    su_log_t *modules[] = {nua_log, nta_log,     tport_log,    soa_log,
                           nea_log, sresolv_log, su_log_global};
    for (size_t i = 0; i < G_N_ELEMENTS(modules); i++) {
        su_log_redirect(modules[i], sofia_general, log);
        su_log_set_level(modules[i], log->max_level >= G_LOG_LEVEL_DEBUG ? 3 : 1);
    }
    su_log_redirect(su_log_default, trace_sip ? sofia_trace : sofia_general, log);
    su_log_set_level(su_log_default, trace_sip ? 3 : 1);
}

void sylk_log_unredirect_sofia(void)
{
    su_log_t *modules[] = {nua_log, nta_log,     tport_log,     soa_log,
                           nea_log, sresolv_log, su_log_global, su_log_default};
    for (size_t i = 0; i < G_N_ELEMENTS(modules); i++)
        su_log_redirect(modules[i], NULL, NULL);
}
