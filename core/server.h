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
#include "msrp/transport.h"
#include "net/resolve.h"
#include "plugin/fdwatch.h"
#include "plugin/loader.h"
#include "sip/stack.h"

#include <glib.h>
#include <sylk/host.h>

struct sylk_server_options {
    const char *config_path;
    const char *plugins_dir; /* overrides [server] plugins_dir when set */
    const char *log_level;   /* overrides [server] log_level when set */
    bool check_config;       /* validate, print errors, exit */
};

struct sylk_server {
    struct sylk_server_config config;
    struct sylk_log log;
    GMainLoop *loop;
    struct sylk_plugin_registry plugins;
    struct sylk_sip_stack sip;
    struct sylk_rtp_ports rtp_ports;
    struct sylk_media_engine *media;
    struct sylk_msrp_transport *msrp;           /* NULL when [msrp] port = 0 */
    gnutls_certificate_credentials_t msrp_cred; /* NULL for plain TCP */
    struct sylk_web *web;                       /* NULL when [web] port = 0 */
    struct sylk_host host;
    struct sylk_fd_watches fd_watches; /* plugins' descriptors on the main loop */
    struct sylk_resolver resolver;     /* plugins' name resolutions under way */
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

#endif
