/*
 * settings.h — the XMPP transport's settings (xmppgw.ini [general]): the option table the server
 * validates the file against (each value's own check, reported with file and line), the
 * loading of the values into struct xgw_settings and gateway.h's struct xgw_config, and the
 * static routes (XMPP domain -> host:port).
 *
 * The checks and the route parser are pure; loading reads the plugin's config through the host.
 * Thread: main thread (init); the settings are read-only afterwards.
 */
#ifndef XMPPGW_SETTINGS_H
#define XMPPGW_SETTINGS_H

#include "gateway.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define XGW_SECTION "general"

/* Every log line of the transport goes through the host with its module's domain. */
#define XGW_LOG(level, ...) xgw_host()->log(XGW_LOG_DOMAIN, level, __VA_ARGS__)

enum xgw_mode {
    XGW_MODE_S2S,       /* server-to-server with dialback: we are the XMPP server of `domains` */
    XGW_MODE_COMPONENT, /* XEP-0114: each domain is a component of one XMPP server */
};

/* An XMPP domain reached at a fixed address instead of through DNS. */
struct xgw_route {
    char *domain; /* prepared (lower case, Unicode form) */
    char *host;   /* a name or an IP literal (without brackets) */
    uint16_t port;
};

struct xgw_settings {
    enum xgw_mode mode;
    char *local_ip;                /* NULL: every address (IPv6 and IPv4) */
    unsigned local_port;           /* s2s listener (STARTTLS), 0: none */
    unsigned tls_port;             /* s2s direct TLS listener (XEP-0368), 0: none */
    bool tls;                      /* transport = tls: STARTTLS offered and used */
    bool require_tls;              /* no dialback or stanza before TLS, either way */
    bool tls_verify;               /* check the certificate of servers we connect to */
    char *certificate;             /* PEM, certificate chain and key; NULL: self-signed */
    char *ca_file;                 /* trust anchors for tls_verify; NULL: the system's */
    size_t max_stanza_bytes;       /* max_stanza_kb */
    unsigned idle_timeout;         /* seconds without traffic before a stream is closed */
    unsigned connect_timeout;      /* seconds a stanza waits for its stream */
    unsigned queue_limit;          /* stanzas waiting per remote domain or component */
    size_t send_buffer_bytes;      /* unwritten bytes per connection before it is dropped */
    unsigned max_incoming_streams; /* inbound s2s connections at once */
    char *dialback_secret;         /* NULL: random per process */
    char *component_host;
    unsigned component_port;
    char *component_secret;
    GPtrArray *static_routes; /* struct xgw_route * */
};

/** The option table of xmppgw.ini (struct sylk_plugin.config_options). */
extern const struct sylk_config_option xgw_options[];

/**
 * Reads the plugin's configuration into settings and config (cleared first). 0, or -EINVAL
 * with *why (a new string) for what the per-value checks cannot see: a value that needs
 * another (component mode without component_secret, require_tls without TLS).
 */
int xgw_settings_load(sylk_config *file, struct xgw_settings *settings, struct xgw_config *config,
                      char **why);

void xgw_settings_clear(struct xgw_settings *settings, struct xgw_config *config);

/**
 * Parses static_routes: "domain=host[:port], ..." (host a name, an IPv4 literal or [IPv6];
 * port 5269 when absent). The routes (struct xgw_route *, with their free function) or NULL
 * with *why (a new string).
 */
GPtrArray *xgw_routes_parse(const char *value, char **why);

/** The route for domain (prepared), or NULL. */
const struct xgw_route *xgw_routes_find(const GPtrArray *routes, const char *domain);

#endif
