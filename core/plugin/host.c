/*
 * host.c — the host function table: thin adapters from the SDK's opaque handles to the core
 * modules that own them. New functions are appended at the end of struct sylk_host only.
 */
#define G_LOG_DOMAIN "sylk-host"
#include "plugin/host.h"

#include "config.h"
#include "http/web.h"
#include "media/mixer.h"
#include "media/player.h"
#include "net/resolve.h"
#include "plugin/fdwatch.h"
#include "server.h"
#include "sip/endpoint.h"
#include "sip/message.h"
#include "sip/referral.h"
#include "sip/referrer.h"
#include "sip/request.h"
#include "sip/session.h"
#include "sip/subscriber.h"
#include "sip/subscription.h"
#include "sylk-build-config.h"

#include <glib.h>
#include <string.h>

static void host_logv(const char *domain, enum sylk_log_level level, const char *format, va_list ap)
{
    static const GLogLevelFlags map[] = {G_LOG_LEVEL_CRITICAL, G_LOG_LEVEL_WARNING,
                                         G_LOG_LEVEL_INFO, G_LOG_LEVEL_DEBUG};
    GLogLevelFlags l = (unsigned)level < G_N_ELEMENTS(map) ? map[level] : G_LOG_LEVEL_DEBUG;
    struct sylk_server *server = sylk_server_get();
    if (server && !sylk_log_would_write(&server->log, l))
        return; /* a gateway logs per message at debug level: not formatted unless written */
    g_autofree char *d = g_strdup_printf("plugin-%s", domain ? domain : "?");
    g_logv(d, l, format, ap);
}

static void host_log(const char *domain, enum sylk_log_level level, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    host_logv(domain, level, format, ap);
    va_end(ap);
}

static sylk_timer *timer_add(unsigned interval_ms, bool repeat, sylk_timer_fn fn, void *ud)
{
    return sylk_timers_add(&sylk_server_get()->timers, interval_ms, repeat, fn, ud);
}

static void timer_cancel(sylk_timer *t)
{
    sylk_timers_cancel(&sylk_server_get()->timers, t);
}

static const char *config_get_string(sylk_config *c, const char *s, const char *k, const char *f)
{
    return sylk_plugin_config_get_string((struct sylk_config *)c, s, k, f);
}

/* ------------------------------------------------------- mixers and prompts --- */

static sylk_mixer *mixer_new(unsigned max_speakers)
{
    return (sylk_mixer *)sylk_mixer_new(sylk_server_get()->media, max_speakers);
}

static void mixer_free(sylk_mixer *m)
{
    sylk_mixer_free((struct sylk_mixer *)m);
}

/* The operations on one participant share their argument checks. */
enum member_op { OP_ADD, OP_REMOVE, OP_MUTE, OP_HOLD };

static int member_op(sylk_mixer *m, sylk_stream *st, enum member_op op, bool flag)
{
    struct sylk_rtp_socket *rtp;
    if (!m)
        return -EINVAL;
    int rc = sylk_stream_rtp(st, &rtp);
    if (rc < 0)
        return rc;
    struct sylk_mixer *mixer = (struct sylk_mixer *)m;
    switch (op) {
    case OP_ADD:
        return sylk_mixer_add(mixer, rtp);
    case OP_REMOVE:
        return sylk_mixer_remove(mixer, rtp);
    case OP_MUTE:
        return sylk_mixer_mute(mixer, rtp, flag);
    case OP_HOLD:
        return sylk_mixer_hold(mixer, rtp, flag);
    }
    return -EINVAL;
}

static int mixer_add(sylk_mixer *m, sylk_stream *st)
{
    return member_op(m, st, OP_ADD, false);
}

static int mixer_remove(sylk_mixer *m, sylk_stream *st)
{
    return member_op(m, st, OP_REMOVE, false);
}

static int mixer_mute(sylk_mixer *m, sylk_stream *st, bool muted)
{
    return member_op(m, st, OP_MUTE, muted);
}

static int mixer_hold(sylk_mixer *m, sylk_stream *st, bool held)
{
    return member_op(m, st, OP_HOLD, held);
}

static size_t mixer_count(sylk_mixer *m)
{
    return m ? sylk_mixer_count((struct sylk_mixer *)m) : 0;
}

/* Hands a prompt to one stream or to a mixer (exactly one of them). */
static int play(sylk_stream *st, sylk_mixer *m, struct sylk_player *player, sylk_play_done_fn done,
                void *user_data)
{
    if (m)
        return sylk_mixer_play((struct sylk_mixer *)m, player, done, user_data);
    struct sylk_rtp_socket *rtp;
    int rc = sylk_stream_rtp(st, &rtp);
    if (rc < 0) {
        sylk_player_free(player);
        return rc;
    }
    return sylk_rtp_play(rtp, player, done, user_data);
}

static int play_file(sylk_stream *st, sylk_mixer *m, const char *path, sylk_play_done_fn done,
                     void *user_data)
{
    if (!st == !m || !path)
        return -EINVAL;
    struct sylk_player *player;
    g_autofree char *error = NULL;
    int rc = sylk_player_new_wav(path, &player, &error);
    if (rc < 0) {
        g_warning("play_file %s: %s", path, error);
        return rc;
    }
    return play(st, m, player, done, user_data);
}

static int play_tone(sylk_stream *st, sylk_mixer *m, unsigned freq_hz, unsigned duration_ms,
                     sylk_play_done_fn done, void *user_data)
{
    if (!st == !m)
        return -EINVAL;
    struct sylk_player *player = sylk_player_new_tone(freq_hz, duration_ms);
    if (!player)
        return -EINVAL;
    return play(st, m, player, done, user_data);
}

static int play_stop(sylk_stream *st, sylk_mixer *m)
{
    if (!st == !m)
        return -EINVAL;
    if (m) {
        sylk_mixer_stop_prompts((struct sylk_mixer *)m);
        return 0;
    }
    struct sylk_rtp_socket *rtp;
    if (sylk_stream_rtp(st, &rtp) < 0)
        return 0; /* nothing plays on a stream without RTP */
    sylk_rtp_stop_prompts(rtp);
    return 0;
}

/* ------------------------------------------------------------------ web items --- */

/* NULL when [web] port = 0: plugins then publish no screen URL. */
static sylk_web_item *web_item_new(const char *title)
{
    return sylk_web_item_new(sylk_server_get()->web, title);
}

static const char *spool_dir(void)
{
    return sylk_server_get()->config.spool_dir;
}

/* ------------------------------------------ sockets and names (main loop) --- */

static sylk_fd_watch *fd_watch_add(int fd, unsigned events, sylk_fd_fn fn, void *user_data)
{
    return sylk_fd_watch_add(&sylk_server_get()->fd_watches, fd, events, fn, user_data);
}

static sylk_resolve *resolve(const char *service, const char *protocol, const char *domain,
                             uint16_t fallback_port, sylk_resolve_fn fn, void *user_data)
{
    return sylk_resolve_start(&sylk_server_get()->resolver, service, protocol, domain,
                              fallback_port, fn, user_data);
}

/* ------------------------------------------------------------------- metrics --- */

/* The collector is named after the plugin whose code `fn` is. */
static sylk_metrics_collector *metrics_collector_add(sylk_metrics_fn fn, void *user_data)
{
    struct sylk_server *server = sylk_server_get();
    const char *owner = fn ? sylk_plugins_owner(&server->plugins, (const void *)fn) : NULL;
    if (!owner) {
        g_warning("metrics_collector_add: %s", fn ? "not a plugin's function" : "no function");
        return NULL;
    }
    return (sylk_metrics_collector *)sylk_metrics_collector_add(&server->metrics, owner, fn,
                                                                user_data);
}

static void metrics_collector_remove(sylk_metrics_collector *c)
{
    sylk_metrics_collector_remove((struct sylk_metrics_collector *)c);
}

void sylk_host_fill(struct sylk_host *h)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->abi_major = SYLK_ABI_MAJOR;
    h->abi_minor = SYLK_ABI_MINOR;
    h->server_version = SYLK_VERSION;
    h->log = host_log;
    h->logv = host_logv;
    h->config_get_string = config_get_string;
    h->config_get_int = sylk_plugin_config_get_int;
    h->config_get_bool = sylk_plugin_config_get_bool;
    h->config_get_list = sylk_plugin_config_get_list;
    h->config_sections = sylk_plugin_config_sections;
    h->timer_add = timer_add;
    h->timer_cancel = timer_cancel;
    h->request_header = sylk_request_header;
    h->session_request = sylk_session_request;
    h->session_set_handler = sylk_session_set_handler;
    h->session_user_data = sylk_session_user_data;
    h->session_stream_count = sylk_session_stream_count;
    h->session_stream = sylk_session_stream;
    h->session_ring = sylk_session_ring;
    h->session_accept = sylk_session_accept;
    h->session_reject = sylk_session_reject;
    h->session_terminate = sylk_session_terminate;
    h->session_connect = sylk_session_connect;
    h->stream_type = sylk_stream_type;
    h->stream_direction = sylk_stream_direction;
    h->stream_session = sylk_stream_session;
    h->stream_codec = sylk_stream_codec;
    h->audio_loopback = sylk_stream_audio_loopback;
    h->message_request = sylk_message_request;
    h->message_respond = sylk_message_respond;
    h->message_send = sylk_message_send;
    h->subscription_request = sylk_subscription_request;
    h->subscription_event = sylk_subscription_event;
    h->subscription_set_handler = sylk_subscription_set_handler;
    h->subscription_accept = sylk_subscription_accept;
    h->subscription_reject = sylk_subscription_reject;
    h->subscription_notify = sylk_subscription_notify;
    h->subscription_terminate = sylk_subscription_terminate;
    h->referral_request = sylk_referral_request;
    h->referral_refer_to = sylk_referral_refer_to;
    h->referral_refer_method = sylk_referral_refer_method;
    h->referral_session = sylk_referral_session;
    h->referral_accept = sylk_referral_accept;
    h->referral_reject = sylk_referral_reject;
    h->referral_notify = sylk_referral_notify;
    h->mixer_new = mixer_new;
    h->mixer_free = mixer_free;
    h->mixer_add = mixer_add;
    h->mixer_remove = mixer_remove;
    h->mixer_mute = mixer_mute;
    h->mixer_hold = mixer_hold;
    h->mixer_count = mixer_count;
    h->play_file = play_file;
    h->play_tone = play_tone;
    h->chat_set_handler = sylk_stream_chat_set_handler;
    h->chat_send = sylk_stream_chat_send;
    h->chat_refuse = sylk_stream_chat_refuse;
    h->chat_send_composing = sylk_stream_chat_send_composing;
    h->stream_file_info = sylk_stream_file_info;
    h->file_receive = sylk_stream_file_receive;
    h->file_send = sylk_stream_file_send;
    h->stream_enabled = sylk_stream_enabled;
    h->stream_remote_attribute = sylk_stream_remote_attribute;
    h->stream_set_local_attribute = sylk_stream_set_local_attribute;
    h->session_set_focus = sylk_session_set_focus;
    h->play_stop = play_stop;
    h->web_item_new = web_item_new;
    h->web_item_set = sylk_web_item_set;
    h->web_item_url = sylk_web_item_url;
    h->web_item_image_url = sylk_web_item_image_url;
    h->web_item_free = sylk_web_item_free;
    h->spool_dir = spool_dir;
    h->fd_watch_add = fd_watch_add;
    h->fd_watch_update = sylk_fd_watch_update;
    h->fd_watch_remove = sylk_fd_watch_remove;
    h->resolve = resolve;
    h->resolve_cancel = sylk_resolve_cancel;
    h->subscribe = sylk_subscriber_subscribe;
    h->unsubscribe = sylk_subscriber_unsubscribe;
    h->chat_send_nickname = sylk_stream_chat_send_nickname;
    h->refer = sylk_referrer_refer;
    h->refer_cancel = sylk_referrer_cancel;
    h->media_endpoint_new = sylk_endpoint_new;
    h->media_endpoint_answer = sylk_endpoint_answer;
    h->media_endpoint_offer = sylk_endpoint_offer;
    h->media_endpoint_set_answer = sylk_endpoint_set_answer;
    h->media_endpoint_stream = sylk_endpoint_stream;
    h->media_endpoint_free = sylk_endpoint_free;
    h->media_endpoint_set_ice = sylk_endpoint_set_ice;
    h->media_endpoint_ice_connect = sylk_endpoint_ice_connect;
    h->metrics_collector_add = metrics_collector_add;
    h->metrics_collector_remove = metrics_collector_remove;
    h->metric_write = sylk_metrics_write;
}
