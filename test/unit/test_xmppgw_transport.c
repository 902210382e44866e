/*
 * Unit tests for the XMPP gateway transport's pure parts: dialback keys (XEP-0185 and XEP-0220
 * examples), the component handshake (XEP-0114), stream ids, static routes and the value
 * checks of xmppgw.ini, the bounded queue of pending stanzas, and the disco/ping/version
 * answers.
 */
#include "disco.h"
#include "keys.h"
#include "ns.h"
#include "queue.h"
#include "settings.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------ stubs --- */

const struct sylk_host *xgw_host(void)
{
    return NULL;
}

void xgw_send(struct xmpp_node *stanza, xgw_sent_fn sent, void *user_data)
{
    (void)sent, (void)user_data;
    xmpp_node_free(stanza);
}

static GString *outcomes; /* "status/condition;" per xgw_pending_done */

void xgw_pending_done(struct xgw_pending *p, int status, enum xmpp_stanza_condition condition)
{
    g_string_append_printf(outcomes, "%s:%d/%s;", xmpp_node_attr(p->stanza, "id"), status,
                           status < 0 ? xmpp_stanza_condition_name(condition) : "-");
    xmpp_node_free(p->stanza);
    g_free(p);
}

/* ------------------------------------------------------------------- keys --- */

static void test_dialback_keys(void)
{
    static const struct {
        const char *secret, *receiving, *originating, *id, *key;
    } vectors[] = {
        /* XEP-0185 §3 */
        {"s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F",
         "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"},
        /* XEP-0220 example 1 */
        {"s3cr3tf0rd14lb4ck", "montague.example", "capulet.example", "D60000229F",
         "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"},
        /* XEP-0220 example 5 */
        {"d14lb4ck43v3r", "capulet.example", "montague.example", "417GAF25",
         "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(vectors); i++) {
        g_autofree char *hash = xgw_dialback_secret_hash(vectors[i].secret);
        g_autofree char *key =
            xgw_dialback_key(hash, vectors[i].receiving, vectors[i].originating, vectors[i].id);
        g_assert_cmpstr(key, ==, vectors[i].key);
        g_assert_cmpuint(strlen(key), ==, XGW_DIALBACK_KEY_LEN);
        g_assert_true(xgw_dialback_key_valid(hash, vectors[i].receiving, vectors[i].originating,
                                             vectors[i].id, vectors[i].key));
        /* upper-case hex is the same key; the roles, the id or one digit changed are not */
        g_autofree char *upper = g_ascii_strup(vectors[i].key, -1);
        g_assert_true(xgw_dialback_key_valid(hash, vectors[i].receiving, vectors[i].originating,
                                             vectors[i].id, upper));
        g_assert_false(xgw_dialback_key_valid(hash, vectors[i].originating, vectors[i].receiving,
                                              vectors[i].id, key));
        g_assert_false(xgw_dialback_key_valid(hash, vectors[i].receiving, vectors[i].originating,
                                              "other", key));
        key[10] = key[10] == '0' ? '1' : '0';
        g_assert_false(xgw_dialback_key_valid(hash, vectors[i].receiving, vectors[i].originating,
                                              vectors[i].id, key));
        g_assert_false(xgw_dialback_key_valid(hash, vectors[i].receiving, vectors[i].originating,
                                              vectors[i].id, ""));
    }
    /* the XEP-0185 example's SHA-256 of the secret */
    g_autofree char *hash = xgw_dialback_secret_hash("s3cr3tf0rd14lb4ck");
    g_assert_true(g_str_has_prefix(hash, "a7136eb1"));
    g_assert_true(g_str_has_suffix(hash, "beae9acc"));
}

static void test_component_handshake(void)
{
    /* XEP-0114's formula: hex(SHA-1(id + secret)) */
    g_autofree char *h = xgw_component_handshake("3BF96D32", "s3cr3t");
    g_assert_cmpstr(h, ==, "ba33290100f616a33656a931798d6c9011cfa840");
}

static void test_stream_ids(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < 1000; i++) {
        char *id = xgw_stream_id();
        g_assert_cmpuint(strlen(id), ==, XGW_STREAM_ID_LEN);
        for (const char *c = id; *c; c++)
            g_assert_true(g_ascii_isxdigit(*c) && !g_ascii_isupper(*c));
        g_assert_true(g_hash_table_add(seen, id));
    }
    g_autofree char *secret = xgw_random_secret();
    g_assert_cmpuint(strlen(secret), ==, 64);
}

/* --------------------------------------------------------------- settings --- */

static const struct sylk_config_option *option(const char *key)
{
    for (const struct sylk_config_option *o = xgw_options; o->key; o++)
        if (strcmp(o->key, key) == 0)
            return o;
    g_assert_not_reached();
}

static bool accepted(const char *key, const char *value, char *why, size_t size)
{
    const struct sylk_config_option *o = option(key);
    g_assert_cmpstr(o->section, ==, XGW_SECTION);
    why[0] = '\0';
    if (!o->validate)
        return true;
    int rc = o->validate(value, why, size);
    g_assert_true(rc == 0 || rc == -EINVAL);
    g_assert_true(rc == 0 || why[0]);
    return rc == 0;
}

static void test_option_checks(void)
{
    char why[256];
    g_assert_true(accepted("mode", "s2s", why, sizeof why));
    g_assert_true(accepted("mode", "component", why, sizeof why));
    g_assert_false(accepted("mode", "client", why, sizeof why));
    g_assert_cmpstr(why, ==, "'client' is neither s2s nor component");
    g_assert_true(accepted("transport", "tcp", why, sizeof why));
    g_assert_false(accepted("transport", "udp", why, sizeof why));
    g_assert_true(accepted("domains", "sip.example.com, Example.ORG", why, sizeof why));
    g_assert_false(accepted("domains", "sip.example.com, user@example.org", why, sizeof why));
    g_assert_cmpstr(why, ==, "'user@example.org' is not a domain name");
    g_assert_false(accepted("domains", "127.0.0.1", why, sizeof why));
    g_assert_true(accepted("muc_prefix", "conference", why, sizeof why));
    g_assert_false(accepted("muc_prefix", "a.b", why, sizeof why));
    g_assert_true(accepted("local_ip", "::1", why, sizeof why));
    g_assert_false(accepted("local_ip", "localhost", why, sizeof why));
    g_assert_true(accepted("component_host", "xmpp.example.com", why, sizeof why));
    g_assert_false(accepted("component_host", "bad host", why, sizeof why));
    g_assert_false(accepted("certificate", "/nonexistent/cert.pem", why, sizeof why));
    g_assert_nonnull(strstr(why, "/nonexistent/cert.pem"));
    g_assert_true(accepted("static_routes", "xmpp.test=127.0.0.1:5270", why, sizeof why));
    g_assert_false(accepted("static_routes", "xmpp.test:127.0.0.1", why, sizeof why));
    g_assert_cmpstr(why, ==, "'xmpp.test:127.0.0.1' is not domain=host[:port]");
    /* a small buffer gets a cut reason, never an overflow */
    char tiny[8];
    g_assert_false(accepted("mode", "something-long", tiny, sizeof tiny));
    g_assert_cmpuint(strlen(tiny), ==, sizeof tiny - 1);
}

static void test_routes(void)
{
    g_autofree char *why = NULL;
    g_autoptr(GPtrArray) r = xgw_routes_parse(
        " XMPP.test = 127.0.0.1:5270 , b.test=[::1]:5280, c.test=relay.example.net,"
        " d.test=[fd00::5], ",
        &why);
    g_assert_nonnull(r);
    g_assert_cmpuint(r->len, ==, 4);
    const struct xgw_route *x = xgw_routes_find(r, "xmpp.test");
    g_assert_nonnull(x);
    g_assert_cmpstr(x->host, ==, "127.0.0.1");
    g_assert_cmpuint(x->port, ==, 5270);
    x = xgw_routes_find(r, "b.test");
    g_assert_cmpstr(x->host, ==, "::1");
    g_assert_cmpuint(x->port, ==, 5280);
    x = xgw_routes_find(r, "c.test");
    g_assert_cmpstr(x->host, ==, "relay.example.net");
    g_assert_cmpuint(x->port, ==, 5269);
    x = xgw_routes_find(r, "d.test");
    g_assert_cmpstr(x->host, ==, "fd00::5");
    g_assert_null(xgw_routes_find(r, "e.test"));

    static const struct {
        const char *value, *why;
    } bad[] = {
        {"a.test", "'a.test' is not domain=host[:port]"},
        {"a.test=::1", "'::1': write an IPv6 address in brackets"},
        {"a.test=[::1", "'[::1': an IPv6 address goes in brackets, then :port"},
        {"a.test=[nothex]:1", "'nothex' is not an IPv6 address"},
        {"a.test=host:0", "'0' is not a port number"},
        {"a.test=host:70000", "'70000' is not a port number"},
        {"a.test=host:", "'' is not a port number"},
        {"a.test=ho st", "'ho st' is neither a host name nor an IP address"},
        {"user@a.test=host", "'user@a.test' is not a domain name"},
        {"=host", "'' is not a domain name"},
        {"a.test=h1, A.TEST=h2", "a.test has two routes"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *error = NULL;
        GPtrArray *none = xgw_routes_parse(bad[i].value, &error);
        g_assert_null(none);
        g_assert_cmpstr(error, ==, bad[i].why);
    }
    g_autoptr(GPtrArray) empty = xgw_routes_parse("", &why);
    g_assert_cmpuint(empty->len, ==, 0);
}

/* ------------------------------------------------------------------ queue --- */

static struct xgw_pending *pending(const char *id, gint64 since)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "id", id);
    struct xgw_pending *p = xgw_pending_new(m, NULL, NULL);
    p->since = since;
    return p;
}

static void test_queue(void)
{
    outcomes = g_string_new(NULL);
    struct xgw_queue q;
    xgw_queue_init(&q, 3);
    g_assert_true(xgw_queue_push(&q, pending("a", 10)));
    g_assert_true(xgw_queue_push(&q, pending("b", 20)));
    g_assert_true(xgw_queue_push(&q, pending("c", 30)));
    struct xgw_pending *d = pending("d", 40);
    g_assert_false(xgw_queue_push(&q, d)); /* full: not taken */
    xgw_pending_done(d, -1, XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    g_assert_cmpstr(outcomes->str, ==, "d:-1/remote-server-timeout;");
    g_string_truncate(outcomes, 0);

    struct xgw_pending *a = xgw_queue_pop(&q);
    g_assert_cmpstr(xmpp_node_attr(a->stanza, "id"), ==, "a");
    xgw_queue_push_front(&q, a); /* a stanza not written after all: first again */
    g_assert_cmpuint(xgw_queue_length(&q), ==, 3);
    xgw_queue_push_front(&q, pending("z", 5));
    g_assert_cmpuint(xgw_queue_length(&q), ==, 4); /* put back whatever the limit */

    g_assert_cmpuint(xgw_queue_expire(&q, 20, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE), ==, 3);
    g_assert_cmpstr(outcomes->str, ==,
                    "z:-1/service-unavailable;a:-1/service-unavailable;"
                    "b:-1/service-unavailable;");
    g_string_truncate(outcomes, 0);
    g_assert_cmpuint(xgw_queue_fail_all(&q, XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND), ==, 1);
    g_assert_cmpstr(outcomes->str, ==, "c:-1/remote-server-not-found;");
    g_assert_null(xgw_queue_pop(&q));
    g_string_free(outcomes, TRUE);
}

/* ------------------------------------------------------------------ disco --- */

static struct xmpp_node *iq(const char *type, const char *ns, const char *name, const char *node)
{
    struct xmpp_node *q = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(q, "from", "juliet@xmpp.test/balcony");
    xmpp_node_set_attr(q, "to", "sip.test");
    xmpp_node_set_attr(q, "id", "q1");
    xmpp_node_set_attr(q, "type", type);
    struct xmpp_node *payload = xmpp_node_add_element(q, ns, name);
    if (node)
        xmpp_node_set_attr(payload, "node", node);
    return q;
}

static char *answer(const char *type, const char *ns, const char *name, const char *node)
{
    struct xmpp_node *q = iq(type, ns, name, node);
    struct xmpp_node *a = xgw_disco_answer(q, "1.2.3");
    struct xmpp_scope scope = {.default_ns = XMPP_NS_SERVER};
    char *text = a ? xmpp_node_to_string(a, &scope) : NULL;
    xmpp_node_free(a);
    xmpp_node_free(q);
    return text;
}

static void test_disco(void)
{
    g_autofree char *info = answer("get", XMPP_NS_DISCO_INFO, "query", NULL);
    g_assert_cmpstr(
        info, ==,
        "<iq from='sip.test' to='juliet@xmpp.test/balcony' id='q1' type='result'>"
        "<query xmlns='http://jabber.org/protocol/disco#info'>"
        "<identity category='gateway' type='simple' name='SylkServer'/>"
        "<identity category='server' type='im' name='SylkServer'/>"
        "<feature var='http://jabber.org/protocol/disco#info'/>"
        "<feature var='http://jabber.org/protocol/disco#items'/>"
        "<feature var='urn:xmpp:ping'/><feature var='jabber:iq:version'/></query></iq>");
    g_autofree char *items = answer("get", XMPP_NS_DISCO_ITEMS, "query", NULL);
    g_assert_cmpstr(items, ==,
                    "<iq from='sip.test' to='juliet@xmpp.test/balcony' id='q1' type='result'>"
                    "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    g_autofree char *ping = answer("get", XMPP_NS_PING, "ping", NULL);
    g_assert_cmpstr(ping, ==,
                    "<iq from='sip.test' to='juliet@xmpp.test/balcony' id='q1' type='result'/>");
    g_autofree char *version = answer("get", XMPP_NS_VERSION, "query", NULL);
    g_assert_cmpstr(version, ==,
                    "<iq from='sip.test' to='juliet@xmpp.test/balcony' id='q1' type='result'>"
                    "<query xmlns='jabber:iq:version'><name>SylkServer</name>"
                    "<version>1.2.3</version></query></iq>");
    g_autofree char *node = answer("get", XMPP_NS_DISCO_INFO, "query", "http://x/caps#abc");
    g_assert_nonnull(strstr(node, "type='error'"));
    g_assert_nonnull(strstr(node, "<item-not-found "));
    g_autofree char *set = answer("set", XMPP_NS_PING, "ping", NULL);
    g_assert_nonnull(strstr(set, "<error type='modify'><bad-request "));
    g_autofree char *other = answer("get", "jabber:iq:last", "query", NULL);
    g_assert_null(other);
    g_autofree char *result = answer("result", XMPP_NS_PING, "ping", NULL);
    g_assert_null(result);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmppgw/dialback-keys", test_dialback_keys);
    g_test_add_func("/xmppgw/component-handshake", test_component_handshake);
    g_test_add_func("/xmppgw/stream-ids", test_stream_ids);
    g_test_add_func("/xmppgw/option-checks", test_option_checks);
    g_test_add_func("/xmppgw/routes", test_routes);
    g_test_add_func("/xmppgw/queue", test_queue);
    g_test_add_func("/xmppgw/disco", test_disco);
    return g_test_run();
}
