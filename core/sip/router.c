/*
 * router.c — routing rules, in the order SylkServer applies them:
 *   trusted_peers (403) → INVITE with Replaces (403) → application: X-Sylk-App (when
 *   allowed), application_map for user@host, host, user, then default_application (404 when
 *   none, 404 when not loaded) → [domain] restriction (403) → method handled by the plugin
 *   (405) → SUBSCRIBE event declared by the plugin (489).
 */
#define G_LOG_DOMAIN "sylk-router"
#include "router.h"

#include <string.h>

static const char *map_lookup(const struct sylk_server_config *cfg, const char *key)
{
    if (!key)
        return NULL;
    for (unsigned i = 0; i < cfg->application_map->len; i++) {
        const struct sylk_app_mapping *m = g_ptr_array_index(cfg->application_map, i);
        if (g_ascii_strcasecmp(m->key, key) == 0)
            return m->app;
    }
    return NULL;
}

const char *sylk_router_application(const struct sylk_server_config *cfg,
                                    const struct sylk_route_request *req)
{
    if (cfg->allow_app_header && req->app_header && *req->app_header)
        return req->app_header;
    const char *app = NULL;
    if (req->ruri_user && req->ruri_host) {
        g_autofree char *aor = g_strdup_printf("%s@%s", req->ruri_user, req->ruri_host);
        app = map_lookup(cfg, aor);
    }
    if (!app)
        app = map_lookup(cfg, req->ruri_host);
    if (!app)
        app = map_lookup(cfg, req->ruri_user);
    if (!app)
        app = cfg->default_application;
    return app;
}

static bool plugin_handles(const struct sylk_plugin *p, const char *method)
{
    if (strcmp(method, "INVITE") == 0)
        return p->incoming_session != NULL;
    if (strcmp(method, "MESSAGE") == 0)
        return p->incoming_sip_message != NULL;
    if (strcmp(method, "SUBSCRIBE") == 0)
        return p->incoming_subscription != NULL;
    if (strcmp(method, "REFER") == 0)
        return p->incoming_referral != NULL;
    return false;
}

static bool plugin_has_event(const struct sylk_plugin *p, const char *event)
{
    if (!p->events || !event)
        return false;
    for (const char *const *e = p->events; *e; e++) {
        if (g_ascii_strcasecmp(*e, event) == 0)
            return true;
    }
    return false;
}

static void set(struct sylk_route *r, int status, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void set(struct sylk_route *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->status = status;
    g_vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

void sylk_router_route(const struct sylk_server_config *cfg, sylk_plugin_lookup_fn lookup,
                       void *lookup_ctx, const struct sylk_route_request *req,
                       struct sylk_route *route)
{
    memset(route, 0, sizeof(*route));
    if (!sylk_config_peer_trusted(cfg, req->source)) {
        set(route, 403, "Forbidden");
        route->warning = "source address not in trusted_peers";
        return;
    }
    if (req->has_replaces && strcmp(req->method, "INVITE") == 0) {
        set(route, 403, "Replaces Not Supported");
        route->warning = "INVITE with Replaces";
        return;
    }
    const char *app = sylk_router_application(cfg, req);
    route->application = app;
    if (!app) {
        set(route, 404, "No application");
        return;
    }
    const struct sylk_plugin *plugin = lookup(lookup_ctx, app);
    if (!plugin) {
        set(route, 404, "Application %s not loaded", app);
        return;
    }
    if (req->ruri_host) {
        g_autofree char *domain = g_ascii_strdown(req->ruri_host, -1);
        char **allowed = g_hash_table_lookup(cfg->domains, domain);
        if (allowed && !g_strv_contains((const char *const *)allowed, app)) {
            set(route, 403, "Application %s not enabled for %s", app, domain);
            return;
        }
    }
    if (!plugin_handles(plugin, req->method)) {
        set(route, 405, "Method Not Allowed");
        route->warning = "the application does not handle this method";
        return;
    }
    if (strcmp(req->method, "SUBSCRIBE") == 0 && !plugin_has_event(plugin, req->event)) {
        set(route, 489, "Bad Event");
        return;
    }
    route->plugin = plugin;
}
