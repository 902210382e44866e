/*
 * probe — a test plugin that drives the host functions echo does not use, so integration
 * tests can check them from real SIP clients:
 *
 *   SUBSCRIBE (Event: conference) to sip:probe@…   → accepted, NOTIFY "state 1" at once,
 *       NOTIFY "state 2" 200 ms later; to sip:probe-end@… the subscription is then terminated
 *       by the server (reason noresource); to sip:reject@… → 403.
 *   REFER to sip:probe@… with Refer-To: <sip:target@…> → 202, an INVITE with audio to the
 *       target (session_connect), referral NOTIFYs "100 Trying", then the final status of that
 *       INVITE; the established call is ended with BYE after 200 ms.
 *   MESSAGE → 202, handled after 100 ms (a deferred response), also inside a call.
 *   INVITE with audio → answered, audio looped back (a call to send in-dialog requests in);
 *       DTMF digits received (RFC 4733) are logged as "dtmf D N ms".
 *   INVITE to sip:mix-NAME@… → joins mixer NAME (made by the first, freed after the last);
 *       mixmuted-NAME joins muted, mixheld-NAME on hold, mixtone-NAME joins and plays a
 *       1500 Hz tone of 2 s to the whole mixer.
 *   INVITE to sip:prompt@… → answered; hears a 1000 Hz tone of 1 s then, when the INVITE
 *       has X-Play-File: PATH, that WAV file; each end is logged ("prompt done …").
 *
 *   INVITE to sip:chatprobe@… with chat → answered; each message is logged with its id, type,
 *       CPIM headers and body ("chat message …"); a body "refuse-me" is refused with 403;
 *       is-composing is logged ("composing active=1 refresh=N") and answered with an idle one;
 *       NICKNAME "taken" gets 425, others 200 ("nickname NAME").
 *   INVITE to sip:filesink@… with a pushed file (a=sendonly) and X-Save-To: PATH → answered,
 *       the file received into PATH; logged "file info NAME SIZE HASH" and "file done STATUS
 *       HASH SIZE", with "file progress" lines.
 *   INVITE to sip:filesource@… asking for a file (a=recvonly) with X-Send-File: PATH →
 *       answered and that file sent; "file done STATUS …" when the peer took every chunk.
 *   MESSAGE with X-Probe: dial-chat TARGET → an INVITE with chat to TARGET (the server
 *       connects to the answerer's MSRP path) that sends "hello from probe" once established
 *       and logs what comes back; X-Probe: dial-file TARGET PATH offers the file at PATH
 *       (a=sendonly) and sends it once established.
 *   MESSAGE with X-Probe: web-new TITLE → a web item (logged "web item TITLE: URL IMAGE_URL",
 *       or "web item TITLE: none" when the web server is off); X-Probe: web-set TITLE sets its
 *       image from the MESSAGE body and Content-Type ("web set TITLE: RC"); X-Probe: web-free
 *       TITLE frees it ("web free TITLE"). Items left are freed at shutdown.
 *   MESSAGE with X-Probe: echo-listen, resolve …, resolve-cancel …, subscribe …, unsubscribe …
 *       → SDK 1.7: fd watches, name resolution, outgoing subscriptions (probe_net.c).
 *   INVITE to sip:nickprobe@… with chat; MESSAGE with X-Probe: refer …, refer-cancel …
 *       → SDK 1.8: NICKNAMEs sent, REFERs sent (probe_sdk18.c).
 *   MESSAGE with X-Probe: endpoint-…; INVITE to sip:epbridge-TAG@… → SDK 1.8 media endpoints
 *       bridged with a call (probe_endpoint.c).
 *
 * Every step is logged under "plugin-probe" so tests can follow it. Main thread only.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sylk/sylk.h>

#include "probe_endpoint.h"
#include "probe_net.h"
#include "probe_sdk18.h"

static const struct sylk_host *host;

#define LOG(...) host->log("probe", SYLK_LOG_INFO, __VA_ARGS__)

/* ---------------------------------------------------------------- subscriptions --- */

struct probe_sub {
    sylk_subscription *sub;
    sylk_timer *timer;
    bool end_after;
};

static void sub_ended(sylk_subscription *sub, const char *reason, void *user_data)
{
    struct probe_sub *ps = user_data;
    (void)sub;
    LOG("subscription ended: %s", reason);
    if (ps->timer)
        host->timer_cancel(ps->timer);
    g_free(ps);
}

static const struct sylk_subscription_handler sub_handler = {
    .struct_size = sizeof(struct sylk_subscription_handler),
    .ended = sub_ended,
};

static void notify(struct probe_sub *ps, const char *text)
{
    int rc = host->subscription_notify(ps->sub, "text/plain", text, strlen(text));
    LOG("notify %s: %d", text, rc);
}

static void second_notify(sylk_timer *timer, void *user_data)
{
    struct probe_sub *ps = user_data;
    (void)timer;
    ps->timer = NULL;
    notify(ps, "state 2");
    if (ps->end_after)
        LOG("terminate: %d", host->subscription_terminate(ps->sub, "noresource"));
}

static void probe_subscription(sylk_subscription *sub)
{
    const struct sylk_request_info *req = host->subscription_request(sub);
    if (g_str_has_prefix(req->request_uri, "sip:reject@")) {
        LOG("reject: %d", host->subscription_reject(sub, 403, "Probe Says No"));
        return;
    }
    struct probe_sub *ps = g_new0(struct probe_sub, 1);
    ps->sub = sub;
    ps->end_after = g_str_has_prefix(req->request_uri, "sip:probe-end@");
    host->subscription_set_handler(sub, &sub_handler, ps);
    LOG("accept %s: %d", host->subscription_event(sub), host->subscription_accept(sub));
    notify(ps, "state 1");
    ps->timer = host->timer_add(200, false, second_notify, ps);
}

/* ---------------------------------------------------------------- referrals --- */

struct probe_refer {
    sylk_referral *referral; /* NULL once the final NOTIFY went out */
    sylk_session *call;
    sylk_timer *hangup;
};

static void refer_call_progress(sylk_session *s, int status, const char *reason, void *ud)
{
    struct probe_refer *pr = ud;
    (void)s;
    LOG("dial-out progress %d %s", status, reason);
    if (pr->referral)
        host->referral_notify(pr->referral, status, reason);
}

static void hang_up(sylk_timer *timer, void *ud)
{
    struct probe_refer *pr = ud;
    (void)timer;
    pr->hangup = NULL;
    LOG("dial-out hangup: %d", host->session_terminate(pr->call));
}

static void refer_call_established(sylk_session *s, void *ud)
{
    struct probe_refer *pr = ud;
    sylk_stream *st = host->session_stream(s, 0);
    LOG("dial-out established, codec %s", st ? host->stream_codec(st) : "none");
    if (pr->referral) {
        LOG("final notify: %d", host->referral_notify(pr->referral, 200, "OK"));
        pr->referral = NULL;
    }
    pr->hangup = host->timer_add(200, false, hang_up, pr);
}

static void refer_call_ended(sylk_session *s, int status, const char *reason, void *ud)
{
    struct probe_refer *pr = ud;
    (void)s;
    LOG("dial-out ended %d %s", status, reason);
    if (pr->referral)
        LOG("final notify: %d", host->referral_notify(pr->referral, status, reason));
    if (pr->hangup)
        host->timer_cancel(pr->hangup);
    g_free(pr);
}

static const struct sylk_session_handler refer_call_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .progress = refer_call_progress,
    .established = refer_call_established,
    .ended = refer_call_ended,
};

static void probe_referral(sylk_referral *referral)
{
    const struct sylk_request_info *req = host->referral_request(referral);
    const char *target = host->referral_refer_to(referral);
    LOG("refer %s to %s", host->referral_refer_method(referral), target);
    if (strcmp(host->referral_refer_method(referral), "INVITE") != 0) {
        LOG("reject: %d", host->referral_reject(referral, 501, "Only INVITE"));
        return;
    }
    LOG("accept: %d", host->referral_accept(referral));
    LOG("trying: %d", host->referral_notify(referral, 100, "Trying"));
    struct probe_refer *pr = g_new0(struct probe_refer, 1);
    pr->referral = referral;
    enum sylk_media_type audio = SYLK_MEDIA_AUDIO;
    g_autofree char *from = g_strdup_printf("\"Probe\" <%s>", req->to_uri);
    struct sylk_session_params p = {
        .struct_size = sizeof(p),
        .from = from,
        .to = target,
        .media = &audio,
        .media_count = 1,
        .extra_headers = "X-Probe: dial-out\r\n",
        .handler = &refer_call_handler,
        .user_data = pr,
    };
    pr->call = host->session_connect(&p);
    if (!pr->call) {
        LOG("final notify: %d", host->referral_notify(referral, 500, "Cannot Dial"));
        g_free(pr);
    }
}

/* ---------------------------------------------------------------- messages --- */

static void deferred_answer(sylk_timer *timer, void *ud)
{
    (void)timer;
    LOG("deferred respond: %d", host->message_respond(ud, 202, "Accepted Later"));
}

static void dial(const char *how, const char *from);

static GHashTable *web_items; /* title → sylk_web_item */

/* X-Probe: web-new|web-set|web-free TITLE */
static void web_probe(const char *how, const struct sylk_request_info *request)
{
    g_auto(GStrv) words = g_strsplit(how, " ", 2);
    const char *title = words[1] ? words[1] : "";
    sylk_web_item *item = g_hash_table_lookup(web_items, title);
    if (strcmp(words[0], "web-new") == 0) {
        item = host->web_item_new(title);
        if (!item) {
            LOG("web item %s: none", title);
            return;
        }
        g_hash_table_replace(web_items, g_strdup(title), item);
        LOG("web item %s: %s %s", title, host->web_item_url(item), host->web_item_image_url(item));
    } else if (strcmp(words[0], "web-set") == 0) {
        LOG("web set %s: %d", title,
            host->web_item_set(item, request->content_type, request->body, request->body_len));
    } else if (strcmp(words[0], "web-free") == 0) {
        g_hash_table_remove(web_items, title); /* frees the item */
        LOG("web free %s", title);
    }
}

static void probe_message(sylk_message *message)
{
    const char *probe = host->request_header(host->message_request(message), "X-Probe");
    LOG("message with X-Probe %s", probe ? probe : "(none)");
    if (probe && g_str_has_prefix(probe, "dial-"))
        dial(probe, host->message_request(message)->to_uri);
    if (probe && g_str_has_prefix(probe, "web-"))
        web_probe(probe, host->message_request(message));
    if (probe && !probe_net_command(host, probe, host->message_request(message)) &&
        !probe_sdk18_command(host, probe, host->message_request(message)))
        probe_endpoint_command(host, probe, host->message_request(message));
    host->timer_add(100, false, deferred_answer, message);
}

static void call_dtmf(sylk_session *session, sylk_stream *stream, char digit, unsigned duration_ms,
                      void *user_data)
{
    (void)session;
    (void)stream;
    (void)user_data;
    LOG("dtmf %c %u ms", digit, duration_ms);
}

static const struct sylk_session_handler call_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .dtmf = call_dtmf,
};

/* ---------------------------------------------------------------- chat and files --- */

static void chat_message(sylk_stream *stream, const struct sylk_chat_message *m, void *ud)
{
    (void)ud;
    GString *headers = g_string_new(NULL);
    for (const char *const *h = m->cpim_headers; h && h[0]; h += 2)
        g_string_append_printf(headers, "%s[%s: %s]", headers->len ? " " : "", h[0], h[1]);
    LOG("chat message %s %s cpim=%d headers=%s body=%.*s", m->message_id, m->content_type, m->cpim,
        headers->str, (int)MIN(m->body_len, 200), (const char *)m->body);
    g_string_free(headers, TRUE);
    if (m->body_len == 9 && memcmp(m->body, "refuse-me", 9) == 0)
        LOG("chat refuse: %d", host->chat_refuse(stream, 403));
}

static void chat_composing(sylk_stream *stream, const struct sylk_chat_composing *c, void *ud)
{
    (void)ud;
    LOG("composing active=%d refresh=%u type=%s from=%s", c->active, c->refresh,
        c->content_type ? c->content_type : "-", c->cpim_from ? c->cpim_from : "-");
    struct sylk_chat_composing idle = {.struct_size = sizeof(idle),
                                       .active = false,
                                       .cpim_from = "<sip:probe@example.com>",
                                       .cpim_to = c->cpim_from};
    LOG("composing sent: %d", host->chat_send_composing(stream, &idle));
}

static int chat_nickname(sylk_stream *stream, const char *nickname, void *ud)
{
    (void)stream;
    (void)ud;
    LOG("nickname %s", nickname);
    return strcmp(nickname, "taken") == 0 ? 425 : 200;
}

static void chat_sent(sylk_stream *stream, void *token, int status, void *ud)
{
    (void)stream;
    (void)ud;
    LOG("chat sent %s: %d", (const char *)token, status);
}

static const struct sylk_chat_handler probe_chat = {
    .struct_size = sizeof(struct sylk_chat_handler),
    .message = chat_message,
    .composing = chat_composing,
    .nickname = chat_nickname,
    .sent = chat_sent,
};

static void file_progress(sylk_stream *stream, uint64_t bytes, uint64_t total, void *ud)
{
    (void)stream;
    (void)ud;
    LOG("file progress %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, bytes, total);
}

static void file_done(sylk_stream *stream, int status, const char *hash, uint64_t size, void *ud)
{
    (void)stream;
    (void)ud;
    LOG("file done %d %s %" G_GUINT64_FORMAT, status, hash ? hash : "-", size);
}

static const struct sylk_file_handler probe_file = {
    .struct_size = sizeof(struct sylk_file_handler),
    .progress = file_progress,
    .done = file_done,
};

/* After a re-INVITE: each stream's state, as a test reads it. */
static void chat_session_updated(sylk_session *session, void *ud)
{
    (void)ud;
    for (size_t i = 0; i < host->session_stream_count(session); i++) {
        sylk_stream *st = host->session_stream(session, i);
        LOG("updated: stream %zu type %d enabled %d direction %d", i, host->stream_type(st),
            host->stream_enabled(st), host->stream_direction(st));
    }
}

static const struct sylk_session_handler chat_session_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .updated = chat_session_updated,
};

static sylk_stream *stream_of(sylk_session *session, enum sylk_media_type type)
{
    for (size_t i = 0; i < host->session_stream_count(session); i++) {
        if (host->stream_type(host->session_stream(session, i)) == type)
            return host->session_stream(session, i);
    }
    return NULL;
}

static void chat_probe(sylk_session *session)
{
    sylk_stream *chat = stream_of(session, SYLK_MEDIA_CHAT);
    if (!chat) {
        LOG("session reject: %d", host->session_reject(session, 488, "Chat Only"));
        return;
    }
    host->chat_set_handler(chat, &probe_chat, NULL);
    const char *types = host->stream_remote_attribute(chat, "accept-types");
    LOG("remote accept-types %s", types ? types : "-");
    LOG("set chatroom: %d",
        host->stream_set_local_attribute(chat, "chatroom", "nickname private-messages"));
    LOG("set path: %d", host->stream_set_local_attribute(chat, "path", "x"));
    host->session_set_handler(session, &chat_session_handler, NULL);
    LOG("session accept: %d", host->session_accept(session, &chat, 1));
    LOG("set chatroom after: %d", host->stream_set_local_attribute(chat, "chatroom", "x"));
}

static void file_probe(sylk_session *session, bool sink)
{
    sylk_stream *file = stream_of(session, SYLK_MEDIA_FILE_TRANSFER);
    const struct sylk_request_info *req = host->session_request(session);
    const char *path = host->request_header(req, sink ? "X-Save-To" : "X-Send-File");
    struct sylk_file_info info = {.struct_size = sizeof(info)};
    if (!file || !path || host->stream_file_info(file, &info) < 0) {
        LOG("session reject: %d", host->session_reject(session, 488, "No File Stream"));
        return;
    }
    LOG("file info %s %" G_GUINT64_FORMAT " %s", info.name ? info.name : "-", info.size,
        info.hash_sha1 ? info.hash_sha1 : "-");
    if (sink)
        LOG("file receive: %d", host->file_receive(file, path, &probe_file, NULL));
    LOG("session accept: %d", host->session_accept(session, &file, 1));
    if (!sink)
        LOG("file send: %d", host->file_send(file, path, &probe_file, NULL));
}

/* ---------------------------------------------------------------- dial-out with MSRP --- */

struct probe_dial {
    char *path; /* the file to send, or NULL for chat */
};

static void dial_established(sylk_session *s, void *ud)
{
    struct probe_dial *pd = ud;
    LOG("dial established");
    if (pd->path) {
        sylk_stream *file = stream_of(s, SYLK_MEDIA_FILE_TRANSFER);
        LOG("file send: %d", host->file_send(file, pd->path, &probe_file, NULL));
        return;
    }
    sylk_stream *chat = stream_of(s, SYLK_MEDIA_CHAT);
    struct sylk_chat_send_params p = {.struct_size = sizeof(p),
                                      .content_type = "text/plain",
                                      .body = "hello from probe",
                                      .body_len = 16,
                                      .cpim_from = "<sip:probe@example.com>",
                                      .token = "hello"};
    LOG("chat send: %d", host->chat_send(chat, &p));
}

static void dial_ended(sylk_session *s, int status, const char *reason, void *ud)
{
    struct probe_dial *pd = ud;
    (void)s;
    LOG("dial ended %d %s", status, reason);
    g_free(pd->path);
    g_free(pd);
}

static const struct sylk_session_handler dial_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .established = dial_established,
    .ended = dial_ended,
};

static void dial(const char *how, const char *from)
{
    g_auto(GStrv) words = g_strsplit(how, " ", 3);
    bool file = strcmp(words[0], "dial-file") == 0;
    if (!words[1] || (file && !words[2])) {
        LOG("dial: bad X-Probe");
        return;
    }
    struct probe_dial *pd = g_new0(struct probe_dial, 1);
    enum sylk_media_type media = file ? SYLK_MEDIA_FILE_TRANSFER : SYLK_MEDIA_CHAT;
    g_autofree char *name = file ? g_path_get_basename(words[2]) : NULL;
    struct sylk_file_info info = {.struct_size = sizeof(info), .name = name, .type = "text/plain"};
    if (file) {
        pd->path = g_strdup(words[2]);
        g_autofree char *data = NULL;
        gsize len = 0;
        g_file_get_contents(pd->path, &data, &len, NULL);
        info.size = len;
    }
    struct sylk_session_params p = {
        .struct_size = sizeof(p),
        .from = from,
        .to = words[1],
        .media = &media,
        .media_count = 1,
        .handler = &dial_handler,
        .user_data = pd,
        .files = file ? &info : NULL,
        .file_count = file ? 1 : 0,
    };
    sylk_session *s = host->session_connect(&p);
    LOG("dial %s: %s", words[1], s ? "calling" : "failed");
    if (s && !file)
        host->chat_set_handler(stream_of(s, SYLK_MEDIA_CHAT), &probe_chat, NULL);
    if (!s) {
        g_free(pd->path);
        g_free(pd);
    }
}

/* ---------------------------------------------------------------- mixers --- */

static GHashTable *mixers; /* name -> sylk_mixer * */

struct mix_call {
    char *room;
    sylk_stream *audio;
};

static void mix_call_ended(sylk_session *session, int status, const char *reason, void *user_data)
{
    struct mix_call *mc = user_data;
    (void)session;
    (void)status;
    (void)reason;
    sylk_mixer *mixer = g_hash_table_lookup(mixers, mc->room);
    size_t left = mixer ? host->mixer_count(mixer) : 0;
    LOG("mixer %s: left, %zu remain", mc->room, left);
    if (mixer && left == 0) {
        host->mixer_free(mixer);
        g_hash_table_remove(mixers, mc->room);
    }
    g_free(mc->room);
    g_free(mc);
}

static const struct sylk_session_handler mix_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .ended = mix_call_ended,
};

static void mixer_tone_done(void *user_data)
{
    (void)user_data; /* the room name may be gone with its caller */
    LOG("mixer: tone done");
}

static void join_mixer(sylk_session *session, sylk_stream *audio, const char *user)
{
    const char *dash = strchr(user, '-');
    struct mix_call *mc = g_new0(struct mix_call, 1);
    mc->room = g_strdup(dash + 1);
    mc->audio = audio;
    host->session_set_handler(session, &mix_handler, mc);
    LOG("session accept: %d", host->session_accept(session, &audio, 1));
    sylk_mixer *mixer = g_hash_table_lookup(mixers, mc->room);
    if (!mixer) {
        mixer = host->mixer_new(0);
        g_hash_table_insert(mixers, g_strdup(mc->room), mixer);
    }
    int rc = host->mixer_add(mixer, audio);
    if (g_str_has_prefix(user, "mixmuted-"))
        rc = rc ? rc : host->mixer_mute(mixer, audio, true);
    if (g_str_has_prefix(user, "mixheld-"))
        rc = rc ? rc : host->mixer_hold(mixer, audio, true);
    if (g_str_has_prefix(user, "mixtone-"))
        rc = rc ? rc : host->play_tone(NULL, mixer, 1500, 2000, mixer_tone_done, mc->room);
    LOG("mixer %s: joined (%d), %zu participants", mc->room, rc, host->mixer_count(mixer));
}

static void prompt_done(void *user_data)
{
    LOG("prompt done %s", (const char *)user_data);
}

static void play_prompts(sylk_session *session, sylk_stream *audio)
{
    host->session_set_handler(session, &call_handler, NULL);
    LOG("session accept: %d", host->session_accept(session, &audio, 1));
    LOG("play tone: %d", host->play_tone(audio, NULL, 1000, 1000, prompt_done, "tone"));
    const char *path = host->request_header(host->session_request(session), "X-Play-File");
    if (path)
        LOG("play file: %d", host->play_file(audio, NULL, path, prompt_done, "file"));
}

static void probe_session(sylk_session *session)
{
    sylk_stream *audio = host->session_stream(session, 0);
    const char *uri = host->session_request(session)->request_uri;
    g_autofree char *user = g_strndup(uri + 4, strcspn(uri + 4, "@"));
    if (g_str_has_prefix(user, "mix") && strchr(user, '-')) {
        join_mixer(session, audio, user);
        return;
    }
    if (strcmp(user, "prompt") == 0) {
        play_prompts(session, audio);
        return;
    }
    if (strcmp(user, "chatprobe") == 0) {
        chat_probe(session);
        return;
    }
    if (probe_sdk18_session(host, session, user) || probe_endpoint_session(host, session, user))
        return;
    if (strcmp(user, "filesink") == 0 || strcmp(user, "filesource") == 0) {
        file_probe(session, strcmp(user, "filesink") == 0);
        return;
    }
    host->session_set_handler(session, &call_handler, NULL);
    LOG("session accept: %d", host->session_accept(session, &audio, 1));
    host->audio_loopback(audio, 0);
}

static void probe_shutdown(void)
{
    GHashTableIter it;
    gpointer mixer;
    g_hash_table_iter_init(&it, mixers);
    while (g_hash_table_iter_next(&it, NULL, &mixer))
        host->mixer_free(mixer);
    g_hash_table_destroy(mixers);
    g_hash_table_destroy(web_items);
    probe_net_shutdown();
    probe_sdk18_shutdown();
    probe_endpoint_shutdown();
}

static void web_item_free(gpointer item)
{
    host->web_item_free(item);
}

static int probe_init(const struct sylk_host *h, sylk_config *config)
{
    (void)config;
    host = h;
    mixers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    web_items = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, web_item_free);
    return 0;
}

static const char *const probe_events[] = {"conference", NULL};

static const struct sylk_plugin probe_plugin =
    SYLK_PLUGIN_INIT(.name = "probe", .version = "1.0",
                     .description = "drives host functions for tests", .events = probe_events,
                     .init = probe_init, .shutdown = probe_shutdown,
                     .incoming_referral = probe_referral, .incoming_session = probe_session,
                     .incoming_subscription = probe_subscription,
                     .incoming_sip_message = probe_message);

SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void)
{
    return &probe_plugin;
}
