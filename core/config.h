/*
 * config.h — INI configuration: the server's file (validated against the schema in config.c)
 * and plugin files (`<plugin>.ini`, validated against the plugin's option table).
 *
 * Loading happens on the main thread before anything else runs; the result is immutable but
 * for log_level and trace_sip, which SIGHUP may change on the main thread (reload.c).
 * Errors are collected as "FILE:LINE: [section] key: why" strings, all of them at once.
 */
#ifndef SYLK_CONFIG_H
#define SYLK_CONFIG_H

#include <glib.h>
#include <stdbool.h>
#include <sylk/plugin.h>
#include <sys/socket.h>

struct sylk_app_mapping {
    char *key; /* "user@host", "host" or "user" */
    char *app;
};

struct sylk_netmask {
    int family; /* AF_INET or AF_INET6 */
    guint8 addr[16];
    unsigned prefix;
};

struct sylk_server_config {
    char *path; /* the file loaded */
    char *dir;  /* its directory: plugin .ini files and relative paths are found there */

    /* [server] */
    char *default_application;  /* NULL: none */
    GPtrArray *application_map; /* of struct sylk_app_mapping */
    char **disabled_applications;
    char *plugins_dir;
    char *spool_dir;
    GArray *trusted_peers; /* of struct sylk_netmask; empty: everyone */
    bool allow_app_header;
    GLogLevelFlags log_level;
    bool trace_sip;
    char *log_file;   /* NULL: stderr; reopened on SIGHUP */
    char *trace_file; /* NULL: SIP traces go to the log; reopened on SIGHUP */

    /* [sip] */
    char *local_ip;
    char *advertised_ip;                   /* local_ip when not set */
    unsigned udp_port, tcp_port, tls_port; /* 0: disabled */
    char *tls_certificate, *tls_ca;
    char *outbound_proxy;
    unsigned max_message_size;
    unsigned udp_receive_buffer;         /* bytes asked for the UDP socket; 0: kernel default */
    unsigned sip_connection_timeout;     /* seconds an idle TCP/TLS connection is kept; 0: ever */
    unsigned sip_message_timeout;        /* seconds a message may take to arrive; 0: no limit */
    unsigned sip_max_connections_per_ip; /* TCP/TLS connections from one address; 0: no limit */

    /* [rtp] */
    unsigned rtp_port_min, rtp_port_max;
    char **audio_codecs;
    int srtp;               /* enum sylk_srtp_mode: 0 disabled, 1 optional, 2 mandatory */
    unsigned rtp_timeout;   /* seconds without RTP that end an audio-only call; 0: never */
    unsigned media_threads; /* 0: one per CPU */

    /* the opus encoder's complexity, 0-10 */
    unsigned opus_complexity;

    /* [msrp] */
    unsigned msrp_port; /* one listening port for every MSRP session; 0: no MSRP */
    bool msrp_use_tls;
    char *msrp_certificate; /* PEM with certificate and key; NULL: self-signed in spool_dir */
    unsigned msrp_reconnect_timeout; /* s a lost session connection may take to come back */

    /* [web] */
    char *web_local_ip;                  /* [sip] local_ip when not set */
    unsigned web_port;                   /* 0: no web server */
    char *web_public_url;                /* NULL: http(s)://advertised_ip:port */
    char *web_certificate;               /* PEM with certificate and key: HTTPS; NULL: HTTP */
    unsigned web_max_connections;        /* at least 1 */
    unsigned web_max_connections_per_ip; /* 0: no limit */
    unsigned web_connection_timeout;     /* seconds an idle connection is kept; 0: no limit */
    bool web_metrics;                    /* /metrics served (Prometheus) */
    GArray *web_metrics_allow;           /* of struct sylk_netmask: who may read /metrics */

    /* [domain NAME] applications = … : name → char ** */
    GHashTable *domains;
};

/** Sets every option to its default. */
void sylk_config_defaults(struct sylk_server_config *cfg);

/**
 * Loads and validates `path` over the defaults. Returns true when there are no errors;
 * otherwise appends one string per problem to `errors` (a GPtrArray of char *, g_free).
 */
bool sylk_config_load(struct sylk_server_config *cfg, const char *path, GPtrArray *errors);

void sylk_config_clear(struct sylk_server_config *cfg);

/** True when `addr` is allowed by trusted_peers (always true when the list is empty). */
bool sylk_config_peer_trusted(const struct sylk_server_config *cfg, const struct sockaddr *addr);

/** Parses "10.0.0.0/8", "::1" or "127.0.0.1" into a mask. */
bool sylk_netmask_parse(const char *text, struct sylk_netmask *mask);
bool sylk_netmask_match(const struct sylk_netmask *mask, const struct sockaddr *addr);

/** A plugin's configuration file (the SDK's opaque sylk_config). */
struct sylk_config;

/**
 * Loads `<dir>/<name>.ini` (a missing file gives an empty config), validating it against
 * `options` when not NULL. Returns NULL and appends to `errors` when invalid.
 */
struct sylk_config *sylk_plugin_config_load(const char *dir, const char *name,
                                            const struct sylk_config_option *options,
                                            GPtrArray *errors);
void sylk_plugin_config_free(struct sylk_config *config);

const char *sylk_plugin_config_get_string(struct sylk_config *config, const char *section,
                                          const char *key, const char *fallback);
long sylk_plugin_config_get_int(struct sylk_config *config, const char *section, const char *key,
                                long fallback);
bool sylk_plugin_config_get_bool(struct sylk_config *config, const char *section, const char *key,
                                 bool fallback);
size_t sylk_plugin_config_get_list(struct sylk_config *config, const char *section, const char *key,
                                   const char *const **items);
size_t sylk_plugin_config_sections(struct sylk_config *config, const char *const **sections);

#endif
