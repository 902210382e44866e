/*
 * main.c — command line of the sylkserver binary. Main thread.
 */
#define G_LOG_DOMAIN "sylk"
#include "server.h"
#include "sylk-build-config.h"

#include <glib.h>
#include <stdio.h>
#include <sylk/plugin.h>

int main(int argc, char **argv)
{
    g_autofree char *config = NULL, *plugins_dir = NULL, *log_level = NULL, *log_file = NULL,
                    *spool_dir = NULL;
    gboolean check = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
         "Configuration file (default " SYLK_SYSCONFDIR "/sylkserver.ini)", "FILE"},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &check,
         "Validate the configuration and the plugins' files, then exit 0 or 1", NULL},
        {"plugins-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugins_dir,
         "Load plugins from DIR instead of [server] plugins_dir", "DIR"},
        {"log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
         "error, warning, info or debug (overrides [server] log_level)", "LEVEL"},
        {"log-file", 0, 0, G_OPTION_ARG_FILENAME, &log_file,
         "Write the log to FILE, reopened on SIGHUP (overrides [server] log_file)", "FILE"},
        {"spool-dir", 0, 0, G_OPTION_ARG_FILENAME, &spool_dir,
         "Writable state in DIR (overrides [server] spool_dir)", "DIR"},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- SIP application server");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "sylkserver: %s (try --help)\n", error->message);
        return 2;
    }
    if (version) {
        printf("sylkserver-c %s (plugin ABI %d.%d)\n", SYLK_VERSION, SYLK_ABI_MAJOR,
               SYLK_ABI_MINOR);
        return 0;
    }
    struct sylk_server_options options = {
        .config_path = config ? config : SYLK_SYSCONFDIR "/sylkserver.ini",
        .plugins_dir = plugins_dir,
        .log_level = log_level,
        .log_file = log_file,
        .spool_dir = spool_dir,
        .check_config = check,
    };
    return sylk_server_main(&options);
}
