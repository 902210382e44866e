/* Unit tests for core/config.c: defaults, every kind of value, file:line errors, plugin files. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>

static char *write_temp(const char *name, const char *text)
{
    static char *dir;
    if (!dir)
        dir = g_dir_make_tmp("sylk-config-XXXXXX", NULL);
    char *path = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static GPtrArray *load(struct sylk_server_config *cfg, const char *text, bool expect_ok)
{
    g_autofree char *path = write_temp("sylkserver.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sylk_config_defaults(cfg);
    bool ok = sylk_config_load(cfg, path, errors);
    for (guint i = 0; i < errors->len; i++)
        g_test_message("%s", (char *)g_ptr_array_index(errors, i));
    g_assert_cmpint(ok, ==, expect_ok);
    return errors;
}

static void test_defaults(void)
{
    struct sylk_server_config cfg;
    g_autoptr(GPtrArray) errors = load(&cfg, "; only a comment\n", true);
    g_assert_cmpstr(cfg.local_ip, ==, "127.0.0.1");
    g_assert_cmpstr(cfg.advertised_ip, ==, "127.0.0.1");
    g_assert_cmpuint(cfg.udp_port, ==, 5060);
    g_assert_cmpuint(cfg.tcp_port, ==, 5060);
    g_assert_cmpuint(cfg.tls_port, ==, 0);
    g_assert_null(cfg.default_application);
    g_assert_cmpuint(cfg.rtp_port_min, ==, 50000);
    g_assert_cmpstr(cfg.audio_codecs[0], ==, "opus");
    g_assert_cmpint(cfg.srtp, ==, 1); /* optional */
    g_assert_cmpuint(cfg.rtp_timeout, ==, 30);
    g_assert_cmpuint(cfg.opus_complexity, ==, 9);
    g_assert_cmpuint(cfg.web_port, ==, 8090);
    g_assert_cmpstr(cfg.web_local_ip, ==, "127.0.0.1"); /* [sip] local_ip */
    g_assert_null(cfg.web_public_url);
    g_assert_null(cfg.web_certificate);
    g_assert_cmpuint(cfg.web_max_connections, ==, 64);
    g_assert_cmpuint(cfg.web_max_connections_per_ip, ==, 16);
    g_assert_cmpuint(cfg.web_connection_timeout, ==, 30);
    g_assert_cmpuint(cfg.udp_receive_buffer, ==, 8388608);
    g_assert_cmpuint(cfg.sip_connection_timeout, ==, 120);
    g_assert_cmpuint(cfg.sip_message_timeout, ==, 20);
    g_assert_cmpuint(cfg.sip_max_connections_per_ip, ==, 64);
    sylk_config_clear(&cfg);
}

static void test_values(void)
{
    struct sylk_server_config cfg;
    g_autoptr(GPtrArray) errors = load(&cfg,
                                       "[server]\n"
                                       "default_application = conference\n"
                                       "application_map = echo:echo, test@example.com : echo\n"
                                       "trusted_peers = 10.0.0.0/8, ::1\n"
                                       "allow_app_header = yes\n"
                                       "log_level = debug\n"
                                       "spool_dir = spool\n"
                                       "[sip]\n"
                                       "local_ip = 127.0.0.2\n"
                                       "advertised_ip = 192.0.2.1\n"
                                       "outbound_proxy = sip:127.0.0.1:5062;lr\n"
                                       "udp_receive_buffer = 0\n"
                                       "connection_timeout = 0\n"
                                       "message_timeout = 5\n"
                                       "max_connections_per_ip = 1000\n"
                                       "[rtp]\n"
                                       "port_range = 40001:40100\n"
                                       "audio_codecs = PCMA, G722, opus, Speex\n"
                                       "srtp = mandatory\n"
                                       "media_threads = 3\n"
                                       "opus_complexity = 4\n"
                                       "[web]\n"
                                       "port = 0\n"
                                       "public_url = https://screens.example.com/sylk/\n"
                                       "max_connections_per_ip = 0\n"
                                       "[domain Example.com]\n"
                                       "applications = conference\n",
                                       true);
    g_assert_cmpstr(cfg.default_application, ==, "conference");
    g_assert_cmpuint(cfg.media_threads, ==, 3);
    g_assert_cmpuint(cfg.opus_complexity, ==, 4);
    g_assert_cmpuint(cfg.application_map->len, ==, 2);
    struct sylk_app_mapping *m = g_ptr_array_index(cfg.application_map, 1);
    g_assert_cmpstr(m->key, ==, "test@example.com");
    g_assert_cmpstr(m->app, ==, "echo");
    g_assert_cmpuint(cfg.trusted_peers->len, ==, 2);
    g_assert_true(cfg.allow_app_header);
    g_assert_cmpint(cfg.log_level, ==, G_LOG_LEVEL_DEBUG);
    g_assert_true(g_path_is_absolute(cfg.spool_dir));
    g_assert_true(g_str_has_suffix(cfg.spool_dir, "/spool"));
    g_assert_cmpstr(cfg.advertised_ip, ==, "192.0.2.1");
    g_assert_cmpuint(cfg.rtp_port_min, ==, 40002); /* rounded up to even */
    g_assert_cmpstr(cfg.audio_codecs[0], ==, "PCMA");
    g_assert_cmpint(cfg.srtp, ==, 2);
    g_assert_nonnull(g_hash_table_lookup(cfg.domains, "example.com"));
    g_assert_cmpuint(cfg.web_port, ==, 0);
    g_assert_cmpstr(cfg.web_local_ip, ==, "127.0.0.2");
    g_assert_cmpstr(cfg.web_public_url, ==, "https://screens.example.com/sylk/");
    g_assert_cmpuint(cfg.web_max_connections_per_ip, ==, 0);
    g_assert_cmpuint(cfg.udp_receive_buffer, ==, 0);
    g_assert_cmpuint(cfg.sip_connection_timeout, ==, 0);
    g_assert_cmpuint(cfg.sip_message_timeout, ==, 5);
    g_assert_cmpuint(cfg.sip_max_connections_per_ip, ==, 1000);
    sylk_config_clear(&cfg);
}

/* Each bad file yields an error naming the file, the line and the key. */
static void test_errors(void)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[server]\nbogus = 1\n", ":2: [server] bogus: unknown key"},
        {"[sip]\n\n; c\nudp_port = abc\n", ":4: [sip] udp_port: 'abc' is not a port"},
        {"[sip]\nudp_port = 70000\n", ":2: [sip] udp_port:"},
        {"[server]\nlog_level = loud\n", ":2: [server] log_level: 'loud' is not one of"},
        {"[rtp]\nport_range = 5:3\n", ":2: [rtp] port_range:"},
        {"[rtp]\naudio_codecs = PCMU, AMR\n", "unknown codec 'AMR'"},
        {"[rtp]\nsrtp = sometimes\n", ":2: [rtp] srtp: 'sometimes' is not one of disabled"},
        {"[rtp]\ntimeout = -1\n", ":2: [rtp] timeout: '-1' is not a number of seconds"},
        {"[rtp]\nmedia_threads = 65\n", ":2: [rtp] media_threads: '65' is not a thread count"},
        {"[rtp]\nopus_complexity = 11\n", ":2: [rtp] opus_complexity: '11' is not an opus enc"},
        {"[rtp]\nopus_complexity = -1\n", ":2: [rtp] opus_complexity: '-1' is not an opus enc"},
        {"[rtp]\nopus_complexity = high\n", ":2: [rtp] opus_complexity: 'high' is not an opus"},
        {"[msrp]\nuse_tls = perhaps\n", ":2: [msrp] use_tls:"},
        {"[msrp]\nport = 70000\n", ":2: [msrp] port:"},
        {"[msrp]\ncertificate = /nonexistent/msrp.pem\n", "[msrp] certificate: no such file"},
        {"[msrp]\nrelay = yes\n", ":2: [msrp] relay: unknown key"},
        {"[sip]\nlocal_ip = example.com\n", ":2: [sip] local_ip: 'example.com' is not an IPv4"},
        {"[server]\ntrusted_peers = 10.0.0.0/40\n", ":2: [server] trusted_peers:"},
        {"[server]\napplication_map = echo\n", "is not a key:application pair"},
        {"[server]\nallow_app_header = maybe\n", "is not a boolean"},
        {"[nonsense]\nx = 1\n", ":1: [nonsense]: unknown section"},
        {"[domain example.com]\napps = echo\n", ":2: [domain example.com] apps: unknown key"},
        {"[sip]\nudp_port = 5060\ntcp_port = 5070\n", ":3: [sip] tcp_port: must equal"},
        {"[sip]\ntls_port = 5061\n", "[sip] tls_port: TLS needs tls_certificate"},
        {"[sip]\noutbound_proxy = 127.0.0.1\n", "is not a sip: or sips: URI"},
        {"[sip]\nudp_receive_buffer = 4096\n", ":2: [sip] udp_receive_buffer: '4096' is not a buf"},
        {"[sip]\nudp_receive_buffer = 2147483648\n", ":2: [sip] udp_receive_buffer:"},
        {"[sip]\nconnection_timeout = soon\n", ":2: [sip] connection_timeout: 'soon' is not a"},
        {"[sip]\nmessage_timeout = 3601\n", ":2: [sip] message_timeout: '3601' is not a"},
        {"[sip]\nmax_connections_per_ip = -1\n", ":2: [sip] max_connections_per_ip: '-1' is"},
        {"[web]\nport = 80000\n", ":2: [web] port: '80000' is not a port"},
        {"[web]\npublic_url = example.com\n", ":2: [web] public_url: 'example.com' is not an"},
        {"[web]\npublic_url = http://x/#f\n", ":2: [web] public_url:"},
        {"[web]\nmax_connections = 0\n", ":2: [web] max_connections: must be at least 1"},
        {"[web]\nmax_connections_per_ip = lots\n", ":2: [web] max_connections_per_ip:"},
        {"[web]\ncertificate = /nonexistent/web.pem\n", "[web] certificate: no such file"},
        {"[web]\nroot = /var/www\n", ":2: [web] root: unknown key"},
        {"not an ini file at all\n", ":1: not a valid INI file"},
        {"[server]\nlog_level = info\n\n[sip\nudp_port = 5060\n", ":4: not a valid INI file"},
        {"[server]\ntrace_file =\n", ":2: [server] trace_file: empty path"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct sylk_server_config cfg;
        g_autoptr(GPtrArray) errors = load(&cfg, cases[i].text, false);
        bool found = false;
        for (guint e = 0; e < errors->len; e++) {
            const char *msg = g_ptr_array_index(errors, e);
            found |= strstr(msg, cases[i].expect) != NULL && strstr(msg, "sylkserver.ini");
        }
        if (!found)
            g_error("case %zu: no error containing \"%s\"", i, cases[i].expect);
        sylk_config_clear(&cfg);
    }
}

static void test_netmask(void)
{
    struct sylk_netmask m;
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.168.1.77", &in.sin_addr);
    g_assert_true(sylk_netmask_parse("192.168.1.0/24", &m));
    g_assert_true(sylk_netmask_match(&m, (struct sockaddr *)&in));
    g_assert_true(sylk_netmask_parse("192.168.1.0/29", &m));
    g_assert_false(sylk_netmask_match(&m, (struct sockaddr *)&in));
    g_assert_false(sylk_netmask_parse("192.168.1.0/33", &m));
    g_assert_false(sylk_netmask_parse("nonsense", &m));
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:192.168.1.77", &in6.sin6_addr);
    g_assert_true(sylk_netmask_parse("192.168.1.0/24", &m));
    g_assert_true(sylk_netmask_match(&m, (struct sockaddr *)&in6));
}

static const struct sylk_config_option options[] = {
    SYLK_OPTION(.section = "echo", .key = "max_call_duration", .type = SYLK_OPTION_INT, .min = 1,
                .max = 100),
    SYLK_OPTION(.section = "echo", .key = "enabled", .type = SYLK_OPTION_BOOL),
    SYLK_OPTION(.key = "access", .type = SYLK_OPTION_LIST, .description = "per-room"),
    SYLK_OPTION_END,
};

static void test_plugin_config(void)
{
    g_autofree char *path = write_temp("demo.ini", "[echo]\nmax_call_duration = 42\n"
                                                   "enabled = on\n"
                                                   "[room@example.com]\naccess = a, b\n");
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    struct sylk_config *c = sylk_plugin_config_load(dir, "demo", options, errors);
    g_assert_nonnull(c);
    g_assert_cmpint(sylk_plugin_config_get_int(c, "echo", "max_call_duration", 1), ==, 42);
    g_assert_true(sylk_plugin_config_get_bool(c, "echo", "enabled", false));
    g_assert_cmpint(sylk_plugin_config_get_int(c, "echo", "missing", 7), ==, 7);
    const char *const *items;
    g_assert_cmpuint(sylk_plugin_config_get_list(c, "room@example.com", "access", &items), ==, 2);
    g_assert_cmpstr(items[1], ==, "b");
    const char *const *sections;
    g_assert_cmpuint(sylk_plugin_config_sections(c, &sections), ==, 2);
    sylk_plugin_config_free(c);

    /* A missing file is an empty configuration. */
    c = sylk_plugin_config_load(dir, "absent", options, errors);
    g_assert_nonnull(c);
    g_assert_cmpstr(sylk_plugin_config_get_string(c, "x", "y", "dflt"), ==, "dflt");
    sylk_plugin_config_free(c);

    g_autofree char *bad = write_temp("bad.ini", "[echo]\nmax_call_duration = 1000\n"
                                                 "colour = red\n");
    c = sylk_plugin_config_load(dir, "bad", options, errors);
    g_assert_null(c);
    g_assert_cmpuint(errors->len, ==, 2);
    g_assert_nonnull(strstr(g_ptr_array_index(errors, 0), "bad.ini:2: [echo] max_call_duration"));
    g_assert_nonnull(strstr(g_ptr_array_index(errors, 1), "bad.ini:3: [echo] colour: unknown"));
}

/* A value checker: only "red" or "blue". */
static int colour_check(const char *value, char *why, size_t why_size)
{
    if (strcmp(value, "red") == 0 || strcmp(value, "blue") == 0)
        return 0;
    g_snprintf(why, why_size, "'%s' is neither red nor blue", value);
    return -EINVAL;
}

static const struct sylk_config_option checked_options[] = {
    SYLK_OPTION(.section = "paint", .key = "colour", .type = SYLK_OPTION_STRING,
                .validate = colour_check),
    SYLK_OPTION(.section = "paint", .key = "coats", .type = SYLK_OPTION_INT, .min = 1, .max = 3,
                .validate = colour_check),
    SYLK_OPTION_END,
};

/* (1.7) an option's validate callback refuses a value with its reason, at the value's line; it
 * is not called for a value whose type is already wrong. */
static void test_plugin_config_validate(void)
{
    g_autofree char *good = write_temp("paint.ini", "[paint]\ncolour = blue\n");
    g_autofree char *dir = g_path_get_dirname(good);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    struct sylk_config *c = sylk_plugin_config_load(dir, "paint", checked_options, errors);
    g_assert_nonnull(c);
    g_assert_cmpuint(errors->len, ==, 0);
    sylk_plugin_config_free(c);

    g_autofree char *bad = write_temp("badpaint.ini", "[paint]\n; a comment\ncolour = green\n"
                                                      "coats = 7\n");
    c = sylk_plugin_config_load(dir, "badpaint", checked_options, errors);
    g_assert_null(c);
    g_assert_cmpuint(errors->len, ==, 2);
    g_assert_nonnull(strstr(g_ptr_array_index(errors, 0),
                            "badpaint.ini:3: [paint] colour: 'green' is neither red nor blue"));
    g_assert_nonnull(strstr(g_ptr_array_index(errors, 1), "badpaint.ini:4: [paint] coats: 7 is "
                                                          "outside 1..3"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/defaults", test_defaults);
    g_test_add_func("/config/values", test_values);
    g_test_add_func("/config/errors", test_errors);
    g_test_add_func("/config/netmask", test_netmask);
    g_test_add_func("/config/plugin", test_plugin_config);
    g_test_add_func("/config/plugin-validate", test_plugin_config_validate);
    return g_test_run();
}
