/*
 * sylk/plugin.h — what a plugin exports: one const `struct sylk_plugin` returned by
 * `sylk_plugin_entry()`, the only symbol a plugin makes visible.
 *
 *     static const struct sylk_plugin plugin = SYLK_PLUGIN_INIT(
 *         .name = "hello", .version = "1.0", .description = "says hello",
 *         .init = hello_init, .incoming_sip_message = hello_message);
 *     SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void) { return &plugin; }
 *
 * Compatibility: the server loads a plugin when its abi_major equals the server's and its
 * abi_minor is not newer than the server's. New fields are only ever appended to the structs of
 * this SDK (minor bump); the server reads `struct_size` so an older plugin's missing fields are
 * NULL. Every callback runs on the server's main thread and must not block.
 */
#ifndef SYLK_PLUGIN_H
#define SYLK_PLUGIN_H

#include <sylk/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The ABI this header describes.
 *   1.0  the first stable ABI.
 *   1.1  appended to struct sylk_host: mixer_new … mixer_count, play_file, play_tone.
 *   1.2  appended to struct sylk_host: chat_set_handler, chat_send (MSRP chat streams);
 *        to struct sylk_session_handler: stream_added (streams a re-INVITE adds).
 *   1.3  appended to struct sylk_host: chat_refuse, chat_send_composing, stream_file_info,
 *        file_receive, file_send; to struct sylk_chat_handler: composing, nickname, sent; to
 *        struct sylk_chat_message: message_id, cpim_headers; to struct sylk_chat_send_params:
 *        token; to struct sylk_session_params: files, file_count (chat and file offers).
 *   1.4  appended to struct sylk_host: stream_enabled, stream_remote_attribute,
 *        stream_set_local_attribute; to struct sylk_session_handler: updated.
 *   1.5  appended to struct sylk_host: session_set_focus, play_stop; to struct
 *        sylk_session_params: focus.
 *   1.6  appended to struct sylk_host: web_item_new, web_item_set, web_item_url,
 *        web_item_image_url, web_item_free (images served by the core's web server),
 *        spool_dir.
 *   1.7  appended to struct sylk_subscription_handler: refreshed (every NOTIFY is the
 *        plugin's: a refresh or an un-SUBSCRIBE asks it for the current state); to struct
 *        sylk_host: fd_watch_add, fd_watch_update, fd_watch_remove (a protocol plugin's
 *        sockets on the main loop), resolve, resolve_cancel (SRV and A/AAAA without
 *        blocking), subscribe, unsubscribe (SUBSCRIBE as the subscriber); to struct
 *        sylk_config_option: validate (a plugin's own check of a value, reported with
 *        file:line).
 *   1.8  appended to struct sylk_host: chat_send_nickname (MSRP NICKNAME, RFC 7701), refer,
 *        refer_cancel (REFER as the referrer, RFC 3515), media_endpoint_new,
 *        media_endpoint_answer, media_endpoint_offer, media_endpoint_set_answer,
 *        media_endpoint_stream, media_endpoint_free (an RTP audio leg without a SIP
 *        session), media_endpoint_set_ice and media_endpoint_ice_connect (ICE on it:
 *        answering checks, and checking as the controlling agent); to struct
 *        sylk_chat_handler: nickname_result; to struct sylk_session_params: chatroom
 *        (a=chatroom in the offer).
 *   1.9  appended to struct sylk_host: metrics_collector_add, metrics_collector_remove,
 *        metric_write (a plugin's samples in the server's Prometheus /metrics); to
 *        sylk/types.h: sylk_metrics_collector, sylk_metric_writer, enum sylk_metric_type.
 */
#define SYLK_ABI_MAJOR 1
#define SYLK_ABI_MINOR 9

/** The name of the one symbol a plugin exports. */
#define SYLK_PLUGIN_ENTRY_SYMBOL "sylk_plugin_entry"

#if defined(__GNUC__)
#define SYLK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SYLK_PLUGIN_EXPORT
#endif

struct sylk_host;

/** Types of a plugin configuration option, used to validate `<plugin>.ini`. */
enum sylk_option_type {
    SYLK_OPTION_STRING = 0,
    SYLK_OPTION_INT = 1,
    SYLK_OPTION_BOOL = 2,
    SYLK_OPTION_LIST = 3, /* comma-separated strings */
};

/**
 * One key a plugin accepts in its configuration file. `section` NULL matches any section the
 * plugin does not name elsewhere (e.g. per-room `[room@domain]` sections). A plugin that gives
 * an option table gets unknown keys and bad values reported as errors by the server
 * (including --check-config); a plugin without one gets no validation.
 *
 * The table is an array ended by an entry whose key is NULL; the server steps through it by
 * each entry's struct_size, so fields can be appended. Write entries with SYLK_OPTION(...).
 */
struct sylk_config_option {
    uint32_t struct_size; /* sizeof(struct sylk_config_option) */
    const char *section;
    const char *key;
    enum sylk_option_type type;
    long min, max; /* for SYLK_OPTION_INT; ignored when min == max == 0 */
    const char *description;
    /* --- 1.7 --- */
    /**
     * Checks a value beyond its type (one of a few words, an address, a list of routes), when
     * the server loads the file (--check-config too) and after the type check passed: 0, or a
     * negative errno with the reason written into `why` (at most why_size bytes with its NUL),
     * which the server reports with the file and line. NULL: no check.
     */
    int (*validate)(const char *value, char *why, size_t why_size);
};

/**
 * A plugin. Constant data: the server copies it at load time.
 *
 * Callbacks left NULL mean "not handled": the server answers 405 for a method whose callback is
 * NULL, and 489 for a SUBSCRIBE whose Event is not in `events`.
 */
struct sylk_plugin {
    uint16_t abi_major;   /* SYLK_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;   /* SYLK_ABI_MINOR the plugin was built with */
    uint32_t struct_size; /* sizeof(struct sylk_plugin) the plugin was built with */

    const char *name;        /* application name used in routing, e.g. "conference" */
    const char *version;     /* the plugin's own version string */
    const char *description; /* one line for logs and --version */

    /** NULL-terminated list of SUBSCRIBE event packages handled (e.g. "conference"), or NULL. */
    const char *const *events;
    /** Options accepted in `<name>.ini`, terminated by an entry with key NULL; or NULL. */
    const struct sylk_config_option *config_options;

    /**
     * Called once after loading. `host` stays valid until shutdown returns; `config` is the
     * plugin's configuration (empty when there is no `<name>.ini`). Return 0, or a negative
     * errno to be unloaded (log why through host->log first).
     */
    int (*init)(const struct sylk_host *host, sylk_config *config);
    /** Called once before unloading, after all the plugin's handles have ended. */
    void (*shutdown)(void);

    /**
     * A new INVITE routed to this plugin. The plugin must eventually call one of
     * session_accept / session_reject (optionally session_ring first). A session not answered
     * within 32 s is rejected with 408 by the server.
     */
    void (*incoming_session)(sylk_session *session);
    /**
     * A REFER routed to this plugin (or received in one of its sessions): answer with
     * referral_accept or referral_reject. Note that sofia-sip sends the referrer a first
     * NOTIFY (Subscription-State: pending) as soon as a REFER arrives.
     */
    void (*incoming_referral)(sylk_referral *referral);
    /** A SUBSCRIBE for one of `events`: answer with subscription_accept or _reject. */
    void (*incoming_subscription)(sylk_subscription *subscription);
    /** An out-of-dialog MESSAGE: answer exactly once with message_respond. */
    void (*incoming_sip_message)(sylk_message *message);
};

/** One entry of a config_options table; SYLK_OPTION_END ends the table. */
#define SYLK_OPTION(...)                                                                           \
    {                                                                                              \
        .struct_size = sizeof(struct sylk_config_option), __VA_ARGS__                              \
    }
#define SYLK_OPTION_END SYLK_OPTION(.key = NULL)

/** Designated-initializer helper that fills the ABI version fields. */
#define SYLK_PLUGIN_INIT(...)                                                                      \
    {                                                                                              \
        .abi_major = SYLK_ABI_MAJOR, .abi_minor = SYLK_ABI_MINOR,                                  \
        .struct_size = sizeof(struct sylk_plugin), __VA_ARGS__                                     \
    }

/** The entry point every plugin defines (and exports with SYLK_PLUGIN_EXPORT). */
typedef const struct sylk_plugin *(*sylk_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* SYLK_PLUGIN_H */
