/*
 * server.h — the process-wide state: configuration, log, main loop, plugin registry, SIP
 * stack, RTP port pool, MSRP listener, web server, the host table given to plugins and what
 * plugins hold through it (fd watches, resolutions). This is the
 * only global object (DESIGN.md); modules reach it through sylk_server_get() on the main thread.
 */
#ifndef SYLK_SERVER_H
#define SYLK_SERVER_H

#include "config.h"
#include "http/web.h"
#include "log.h"
#include "media/rtp.h"
#include "memtrim.h"
#include "metrics/metrics.h"
#include "msrp/transport.h"
#include "net/resolve.h"
#include "plugin/fdwatch.h"
#include "plugin/loader.h"
#include "plugin/timers.h"
#include "reload.h"
#include "sip/stack.h"
#include "xml_log.h"

#include <glib.h>
#include <stdatomic.h>
#include <sylk/host.h>

struct sylk_server_options {
    const char *config_path;
    const char *plugins_dir; /* overrides [server] plugins_dir when set */
    const char *log_level;   /* overrides [server] log_level when set (also on SIGHUP) */
    const char *log_file;    /* overrides [server] log_file when set */
    const char *spool_dir;   /* overrides [server] spool_dir when set */
    bool check_config;       /* validate, print errors, exit */
};

/*
 * Counters since the server started, all in one place (the web status page and the line logged
 * at exit show them; metrics read them here). Written on the main thread, read from any thread.
 */
struct sylk_counters {
    atomic_uint_fast64_t rtp_port_refusals;       /* calls refused with 503: no free RTP port */
    atomic_uint_fast64_t sip_connections_refused; /* over [sip] max_connections_per_ip */
    atomic_uint_fast64_t sip_connections_cut;     /* silent, or a message too slow: transport.c */
    atomic_uint_fast64_t memory_trims;            /* times freed heap memory was given back */
    atomic_uint_fast64_t memory_returned;         /* bytes of RSS those times gave back */
};

/* Calls refused for lack of RTP ports since the last "exhausted" line (one line per burst). */
struct sylk_port_burst {
    unsigned refused;
    gint64 since; /* monotonic time of the first refusal counted in `refused` */
    guint timer;  /* reports and restarts every PORT_BURST_WINDOW_S while refusals go on */
};

struct sylk_server {
    struct sylk_server_config config;
    struct sylk_log log;
    bool log_level_fixed;        /* --log-level given: SIGHUP leaves the level alone */
    struct sylk_reload reload;   /* SIGHUP: what the configuration file held at start */
    struct sylk_xml_log xml_log; /* libxml2's reports on the main thread */
    GMainLoop *loop;
    struct sylk_plugin_registry plugins;
    struct sylk_sip_stack sip;
    struct sylk_rtp_ports rtp_ports;
    struct sylk_media_engine *media;
    struct sylk_msrp_transport *msrp;           /* NULL when [msrp] port = 0 */
    gnutls_certificate_credentials_t msrp_cred; /* NULL for plain TCP */
    struct sylk_web *web;                       /* NULL when [web] port = 0 */
    struct sylk_host host;
    struct sylk_counters counters;
    struct sylk_port_burst port_burst;
    struct sylk_memtrim memtrim;
    struct sylk_fd_watches fd_watches; /* plugins' descriptors on the main loop */
    struct sylk_timers timers;         /* plugins' timers on the main loop */
    struct sylk_resolver resolver;     /* plugins' name resolutions under way */
    struct sylk_metrics metrics;       /* plugins' metrics collectors */
    bool stopping;
};

/** The running server; NULL outside sylk_server_main. */
struct sylk_server *sylk_server_get(void);

/** Runs the server (or only checks the configuration); returns the process exit code. */
int sylk_server_main(const struct sylk_server_options *options);

/** Begins a clean shutdown (signal handlers call this). */
void sylk_server_stop(struct sylk_server *server);

/** Called by the SIP stack once nua_shutdown completed. */
void sylk_server_sip_stopped(struct sylk_server *server);

/**
 * A call is refused with 503 because sylk_rtp_open failed with `error`: when the port pool is
 * exhausted (-EADDRINUSE) it is counted and said in the log once per burst ("RTP port pool
 * exhausted: N calls refused with 503 in the last X s").
 */
void sylk_server_rtp_open_failed(struct sylk_server *server, int error);

/** The counters as one line of text for people (the status page, the line at exit). */
char *sylk_server_counters_text(const struct sylk_counters *counters);

#endif
