/*
 * server.c — the process-wide state and its lifecycle:
 *   load config → load plugins (and their configs) → [--check-config stops here] → media
 *   threads, MSRP listener, web server → SIP stack → plugins' init → main loop → on
 *   SIGHUP: reload.c (logs reopened, log_level and trace_sip read again) — on SIGINT/SIGTERM:
 *   end dialogs, nua_shutdown → wait → nua_destroy → plugins' shutdown → the
 *   fd watches and resolutions plugins left → web server, MSRP listener, media threads →
 *   unload plugins.
 * The only global variable of the core lives here.
 */
#define G_LOG_DOMAIN "sylk"
#include "server.h"

#include "media/engine.h"
#include "media/srtp.h"
#include "msrp/tls.h"
#include "msrp/transport.h"
#include "plugin/host.h"
#include "sylk-build-config.h"

#include <errno.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* Longer than sofia-sip's own shutdown (30 s) so that nua_destroy can run. */
#define SHUTDOWN_GRACE_S 40

/* Calls refused for lack of RTP ports are summed over this long into one log line. */
#define PORT_BURST_WINDOW_S 10

/* Static so the log writer's state outlives sylk_server_main (GLib keeps the writer). */
static struct sylk_server server_instance;
static struct sylk_server *the_server;

struct sylk_server *sylk_server_get(void)
{
    return the_server;
}

static void print_errors(GPtrArray *errors)
{
    for (guint i = 0; i < errors->len; i++)
        fprintf(stderr, "%s\n", (const char *)g_ptr_array_index(errors, i));
}

static gboolean on_signal(gpointer data)
{
    struct sylk_server *server = data;
    g_info("signal received: shutting down");
    sylk_server_stop(server);
    return G_SOURCE_CONTINUE;
}

static gboolean on_hangup(gpointer data)
{
    struct sylk_server *server = data;
    sylk_reload_run(&server->reload, server);
    return G_SOURCE_CONTINUE;
}

static gboolean shutdown_deadline(gpointer data)
{
    struct sylk_server *server = data;
    g_warning("SIP shutdown did not complete within %d s; stopping anyway", SHUTDOWN_GRACE_S);
    g_main_loop_quit(server->loop);
    return G_SOURCE_REMOVE;
}

void sylk_server_stop(struct sylk_server *server)
{
    if (server->stopping)
        return;
    server->stopping = true;
    sylk_sip_stack_shutdown(&server->sip);
    if (server->sip.shutdown_done)
        g_main_loop_quit(server->loop);
    else
        g_timeout_add_seconds(SHUTDOWN_GRACE_S, shutdown_deadline, server);
}

void sylk_server_sip_stopped(struct sylk_server *server)
{
    g_main_loop_quit(server->loop);
}

static void report_port_burst(struct sylk_server *server)
{
    struct sylk_port_burst *b = &server->port_burst;
    double seconds = (double)(g_get_monotonic_time() - b->since) / G_USEC_PER_SEC;
    g_warning("RTP port pool exhausted: %u call%s refused with 503 in the last %.0f s "
              "([rtp] port_range %u:%u holds %u calls)",
              b->refused, b->refused == 1 ? "" : "s", seconds < 1 ? 1 : seconds,
              server->config.rtp_port_min, server->config.rtp_port_max,
              (server->config.rtp_port_max - server->config.rtp_port_min + 1) / 2);
    b->refused = 0;
    b->since = g_get_monotonic_time();
}

/* Ends a window: one line for its refusals, or the end of the burst when there were none. */
static gboolean port_burst_window(gpointer data)
{
    struct sylk_server *server = data;
    if (server->port_burst.refused == 0) {
        server->port_burst.timer = 0;
        return G_SOURCE_REMOVE;
    }
    report_port_burst(server);
    return G_SOURCE_CONTINUE;
}

void sylk_server_rtp_open_failed(struct sylk_server *server, int error)
{
    if (error != -EADDRINUSE)
        return;
    atomic_fetch_add_explicit(&server->counters.rtp_port_refusals, 1, memory_order_relaxed);
    struct sylk_port_burst *b = &server->port_burst;
    if (b->refused++ == 0)
        b->since = g_get_monotonic_time();
    if (!b->timer)
        b->timer = g_timeout_add_seconds(PORT_BURST_WINDOW_S, port_burst_window, server);
}

/* At exit: what the current window counted, then no more windows. */
static void end_port_burst(struct sylk_server *server)
{
    if (server->port_burst.refused)
        report_port_burst(server);
    if (server->port_burst.timer)
        g_source_remove(server->port_burst.timer);
    server->port_burst.timer = 0;
}

static uint_fast64_t counter(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

char *sylk_server_counters_text(const struct sylk_counters *c)
{
    uint_fast64_t ports = counter(&c->rtp_port_refusals),
                  refused = counter(&c->sip_connections_refused),
                  cut = counter(&c->sip_connections_cut), trims = counter(&c->memory_trims);
    return g_strdup_printf(
        "%" PRIuFAST64 " call%s refused for lack of RTP ports, %" PRIuFAST64
        " SIP connection%s refused (max_connections_per_ip), %" PRIuFAST64
        " SIP connection%s cut (silent past connection_timeout, or a message not whole "
        "within message_timeout), "
        "memory given back %" PRIuFAST64 " time%s (%.1f MB)",
        ports, ports == 1 ? "" : "s", refused, refused == 1 ? "" : "s", cut, cut == 1 ? "" : "s",
        trims, trims == 1 ? "" : "s", (double)counter(&c->memory_returned) / 1048576.0);
}

/* A scrape of /metrics, on the main thread. */
static char *web_metrics_text(void *server, size_t *len)
{
    return sylk_metrics_scrape(server, len);
}

/* The web server's status page reads the counters from its own thread. */
static char *web_status_text(void *counters)
{
    return sylk_server_counters_text(counters);
}

/*
 * Each audio participant holds two sockets (RTP, RTCP) and each MSRP peer one: the usual soft
 * limit of 1024 open files would cap a server near 500 calls while the hard limit allows more.
 */
static void raise_open_files_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max)
        return;
    rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0)
        g_info("open files limit raised from %llu to %llu", (unsigned long long)before,
               (unsigned long long)lim.rlim_cur);
    else
        g_warning("cannot raise the open files limit from %llu: %s", (unsigned long long)before,
                  g_strerror(errno));
}

static bool load_configuration(struct sylk_server *server, const struct sylk_server_options *o)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    sylk_config_defaults(&server->config);
    bool ok = sylk_config_load(&server->config, o->config_path, errors);
    if (o->plugins_dir) {
        g_free(server->config.plugins_dir);
        server->config.plugins_dir = g_canonicalize_filename(o->plugins_dir, NULL);
    }
    if (o->spool_dir) {
        g_free(server->config.spool_dir);
        server->config.spool_dir = g_canonicalize_filename(o->spool_dir, NULL);
    }
    if (o->log_file) {
        g_free(server->config.log_file);
        server->config.log_file = g_canonicalize_filename(o->log_file, NULL);
    }
    server->log_level_fixed = o->log_level != NULL;
    if (o->log_level && !sylk_log_level_parse(o->log_level, &server->config.log_level)) {
        g_ptr_array_add(errors, g_strdup_printf("--log-level: '%s' is not one of error, "
                                                "warning, info, debug",
                                                o->log_level));
        ok = false;
    }
    sylk_log_set_level(&server->log, server->config.log_level);
    if (ok || o->check_config) {
        /* Plugins are loaded (not started) so their own .ini files are validated too. */
        sylk_plugins_discover(&server->plugins, server->config.plugins_dir,
                              server->config.disabled_applications, server->config.dir, errors);
        ok = ok && errors->len == 0;
    }
    print_errors(errors);
    return ok;
}

/* The MSRP listener, with TLS credentials when use_tls is on; false (logged) on failure. */
static bool start_msrp(struct sylk_server *server)
{
    const struct sylk_server_config *c = &server->config;
    if (!c->msrp_port)
        return true;
    g_autofree char *error = NULL, *pem = NULL;
    if (c->msrp_use_tls &&
        sylk_tls_server_credentials(c->msrp_certificate, c->spool_dir, "msrp", c->advertised_ip,
                                    &server->msrp_cred, &pem, &error) < 0) {
        g_critical("MSRP TLS: %s", error);
        return false;
    }
    if (pem)
        g_info("MSRP TLS certificate: %s", pem);
    if (sylk_msrp_transport_start(c->local_ip, c->msrp_port, server->msrp_cred, &server->msrp,
                                  &error) < 0) {
        g_critical("%s", error);
        return false;
    }
    sylk_msrp_transport_set_reconnect_timeout(server->msrp, c->msrp_reconnect_timeout);
    return true;
}

static void stop_msrp(struct sylk_server *server)
{
    sylk_msrp_transport_stop(server->msrp);
    server->msrp = NULL;
    if (server->msrp_cred)
        gnutls_certificate_free_credentials(server->msrp_cred);
    server->msrp_cred = NULL;
}

/* The web server unless [web] port = 0; false (logged) when it cannot start. */
static bool start_web(struct sylk_server *server)
{
    const struct sylk_server_config *c = &server->config;
    if (!c->web_port)
        return true;
    struct sylk_web_options o = {
        .local_ip = c->web_local_ip,
        .port = c->web_port,
        .public_url = c->web_public_url,
        .host = c->advertised_ip,
        .certificate = c->web_certificate,
        .max_connections = c->web_max_connections,
        .max_connections_per_ip = c->web_max_connections_per_ip,
        .connection_timeout = c->web_connection_timeout,
        .status_text = web_status_text,
        .status_data = &server->counters,
        .metrics_text = c->web_metrics ? web_metrics_text : NULL,
        .metrics_data = server,
        .metrics_allow = c->web_metrics_allow,
    };
    g_autofree char *error = NULL;
    if (sylk_web_start(&o, &server->web, &error) < 0) {
        g_critical("%s", error);
        return false;
    }
    return true;
}

static void log_ready(struct sylk_server *server)
{
    const struct sylk_server_config *c = &server->config;
    GString *apps = g_string_new(NULL);
    for (guint i = 0; i < server->plugins.plugins->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(server->plugins.plugins, i);
        g_string_append_printf(apps, "%s%s", apps->len ? ", " : "", p->desc.name);
    }
    g_autofree char *msrp =
        server->msrp ? g_strdup_printf("%u (%s)", sylk_msrp_transport_port(server->msrp),
                                       sylk_msrp_transport_tls(server->msrp) ? "TLS" : "TCP")
                     : g_strdup("off");
    g_message("sylkserver ready: SIP on %s (advertised %s) udp:%u tcp:%u tls:%u, RTP %u-%u, "
              "MSRP %s, web %s, applications: %s",
              c->local_ip, c->advertised_ip, c->udp_port, c->tcp_port, c->tls_port, c->rtp_port_min,
              c->rtp_port_max, msrp, server->web ? sylk_web_public_url(server->web) : "off",
              apps->len ? apps->str : "none");
    g_string_free(apps, TRUE);
}

int sylk_server_main(const struct sylk_server_options *o)
{
    struct sylk_server *server = &server_instance;
    memset(server, 0, sizeof(*server));
    the_server = server;
    int code = 1;
    g_autoptr(GError) error = NULL; /* declared before any goto out */
    guint sighup = 0;
    sylk_log_install(&server->log);
    sylk_xml_log_install(&server->xml_log); /* before plugins or peers make libxml2 talk */
    sylk_plugins_init_registry(&server->plugins);
    sylk_metrics_init(&server->metrics);

    bool ok = load_configuration(server, o);
    if (o->check_config) {
        if (ok)
            printf("%s: configuration OK (%u plugin%s)\n", server->config.path,
                   server->plugins.plugins->len, server->plugins.plugins->len == 1 ? "" : "s");
        code = ok ? 0 : 1;
        goto out;
    }
    if (!ok) {
        g_critical("configuration has errors; not starting");
        goto out;
    }
    if (!sylk_log_open(&server->log, server->config.log_file, server->config.trace_file, &error)) {
        g_critical("%s; not starting", error->message);
        goto out;
    }
    sylk_reload_init(&server->reload, server->config.path);
    server->rtp_ports =
        (struct sylk_rtp_ports){.min = server->config.rtp_port_min,
                                .max = server->config.rtp_port_max,
                                .next = server->config.rtp_port_min,
                                .opus_complexity = server->config.opus_complexity + 1};
    server->loop = g_main_loop_new(NULL, FALSE);
    /* From here a SIGHUP (logrotate) no longer kills a server still starting: it waits. */
    sighup = g_unix_signal_add(SIGHUP, on_hangup, server);
    raise_open_files_limit();
    if (sylk_srtp_library_init() < 0) {
        g_critical("cannot initialise libsrtp2");
        goto out;
    }
    if (sylk_media_engine_new(server->config.media_threads, &server->media) < 0) {
        g_critical("cannot start the media threads");
        goto out;
    }
    if (!start_msrp(server) || !start_web(server)) /* before SIP: nothing to shut down */
        goto out;
    if (!sylk_sip_stack_start(&server->sip, server, &error)) {
        g_critical("%s", error->message);
        sylk_sip_stack_destroy(&server->sip);
        goto out;
    }
    sylk_host_fill(&server->host);
    sylk_plugins_start(&server->plugins, &server->host);
    /* A plugin whose init failed may have registered a collector before failing: its state
     * is gone, so its collector must not be called by a scrape. */
    for (guint i = 0; i < server->plugins.failed->len; i++) {
        const struct sylk_loaded_plugin *p = g_ptr_array_index(server->plugins.failed, i);
        if (sylk_metrics_remove_plugin(&server->metrics, p->desc.name))
            g_info("plugin %s: its metrics collectors removed (init failed)", p->desc.name);
    }
    guint sigint = g_unix_signal_add(SIGINT, on_signal, server);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, server);
    log_ready(server);

    sylk_memtrim_start(&server->memtrim, &server->counters);

    g_main_loop_run(server->loop);

    g_source_remove(sigint);
    g_source_remove(sigterm);
    sylk_memtrim_stop(&server->memtrim);
    sylk_sip_stack_destroy(&server->sip);
    sylk_plugins_stop(&server->plugins);
    /* What plugins forgot; their code is still mapped, and the loop no longer runs. */
    sylk_fd_watches_clear(&server->fd_watches, &server->plugins);
    sylk_resolver_clear(&server->resolver, &server->plugins);
    sylk_timers_clear(&server->timers);
    end_port_burst(server);
    {
        g_autofree char *counters = sylk_server_counters_text(&server->counters);
        g_info("sylkserver stopped; since start: %s", counters);
    }
    code = 0;
out:
    if (sighup)
        g_source_remove(sighup);
    sylk_web_stop(server->web); /* after the plugins: frees the items they left */
    server->web = NULL;
    sylk_metrics_clear(&server->metrics);  /* no scrape after the web server stopped */
    stop_msrp(server);                     /* after the sessions and plugins that used it */
    sylk_media_engine_free(server->media); /* after the sessions and plugins that used it */
    server->media = NULL;
    sylk_plugins_unload(&server->plugins);
    if (server->loop)
        g_main_loop_unref(server->loop);
    sylk_config_clear(&server->config);
    sylk_xml_log_uninstall();
    sylk_log_clear_sofia(&server->log);
    sylk_reload_clear(&server->reload);
    sylk_log_close(&server->log); /* last: records go to stderr from here on */
    the_server = NULL;
    return code;
}
