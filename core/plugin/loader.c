/*
 * loader.c — plugin discovery and lifecycle. See loader.h.
 *
 * ABI rule (stricter than Janus, looser than Kamailio): accept abi_major == ours and
 * abi_minor <= ours; the struct is copied into a zeroed sylk_plugin so fields appended after
 * the plugin was built read as NULL.
 */
#define G_LOG_DOMAIN "sylk-plugin"
#include "loader.h"

#include <dlfcn.h>
#include <string.h>

void sylk_plugins_init_registry(struct sylk_plugin_registry *reg)
{
    reg->plugins = g_ptr_array_new();
    reg->failed = g_ptr_array_new();
}

static bool valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return false;
    for (const char *c = name; *c; c++) {
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_')
            return false;
    }
    return true;
}

char *sylk_plugin_check_abi(const struct sylk_plugin *desc)
{
    if (desc->abi_major != SYLK_ABI_MAJOR)
        return g_strdup_printf("ABI major %u differs from the server's %u (built for ABI %u.%u)",
                               desc->abi_major, SYLK_ABI_MAJOR, desc->abi_major, desc->abi_minor);
    if (desc->abi_minor > SYLK_ABI_MINOR)
        return g_strdup_printf("ABI %u.%u is newer than the server's %u.%u", desc->abi_major,
                               desc->abi_minor, SYLK_ABI_MAJOR, SYLK_ABI_MINOR);
    if (desc->struct_size < SYLK_PLUGIN_SIZE_1_0)
        return g_strdup_printf("ABI %u.%u struct_size %u is smaller than ABI 1.0's %zu",
                               desc->abi_major, desc->abi_minor, desc->struct_size,
                               (size_t)SYLK_PLUGIN_SIZE_1_0);
    if (!valid_name(desc->name))
        return g_strdup("plugin name missing or not made of letters, digits, '-' and '_'");
    return NULL;
}

static const struct sylk_loaded_plugin *find(const struct sylk_plugin_registry *reg,
                                             const char *name)
{
    for (unsigned i = 0; i < reg->plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(reg->plugins, i);
        if (strcmp(p->desc.name, name) == 0)
            return p;
    }
    return NULL;
}

static void load_file(struct sylk_plugin_registry *reg, const char *path, char *const *disabled,
                      const char *config_dir, GPtrArray *config_errors)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        g_warning("plugin %s skipped: cannot load: %s", path, dlerror());
        return;
    }
    sylk_plugin_entry_fn entry = (sylk_plugin_entry_fn)dlsym(dl, SYLK_PLUGIN_ENTRY_SYMBOL);
    const struct sylk_plugin *desc = entry ? entry() : NULL;
    g_autofree char *why = NULL;
    if (!entry)
        why = g_strdup("no " SYLK_PLUGIN_ENTRY_SYMBOL " symbol (not a sylkserver plugin)");
    else if (!desc)
        why = g_strdup(SYLK_PLUGIN_ENTRY_SYMBOL " returned NULL");
    else
        why = sylk_plugin_check_abi(desc);
    if (!why && g_strv_contains((const char *const *)disabled, desc->name))
        why = g_strdup_printf("application %s is in disabled_applications", desc->name);
    if (!why && find(reg, desc->name))
        why = g_strdup_printf("application %s is already loaded from %s", desc->name,
                              find(reg, desc->name)->path);
    if (why) {
        g_warning("plugin %s skipped: %s", path, why);
        dlclose(dl);
        return;
    }

    struct sylk_loaded_plugin *p = g_new0(struct sylk_loaded_plugin, 1);
    memcpy(&p->desc, desc, MIN((size_t)desc->struct_size, sizeof(p->desc)));
    p->path = g_strdup(path);
    p->dl = dl;
    p->counters = g_new0(struct sylk_plugin_counters, 1);
    Dl_info info;
    if (dladdr((const void *)entry, &info))
        p->base = info.dli_fbase;
    guint before = config_errors->len;
    p->config =
        sylk_plugin_config_load(config_dir, p->desc.name, p->desc.config_options, config_errors);
    if (!p->config) {
        for (guint i = before; i < config_errors->len; i++)
            g_critical("%s", (const char *)g_ptr_array_index(config_errors, i));
        g_warning("plugin %s skipped: its configuration has errors", path);
        g_free(p->counters);
        g_free(p->path);
        g_free(p);
        dlclose(dl);
        return;
    }
    g_ptr_array_add(reg->plugins, p);
    g_info("plugin %s %s loaded from %s (ABI %u.%u)", p->desc.name,
           p->desc.version ? p->desc.version : "?", path, p->desc.abi_major, p->desc.abi_minor);
}

static gint compare_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* *.so files in dir and in its immediate sub-directories (so build trees work as they are). */
static void collect(const char *dir, int depth, GPtrArray *out)
{
    g_autoptr(GError) err = NULL;
    GDir *d = g_dir_open(dir, 0, &err);
    if (!d) {
        if (depth == 0)
            g_warning("plugin directory %s: %s", dir, err->message);
        return;
    }
    const char *name;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_str_has_suffix(name, ".so") && g_file_test(path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add(out, g_steal_pointer(&path));
        else if (depth == 0 && g_file_test(path, G_FILE_TEST_IS_DIR))
            collect(path, depth + 1, out);
    }
    g_dir_close(d);
}

void sylk_plugins_discover(struct sylk_plugin_registry *reg, const char *dir, char *const *disabled,
                           const char *config_dir, GPtrArray *config_errors)
{
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    collect(dir, 0, files);
    g_ptr_array_sort(files, compare_paths);
    for (guint i = 0; i < files->len; i++)
        load_file(reg, g_ptr_array_index(files, i), disabled, config_dir, config_errors);
    if (reg->plugins->len == 0)
        g_warning("no plugin loaded from %s", dir);
}

static void unload_one(struct sylk_loaded_plugin *p)
{
    sylk_plugin_config_free(p->config);
    if (p->dl)
        dlclose(p->dl);
    g_free(p->counters);
    g_free(p->path);
    g_free(p);
}

void sylk_plugins_start(struct sylk_plugin_registry *reg, const struct sylk_host *host)
{
    for (guint i = 0; i < reg->plugins->len;) {
        struct sylk_loaded_plugin *p = g_ptr_array_index(reg->plugins, i);
        int rc = p->desc.init ? p->desc.init(host, (sylk_config *)p->config) : 0;
        if (rc != 0) {
            /* Its code stays mapped until exit: init may have left a timer or a request
             * behind whose callback points into it. */
            g_warning("plugin %s init failed (%d); unloaded", p->desc.name, rc);
            g_ptr_array_remove_index(reg->plugins, i);
            g_ptr_array_add(reg->failed, p);
            continue;
        }
        p->initialized = true;
        i++;
    }
}

const struct sylk_plugin *sylk_plugins_lookup(void *registry, const char *name)
{
    const struct sylk_loaded_plugin *p = find(registry, name);
    return p && p->initialized ? &p->desc : NULL;
}

static const char *owner_in(GPtrArray *plugins, const void *base)
{
    for (guint i = 0; i < plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(plugins, i);
        if (p->base && p->base == base)
            return p->desc.name;
    }
    return NULL;
}

const char *sylk_plugins_owner(const struct sylk_plugin_registry *reg, const void *code)
{
    Dl_info info;
    if (!reg->plugins || !code || !dladdr(code, &info))
        return NULL;
    const char *name = owner_in(reg->plugins, info.dli_fbase);
    return name ? name : owner_in(reg->failed, info.dli_fbase);
}

void sylk_plugins_stop(struct sylk_plugin_registry *reg)
{
    for (guint i = reg->plugins->len; i-- > 0;) {
        struct sylk_loaded_plugin *p = g_ptr_array_index(reg->plugins, i);
        if (p->initialized && p->desc.shutdown)
            p->desc.shutdown();
        p->initialized = false;
    }
}

void sylk_plugins_unload(struct sylk_plugin_registry *reg)
{
    if (!reg->plugins)
        return;
    for (guint i = 0; i < reg->plugins->len; i++)
        unload_one(g_ptr_array_index(reg->plugins, i));
    for (guint i = 0; i < reg->failed->len; i++)
        unload_one(g_ptr_array_index(reg->failed, i));
    g_ptr_array_free(reg->plugins, TRUE);
    g_ptr_array_free(reg->failed, TRUE);
    reg->plugins = NULL;
    reg->failed = NULL;
}
