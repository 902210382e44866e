/*
 * files.c — files shared in a room. See files.h.
 */
#include "files.h"

#include "policy.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define LOG(level, ...) conf_host()->log(CONF_NAME, level, __VA_ARGS__)

struct transfer {
    struct room *room;
    sylk_session *session;
    sylk_stream *stream;
    bool upload;
    char *sender;      /* sip:user@host */
    char *sender_name; /* how notices name it */
    char *display;     /* upload: its nickname or display name, or NULL */
    char *name;        /* stored name it will get (upload) */
    char *tmp_path;    /* upload: where it is being written */
    char *hash;        /* offered */
    char *type;
    uint64_t size;          /* offered */
    struct room_file *file; /* download: what is sent (owned by the room) */
};

void room_file_free(struct room_file *f)
{
    g_free(f->name);
    g_free(f->hash);
    g_free(f->sender);
    g_free(f->sender_name);
    g_free(f->type);
    g_free(f->path);
    g_free(f);
}

static char *room_dir(const struct room *room)
{
    return g_build_filename(conf_settings()->files_dir, room->key, "files", NULL);
}

static char *meta_path(const struct room *room, const char *name)
{
    g_autofree char *dir = room_dir(room);
    g_autofree char *file = g_strconcat(name, ".ini", NULL);
    return g_build_filename(dir, ".meta", file, NULL);
}

static struct room_file *find_by_name(const struct room *room, const char *name)
{
    for (guint i = 0; i < room->files->len; i++) {
        struct room_file *f = g_ptr_array_index(room->files, i);
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static bool name_taken(const struct room *room, const char *name)
{
    if (find_by_name(room, name))
        return true;
    for (guint i = 0; i < room->transfers->len; i++) {
        const struct transfer *t = g_ptr_array_index(room->transfers, i);
        if (t->upload && strcmp(t->name, name) == 0)
            return true;
    }
    return false;
}

/* "report.pdf", else "report (2).pdf", "report (3).pdf"… */
static char *unique_name(const struct room *room, const char *name)
{
    if (!name_taken(room, name))
        return g_strdup(name);
    const char *dot = strrchr(name, '.');
    g_autofree char *stem =
        dot && dot != name ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
    const char *ext = dot && dot != name ? dot : "";
    for (unsigned n = 2;; n++) {
        char *candidate = g_strdup_printf("%s (%u)%s", stem, n, ext);
        if (!name_taken(room, candidate))
            return candidate;
        g_free(candidate);
    }
}

static uint64_t bytes_used(const struct room *room)
{
    uint64_t n = 0;
    for (guint i = 0; i < room->files->len; i++)
        n += ((struct room_file *)g_ptr_array_index(room->files, i))->size;
    for (guint i = 0; i < room->transfers->len; i++) {
        const struct transfer *t = g_ptr_array_index(room->transfers, i);
        n += t->upload && t->tmp_path ? t->size : 0; /* being written */
    }
    return n;
}

/* ------------------------------------------------------------------ the store --- */

static bool write_meta(const struct room *room, const struct room_file *f, GError **error)
{
    g_autofree char *path = meta_path(room, f->name);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_string(kf, "file", "name", f->name);
    g_key_file_set_string(kf, "file", "hash", f->hash);
    g_key_file_set_string(kf, "file", "sender", f->sender);
    if (f->sender_name)
        g_key_file_set_string(kf, "file", "sender_name", f->sender_name);
    g_key_file_set_string(kf, "file", "type", f->type);
    g_key_file_set_uint64(kf, "file", "size", f->size);
    gsize len;
    g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
    return g_file_set_contents(path, data, (gssize)len, error); /* temporary file + rename */
}

/* A stored file from its metadata, when its data is there with the right size. */
static struct room_file *read_meta(const struct room *room, const char *meta)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    if (!g_key_file_load_from_file(kf, meta, G_KEY_FILE_NONE, NULL))
        return NULL;
    g_autofree char *name = g_key_file_get_string(kf, "file", "name", NULL);
    g_autofree char *hash = g_key_file_get_string(kf, "file", "hash", NULL);
    g_autofree char *clean = name ? files_sanitize_name(name) : NULL;
    if (!name || !hash || strcmp(name, clean) != 0) /* nothing outside the room's folder */
        return NULL;
    g_autofree char *dir = room_dir(room);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    GStatBuf st;
    uint64_t size = g_key_file_get_uint64(kf, "file", "size", NULL);
    if (g_stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
        return NULL;
    struct room_file *f = g_new0(struct room_file, 1);
    f->name = g_steal_pointer(&name);
    f->hash = g_steal_pointer(&hash);
    f->sender = g_key_file_get_string(kf, "file", "sender", NULL);
    f->sender_name = g_key_file_get_string(kf, "file", "sender_name", NULL);
    f->type = g_key_file_get_string(kf, "file", "type", NULL);
    if (!f->sender)
        f->sender = g_strdup("");
    if (!f->type)
        f->type = g_strdup("application/octet-stream");
    f->size = size;
    f->path = g_steal_pointer(&path);
    return f;
}

static void remove_leftovers(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;
    while (d && (entry = g_dir_read_name(d))) {
        if (!g_str_has_prefix(entry, ".upload-"))
            continue;
        g_autofree char *path = g_build_filename(dir, entry, NULL);
        LOG(SYLK_LOG_INFO, "removing the incomplete upload %s", path);
        g_unlink(path);
    }
}

/* A room's stored files (keep_files): those whose data and metadata are both complete. */
static void load_stored(struct room *room, const char *meta_dir)
{
    g_autoptr(GDir) d = g_dir_open(meta_dir, 0, NULL);
    const char *entry;
    while (d && (entry = g_dir_read_name(d))) {
        g_autofree char *meta = g_build_filename(meta_dir, entry, NULL);
        struct room_file *f = g_str_has_suffix(entry, ".ini") ? read_meta(room, meta) : NULL;
        if (!f) {
            LOG(SYLK_LOG_INFO, "room %s: %s lists no complete file; removed", room->uri, meta);
            g_unlink(meta);
            continue;
        }
        g_ptr_array_add(room->files, f);
    }
    if (room->files->len)
        LOG(SYLK_LOG_INFO, "room %s: %u stored file%s", room->uri, room->files->len,
            room->files->len == 1 ? "" : "s");
}

/*
 * The room's folders that hold nothing go (a room's folder is made by its first upload):
 * rmdir removes only an empty folder, so one that holds kept files stays.
 */
static void remove_empty_dirs(const struct room *room)
{
    g_autofree char *dir = room_dir(room);
    g_autofree char *meta_dir = g_build_filename(dir, ".meta", NULL);
    g_autofree char *room_path = g_path_get_dirname(dir);
    g_autofree char *screens = g_build_filename(room_path, "screens", NULL);
    g_rmdir(meta_dir);
    g_rmdir(dir);
    g_rmdir(screens); /* empty once every sharing has ended */
    g_rmdir(room_path);
}

void files_room_open(struct room *room)
{
    g_autofree char *dir = room_dir(room);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
        return;
    remove_leftovers(dir);
    if (conf_settings()->keep_files) {
        g_autofree char *meta_dir = g_build_filename(dir, ".meta", NULL);
        load_stored(room, meta_dir);
    }
    remove_empty_dirs(room); /* what a crash in an upload left, and nothing else */
}

static void remove_file(const struct room *room, const struct room_file *f)
{
    g_autofree char *meta = meta_path(room, f->name);
    g_unlink(f->path);
    g_unlink(meta);
}

static void transfer_free(struct transfer *t)
{
    if (t->tmp_path)
        g_unlink(t->tmp_path); /* an upload that did not complete */
    g_free(t->sender);
    g_free(t->sender_name);
    g_free(t->display);
    g_free(t->name);
    g_free(t->tmp_path);
    g_free(t->hash);
    g_free(t->type);
    g_free(t);
}

/* The transfer's session is over (or the room ends): forget it. */
static void transfer_end(struct transfer *t)
{
    if (t->room)
        g_ptr_array_remove(t->room->transfers, t);
    conf_host()->session_set_handler(t->session, NULL, NULL);
    transfer_free(t);
}

void files_room_close(struct room *room)
{
    /*
     * Transfers end with the room, but each is freed when its session has ended: until then
     * the core may still report it (`done`, when the connection goes). An upload's partial
     * data goes now; it is written to a file already open, not made again.
     */
    while (room->transfers->len) {
        struct transfer *t = g_ptr_array_steal_index(room->transfers, 0);
        t->room = NULL;
        t->file = NULL; /* the room's list of files goes */
        if (t->tmp_path)
            g_unlink(t->tmp_path);
        g_clear_pointer(&t->tmp_path, g_free);
        conf_host()->session_terminate(t->session);
    }
    for (guint i = 0; i < room->files->len && !conf_settings()->keep_files; i++)
        remove_file(room, g_ptr_array_index(room->files, i));
    remove_empty_dirs(room);
}

/* -------------------------------------------------------------- transfers --- */

static void session_ended(sylk_session *session, int status, const char *reason, void *user_data)
{
    (void)session;
    (void)status;
    (void)reason;
    transfer_end(user_data);
}

static void push_to_participants(struct room *room, const struct room_file *f,
                                 const char *sender_key);

/* "5.2 MB": GLib's words, with a plain space (it writes a no-break space). */
static char *size_words(uint64_t size)
{
    g_autofree char *text = g_format_size(size);
    GString *s = g_string_new(text);
    g_string_replace(s, "\u00a0", " ", 0);
    return g_string_free(s, FALSE);
}

/* An upload is complete and checked: it is published (metadata first, then the data). */
static void publish(struct transfer *t, const char *hash, uint64_t size)
{
    struct room *room = t->room;
    struct room_file *f = g_new0(struct room_file, 1);
    g_autofree char *dir = room_dir(room);
    f->name = g_strdup(t->name);
    f->hash = g_strdup(hash);
    f->sender = g_strdup(t->sender);
    f->sender_name = g_strdup(t->display);
    f->type = g_strdup(t->type);
    f->size = size;
    f->path = g_build_filename(dir, f->name, NULL);
    g_autoptr(GError) error = NULL;
    if (!write_meta(room, f, &error) || g_rename(t->tmp_path, f->path) != 0) {
        LOG(SYLK_LOG_WARNING, "room %s: cannot store %s: %s", room->uri, f->name,
            error ? error->message : g_strerror(errno));
        remove_file(room, f);
        room_file_free(f);
        return;
    }
    g_clear_pointer(&t->tmp_path, g_free); /* it is the published file now */
    g_ptr_array_add(room->files, f);
    g_autofree char *size_text = size_words(size);
    LOG(SYLK_LOG_INFO, "room %s: %s uploaded %s (%" G_GUINT64_FORMAT " bytes, %s)", room->uri,
        t->sender, f->name, size, hash);
    room_notice(room, NULL, "%s has uploaded file %s (%s)", t->sender_name, f->name, size_text);
    room_changed(room);
    if (conf_settings()->push_file_transfer) {
        g_autofree char *key = conf_uri_key(t->sender);
        push_to_participants(room, f, key);
    }
}

static void upload_done(sylk_stream *stream, int status, const char *hash, uint64_t size,
                        void *user_data)
{
    struct transfer *t = user_data;
    (void)stream;
    if (!t->room) /* the room has ended, and the session is ending */
        return;
    const char *why = NULL;
    if (status != 200)
        why = "incomplete";
    else if (t->size && size != t->size)
        why = "not the size offered";
    else if (t->hash && (!hash || g_ascii_strcasecmp(hash, t->hash) != 0))
        why = "not the SHA-1 offered";
    if (why) {
        LOG(SYLK_LOG_INFO, "room %s: upload of %s from %s discarded: %s (status %d)", t->room->uri,
            t->name, t->sender, why, status);
        g_unlink(t->tmp_path);
        g_clear_pointer(&t->tmp_path, g_free);
    } else {
        publish(t, hash, size);
    }
    conf_host()->session_terminate(t->session);
}

static void download_done(sylk_stream *stream, int status, const char *hash, uint64_t size,
                          void *user_data)
{
    struct transfer *t = user_data;
    (void)stream;
    (void)hash;
    if (!t->room)
        return;
    LOG(SYLK_LOG_INFO, "room %s: %s sent to %s: status %d, %" G_GUINT64_FORMAT " bytes",
        t->room->uri, t->file->name, t->sender, status, size);
    conf_host()->session_terminate(t->session);
}

static const struct sylk_file_handler upload_handler = {
    .struct_size = sizeof(struct sylk_file_handler),
    .done = upload_done,
};

static const struct sylk_file_handler download_handler = {
    .struct_size = sizeof(struct sylk_file_handler),
    .done = download_done,
};

/* The download session is up: the file goes out. */
static void download_established(sylk_session *session, void *user_data)
{
    struct transfer *t = user_data;
    (void)session;
    if (!t->room) /* a push answered after the room ended: its session is ending */
        return;
    int rc = conf_host()->file_send(t->stream, t->file->path, &download_handler, t);
    if (rc < 0) {
        LOG(SYLK_LOG_WARNING, "room %s: cannot send %s: %s", t->room->uri, t->file->path,
            g_strerror(-rc));
        conf_host()->session_terminate(t->session);
    }
}

static const struct sylk_session_handler upload_session_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .ended = session_ended,
};

static const struct sylk_session_handler download_session_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .established = download_established,
    .ended = session_ended,
};

static struct transfer *transfer_new(struct room *room, sylk_session *session, sylk_stream *stream,
                                     bool upload, const char *sender, const char *sender_name)
{
    struct transfer *t = g_new0(struct transfer, 1);
    t->room = room;
    t->session = session;
    t->stream = stream;
    t->upload = upload;
    t->sender = g_strdup(sender);
    t->sender_name = g_strdup(sender_name);
    g_ptr_array_add(room->transfers, t);
    return t;
}

/* A stored file the selector asks for: the same SHA-1, else the same name and size. */
static struct room_file *find_wanted(const struct room *room, const struct sylk_file_info *info)
{
    for (guint i = 0; info->hash_sha1 && i < room->files->len; i++) {
        struct room_file *f = g_ptr_array_index(room->files, i);
        if (g_ascii_strcasecmp(f->hash, info->hash_sha1) == 0)
            return f;
    }
    for (guint i = 0; info->name && i < room->files->len; i++) {
        struct room_file *f = g_ptr_array_index(room->files, i);
        if (strcmp(f->name, info->name) == 0 && (!info->size || info->size == f->size))
            return f;
    }
    return NULL;
}

static void start_download(struct room *room, sylk_session *session, sylk_stream *stream,
                           const struct sylk_file_info *info, const char *who)
{
    struct room_file *f = find_wanted(room, info);
    if (!f) {
        LOG(SYLK_LOG_INFO, "room %s: %s asks for %s (%s): no such file", room->uri, who,
            info->name ? info->name : "?", info->hash_sha1 ? info->hash_sha1 : "no hash");
        conf_host()->session_reject(session, 404, "File Not Found");
        return;
    }
    struct transfer *t = transfer_new(room, session, stream, false, who, who);
    t->file = f;
    conf_host()->session_set_handler(session, &download_session_handler, t);
    if (conf_host()->session_accept(session, &stream, 1) < 0)
        LOG(SYLK_LOG_WARNING, "room %s: cannot answer %s's download", room->uri, who);
}

static void start_upload(struct room *room, sylk_session *session, sylk_stream *stream,
                         const struct sylk_file_info *info, const char *who, const char *who_name,
                         const char *display)
{
    const struct conf_settings *cs = conf_settings();
    uint64_t size = info->size ? info->size : CONF_UNSIZED_LIMIT;
    if (cs->max_file_size && size > cs->max_file_size) {
        LOG(SYLK_LOG_INFO, "room %s: %s's file %s: %" G_GUINT64_FORMAT " bytes > max_file_size",
            room->uri, who, info->name ? info->name : "?", size);
        conf_host()->session_reject(session, 488, "File Too Large");
        return;
    }
    if (cs->room_quota && bytes_used(room) + size > cs->room_quota) {
        LOG(SYLK_LOG_INFO, "room %s: %s's file would pass the room's quota", room->uri, who);
        conf_host()->session_reject(session, 488, "Room File Quota Exceeded");
        return;
    }
    g_autofree char *dir = room_dir(room);
    g_autofree char *meta_dir = g_build_filename(dir, ".meta", NULL);
    if (g_mkdir_with_parents(meta_dir, 0700) != 0) { /* the room's first upload makes them */
        LOG(SYLK_LOG_WARNING, "room %s: cannot make %s: %s", room->uri, meta_dir,
            g_strerror(errno));
        conf_host()->session_reject(session, 500, "Cannot Store The File");
        return;
    }
    g_autofree char *clean = files_sanitize_name(info->name);
    char *name = unique_name(room, clean);
    struct transfer *t = transfer_new(room, session, stream, true, who, who_name);
    t->display = g_strdup(display);
    t->name = name;
    t->hash = g_strdup(info->hash_sha1);
    t->type = g_strdup(info->type ? info->type : "application/octet-stream");
    t->size = size;
    char token[17];
    g_snprintf(token, sizeof(token), "%08x%08x", g_random_int(), g_random_int());
    g_autofree char *tmp_name = g_strconcat(".upload-", token, NULL);
    t->tmp_path = g_build_filename(dir, tmp_name, NULL);
    conf_host()->session_set_handler(session, &upload_session_handler, t);
    int rc = conf_host()->file_receive(stream, t->tmp_path, &upload_handler, t);
    if (rc < 0) {
        LOG(SYLK_LOG_WARNING, "room %s: cannot write %s: %s", room->uri, t->tmp_path,
            g_strerror(-rc));
        conf_host()->session_reject(session, 500, "Cannot Store The File");
        return;
    }
    LOG(SYLK_LOG_INFO, "room %s: %s uploads %s as %s (%" G_GUINT64_FORMAT " bytes)", room->uri, who,
        info->name ? info->name : "?", t->name, size);
    if (conf_host()->session_accept(session, &stream, 1) < 0)
        LOG(SYLK_LOG_WARNING, "room %s: cannot answer %s's upload", room->uri, who);
}

/* The sender's name in the room (nickname, display name), else its INVITE's, or NULL. */
static const char *sender_display(struct room *room, const char *key,
                                  const struct sylk_request_info *req)
{
    g_autoptr(GPtrArray) mine = room_participants_of(room, key, NULL);
    if (mine->len) {
        const struct participant *p = g_ptr_array_index(mine, 0);
        return p->nickname ? p->nickname : p->display;
    }
    return req->from_display && *req->from_display ? req->from_display : NULL;
}

void files_incoming_session(struct room *room, sylk_session *session, sylk_stream *stream,
                            const struct sylk_request_info *req)
{
    struct sylk_file_info info = {.struct_size = sizeof(info)};
    conf_host()->stream_file_info(stream, &info);
    g_autofree char *key = conf_uri_key(req->from_uri);
    g_autofree char *who = g_strdup_printf("sip:%s", key);
    const char *display = sender_display(room, key, req);
    const char *name = display ? display : key;
    /* our direction: recvonly when the peer sends (push), sendonly when it asks (pull) */
    enum sylk_direction ours = conf_host()->stream_direction(stream);
    if (ours == SYLK_DIR_RECVONLY)
        start_upload(room, session, stream, &info, who, name, display);
    else if (ours == SYLK_DIR_SENDONLY)
        start_download(room, session, stream, &info, who);
    else
        conf_host()->session_reject(session, 488, "File Transfer Is One Way");
}

/* ------------------------------------------------------- push to participants --- */

/* push_file_transfer: the room offers a new file to every other participant (RFC 5547 push). */
static void push_to_participants(struct room *room, const struct room_file *f,
                                 const char *sender_key)
{
    g_autoptr(GHashTable) done = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *from = g_strdup_printf("\"Conference Call\" <%s>", room->uri);
    static const enum sylk_media_type media[] = {SYLK_MEDIA_FILE_TRANSFER};
    for (guint i = 0; i < room->participants->len; i++) {
        struct participant *p = g_ptr_array_index(room->participants, i);
        if (!p->established || strcmp(p->key, sender_key) == 0 ||
            g_hash_table_contains(done, p->key))
            continue;
        g_hash_table_add(done, p->key);
        struct sylk_file_info info = {.struct_size = sizeof(info),
                                      .name = f->name,
                                      .type = f->type,
                                      .size = f->size,
                                      .hash_sha1 = f->hash};
        struct sylk_session_params params = {
            .struct_size = sizeof(params),
            .from = from,
            .to = p->uri,
            .request_uri = p->contact, /* where its INVITE came from: the AOR may not route */
            .media = media,
            .media_count = 1,
            .files = &info,
            .file_count = 1,
            .focus = true,
        };
        sylk_session *session = conf_host()->session_connect(&params);
        if (!session) {
            LOG(SYLK_LOG_WARNING, "room %s: cannot offer %s to %s", room->uri, f->name, p->uri);
            continue;
        }
        struct transfer *t = transfer_new(room, session, conf_host()->session_stream(session, 0),
                                          false, p->uri, p->uri);
        t->file = (struct room_file *)f;
        conf_host()->session_set_handler(session, &download_session_handler, t);
    }
}
