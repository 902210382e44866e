/*
 * router.h — which plugin gets an out-of-dialog request (DESIGN.md "Routing").
 *
 * A pure decision over the configuration and the loaded plugins: no I/O, no sofia-sip types,
 * so every rule is unit-tested. Runs on the main thread.
 */
#ifndef SYLK_ROUTER_H
#define SYLK_ROUTER_H

#include "config.h"

#include <stdbool.h>
#include <sylk/plugin.h>

struct sylk_route_request {
    const char *method;     /* "INVITE", "MESSAGE", "SUBSCRIBE", "REFER", … */
    const char *ruri_user;  /* user part of the Request-URI, or NULL */
    const char *ruri_host;  /* host part of the Request-URI */
    const char *app_header; /* X-Sylk-App value, or NULL */
    const char *event;      /* Event package of a SUBSCRIBE, or NULL */
    bool has_replaces;      /* INVITE carries a Replaces header */
    const struct sockaddr *source;
};

struct sylk_route {
    int status;                       /* 0 when routed; otherwise the SIP status to answer */
    char reason[160];                 /* reason phrase for status */
    const char *warning;              /* extra explanation for the log, or NULL */
    const char *application;          /* the application chosen (points into config or request) */
    const struct sylk_plugin *plugin; /* set when status == 0 */
};

/** Finds a loaded plugin by application name, or NULL. */
typedef const struct sylk_plugin *(*sylk_plugin_lookup_fn)(void *ctx, const char *name);

/** The application name for a Request-URI (X-Sylk-App → map → default), or NULL. */
const char *sylk_router_application(const struct sylk_server_config *cfg,
                                    const struct sylk_route_request *req);

/** Decides the route; see DESIGN.md for the order of the rules. */
void sylk_router_route(const struct sylk_server_config *cfg, sylk_plugin_lookup_fn lookup,
                       void *lookup_ctx, const struct sylk_route_request *req,
                       struct sylk_route *route);

#endif
