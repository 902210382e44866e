/*
 * config_ini.h — INI files read for the server's configuration and the plugins' (config_ini.c):
 * values by section and key, the line of each for errors ("FILE:LINE: [section] key: why"),
 * and the value syntax every option shares (lists, booleans, integers). Not a public header:
 * config.c and config_plugin.c use it.
 *
 * Thread: main thread, while the configuration loads.
 */
#ifndef SYLK_CONFIG_INI_H
#define SYLK_CONFIG_INI_H

#include <glib.h>
#include <stdbool.h>

/* A parsed INI file with the line of every section and key. */
struct sylk_ini {
    char *path;
    GKeyFile *kf;
    GHashTable *lines; /* "section" or "section\nkey" → line number */
};

/** Reads and parses `path`; NULL when the file cannot be read or parsed (error added). */
struct sylk_ini *sylk_ini_load(const char *path, GPtrArray *errors);
void sylk_ini_free(struct sylk_ini *ini);
/** The value of `key` in `section`, stripped (g_free), or NULL when it is not there. */
char *sylk_ini_value(const struct sylk_ini *ini, const char *section, const char *key);
/** Appends "FILE:LINE: [section] key: why" to `errors` (section and key may be NULL). */
void G_GNUC_PRINTF(5, 6) sylk_ini_error(GPtrArray *errors, const struct sylk_ini *ini,
                                        const char *section, const char *key, const char *fmt, ...);

/** A comma-separated list, items stripped, empty ones left out (g_strfreev). */
char **sylk_ini_split_list(const char *value);
/** true/yes/on/1 or false/no/off/0, any case; false when `v` is neither. */
bool sylk_ini_parse_bool(const char *v, bool *out);
/** A whole decimal integer; false for anything else. */
bool sylk_ini_parse_long(const char *v, long *out);

#endif
