/*
 * settings.c — xmppgw.ini: the option table with each value's check, and the loading of the
 * values. See settings.h.
 */
#include "settings.h"

#include "jid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PORT 5269

/* ---------------------------------------------------------------- value checks --- */

static int refuse(char *why, size_t size, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int refuse(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(why, (gulong)size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool ip_literal(const char *s)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* A domain as a JID with nothing but a domainpart, prepared; NULL when it is not one. */
static char *prepared_domain(const char *s)
{
    struct xmpp_jid jid;
    if (xmpp_jid_parse(s, &jid, NULL) < 0)
        return NULL;
    char *domain = !jid.local && !jid.resource ? g_strdup(jid.domain) : NULL;
    xmpp_jid_clear(&jid);
    return domain;
}

static int check_choice(const char *value, const char *a, const char *b, char *why, size_t size)
{
    if (strcmp(value, a) == 0 || strcmp(value, b) == 0)
        return 0;
    return refuse(why, size, "'%s' is neither %s nor %s", value, a, b);
}

static int check_mode(const char *value, char *why, size_t size)
{
    return check_choice(value, "s2s", "component", why, size);
}

static int check_transport(const char *value, char *why, size_t size)
{
    return check_choice(value, "tls", "tcp", why, size);
}

static int check_domains(const char *value, char *why, size_t size)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    for (size_t i = 0; parts[i]; i++) {
        const char *d = g_strstrip(parts[i]);
        g_autofree char *prepared = *d ? prepared_domain(d) : NULL;
        if (*d && (!prepared || ip_literal(d) || d[0] == '['))
            return refuse(why, size, "'%s' is not a domain name", d);
    }
    return 0;
}

/* A DNS label: the MUC service is at <label>.<domain>. */
static int check_label(const char *value, char *why, size_t size)
{
    size_t n = strlen(value);
    bool ok = n > 0 && n <= 63 && value[0] != '-' && value[n - 1] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = g_ascii_isalnum(value[i]) || value[i] == '-';
    return ok ? 0 : refuse(why, size, "'%s' is not a DNS label (letters, digits, '-')", value);
}

static int check_ip(const char *value, char *why, size_t size)
{
    if (!*value || ip_literal(value))
        return 0;
    return refuse(why, size, "'%s' is not an IP address", value);
}

static int check_host(const char *value, char *why, size_t size)
{
    g_autofree char *d = ip_literal(value) ? NULL : prepared_domain(value);
    if (ip_literal(value) || d)
        return 0;
    return refuse(why, size, "'%s' is neither a host name nor an IP address", value);
}

static int check_readable(const char *value, char *why, size_t size)
{
    if (!*value || access(value, R_OK) == 0)
        return 0;
    return refuse(why, size, "cannot read %s: %s", value, g_strerror(errno));
}

static int check_routes(const char *value, char *why, size_t size)
{
    g_autofree char *error = NULL;
    GPtrArray *routes = xgw_routes_parse(value, &error);
    if (!routes)
        return refuse(why, size, "%s", error);
    g_ptr_array_unref(routes);
    return 0;
}

#define OPT(k, t, ...) SYLK_OPTION(.section = XGW_SECTION, .key = k, .type = t, __VA_ARGS__)

const struct sylk_config_option xgw_options[] = {
    OPT("domains", SYLK_OPTION_LIST, .validate = check_domains),
    OPT("muc_prefix", SYLK_OPTION_STRING, .validate = check_label),
    OPT("mode", SYLK_OPTION_STRING, .validate = check_mode),
    OPT("local_ip", SYLK_OPTION_STRING, .validate = check_ip),
    OPT("local_port", SYLK_OPTION_INT, .min = 0, .max = 65535),
    OPT("tls_port", SYLK_OPTION_INT, .min = 0, .max = 65535),
    OPT("transport", SYLK_OPTION_STRING, .validate = check_transport),
    OPT("require_tls", SYLK_OPTION_BOOL),
    OPT("certificate", SYLK_OPTION_STRING, .validate = check_readable),
    OPT("ca_file", SYLK_OPTION_STRING, .validate = check_readable),
    OPT("tls_verify", SYLK_OPTION_BOOL),
    OPT("static_routes", SYLK_OPTION_LIST, .validate = check_routes),
    OPT("dialback_secret", SYLK_OPTION_STRING),
    OPT("max_stanza_kb", SYLK_OPTION_INT, .min = 1, .max = 65536),
    OPT("idle_timeout", SYLK_OPTION_INT, .min = 1, .max = 86400),
    OPT("connect_timeout", SYLK_OPTION_INT, .min = 1, .max = 600),
    OPT("queue_limit", SYLK_OPTION_INT, .min = 1, .max = 100000),
    OPT("send_buffer_kb", SYLK_OPTION_INT, .min = 64, .max = 1048576),
    OPT("max_incoming_streams", SYLK_OPTION_INT, .min = 1, .max = 100000),
    OPT("component_host", SYLK_OPTION_STRING, .validate = check_host),
    OPT("component_port", SYLK_OPTION_INT, .min = 1, .max = 65535),
    OPT("component_secret", SYLK_OPTION_STRING),
    OPT("trace_xmpp", SYLK_OPTION_BOOL),
    OPT("log_presence", SYLK_OPTION_BOOL),
    OPT("sip_session_timeout", SYLK_OPTION_INT, .min = 1, .max = 604800),
    OPT("use_cpim", SYLK_OPTION_BOOL),
    OPT("use_msrp_for_chat", SYLK_OPTION_BOOL),
    SYLK_OPTION_END,
};

/* -------------------------------------------------------------------- routes --- */

static void route_free(gpointer data)
{
    struct xgw_route *r = data;
    g_free(r->domain);
    g_free(r->host);
    g_free(r);
}

/* "host[:port]" or "[v6][:port]" into r; false with *why. */
static bool parse_address(const char *s, struct xgw_route *r, char **why)
{
    const char *port = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':')) {
            *why = g_strdup_printf("'%s': an IPv6 address goes in brackets, then :port", s);
            return false;
        }
        r->host = g_strndup(s + 1, (gsize)(close - s - 1));
        port = close[1] ? close + 2 : NULL;
        unsigned char a[16];
        if (inet_pton(AF_INET6, r->host, a) != 1) {
            *why = g_strdup_printf("'%s' is not an IPv6 address", r->host);
            return false;
        }
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
            *why = g_strdup_printf("'%s': write an IPv6 address in brackets", s);
            return false;
        }
        r->host = colon ? g_strndup(s, (gsize)(colon - s)) : g_strdup(s);
        port = colon ? colon + 1 : NULL;
        char buf[8];
        if (check_host(r->host, buf, sizeof buf) < 0) {
            *why = g_strdup_printf("'%s' is neither a host name nor an IP address", r->host);
            return false;
        }
    }
    r->port = DEFAULT_PORT;
    if (port) {
        char *end;
        guint64 n = g_ascii_strtoull(port, &end, 10);
        if (!*port || *end || n == 0 || n > 65535) {
            *why = g_strdup_printf("'%s' is not a port number", port);
            return false;
        }
        r->port = (uint16_t)n;
    }
    return true;
}

GPtrArray *xgw_routes_parse(const char *value, char **why)
{
    g_autoptr(GPtrArray) routes = g_ptr_array_new_with_free_func(route_free);
    g_auto(GStrv) parts = g_strsplit(value ? value : "", ",", -1);
    for (size_t i = 0; parts[i]; i++) {
        char *item = g_strstrip(parts[i]);
        if (!*item)
            continue;
        char *eq = strchr(item, '=');
        if (!eq) {
            *why = g_strdup_printf("'%s' is not domain=host[:port]", item);
            return NULL;
        }
        *eq = '\0';
        struct xgw_route *r = g_new0(struct xgw_route, 1);
        g_ptr_array_add(routes, r);
        const char *domain = g_strstrip(item), *address = g_strstrip(eq + 1);
        r->domain = prepared_domain(domain);
        if (!r->domain || ip_literal(domain)) {
            *why = g_strdup_printf("'%s' is not a domain name", domain);
            return NULL;
        }
        if (xgw_routes_find(routes, r->domain) != r) {
            *why = g_strdup_printf("%s has two routes", r->domain);
            return NULL;
        }
        if (!parse_address(address, r, why))
            return NULL;
    }
    return g_steal_pointer(&routes);
}

const struct xgw_route *xgw_routes_find(const GPtrArray *routes, const char *domain)
{
    for (guint i = 0; routes && i < routes->len; i++) {
        const struct xgw_route *r = g_ptr_array_index(routes, i);
        if (strcmp(r->domain, domain) == 0)
            return r;
    }
    return NULL;
}

/* -------------------------------------------------------------------- loading --- */

static const char *get_string(sylk_config *file, const char *key, const char *fallback)
{
    const char *v = xgw_host()->config_get_string(file, XGW_SECTION, key, fallback);
    return v && *v ? v : fallback;
}

static long get_int(sylk_config *file, const char *key, long fallback)
{
    return xgw_host()->config_get_int(file, XGW_SECTION, key, fallback);
}

static bool get_bool(sylk_config *file, const char *key, bool fallback)
{
    return xgw_host()->config_get_bool(file, XGW_SECTION, key, fallback);
}

/* The domains, prepared; duplicates dropped. */
static char **load_domains(sylk_config *file)
{
    const char *const *items = NULL;
    xgw_host()->config_get_list(file, XGW_SECTION, "domains", &items);
    GPtrArray *out = g_ptr_array_new();
    for (size_t i = 0; items && items[i]; i++) {
        char *d = prepared_domain(items[i]);
        bool seen = false;
        for (guint j = 0; d && j < out->len; j++)
            seen |= strcmp(out->pdata[j], d) == 0;
        if (d && !seen)
            g_ptr_array_add(out, d);
        else
            g_free(d);
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? g_strdup(s) : NULL;
}

int xgw_settings_load(sylk_config *file, struct xgw_settings *s, struct xgw_config *c, char **why)
{
    memset(s, 0, sizeof *s);
    memset(c, 0, sizeof *c);
    c->domains = load_domains(file);
    c->muc_prefix = g_strdup(get_string(file, "muc_prefix", "conference"));
    c->log_presence = get_bool(file, "log_presence", false);
    c->trace_xmpp = get_bool(file, "trace_xmpp", false);
    c->sip_session_timeout = (unsigned)get_int(file, "sip_session_timeout", 86400);
    c->use_cpim = get_bool(file, "use_cpim", true);
    c->use_msrp_for_chat = get_bool(file, "use_msrp_for_chat", true);

    s->mode = strcmp(get_string(file, "mode", "s2s"), "component") == 0 ? XGW_MODE_COMPONENT
                                                                        : XGW_MODE_S2S;
    s->local_ip = dup_or_null(get_string(file, "local_ip", NULL));
    s->local_port = (unsigned)get_int(file, "local_port", DEFAULT_PORT);
    s->tls_port = (unsigned)get_int(file, "tls_port", 0);
    s->tls = strcmp(get_string(file, "transport", "tls"), "tls") == 0;
    s->require_tls = get_bool(file, "require_tls", s->tls);
    s->tls_verify = get_bool(file, "tls_verify", false);
    s->certificate = dup_or_null(get_string(file, "certificate", NULL));
    s->ca_file = dup_or_null(get_string(file, "ca_file", NULL));
    s->max_stanza_bytes = (size_t)get_int(file, "max_stanza_kb", 256) * 1024;
    s->idle_timeout = (unsigned)get_int(file, "idle_timeout", 600);
    s->connect_timeout = (unsigned)get_int(file, "connect_timeout", 30);
    s->queue_limit = (unsigned)get_int(file, "queue_limit", 1000);
    s->send_buffer_bytes = (size_t)get_int(file, "send_buffer_kb", 2048) * 1024;
    s->max_incoming_streams = (unsigned)get_int(file, "max_incoming_streams", 1000);
    s->dialback_secret = dup_or_null(get_string(file, "dialback_secret", NULL));
    s->component_host = g_strdup(get_string(file, "component_host", "127.0.0.1"));
    s->component_port = (unsigned)get_int(file, "component_port", 5347);
    s->component_secret = dup_or_null(get_string(file, "component_secret", NULL));
    s->static_routes = xgw_routes_parse(get_string(file, "static_routes", ""), why);
    if (!s->static_routes)
        return -EINVAL;
    if (s->require_tls && !s->tls) {
        *why = g_strdup("require_tls = yes needs transport = tls");
        return -EINVAL;
    }
    if (s->mode == XGW_MODE_COMPONENT && !s->component_secret) {
        *why = g_strdup("mode = component needs component_secret");
        return -EINVAL;
    }
    if (s->send_buffer_bytes < 2 * s->max_stanza_bytes) {
        *why = g_strdup("send_buffer_kb must be at least twice max_stanza_kb");
        return -EINVAL;
    }
    return 0;
}

void xgw_settings_clear(struct xgw_settings *s, struct xgw_config *c)
{
    g_strfreev(c->domains);
    g_free(c->muc_prefix);
    g_free(s->local_ip);
    g_free(s->certificate);
    g_free(s->ca_file);
    g_free(s->dialback_secret);
    g_free(s->component_host);
    g_free(s->component_secret);
    if (s->static_routes)
        g_ptr_array_unref(s->static_routes);
    memset(s, 0, sizeof *s);
    memset(c, 0, sizeof *c);
}
