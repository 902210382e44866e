/*
 * room.c — rooms and their participants. See room.h.
 */
#include "room.h"

#include "confinfo.h"
#include "files.h"
#include "policy.h"
#include "screen.h"

#include <errno.h>
#include <string.h>

#define LOG(level, ...) conf_host()->log(CONF_NAME, level, __VA_ARGS__)

static GHashTable *rooms; /* key (user@host) -> struct room * */

#define PROMPT_DELAY_MS 400 /* between the ACK and the join prompt: the caller's audio starts */

static const char agp_ns[] = "agp <urn:ag-projects:xml:ns:cpim>";

void rooms_init(void)
{
    rooms = g_hash_table_new(g_str_hash, g_str_equal);
}

void rooms_collect(sylk_metric_writer *w, void *user_data)
{
    const struct sylk_host *host = conf_host();
    (void)user_data;
    /* audio and chat: an enabled stream; screen: sharing now */
    unsigned audio = 0, chat = 0, screen = 0, files = 0, transfers = 0;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, rooms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const struct room *room = value;
        for (guint i = 0; i < room->participants->len; i++) {
            const struct participant *p = g_ptr_array_index(room->participants, i);
            audio += p->audio && host->stream_enabled(p->audio);
            chat += p->chat && host->stream_enabled(p->chat);
            screen += p->screen != NULL;
        }
        files += room->files->len;
        transfers += room->transfers->len;
    }
    const char *help =
        "Participants in the rooms by media (one with audio and chat counts in both)";
    host->metric_write(w, "rooms", "Conference rooms open", SYLK_METRIC_GAUGE, NULL,
                       g_hash_table_size(rooms));
    host->metric_write(w, "participants", help, SYLK_METRIC_GAUGE,
                       (const char *const[]){"media", "audio", NULL}, audio);
    host->metric_write(w, "participants", help, SYLK_METRIC_GAUGE,
                       (const char *const[]){"media", "chat", NULL}, chat);
    host->metric_write(w, "participants", help, SYLK_METRIC_GAUGE,
                       (const char *const[]){"media", "screen", NULL}, screen);
    host->metric_write(w, "file_transfers", "File transfers under way (uploads and downloads)",
                       SYLK_METRIC_GAUGE, NULL, transfers);
    host->metric_write(w, "files", "Files shared in the rooms open", SYLK_METRIC_GAUGE, NULL,
                       files);
}

struct room *room_find(const char *key)
{
    return g_hash_table_lookup(rooms, key);
}

struct room *room_get_or_create(const char *uri, const char *subject)
{
    g_autofree char *key = conf_uri_key(uri);
    struct room *room = room_find(key);
    if (room)
        return room;
    room = g_new0(struct room, 1);
    room->key = g_steal_pointer(&key);
    room->uri = g_strdup_printf("sip:%s", room->key);
    room->subject = subject && *subject ? g_strdup(subject) : NULL;
    room->participants = g_ptr_array_new();
    room->subscriptions = g_ptr_array_new();
    room->files = g_ptr_array_new_with_free_func((GDestroyNotify)room_file_free);
    room->transfers = g_ptr_array_new();
    g_queue_init(&room->history);
    g_hash_table_insert(rooms, room->key, room);
    files_room_open(room);
    LOG(SYLK_LOG_INFO, "room %s started", room->uri);
    return room;
}

static char *now_iso8601(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    return g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
}

/* The URI inside a Contact header value, or NULL. */
static char *contact_uri(const char *contact)
{
    if (!contact)
        return NULL;
    const char *lt = strchr(contact, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return g_strndup(lt + 1, (gsize)(gt - lt - 1));
    return g_strndup(contact, strcspn(contact, ";"));
}

struct participant *room_add(struct room *room, sylk_session *session, const char *uri,
                             const char *display, const char *contact, sylk_stream *audio,
                             sylk_stream *chat)
{
    struct participant *p = g_new0(struct participant, 1);
    p->room = room;
    p->session = session;
    p->key = conf_uri_key(uri);
    p->uri = g_strdup_printf("sip:%s", p->key);
    p->display = display && *display ? g_strdup(display) : NULL;
    p->contact = contact_uri(contact);
    if (!p->contact)
        p->contact = g_strdup(p->uri);
    p->audio = audio;
    p->chat = chat;
    p->joined_us = g_get_monotonic_time();
    p->joined_at = now_iso8601();
    g_ptr_array_add(room->participants, p);
    return p;
}

GPtrArray *room_participants_of(struct room *room, const char *key, struct participant *skip)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; i < room->participants->len; i++) {
        struct participant *q = g_ptr_array_index(room->participants, i);
        if (q != skip && strcmp(q->key, key) == 0)
            g_ptr_array_add(out, q);
    }
    return out;
}

const char *participant_name(const struct participant *p)
{
    return p->nickname ? p->nickname : p->display ? p->display : p->key;
}

char *participant_cpim_address(const struct participant *p)
{
    GString *s = g_string_new("\"");
    for (const char *c = participant_name(p); *c; c++) {
        if (*c == '"' || *c == '\\')
            g_string_append_c(s, '\\');
        g_string_append_c(s, *c);
    }
    g_string_append_printf(s, "\" <%s>", p->uri);
    return g_string_free(s, FALSE);
}

static void notice_send(struct participant *p, const char *text)
{
    if (!p->chat || !conf_host()->stream_enabled(p->chat))
        return;
    g_autofree char *from = g_strdup_printf("\"Conference Room\" <%s>", p->room->uri);
    const char *headers[] = {"NS", agp_ns, "agp.Message-Type", "status", NULL};
    struct sylk_chat_send_params params = {
        .struct_size = sizeof(params),
        .content_type = "text/plain",
        .body = text,
        .body_len = strlen(text),
        .cpim_from = from,
        .cpim_to = p->uri,
        .cpim_headers = headers,
    };
    conf_host()->chat_send(p->chat, &params);
}

void room_notice_to(struct participant *p, const char *text)
{
    notice_send(p, text);
}

void room_notice(struct room *room, struct participant *skip, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *text = g_strdup_vprintf(format, ap);
    va_end(ap);
    for (guint i = 0; i < room->participants->len; i++) {
        struct participant *p = g_ptr_array_index(room->participants, i);
        if (p != skip && p->established)
            notice_send(p, text);
    }
}

/* "audio and chat" */
static const char *media_words(const struct participant *p)
{
    bool audio = p->audio && conf_host()->stream_enabled(p->audio);
    bool chat = p->chat && conf_host()->stream_enabled(p->chat);
    return audio && chat ? "audio and chat" : audio ? "audio" : chat ? "chat" : "no media";
}

static size_t others(const struct room *room, const struct participant *p)
{
    size_t n = 0;
    for (guint i = 0; i < room->participants->len; i++)
        n += g_ptr_array_index(room->participants, i) != p;
    return n;
}

static bool audio_on(const struct participant *p)
{
    return p->audio && conf_host()->stream_enabled(p->audio);
}

static bool chat_on(const struct participant *p)
{
    return p->chat && conf_host()->stream_enabled(p->chat);
}

/* Others who can be heard: in the mixer and not on hold. */
static size_t audio_peers(const struct room *room, const struct participant *p)
{
    size_t n = 0;
    for (guint i = 0; i < room->participants->len; i++) {
        const struct participant *q = g_ptr_array_index(room->participants, i);
        n += q != p && q->mixed && !q->held;
    }
    return n;
}

static void moh_played(void *user_data);

/*
 * Music on hold (conference.ini music_on_hold) plays, looping, to whoever is alone with audio
 * in the room, once its join prompt is over; it stops when somebody else can be heard.
 */
static void room_update_moh(struct room *room)
{
    const char *file = conf_settings()->music_on_hold;
    for (guint i = 0; file && i < room->participants->len; i++) {
        struct participant *p = g_ptr_array_index(room->participants, i);
        bool want = p->mixed && !p->held && !p->prompt_timer && audio_peers(room, p) == 0;
        if (want && !p->moh) {
            int rc = conf_host()->play_file(p->audio, NULL, file, moh_played, p);
            p->moh = rc == 0;
            if (rc < 0)
                LOG(SYLK_LOG_WARNING, "room %s: music on hold %s: %d", room->uri, file, rc);
        } else if (!want && p->moh) {
            conf_host()->play_stop(p->audio, NULL);
            p->moh = false;
        }
    }
}

/* The file played out: again, if the participant is still alone. */
static void moh_played(void *user_data)
{
    struct participant *p = user_data;
    p->moh = false;
    room_update_moh(p->room);
}

/*
 * What a newcomer hears: alone, two falling tones (2200 then 1800 Hz); with others, one short
 * 1800 Hz beep per other participant (up to 5), each followed by a 2400 Hz tick that keeps the
 * beeps apart. Tones rather than speech: nothing has to be recorded or installed, and they sit
 * above the voice band most speech energy is in.
 */
static void play_join_prompt(sylk_timer *timer, void *user_data)
{
    struct participant *p = user_data;
    const struct sylk_host *h = conf_host();
    (void)timer;
    p->prompt_timer = NULL;
    size_t others_present = others(p->room, p);
    if (others_present == 0) {
        h->play_tone(p->audio, NULL, 2200, 250, NULL, NULL);
        h->play_tone(p->audio, NULL, 1800, 400, NULL, NULL);
        room_update_moh(p->room); /* queued after the prompt */
        return;
    }
    for (size_t i = 0; i < MIN(others_present, (size_t)5); i++) {
        h->play_tone(p->audio, NULL, 1800, 150, NULL, NULL);
        h->play_tone(p->audio, NULL, 2400, 60, NULL, NULL);
    }
}

/* Audio into or out of the mixer as the stream comes and goes; out of the mix while held. */
static void sync_audio(struct participant *p)
{
    struct room *room = p->room;
    const struct sylk_host *h = conf_host();
    if (audio_on(p) && !p->mixed) {
        if (!room->mixer)
            room->mixer = h->mixer_new(0);
        int rc = room->mixer ? h->mixer_add(room->mixer, p->audio) : -ENOMEM;
        p->mixed = rc == 0;
        p->held = false;
        if (rc < 0)
            LOG(SYLK_LOG_WARNING, "room %s: %s's audio not mixed: %d", room->uri, p->uri, rc);
    } else if (!audio_on(p) && p->mixed) {
        h->mixer_remove(room->mixer, p->audio);
        if (p->moh)
            h->play_stop(p->audio, NULL);
        p->mixed = p->held = p->moh = false;
    }
    if (p->mixed) {
        /* the peer put us on hold (sendonly, inactive): its music must not reach the room */
        bool held = !(h->stream_direction(p->audio) & SYLK_DIR_SENDONLY);
        if (held != p->held && h->mixer_hold(room->mixer, p->audio, held) == 0)
            p->held = held;
    }
    room_update_moh(room);
}

void room_participant_established(struct participant *p)
{
    struct room *room = p->room;
    p->established = true;
    p->dialout = false;
    sync_audio(p);
    p->had_audio = audio_on(p);
    p->had_chat = chat_on(p);
    LOG(SYLK_LOG_INFO, "room %s: %s joined with %s", room->uri, p->uri, media_words(p));
    size_t n = others(room, p);
    if (p->mixed) /* once its audio is flowing */
        p->prompt_timer = conf_host()->timer_add(PROMPT_DELAY_MS, false, play_join_prompt, p);
    g_autofree char *welcome =
        n == 0 ? g_strdup_printf("Welcome to the conference. You are the first participant; "
                                 "others can join at %s",
                                 room->uri)
               : g_strdup_printf("Welcome to the conference. %zu other participant%s present; "
                                 "others can join at %s",
                                 n, n == 1 ? " is" : "s are", room->uri);
    room_notice_to(p, welcome);
    chat_replay_history(p);
    room_notice(room, p, "%s has joined the room with %s", participant_name(p), media_words(p));
    room_changed(room);
}

/* "added audio", "removed chat", "added chat and removed audio" */
static void media_change_words(GString *out, bool audio_was, bool audio_is, bool chat_was,
                               bool chat_is)
{
    const char *parts[2] = {NULL, NULL};
    size_t n = 0;
    if (audio_was != audio_is)
        parts[n++] = audio_is ? "added audio" : "removed audio";
    if (chat_was != chat_is)
        parts[n++] = chat_is ? "added chat" : "removed chat";
    g_string_append(out, parts[0]);
    if (n == 2)
        g_string_append_printf(out, " and %s", parts[1]);
}

void room_participant_updated(struct participant *p)
{
    if (!p->established)
        return;
    struct room *room = p->room;
    sync_audio(p);
    bool audio = audio_on(p), chat = chat_on(p);
    if (audio != p->had_audio || chat != p->had_chat) {
        g_autoptr(GString) what = g_string_new(NULL);
        media_change_words(what, p->had_audio, audio, p->had_chat, chat);
        LOG(SYLK_LOG_INFO, "room %s: %s %s", room->uri, p->uri, what->str);
        if (chat && !p->had_chat) /* the chat it added catches up */
            chat_replay_history(p);
        if (!chat && p->screen) {
            room_notice(room, p, "%s stopped sharing the screen", participant_name(p));
            screen_stop(p, false);
        }
        room_notice(room, p, "%s has %s", participant_name(p), what->str);
        p->had_audio = audio;
        p->had_chat = chat;
    }
    room_changed(room);
}

static void participant_free(struct participant *p)
{
    if (p->prompt_timer)
        conf_host()->timer_cancel(p->prompt_timer);
    screen_stop(p, false);
    if (p->moh) /* its stream is ending: the prompt's `done` will not come */
        conf_host()->play_stop(p->audio, NULL);
    g_free(p->uri);
    g_free(p->key);
    g_free(p->display);
    g_free(p->nickname);
    g_free(p->contact);
    g_free(p->joined_at);
    g_free(p);
}

static void room_free(struct room *room)
{
    g_hash_table_remove(rooms, room->key);
    while (room->subscriptions->len) {
        g_autofree struct watcher *w = g_ptr_array_steal_index(room->subscriptions, 0);
        conf_host()->subscription_set_handler(w->subscription, NULL, NULL);
        conf_host()->subscription_terminate(w->subscription, "noresource");
    }
    if (room->mixer)
        conf_host()->mixer_free(room->mixer);
    files_room_close(room);
    g_ptr_array_free(room->files, TRUE);
    g_ptr_array_free(room->transfers, TRUE);
    chat_history_clear(room);
    g_ptr_array_free(room->participants, TRUE);
    g_ptr_array_free(room->subscriptions, TRUE);
    LOG(SYLK_LOG_INFO, "room %s ended", room->uri); /* once everything of it is gone */
    g_free(room->uri);
    g_free(room->key);
    g_free(room->subject);
    g_free(room);
}

static char *duration_words(gint64 us)
{
    gint64 s = us / G_USEC_PER_SEC;
    if (s < 60)
        return g_strdup_printf("%" G_GINT64_FORMAT " s", s);
    if (s < 3600)
        return g_strdup_printf("%" G_GINT64_FORMAT " min %" G_GINT64_FORMAT " s", s / 60, s % 60);
    return g_strdup_printf("%" G_GINT64_FORMAT " h %" G_GINT64_FORMAT " min", s / 3600,
                           (s / 60) % 60);
}

void room_remove(struct participant *p)
{
    struct room *room = p->room;
    g_ptr_array_remove(room->participants, p);
    if (p->mixed)
        room_update_moh(room); /* whoever is now alone */
    if (p->screen)
        room_notice(room, NULL, "%s stopped sharing the screen", participant_name(p));
    if (p->established) {
        g_autofree char *stay = duration_words(g_get_monotonic_time() - p->joined_us);
        LOG(SYLK_LOG_INFO, "room %s: %s left after %s", room->uri, p->uri, stay);
        room_notice(room, NULL, "%s has left the room after %s", participant_name(p), stay);
    }
    participant_free(p);
    if (room->participants->len == 0)
        room_free(room);
    else
        room_changed(room);
}

/* ------------------------------------------------------------ conference-info --- */

static const char *direction_word(enum sylk_direction d)
{
    static const char *const words[] = {"inactive", "sendonly", "recvonly", "sendrecv"};
    return words[d & 3];
}

static char *room_document(struct room *room, size_t *len)
{
    guint n = room->participants->len;
    g_autofree struct confinfo_user *users = g_new0(struct confinfo_user, n);
    g_autofree struct confinfo_endpoint *endpoints = g_new0(struct confinfo_endpoint, n);
    g_autofree struct confinfo_media *media = g_new0(struct confinfo_media, 2 * n);
    size_t user_count = 0;
    for (guint i = 0; i < n; i++) {
        struct participant *p = g_ptr_array_index(room->participants, i);
        struct confinfo_endpoint *e = &endpoints[i];
        if (!p->established && !p->dialout)
            continue; /* an INVITE being answered: it shows once it has joined */
        struct confinfo_media *m = &media[2 * i];
        bool held = false;
        if (p->audio && conf_host()->stream_enabled(p->audio)) {
            enum sylk_direction d = conf_host()->stream_direction(p->audio);
            held = !(d & SYLK_DIR_SENDONLY); /* the peer put us on hold (sendonly, inactive) */
            m[e->media_count++] = (struct confinfo_media){"audio", "audio", direction_word(d)};
        }
        if (p->chat && conf_host()->stream_enabled(p->chat))
            m[e->media_count++] = (struct confinfo_media){
                "chat", "message", direction_word(conf_host()->stream_direction(p->chat))};
        e->entity = p->contact;
        e->display_text = participant_name(p);
        e->status = p->dialout ? (p->alerting ? "alerting" : "dialing-out")
                    : held     ? "on-hold"
                               : "connected";
        e->joined_at = p->joined_at;
        e->dialed_out = p->called;
        e->media = m;
        /* a user per address of record; several sessions of one user are its endpoints */
        struct confinfo_user *u = NULL;
        for (size_t k = 0; k < user_count; k++) {
            if (strcmp(users[k].entity, p->uri) == 0)
                u = &users[k];
        }
        if (!u) {
            u = &users[user_count++];
            u->entity = p->uri;
            u->display_text = participant_name(p);
        }
        if (!u->screen_image_url)
            u->screen_image_url = screen_url(p);
    }
    /* a user's endpoints are adjacent: gather them user by user */
    g_autofree struct confinfo_endpoint *ordered = g_new0(struct confinfo_endpoint, n);
    size_t at = 0;
    for (size_t k = 0; k < user_count; k++) {
        size_t count = 0;
        for (guint i = 0; i < n; i++) {
            struct participant *p = g_ptr_array_index(room->participants, i);
            if (endpoints[i].entity && strcmp(p->uri, users[k].entity) == 0) {
                ordered[at + count] = endpoints[i];
                count++;
            }
        }
        users[k].endpoints = &ordered[at];
        users[k].endpoint_count = count;
        at += count;
    }
    g_autofree char *display = g_strdup_printf("Conference %s", room->key);
    struct confinfo info = {
        .entity = room->uri,
        .version = 0, /* stamped per watcher */
        .display_text = display,
        .free_text = "Hosted by sylkserver-c",
        .subject = room->subject,
        .web_page = conf_settings()->web_page,
        .users = users,
        .user_count = user_count,
    };
    g_autofree struct confinfo_file *files = g_new0(struct confinfo_file, room->files->len + 1);
    for (guint i = 0; i < room->files->len; i++) {
        const struct room_file *f = g_ptr_array_index(room->files, i);
        files[i] = (struct confinfo_file){f->name, f->hash, f->sender, f->sender_name, f->size};
    }
    info.files = files;
    info.file_count = room->files->len;
    return confinfo_build(&info, len);
}

/* The room's state to `count` watchers: one document, built once, stamped with each
 * watcher's next version. */
static void notify(struct room *room, struct watcher *const *watchers, guint count)
{
    if (count == 0)
        return;
    size_t len;
    g_autofree char *body = room_document(room, &len);
    for (guint i = 0; i < count; i++) {
        struct watcher *w = watchers[i];
        size_t stamped_len;
        g_autofree char *stamped = confinfo_with_version(body, len, w->documents, &stamped_len);
        int rc = stamped ? conf_host()->subscription_notify(w->subscription,
                                                            "application/conference-info+xml",
                                                            stamped, stamped_len)
                         : -EINVAL;
        if (rc == 0)
            w->documents++;
        else
            LOG(SYLK_LOG_DEBUG, "room %s: NOTIFY not sent: %d", room->uri, rc);
    }
}

void room_changed(struct room *room)
{
    notify(room, (struct watcher *const *)room->subscriptions->pdata, room->subscriptions->len);
}

static void subscription_ended(sylk_subscription *sub, const char *reason, void *user_data)
{
    struct watcher *w = user_data;
    (void)sub;
    (void)reason;
    g_ptr_array_remove(w->room->subscriptions, w);
    g_free(w);
}

/* A refresh gets a new document (a new version), as does an un-SUBSCRIBE: its final NOTIFY. */
static void subscription_refreshed(sylk_subscription *sub, unsigned expires, void *user_data)
{
    struct watcher *w = user_data;
    (void)sub;
    (void)expires;
    notify(w->room, &w, 1);
}

static const struct sylk_subscription_handler subscription_handler = {
    .struct_size = sizeof(struct sylk_subscription_handler),
    .ended = subscription_ended,
    .refreshed = subscription_refreshed,
};

void room_subscribe(struct room *room, sylk_subscription *sub)
{
    struct watcher *w = g_new0(struct watcher, 1);
    w->subscription = sub;
    w->room = room;
    conf_host()->subscription_set_handler(sub, &subscription_handler, w);
    if (conf_host()->subscription_accept(sub) < 0) {
        g_free(w);
        return;
    }
    g_ptr_array_add(room->subscriptions, w);
    notify(room, &w, 1);
}

void rooms_shutdown(void)
{
    GList *all = g_hash_table_get_values(rooms);
    for (GList *l = all; l; l = l->next) {
        struct room *room = l->data;
        while (room->participants->len) /* their sessions have ended before shutdown */
            participant_free(g_ptr_array_steal_index(room->participants, 0));
        room_free(room);
    }
    g_list_free(all);
    g_hash_table_destroy(rooms);
}
