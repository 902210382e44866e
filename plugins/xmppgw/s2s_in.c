/*
 * s2s_in.c — streams remote servers open to us (we are the receiving server, and the
 * authoritative server for our own dialback keys). See s2s.h.
 *
 * A stream: header (to one of our domains or host-unknown) → our header and features
 * (<starttls/>, with <required/> when require_tls; <dialback><errors/></dialback> once TLS is
 * done or when it is not required) → optionally STARTTLS and a new stream → db:result
 * (checked by a db:verify that s2s_out sends to the remote's authoritative server; our
 * db:result valid or invalid in answer) and db:verify (our own keys, answered at once) →
 * stanzas, accepted only from domains verified on this stream.
 */
#define XGW_LOG_DOMAIN "xmppgw-s2s"
#include "conn.h"
#include "jid.h"
#include "keys.h"
#include "ns.h"
#include "router.h"
#include "s2s.h"

#include <errno.h>
#include <string.h>

#define MAX_PENDING_RESULTS 16 /* db:results being checked at once on one stream */

/* A db:result being checked with the authoritative server. */
struct check {
    char *from, *to, *key;
    gint64 since;
};

struct s2s_in {
    struct xconn *conn;
    char *local;  /* the domain of ours the stream was opened to */
    char *remote; /* the header's from, when given */
    char *id;     /* the id of our current stream header */
    bool secured;
    GHashTable *verified; /* remote domains dialback verified on this stream (a set) */
    GPtrArray *checks;    /* struct check * */
    gint64 since;
};

static struct {
    GHashTable *streams; /* struct s2s_in * (a set) */
    GHashTable *by_id;   /* our stream id → struct s2s_in * */
} in;

static const struct xgw_settings *settings(void)
{
    return xgw_s2s_settings();
}

static void check_free(gpointer data)
{
    struct check *c = data;
    g_free(c->from);
    g_free(c->to);
    g_free(c->key);
    g_free(c);
}

static void stream_free(struct s2s_in *s)
{
    if (s->id && g_hash_table_lookup(in.by_id, s->id) == s)
        g_hash_table_remove(in.by_id, s->id);
    g_hash_table_remove(in.streams, s);
    xconn_free(s->conn);
    g_hash_table_unref(s->verified);
    g_ptr_array_unref(s->checks);
    g_free(s->local);
    g_free(s->remote);
    g_free(s->id);
    g_free(s);
}

static void put(struct s2s_in *s, struct xmpp_node *el)
{
    xconn_send(s->conn, el, NULL, NULL);
    xmpp_node_free(el);
}

static const char *who(const struct s2s_in *s)
{
    return s->remote ? s->remote : xconn_peer(s->conn);
}

/* ---------------------------------------------------------------- the header --- */

static void send_features(struct s2s_in *s)
{
    struct xmpp_node *f = xmpp_node_new(XMPP_NS_STREAMS, "features");
    bool tls_first = !s->secured && settings()->require_tls;
    if (!s->secured && settings()->tls) {
        struct xmpp_node *st = xmpp_node_add_element(f, XMPP_NS_TLS, "starttls");
        if (settings()->require_tls)
            xmpp_node_add_element(st, XMPP_NS_TLS, "required");
    }
    if (!tls_first) /* RFC 6120 §5.3.1: nothing else while STARTTLS is mandatory */
        xmpp_node_add_element(xmpp_node_add_element(f, XMPP_NS_DIALBACK_F, "dialback"),
                              XMPP_NS_DIALBACK_F, "errors");
    put(s, f);
}

static void on_opened(struct xconn *c, const struct xmpp_stream_header *h, void *user_data)
{
    struct s2s_in *s = user_data;
    const char *to = h->to ? h->to : xgw_config()->domains[0];
    if (s->local && strcmp(s->local, to) != 0) { /* a restarted stream (after TLS) */
        xconn_stream_error(c, XMPP_STREAM_ERR_IMPROPER_ADDRESSING,
                           "the new stream's 'to' is not the first one's");
        return;
    }
    if (!xgw_router_serves(to)) {
        g_autofree char *why = g_strdup_printf("we do not serve %s", to);
        xconn_stream_error(c, XMPP_STREAM_ERR_HOST_UNKNOWN, why);
        return;
    }
    if (!s->local) {
        s->local = g_strdup(to);
        s->remote = g_strdup(h->from);
    }
    xconn_set_local_name(c, s->local);
    if (s->id)
        g_hash_table_remove(in.by_id, s->id);
    g_free(s->id);
    s->id = xgw_stream_id();
    g_hash_table_insert(in.by_id, s->id, s);
    struct xmpp_stream_header ours = {.content_ns = XMPP_NS_SERVER,
                                      .dialback = true,
                                      .from = s->local,
                                      .to = h->from,
                                      .id = s->id,
                                      .version = h->version ? "1.0" : NULL,
                                      .lang = "en"};
    xconn_send_header(c, &ours);
    if (!h->version && settings()->require_tls) { /* a pre-1.0 peer cannot do STARTTLS */
        xconn_stream_error(c, XMPP_STREAM_ERR_POLICY_VIOLATION,
                           "TLS is required; a stream without version='1.0' cannot have it");
        return;
    }
    if (h->version)
        send_features(s);
    XGW_LOG(SYLK_LOG_DEBUG, "%s: stream from %s to %s (id %s%s)", xconn_label(c), who(s), s->local,
            s->id, s->secured ? ", TLS" : "");
}

/* ---------------------------------------------------------------- dialback --- */

/* A domain in an address attribute, prepared; NULL when it is not a bare domain. */
static char *domain_of(const char *s)
{
    struct xmpp_jid jid;
    if (!s || xmpp_jid_parse(s, &jid, NULL) < 0)
        return NULL;
    char *d = !jid.local && !jid.resource ? g_strdup(jid.domain) : NULL;
    xmpp_jid_clear(&jid);
    return d;
}

static bool tls_missing(struct s2s_in *s, const char *what)
{
    if (s->secured || !settings()->require_tls)
        return false;
    g_autofree char *why = g_strdup_printf("TLS is required before %s", what);
    xconn_stream_error(s->conn, XMPP_STREAM_ERR_POLICY_VIOLATION, why);
    return true;
}

/* db:result: the remote claims `from`; its authoritative server is asked (XEP-0220 §2.1). */
static void on_db_result(struct s2s_in *s, const struct xmpp_node *el)
{
    if (tls_missing(s, "dialback"))
        return;
    g_autofree char *from = domain_of(xmpp_node_attr(el, "from"));
    g_autofree char *to = domain_of(xmpp_node_attr(el, "to"));
    g_autofree char *key = xmpp_node_text(el);
    if (!from || !to) {
        xconn_stream_error(s->conn, XMPP_STREAM_ERR_IMPROPER_ADDRESSING,
                           "db:result needs a 'from' and a 'to' that are domains");
        return;
    }
    if (!xgw_router_serves(to)) {
        put(s, xgw_db_error("result", to, from, NULL, XMPP_STANZA_ERR_ITEM_NOT_FOUND));
        return;
    }
    if (xgw_router_serves(from)) {
        xconn_stream_error(s->conn, XMPP_STREAM_ERR_INVALID_FROM, "that is one of our domains");
        return;
    }
    if (g_hash_table_contains(s->verified, from)) {
        put(s, xgw_db_element("result", to, from, NULL, "valid", NULL));
        return;
    }
    if (s->checks->len >= MAX_PENDING_RESULTS || !*key) {
        put(s, xgw_db_error("result", to, from, NULL,
                            *key ? XMPP_STANZA_ERR_RESOURCE_CONSTRAINT
                                 : XMPP_STANZA_ERR_NOT_ACCEPTABLE));
        return;
    }
    struct check *c = g_new0(struct check, 1);
    *c = (struct check){g_strdup(from), g_strdup(to), g_strdup(key), g_get_monotonic_time()};
    g_ptr_array_add(s->checks, c);
    XGW_LOG(SYLK_LOG_DEBUG, "%s: %s claims to be %s; asking its authoritative server",
            xconn_label(s->conn), xconn_peer(s->conn), from);
    xgw_s2s_out_verify(to, from, s->id, key);
}

/* db:verify: is this key one of ours (we are the authoritative server, XEP-0220 §2.3)? */
static void on_db_verify(struct s2s_in *s, const struct xmpp_node *el)
{
    if (xmpp_node_attr(el, "type")) /* answers come on streams we opened, not here */
        return;
    if (tls_missing(s, "dialback"))
        return;
    g_autofree char *from = domain_of(xmpp_node_attr(el, "from"));
    g_autofree char *to = domain_of(xmpp_node_attr(el, "to"));
    const char *id = xmpp_node_attr(el, "id");
    g_autofree char *key = xmpp_node_text(el);
    if (!from || !to || !id) {
        xconn_stream_error(s->conn, XMPP_STREAM_ERR_IMPROPER_ADDRESSING,
                           "db:verify needs 'from', 'to' and 'id'");
        return;
    }
    if (!xgw_router_serves(to)) {
        put(s, xgw_db_error("verify", to, from, id, XMPP_STANZA_ERR_ITEM_NOT_FOUND));
        return;
    }
    bool valid = xgw_dialback_key_valid(xgw_s2s_secret_hash(), from, to, id, key);
    XGW_LOG(valid ? SYLK_LOG_DEBUG : SYLK_LOG_WARNING,
            "%s: %s asks whether a key of %s for stream %s is ours: %s", xconn_label(s->conn), from,
            to, id, valid ? "valid" : "invalid");
    put(s, xgw_db_element("verify", to, from, id, valid ? "valid" : "invalid", NULL));
}

static struct check *find_check(struct s2s_in *s, const char *from, const char *to, guint *index)
{
    for (guint i = 0; i < s->checks->len; i++) {
        struct check *c = g_ptr_array_index(s->checks, i);
        if (strcmp(c->from, from) == 0 && strcmp(c->to, to) == 0) {
            *index = i;
            return c;
        }
    }
    return NULL;
}

void xgw_s2s_in_verified(const char *remote, const char *local, const char *id,
                         enum xgw_db_verdict verdict, enum xmpp_stanza_condition condition)
{
    struct s2s_in *s = in.by_id ? g_hash_table_lookup(in.by_id, id) : NULL;
    guint index;
    if (!s || !find_check(s, remote, local, &index)) {
        XGW_LOG(SYLK_LOG_DEBUG, "dialback answer for %s -> %s, stream %s: no longer waited for",
                remote, local, id);
        return;
    }
    g_ptr_array_remove_index(s->checks, index);
    const char *label = xconn_label(s->conn);
    switch (verdict) {
    case XGW_DB_VALID:
        g_hash_table_add(s->verified, g_strdup(remote));
        XGW_LOG(SYLK_LOG_INFO, "%s: %s verified by dialback for %s (%s%s)", label, remote, local,
                xconn_peer(s->conn), s->secured ? ", TLS" : ", no TLS");
        put(s, xgw_db_element("result", local, remote, NULL, "valid", NULL));
        break;
    case XGW_DB_INVALID:
        XGW_LOG(SYLK_LOG_WARNING,
                "%s: %s's authoritative server says the dialback key from %s is not its own: "
                "closing the stream",
                label, remote, xconn_peer(s->conn));
        put(s, xgw_db_element("result", local, remote, NULL, "invalid", NULL));
        xconn_close(s->conn);
        break;
    case XGW_DB_ERROR:
        XGW_LOG(SYLK_LOG_WARNING, "%s: cannot verify %s by dialback: %s", label, remote,
                xmpp_stanza_condition_name(condition));
        put(s, xgw_db_error("result", local, remote, NULL, condition));
        break;
    }
}

/* ----------------------------------------------------------------- elements --- */

static bool authorized(const char *domain, void *user_data, enum xmpp_stream_condition *refusal)
{
    struct s2s_in *s = user_data;
    if (g_hash_table_contains(s->verified, domain))
        return true;
    /* RFC 6120 §4.9.3.12 before any authentication, §4.9.3.9 for another domain */
    *refusal = g_hash_table_size(s->verified) ? XMPP_STREAM_ERR_INVALID_FROM
                                              : XMPP_STREAM_ERR_NOT_AUTHORIZED;
    return false;
}

static void on_starttls(struct s2s_in *s)
{
    if (s->secured || !settings()->tls) {
        put(s, xmpp_node_new(XMPP_NS_TLS, "failure"));
        xconn_close(s->conn);
        return;
    }
    put(s, xmpp_node_new(XMPP_NS_TLS, "proceed"));
    if (xconn_starttls(s->conn, true) < 0)
        xconn_stream_error(s->conn, XMPP_STREAM_ERR_INTERNAL_SERVER_ERROR, "cannot start TLS");
}

static void on_element(struct xconn *c, struct xmpp_node *el, void *user_data)
{
    struct s2s_in *s = user_data;
    if (xmpp_node_is(el, XMPP_NS_TLS, "starttls")) {
        on_starttls(s);
    } else if (xmpp_node_is(el, XMPP_NS_DIALBACK, "result")) {
        on_db_result(s, el);
    } else if (xmpp_node_is(el, XMPP_NS_DIALBACK, "verify")) {
        on_db_verify(s, el);
    } else if (!tls_missing(s, "stanzas")) {
        enum xmpp_stream_condition cond;
        char *text = NULL;
        if (xgw_router_inbound(g_steal_pointer(&el), XMPP_NS_SERVER, xconn_label(c), authorized, s,
                               &cond, &text) < 0)
            xconn_stream_error(c, cond, text);
        g_free(text);
    }
    xmpp_node_free(el);
}

static void on_secured(struct xconn *c, void *user_data)
{
    struct s2s_in *s = user_data;
    (void)c;
    s->secured = true;
    /* RFC 6120 §5.4.3.3: what was learnt before TLS does not count (dialback included) */
    g_hash_table_remove_all(s->verified);
    g_ptr_array_set_size(s->checks, 0);
}

static void on_closed(struct xconn *c, const char *why, void *user_data)
{
    struct s2s_in *s = user_data;
    XGW_LOG(SYLK_LOG_INFO, "%s: stream from %s closed: %s", xconn_label(c), who(s), why);
    stream_free(s);
}

static const struct xconn_handler handler = {
    .opened = on_opened,
    .element = on_element,
    .secured = on_secured,
    .closed = on_closed,
};

/* ---------------------------------------------------------------- lifecycle --- */

void xgw_s2s_in_accept(int fd, const char *peer, bool direct_tls)
{
    if (!in.streams) {
        in.streams = g_hash_table_new(NULL, NULL);
        in.by_id = g_hash_table_new(g_str_hash, g_str_equal);
    }
    struct s2s_in *s = g_new0(struct s2s_in, 1);
    s->verified = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->checks = g_ptr_array_new_with_free_func(check_free);
    s->since = g_get_monotonic_time();
    s->secured = direct_tls;
    g_autofree char *label = g_strdup_printf("s2s in %s", peer);
    const struct xgw_settings *st = settings();
    struct xconn_params p = {.label = label,
                             .content_ns = XMPP_NS_SERVER,
                             .dialback = true,
                             .max_stanza_bytes = st->max_stanza_bytes,
                             .send_buffer_bytes = st->send_buffer_bytes,
                             .trace = xgw_config()->trace_xmpp,
                             .handler = &handler,
                             .user_data = s};
    s->conn = xconn_accept(fd, peer, direct_tls, &p);
    if (!s->conn) { /* the descriptor is closed */
        g_hash_table_unref(s->verified);
        g_ptr_array_unref(s->checks);
        g_free(s);
        return;
    }
    g_hash_table_add(in.streams, s);
    XGW_LOG(SYLK_LOG_DEBUG, "%s: accepted%s", label, direct_tls ? " (direct TLS)" : "");
}

unsigned xgw_s2s_in_count(void)
{
    return in.streams ? g_hash_table_size(in.streams) : 0;
}

void xgw_s2s_in_sweep(gint64 now)
{
    if (!in.streams)
        return;
    const struct xgw_settings *st = settings();
    gint64 deadline = (gint64)st->connect_timeout * G_USEC_PER_SEC;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, in.streams);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        struct s2s_in *s = key;
        for (guint i = s->checks->len; i-- > 0;) {
            struct check *c = g_ptr_array_index(s->checks, i);
            if (now - c->since > deadline)
                xgw_s2s_in_verified(c->from, c->to, s->id, XGW_DB_ERROR,
                                    XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
        }
        if (g_hash_table_size(s->verified) == 0 && now - s->since > 2 * deadline) {
            g_autofree char *why =
                g_strdup_printf("not authenticated within %u s", 2 * st->connect_timeout);
            xconn_stream_error(s->conn, XMPP_STREAM_ERR_CONNECTION_TIMEOUT, why);
        } else if (now - xconn_last_activity(s->conn) > (gint64)st->idle_timeout * G_USEC_PER_SEC) {
            XGW_LOG(SYLK_LOG_DEBUG, "%s: idle for %u s: closing", xconn_label(s->conn),
                    st->idle_timeout);
            xconn_close(s->conn);
        }
    }
}

void xgw_s2s_in_close_all(void)
{
    if (!in.streams)
        return;
    GList *all = g_hash_table_get_keys(in.streams);
    for (GList *l = all; l; l = l->next) {
        struct s2s_in *s = l->data;
        xconn_shutdown(g_steal_pointer(&s->conn));
        stream_free(s);
    }
    g_list_free(all);
    g_clear_pointer(&in.streams, g_hash_table_unref);
    g_clear_pointer(&in.by_id, g_hash_table_unref);
}
