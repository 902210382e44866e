/*
 * reload.c — SIGHUP: log files reopened, log_level and trace_sip applied from the configuration
 * file, other changes reported (see reload.h).
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk"
#include "reload.h"

#include "config_ini.h"
#include "server.h"

#include <string.h>

/* Options applied on SIGHUP; every other one needs a restart. */
static bool live_option(const char *section, const char *key)
{
    return strcmp(section, "server") == 0 &&
           (strcmp(key, "log_level") == 0 || strcmp(key, "trace_sip") == 0);
}

/* Every value of the file but the live ones; NULL when it does not parse (errors added). */
static GHashTable *file_values(const char *path, GPtrArray *errors)
{
    struct sylk_ini *ini = sylk_ini_load(path, errors);
    if (!ini)
        return NULL;
    GHashTable *values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) sections = g_key_file_get_groups(ini->kf, NULL);
    for (unsigned s = 0; sections[s]; s++) {
        g_auto(GStrv) keys = g_key_file_get_keys(ini->kf, sections[s], NULL, NULL);
        for (unsigned k = 0; keys && keys[k]; k++) {
            if (live_option(sections[s], keys[k]))
                continue;
            g_hash_table_replace(values, g_strdup_printf("[%s] %s", sections[s], keys[k]),
                                 sylk_ini_value(ini, sections[s], keys[k]));
        }
    }
    sylk_ini_free(ini);
    return values;
}

void sylk_reload_init(struct sylk_reload *reload, const char *config_path)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    reload->values = file_values(config_path, errors);
}

void sylk_reload_clear(struct sylk_reload *reload)
{
    g_clear_pointer(&reload->values, g_hash_table_destroy);
}

/* Adds to `out` the keys of `a` whose value in `b` differs or is missing. */
static void add_changes(GHashTable *a, GHashTable *b, GPtrArray *out)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, a);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const char *other = g_hash_table_lookup(b, key);
        if (!g_hash_table_contains(b, key) || g_strcmp0(value, other) != 0) {
            bool listed = false;
            for (guint i = 0; i < out->len && !listed; i++)
                listed = strcmp(g_ptr_array_index(out, i), key) == 0;
            if (!listed)
                g_ptr_array_add(out, key);
        }
    }
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One line naming what changed in the file besides the live options, if anything did. */
static void report_restart_needed(struct sylk_reload *reload, GHashTable *now, const char *path)
{
    if (!reload->values)
        return;
    g_autoptr(GPtrArray) changed = g_ptr_array_new();
    add_changes(reload->values, now, changed);
    add_changes(now, reload->values, changed);
    if (changed->len == 0)
        return;
    g_ptr_array_sort(changed, compare_names);
    g_autoptr(GString) names = g_string_new(NULL);
    for (guint i = 0; i < changed->len; i++)
        g_string_append_printf(names, "%s%s", i ? ", " : "", (char *)changed->pdata[i]);
    g_warning("configuration reload: %s: %s changed: a restart is needed to apply %s (SIGHUP "
              "applies log_level and trace_sip only)",
              path, names->str, changed->len == 1 ? "it" : "them");
}

static void reopen_logs(struct sylk_server *server)
{
    if (!server->log.path && !server->log.trace_path)
        return;
    g_autoptr(GError) error = NULL;
    if (!sylk_log_reopen(&server->log, &error)) {
        g_warning("SIGHUP: %s; logging goes on where it went", error->message);
        return;
    }
    g_info("SIGHUP: log file%s reopened: %s%s%s",
           server->log.path && server->log.trace_path ? "s" : "",
           server->log.path ? server->log.path : "",
           server->log.path && server->log.trace_path ? ", " : "",
           server->log.trace_path ? server->log.trace_path : "");
}

static void apply_live(struct sylk_server *server, const struct sylk_server_config *fresh)
{
    struct sylk_server_config *c = &server->config;
    if (server->log_level_fixed) {
        if (fresh->log_level != c->log_level)
            g_info("configuration reload: log_level stays %s (set by --log-level)",
                   sylk_log_level_name(c->log_level));
    } else if (fresh->log_level != c->log_level) {
        g_message("configuration reload: log_level %s -> %s", sylk_log_level_name(c->log_level),
                  sylk_log_level_name(fresh->log_level));
        c->log_level = fresh->log_level;
        sylk_log_set_level(&server->log, c->log_level);
    }
    if (fresh->trace_sip != c->trace_sip) {
        c->trace_sip = fresh->trace_sip;
        g_message("configuration reload: trace_sip %s", c->trace_sip ? "on" : "off");
    }
    /* Sofia's levels follow ours; its message dump follows trace_sip. */
    sylk_log_redirect_sofia(&server->log, c->trace_sip);
    sylk_sip_stack_set_trace(&server->sip, c->trace_sip);
}

void sylk_reload_run(struct sylk_reload *reload, struct sylk_server *server)
{
    reopen_logs(server);
    const char *path = server->config.path;
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    struct sylk_server_config fresh;
    sylk_config_defaults(&fresh);
    bool ok = sylk_config_load(&fresh, path, errors);
    g_autoptr(GHashTable) now = ok ? file_values(path, errors) : NULL;
    if (!ok || !now) {
        for (guint i = 0; i < errors->len; i++)
            g_warning("configuration reload: %s", (char *)errors->pdata[i]);
        g_warning("configuration reload failed: %s has errors; keeping log_level %s and "
                  "trace_sip %s",
                  path, sylk_log_level_name(server->config.log_level),
                  server->config.trace_sip ? "on" : "off");
        sylk_config_clear(&fresh);
        return;
    }
    apply_live(server, &fresh);
    report_restart_needed(reload, now, path);
    g_info("configuration reloaded from %s: log_level %s, trace_sip %s", path,
           sylk_log_level_name(server->config.log_level), server->config.trace_sip ? "on" : "off");
    sylk_config_clear(&fresh);
}
