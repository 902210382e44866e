/*
 * config.c — the server's configuration file (see config.h): its schema (sections, options
 * and their kinds), defaults, values checked and applied with file:line errors, options
 * checked against each other; and the address masks of trusted_peers. INI reading is in
 * config_ini.c, plugin files in config_plugin.c.
 *
 * Thread: main thread (loaded before anything else runs; immutable after).
 */
#define G_LOG_DOMAIN "sylk-config"
#include "config.h"

#include "config_ini.h"
#include "log.h"
#include "media/codec.h"
#include "sylk-build-config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

bool sylk_netmask_parse(const char *text, struct sylk_netmask *mask)
{
    g_autofree char *addr = g_strdup(text);
    char *slash = strchr(addr, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        if (!sylk_ini_parse_long(slash + 1, &prefix) || prefix < 0)
            return false;
    }
    memset(mask, 0, sizeof(*mask));
    if (inet_pton(AF_INET, addr, mask->addr) == 1) {
        mask->family = AF_INET;
        mask->prefix = prefix < 0 ? 32 : (unsigned)prefix;
        return mask->prefix <= 32;
    }
    if (inet_pton(AF_INET6, addr, mask->addr) == 1) {
        mask->family = AF_INET6;
        mask->prefix = prefix < 0 ? 128 : (unsigned)prefix;
        return mask->prefix <= 128;
    }
    return false;
}

static bool prefix_equal(const guint8 *a, const guint8 *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    guint8 m = (guint8)(0xff << (8 - rest));
    return (a[bytes] & m) == (b[bytes] & m);
}

bool sylk_netmask_match(const struct sylk_netmask *mask, const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET && mask->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return prefix_equal(mask->addr, (const guint8 *)&in->sin_addr, mask->prefix);
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        const guint8 *a = (const guint8 *)&in6->sin6_addr;
        if (mask->family == AF_INET6)
            return prefix_equal(mask->addr, a, mask->prefix);
        /* An IPv4 peer seen on a dual-stack socket as ::ffff:a.b.c.d */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return prefix_equal(mask->addr, a + 12, mask->prefix);
    }
    return false;
}

bool sylk_config_peer_trusted(const struct sylk_server_config *cfg, const struct sockaddr *addr)
{
    if (!cfg->trusted_peers || cfg->trusted_peers->len == 0)
        return true;
    if (!addr)
        return false;
    for (unsigned i = 0; i < cfg->trusted_peers->len; i++) {
        if (sylk_netmask_match(&g_array_index(cfg->trusted_peers, struct sylk_netmask, i), addr))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- the server's schema --- */

enum kind {
    K_STRING,   /* char * */
    K_PATH,     /* char *, relative to the config file's directory */
    K_BOOL,     /* bool */
    K_PORT,     /* unsigned 0..65535 */
    K_SIZE,     /* unsigned 1024..16 MiB */
    K_LIST,     /* char ** */
    K_LEVEL,    /* GLogLevelFlags */
    K_IP,       /* char *, a literal IPv4 or IPv6 address */
    K_SIP_URI,  /* char *, sip: or sips: URI */
    K_APP_MAP,  /* GPtrArray of struct sylk_app_mapping */
    K_NETMASKS, /* GArray of struct sylk_netmask */
    K_RANGE,    /* rtp_port_min / rtp_port_max */
    K_CODECS,   /* char **, known codec names */
    K_SRTP,     /* int: disabled | optional | mandatory */
    K_SECONDS,  /* unsigned 0..3600 */
    K_THREADS,  /* unsigned 0..64, 0: one per CPU */
    K_HTTP_URL, /* char *, http: or https: URL without query or fragment */
    K_CONNS,    /* unsigned 0..100000, a number of connections */
    K_BUFFER,   /* unsigned 0 or 64 KiB..1 GiB, a socket buffer size */
    K_EFFORT,   /* unsigned 0..10, an opus encoder complexity */
};

struct option {
    const char *section;
    const char *key;
    enum kind kind;
    size_t offset;
};

#define OPT(s, k, kind, field)                                                                     \
    {                                                                                              \
        s, k, kind, offsetof(struct sylk_server_config, field)                                     \
    }

static const struct option server_options[] = {
    OPT("server", "default_application", K_STRING, default_application),
    OPT("server", "application_map", K_APP_MAP, application_map),
    OPT("server", "disabled_applications", K_LIST, disabled_applications),
    OPT("server", "plugins_dir", K_PATH, plugins_dir),
    OPT("server", "spool_dir", K_PATH, spool_dir),
    OPT("server", "trusted_peers", K_NETMASKS, trusted_peers),
    OPT("server", "allow_app_header", K_BOOL, allow_app_header),
    OPT("server", "log_level", K_LEVEL, log_level),
    OPT("server", "trace_sip", K_BOOL, trace_sip),
    OPT("server", "log_file", K_PATH, log_file),
    OPT("server", "trace_file", K_PATH, trace_file),
    OPT("sip", "local_ip", K_IP, local_ip),
    OPT("sip", "advertised_ip", K_IP, advertised_ip),
    OPT("sip", "udp_port", K_PORT, udp_port),
    OPT("sip", "tcp_port", K_PORT, tcp_port),
    OPT("sip", "tls_port", K_PORT, tls_port),
    OPT("sip", "tls_certificate", K_PATH, tls_certificate),
    OPT("sip", "tls_ca", K_PATH, tls_ca),
    OPT("sip", "outbound_proxy", K_SIP_URI, outbound_proxy),
    OPT("sip", "max_message_size", K_SIZE, max_message_size),
    OPT("sip", "udp_receive_buffer", K_BUFFER, udp_receive_buffer),
    OPT("sip", "connection_timeout", K_SECONDS, sip_connection_timeout),
    OPT("sip", "message_timeout", K_SECONDS, sip_message_timeout),
    OPT("sip", "max_connections_per_ip", K_CONNS, sip_max_connections_per_ip),
    OPT("rtp", "port_range", K_RANGE, rtp_port_min),
    OPT("rtp", "audio_codecs", K_CODECS, audio_codecs),
    OPT("rtp", "srtp", K_SRTP, srtp),
    OPT("rtp", "timeout", K_SECONDS, rtp_timeout),
    OPT("rtp", "media_threads", K_THREADS, media_threads),
    OPT("rtp", "opus_complexity", K_EFFORT, opus_complexity),
    OPT("msrp", "port", K_PORT, msrp_port),
    OPT("msrp", "use_tls", K_BOOL, msrp_use_tls),
    OPT("msrp", "certificate", K_PATH, msrp_certificate),
    OPT("msrp", "reconnect_timeout", K_SECONDS, msrp_reconnect_timeout),
    OPT("web", "local_ip", K_IP, web_local_ip),
    OPT("web", "port", K_PORT, web_port),
    OPT("web", "public_url", K_HTTP_URL, web_public_url),
    OPT("web", "certificate", K_PATH, web_certificate),
    OPT("web", "max_connections", K_CONNS, web_max_connections),
    OPT("web", "max_connections_per_ip", K_CONNS, web_max_connections_per_ip),
    OPT("web", "connection_timeout", K_SECONDS, web_connection_timeout),
    OPT("web", "metrics", K_BOOL, web_metrics),
    OPT("web", "metrics_allow", K_NETMASKS, web_metrics_allow),
};

/* The default preference: fullband, wideband, then narrowband. */
static const char *const default_codecs[] = {"opus", "G722", "speex", "PCMU", "PCMA", NULL};

static const char *const srtp_modes[] = {"disabled", "optional", "mandatory", NULL};

void sylk_config_defaults(struct sylk_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->default_application = NULL;
    cfg->application_map = g_ptr_array_new();
    cfg->disabled_applications = g_new0(char *, 1);
    cfg->plugins_dir = g_strdup(SYLK_PLUGINDIR);
    cfg->spool_dir = g_strdup(SYLK_SPOOLDIR);
    cfg->trusted_peers = g_array_new(FALSE, TRUE, sizeof(struct sylk_netmask));
    cfg->web_metrics_allow = g_array_new(FALSE, TRUE, sizeof(struct sylk_netmask));
    for (const char *const *a = (const char *const[]){"127.0.0.0/8", "::1", NULL}; *a; a++) {
        struct sylk_netmask m;
        if (sylk_netmask_parse(*a, &m))
            g_array_append_val(cfg->web_metrics_allow, m);
    }
    cfg->allow_app_header = false;
    cfg->log_level = G_LOG_LEVEL_INFO;
    cfg->local_ip = g_strdup("127.0.0.1");
    cfg->udp_port = 5060;
    cfg->tcp_port = 5060;
    cfg->max_message_size = 65536;
    cfg->udp_receive_buffer = 8u << 20;
    cfg->sip_connection_timeout = 120;
    cfg->sip_message_timeout = 20;
    cfg->sip_max_connections_per_ip = 64;
    cfg->rtp_port_min = 50000;
    cfg->rtp_port_max = 50500;
    cfg->audio_codecs = g_strdupv((char **)default_codecs);
    cfg->srtp = 1; /* optional */
    cfg->rtp_timeout = 30;
    cfg->opus_complexity = 9; /* libopus's own default: see etc/sylkserver.ini */
    cfg->msrp_port = 2855;
    cfg->msrp_use_tls = true;
    cfg->msrp_reconnect_timeout = 30;
    cfg->web_port = 8090;
    cfg->web_max_connections = 64;
    cfg->web_max_connections_per_ip = 16;
    cfg->web_connection_timeout = 30;
    cfg->domains =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
}

static void app_mapping_free(gpointer p)
{
    struct sylk_app_mapping *m = p;
    g_free(m->key);
    g_free(m->app);
    g_free(m);
}

static char *resolve_path(const char *dir, const char *value)
{
    if (g_path_is_absolute(value))
        return g_strdup(value);
    return g_canonicalize_filename(value, dir);
}

#define FIELD(cfg, o, type) ((type *)((char *)(cfg) + (o)->offset))

/* A base URL others are given (public_url): http or https, a host, no query or fragment. */
static char *apply_http_url(char **field, const char *value)
{
    g_autoptr(GUri) uri = g_uri_parse(value, G_URI_FLAGS_NONE, NULL);
    const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
    if (!scheme || (g_ascii_strcasecmp(scheme, "http") && g_ascii_strcasecmp(scheme, "https")) ||
        !g_uri_get_host(uri) || !*g_uri_get_host(uri) || g_uri_get_userinfo(uri) ||
        g_uri_get_query(uri) || g_uri_get_fragment(uri) || strpbrk(value, " \t\"<>"))
        return g_strdup_printf("'%s' is not an http: or https: URL without query or fragment",
                               value);
    g_free(*field);
    *field = g_strdup(value);
    return NULL;
}

/* Parses one value into its field; returns an error text or NULL. */
static char *apply_option(struct sylk_server_config *cfg, const struct option *o, const char *value)
{
    long n;
    switch (o->kind) {
    case K_STRING:
        g_free(*FIELD(cfg, o, char *));
        *FIELD(cfg, o, char *) = *value ? g_strdup(value) : NULL;
        return NULL;
    case K_PATH:
        if (!*value)
            return g_strdup("empty path");
        g_free(*FIELD(cfg, o, char *));
        *FIELD(cfg, o, char *) = resolve_path(cfg->dir, value);
        return NULL;
    case K_BOOL:
        if (!sylk_ini_parse_bool(value, FIELD(cfg, o, bool)))
            return g_strdup_printf("'%s' is not a boolean (true/false)", value);
        return NULL;
    case K_PORT:
        if (!sylk_ini_parse_long(value, &n) || n < 0 || n > 65535)
            return g_strdup_printf("'%s' is not a port number (0-65535, 0 disables)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_SIZE:
        if (!sylk_ini_parse_long(value, &n) || n < 1024 || n > 16 * 1024 * 1024)
            return g_strdup_printf("'%s' is not a size in bytes between 1024 and 16777216", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_LIST:
        g_strfreev(*FIELD(cfg, o, char **));
        *FIELD(cfg, o, char **) = sylk_ini_split_list(value);
        return NULL;
    case K_LEVEL:
        if (!sylk_log_level_parse(value, FIELD(cfg, o, GLogLevelFlags)))
            return g_strdup_printf("'%s' is not one of error, warning, info, debug", value);
        return NULL;
    case K_IP: {
        struct sylk_netmask m;
        if (strchr(value, '/') || !sylk_netmask_parse(value, &m))
            return g_strdup_printf("'%s' is not an IPv4 or IPv6 address", value);
        g_free(*FIELD(cfg, o, char *));
        *FIELD(cfg, o, char *) = g_strdup(value);
        return NULL;
    }
    case K_SIP_URI:
        if (!g_str_has_prefix(value, "sip:") && !g_str_has_prefix(value, "sips:"))
            return g_strdup_printf("'%s' is not a sip: or sips: URI", value);
        g_free(*FIELD(cfg, o, char *));
        *FIELD(cfg, o, char *) = g_strdup(value);
        return NULL;
    case K_APP_MAP: {
        g_auto(GStrv) items = sylk_ini_split_list(value);
        GPtrArray *map = g_ptr_array_new_with_free_func(app_mapping_free);
        for (unsigned i = 0; items[i]; i++) {
            char *colon = strrchr(items[i], ':');
            if (!colon || colon == items[i] || !colon[1]) {
                g_ptr_array_free(map, TRUE);
                return g_strdup_printf("'%s' is not a key:application pair", items[i]);
            }
            struct sylk_app_mapping *m = g_new0(struct sylk_app_mapping, 1);
            m->key = g_strstrip(g_strndup(items[i], (gsize)(colon - items[i])));
            m->app = g_strstrip(g_strdup(colon + 1));
            g_ptr_array_add(map, m);
        }
        g_ptr_array_free(cfg->application_map, TRUE);
        cfg->application_map = map;
        return NULL;
    }
    case K_NETMASKS: {
        g_auto(GStrv) items = sylk_ini_split_list(value);
        GArray *masks = *FIELD(cfg, o, GArray *);
        g_array_set_size(masks, 0);
        for (unsigned i = 0; items[i]; i++) {
            struct sylk_netmask m;
            if (!sylk_netmask_parse(items[i], &m))
                return g_strdup_printf("'%s' is not an address or address/prefix", items[i]);
            g_array_append_val(masks, m);
        }
        return NULL;
    }
    case K_RANGE: {
        long lo, hi;
        g_auto(GStrv) parts = g_strsplit(value, ":", 2);
        if (!parts[0] || !parts[1] || !sylk_ini_parse_long(g_strstrip(parts[0]), &lo) ||
            !sylk_ini_parse_long(g_strstrip(parts[1]), &hi) || lo < 1024 || hi > 65535 ||
            hi < lo + 1)
            return g_strdup_printf("'%s' is not a port range LOW:HIGH within 1024:65535", value);
        cfg->rtp_port_min = (unsigned)(lo + (lo & 1)); /* RTP ports are even */
        cfg->rtp_port_max = (unsigned)hi;
        if (cfg->rtp_port_min + 1 > cfg->rtp_port_max)
            return g_strdup_printf("'%s' holds no even/odd port pair", value);
        return NULL;
    }
    case K_CODECS: {
        char **codecs = sylk_ini_split_list(value);
        if (!codecs[0]) {
            g_strfreev(codecs);
            return g_strdup("no codec listed");
        }
        for (unsigned i = 0; codecs[i]; i++) {
            if (!sylk_codec_name_known(codecs[i])) {
                char *why = g_strdup_printf(
                    "unknown codec '%s' (known: opus, G722, speex, PCMU, PCMA)", codecs[i]);
                g_strfreev(codecs);
                return why;
            }
        }
        g_strfreev(cfg->audio_codecs);
        cfg->audio_codecs = codecs;
        return NULL;
    }
    case K_SECONDS:
        if (!sylk_ini_parse_long(value, &n) || n < 0 || n > 3600)
            return g_strdup_printf("'%s' is not a number of seconds (0-3600, 0 disables)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_THREADS:
        if (!sylk_ini_parse_long(value, &n) || n < 0 || n > 64)
            return g_strdup_printf("'%s' is not a thread count (0-64, 0: one per CPU)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_SRTP:
        for (int i = 0; srtp_modes[i]; i++) {
            if (g_ascii_strcasecmp(value, srtp_modes[i]) == 0) {
                *FIELD(cfg, o, int) = i;
                return NULL;
            }
        }
        return g_strdup_printf("'%s' is not one of disabled, optional, mandatory", value);
    case K_HTTP_URL:
        return apply_http_url(FIELD(cfg, o, char *), value);
    case K_CONNS:
        if (!sylk_ini_parse_long(value, &n) || n < 0 || n > 100000)
            return g_strdup_printf("'%s' is not a number of connections (0-100000)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_BUFFER:
        if (!sylk_ini_parse_long(value, &n) || n < 0 || (n > 0 && n < 65536) || n > (1L << 30))
            return g_strdup_printf("'%s' is not a buffer size in bytes (65536-1073741824, or 0 "
                                   "for the kernel's default)",
                                   value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_EFFORT:
        if (!sylk_ini_parse_long(value, &n) || n < 0 || n > 10)
            return g_strdup_printf("'%s' is not an opus encoder complexity (0-10)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    }
    return g_strdup("internal: unhandled option kind");
}

static const struct option *find_option(const char *section, const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(server_options); i++) {
        if (strcmp(server_options[i].section, section) == 0 &&
            strcmp(server_options[i].key, key) == 0)
            return &server_options[i];
    }
    return NULL;
}

static void load_domain(struct sylk_server_config *cfg, struct sylk_ini *ini, const char *section,
                        GPtrArray *errors)
{
    const char *name = section + strlen("domain ");
    while (*name == ' ')
        name++;
    if (!*name) {
        sylk_ini_error(errors, ini, section, NULL, "domain section without a domain name");
        return;
    }
    g_auto(GStrv) keys = g_key_file_get_keys(ini->kf, section, NULL, NULL);
    char **apps = NULL;
    for (unsigned i = 0; keys && keys[i]; i++) {
        if (strcmp(keys[i], "applications") != 0) {
            sylk_ini_error(errors, ini, section, keys[i], "unknown key (known: applications)");
            continue;
        }
        g_autofree char *v = sylk_ini_value(ini, section, keys[i]);
        g_strfreev(apps);
        apps = sylk_ini_split_list(v);
    }
    g_hash_table_replace(cfg->domains, g_ascii_strdown(name, -1), apps ? apps : g_new0(char *, 1));
}

static void check_consistency(struct sylk_server_config *cfg, struct sylk_ini *ini,
                              GPtrArray *errors)
{
    if (cfg->udp_port && cfg->tcp_port && cfg->udp_port != cfg->tcp_port)
        sylk_ini_error(errors, ini, "sip", "tcp_port",
                       "must equal udp_port (%u) or be 0: UDP and TCP share one listening URL",
                       cfg->udp_port);
    if (!cfg->udp_port && !cfg->tcp_port && !cfg->tls_port)
        sylk_ini_error(errors, ini, "sip", "udp_port", "every SIP transport is disabled");
    if (cfg->tls_port && !cfg->tls_certificate)
        sylk_ini_error(errors, ini, "sip", "tls_port", "TLS needs tls_certificate");
    if (cfg->tls_certificate && !g_file_test(cfg->tls_certificate, G_FILE_TEST_IS_REGULAR))
        sylk_ini_error(errors, ini, "sip", "tls_certificate", "no such file: %s",
                       cfg->tls_certificate);
    if (cfg->tls_ca && !g_file_test(cfg->tls_ca, G_FILE_TEST_IS_REGULAR))
        sylk_ini_error(errors, ini, "sip", "tls_ca", "no such file: %s", cfg->tls_ca);
    if (cfg->msrp_certificate && !g_file_test(cfg->msrp_certificate, G_FILE_TEST_IS_REGULAR))
        sylk_ini_error(errors, ini, "msrp", "certificate", "no such file: %s",
                       cfg->msrp_certificate);
    if (cfg->web_certificate && !g_file_test(cfg->web_certificate, G_FILE_TEST_IS_REGULAR))
        sylk_ini_error(errors, ini, "web", "certificate", "no such file: %s", cfg->web_certificate);
    const char *logs[] = {"log_file", cfg->log_file, "trace_file", cfg->trace_file};
    for (size_t i = 0; i < G_N_ELEMENTS(logs); i += 2) {
        g_autofree char *dir = logs[i + 1] ? g_path_get_dirname(logs[i + 1]) : NULL;
        if (dir && !g_file_test(dir, G_FILE_TEST_IS_DIR))
            sylk_ini_error(errors, ini, "server", logs[i], "no such directory: %s", dir);
    }
    if (cfg->web_max_connections == 0)
        sylk_ini_error(errors, ini, "web", "max_connections", "must be at least 1");
    if (cfg->web_metrics && cfg->web_port == 0)
        sylk_ini_error(errors, ini, "web", "metrics", "needs the web server ([web] port)");
    if (!cfg->advertised_ip)
        cfg->advertised_ip = g_strdup(cfg->local_ip);
    if (!cfg->web_local_ip)
        cfg->web_local_ip = g_strdup(cfg->local_ip);
}

bool sylk_config_load(struct sylk_server_config *cfg, const char *path, GPtrArray *errors)
{
    guint before = errors->len;
    g_free(cfg->path);
    g_free(cfg->dir);
    cfg->path = g_canonicalize_filename(path, NULL);
    cfg->dir = g_path_get_dirname(cfg->path);
    struct sylk_ini *ini = sylk_ini_load(path, errors);
    if (!ini)
        return false;

    g_auto(GStrv) sections = g_key_file_get_groups(ini->kf, NULL);
    for (unsigned s = 0; sections[s]; s++) {
        const char *section = sections[s];
        if (g_str_has_prefix(section, "domain ")) {
            load_domain(cfg, ini, section, errors);
            continue;
        }
        if (strcmp(section, "server") && strcmp(section, "sip") && strcmp(section, "rtp") &&
            strcmp(section, "msrp") && strcmp(section, "web")) {
            sylk_ini_error(errors, ini, section, NULL,
                           "unknown section (known: server, sip, rtp, msrp, web, domain NAME)");
            continue;
        }
        g_auto(GStrv) keys = g_key_file_get_keys(ini->kf, section, NULL, NULL);
        for (unsigned k = 0; keys && keys[k]; k++) {
            const struct option *o = find_option(section, keys[k]);
            if (!o) {
                sylk_ini_error(errors, ini, section, keys[k], "unknown key");
                continue;
            }
            g_autofree char *value = sylk_ini_value(ini, section, keys[k]);
            g_autofree char *why = apply_option(cfg, o, value ? value : "");
            if (why)
                sylk_ini_error(errors, ini, section, keys[k], "%s", why);
        }
    }
    check_consistency(cfg, ini, errors);
    sylk_ini_free(ini);
    return errors->len == before;
}

void sylk_config_clear(struct sylk_server_config *cfg)
{
    g_free(cfg->path);
    g_free(cfg->dir);
    g_free(cfg->default_application);
    if (cfg->application_map)
        g_ptr_array_free(cfg->application_map, TRUE);
    g_strfreev(cfg->disabled_applications);
    g_free(cfg->plugins_dir);
    g_free(cfg->spool_dir);
    g_free(cfg->log_file);
    g_free(cfg->trace_file);
    if (cfg->trusted_peers)
        g_array_free(cfg->trusted_peers, TRUE);
    if (cfg->web_metrics_allow)
        g_array_free(cfg->web_metrics_allow, TRUE);
    g_free(cfg->local_ip);
    g_free(cfg->advertised_ip);
    g_free(cfg->tls_certificate);
    g_free(cfg->tls_ca);
    g_free(cfg->msrp_certificate);
    g_free(cfg->web_local_ip);
    g_free(cfg->web_public_url);
    g_free(cfg->web_certificate);
    g_free(cfg->outbound_proxy);
    g_strfreev(cfg->audio_codecs);
    if (cfg->domains)
        g_hash_table_destroy(cfg->domains);
    memset(cfg, 0, sizeof(*cfg));
}
