/*
 * resolve.h — where to connect to a service, without blocking (SDK 1.7 resolve and
 * resolve_cancel): the SRV records of _service._protocol.domain in RFC 2782 order, then each
 * target's A and AAAA addresses; without SRV records, the domain's own addresses with a
 * fallback port. Lookups run in GLib's GResolver threads; every answer, and the one callback
 * to the caller, comes on the main context. The whole resolution is bounded in time.
 *
 * Main thread. Each resolution is owned by the resolver set until its callback returned or it
 * was cancelled; whatever plugins leave pending is cancelled, with a log line, when the
 * server stops (sylk_resolver_clear).
 */
#ifndef SYLK_RESOLVE_H
#define SYLK_RESOLVE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <sylk/host.h>

struct sylk_plugin_registry;

/** The bound on one resolution, every lookup included: then -ETIMEDOUT (or what was found). */
#define SYLK_RESOLVE_TIMEOUT_MS 10000

/** The resolutions under way. */
struct sylk_resolver {
    GList *live;         /* struct sylk_resolve * */
    unsigned timeout_ms; /* 0: SYLK_RESOLVE_TIMEOUT_MS */
};

/**
 * Starts a resolution (see sylk_host.resolve). `service` and `protocol` may carry their
 * leading underscore or not; `fallback_port` 0 with a service means no fallback (-ENOENT
 * without SRV records). NULL for a bad argument (no domain or callback, a protocol missing
 * with a service, no port at all).
 */
sylk_resolve *sylk_resolve_start(struct sylk_resolver *resolver, const char *service,
                                 const char *protocol, const char *domain, uint16_t fallback_port,
                                 sylk_resolve_fn fn, void *user_data);

/** Cancels a resolution whose callback has not run: it never will. NULL is ignored. */
void sylk_resolve_cancel(sylk_resolve *query);

/**
 * Cancels every resolution still pending, logging each with the plugin its callback belongs
 * to (`plugins` may be NULL); returns how many there were. At server stop.
 */
unsigned sylk_resolver_clear(struct sylk_resolver *resolver,
                             const struct sylk_plugin_registry *plugins);

/* --- RFC 2782 ordering (pure; exported for unit tests) --- */

struct sylk_srv_record {
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
    const char *target; /* "." (or "") means "no service here" */
};

/** A uniform random integer in [0, max]: g_random_int_range in the server, scripted in tests. */
typedef unsigned (*sylk_srv_random_fn)(unsigned max, void *user_data);

/**
 * Puts `records` in the order to try them (RFC 2782): lowest priority first; within one
 * priority, weighted at random (the weight-0 records first in the running sums, so they are
 * rarely first). Records whose target is "." are dropped. Returns how many remain at the
 * front of the array: 0 when the service is decidedly not available.
 */
size_t sylk_srv_order(struct sylk_srv_record *records, size_t count, sylk_srv_random_fn random,
                      void *user_data);

#endif
