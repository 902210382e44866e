/*
 * resolve.c — SRV then A/AAAA without blocking. See resolve.h.
 *
 * A resolution holds one reference for itself (dropped when its callback has run or it was
 * cancelled) and one per GResolver lookup in flight: a cancelled lookup still calls back, on
 * the main context, and only then may the memory go. GLib's own SRV ordering is not used
 * (g_resolver_lookup_service): the raw records are ordered here, by a pure function the unit
 * tests drive with a scripted random source.
 */
#define G_LOG_DOMAIN "sylk-resolve"
#include "net/resolve.h"

#include "plugin/loader.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

struct target {
    char *name; /* the SRV target, or the domain */
    uint16_t port;
    GList *addresses; /* GInetAddress *, in the order GResolver gave them */
};

struct sylk_resolve {
    struct sylk_resolver *owner;
    int refs;
    bool finished; /* delivered or cancelled: nothing more reaches the caller */
    bool delivering;
    GCancellable *cancel;
    guint timer;
    guint idle; /* delivers an IP literal's answer, after the call returned */
    char *what; /* "_xmpp-server._tcp.example.com" or "example.com", for logs */
    char *domain;
    uint16_t fallback_port;
    GPtrArray *targets; /* struct target *, in the order to try */
    unsigned pending;   /* address lookups under way */
    int error;          /* the most telling failure among them */
    sylk_resolve_fn fn;
    void *user_data;
};

/* ------------------------------------------------------------ RFC 2782 order --- */

static bool is_root(const char *target)
{
    return !target || !target[0] || strcmp(target, ".") == 0;
}

/* By priority; within one, weight-0 records first; otherwise as given (a stable order). */
static void sort_by_priority(struct sylk_srv_record *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct sylk_srv_record x = r[i];
        size_t j = i;
        while (j > 0 && (r[j - 1].priority > x.priority ||
                         (r[j - 1].priority == x.priority && r[j - 1].weight && !x.weight))) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
}

/* Orders r[0..n) (one priority) by repeated weighted draws: RFC 2782's running sums. */
static void order_group(struct sylk_srv_record *r, size_t n, sylk_srv_random_fn random, void *ud)
{
    for (size_t pos = 0; pos + 1 < n; pos++) {
        unsigned sum = 0;
        for (size_t j = pos; j < n; j++)
            sum += r[j].weight;
        unsigned pick = random(sum, ud), running = 0;
        size_t j = pos;
        for (; j < n - 1; j++) {
            running += r[j].weight;
            if (running >= pick)
                break;
        }
        struct sylk_srv_record chosen = r[j];
        memmove(&r[pos + 1], &r[pos], (j - pos) * sizeof(*r));
        r[pos] = chosen;
    }
}

size_t sylk_srv_order(struct sylk_srv_record *records, size_t count, sylk_srv_random_fn random,
                      void *user_data)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (!is_root(records[i].target))
            records[n++] = records[i];
    }
    sort_by_priority(records, n);
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && records[end].priority == records[start].priority; end++)
            ;
        order_group(records + start, end - start, random, user_data);
    }
    return n;
}

static unsigned glib_random(unsigned max, void *user_data)
{
    (void)user_data;
    return (unsigned)g_random_int_range(0, (gint32)MIN(max, (unsigned)G_MAXINT32 - 1) + 1);
}

/* --------------------------------------------------------------- lifecycle --- */

static void target_free(gpointer data)
{
    struct target *t = data;
    g_list_free_full(t->addresses, g_object_unref);
    g_free(t->name);
    g_free(t);
}

static void unref(struct sylk_resolve *q)
{
    if (--q->refs > 0)
        return;
    g_object_unref(q->cancel);
    g_ptr_array_free(q->targets, TRUE);
    g_free(q->what);
    g_free(q->domain);
    g_free(q);
}

/* Nothing more reaches the caller: lookups in flight are cancelled, timers stopped. */
static void release(struct sylk_resolve *q)
{
    q->finished = true;
    g_cancellable_cancel(q->cancel);
    if (q->timer)
        g_source_remove(q->timer);
    if (q->idle)
        g_source_remove(q->idle);
    q->timer = q->idle = 0;
    q->owner->live = g_list_remove(q->owner->live, q);
    unref(q);
}

/* GResolver reports both "no answer" and SERVFAIL as a temporary failure: worth a retry, as
 * our own time bound is. */
static int errno_of(const GError *e)
{
    if (g_error_matches(e, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
        return -ENOENT;
    if (g_error_matches(e, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE) ||
        g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return -ETIMEDOUT;
    return -EIO;
}

/* Keeps the failure most worth reporting: a retry may cure a timeout, not a missing name. */
static void note_error(struct sylk_resolve *q, int error)
{
    if (q->error == 0 || q->error == -ENOENT)
        q->error = error;
}

/* Calls the caller back once with what was found (status 0) or why nothing was. */
static void finish(struct sylk_resolve *q, int status)
{
    if (q->finished)
        return;
    GArray *out = g_array_new(FALSE, TRUE, sizeof(struct sylk_resolved_address));
    GPtrArray *strings = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < q->targets->len; i++) {
        const struct target *t = g_ptr_array_index(q->targets, i);
        for (const GList *l = t->addresses; l; l = l->next) {
            char *address = g_inet_address_to_string(l->data);
            g_ptr_array_add(strings, address);
            struct sylk_resolved_address a = {
                .struct_size = sizeof(a), .address = address, .port = t->port, .target = t->name};
            g_array_append_val(out, a);
        }
    }
    if (out->len > 0)
        status = 0; /* what was found in time is worth trying */
    else if (status == 0)
        status = q->error ? q->error : -ENOENT;
    g_debug("resolve %s: %s (%u addresses)", q->what, status ? g_strerror(-status) : "ok",
            out->len);
    q->delivering = true;
    q->fn(q, status, status ? NULL : (const struct sylk_resolved_address *)(void *)out->data,
          status ? 0 : out->len, q->user_data);
    q->delivering = false;
    g_array_free(out, TRUE);
    g_ptr_array_free(strings, TRUE);
    release(q);
}

static gboolean time_is_up(gpointer data)
{
    struct sylk_resolve *q = data;
    q->timer = 0;
    g_info("resolve %s: no complete answer within %u ms", q->what,
           q->owner->timeout_ms ? q->owner->timeout_ms : SYLK_RESOLVE_TIMEOUT_MS);
    note_error(q, -ETIMEDOUT);
    finish(q, -ETIMEDOUT);
    return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------- lookups --- */

static struct target *add_target(struct sylk_resolve *q, const char *name, uint16_t port)
{
    struct target *t = g_new0(struct target, 1);
    t->name = g_strdup(name);
    t->port = port;
    g_ptr_array_add(q->targets, t);
    return t;
}

struct address_lookup {
    struct sylk_resolve *q;
    struct target *t;
};

static void on_addresses(GObject *source, GAsyncResult *result, gpointer data)
{
    struct address_lookup *al = data;
    struct sylk_resolve *q = al->q;
    g_autoptr(GError) error = NULL;
    GList *found = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
    if (q->finished) {
        g_list_free_full(found, g_object_unref);
    } else {
        if (error) {
            g_debug("resolve %s: %s: %s", q->what, al->t->name, error->message);
            note_error(q, errno_of(error));
        }
        al->t->addresses = found;
        if (--q->pending == 0)
            finish(q, 0);
    }
    g_free(al);
    unref(q);
}

static void lookup_addresses(struct sylk_resolve *q, struct target *t)
{
    struct address_lookup *al = g_new0(struct address_lookup, 1);
    al->q = q;
    al->t = t;
    q->refs++;
    q->pending++;
    GResolver *resolver = g_resolver_get_default();
    g_resolver_lookup_by_name_async(resolver, t->name, q->cancel, on_addresses, al);
    g_object_unref(resolver);
}

/* The domain's own addresses with the fallback port, when there is no SRV record. */
static void fall_back(struct sylk_resolve *q)
{
    if (!q->fallback_port) {
        finish(q, -ENOENT);
        return;
    }
    lookup_addresses(q, add_target(q, q->domain, q->fallback_port));
}

static void lookup_srv_targets(struct sylk_resolve *q, GList *records)
{
    guint n = g_list_length(records);
    struct sylk_srv_record *r = g_new0(struct sylk_srv_record, n);
    guint i = 0;
    for (const GList *l = records; l; l = l->next, i++)
        g_variant_get(l->data, "(qqq&s)", &r[i].priority, &r[i].weight, &r[i].port, &r[i].target);
    size_t usable = sylk_srv_order(r, n, glib_random, NULL);
    if (usable == 0) {
        g_debug("resolve %s: target \".\": the service is not available there", q->what);
        finish(q, -ENOENT); /* RFC 2782: no fallback to the domain's addresses */
    }
    for (i = 0; i < usable; i++) /* all at once; the answers are put in order in finish */
        lookup_addresses(q, add_target(q, r[i].target, r[i].port));
    g_free(r);
}

static void on_srv(GObject *source, GAsyncResult *result, gpointer data)
{
    struct sylk_resolve *q = data;
    g_autoptr(GError) error = NULL;
    GList *records = g_resolver_lookup_records_finish(G_RESOLVER(source), result, &error);
    if (q->finished) {
        /* cancelled: nothing to do */
    } else if (g_error_matches(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND)) {
        g_debug("resolve %s: no SRV record", q->what);
        fall_back(q); /* only when there is no record: any other failure is reported */
    } else if (error) {
        g_info("resolve %s: %s", q->what, error->message);
        finish(q, errno_of(error));
    } else {
        lookup_srv_targets(q, records);
    }
    g_list_free_full(records, (GDestroyNotify)g_variant_unref);
    unref(q);
}

static gboolean deliver_literal(gpointer data)
{
    struct sylk_resolve *q = data;
    q->idle = 0;
    finish(q, 0);
    return G_SOURCE_REMOVE;
}

static char *literal_address(const char *domain)
{
    size_t len = strlen(domain);
    char *bare = domain[0] == '[' && len > 2 && domain[len - 1] == ']'
                     ? g_strndup(domain + 1, len - 2)
                     : g_strdup(domain);
    if (g_hostname_is_ip_address(bare))
        return bare;
    g_free(bare);
    return NULL;
}

static bool is_literal(const char *domain)
{
    g_autofree char *bare = literal_address(domain);
    return bare != NULL;
}

/* "[2001:db8::1]" and "192.0.2.1" resolve to themselves with the fallback port, after the
 * call returned. A literal has no SRV records: without a port, nothing. */
static void start_literal(struct sylk_resolve *q, const char *domain)
{
    g_autofree char *bare = literal_address(domain);
    if (q->fallback_port)
        add_target(q, bare, q->fallback_port)->addresses =
            g_list_append(NULL, g_inet_address_new_from_string(bare));
    q->idle = g_idle_add(deliver_literal, q);
}

static const char *without_underscore(const char *label)
{
    return label && label[0] == '_' ? label + 1 : label;
}

sylk_resolve *sylk_resolve_start(struct sylk_resolver *resolver, const char *service,
                                 const char *protocol, const char *domain, uint16_t fallback_port,
                                 sylk_resolve_fn fn, void *user_data)
{
    service = without_underscore(service);
    protocol = without_underscore(protocol);
    if (!resolver || !fn || !domain || !domain[0] || (service && (!*service || !protocol)) ||
        (protocol && !*protocol) || (!service && !fallback_port))
        return NULL;
    bool literal = is_literal(domain);
    g_autofree char *ascii = literal ? g_strdup(domain) : g_hostname_to_ascii(domain);
    if (!ascii)
        return NULL;
    struct sylk_resolve *q = g_new0(struct sylk_resolve, 1);
    q->owner = resolver;
    q->refs = 1;
    q->cancel = g_cancellable_new();
    q->domain = g_strdup(domain);
    q->fallback_port = fallback_port;
    q->targets = g_ptr_array_new_with_free_func(target_free);
    q->fn = fn;
    q->user_data = user_data;
    q->what = service && !literal ? g_strdup_printf("_%s._%s.%s", service, protocol, ascii)
                                  : g_strdup(ascii);
    resolver->live = g_list_prepend(resolver->live, q);
    q->timer = g_timeout_add(resolver->timeout_ms ? resolver->timeout_ms : SYLK_RESOLVE_TIMEOUT_MS,
                             time_is_up, q);
    if (literal) {
        start_literal(q, domain);
    } else if (!service) {
        fall_back(q);
    } else {
        q->refs++;
        GResolver *r = g_resolver_get_default();
        g_resolver_lookup_records_async(r, q->what, G_RESOLVER_RECORD_SRV, q->cancel, on_srv, q);
        g_object_unref(r);
    }
    return q;
}

void sylk_resolve_cancel(sylk_resolve *q)
{
    if (!q || q->finished || q->delivering)
        return;
    g_debug("resolve %s: cancelled", q->what);
    release(q);
}

unsigned sylk_resolver_clear(struct sylk_resolver *resolver,
                             const struct sylk_plugin_registry *plugins)
{
    unsigned n = 0;
    while (resolver->live) {
        struct sylk_resolve *q = resolver->live->data;
        const char *owner = plugins ? sylk_plugins_owner(plugins, (const void *)q->fn) : NULL;
        g_warning("plugin %s left the resolution of %s pending: cancelled",
                  owner ? owner : "(unknown)", q->what);
        release(q);
        n++;
    }
    return n;
}
