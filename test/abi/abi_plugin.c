/*
 * abi_plugin — one tiny plugin source compiled several ways to check the server's loader
 * (test/integration/test_abi.py). Each variant is one -D macro set in meson.build:
 *
 *   ABI_NAME="…"            the plugin's name (required)
 *   ABI_MAJOR_OVERRIDE=N    claim ABI major N instead of SYLK_ABI_MAJOR        → refused
 *   ABI_MINOR_OVERRIDE=N    claim ABI minor N instead of SYLK_ABI_MINOR        → refused if newer
 *   ABI_SMALL_STRUCT        claim a struct_size that ends before the callbacks     → refused
 *   ABI_INIT_FAILS          init returns -EINVAL                               → unloaded
 *   ABI_NO_ENTRY            sylk_plugin_entry is not exported                  → refused
 *
 * Built against the frozen 1.0 headers (test/abi/sdk-1.0) with no override, it is the
 * compatibility check: a plugin compiled for ABI 1.0 must keep loading and working in every
 * later 1.x server. It answers a MESSAGE with 200 only when the host table and the request
 * info it is handed are at least as large as in 1.0 (else 500), and refuses INVITEs with 603.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <sylk/sylk.h>

#ifndef ABI_NAME
#error "ABI_NAME must be defined"
#endif

/* Sizes as this plugin was compiled: with sdk-1.0 these are the 1.0 sizes. */
#define HOST_SIZE_1_0         (offsetof(struct sylk_host, referral_notify) + sizeof(void *))
#define REQUEST_INFO_SIZE_1_0 (offsetof(struct sylk_request_info, body_len) + sizeof(size_t))

static const struct sylk_host *host;

static void abi_message(sylk_message *message)
{
    const struct sylk_request_info *req = host->message_request(message);
    if (req == NULL || req->struct_size < REQUEST_INFO_SIZE_1_0 || req->method == NULL ||
        strcmp(req->method, "MESSAGE") != 0) {
        host->message_respond(message, 500, "Request info smaller than ABI 1.0");
        return;
    }
    host->message_respond(message, 200, "OK");
}

static void abi_session(sylk_session *session)
{
    host->session_reject(session, 603, "Decline (" ABI_NAME ")");
}

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
    h->log(ABI_NAME, SYLK_LOG_WARNING, "refusing to start (test plugin)");
    return -EINVAL;
#else
    h->log(ABI_NAME, SYLK_LOG_INFO, "running on host ABI %u.%u", (unsigned)h->abi_major,
           (unsigned)h->abi_minor);
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
