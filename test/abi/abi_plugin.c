/*
 * abi_plugin — one tiny plugin source compiled several ways to check the server's loader
 * (test/integration/test_abi.py). Each variant is one -D macro set in meson.build:
 *
 *   ABI_NAME="…"            the plugin's name (required)
 *   ABI_MAJOR_OVERRIDE=N    claim ABI major N instead of SYLK_ABI_MAJOR        → refused
 *   ABI_MINOR_OVERRIDE=N    claim ABI minor N instead of SYLK_ABI_MINOR        → refused if newer
 *   ABI_SMALL_STRUCT        claim a struct_size that ends before the callbacks     → refused
 *   ABI_INIT_FAILS          registers a metrics collector, then init returns -EINVAL
 *                                                                              → unloaded
 *   ABI_NO_ENTRY            sylk_plugin_entry is not exported                  → refused
 *   ABI_CHECK_1_7           logs what SYLK_HOST_HAS says of the 1.7 members, for the host
 *                           table and for a copy claiming the 1.6 size; answers a MESSAGE
 *                           through resolve (an IP literal): 200 "Resolved ADDRESS:PORT"
 *   ABI_CHECK_1_8           logs what SYLK_HOST_HAS says of the 1.8 members, for the host
 *                           table and for a copy claiming the 1.7 size; answers a MESSAGE
 *                           with what two 1.8 functions say of bad arguments:
 *                           200 "nickname -22 refer null endpoint -22 -22 null"
 *   ABI_CHECK_1_9           logs what SYLK_HOST_HAS says of the 1.9 members, for the host
 *                           table and for a copy claiming the 1.8 size; registers a metrics
 *                           collector (never removed: the server removes it at exit) writing
 *                           checks_total{note="quote\" back\\slash"} (scrapes so far) and,
 *                           on the first scrape, logs what three bad writes return
 *                           ("metric_write refusals: -22 -22 -17"); answers a MESSAGE with
 *                           what metrics_collector_add(NULL) gives: 200 "collector null"
 *
 * Built against the frozen 1.0 headers (test/abi/sdk-1.0) with no override, it is the
 * compatibility check: a plugin compiled for ABI 1.0 must keep loading and working in every
 * later 1.x server. It answers a MESSAGE with 200 only when the host table and the request
 * info it is handed are at least as large as in 1.0 (else 500), and refuses INVITEs with 603.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sylk/sylk.h>

#ifndef ABI_NAME
#error "ABI_NAME must be defined"
#endif

/* Sizes as this plugin was compiled: with sdk-1.0 these are the 1.0 sizes. */
#define HOST_SIZE_1_0         (offsetof(struct sylk_host, referral_notify) + sizeof(void *))
#define REQUEST_INFO_SIZE_1_0 (offsetof(struct sylk_request_info, body_len) + sizeof(size_t))

static const struct sylk_host *host;

#ifdef ABI_CHECK_1_7
static void resolved(sylk_resolve *query, int status, const struct sylk_resolved_address *a,
                     size_t count, void *user_data)
{
    char reason[96] = "Not Resolved";
    (void)query;
    if (status == 0 && count == 1)
        snprintf(reason, sizeof(reason), "Resolved %s:%u", a[0].address, (unsigned)a[0].port);
    host->message_respond(user_data, status == 0 ? 200 : 500, reason);
}

/* The seven members 1.7 appended, as SYLK_HOST_HAS sees them in `h`: "1111111". */
static void has_1_7(const struct sylk_host *h, char out[8])
{
    const bool has[] = {SYLK_HOST_HAS(h, fd_watch_add),    SYLK_HOST_HAS(h, fd_watch_update),
                        SYLK_HOST_HAS(h, fd_watch_remove), SYLK_HOST_HAS(h, resolve),
                        SYLK_HOST_HAS(h, resolve_cancel),  SYLK_HOST_HAS(h, subscribe),
                        SYLK_HOST_HAS(h, unsubscribe)};
    for (size_t i = 0; i < 7; i++)
        out[i] = has[i] ? '1' : '0';
    out[7] = '\0';
}

static void check_host_has(const struct sylk_host *h)
{
    struct sylk_host older;
    memset(&older, 0, sizeof(older));
    memcpy(&older, h, h->struct_size < sizeof(older) ? h->struct_size : sizeof(older));
    older.struct_size = offsetof(struct sylk_host, spool_dir) + sizeof(older.spool_dir);
    char now[8], before[8];
    has_1_7(h, now);
    has_1_7(&older, before);
    h->log(ABI_NAME, SYLK_LOG_INFO,
           "SYLK_HOST_HAS 1.7 members: %s; in a 1.6 table: %s (spool_dir %d)", now, before,
           SYLK_HOST_HAS(&older, spool_dir));
}
#endif

#ifdef ABI_CHECK_1_8
/* The nine members 1.8 appended, as SYLK_HOST_HAS sees them in `h`: "111111111". */
static void has_1_8(const struct sylk_host *h, char out[10])
{
    const bool has[] = {SYLK_HOST_HAS(h, chat_send_nickname),
                        SYLK_HOST_HAS(h, refer),
                        SYLK_HOST_HAS(h, refer_cancel),
                        SYLK_HOST_HAS(h, media_endpoint_new),
                        SYLK_HOST_HAS(h, media_endpoint_answer),
                        SYLK_HOST_HAS(h, media_endpoint_offer),
                        SYLK_HOST_HAS(h, media_endpoint_set_answer),
                        SYLK_HOST_HAS(h, media_endpoint_stream),
                        SYLK_HOST_HAS(h, media_endpoint_free)};
    for (size_t i = 0; i < 9; i++)
        out[i] = has[i] ? '1' : '0';
    out[9] = '\0';
}

static void check_host_has(const struct sylk_host *h)
{
    struct sylk_host older;
    memset(&older, 0, sizeof(older));
    memcpy(&older, h, h->struct_size < sizeof(older) ? h->struct_size : sizeof(older));
    older.struct_size = offsetof(struct sylk_host, unsubscribe) + sizeof(older.unsubscribe);
    char now[10], before[10];
    has_1_8(h, now);
    has_1_8(&older, before);
    h->log(ABI_NAME, SYLK_LOG_INFO,
           "SYLK_HOST_HAS 1.8 members: %s; in a 1.7 table: %s (unsubscribe %d)", now, before,
           SYLK_HOST_HAS(&older, unsubscribe));
}

/* Bad arguments only: the functions are reached through the table and answer as documented. */
static void answer_1_8(sylk_message *message)
{
    struct sylk_refer_params p = {.struct_size = sizeof(p), .from = "sip:a@example.com"};
    char reason[96];
    const char *sdp = NULL;
    host->media_endpoint_free(NULL);
    snprintf(reason, sizeof(reason), "nickname %d refer %s endpoint %d %d %s",
             host->chat_send_nickname(NULL, "nick", NULL), host->refer(&p) ? "handle" : "null",
             host->media_endpoint_answer(NULL, "v=0", &sdp), host->media_endpoint_offer(NULL, &sdp),
             host->media_endpoint_stream(NULL) ? "stream" : "null");
    host->message_respond(message, 200, reason);
}
#endif

#ifdef ABI_CHECK_1_9
/* The three members 1.9 appended, as SYLK_HOST_HAS sees them in `h`: "111". */
static void has_1_9(const struct sylk_host *h, char out[4])
{
    const bool has[] = {SYLK_HOST_HAS(h, metrics_collector_add),
                        SYLK_HOST_HAS(h, metrics_collector_remove), SYLK_HOST_HAS(h, metric_write)};
    for (size_t i = 0; i < 3; i++)
        out[i] = has[i] ? '1' : '0';
    out[3] = '\0';
}

static void check_host_has(const struct sylk_host *h)
{
    struct sylk_host older;
    memset(&older, 0, sizeof(older));
    memcpy(&older, h, h->struct_size < sizeof(older) ? h->struct_size : sizeof(older));
    older.struct_size = offsetof(struct sylk_host, media_endpoint_ice_connect) +
                        sizeof(older.media_endpoint_ice_connect);
    char now[4], before[4];
    has_1_9(h, now);
    has_1_9(&older, before);
    h->log(ABI_NAME, SYLK_LOG_INFO,
           "SYLK_HOST_HAS 1.9 members: %s; in a 1.8 table: %s (media_endpoint_ice_connect %d)", now,
           before, SYLK_HOST_HAS(&older, media_endpoint_ice_connect));
}

static unsigned scrapes;

static void collect(sylk_metric_writer *w, void *user_data)
{
    static const char *const labels[] = {"note", "quote\" back\\slash", NULL};
    (void)user_data;
    scrapes++;
    host->metric_write(w, "checks_total", "Scrapes the 1.9 test plugin saw", SYLK_METRIC_COUNTER,
                       labels, scrapes);
    if (scrapes == 1)
        host->log(ABI_NAME, SYLK_LOG_INFO, "metric_write refusals: %d %d %d",
                  host->metric_write(w, "bad-name", "x", SYLK_METRIC_GAUGE, NULL, 1),
                  host->metric_write(w, "no_suffix", "x", SYLK_METRIC_COUNTER, NULL, 1),
                  host->metric_write(w, "checks_total", "Scrapes the 1.9 test plugin saw",
                                     SYLK_METRIC_COUNTER, labels, scrapes));
}
#endif

static void abi_message(sylk_message *message)
{
    const struct sylk_request_info *req = host->message_request(message);
    if (req == NULL || req->struct_size < REQUEST_INFO_SIZE_1_0 || req->method == NULL ||
        strcmp(req->method, "MESSAGE") != 0) {
        host->message_respond(message, 500, "Request info smaller than ABI 1.0");
        return;
    }
#ifdef ABI_CHECK_1_7
    if (!host->resolve(NULL, NULL, "192.0.2.1", 5269, resolved, message))
        host->message_respond(message, 500, "resolve refused");
    return;
#endif
#ifdef ABI_CHECK_1_8
    answer_1_8(message);
    return;
#endif
#ifdef ABI_CHECK_1_9
    host->message_respond(message, 200,
                          host->metrics_collector_add(NULL, NULL) ? "collector handle"
                                                                  : "collector null");
    return;
#endif
    host->message_respond(message, 200, "OK");
}

static void abi_session(sylk_session *session)
{
    host->session_reject(session, 603, "Decline (" ABI_NAME ")");
}

#ifdef ABI_INIT_FAILS
static void collect_after_failure(sylk_metric_writer *w, void *user_data)
{
    (void)user_data;
    host->metric_write(w, "after_failure", "a sample no scrape may show", SYLK_METRIC_GAUGE, NULL,
                       1);
}
#endif

static int abi_init(const struct sylk_host *h, sylk_config *config)
{
    (void)config;
    host = h;
    if (h->abi_major != SYLK_ABI_MAJOR || h->struct_size < HOST_SIZE_1_0) {
        h->log(ABI_NAME, SYLK_LOG_ERROR, "host table ABI %u.%u size %u too small",
               (unsigned)h->abi_major, (unsigned)h->abi_minor, (unsigned)h->struct_size);
        return -EPROTO;
    }
#ifdef ABI_INIT_FAILS
    /* A collector registered before failing: the server must drop it with the plugin. */
    if (SYLK_HOST_HAS(h, metrics_collector_add))
        h->metrics_collector_add(collect_after_failure, NULL);
    h->log(ABI_NAME, SYLK_LOG_WARNING, "refusing to start (test plugin)");
    return -EINVAL;
#else
    h->log(ABI_NAME, SYLK_LOG_INFO, "running on host ABI %u.%u", (unsigned)h->abi_major,
           (unsigned)h->abi_minor);
#if defined(ABI_CHECK_1_7) || defined(ABI_CHECK_1_8) || defined(ABI_CHECK_1_9)
    check_host_has(h);
#endif
#ifdef ABI_CHECK_1_9
    if (!h->metrics_collector_add(collect, NULL))
        return -EINVAL;
#endif
    return 0;
#endif
}

static const struct sylk_plugin abi_plugin =
    SYLK_PLUGIN_INIT(.name = ABI_NAME, .version = "0.1", .description = "ABI loader test plugin",
                     .init = abi_init, .incoming_session = abi_session,
                     .incoming_sip_message = abi_message);

#if defined(ABI_MAJOR_OVERRIDE) || defined(ABI_MINOR_OVERRIDE) || defined(ABI_SMALL_STRUCT)
/* The entry returns a patched copy so the rest of the table stays valid. */
static struct sylk_plugin patched;

static const struct sylk_plugin *entry(void)
{
    patched = abi_plugin;
#ifdef ABI_MAJOR_OVERRIDE
    patched.abi_major = ABI_MAJOR_OVERRIDE;
#endif
#ifdef ABI_MINOR_OVERRIDE
    patched.abi_minor = ABI_MINOR_OVERRIDE;
#endif
#ifdef ABI_SMALL_STRUCT
    patched.struct_size = offsetof(struct sylk_plugin, init);
#endif
    return &patched;
}
#else
static const struct sylk_plugin *entry(void)
{
    return &abi_plugin;
}
#endif

#ifdef ABI_NO_ENTRY
/* Defined but hidden: dlsym must not find it, like a plugin that forgot SYLK_PLUGIN_EXPORT. */
const struct sylk_plugin *sylk_plugin_entry(void)
{
    return entry();
}
#else
SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void)
{
    return entry();
}
#endif
