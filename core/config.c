/*
 * config.c — INI loading with GKeyFile and schema validation with file:line errors.
 *
 * GKeyFile knows neither ';' comments (common in INI files, used by SylkServer) nor line
 * numbers, so each file is scanned once first: ';' comment lines become '#' ones, and the line
 * of every section and key is remembered for error messages. Lists are comma-separated.
 */
#define G_LOG_DOMAIN "sylk-config"
#include "config.h"

#include "log.h"
#include "media/codec.h"
#include "sylk-build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* A parsed INI file with the line of every section and key. */
struct ini {
    char *path;
    GKeyFile *kf;
    GHashTable *lines; /* "section" or "section\nkey" → line number */
};

static void ini_free(struct ini *ini)
{
    if (!ini)
        return;
    g_free(ini->path);
    if (ini->kf)
        g_key_file_free(ini->kf);
    if (ini->lines)
        g_hash_table_destroy(ini->lines);
    g_free(ini);
}

static unsigned ini_line(const struct ini *ini, const char *section, const char *key)
{
    g_autofree char *k = key ? g_strdup_printf("%s\n%s", section, key) : g_strdup(section);
    return GPOINTER_TO_UINT(g_hash_table_lookup(ini->lines, k));
}

static void G_GNUC_PRINTF(5, 6)
    add_error(GPtrArray *errors, const struct ini *ini, const char *section, const char *key,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    unsigned line = section ? ini_line(ini, section, key) : 0;
    if (key)
        g_ptr_array_add(errors,
                        g_strdup_printf("%s:%u: [%s] %s: %s", ini->path, line, section, key, why));
    else if (section)
        g_ptr_array_add(errors, g_strdup_printf("%s:%u: [%s]: %s", ini->path, line, section, why));
    else
        g_ptr_array_add(errors, g_strdup_printf("%s: %s", ini->path, why));
}

/* Rewrites ';' comments for GKeyFile and records line numbers. */
static char *ini_prescan(const char *text, GHashTable *lines)
{
    GString *out = g_string_new(NULL);
    g_auto(GStrv) rows = g_strsplit(text, "\n", -1);
    g_autofree char *section = NULL;
    for (unsigned i = 0; rows[i]; i++) {
        char *row = rows[i];
        const char *s = row + strspn(row, " \t");
        if (*s == ';') {
            g_string_append_printf(out, "#%s\n", s + 1);
            continue;
        }
        g_string_append_printf(out, "%s\n", row);
        if (*s == '[') {
            const char *end = strchr(s, ']');
            if (end) {
                g_free(section);
                section = g_strndup(s + 1, (gsize)(end - s - 1));
                g_hash_table_insert(lines, g_strdup(section), GUINT_TO_POINTER(i + 1));
            }
        } else if (*s && *s != '#' && section) {
            const char *eq = strchr(s, '=');
            if (eq) {
                g_autofree char *key = g_strstrip(g_strndup(s, (gsize)(eq - s)));
                g_hash_table_insert(lines, g_strdup_printf("%s\n%s", section, key),
                                    GUINT_TO_POINTER(i + 1));
            }
        }
    }
    return g_string_free(out, FALSE);
}

/* Returns NULL when the file cannot be read or parsed (error added). */
static struct ini *ini_load(const char *path, GPtrArray *errors)
{
    struct ini *ini = g_new0(struct ini, 1);
    ini->path = g_strdup(path);
    ini->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        add_error(errors, ini, NULL, NULL, "cannot read: %s", err->message);
        ini_free(ini);
        return NULL;
    }
    g_autofree char *clean = ini_prescan(text, ini->lines);
    ini->kf = g_key_file_new();
    if (!g_key_file_load_from_data(ini->kf, clean, (gsize)-1, G_KEY_FILE_NONE, &err)) {
        add_error(errors, ini, NULL, NULL, "not a valid INI file: %s", err->message);
        ini_free(ini);
        return NULL;
    }
    return ini;
}

static char *ini_value(const struct ini *ini, const char *section, const char *key)
{
    char *v = g_key_file_get_value(ini->kf, section, key, NULL);
    return v ? g_strstrip(v) : NULL;
}

static char **split_list(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    GPtrArray *out = g_ptr_array_new();
    for (unsigned i = 0; parts[i]; i++) {
        char *p = g_strstrip(parts[i]);
        if (*p)
            g_ptr_array_add(out, g_strdup(p));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (g_ascii_strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end)
        return false;
    *out = n;
    return true;
}

bool sylk_netmask_parse(const char *text, struct sylk_netmask *mask)
{
    g_autofree char *addr = g_strdup(text);
    char *slash = strchr(addr, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        if (!parse_long(slash + 1, &prefix) || prefix < 0)
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
        if (!parse_bool(value, FIELD(cfg, o, bool)))
            return g_strdup_printf("'%s' is not a boolean (true/false)", value);
        return NULL;
    case K_PORT:
        if (!parse_long(value, &n) || n < 0 || n > 65535)
            return g_strdup_printf("'%s' is not a port number (0-65535, 0 disables)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_SIZE:
        if (!parse_long(value, &n) || n < 1024 || n > 16 * 1024 * 1024)
            return g_strdup_printf("'%s' is not a size in bytes between 1024 and 16777216", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_LIST:
        g_strfreev(*FIELD(cfg, o, char **));
        *FIELD(cfg, o, char **) = split_list(value);
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
        g_auto(GStrv) items = split_list(value);
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
        g_auto(GStrv) items = split_list(value);
        g_array_set_size(cfg->trusted_peers, 0);
        for (unsigned i = 0; items[i]; i++) {
            struct sylk_netmask m;
            if (!sylk_netmask_parse(items[i], &m))
                return g_strdup_printf("'%s' is not an address or address/prefix", items[i]);
            g_array_append_val(cfg->trusted_peers, m);
        }
        return NULL;
    }
    case K_RANGE: {
        long lo, hi;
        g_auto(GStrv) parts = g_strsplit(value, ":", 2);
        if (!parts[0] || !parts[1] || !parse_long(g_strstrip(parts[0]), &lo) ||
            !parse_long(g_strstrip(parts[1]), &hi) || lo < 1024 || hi > 65535 || hi < lo + 1)
            return g_strdup_printf("'%s' is not a port range LOW:HIGH within 1024:65535", value);
        cfg->rtp_port_min = (unsigned)(lo + (lo & 1)); /* RTP ports are even */
        cfg->rtp_port_max = (unsigned)hi;
        if (cfg->rtp_port_min + 1 > cfg->rtp_port_max)
            return g_strdup_printf("'%s' holds no even/odd port pair", value);
        return NULL;
    }
    case K_CODECS: {
        char **codecs = split_list(value);
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
        if (!parse_long(value, &n) || n < 0 || n > 3600)
            return g_strdup_printf("'%s' is not a number of seconds (0-3600, 0 disables)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_THREADS:
        if (!parse_long(value, &n) || n < 0 || n > 64)
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
        if (!parse_long(value, &n) || n < 0 || n > 100000)
            return g_strdup_printf("'%s' is not a number of connections (0-100000)", value);
        *FIELD(cfg, o, unsigned) = (unsigned)n;
        return NULL;
    case K_BUFFER:
        if (!parse_long(value, &n) || n < 0 || (n > 0 && n < 65536) || n > (1L << 30))
            return g_strdup_printf("'%s' is not a buffer size in bytes (65536-1073741824, or 0 "
                                   "for the kernel's default)",
                                   value);
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

static void load_domain(struct sylk_server_config *cfg, struct ini *ini, const char *section,
                        GPtrArray *errors)
{
    const char *name = section + strlen("domain ");
    while (*name == ' ')
        name++;
    if (!*name) {
        add_error(errors, ini, section, NULL, "domain section without a domain name");
        return;
    }
    g_auto(GStrv) keys = g_key_file_get_keys(ini->kf, section, NULL, NULL);
    char **apps = NULL;
    for (unsigned i = 0; keys && keys[i]; i++) {
        if (strcmp(keys[i], "applications") != 0) {
            add_error(errors, ini, section, keys[i], "unknown key (known: applications)");
            continue;
        }
        g_autofree char *v = ini_value(ini, section, keys[i]);
        g_strfreev(apps);
        apps = split_list(v);
    }
    g_hash_table_replace(cfg->domains, g_ascii_strdown(name, -1), apps ? apps : g_new0(char *, 1));
}

static void check_consistency(struct sylk_server_config *cfg, struct ini *ini, GPtrArray *errors)
{
    if (cfg->udp_port && cfg->tcp_port && cfg->udp_port != cfg->tcp_port)
        add_error(errors, ini, "sip", "tcp_port",
                  "must equal udp_port (%u) or be 0: UDP and TCP share one listening URL",
                  cfg->udp_port);
    if (!cfg->udp_port && !cfg->tcp_port && !cfg->tls_port)
        add_error(errors, ini, "sip", "udp_port", "every SIP transport is disabled");
    if (cfg->tls_port && !cfg->tls_certificate)
        add_error(errors, ini, "sip", "tls_port", "TLS needs tls_certificate");
    if (cfg->tls_certificate && !g_file_test(cfg->tls_certificate, G_FILE_TEST_IS_REGULAR))
        add_error(errors, ini, "sip", "tls_certificate", "no such file: %s", cfg->tls_certificate);
    if (cfg->tls_ca && !g_file_test(cfg->tls_ca, G_FILE_TEST_IS_REGULAR))
        add_error(errors, ini, "sip", "tls_ca", "no such file: %s", cfg->tls_ca);
    if (cfg->msrp_certificate && !g_file_test(cfg->msrp_certificate, G_FILE_TEST_IS_REGULAR))
        add_error(errors, ini, "msrp", "certificate", "no such file: %s", cfg->msrp_certificate);
    if (cfg->web_certificate && !g_file_test(cfg->web_certificate, G_FILE_TEST_IS_REGULAR))
        add_error(errors, ini, "web", "certificate", "no such file: %s", cfg->web_certificate);
    if (cfg->web_max_connections == 0)
        add_error(errors, ini, "web", "max_connections", "must be at least 1");
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
    struct ini *ini = ini_load(path, errors);
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
            add_error(errors, ini, section, NULL,
                      "unknown section (known: server, sip, rtp, msrp, web, domain NAME)");
            continue;
        }
        g_auto(GStrv) keys = g_key_file_get_keys(ini->kf, section, NULL, NULL);
        for (unsigned k = 0; keys && keys[k]; k++) {
            const struct option *o = find_option(section, keys[k]);
            if (!o) {
                add_error(errors, ini, section, keys[k], "unknown key");
                continue;
            }
            g_autofree char *value = ini_value(ini, section, keys[k]);
            g_autofree char *why = apply_option(cfg, o, value ? value : "");
            if (why)
                add_error(errors, ini, section, keys[k], "%s", why);
        }
    }
    check_consistency(cfg, ini, errors);
    ini_free(ini);
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
    if (cfg->trusted_peers)
        g_array_free(cfg->trusted_peers, TRUE);
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

/* ------------------------------------------------------------ plugin configuration --- */

struct sylk_config {
    struct ini *ini;     /* NULL when the plugin has no file */
    GHashTable *strings; /* "section\nkey" → char *, values handed out */
    GHashTable *lists;   /* "section\nkey" → char ** */
    char **sections;
};

/* Entries are stepped through by their struct_size so that fields can be appended later. */
static const struct sylk_config_option *next_option(const struct sylk_config_option *o)
{
    return (const struct sylk_config_option *)((const char *)o + o->struct_size);
}

/* A table whose entries do not say their size cannot be walked safely. */
static bool options_valid(const struct sylk_config_option *opts)
{
    size_t min = offsetof(struct sylk_config_option, description) + sizeof(opts->description);
    for (const struct sylk_config_option *o = opts;; o = next_option(o)) {
        if (o->struct_size < min || o->struct_size > 4096)
            return false;
        if (!o->key)
            return true;
    }
}

static const struct sylk_config_option *find_plugin_option(const struct sylk_config_option *opts,
                                                           const char *section, const char *key)
{
    bool named = false;
    for (const struct sylk_config_option *o = opts; o->key; o = next_option(o))
        named |= o->section && strcmp(o->section, section) == 0;
    for (const struct sylk_config_option *o = opts; o->key; o = next_option(o)) {
        bool section_ok = o->section ? strcmp(o->section, section) == 0 : !named;
        if (section_ok && strcmp(o->key, key) == 0)
            return o;
    }
    return NULL;
}

/* The plugin's own check of a value (1.7), when its entry is large enough to have one. */
static void plugin_check(struct ini *ini, const char *section, const char *key,
                         const struct sylk_config_option *o, const char *value, GPtrArray *errors)
{
    size_t end = offsetof(struct sylk_config_option, validate) + sizeof(o->validate);
    if (o->struct_size < end || !o->validate)
        return;
    char why[512] = "";
    if (o->validate(value, why, sizeof why) < 0) {
        why[sizeof why - 1] = '\0';
        add_error(errors, ini, section, key, "%s", why[0] ? why : "bad value");
    }
}

static void validate_plugin_value(struct ini *ini, const char *section, const char *key,
                                  const struct sylk_config_option *o, GPtrArray *errors)
{
    g_autofree char *v = ini_value(ini, section, key);
    long n;
    bool b;
    switch (o->type) {
    case SYLK_OPTION_INT:
        if (!parse_long(v, &n))
            add_error(errors, ini, section, key, "'%s' is not an integer", v);
        else if ((o->min || o->max) && (n < o->min || n > o->max))
            add_error(errors, ini, section, key, "%ld is outside %ld..%ld", n, o->min, o->max);
        else
            plugin_check(ini, section, key, o, v, errors);
        break;
    case SYLK_OPTION_BOOL:
        if (!parse_bool(v, &b))
            add_error(errors, ini, section, key, "'%s' is not a boolean (true/false)", v);
        else
            plugin_check(ini, section, key, o, v, errors);
        break;
    case SYLK_OPTION_STRING:
    case SYLK_OPTION_LIST:
        plugin_check(ini, section, key, o, v, errors);
        break;
    }
}

struct sylk_config *sylk_plugin_config_load(const char *dir, const char *name,
                                            const struct sylk_config_option *options,
                                            GPtrArray *errors)
{
    struct sylk_config *c = g_new0(struct sylk_config, 1);
    c->strings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    c->lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
    g_autofree char *file = g_strdup_printf("%s.ini", name);
    g_autofree char *path = g_build_filename(dir, file, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        c->sections = g_new0(char *, 1);
        return c;
    }
    guint before = errors->len;
    if (options && !options_valid(options)) {
        g_ptr_array_add(errors, g_strdup_printf("%s: the plugin's option table has entries "
                                                "without struct_size (use SYLK_OPTION)",
                                                path));
        sylk_plugin_config_free(c);
        return NULL;
    }
    c->ini = ini_load(path, errors);
    if (!c->ini) {
        sylk_plugin_config_free(c);
        return NULL;
    }
    c->sections = g_key_file_get_groups(c->ini->kf, NULL);
    for (unsigned s = 0; options && c->sections[s]; s++) {
        g_auto(GStrv) keys = g_key_file_get_keys(c->ini->kf, c->sections[s], NULL, NULL);
        for (unsigned k = 0; keys && keys[k]; k++) {
            const struct sylk_config_option *o =
                find_plugin_option(options, c->sections[s], keys[k]);
            if (!o)
                add_error(errors, c->ini, c->sections[s], keys[k], "unknown key");
            else
                validate_plugin_value(c->ini, c->sections[s], keys[k], o, errors);
        }
    }
    if (errors->len != before) {
        sylk_plugin_config_free(c);
        return NULL;
    }
    return c;
}

void sylk_plugin_config_free(struct sylk_config *config)
{
    if (!config)
        return;
    ini_free(config->ini);
    g_hash_table_destroy(config->strings);
    g_hash_table_destroy(config->lists);
    g_strfreev(config->sections);
    g_free(config);
}

/* The raw value, cached so the pointer lives as long as the config. */
static const char *plugin_value(struct sylk_config *c, const char *section, const char *key)
{
    if (!c || !c->ini || !section || !key)
        return NULL;
    g_autofree char *k = g_strdup_printf("%s\n%s", section, key);
    const char *cached = g_hash_table_lookup(c->strings, k);
    if (cached)
        return cached;
    char *v = ini_value(c->ini, section, key);
    if (!v)
        return NULL;
    g_hash_table_insert(c->strings, g_steal_pointer(&k), v);
    return v;
}

const char *sylk_plugin_config_get_string(struct sylk_config *config, const char *section,
                                          const char *key, const char *fallback)
{
    const char *v = plugin_value(config, section, key);
    return v ? v : fallback;
}

long sylk_plugin_config_get_int(struct sylk_config *config, const char *section, const char *key,
                                long fallback)
{
    const char *v = plugin_value(config, section, key);
    long n;
    return v && parse_long(v, &n) ? n : fallback;
}

bool sylk_plugin_config_get_bool(struct sylk_config *config, const char *section, const char *key,
                                 bool fallback)
{
    const char *v = plugin_value(config, section, key);
    bool b;
    return v && parse_bool(v, &b) ? b : fallback;
}

size_t sylk_plugin_config_get_list(struct sylk_config *config, const char *section, const char *key,
                                   const char *const **items)
{
    static const char *const empty[] = {NULL};
    const char *v = plugin_value(config, section, key);
    if (!v) {
        *items = empty;
        return 0;
    }
    g_autofree char *k = g_strdup_printf("%s\n%s", section, key);
    char **list = g_hash_table_lookup(config->lists, k);
    if (!list) {
        list = split_list(v);
        g_hash_table_insert(config->lists, g_steal_pointer(&k), list);
    }
    *items = (const char *const *)list;
    return g_strv_length(list);
}

size_t sylk_plugin_config_sections(struct sylk_config *config, const char *const **sections)
{
    *sections = (const char *const *)config->sections;
    return g_strv_length(config->sections);
}
