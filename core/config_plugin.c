/*
 * config_plugin.c — a plugin's configuration file, `<plugin>.ini` (see config.h): validated
 * against the option table the plugin declares (unknown keys, integers and their range,
 * booleans) with file:line errors, and its values handed to the plugin through the SDK.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-config"
#include "config.h"

#include "config_ini.h"

#include <string.h>

struct sylk_config {
    struct sylk_ini *ini; /* NULL when the plugin has no file */
    GHashTable *strings;  /* "section\nkey" → char *, values handed out */
    GHashTable *lists;    /* "section\nkey" → char ** */
    char **sections;
};

/* Entries are stepped through by their struct_size so that fields can be appended later. */
static const struct sylk_config_option *next_option(const struct sylk_config_option *o)
{
    return (const struct sylk_config_option *)((const char *)o + o->struct_size);
}

/* A table whose entries do not say their size cannot be walked safely. */
static bool options_valid(const struct sylk_config_option *opts)
{
    size_t min = offsetof(struct sylk_config_option, description) + sizeof(opts->description);
    for (const struct sylk_config_option *o = opts;; o = next_option(o)) {
        if (o->struct_size < min || o->struct_size > 4096)
            return false;
        if (!o->key)
            return true;
    }
}

static const struct sylk_config_option *find_plugin_option(const struct sylk_config_option *opts,
                                                           const char *section, const char *key)
{
    bool named = false;
    for (const struct sylk_config_option *o = opts; o->key; o = next_option(o))
        named |= o->section && strcmp(o->section, section) == 0;
    for (const struct sylk_config_option *o = opts; o->key; o = next_option(o)) {
        bool section_ok = o->section ? strcmp(o->section, section) == 0 : !named;
        if (section_ok && strcmp(o->key, key) == 0)
            return o;
    }
    return NULL;
}

/* The plugin's own check of a value (1.7), when its entry is large enough to have one. */
static void plugin_check(struct sylk_ini *ini, const char *section, const char *key,
                         const struct sylk_config_option *o, const char *value, GPtrArray *errors)
{
    size_t end = offsetof(struct sylk_config_option, validate) + sizeof(o->validate);
    if (o->struct_size < end || !o->validate)
        return;
    char why[512] = "";
    if (o->validate(value, why, sizeof why) < 0) {
        why[sizeof why - 1] = '\0';
        sylk_ini_error(errors, ini, section, key, "%s", why[0] ? why : "bad value");
    }
}

static void validate_plugin_value(struct sylk_ini *ini, const char *section, const char *key,
                                  const struct sylk_config_option *o, GPtrArray *errors)
{
    g_autofree char *v = sylk_ini_value(ini, section, key);
    long n;
    bool b;
    switch (o->type) {
    case SYLK_OPTION_INT:
        if (!sylk_ini_parse_long(v, &n))
            sylk_ini_error(errors, ini, section, key, "'%s' is not an integer", v);
        else if ((o->min || o->max) && (n < o->min || n > o->max))
            sylk_ini_error(errors, ini, section, key, "%ld is outside %ld..%ld", n, o->min, o->max);
        else
            plugin_check(ini, section, key, o, v, errors);
        break;
    case SYLK_OPTION_BOOL:
        if (!sylk_ini_parse_bool(v, &b))
            sylk_ini_error(errors, ini, section, key, "'%s' is not a boolean (true/false)", v);
        else
            plugin_check(ini, section, key, o, v, errors);
        break;
    case SYLK_OPTION_STRING:
    case SYLK_OPTION_LIST:
        plugin_check(ini, section, key, o, v, errors);
        break;
    }
}

struct sylk_config *sylk_plugin_config_load(const char *dir, const char *name,
                                            const struct sylk_config_option *options,
                                            GPtrArray *errors)
{
    struct sylk_config *c = g_new0(struct sylk_config, 1);
    c->strings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    c->lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
    g_autofree char *file = g_strdup_printf("%s.ini", name);
    g_autofree char *path = g_build_filename(dir, file, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        c->sections = g_new0(char *, 1);
        return c;
    }
    guint before = errors->len;
    if (options && !options_valid(options)) {
        g_ptr_array_add(errors, g_strdup_printf("%s: the plugin's option table has entries "
                                                "without struct_size (use SYLK_OPTION)",
                                                path));
        sylk_plugin_config_free(c);
        return NULL;
    }
    c->ini = sylk_ini_load(path, errors);
    if (!c->ini) {
        sylk_plugin_config_free(c);
        return NULL;
    }
    c->sections = g_key_file_get_groups(c->ini->kf, NULL);
    for (unsigned s = 0; options && c->sections[s]; s++) {
        g_auto(GStrv) keys = g_key_file_get_keys(c->ini->kf, c->sections[s], NULL, NULL);
        for (unsigned k = 0; keys && keys[k]; k++) {
            const struct sylk_config_option *o =
                find_plugin_option(options, c->sections[s], keys[k]);
            if (!o)
                sylk_ini_error(errors, c->ini, c->sections[s], keys[k], "unknown key");
            else
                validate_plugin_value(c->ini, c->sections[s], keys[k], o, errors);
        }
    }
    if (errors->len != before) {
        sylk_plugin_config_free(c);
        return NULL;
    }
    return c;
}

void sylk_plugin_config_free(struct sylk_config *config)
{
    if (!config)
        return;
    sylk_ini_free(config->ini);
    g_hash_table_destroy(config->strings);
    g_hash_table_destroy(config->lists);
    g_strfreev(config->sections);
    g_free(config);
}

/* The raw value, cached so the pointer lives as long as the config. */
static const char *plugin_value(struct sylk_config *c, const char *section, const char *key)
{
    if (!c || !c->ini || !section || !key)
        return NULL;
    g_autofree char *k = g_strdup_printf("%s\n%s", section, key);
    const char *cached = g_hash_table_lookup(c->strings, k);
    if (cached)
        return cached;
    char *v = sylk_ini_value(c->ini, section, key);
    if (!v)
        return NULL;
    g_hash_table_insert(c->strings, g_steal_pointer(&k), v);
    return v;
}

const char *sylk_plugin_config_get_string(struct sylk_config *config, const char *section,
                                          const char *key, const char *fallback)
{
    const char *v = plugin_value(config, section, key);
    return v ? v : fallback;
}

long sylk_plugin_config_get_int(struct sylk_config *config, const char *section, const char *key,
                                long fallback)
{
    const char *v = plugin_value(config, section, key);
    long n;
    return v && sylk_ini_parse_long(v, &n) ? n : fallback;
}

bool sylk_plugin_config_get_bool(struct sylk_config *config, const char *section, const char *key,
                                 bool fallback)
{
    const char *v = plugin_value(config, section, key);
    bool b;
    return v && sylk_ini_parse_bool(v, &b) ? b : fallback;
}

size_t sylk_plugin_config_get_list(struct sylk_config *config, const char *section, const char *key,
                                   const char *const **items)
{
    static const char *const empty[] = {NULL};
    const char *v = plugin_value(config, section, key);
    if (!v) {
        *items = empty;
        return 0;
    }
    g_autofree char *k = g_strdup_printf("%s\n%s", section, key);
    char **list = g_hash_table_lookup(config->lists, k);
    if (!list) {
        list = sylk_ini_split_list(v);
        g_hash_table_insert(config->lists, g_steal_pointer(&k), list);
    }
    *items = (const char *const *)list;
    return g_strv_length(list);
}

size_t sylk_plugin_config_sections(struct sylk_config *config, const char *const **sections)
{
    *sections = (const char *const *)config->sections;
    return g_strv_length(config->sections);
}
