/*
 * log.c — GLib structured-log writer, its files (reopened on SIGHUP), sofia-sip log redirection
 * and the SIP trace assembled from it. See log.h.
 */
#define G_LOG_DOMAIN "sylk"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
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

const char *sylk_log_level_name(GLogLevelFlags level)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        return "error";
    if (level & G_LOG_LEVEL_WARNING)
        return "warning";
    if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
        return "info";
    return "debug";
}

static const char *level_label(GLogLevelFlags level)
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
    int max = atomic_load_explicit(&log->max_level, memory_order_relaxed);
    /* Notices (start, ready, stop) are shown at every level. */
    return (int)l <= max || l == G_LOG_LEVEL_MESSAGE;
}

/*
 * One write per record under the lock: records from several threads never mix, and a record
 * is never split between a file logrotate moved away and the new one.
 */
static void write_record(struct sylk_log *log, bool trace, const char *text, size_t len)
{
    g_mutex_lock(&log->lock);
    int fd = trace && log->trace_fd >= 0 ? log->trace_fd : log->fd;
    if (fd < 0)
        fd = STDERR_FILENO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    g_mutex_unlock(&log->lock);
}

/* "2026-12-03 18:39:19.056 LEVEL domain: text\n", written as one record. */
static void write_line(struct sylk_log *log, bool trace, const char *label, const char *domain,
                       const char *text)
{
    GDateTime *now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");
    int usec = g_date_time_get_microsecond(now);
    g_date_time_unref(now);
    g_autofree char *line =
        g_strdup_printf("%s.%03d %s %s: %s\n", stamp, usec / 1000, label, domain, text);
    write_record(log, trace, line, strlen(line));
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                               gpointer user_data)
{
    struct sylk_log *log = user_data;
    if (!level_enabled(log, level))
        return G_LOG_WRITER_HANDLED;

    const char *domain = "sylk", *message = "";
    for (gsize i = 0; i < n_fields; i++) {
        if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].value)
            domain = fields[i].value;
        else if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].value)
            message = fields[i].value;
    }
    write_line(log, false, level_label(level), domain, message);
    return G_LOG_WRITER_HANDLED;
}

void sylk_log_install(struct sylk_log *log)
{
    if (atomic_load(&log->max_level) == 0)
        atomic_store(&log->max_level, G_LOG_LEVEL_INFO);
    g_mutex_init(&log->lock);
    log->fd = log->trace_fd = -1;
    g_log_set_writer_func(writer, log, NULL);
}

static int open_file(const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot open %s: %s", path,
                    g_strerror(errno));
    return fd;
}

bool sylk_log_open(struct sylk_log *log, const char *path, const char *trace_path, GError **error)
{
    int fd = path ? open_file(path, error) : -1;
    if (path && fd < 0)
        return false;
    int trace_fd = trace_path ? open_file(trace_path, error) : -1;
    if (trace_path && trace_fd < 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    g_mutex_lock(&log->lock);
    log->fd = fd;
    log->trace_fd = trace_fd;
    g_mutex_unlock(&log->lock);
    log->path = g_strdup(path);
    log->trace_path = g_strdup(trace_path);
    return true;
}

/* The new file takes the old one's descriptor number, so no writer ever holds a stale one. */
static bool reopen_file(struct sylk_log *log, const char *path, int *fd, GError **error)
{
    if (!path)
        return true;
    int nfd = open_file(path, error);
    if (nfd < 0)
        return false;
    g_mutex_lock(&log->lock);
    int r = dup3(nfd, *fd, O_CLOEXEC);
    int saved = errno;
    g_mutex_unlock(&log->lock);
    close(nfd);
    if (r < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "cannot reopen %s: %s",
                    path, g_strerror(saved));
        return false;
    }
    return true;
}

bool sylk_log_reopen(struct sylk_log *log, GError **error)
{
    if (!reopen_file(log, log->path, &log->fd, error))
        return false;
    return reopen_file(log, log->trace_path, &log->trace_fd, error);
}

void sylk_log_close(struct sylk_log *log)
{
    g_mutex_lock(&log->lock);
    if (log->fd >= 0)
        close(log->fd);
    if (log->trace_fd >= 0)
        close(log->trace_fd);
    log->fd = log->trace_fd = -1;
    g_mutex_unlock(&log->lock);
    g_clear_pointer(&log->path, g_free);
    g_clear_pointer(&log->trace_path, g_free);
}

bool sylk_log_would_write(const struct sylk_log *log, GLogLevelFlags level)
{
    return level_enabled(log, level);
}

void sylk_log_set_level(struct sylk_log *log, GLogLevelFlags level)
{
    atomic_store_explicit(&log->max_level, (int)level, memory_order_relaxed);
}

/* ------------------------------------------------------------------ sofia's SIP trace --- */

static bool trace_stamp(const char *line)
{
    return (g_str_has_prefix(line, "recv ") || g_str_has_prefix(line, "send ")) &&
           strstr(line, " bytes ");
}

/* The rules tport draws above and below each message: spaces then a row of dashes. */
static bool trace_rule(const char *line)
{
    const char *s = line + strspn(line, " ");
    size_t dashes = strspn(s, "-");
    return dashes >= 16 && s[dashes] == '\0';
}

static void trace_flush(struct sylk_log *log)
{
    if (!log->trace_block)
        return;
    write_line(log, true, "TRACE", "sylk-sip-trace", log->trace_block->str);
    g_string_free(log->trace_block, TRUE);
    log->trace_block = NULL;
}

/*
 * tport dumps a message as a stamp line, a rule, the message's lines indented, and a rule:
 * they are gathered into one record (another stamp ends a message cut short).
 */
static void trace_line(struct sylk_log *log, const char *line)
{
    if (trace_stamp(line)) {
        trace_flush(log);
        log->trace_block = g_string_new(line);
        log->trace_rules = 0;
        return;
    }
    if (log->trace_block) {
        g_string_append_printf(log->trace_block, "\n%s", line);
        if (trace_rule(line) && ++log->trace_rules == 2)
            trace_flush(log);
        return;
    }
    if (strstr(line, "*** message truncated"))
        write_line(log, true, "TRACE", "sylk-sip-trace", line);
    else
        g_log("sylk-sofia", G_LOG_LEVEL_DEBUG, "%s", line);
}

/* sofia-sip hands us printf fragments: general logs are written when a fragment ends a line,
 * the trace line by line into its blocks. */
static void sofia_logger(struct sylk_log *log, int kind, const char *fmt, va_list ap)
{
    GString **line = &log->sofia_line[kind];
    if (!*line)
        *line = g_string_new(NULL);
    g_string_append_vprintf(*line, fmt, ap);
    if (kind == SOFIA_TRACE) {
        char *nl;
        while ((nl = memchr((*line)->str, '\n', (*line)->len))) {
            *nl = '\0';
            trace_line(log, (*line)->str);
            g_string_erase(*line, 0, nl - (*line)->str + 1);
        }
        return;
    }
    if ((*line)->len == 0 || (*line)->str[(*line)->len - 1] != '\n')
        return;
    g_string_truncate(*line, (*line)->len - 1);
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
    int level = atomic_load(&log->max_level) >= G_LOG_LEVEL_DEBUG ? 3 : 1;
    for (size_t i = 0; i < G_N_ELEMENTS(modules); i++) {
        su_log_redirect(modules[i], sofia_general, log);
        su_log_set_level(modules[i], level);
    }
    if (!trace_sip) {
        if (log->trace_block)
            g_string_free(log->trace_block, TRUE);
        log->trace_block = NULL;
        if (log->sofia_line[SOFIA_TRACE])
            g_string_truncate(log->sofia_line[SOFIA_TRACE], 0);
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

void sylk_log_clear_sofia(struct sylk_log *log)
{
    for (size_t i = 0; i < G_N_ELEMENTS(log->sofia_line); i++) {
        if (log->sofia_line[i])
            g_string_free(log->sofia_line[i], TRUE);
        log->sofia_line[i] = NULL;
    }
    if (log->trace_block)
        g_string_free(log->trace_block, TRUE);
    log->trace_block = NULL;
}
