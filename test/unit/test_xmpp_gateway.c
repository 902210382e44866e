/* Unit tests for the XMPP gateway's mapping, stateful half (plugins/xmppgw mapping.c, im.c,
 * s2x.c, x2s.c), driven through gateway.h's entry points with a fake host and a fake
 * transport: SIP MESSAGE -> stanza and its final response (held for errors, transport
 * failures by the RFC 7247 table), XMPP message -> SIP MESSAGE and the error or receipt back,
 * chat states both ways without repeats, and presence subscriptions both ways from start to
 * end with nothing left behind. */
#include "gateway.h"
#include "mapping.h"
#include "ns.h"

#include <glib.h>
#include <string.h>

/* ---------------------------------------------------------------- fakes --- */

struct sylk_timer {
    unsigned ms;
    sylk_timer_fn fn;
    void *user_data;
    bool cancelled, fired;
};

struct sylk_message {
    struct sylk_request_info info;
    const char *headers[8][2];
    int status;
    char *reason;
};

struct sylk_subscription {
    struct sylk_request_info info;
    const char *headers[8][2];
    const struct sylk_subscription_handler *handler;
    void *user_data;
    int status;          /* 200 accepted, >= 300 rejected */
    GPtrArray *notifies; /* char * bodies */
    char *terminated;    /* reason */
    bool ended;
};

struct sylk_outgoing_subscription {
    struct sylk_subscribe_params params;
    char *from, *to;
    bool unsubscribed, ended;
};

struct sent_stanza {
    char *xml;
    xgw_sent_fn fn;
    void *user_data;
};

struct sent_message {
    struct sylk_message_params params;
    char *from, *to, *type, *body, *headers;
};

static struct {
    GPtrArray *stanzas;  /* struct sent_stanza * */
    GPtrArray *messages; /* struct sent_message * */
    GPtrArray *timers;   /* struct sylk_timer * */
    GPtrArray *outgoing; /* struct sylk_outgoing_subscription * */
    struct xgw_config config;
    GArray *pauses; /* bool: xgw_inbound_pause calls, in order */
} fake;

static void fake_log(const char *domain, enum sylk_log_level level, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *m = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_test_message("[%s %d] %s", domain, level, m);
}

static sylk_timer *fake_timer_add(unsigned ms, bool repeat, sylk_timer_fn fn, void *ud)
{
    g_assert_false(repeat);
    sylk_timer *t = g_new0(sylk_timer, 1);
    *t = (sylk_timer){.ms = ms, .fn = fn, .user_data = ud};
    g_ptr_array_add(fake.timers, t);
    return t;
}

static void fake_timer_cancel(sylk_timer *t)
{
    g_assert_false(t->cancelled);
    g_assert_false(t->fired);
    t->cancelled = true;
}

/* Fires the live timers of `ms` milliseconds (one-shot: each once). Returns how many. */
static unsigned fire_timers(unsigned ms)
{
    unsigned n = 0;
    for (guint i = 0; i < fake.timers->len; i++) {
        sylk_timer *t = g_ptr_array_index(fake.timers, i);
        if (t->ms != ms || t->cancelled || t->fired)
            continue;
        t->fired = true;
        t->fn(t, t->user_data);
        n++;
    }
    return n;
}

static const char *fake_request_header(const struct sylk_request_info *info, const char *name)
{
    /* both handles begin with their request and then their headers */
    const char *const(*headers)[2] = strcmp(info->method, "MESSAGE") == 0
                                         ? ((const struct sylk_message *)info)->headers
                                         : ((const struct sylk_subscription *)info)->headers;
    for (int i = 0; i < 8 && headers[i][0]; i++)
        if (g_ascii_strcasecmp(headers[i][0], name) == 0)
            return headers[i][1];
    return NULL;
}

static const struct sylk_request_info *fake_message_request(sylk_message *m)
{
    return &m->info;
}

static int fake_message_respond(sylk_message *m, int status, const char *reason)
{
    g_assert_cmpint(m->status, ==, 0); /* once */
    m->status = status;
    m->reason = g_strdup(reason);
    return 0;
}

static int fake_message_send(const struct sylk_message_params *p)
{
    struct sent_message *s = g_new0(struct sent_message, 1);
    s->params = *p;
    s->from = g_strdup(p->from);
    s->to = g_strdup(p->to);
    s->type = g_strdup(p->content_type);
    s->body = g_strndup(p->body, p->body_len);
    s->headers = g_strdup(p->extra_headers);
    g_ptr_array_add(fake.messages, s);
    return 0;
}

static const struct sylk_request_info *fake_subscription_request(sylk_subscription *s)
{
    return &s->info;
}

static const char *fake_subscription_event(sylk_subscription *s)
{
    (void)s;
    return "presence";
}

static void fake_subscription_set_handler(sylk_subscription *s,
                                          const struct sylk_subscription_handler *h, void *ud)
{
    s->handler = h;
    s->user_data = ud;
}

static int fake_subscription_accept(sylk_subscription *s)
{
    g_assert_cmpint(s->status, ==, 0);
    s->status = 200;
    return 0;
}

/* the core frees a refused subscription at once, telling the handler */
static void end_sub(sylk_subscription *s, const char *reason)
{
    s->ended = true;
    if (s->handler)
        s->handler->ended(s, reason, s->user_data);
}

static int fake_subscription_reject(sylk_subscription *s, int status, const char *reason)
{
    (void)reason;
    g_assert_cmpint(s->status, ==, 0);
    s->status = status;
    end_sub(s, "rejected");
    return 0;
}

static int fake_subscription_notify(sylk_subscription *s, const char *type, const void *body,
                                    size_t len)
{
    g_assert_cmpstr(type, ==, "application/pidf+xml");
    g_assert_cmpint(s->status, ==, 200);
    g_ptr_array_add(s->notifies, g_strndup(body, len));
    return 0;
}

static int fake_subscription_terminate(sylk_subscription *s, const char *reason)
{
    s->terminated = g_strdup(reason);
    return 0;
}

static sylk_outgoing_subscription *fake_subscribe(const struct sylk_subscribe_params *p)
{
    sylk_outgoing_subscription *s = g_new0(sylk_outgoing_subscription, 1);
    s->params = *p;
    s->from = g_strdup(p->from);
    s->to = g_strdup(p->to);
    g_ptr_array_add(fake.outgoing, s);
    return s;
}

static int fake_unsubscribe(sylk_outgoing_subscription *s)
{
    if (s->unsubscribed)
        return -ENOTCONN;
    s->unsubscribed = true;
    return 0;
}

static const struct sylk_host host = {
    .struct_size = sizeof(struct sylk_host),
    .log = fake_log,
    .timer_add = fake_timer_add,
    .timer_cancel = fake_timer_cancel,
    .request_header = fake_request_header,
    .message_request = fake_message_request,
    .message_respond = fake_message_respond,
    .message_send = fake_message_send,
    .subscription_request = fake_subscription_request,
    .subscription_event = fake_subscription_event,
    .subscription_set_handler = fake_subscription_set_handler,
    .subscription_accept = fake_subscription_accept,
    .subscription_reject = fake_subscription_reject,
    .subscription_notify = fake_subscription_notify,
    .subscription_terminate = fake_subscription_terminate,
    .subscribe = fake_subscribe,
    .unsubscribe = fake_unsubscribe,
};

const struct sylk_host *xgw_host(void)
{
    return &host;
}

const struct xgw_config *xgw_config(void)
{
    return &fake.config;
}

bool xgw_is_our_domain(const char *domain)
{
    return g_ascii_strcasecmp(domain, "sip.example") == 0;
}

void xgw_inbound_pause(bool paused)
{
    g_array_append_val(fake.pauses, paused);
}

void xgw_send(struct xmpp_node *stanza, xgw_sent_fn sent, void *user_data)
{
    struct sent_stanza *s = g_new0(struct sent_stanza, 1);
    const struct xmpp_scope scope = {.default_ns = XMPP_NS_SERVER};
    s->xml = xmpp_node_to_string(stanza, &scope);
    s->fn = sent;
    s->user_data = user_data;
    g_ptr_array_add(fake.stanzas, s);
    xmpp_node_free(stanza);
}

static void sent_stanza_free(gpointer p)
{
    struct sent_stanza *s = p;
    g_free(s->xml);
    g_free(s);
}

static void sent_message_free(gpointer p)
{
    struct sent_message *s = p;
    g_free(s->from);
    g_free(s->to);
    g_free(s->type);
    g_free(s->body);
    g_free(s->headers);
    g_free(s);
}

static void outgoing_free(gpointer p)
{
    sylk_outgoing_subscription *s = p;
    g_free(s->from);
    g_free(s->to);
    g_free(s);
}

static void setup(void)
{
    fake.stanzas = g_ptr_array_new_with_free_func(sent_stanza_free);
    fake.messages = g_ptr_array_new_with_free_func(sent_message_free);
    fake.timers = g_ptr_array_new_with_free_func(g_free);
    fake.outgoing = g_ptr_array_new_with_free_func(outgoing_free);
    fake.pauses = g_array_new(FALSE, FALSE, sizeof(bool));
    static char *domains[] = {"sip.example", NULL};
    fake.config = (struct xgw_config){.domains = domains, .use_cpim = false};
    g_assert_cmpint(xgw_mapping_init(), ==, 0);
}

static void assert_nothing_left(void)
{
    struct xgw_mapping_counts c;
    xgw_mapping_counts(&c);
    g_assert_cmpuint(c.pending_in, ==, 0);
    g_assert_cmpuint(c.pending_out, ==, 0);
    g_assert_cmpuint(c.s2x, ==, 0);
    g_assert_cmpuint(c.s2x_dialogs, ==, 0);
    g_assert_cmpuint(c.x2s, ==, 0);
}

static void teardown(void)
{
    assert_nothing_left();
    xgw_mapping_shutdown();
    g_ptr_array_unref(fake.stanzas);
    g_ptr_array_unref(fake.messages);
    g_ptr_array_unref(fake.timers);
    g_ptr_array_unref(fake.outgoing);
    g_array_unref(fake.pauses);
}

static struct sent_stanza *stanza_at(guint i)
{
    g_assert_cmpuint(i, <, fake.stanzas->len);
    return g_ptr_array_index(fake.stanzas, i);
}

static struct sent_message *message_at(guint i)
{
    g_assert_cmpuint(i, <, fake.messages->len);
    return g_ptr_array_index(fake.messages, i);
}

/* The value of attribute `name` in the xml text of a stanza we sent (first occurrence). */
static char *attr_of(const char *xml, const char *name)
{
    g_autofree char *key = g_strdup_printf(" %s='", name);
    const char *p = strstr(xml, key);
    g_assert_nonnull(p);
    p += strlen(key);
    return g_strndup(p, strcspn(p, "'"));
}

/* ----------------------------------------------------------- XMPP input --- */

static struct xmpp_node *stanza_new(const char *name, const char *from, const char *to,
                                    const char *type, const char *id)
{
    struct xmpp_node *s = xmpp_node_new(XMPP_NS_SERVER, name);
    xmpp_node_set_attr(s, "from", from);
    xmpp_node_set_attr(s, "to", to);
    if (type)
        xmpp_node_set_attr(s, "type", type);
    if (id)
        xmpp_node_set_attr(s, "id", id);
    return s;
}

static void add_text(struct xmpp_node *parent, const char *name, const char *text)
{
    xmpp_node_add_text(xmpp_node_add_element(parent, XMPP_NS_SERVER, name), text, -1);
}

static struct xmpp_node *error_stanza(const char *name, const char *from, const char *to,
                                      const char *id, enum xmpp_stanza_condition cond)
{
    struct xmpp_node *orig = stanza_new(name, to, from, NULL, id);
    struct xmpp_node *e = xmpp_stanza_error_reply(orig, cond, NULL);
    xmpp_node_free(orig);
    return e;
}

/* ------------------------------------------------------------ SIP input --- */

static sylk_message *sip_message(const char *from, const char *ruri, const char *type,
                                 const char *body)
{
    sylk_message *m = g_new0(sylk_message, 1);
    m->info = (struct sylk_request_info){.struct_size = sizeof(m->info),
                                         .method = "MESSAGE",
                                         .request_uri = ruri,
                                         .from_uri = from,
                                         .to_uri = ruri,
                                         .call_id = "c1",
                                         .body = body,
                                         .body_len = body ? strlen(body) : 0};
    m->headers[0][0] = "Content-Type";
    m->headers[0][1] = type;
    return m;
}

static void sip_message_free(sylk_message *m)
{
    g_free(m->reason);
    g_free(m);
}

/* ------------------------------------------------------------- messages --- */

static void message_sip_to_xmpp(void)
{
    setup();
    sylk_message *m = sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example",
                                  "text/plain;charset=utf-8", "Wherefore \xe2\x80\x94 art thou?");
    xgw_sip_message_in(m);
    g_assert_cmpuint(fake.stanzas->len, ==, 1);
    const char *xml = stanza_at(0)->xml;
    g_autofree char *id = attr_of(xml, "id");
    g_autofree char *expect = g_strdup_printf(
        "<message from='alice@sip.example' to='romeo@xmpp.example' type='chat' id='%s'><body>"
        "Wherefore \xe2\x80\x94 art thou?</body></message>",
        id);
    g_assert_cmpstr(xml, ==, expect);
    g_assert_cmpint(m->status, ==, 0); /* waiting for the transport */
    stanza_at(0)->fn(0, 0, stanza_at(0)->user_data);
    g_assert_cmpint(m->status, ==, 0); /* waiting for a possible error */
    g_assert_cmpuint(fire_timers(2000), ==, 1);
    g_assert_cmpint(m->status, ==, 200);
    g_assert_cmpuint(fire_timers(25000), ==, 0); /* the outcome timer went with it */
    sip_message_free(m);
    teardown();
}

/* An iq of type result (or error) from `from` to `to` with `id`. */
static struct xmpp_node *iq_answer(const char *type, const char *from, const char *to,
                                   const char *id)
{
    struct xmpp_node *iq = xmpp_node_new(XMPP_NS_SERVER, "iq");
    xmpp_node_set_attr(iq, "type", type);
    xmpp_node_set_attr(iq, "from", from);
    xmpp_node_set_attr(iq, "to", to);
    xmpp_node_set_attr(iq, "id", id);
    return iq;
}

/* Written messages are answered once the next hop answered a ping written after them (barrier.h)
 * and a short grace passed, without waiting for the hold; an error before then still maps to its
 * status; a message written while a ping is in flight waits for the next ping. */
static void message_sip_barrier(void)
{
    setup();
    sylk_message *m1 =
        sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example", "text/plain", "one");
    sylk_message *m2 =
        sip_message("sip:alice@sip.example", "sip:nobody@xmpp.example", "text/plain", "two");
    sylk_message *m3 =
        sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example", "text/plain", "three");
    xgw_sip_message_in(m1);
    xgw_sip_message_in(m2);
    stanza_at(0)->fn(0, 0, stanza_at(0)->user_data);
    stanza_at(1)->fn(0, 0, stanza_at(1)->user_data);
    /* one ping behind the first, the second waits for the next */
    g_assert_cmpuint(fake.stanzas->len, ==, 3);
    const char *ping = stanza_at(2)->xml;
    g_autofree char *ping_id = attr_of(ping, "id");
    g_autofree char *expect =
        g_strdup_printf("<iq type='get' id='%s' from='sip.example' "
                        "to='xmpp.example'><ping xmlns='urn:xmpp:ping'/></iq>",
                        ping_id);
    g_assert_cmpstr(ping, ==, expect);
    g_assert_cmpint(m1->status, ==, 0);
    /* the answer to a ping we did not send is not a barrier's */
    xgw_iq_in(iq_answer("result", "xmpp.example", "sip.example", "other"));
    g_assert_cmpint(m1->status, ==, 0);
    xgw_iq_in(iq_answer("result", "xmpp.example", "sip.example", ping_id));
    /* past the barrier, the recipient's client has the grace to refuse it; then 200 */
    g_assert_cmpint(m1->status, ==, 0);
    g_assert_cmpuint(fire_timers(250), ==, 1);
    g_assert_cmpint(m1->status, ==, 200);
    g_assert_cmpint(m2->status, ==, 0);
    /* the second ping, behind m2; m2's error comes before its answer */
    g_assert_cmpuint(fake.stanzas->len, ==, 4);
    g_autofree char *ping2 = attr_of(stanza_at(3)->xml, "id");
    g_assert_cmpstr(ping2, !=, ping_id);
    g_autofree char *id2 = attr_of(stanza_at(1)->xml, "id");
    xgw_message_in(error_stanza("message", "nobody@xmpp.example", "alice@sip.example", id2,
                                XMPP_STANZA_ERR_SERVICE_UNAVAILABLE));
    g_assert_cmpint(m2->status, ==, 503);
    /* an error answer proves the order as well */
    xgw_iq_in(iq_answer("error", "xmpp.example", "sip.example", ping2));
    /* nothing in flight: the next message gets a ping of its own */
    xgw_sip_message_in(m3);
    stanza_at(4)->fn(0, 0, stanza_at(4)->user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 6);
    g_autofree char *ping3 = attr_of(stanza_at(5)->xml, "id");
    g_assert_cmpint(m3->status, ==, 0);
    /* unanswered: the hold answers it, and the pending state is gone */
    g_assert_cmpuint(fire_timers(2000), ==, 1);
    g_assert_cmpint(m3->status, ==, 200);
    xgw_iq_in(iq_answer("result", "xmpp.example", "sip.example", ping3)); /* late: ignored */
    /* the barrier passed, then the recipient's client refuses it within the grace */
    sylk_message *m4 =
        sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example", "text/plain", "four");
    xgw_sip_message_in(m4);
    stanza_at(6)->fn(0, 0, stanza_at(6)->user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 8);
    g_autofree char *ping4 = attr_of(stanza_at(7)->xml, "id");
    xgw_iq_in(iq_answer("result", "xmpp.example", "sip.example", ping4));
    g_autofree char *id4 = attr_of(stanza_at(6)->xml, "id");
    xgw_message_in(error_stanza("message", "romeo@xmpp.example", "alice@sip.example", id4,
                                XMPP_STANZA_ERR_FORBIDDEN));
    g_assert_cmpint(m4->status, ==, 403);
    g_assert_cmpuint(fire_timers(250), ==, 0); /* the grace went with the answer */
    sip_message_free(m1);
    sip_message_free(m2);
    sip_message_free(m3);
    sip_message_free(m4);
    teardown();
}

static void message_sip_errors(void)
{
    setup();
    /* an error stanza within the hold: its RFC 7247 status */
    static const struct {
        enum xmpp_stanza_condition cond;
        int status;
    } errors[] = {{XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, 503},
                  {XMPP_STANZA_ERR_ITEM_NOT_FOUND, 404},
                  {XMPP_STANZA_ERR_RECIPIENT_UNAVAILABLE, 480},
                  {XMPP_STANZA_ERR_FORBIDDEN, 403}};
    for (guint i = 0; i < G_N_ELEMENTS(errors); i++) {
        sylk_message *m =
            sip_message("sip:alice@sip.example", "sip:nobody@xmpp.example", "text/plain", "hello?");
        xgw_sip_message_in(m);
        struct sent_stanza *s = stanza_at(fake.stanzas->len - 1);
        s->fn(0, 0, s->user_data);
        g_autofree char *id = attr_of(s->xml, "id");
        /* an error from another address with that id is not about it */
        xgw_message_in(error_stanza("message", "mallory@xmpp.example", "alice@sip.example", id,
                                    errors[i].cond));
        g_assert_cmpint(m->status, ==, 0);
        xgw_message_in(error_stanza("message", "nobody@xmpp.example", "alice@sip.example", id,
                                    errors[i].cond));
        g_assert_cmpint(m->status, ==, errors[i].status);
        sip_message_free(m);
    }
    g_assert_cmpuint(fire_timers(2000), ==, 0);
    /* the transport could not hand it on */
    static const struct {
        enum xmpp_stanza_condition cond;
        int status;
    } failures[] = {{XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND, 404},
                    {XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT, 408},
                    {XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, 503}};
    for (guint i = 0; i < G_N_ELEMENTS(failures); i++) {
        sylk_message *m =
            sip_message("sip:alice@sip.example", "sip:romeo@nowhere.example", "text/plain", "hi");
        xgw_sip_message_in(m);
        struct sent_stanza *s = stanza_at(fake.stanzas->len - 1);
        s->fn(-1, failures[i].cond, s->user_data);
        g_assert_cmpint(m->status, ==, failures[i].status);
        sip_message_free(m);
    }
    /* no outcome at all */
    sylk_message *m =
        sip_message("sip:alice@sip.example", "sip:romeo@slow.example", "text/plain", "hi");
    xgw_sip_message_in(m);
    g_assert_cmpuint(fire_timers(25000), ==, 1);
    g_assert_cmpint(m->status, ==, 408);
    struct sent_stanza *s = stanza_at(fake.stanzas->len - 1);
    s->fn(0, 0, s->user_data); /* late: ignored */
    sip_message_free(m);
    teardown();
}

static void message_sip_refused(void)
{
    setup();
    static const struct {
        const char *from, *ruri, *type, *body;
        int status;
    } rows[] = {
        {"sip:alice@elsewhere.example", "sip:romeo@xmpp.example", "text/plain", "x", 403},
        {"sip:alice@sip.example", "sip:bob@sip.example", "text/plain", "x", 404},
        {"sip:alice@sip.example", "tel:+15551234", "text/plain", "x", 416},
        {"sip:alice@sip.example", "sip:romeo@xmpp.example", "image/png", "x", 415},
        {"sip:alice@sip.example", "sip:romeo@xmpp.example", "text/plain", "\xff\xfe", 400},
    };
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        sylk_message *m = sip_message(rows[i].from, rows[i].ruri, rows[i].type, rows[i].body);
        xgw_sip_message_in(m);
        g_assert_cmpint(m->status, ==, rows[i].status);
        if (rows[i].status == 415)
            g_assert_nonnull(strstr(m->reason, "text/plain"));
        sip_message_free(m);
    }
    g_assert_cmpuint(fake.stanzas->len, ==, 0);
    teardown();
}

static void message_resource_kept(void)
{
    setup();
    /* the SIP sender's GRUU (in Contact) becomes its resource, the gr of the Request-URI the
     * recipient's */
    sylk_message *m = sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example;gr=balcony",
                                  "text/plain", "hi");
    m->headers[1][0] = "Contact";
    m->headers[1][1] = "<sip:alice@sip.example;gr=urn:uuid:f81d4fae>;+sip.instance=\"x\"";
    xgw_sip_message_in(m);
    g_autofree char *from = attr_of(stanza_at(0)->xml, "from");
    g_autofree char *to = attr_of(stanza_at(0)->xml, "to");
    g_assert_cmpstr(from, ==, "alice@sip.example/urn:uuid:f81d4fae");
    g_assert_cmpstr(to, ==, "romeo@xmpp.example/balcony");
    stanza_at(0)->fn(0, 0, stanza_at(0)->user_data);
    fire_timers(2000);
    sip_message_free(m);

    /* the reply from that resource goes to the same SIP device, and back */
    struct xmpp_node *r = stanza_new("message", "romeo@xmpp.example/balcony",
                                     "alice@sip.example/urn:uuid:f81d4fae", "chat", "r1");
    add_text(r, "body", "here");
    xgw_message_in(r);
    g_assert_cmpstr(message_at(0)->from, ==, "sip:romeo@xmpp.example;gr=balcony");
    g_assert_cmpstr(message_at(0)->to, ==, "sip:alice@sip.example;gr=urn:uuid:f81d4fae");
    message_at(0)->params.result(200, "OK", message_at(0)->params.user_data);
    teardown();
}

static void message_xmpp_to_sip(void)
{
    setup();
    struct xmpp_node *m =
        stanza_new("message", "romeo@xmpp.example/balcony", "alice@sip.example", "chat", "m1");
    xmpp_node_set_attr_ns(m, XMPP_NS_XML, "lang", "en");
    add_text(m, "body", "Neither, fair saint \xe2\x98\xba");
    add_text(m, "subject", "names");
    xmpp_node_add_element(m, "urn:xmpp:receipts", "request");
    xgw_message_in(m);
    g_assert_cmpuint(fake.messages->len, ==, 1);
    struct sent_message *s = message_at(0);
    g_assert_cmpstr(s->from, ==, "sip:romeo@xmpp.example;gr=balcony");
    g_assert_cmpstr(s->to, ==, "sip:alice@sip.example");
    g_assert_cmpstr(s->type, ==, "text/plain;charset=utf-8");
    g_assert_cmpstr(s->body, ==, "Neither, fair saint \xe2\x98\xba");
    g_assert_cmpstr(s->headers, ==, "Subject: names\r\nContent-Language: en\r\n");
    /* 200: the receipt asked for */
    s->params.result(200, "OK", s->params.user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 1);
    g_autofree char *rid = attr_of(stanza_at(0)->xml, "id");
    g_autofree char *receipt =
        g_strdup_printf("<message from='alice@sip.example' to='romeo@xmpp.example/balcony' id='%s' "
                        "type='chat'><received xmlns='urn:xmpp:receipts' id='m1'/></message>",
                        rid);
    g_assert_cmpstr(stanza_at(0)->xml, ==, receipt);

    /* 202 (a relay took it): no receipt; 404: item-not-found back to the sender */
    for (int k = 0; k < 2; k++) {
        m = stanza_new("message", "romeo@xmpp.example/balcony", "nobody@sip.example", NULL,
                       k ? "m3" : "m2");
        add_text(m, "body", "anyone?");
        xmpp_node_add_element(m, "urn:xmpp:receipts", "request");
        xgw_message_in(m);
        s = message_at(fake.messages->len - 1);
        if (k == 0)
            s->params.result(202, "Accepted", s->params.user_data);
        else
            s->params.result(404, "Not Found", s->params.user_data);
    }
    g_assert_cmpuint(fake.stanzas->len, ==, 2);
    g_assert_cmpstr(stanza_at(1)->xml, ==,
                    "<message to='romeo@xmpp.example/balcony' from='nobody@sip.example' id='m3' "
                    "type='error'><error type='cancel'><item-not-found "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>SIP 404 Not "
                    "Found</text></error></message>");

    /* wrapped in CPIM when use_cpim is set */
    fake.config.use_cpim = true;
    m = stanza_new("message", "romeo@xmpp.example", "alice@sip.example", "chat", "m4");
    add_text(m, "body", "wrapped");
    xgw_message_in(m);
    s = message_at(fake.messages->len - 1);
    g_assert_cmpstr(s->type, ==, "message/cpim");
    g_assert_true(g_str_has_prefix(s->body, "From: <sip:romeo@xmpp.example>\r\nTo: "
                                            "<sip:alice@sip.example>\r\nDateTime: "));
    g_assert_true(g_str_has_suffix(s->body, "\r\n\r\nContent-Type: "
                                            "text/plain;charset=utf-8\r\n\r\nwrapped"));
    s->params.result(200, "OK", s->params.user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 2); /* no receipt asked */

    /* groupchat to a user: service-unavailable; an error nobody waits for: dropped */
    m = stanza_new("message", "room@muc.example/x", "alice@sip.example", "groupchat", "g1");
    add_text(m, "body", "all");
    xgw_message_in(m);
    g_assert_cmpuint(fake.stanzas->len, ==, 3);
    g_assert_nonnull(strstr(stanza_at(2)->xml, "<service-unavailable"));
    xgw_message_in(error_stanza("message", "romeo@xmpp.example", "alice@sip.example", "zz",
                                XMPP_STANZA_ERR_ITEM_NOT_FOUND));
    g_assert_cmpuint(fake.stanzas->len, ==, 3);
    g_assert_cmpuint(fake.messages->len, ==, 4);
    teardown();
}

static struct xmpp_node *chat_state(const char *from, const char *to, const char *state)
{
    struct xmpp_node *m = stanza_new("message", from, to, "chat", NULL);
    xmpp_node_add_element(m, "http://jabber.org/protocol/chatstates", state);
    return m;
}

static void chat_states_both_ways(void)
{
    setup();
    const char *romeo = "romeo@xmpp.example/balcony", *alice = "alice@sip.example";
    /* XMPP -> SIP: composing is active, paused idle, repeats and a lone paused send nothing */
    const char *states[] = {"paused", "composing", "composing", "paused", "paused", "gone"};
    const char *sip[] = {NULL, "active", NULL, "idle", NULL, NULL};
    for (guint i = 0; i < G_N_ELEMENTS(states); i++) {
        guint before = fake.messages->len;
        xgw_message_in(chat_state(romeo, alice, states[i]));
        if (!sip[i]) {
            g_assert_cmpuint(fake.messages->len, ==, before);
            continue;
        }
        g_assert_cmpuint(fake.messages->len, ==, before + 1);
        struct sent_message *s = message_at(before);
        g_assert_cmpstr(s->type, ==, "application/im-iscomposing+xml");
        g_autofree char *want = g_strdup_printf("<state>%s</state>", sip[i]);
        g_assert_nonnull(strstr(s->body, want));
        s->params.result(200, "OK", s->params.user_data);
    }
    /* SIP -> XMPP: active is composing, idle paused, a repeat nothing; then a message that
     * carries <active/> since the SIP side uses is-composing */
    const char *doc[] = {"active", "active", "idle"};
    const char *xmpp[] = {"composing", NULL, "paused"};
    for (guint i = 0; i < G_N_ELEMENTS(doc); i++) {
        g_autofree char *body = g_strdup_printf(
            "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>%s</state>"
            "<refresh>60</refresh></isComposing>",
            doc[i]);
        sylk_message *m = sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example",
                                      "application/im-iscomposing+xml", body);
        guint before = fake.stanzas->len;
        xgw_sip_message_in(m);
        g_assert_cmpint(m->status, ==, 200); /* at once */
        g_assert_cmpuint(fake.stanzas->len, ==, before + (xmpp[i] ? 1 : 0));
        if (xmpp[i]) {
            g_autofree char *want = g_strdup_printf(
                "<%s xmlns='http://jabber.org/protocol/chatstates'/></message>", xmpp[i]);
            g_assert_true(g_str_has_suffix(stanza_at(before)->xml, want));
            g_assert_null(strstr(stanza_at(before)->xml, "<body"));
        }
        sip_message_free(m);
    }
    sylk_message *m =
        sip_message("sip:alice@sip.example", "sip:romeo@xmpp.example", "text/plain", "done");
    xgw_sip_message_in(m);
    g_assert_true(g_str_has_suffix(stanza_at(fake.stanzas->len - 1)->xml,
                                   "<body>done</body><active "
                                   "xmlns='http://jabber.org/protocol/chatstates'/></message>"));
    stanza_at(fake.stanzas->len - 1)->fn(0, 0, stanza_at(fake.stanzas->len - 1)->user_data);
    fire_timers(2000);
    g_assert_cmpint(m->status, ==, 200);
    sip_message_free(m);
    teardown();
}

/* A SIP UA that takes text/plain only (baresip): a 415 to CPIM or HTML is followed by the text
 * in text/plain, whose outcome is the message's; a 415 to is-composing (wrapped, then not)
 * only stops chat states for the conversation: no error for a typing notice. */
static void message_415_falls_back_to_text(void)
{
    setup();
    fake.config.use_cpim = true;
    const char *romeo = "romeo@xmpp.example/balcony", *alice = "alice@sip.example";
    struct xmpp_node *m = stanza_new("message", romeo, alice, "chat", "t1");
    add_text(m, "body", "plain please");
    xmpp_node_add_element(m, "urn:xmpp:receipts", "request");
    xgw_message_in(m);
    struct sent_message *s = message_at(0);
    g_assert_cmpstr(s->type, ==, "message/cpim");
    s->params.result(415, "Unsupported Media Type", s->params.user_data);
    g_assert_cmpuint(fake.messages->len, ==, 2);
    s = message_at(1);
    g_assert_cmpstr(s->type, ==, "text/plain;charset=utf-8");
    g_assert_cmpstr(s->body, ==, "plain please");
    g_assert_cmpstr(s->from, ==, "sip:romeo@xmpp.example;gr=balcony");
    g_assert_cmpstr(s->to, ==, "sip:alice@sip.example");
    g_assert_cmpuint(fake.stanzas->len, ==, 0);
    s->params.result(200, "OK", s->params.user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 1); /* the receipt, for the second try's 200 */
    g_assert_nonnull(strstr(stanza_at(0)->xml, "<received xmlns='urn:xmpp:receipts' id='t1'/>"));
    /* a 415 to the text/plain try is final: bad-request */
    m = stanza_new("message", romeo, alice, "chat", "t2");
    add_text(m, "body", "again");
    xgw_message_in(m);
    s = message_at(2);
    s->params.result(415, "Unsupported Media Type", s->params.user_data);
    s = message_at(3);
    s->params.result(415, "Unsupported Media Type", s->params.user_data);
    g_assert_cmpuint(fake.messages->len, ==, 4);
    g_assert_cmpuint(fake.stanzas->len, ==, 2);
    g_assert_nonnull(strstr(stanza_at(1)->xml, "id='t2' type='error'><error type='modify'>"
                                               "<bad-request"));
    /* is-composing: CPIM, then unwrapped, then nothing more for this conversation */
    xgw_message_in(chat_state(romeo, alice, "composing"));
    s = message_at(4);
    g_assert_cmpstr(s->type, ==, "message/cpim");
    s->params.result(415, "Unsupported Media Type", s->params.user_data);
    s = message_at(5);
    g_assert_cmpstr(s->type, ==, "application/im-iscomposing+xml");
    s->params.result(415, "Unsupported Media Type", s->params.user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 2); /* no error for a chat state */
    xgw_message_in(chat_state(romeo, alice, "paused"));
    xgw_message_in(chat_state(romeo, alice, "composing"));
    g_assert_cmpuint(fake.messages->len, ==, 6);
    teardown();
}

/* ------------------------------------------------------------- presence --- */

static sylk_subscription *sip_subscribe(const char *from, const char *ruri)
{
    sylk_subscription *s = g_new0(sylk_subscription, 1);
    s->info = (struct sylk_request_info){.struct_size = sizeof(s->info),
                                         .method = "SUBSCRIBE",
                                         .request_uri = ruri,
                                         .from_uri = from,
                                         .to_uri = ruri,
                                         .call_id = "s1"};
    s->notifies = g_ptr_array_new_with_free_func(g_free);
    return s;
}

static void sip_subscription_free(sylk_subscription *s)
{
    g_ptr_array_unref(s->notifies);
    g_free(s->terminated);
    g_free(s);
}

static const char *last_notify(sylk_subscription *s)
{
    g_assert_cmpuint(s->notifies->len, >, 0);
    return g_ptr_array_index(s->notifies, s->notifies->len - 1);
}

static void presence_sip_watches_xmpp(void)
{
    setup();
    sylk_subscription *a = sip_subscribe("sip:alice@sip.example", "sip:romeo@xmpp.example");
    xgw_sip_subscription_in(a);
    g_assert_cmpuint(fake.stanzas->len, ==, 1);
    g_assert_cmpstr(stanza_at(0)->xml, ==,
                    "<presence from='alice@sip.example' to='romeo@xmpp.example' "
                    "type='subscribe'/>");
    g_assert_cmpint(a->status, ==, 0); /* until the subscribe is written */
    stanza_at(0)->fn(0, 0, stanza_at(0)->user_data);
    g_assert_cmpint(a->status, ==, 200);
    g_assert_null(strstr(last_notify(a), "<tuple")); /* nothing known yet */
    g_assert_nonnull(strstr(last_notify(a), "entity=\"sip:romeo@xmpp.example\""));

    /* a second device on the same pair: accepted at once, no second subscribe */
    sylk_subscription *b = sip_subscribe("sip:alice@sip.example", "sip:romeo@xmpp.example");
    xgw_sip_subscription_in(b);
    g_assert_cmpint(b->status, ==, 200);
    g_assert_cmpuint(fake.stanzas->len, ==, 1);

    /* romeo accepts and his presence flows: both dialogs get it */
    xgw_presence_in(
        stanza_new("presence", "romeo@xmpp.example", "alice@sip.example", "subscribed", NULL));
    struct xmpp_node *p =
        stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example", NULL, NULL);
    add_text(p, "show", "away");
    add_text(p, "status", "On the balcony");
    xgw_presence_in(p);
    for (int i = 0; i < 2; i++) {
        const char *doc = last_notify(i ? b : a);
        g_assert_nonnull(strstr(doc, "<basic>open</basic>"));
        g_assert_nonnull(strstr(doc, "<contact>sip:romeo@xmpp.example;gr=balcony</contact>"));
        g_assert_nonnull(strstr(doc, "<note>On the balcony</note>"));
        g_assert_nonnull(strstr(doc, "<rpid:away/>"));
    }
    /* presence for somebody nobody watches: nothing */
    guint na = a->notifies->len;
    xgw_presence_in(
        stanza_new("presence", "juliet@xmpp.example/x", "alice@sip.example", NULL, NULL));
    g_assert_cmpuint(a->notifies->len, ==, na);
    /* unavailable: once as closed, then gone from the document */
    xgw_presence_in(stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example",
                               "unavailable", NULL));
    g_assert_nonnull(strstr(last_notify(a), "<basic>closed</basic>"));
    /* a refresh gets the current document: without the resource now */
    a->handler->refreshed(a, 600, a->user_data);
    g_assert_null(strstr(last_notify(a), "<tuple"));

    /* device b un-SUBSCRIBEs: a goes on; then a's subscription expires: the watch ends without
     * an XMPP unsubscribe (a device that went away cancels nothing) */
    b->handler->ended(b, "unsubscribed", b->user_data);
    struct xgw_mapping_counts c;
    xgw_mapping_counts(&c);
    g_assert_cmpuint(c.s2x, ==, 1);
    g_assert_cmpuint(c.s2x_dialogs, ==, 1);
    guint before = fake.stanzas->len;
    a->handler->ended(a, "timeout", a->user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, before);
    sip_subscription_free(a);
    sip_subscription_free(b);

    /* an explicit un-SUBSCRIBE of the last dialog is a cancellation: XMPP unsubscribe */
    a = sip_subscribe("sip:alice@sip.example", "sip:romeo@xmpp.example");
    xgw_sip_subscription_in(a);
    stanza_at(fake.stanzas->len - 1)->fn(0, 0, stanza_at(fake.stanzas->len - 1)->user_data);
    a->handler->ended(a, "unsubscribed", a->user_data);
    g_assert_cmpstr(stanza_at(fake.stanzas->len - 1)->xml, ==,
                    "<presence from='alice@sip.example' to='romeo@xmpp.example' "
                    "type='unsubscribe'/>");
    sip_subscription_free(a);
    teardown();
}

static void presence_sip_watch_refused(void)
{
    setup();
    /* romeo refuses: the dialog ends with reason rejected */
    sylk_subscription *a = sip_subscribe("sip:alice@sip.example", "sip:romeo@xmpp.example");
    xgw_sip_subscription_in(a);
    stanza_at(0)->fn(0, 0, stanza_at(0)->user_data);
    xgw_presence_in(
        stanza_new("presence", "romeo@xmpp.example", "alice@sip.example", "unsubscribed", NULL));
    g_assert_cmpstr(a->terminated, ==, "rejected");
    a->handler->ended(a, "terminated", a->user_data); /* the core, once the NOTIFY is answered */
    sip_subscription_free(a);

    /* no such domain: the SUBSCRIBE is refused with 404 */
    a = sip_subscribe("sip:alice@sip.example", "sip:romeo@nowhere.example");
    xgw_sip_subscription_in(a);
    struct sent_stanza *s = stanza_at(fake.stanzas->len - 1);
    s->fn(-1, XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND, s->user_data);
    g_assert_cmpint(a->status, ==, 404);
    g_assert_true(a->ended);
    sip_subscription_free(a);

    /* a presence error to the subscribe (no such user): noresource */
    a = sip_subscribe("sip:alice@sip.example", "sip:nobody@xmpp.example");
    xgw_sip_subscription_in(a);
    s = stanza_at(fake.stanzas->len - 1);
    s->fn(0, 0, s->user_data);
    xgw_presence_in(error_stanza("presence", "nobody@xmpp.example", "alice@sip.example", NULL,
                                 XMPP_STANZA_ERR_ITEM_NOT_FOUND));
    g_assert_cmpstr(a->terminated, ==, "noresource");
    a->handler->ended(a, "terminated", a->user_data);
    sip_subscription_free(a);

    /* a fetch: the (empty) document at once, no XMPP subscription, no watch */
    guint before = fake.stanzas->len;
    a = sip_subscribe("sip:alice@sip.example", "sip:romeo@xmpp.example");
    a->headers[0][0] = "Expires";
    a->headers[0][1] = "0";
    xgw_sip_subscription_in(a);
    g_assert_cmpint(a->status, ==, 200);
    g_assert_null(strstr(last_notify(a), "<tuple"));
    g_assert_cmpuint(fake.stanzas->len, ==, before);
    assert_nothing_left();
    sip_subscription_free(a);

    /* from a domain we do not serve */
    a = sip_subscribe("sip:alice@elsewhere.example", "sip:romeo@xmpp.example");
    xgw_sip_subscription_in(a);
    g_assert_cmpint(a->status, ==, 403);
    sip_subscription_free(a);
    teardown();
}

static const char *pidf_doc =
    "<?xml version='1.0' encoding='UTF-8'?>"
    "<presence xmlns='urn:ietf:params:xml:ns:pidf' "
    "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
    "xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:alice@sip.example'>"
    "<tuple id='t1'><status><basic>%s</basic></status>"
    "<contact>sip:alice@sip.example;gr=laptop</contact><note>%s</note></tuple>"
    "<dm:person id='p'><rpid:activities><rpid:%s/></rpid:activities></dm:person></presence>";

static void notify_pidf(sylk_outgoing_subscription *s, const char *basic, const char *note,
                        const char *activity)
{
    g_autofree char *doc = g_strdup_printf(pidf_doc, basic, note, activity);
    s->params.handler->notify(s, "active", "application/pidf+xml", doc, strlen(doc),
                              s->params.user_data);
}

static void presence_xmpp_watches_sip(void)
{
    setup();
    xgw_presence_in(stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example",
                               "subscribe", NULL));
    g_assert_cmpuint(fake.outgoing->len, ==, 1);
    sylk_outgoing_subscription *s = g_ptr_array_index(fake.outgoing, 0);
    g_assert_cmpstr(s->from, ==, "sip:romeo@xmpp.example");
    g_assert_cmpstr(s->to, ==, "sip:alice@sip.example");
    g_assert_cmpstr(s->params.event, ==, "presence");
    g_assert_cmpstr(s->params.accept, ==, "application/pidf+xml");
    s->params.handler->notify(s, "pending", NULL, NULL, 0, s->params.user_data);
    g_assert_cmpuint(fake.stanzas->len, ==, 0);
    notify_pidf(s, "open", "At work", "busy");
    g_assert_cmpuint(fake.stanzas->len, ==, 2);
    g_assert_cmpstr(stanza_at(0)->xml, ==,
                    "<presence from='alice@sip.example' to='romeo@xmpp.example' "
                    "type='subscribed'/>");
    g_assert_cmpstr(stanza_at(1)->xml, ==,
                    "<presence from='alice@sip.example/laptop' to='romeo@xmpp.example'>"
                    "<show>dnd</show><status>At work</status></presence>");
    /* closed: unavailable; a probe then answers with unavailable too */
    notify_pidf(s, "closed", "Gone home", "away");
    g_assert_cmpstr(stanza_at(2)->xml, ==,
                    "<presence from='alice@sip.example/laptop' to='romeo@xmpp.example' "
                    "type='unavailable'><status>Gone home</status></presence>");
    notify_pidf(s, "open", "Back", "away");
    xgw_presence_in(
        stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example", "probe", NULL));
    g_assert_cmpstr(stanza_at(fake.stanzas->len - 1)->xml, ==,
                    "<presence from='alice@sip.example/laptop' to='romeo@xmpp.example'>"
                    "<show>away</show><status>Back</status></presence>");
    /* romeo unsubscribes: un-SUBSCRIBE, alice's resource reported unavailable, and once the
     * core ends the subscription nothing is left */
    xgw_presence_in(stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example",
                               "unsubscribe", NULL));
    g_assert_true(s->unsubscribed);
    g_assert_cmpstr(stanza_at(fake.stanzas->len - 1)->xml, ==,
                    "<presence from='alice@sip.example/laptop' to='romeo@xmpp.example' "
                    "type='unavailable'/>");
    s->params.handler->ended(s, 200, "timeout", s->params.user_data);
    teardown();
}

static void presence_xmpp_watch_ends(void)
{
    setup();
    /* SIP refuses: 404 -> presence error item-not-found; 403 -> unsubscribed */
    const int codes[] = {404, 403};
    for (int i = 0; i < 2; i++) {
        xgw_presence_in(
            stanza_new("presence", "romeo@xmpp.example", "alice@sip.example", "subscribe", "p1"));
        sylk_outgoing_subscription *s = g_ptr_array_index(fake.outgoing, fake.outgoing->len - 1);
        s->params.handler->ended(s, codes[i], i ? "Forbidden" : "Not Found", s->params.user_data);
        const char *xml = stanza_at(fake.stanzas->len - 1)->xml;
        if (i == 0)
            g_assert_nonnull(strstr(xml, "type='error'><error type='cancel'><item-not-found"));
        else
            g_assert_cmpstr(xml, ==,
                            "<presence from='alice@sip.example' to='romeo@xmpp.example' "
                            "type='unsubscribed'/>");
    }
    assert_nothing_left();
    /* a probe makes a watch without announcing subscribed; the notifier deactivates it: we
     * subscribe again after a while; then romeo goes offline: the watch ends */
    struct xmpp_node *online =
        stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example", NULL, NULL);
    xgw_presence_in(
        stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example", "probe", NULL));
    xgw_presence_in(online);
    sylk_outgoing_subscription *s = g_ptr_array_index(fake.outgoing, fake.outgoing->len - 1);
    guint before = fake.stanzas->len;
    notify_pidf(s, "open", "Hi", "away");
    g_assert_cmpuint(fake.stanzas->len, ==, before + 1); /* presence only, no subscribed */
    s->params.handler->ended(s, 200, "deactivated", s->params.user_data);
    guint subs = fake.outgoing->len;
    g_assert_cmpuint(fire_timers(5000), ==, 1);
    g_assert_cmpuint(fake.outgoing->len, ==, subs + 1);
    s = g_ptr_array_index(fake.outgoing, fake.outgoing->len - 1);
    notify_pidf(s, "open", "Hi", "away");
    xgw_presence_in(stanza_new("presence", "romeo@xmpp.example/balcony", "alice@sip.example",
                               "unavailable", NULL));
    g_assert_true(s->unsubscribed);
    s->params.handler->ended(s, 200, NULL, s->params.user_data);
    teardown();
}

/* XMPP -> SIP flow control: 2,000 messages at once are sent XGW_SIP_WINDOW at a time, in
 * order; reading XMPP pauses at XGW_SIP_WAITING_HIGH waiting and resumes at _LOW; none is
 * refused or lost. */
static void message_flow_control(void)
{
    setup();
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        g_autofree char *id = g_strdup_printf("f%d", i);
        struct xmpp_node *m =
            stanza_new("message", "romeo@xmpp.example/balcony", "alice@sip.example", "chat", id);
        g_autofree char *text = g_strdup_printf("message %d", i);
        add_text(m, "body", text);
        xgw_message_in(m);
        g_assert_cmpuint(fake.messages->len, ==, MIN(i + 1, XGW_SIP_WINDOW));
    }
    g_assert_cmpuint(fake.pauses->len, ==, 1);
    g_assert_true(g_array_index(fake.pauses, bool, 0));
    /* answered in order, one by one: each answer lets the next one go */
    for (guint i = 0; i < N; i++) {
        g_assert_cmpuint(fake.messages->len, ==, MIN(i + XGW_SIP_WINDOW, N));
        struct sent_message *s = message_at(i);
        g_autofree char *text = g_strdup_printf("message %u", i);
        g_assert_cmpstr(s->body, ==, text);
        s->params.result(200, "OK", s->params.user_data);
        guint waiting = N - MIN(i + 1 + XGW_SIP_WINDOW, N);
        g_assert_cmpuint(fake.pauses->len, ==, waiting > XGW_SIP_WAITING_LOW ? 1 : 2);
    }
    g_assert_false(g_array_index(fake.pauses, bool, 1));
    g_assert_cmpuint(fake.stanzas->len, ==, 0); /* no error, no receipt (none asked) */
    teardown();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmpp_gateway/message/sip_to_xmpp", message_sip_to_xmpp);
    g_test_add_func("/xmpp_gateway/message/sip_errors", message_sip_errors);
    g_test_add_func("/xmpp_gateway/message/sip_barrier", message_sip_barrier);
    g_test_add_func("/xmpp_gateway/message/sip_refused", message_sip_refused);
    g_test_add_func("/xmpp_gateway/message/resource_kept", message_resource_kept);
    g_test_add_func("/xmpp_gateway/message/xmpp_to_sip", message_xmpp_to_sip);
    g_test_add_func("/xmpp_gateway/message/415_falls_back_to_text", message_415_falls_back_to_text);
    g_test_add_func("/xmpp_gateway/message/flow_control", message_flow_control);
    g_test_add_func("/xmpp_gateway/chat_states", chat_states_both_ways);
    g_test_add_func("/xmpp_gateway/presence/sip_watches_xmpp", presence_sip_watches_xmpp);
    g_test_add_func("/xmpp_gateway/presence/sip_watch_refused", presence_sip_watch_refused);
    g_test_add_func("/xmpp_gateway/presence/xmpp_watches_sip", presence_xmpp_watches_sip);
    g_test_add_func("/xmpp_gateway/presence/xmpp_watch_ends", presence_xmpp_watch_ends);
    return g_test_run();
}
