/*
 * loader.h — plugin discovery: scan the plugin directory, dlopen each .so, resolve
 * sylk_plugin_entry, check the ABI, load the plugin's configuration, call init.
 *
 * Main thread. Every refused file gets one log line saying why; the server keeps running.
 */
#ifndef SYLK_LOADER_H
#define SYLK_LOADER_H

#include "config.h"

#include <glib.h>
#include <sylk/host.h>
#include <sylk/plugin.h>

/* What the core counts for a plugin since the start (main thread; read by metrics). */
struct sylk_plugin_counters {
    uint64_t sessions;      /* INVITEs handed to it (incoming_session) */
    uint64_t subscriptions; /* SUBSCRIBEs handed to it (incoming_subscription) */
};

struct sylk_loaded_plugin {
    struct sylk_plugin desc;               /* first: zero-extended copy of the plugin's struct */
    struct sylk_plugin_counters *counters; /* owned; written through const pointers too */
    char *path;
    void *dl;
    struct sylk_config *config;
    void *base; /* where the .so is mapped (dladdr), to tell whose code a callback is */
    bool initialized;
};

struct sylk_plugin_registry {
    GPtrArray *plugins; /* of struct sylk_loaded_plugin *, in load order */
    GPtrArray *failed;  /* plugins whose init failed: never routed to, dlclosed at exit */
};

/** The size of struct sylk_plugin in ABI 1.0: anything smaller is refused. */
#define SYLK_PLUGIN_SIZE_1_0 (offsetof(struct sylk_plugin, incoming_sip_message) + sizeof(void *))

void sylk_plugins_init_registry(struct sylk_plugin_registry *reg);

/**
 * Loads every acceptable plugin from `dir` (and its immediate sub-directories), skipping
 * `disabled`, and reads each one's configuration from `config_dir`. Configuration errors are
 * appended to `config_errors`; such a plugin is not kept.
 */
void sylk_plugins_discover(struct sylk_plugin_registry *reg, const char *dir, char *const *disabled,
                           const char *config_dir, GPtrArray *config_errors);

/** Calls init on each plugin; a plugin whose init fails is unloaded. */
void sylk_plugins_start(struct sylk_plugin_registry *reg, const struct sylk_host *host);

/** Plugin by application name (a sylk_plugin_lookup_fn). */
const struct sylk_plugin *sylk_plugins_lookup(void *registry, const char *name);

/** Calls shutdown on each initialized plugin (reverse load order). */
void sylk_plugins_stop(struct sylk_plugin_registry *reg);

/** dlcloses everything and frees the registry. */
void sylk_plugins_unload(struct sylk_plugin_registry *reg);

/**
 * The name of the plugin whose code holds `code` (a callback it handed to the host), or NULL
 * when no loaded plugin (initialized or not) does: to name a plugin in log lines.
 */
const char *sylk_plugins_owner(const struct sylk_plugin_registry *reg, const void *code);

/** Reads the one-line ABI verdict for a descriptor; NULL when acceptable. For unit tests. */
char *sylk_plugin_check_abi(const struct sylk_plugin *desc);

#endif
