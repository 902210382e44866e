/*
 * config_ini.c — INI files with GKeyFile, with the line of every section and key for errors
 * (see config_ini.h).
 *
 * GKeyFile knows neither ';' comments (common in INI files, used by SylkServer) nor line
 * numbers, so each file is scanned once first: ';' comment lines become '#' ones, and the line
 * of every section and key is remembered for error messages. Lists are comma-separated.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-config"
#include "config_ini.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sylk_ini_free(struct sylk_ini *ini)
{
    if (!ini)
        return;
    g_free(ini->path);
    if (ini->kf)
        g_key_file_free(ini->kf);
    if (ini->lines)
        g_hash_table_destroy(ini->lines);
    g_free(ini);
}

static unsigned ini_line(const struct sylk_ini *ini, const char *section, const char *key)
{
    g_autofree char *k = key ? g_strdup_printf("%s\n%s", section, key) : g_strdup(section);
    return GPOINTER_TO_UINT(g_hash_table_lookup(ini->lines, k));
}

void G_GNUC_PRINTF(5, 6) sylk_ini_error(GPtrArray *errors, const struct sylk_ini *ini,
                                        const char *section, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    unsigned line = section ? ini_line(ini, section, key) : 0;
    if (key)
        g_ptr_array_add(errors,
                        g_strdup_printf("%s:%u: [%s] %s: %s", ini->path, line, section, key, why));
    else if (section)
        g_ptr_array_add(errors, g_strdup_printf("%s:%u: [%s]: %s", ini->path, line, section, why));
    else
        g_ptr_array_add(errors, g_strdup_printf("%s: %s", ini->path, why));
}

/* Rewrites ';' comments for GKeyFile and records line numbers. */
static char *ini_prescan(const char *text, GHashTable *lines)
{
    GString *out = g_string_new(NULL);
    g_auto(GStrv) rows = g_strsplit(text, "\n", -1);
    g_autofree char *section = NULL;
    for (unsigned i = 0; rows[i]; i++) {
        char *row = rows[i];
        const char *s = row + strspn(row, " \t");
        if (*s == ';') {
            g_string_append_printf(out, "#%s\n", s + 1);
            continue;
        }
        g_string_append_printf(out, "%s\n", row);
        if (*s == '[') {
            const char *end = strchr(s, ']');
            if (end) {
                g_free(section);
                section = g_strndup(s + 1, (gsize)(end - s - 1));
                g_hash_table_insert(lines, g_strdup(section), GUINT_TO_POINTER(i + 1));
            }
        } else if (*s && *s != '#' && section) {
            const char *eq = strchr(s, '=');
            if (eq) {
                g_autofree char *key = g_strstrip(g_strndup(s, (gsize)(eq - s)));
                g_hash_table_insert(lines, g_strdup_printf("%s\n%s", section, key),
                                    GUINT_TO_POINTER(i + 1));
            }
        }
    }
    return g_string_free(out, FALSE);
}

static bool parses(const char *text, gsize len)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    return g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, NULL);
}

/*
 * The line GKeyFile stopped at, which its messages do not say: the shortest run of leading
 * lines that fails to parse ends with it (GKeyFile reads line by line and stops at the first
 * bad one, so a run fails exactly when it holds that line). 0 when every run parses.
 */
static unsigned failing_line(const char *text)
{
    GArray *ends = g_array_new(FALSE, FALSE, sizeof(gsize)); /* offset after each line */
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        gsize end = (gsize)((nl ? nl + 1 : p + strlen(p)) - text);
        g_array_append_val(ends, end);
        p = text + end;
    }
    unsigned lo = 1, hi = ends->len, found = 0;
    while (lo <= hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (parses(text, g_array_index(ends, gsize, mid - 1))) {
            lo = mid + 1;
        } else {
            found = mid;
            hi = mid - 1;
        }
    }
    g_array_free(ends, TRUE);
    return found;
}

/* Returns NULL when the file cannot be read or parsed (error added). */
struct sylk_ini *sylk_ini_load(const char *path, GPtrArray *errors)
{
    struct sylk_ini *ini = g_new0(struct sylk_ini, 1);
    ini->path = g_strdup(path);
    ini->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        sylk_ini_error(errors, ini, NULL, NULL, "cannot read: %s", err->message);
        sylk_ini_free(ini);
        return NULL;
    }
    g_autofree char *clean = ini_prescan(text, ini->lines);
    ini->kf = g_key_file_new();
    if (!g_key_file_load_from_data(ini->kf, clean, (gsize)-1, G_KEY_FILE_NONE, &err)) {
        unsigned line = failing_line(clean);
        if (line)
            g_ptr_array_add(errors, g_strdup_printf("%s:%u: not a valid INI file: %s", path, line,
                                                    err->message));
        else
            sylk_ini_error(errors, ini, NULL, NULL, "not a valid INI file: %s", err->message);
        sylk_ini_free(ini);
        return NULL;
    }
    return ini;
}

char *sylk_ini_value(const struct sylk_ini *ini, const char *section, const char *key)
{
    char *v = g_key_file_get_value(ini->kf, section, key, NULL);
    return v ? g_strstrip(v) : NULL;
}

char **sylk_ini_split_list(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    GPtrArray *out = g_ptr_array_new();
    for (unsigned i = 0; parts[i]; i++) {
        char *p = g_strstrip(parts[i]);
        if (*p)
            g_ptr_array_add(out, g_strdup(p));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

bool sylk_ini_parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (g_ascii_strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool sylk_ini_parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end)
        return false;
    *out = n;
    return true;
}
