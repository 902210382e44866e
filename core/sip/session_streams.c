/*
 * session_streams.c — the streams of a session (see session_streams.h): one per m= line given
 * to the plugin, their lifetime, and the SDK functions that describe them (type, direction,
 * enabled, codec, remote attributes, the local attributes a plugin sets for its answer).
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_streams.h"

#include "media/rtp.h"
#include "msrp/session.h"
#include "sip/endpoint.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

void sylk_session_stream_free(gpointer p)
{
    struct sylk_stream *st = p;
    sylk_rtp_close(st->rtp);
    sylk_msrp_session_free(st->msrp);
    if (st->file_fd >= 0)
        close(st->file_fd);
    sylk_file_selector_clear(&st->selector);
    for (size_t i = 0; i < G_N_ELEMENTS(st->local_attrs); i++)
        g_free(st->local_attrs[i]);
    g_free(st);
}

void sylk_session_add_stream(struct sylk_session *s, unsigned index)
{
    struct sylk_stream *st = g_new0(struct sylk_stream, 1);
    st->session = s;
    st->index = index;
    st->file_fd = -1;
    g_ptr_array_add(s->streams, st);
}

const struct sylk_sdp_media *sylk_session_stream_local(sylk_stream *st)
{
    struct sylk_session *s = st->session;
    if (st->endpoint)
        return sylk_endpoint_local(st->endpoint);
    if (st->index < s->local.count)
        return &s->local.m[st->index];
    return st->index < s->remote.count ? &s->remote.m[st->index] : NULL;
}

size_t sylk_session_stream_count(sylk_session *s)
{
    return s ? s->streams->len : 0;
}

sylk_stream *sylk_session_stream(sylk_session *s, size_t index)
{
    return s && index < s->streams->len ? g_ptr_array_index(s->streams, index) : NULL;
}

enum sylk_media_type sylk_stream_type(sylk_stream *st)
{
    if (st && st->endpoint)
        return SYLK_MEDIA_AUDIO; /* before its negotiation too */
    const struct sylk_sdp_media *m = st ? sylk_session_stream_local(st) : NULL;
    return m ? m->type : SYLK_MEDIA_UNKNOWN;
}

enum sylk_direction sylk_stream_direction(sylk_stream *st)
{
    if (!st)
        return SYLK_DIR_INACTIVE;
    if (st->endpoint) {
        const struct sylk_sdp_media *m = sylk_endpoint_local(st->endpoint);
        return m ? m->direction : SYLK_DIR_INACTIVE;
    }
    if (st->index < st->session->local.count)
        return st->session->local.m[st->index].direction;
    return sylk_sdp_reverse(st->session->remote.m[st->index].direction);
}

bool sylk_stream_enabled(sylk_stream *st)
{
    if (st && st->endpoint)
        return sylk_endpoint_active(st->endpoint);
    if (!st || st->session->state == S_ENDING || st->index >= st->session->local.count)
        return false;
    return st->session->local.m[st->index].port != 0;
}

/* The MSRP attributes the SDK names, in a media description. */
static char **msrp_attribute(struct sylk_sdp_media *m, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } attrs[] = {
        {"path", offsetof(struct sylk_sdp_media, msrp_path)},
        {"accept-types", offsetof(struct sylk_sdp_media, accept_types)},
        {"accept-wrapped-types", offsetof(struct sylk_sdp_media, accept_wrapped_types)},
        {"setup", offsetof(struct sylk_sdp_media, setup)},
        {"chatroom", offsetof(struct sylk_sdp_media, chatroom)},
        {"file-selector", offsetof(struct sylk_sdp_media, file_selector)},
        {"file-transfer-id", offsetof(struct sylk_sdp_media, file_transfer_id)},
    };
    for (size_t i = 0; name && i < G_N_ELEMENTS(attrs); i++) {
        if (strcmp(attrs[i].name, name) == 0)
            return (char **)((char *)m + attrs[i].offset);
    }
    return NULL;
}

const char *sylk_stream_remote_attribute(sylk_stream *st, const char *name)
{
    if (!st || st->endpoint || st->index >= st->session->remote.count)
        return NULL;
    char **value = msrp_attribute(&st->session->remote.m[st->index], name);
    return value ? *value : NULL;
}

int sylk_stream_set_local_attribute(sylk_stream *st, const char *name, const char *value)
{
    static const char *const settable[] = {"accept-types", "accept-wrapped-types", "chatroom"};
    if (!st || !name)
        return -EINVAL;
    size_t which = G_N_ELEMENTS(settable);
    for (size_t i = 0; i < G_N_ELEMENTS(settable); i++) {
        if (strcmp(settable[i], name) == 0)
            which = i;
    }
    enum sylk_media_type type = sylk_stream_type(st);
    if (which == G_N_ELEMENTS(settable) ||
        (type != SYLK_MEDIA_CHAT && type != SYLK_MEDIA_FILE_TRANSFER))
        return -ENOTSUP;
    if (value && (strpbrk(value, "\r\n") || strlen(value) > 1024))
        return -EINVAL;
    if (st->msrp || st->session->state == S_ENDING)
        return -EALREADY; /* our description of it is out */
    g_free(st->local_attrs[which]);
    st->local_attrs[which] = g_strdup(value ? value : "");
    return 0;
}

sylk_session *sylk_stream_session(sylk_stream *st)
{
    return st ? st->session : NULL;
}

const char *sylk_stream_codec(sylk_stream *st)
{
    return st && st->codec[0] ? st->codec : NULL;
}
