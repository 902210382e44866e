/*
 * xmppgw — a transparent SIP <-> XMPP gateway, as SylkServer's xmppgateway application.
 *
 * SIP requests routed to the "xmppgw" application (application_map, [domain] sections) go to
 * the mapping (gateway.h); XMPP reaches `domains` either over server-to-server streams with
 * dialback (mode = s2s: we are the XMPP server of those domains, found through their
 * _xmpp-server._tcp SRV records) or as external components of an XMPP server (mode =
 * component, XEP-0114). This file is the plugin entry: configuration (xmppgw.ini, see
 * settings.h), start and shutdown of the transport (s2s.c or component.c, router.c) and the
 * mapping, and gateway.h's accessors. Without `domains` the gateway stays idle: nothing
 * listens and SIP requests get 503.
 *
 * Thread: every callback runs on the server's main thread.
 */
#define XGW_LOG_DOMAIN "xmppgw"
#include "component.h"
#include "conn.h"
#include "gateway.h"
#include "muc.h"
#include "router.h"
#include "s2s.h"
#include "settings.h"

#include <errno.h>
#include <string.h>

static struct {
    const struct sylk_host *host;
    struct xgw_settings settings;
    struct xgw_config config;
    bool running;
    sylk_metrics_collector *collector; /* while running (SDK 1.9) */
} gw;

const struct sylk_host *xgw_host(void)
{
    return gw.host;
}

const struct xgw_config *xgw_config(void)
{
    return &gw.config;
}

bool xgw_is_our_domain(const char *domain)
{
    for (char **d = gw.config.domains; domain && d && *d; d++)
        if (g_ascii_strcasecmp(*d, domain) == 0)
            return true;
    return false;
}

static int start_transport(char **why)
{
    int rc = xgw_router_start(&gw.settings);
    if (rc == 0)
        rc = gw.settings.mode == XGW_MODE_S2S ? xgw_s2s_start(&gw.settings, why)
                                              : xgw_component_start(&gw.settings, why);
    return rc;
}

static void stop_transport(void)
{
    /* first every outcome due (the mapping still runs), then the mapping, whose last sends go
     * out best effort, then the streams (gateway.h) */
    if (gw.settings.mode == XGW_MODE_S2S)
        xgw_s2s_quiesce();
    else
        xgw_component_quiesce();
    xgw_router_quiesce();
    xgw_mapping_shutdown();
    xgw_muc_shutdown();
    if (gw.settings.mode == XGW_MODE_S2S)
        xgw_s2s_stop();
    else
        xgw_component_stop();
    xgw_router_stop();
    xconn_tls_shutdown();
}

/* Streams open: s2s streams in and out, or the component connection. */
static void collect(sylk_metric_writer *w, void *user_data)
{
    (void)user_data;
    const char *labels[] = {"mode", gw.settings.mode == XGW_MODE_S2S ? "s2s" : "component", NULL};
    gw.host->metric_write(w, "streams_open", "XMPP streams open (s2s in and out, or component)",
                          SYLK_METRIC_GAUGE, labels, (double)xconn_flowing_count());
}

static int xmppgw_init(const struct sylk_host *host, sylk_config *file)
{
    gw.host = host;
    if (!SYLK_HOST_HAS(host, resolve)) {
        host->log(XGW_NAME, SYLK_LOG_ERROR, "the server is too old (ABI 1.7 needed)");
        return -ENOTSUP;
    }
    g_autofree char *why = NULL;
    int rc = xgw_settings_load(file, &gw.settings, &gw.config, &why);
    if (rc < 0) {
        XGW_LOG(SYLK_LOG_ERROR, "xmppgw.ini: %s", why);
        xgw_settings_clear(&gw.settings, &gw.config);
        return rc;
    }
    if (!gw.config.domains[0]) {
        XGW_LOG(SYLK_LOG_INFO, "no domains in xmppgw.ini: the XMPP gateway is idle");
        return 0;
    }
    rc = xconn_tls_init(&gw.settings, host->spool_dir(), gw.config.domains[0], &why);
    if (rc == 0)
        rc = xgw_mapping_init();
    if (rc == 0)
        xgw_muc_init();
    if (rc < 0) {
        XGW_LOG(SYLK_LOG_ERROR, "%s", why ? why : "the mapping did not start");
        xconn_tls_shutdown();
        xgw_settings_clear(&gw.settings, &gw.config);
        return rc;
    }
    rc = start_transport(&why);
    if (rc < 0) {
        XGW_LOG(SYLK_LOG_ERROR, "%s", why ? why : "the transport did not start");
        stop_transport();
        xgw_settings_clear(&gw.settings, &gw.config);
        return rc;
    }
    gw.running = true;
    if (SYLK_HOST_HAS(host, metrics_collector_add))
        gw.collector = host->metrics_collector_add(collect, NULL);
    g_autofree char *domains = g_strjoinv(", ", gw.config.domains);
    XGW_LOG(SYLK_LOG_INFO, "XMPP gateway for %s (%s)", domains,
            gw.settings.mode == XGW_MODE_S2S ? "server-to-server" : "component");
    return 0;
}

static void xmppgw_shutdown(void)
{
    if (gw.collector)
        gw.host->metrics_collector_remove(gw.collector);
    gw.collector = NULL;
    if (gw.running)
        stop_transport();
    gw.running = false;
    xgw_settings_clear(&gw.settings, &gw.config);
}

static void incoming_sip_message(sylk_message *message)
{
    if (!gw.running) {
        gw.host->message_respond(message, 503, "XMPP Gateway Not Configured");
        return;
    }
    xgw_sip_message_in(message);
}

static void incoming_subscription(sylk_subscription *subscription)
{
    if (!gw.running) {
        gw.host->subscription_reject(subscription, 503, "XMPP Gateway Not Configured");
        return;
    }
    xgw_sip_subscription_in(subscription);
}

static void incoming_session(sylk_session *session)
{
    if (!gw.running) {
        gw.host->session_reject(session, 503, "XMPP Gateway Not Configured");
        return;
    }
    if (!xgw_muc_invite_session(session)) /* one of our rooms calling an XMPP user */
        xgw_sip_session_in(session);
}

static const char *const xmppgw_events[] = {"presence", NULL};

static const struct sylk_plugin plugin =
    SYLK_PLUGIN_INIT(.name = XGW_NAME, .version = "0.1",
                     .description =
                         "SIP <-> XMPP gateway (server-to-server with dialback, or XEP-0114)",
                     .events = xmppgw_events, .config_options = xgw_options, .init = xmppgw_init,
                     .shutdown = xmppgw_shutdown, .incoming_session = incoming_session,
                     .incoming_subscription = incoming_subscription,
                     .incoming_sip_message = incoming_sip_message);

SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void)
{
    return &plugin;
}
