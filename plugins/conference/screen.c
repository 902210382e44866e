/*
 * screen.c — screen sharing. See screen.h.
 */
#include "screen.h"

#include "files.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define LOG(level, ...) conf_host()->log(CONF_NAME, level, __VA_ARGS__)

struct screen {
    sylk_web_item *item;
    char *path; /* save_screen_images: where the latest image is kept, or NULL */
    gint64 last_image_us;
    sylk_timer *timer; /* checks for the timeout once a second */
};

const char *screen_url(const struct participant *p)
{
    return p->screen ? conf_host()->web_item_url(p->screen->item) : NULL;
}

void screen_stop(struct participant *p, bool notify)
{
    struct screen *s = p->screen;
    if (!s)
        return;
    LOG(SYLK_LOG_INFO, "room %s: %s stopped sharing the screen", p->room->uri, p->uri);
    p->screen = NULL;
    conf_host()->timer_cancel(s->timer);
    conf_host()->web_item_free(s->item);
    if (s->path)
        g_unlink(s->path);
    g_free(s->path);
    g_free(s);
    if (notify) {
        room_notice(p->room, NULL, "%s stopped sharing the screen", participant_name(p));
        room_changed(p->room);
    }
}

static void check_timeout(sylk_timer *timer, void *user_data)
{
    struct participant *p = user_data;
    (void)timer;
    gint64 idle = g_get_monotonic_time() - p->screen->last_image_us;
    if (idle >= conf_settings()->screen_sharing_timeout * G_USEC_PER_SEC)
        screen_stop(p, true);
}

static int screen_start(struct participant *p)
{
    g_autofree char *title =
        g_strdup_printf("%s's screen in %s", participant_name(p), p->room->key);
    sylk_web_item *item = conf_host()->web_item_new(title);
    if (!item)
        return 503;
    struct screen *s = g_new0(struct screen, 1);
    s->item = item;
    s->timer = conf_host()->timer_add(1000, true, check_timeout, p);
    if (conf_settings()->save_screen_images) {
        g_autofree char *dir =
            g_build_filename(conf_settings()->files_dir, p->room->key, "screens", NULL);
        g_autofree char *user = files_sanitize_name(p->key); /* a SIP user may have a '/' */
        g_autofree char *name = g_strconcat(user, ".jpg", NULL);
        if (g_mkdir_with_parents(dir, 0700) == 0)
            s->path = g_build_filename(dir, name, NULL);
        else
            LOG(SYLK_LOG_WARNING, "room %s: cannot make %s: %s", p->room->uri, dir,
                g_strerror(errno));
    }
    p->screen = s;
    return 200;
}

int screen_image(struct participant *p, const void *body, size_t len)
{
    if (len > conf_settings()->max_screen_image)
        return 413;
    g_autoptr(GBytes) image = screen_decode(body, len);
    if (!image) {
        LOG(SYLK_LOG_INFO, "room %s: %s sent a screen image that is not a JPEG", p->room->uri,
            p->uri);
        return 415;
    }
    bool started = !p->screen;
    if (started) {
        int status = screen_start(p);
        if (status != 200)
            return status;
    }
    gsize size;
    const void *data = g_bytes_get_data(image, &size);
    int rc = conf_host()->web_item_set(p->screen->item, "image/jpeg", data, size);
    if (rc < 0) {
        LOG(SYLK_LOG_INFO, "room %s: %s's screen image refused: %d", p->room->uri, p->uri, rc);
        if (started)
            screen_stop(p, false);
        return 413;
    }
    p->screen->last_image_us = g_get_monotonic_time();
    g_autoptr(GError) error = NULL;
    if (p->screen->path && !g_file_set_contents(p->screen->path, data, (gssize)size, &error))
        LOG(SYLK_LOG_WARNING, "room %s: %s", p->room->uri, error->message);
    if (started) {
        const char *url = screen_url(p);
        LOG(SYLK_LOG_INFO, "room %s: %s shares the screen at %s", p->room->uri, p->uri, url);
        room_notice(p->room, NULL, "%s is sharing the screen at %s", participant_name(p), url);
        room_changed(p->room);
    }
    return 200;
}
