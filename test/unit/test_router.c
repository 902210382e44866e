/* Unit tests for core/sip/router.c: one test per routing rule of DESIGN.md. */
#include "sip/router.h"

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>

static void noop_session(sylk_session *s)
{
    (void)s;
}
static void noop_message(sylk_message *m)
{
    (void)m;
}
static void noop_subscription(sylk_subscription *s)
{
    (void)s;
}

static const char *const conference_events[] = {"conference", NULL};
static const struct sylk_plugin echo =
    SYLK_PLUGIN_INIT(.name = "echo", .incoming_session = noop_session,
                     .incoming_sip_message = noop_message);
static const struct sylk_plugin conference =
    SYLK_PLUGIN_INIT(.name = "conference", .events = conference_events,
                     .incoming_session = noop_session, .incoming_subscription = noop_subscription);

static const struct sylk_plugin *lookup(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "echo") == 0)
        return &echo;
    if (strcmp(name, "conference") == 0)
        return &conference;
    return NULL;
}

struct fixture {
    struct sylk_server_config cfg;
    struct sockaddr_in source;
    struct sylk_route_request req;
    struct sylk_route route;
};

static void add_map(struct sylk_server_config *cfg, const char *key, const char *app)
{
    struct sylk_app_mapping *m = g_new0(struct sylk_app_mapping, 1);
    m->key = g_strdup(key);
    m->app = g_strdup(app);
    g_ptr_array_add(cfg->application_map, m);
}

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    sylk_config_defaults(&f->cfg);
    g_ptr_array_set_free_func(f->cfg.application_map, NULL);
    f->source.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &f->source.sin_addr);
    f->req = (struct sylk_route_request){.method = "INVITE",
                                         .ruri_user = "alice",
                                         .ruri_host = "example.com",
                                         .source = (struct sockaddr *)&f->source};
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    for (guint i = 0; i < f->cfg.application_map->len; i++) {
        struct sylk_app_mapping *m = g_ptr_array_index(f->cfg.application_map, i);
        g_free(m->key);
        g_free(m->app);
        g_free(m);
    }
    sylk_config_clear(&f->cfg);
}

static void route(struct fixture *f)
{
    sylk_router_route(&f->cfg, lookup, NULL, &f->req, &f->route);
}

static void test_no_application(struct fixture *f, gconstpointer d)
{
    (void)d;
    route(f);
    g_assert_cmpint(f->route.status, ==, 404);
    g_assert_cmpstr(f->route.reason, ==, "No application");
}

static void test_default_not_loaded(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("xmppgw");
    route(f);
    g_assert_cmpint(f->route.status, ==, 404);
    g_assert_cmpstr(f->route.reason, ==, "Application xmppgw not loaded");
}

static void test_default_application(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("conference");
    route(f);
    g_assert_cmpint(f->route.status, ==, 0);
    g_assert_true(f->route.plugin == &conference);
}

static void test_map_order(struct fixture *f, gconstpointer d)
{
    (void)d;
    add_map(&f->cfg, "alice@example.com", "echo");
    add_map(&f->cfg, "example.com", "conference");
    add_map(&f->cfg, "carol", "echo");
    route(f); /* user@host beats host */
    g_assert_true(f->route.plugin == &echo);
    f->req.ruri_user = "bob"; /* host */
    route(f);
    g_assert_true(f->route.plugin == &conference);
    f->req.ruri_user = "carol"; /* host beats user */
    route(f);
    g_assert_true(f->route.plugin == &conference);
    f->req.ruri_host = "other.org"; /* user */
    route(f);
    g_assert_true(f->route.plugin == &echo);
}

static void test_map_user_then_host(struct fixture *f, gconstpointer d)
{
    (void)d;
    add_map(&f->cfg, "echo", "echo");
    f->req.ruri_user = "ECHO"; /* case-insensitive */
    route(f);
    g_assert_cmpint(f->route.status, ==, 0);
    g_assert_true(f->route.plugin == &echo);
    f->req.ruri_user = "carol";
    route(f);
    g_assert_cmpint(f->route.status, ==, 404);
}

static void test_app_header(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("conference");
    f->req.app_header = "echo";
    route(f);
    g_assert_true(f->route.plugin == &conference); /* ignored unless allowed */
    f->cfg.allow_app_header = true;
    route(f);
    g_assert_true(f->route.plugin == &echo);
}

static void test_domain_restriction(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("echo");
    char *apps[] = {g_strdup("conference"), NULL};
    g_hash_table_insert(f->cfg.domains, g_strdup("example.com"), g_strdupv(apps));
    g_free(apps[0]);
    route(f);
    g_assert_cmpint(f->route.status, ==, 403);
    f->req.ruri_host = "other.org";
    route(f);
    g_assert_cmpint(f->route.status, ==, 0);
}

static void test_untrusted_peer(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("echo");
    struct sylk_netmask m;
    g_assert_true(sylk_netmask_parse("10.0.0.0/8", &m));
    g_array_append_val(f->cfg.trusted_peers, m);
    route(f);
    g_assert_cmpint(f->route.status, ==, 403);
    g_assert_true(sylk_netmask_parse("127.0.0.0/8", &m));
    g_array_append_val(f->cfg.trusted_peers, m);
    route(f);
    g_assert_cmpint(f->route.status, ==, 0);
}

static void test_replaces(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("echo");
    f->req.has_replaces = true;
    route(f);
    g_assert_cmpint(f->route.status, ==, 403);
}

static void test_method_not_handled(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("echo");
    f->req.method = "REFER";
    route(f);
    g_assert_cmpint(f->route.status, ==, 405);
    f->req.method = "SUBSCRIBE";
    f->req.event = "conference";
    route(f);
    g_assert_cmpint(f->route.status, ==, 405);
}

static void test_unknown_event(struct fixture *f, gconstpointer d)
{
    (void)d;
    f->cfg.default_application = g_strdup("conference");
    f->req.method = "SUBSCRIBE";
    f->req.event = "presence";
    route(f);
    g_assert_cmpint(f->route.status, ==, 489);
    f->req.event = "conference";
    route(f);
    g_assert_cmpint(f->route.status, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/router/" name, struct fixture, NULL, setup, fn, teardown)
    ADD("no-application", test_no_application);
    ADD("default-not-loaded", test_default_not_loaded);
    ADD("default-application", test_default_application);
    ADD("map-order", test_map_order);
    ADD("map-user", test_map_user_then_host);
    ADD("x-sylk-app", test_app_header);
    ADD("domain-restriction", test_domain_restriction);
    ADD("untrusted-peer", test_untrusted_peer);
    ADD("replaces", test_replaces);
    ADD("method-not-handled", test_method_not_handled);
    ADD("unknown-event", test_unknown_event);
    return g_test_run();
}
