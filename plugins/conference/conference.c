/*
 * conference — ad-hoc conference rooms, as SylkServer has them.
 *
 * An INVITE to any user at a domain routed here creates the room user@domain, or joins it.
 * Audio goes into the room's mixer (each participant hears the others in its own codec); MSRP
 * chat (CPIM) is relayed by chat.c; SUBSCRIBE (Event: conference) to the room gets RFC 4575
 * conference-info NOTIFYs on every change (room.c, confinfo.c). Who may join or subscribe is
 * the access policy of conference.ini (policy.c), globally and per [room@domain] section.
 *
 * Thread: every callback runs on the server's main thread.
 */
#include "files.h"
#include "policy.h"
#include "room.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG(level, ...) host->log(CONF_NAME, level, __VA_ARGS__)
#define DEFAULT_HISTORY 20

static const struct sylk_host *host;
static sylk_config *config;
static sylk_metrics_collector *collector; /* rooms_collect, while running */
static struct conf_settings settings = {.history_size = DEFAULT_HISTORY};

const struct sylk_host *conf_host(void)
{
    return host;
}

const struct conf_settings *conf_settings(void)
{
    return &settings;
}

/* A room's own [user@domain] section where it has one, else [conference]. */
static const char *room_section(const char *room_key)
{
    const char *section = "conference";
    const char *const *sections = NULL;
    host->config_sections(config, &sections);
    for (size_t i = 0; sections && sections[i]; i++) {
        if (g_ascii_strcasecmp(sections[i], room_key) == 0)
            section = sections[i];
    }
    return section;
}

/* The policy of a room: its own section's, else [conference]'s. */
static bool allowed(const char *room_key, const char *uri)
{
    const char *section = room_section(room_key);
    const char *order = host->config_get_string(
        config, section, "access_policy",
        host->config_get_string(config, "conference", "access_policy", "allow,deny"));
    struct conf_policy policy = {.deny_first = g_str_has_prefix(order, "deny")};
    static const char *const all[] = {"all", NULL};
    if (host->config_get_list(config, section, "allow", &policy.allow) == 0 &&
        host->config_get_list(config, "conference", "allow", &policy.allow) == 0 &&
        !host->config_get_string(config, section, "allow", NULL) &&
        !host->config_get_string(config, "conference", "allow", NULL))
        policy.allow = all;
    if (host->config_get_list(config, section, "deny", &policy.deny) == 0)
        host->config_get_list(config, "conference", "deny", &policy.deny);
    return conf_policy_allows(&policy, uri);
}

/* ------------------------------------------------------------------ sessions --- */

/* The final NOTIFY of the REFER that brought a participant in (RFC 4579 section 5.5). */
static void referral_done(struct participant *p, int status, const char *reason)
{
    if (!p->referral)
        return;
    host->referral_notify(p->referral, status, reason);
    p->referral = NULL;
}

static void session_progress(sylk_session *session, int status, const char *reason, void *user_data)
{
    struct participant *p = user_data;
    (void)session;
    if (p->referral && status > 100)
        host->referral_notify(p->referral, status, reason);
    if (p->dialout && !p->alerting && (status == 180 || status == 183)) {
        p->alerting = true;
        room_changed(p->room);
    }
}

static void session_established(sylk_session *session, void *user_data)
{
    (void)session;
    referral_done(user_data, 200, "OK");
    room_participant_established(user_data);
}

static void session_ended(sylk_session *session, int status, const char *reason, void *user_data)
{
    (void)session;
    referral_done(user_data, status >= 300 ? status : 487, reason);
    room_remove(user_data);
}

/* What the room's chat takes (RFC 7701 a=chatroom), in its answers and in its own calls. */
#define ROOM_CHAT_FEATURES "nickname private-messages com.ag-projects.screen-sharing"

/* Room chat on a stream: CPIM only, both ways, with the room's attributes in our answer. */
static void take_chat(struct participant *p, sylk_stream *chat)
{
    host->chat_set_handler(chat, &conf_chat_handler, p);
    host->stream_set_local_attribute(chat, "accept-types", "message/cpim");
    host->stream_set_local_attribute(chat, "accept-wrapped-types", "*");
    host->stream_set_local_attribute(chat, "chatroom", ROOM_CHAT_FEATURES);
}

static bool chat_usable(sylk_stream *chat);

/* A re-INVITE adds a stream: audio or chat when the participant has none (on) already. */
static bool session_stream_added(sylk_session *session, sylk_stream *stream, void *user_data)
{
    struct participant *p = user_data;
    (void)session;
    switch (host->stream_type(stream)) {
    case SYLK_MEDIA_AUDIO:
        if (p->audio && host->stream_enabled(p->audio))
            return false;
        p->audio = stream;
        return true;
    case SYLK_MEDIA_CHAT:
        if ((p->chat && host->stream_enabled(p->chat)) || !chat_usable(stream))
            return false;
        p->chat = stream;
        take_chat(p, stream);
        return true;
    default:
        return false;
    }
}

static void session_updated(sylk_session *session, void *user_data)
{
    (void)session;
    room_participant_updated(user_data);
}

static const struct sylk_session_handler session_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .progress = session_progress,
    .established = session_established,
    .ended = session_ended,
    .stream_added = session_stream_added,
    .updated = session_updated,
};

/* accept-types lists message/cpim (or *): the room only speaks CPIM. */
static bool takes_cpim(sylk_stream *chat)
{
    const char *types = host->stream_remote_attribute(chat, "accept-types");
    if (!types)
        return false;
    g_auto(GStrv) list = g_strsplit(types, " ", -1);
    for (size_t i = 0; list[i]; i++) {
        if (g_ascii_strcasecmp(list[i], "message/cpim") == 0 || strcmp(list[i], "*") == 0)
            return true;
    }
    return false;
}

static bool chat_usable(sylk_stream *chat)
{
    return takes_cpim(chat) && host->stream_direction(chat) == SYLK_DIR_SENDRECV;
}

static void incoming_session(sylk_session *session)
{
    const struct sylk_request_info *req = host->session_request(session);
    g_autofree char *key = conf_uri_key(req->request_uri);
    if (!allowed(key, req->from_uri)) {
        LOG(SYLK_LOG_INFO, "room %s: %s may not join", key, req->from_uri);
        host->session_reject(session, 403, "Forbidden");
        return;
    }
    sylk_stream *audio = NULL, *chat = NULL, *file = NULL;
    for (size_t i = 0; i < host->session_stream_count(session); i++) {
        sylk_stream *st = host->session_stream(session, i);
        enum sylk_media_type type = host->stream_type(st);
        if (type == SYLK_MEDIA_AUDIO && !audio)
            audio = st;
        else if (type == SYLK_MEDIA_CHAT && !chat && chat_usable(st))
            chat = st;
        else if (type == SYLK_MEDIA_FILE_TRANSFER && !file)
            file = st;
    }
    if (!audio && !chat && file) { /* a file for the room, or one asked of it (RFC 5547) */
        struct room *room = room_find(key);
        if (!room || !settings.files_dir) {
            host->session_reject(session, 404, room ? "No File Sharing" : "Room Not Started");
            return;
        }
        files_incoming_session(room, session, file, req);
        return;
    }
    if (!audio && !chat) {
        host->session_reject(session, 488, "Not Acceptable Here");
        return;
    }
    const char *section = room_section(key);
    const char *subject = strcmp(section, "conference") != 0
                              ? host->config_get_string(config, section, "subject", NULL)
                              : NULL;
    struct room *room = room_get_or_create(
        req->request_uri, subject ? subject : host->request_header(req, "Subject"));
    struct participant *p = room_add(room, session, req->from_uri, req->from_display,
                                     host->request_header(req, "Contact"), audio, chat);
    sylk_stream *streams[2];
    size_t n = 0;
    if (audio)
        streams[n++] = audio;
    if (chat) {
        streams[n++] = chat;
        take_chat(p, chat);
    }
    host->session_set_handler(session, &session_handler, p);
    host->session_set_focus(session);
    int rc = host->session_accept(session, streams, n);
    if (rc < 0)
        LOG(rc == -EADDRINUSE ? SYLK_LOG_DEBUG : SYLK_LOG_WARNING, /* 503: no free RTP port */
            "room %s: cannot accept %s: %d", room->uri, req->from_uri, rc);
}

/* --------------------------------------------------------- REFER (RFC 4579) --- */

/* Refer-To: <target;method=INVITE>: the room calls the target with its media. */
static void refer_invite(struct room *room, sylk_referral *referral, const char *target,
                         const char *referrer)
{
    g_autofree char *from = g_strdup_printf("\"Conference Call\" <%s>", room->uri);
    g_autofree char *headers = g_strdup_printf("Referred-By: <%s>\r\n", referrer);
    static const enum sylk_media_type media[] = {SYLK_MEDIA_AUDIO, SYLK_MEDIA_CHAT};
    struct sylk_session_params params = {
        .struct_size = sizeof(params),
        .from = from,
        .to = target,
        .media = media,
        .media_count = G_N_ELEMENTS(media),
        .extra_headers = headers,
        .focus = true,
        .chatroom = ROOM_CHAT_FEATURES,
    };
    host->referral_accept(referral);
    host->referral_notify(referral, 100, "Trying");
    sylk_session *session = host->session_connect(&params);
    if (!session) {
        host->referral_notify(referral, 500, "Cannot Call The Target");
        return;
    }
    sylk_stream *audio = host->session_stream(session, 0), *chat = host->session_stream(session, 1);
    struct participant *p = room_add(room, session, target, NULL, NULL, audio, chat);
    p->referral = referral;
    p->dialout = p->called = true;
    room_changed(room); /* dialing-out */
    host->session_set_handler(session, &session_handler, p);
    host->chat_set_handler(chat, &conf_chat_handler, p);
    LOG(SYLK_LOG_INFO, "room %s: %s invites %s", room->uri, referrer, target);
}

/* Refer-To: <target;method=BYE>: every session of the target leaves the room. */
static void refer_bye(struct room *room, sylk_referral *referral, const char *target,
                      const char *referrer)
{
    g_autofree char *key = conf_uri_key(target);
    g_autoptr(GPtrArray) found = room_participants_of(room, key, NULL);
    host->referral_accept(referral);
    host->referral_notify(referral, 100, "Trying");
    for (guint i = 0; i < found->len; i++)
        host->session_terminate(((struct participant *)found->pdata[i])->session);
    LOG(SYLK_LOG_INFO, "room %s: %s removes %s (%u session%s)", room->uri, referrer, target,
        found->len, found->len == 1 ? "" : "s");
    if (found->len)
        host->referral_notify(referral, 200, "OK");
    else
        host->referral_notify(referral, 404, "Not In The Room");
}

static void incoming_referral(sylk_referral *referral)
{
    const struct sylk_request_info *req = host->referral_request(referral);
    if (host->referral_session(referral)) { /* RFC 4579 wants REFERs to the focus URI */
        host->referral_reject(referral, 403, "REFER Only Out Of Dialog");
        return;
    }
    g_autofree char *key = conf_uri_key(req->request_uri);
    g_autofree char *referrer = conf_uri_key(req->from_uri);
    struct room *room = room_find(key);
    g_autoptr(GPtrArray) inside = room ? room_participants_of(room, referrer, NULL) : NULL;
    /* participants of the room may refer, and whoever the policy lets in */
    if (!(inside && inside->len) && !allowed(key, req->from_uri)) {
        host->referral_reject(referral, 403, "Forbidden");
        return;
    }
    if (!room) {
        host->referral_reject(referral, 404, "Room Not Started");
        return;
    }
    const char *target = host->referral_refer_to(referral);
    const char *method = host->referral_refer_method(referral);
    g_autofree char *from = g_strdup_printf("sip:%s", referrer);
    if (g_ascii_strcasecmp(method, "INVITE") == 0)
        refer_invite(room, referral, target, from);
    else if (g_ascii_strcasecmp(method, "BYE") == 0)
        refer_bye(room, referral, target, from);
    else
        host->referral_reject(referral, 488, "Only INVITE And BYE");
}

/* ------------------------------------------------------------- subscriptions --- */

static void incoming_subscription(sylk_subscription *sub)
{
    const struct sylk_request_info *req = host->subscription_request(sub);
    g_autofree char *key = conf_uri_key(req->request_uri);
    if (!allowed(key, req->from_uri)) {
        host->subscription_reject(sub, 403, "Forbidden");
        return;
    }
    struct room *room = room_find(key);
    if (!room) {
        host->subscription_reject(sub, 480, "Room Not Started");
        return;
    }
    room_subscribe(room, sub);
}

/* ------------------------------------------------------------------ plugin --- */

/* <spool_dir>/conference */
static char *default_files_dir(void)
{
    return g_build_filename(host->spool_dir(), CONF_NAME, NULL);
}

static int conference_init(const struct sylk_host *h, sylk_config *c)
{
    host = h;
    config = c;
    if (!SYLK_HOST_HAS(host, spool_dir)) {
        host->log(CONF_NAME, SYLK_LOG_ERROR, "the server is too old (ABI 1.6 needed)");
        return -ENOTSUP;
    }
    const char *const *sections = NULL;
    host->config_sections(config, &sections);
    for (size_t i = 0; sections && sections[i]; i++) {
        const char *order = host->config_get_string(config, sections[i], "access_policy", NULL);
        if (order && strcmp(order, "allow,deny") != 0 && strcmp(order, "deny,allow") != 0) {
            LOG(SYLK_LOG_ERROR,
                "conference.ini: [%s] access_policy: %s is neither allow,deny nor "
                "deny,allow",
                sections[i], order);
            return -EINVAL;
        }
    }
    settings.history_size =
        host->config_get_int(config, "conference", "history_size", DEFAULT_HISTORY);
    settings.web_page = host->config_get_string(config, "conference", "web_page", NULL);
    settings.max_file_size =
        (uint64_t)host->config_get_int(config, "conference", "max_file_size_mb", 100) << 20;
    settings.room_quota =
        (uint64_t)host->config_get_int(config, "conference", "room_quota_mb", 1000) << 20;
    settings.keep_files = host->config_get_bool(config, "conference", "keep_files", true);
    settings.screen_sharing_timeout =
        host->config_get_int(config, "conference", "screen_sharing_timeout", 10);
    settings.save_screen_images =
        host->config_get_bool(config, "conference", "save_screen_images", false);
    settings.max_screen_image =
        (size_t)host->config_get_int(config, "conference", "max_screen_image_kb", 4096) << 10;
    settings.push_file_transfer =
        host->config_get_bool(config, "conference", "push_file_transfer", false);
    settings.music_on_hold = host->config_get_string(config, "conference", "music_on_hold", NULL);
    if (settings.music_on_hold && !*settings.music_on_hold)
        settings.music_on_hold = NULL;
    if (settings.music_on_hold && access(settings.music_on_hold, R_OK) != 0) {
        LOG(SYLK_LOG_ERROR, "conference.ini: music_on_hold %s: %s", settings.music_on_hold,
            g_strerror(errno));
        return -ENOENT;
    }
    /* last: nothing is allocated before a refusal (no shutdown follows a failed init) */
    const char *files_dir = host->config_get_string(config, "conference", "files_dir", NULL);
    g_free(settings.files_dir);
    settings.files_dir = files_dir && *files_dir ? g_strdup(files_dir) : default_files_dir();
    rooms_init();
    if (SYLK_HOST_HAS(host, metrics_collector_add))
        collector = host->metrics_collector_add(rooms_collect, NULL);
    return 0;
}

static void conference_shutdown(void)
{
    if (collector)
        host->metrics_collector_remove(collector);
    collector = NULL;
    rooms_shutdown();
    g_clear_pointer(&settings.files_dir, g_free);
}

static const char *const conference_events[] = {"conference", NULL};

/* Checked when the file loads (so --check-config names its line), not only at init. */
static int check_policy(const char *value, char *why, size_t size)
{
    if (strcmp(value, "allow,deny") == 0 || strcmp(value, "deny,allow") == 0)
        return 0;
    snprintf(why, size, "'%s' is neither allow,deny nor deny,allow", value);
    return -1;
}

static int check_readable(const char *value, char *why, size_t size)
{
    if (!*value || access(value, R_OK) == 0)
        return 0;
    snprintf(why, size, "cannot read %s: %s", value, g_strerror(errno));
    return -1;
}

static const struct sylk_config_option conference_options[] = {
    SYLK_OPTION(.section = "conference", .key = "history_size", .type = SYLK_OPTION_INT, .min = 0,
                .max = 1000, .description = "public chat messages replayed to newcomers"),
    SYLK_OPTION(.section = "conference", .key = "web_page", .type = SYLK_OPTION_STRING,
                .description = "host-info web page in conference-info"),
    SYLK_OPTION(.section = "conference", .key = "music_on_hold", .type = SYLK_OPTION_STRING,
                .validate = check_readable,
                .description = "WAV file played, looping, to a participant alone with audio"),
    SYLK_OPTION(.section = "conference", .key = "files_dir", .type = SYLK_OPTION_STRING,
                .description = "where rooms keep shared files (default: spool_dir/conference)"),
    SYLK_OPTION(.section = "conference", .key = "max_file_size_mb", .type = SYLK_OPTION_INT,
                .min = 0, .max = 1 << 20, .description = "largest file shared, MiB (0: no limit)"),
    SYLK_OPTION(.section = "conference", .key = "room_quota_mb", .type = SYLK_OPTION_INT, .min = 0,
                .max = 1 << 24, .description = "files a room may hold, MiB (0: no limit)"),
    SYLK_OPTION(.section = "conference", .key = "keep_files", .type = SYLK_OPTION_BOOL,
                .description = "files outlive their room and a restart"),
    SYLK_OPTION(.section = "conference", .key = "push_file_transfer", .type = SYLK_OPTION_BOOL,
                .description = "offer each new file to every other participant"),
    SYLK_OPTION(.section = "conference", .key = "screen_sharing_timeout", .type = SYLK_OPTION_INT,
                .min = 1, .max = 3600,
                .description = "seconds without a new image that end a screen sharing"),
    SYLK_OPTION(.section = "conference", .key = "max_screen_image_kb", .type = SYLK_OPTION_INT,
                .min = 1, .max = 8192, .description = "largest screen image taken, KiB"),
    SYLK_OPTION(.section = "conference", .key = "save_screen_images", .type = SYLK_OPTION_BOOL,
                .description = "keep each sharer's latest image in <files_dir>/<room>/screens"),
    SYLK_OPTION(.section = "conference", .key = "access_policy", .type = SYLK_OPTION_STRING,
                .validate = check_policy, .description = "allow,deny or deny,allow"),
    SYLK_OPTION(.section = "conference", .key = "allow", .type = SYLK_OPTION_LIST,
                .description = "all, domains, user@domain or SIP URIs"),
    SYLK_OPTION(.section = "conference", .key = "deny", .type = SYLK_OPTION_LIST,
                .description = "all, domains, user@domain or SIP URIs"),
    /* the same in [room@domain] sections, for one room */
    SYLK_OPTION(.key = "access_policy", .type = SYLK_OPTION_STRING, .validate = check_policy,
                .description = "allow,deny or deny,allow"),
    SYLK_OPTION(.key = "allow", .type = SYLK_OPTION_LIST,
                .description = "all, domains, user@domain or SIP URIs"),
    SYLK_OPTION(.key = "deny", .type = SYLK_OPTION_LIST,
                .description = "all, domains, user@domain or SIP URIs"),
    SYLK_OPTION(.key = "subject", .type = SYLK_OPTION_STRING,
                .description = "the room's subject in conference-info"),
    SYLK_OPTION_END,
};

static const struct sylk_plugin conference_plugin =
    SYLK_PLUGIN_INIT(.name = CONF_NAME, .version = "1.0",
                     .description = "ad-hoc conference rooms: audio, chat, conference-info",
                     .events = conference_events, .config_options = conference_options,
                     .init = conference_init, .shutdown = conference_shutdown,
                     .incoming_session = incoming_session, .incoming_referral = incoming_referral,
                     .incoming_subscription = incoming_subscription);

SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void)
{
    return &conference_plugin;
}
