/*
 * sdp.c — parse with sofia-sip (sdp_parse), negotiate, print by hand.
 *
 * We print rather than use sdp_print so that answers look exactly like what we mean: one line
 * per accepted codec, refused streams keeping their offered formats (RFC 3264 §6).
 */
#define G_LOG_DOMAIN "sylk-sdp"
#include "sdp.h"

#include <errno.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>
#include <string.h>

#define TELEPHONE_EVENT_PT 101

static const struct codec {
    const char *name;
    int pt;
    unsigned clock;
} codecs_known[] = {
    {"PCMU", 0, 8000},
    {"PCMA", 8, 8000},
    {"G722", 9, 8000}, /* RFC 3551: 8000 in SDP although G.722 samples at 16 kHz */
};

bool sylk_sdp_codec_info(const char *name, int *pt, unsigned *clock)
{
    for (size_t i = 0; i < G_N_ELEMENTS(codecs_known); i++) {
        if (g_ascii_strcasecmp(name, codecs_known[i].name) == 0) {
            *pt = codecs_known[i].pt;
            *clock = codecs_known[i].clock;
            return true;
        }
    }
    return false;
}

enum sylk_direction sylk_sdp_reverse(enum sylk_direction d)
{
    switch (d) {
    case SYLK_DIR_SENDONLY:
        return SYLK_DIR_RECVONLY;
    case SYLK_DIR_RECVONLY:
        return SYLK_DIR_SENDONLY;
    default:
        return d;
    }
}

static const char *codec_static_name(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(codecs_known); i++) {
        if (g_ascii_strcasecmp(name, codecs_known[i].name) == 0)
            return codecs_known[i].name;
    }
    return NULL;
}

/* Picks the most preferred known codec the stream offers, and telephone-event. */
static void choose_codec(struct sylk_sdp_media *out, const sdp_media_t *m, char *const *prefs)
{
    out->dtmf_pt = -1;
    for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
        if (rm->rm_encoding && g_ascii_strcasecmp(rm->rm_encoding, "telephone-event") == 0 &&
            rm->rm_rate == 8000 && out->dtmf_pt < 0)
            out->dtmf_pt = rm->rm_pt;
    }
    for (unsigned i = 0; prefs && prefs[i]; i++) {
        int pt;
        unsigned clock;
        if (!sylk_sdp_codec_info(prefs[i], &pt, &clock))
            continue;
        for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
            if (rm->rm_encoding && g_ascii_strcasecmp(rm->rm_encoding, prefs[i]) == 0 &&
                rm->rm_rate == clock) {
                out->pt = rm->rm_pt;
                out->codec = codec_static_name(prefs[i]);
                out->clock = clock;
                out->usable = true;
                return;
            }
        }
    }
}

static char *format_list(const sdp_media_t *m)
{
    GString *s = g_string_new(NULL);
    for (const sdp_list_t *l = m->m_format; l; l = l->l_next)
        g_string_append_printf(s, "%s%s", s->len ? " " : "", l->l_text);
    if (s->len == 0) {
        for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next)
            g_string_append_printf(s, "%s%u", s->len ? " " : "", rm->rm_pt);
    }
    if (s->len == 0)
        g_string_append(s, "*");
    return g_string_free(s, FALSE);
}

static enum sylk_media_type media_type(const sdp_media_t *m)
{
    switch (m->m_type) {
    case sdp_media_audio:
        return SYLK_MEDIA_AUDIO;
    case sdp_media_video:
        return SYLK_MEDIA_VIDEO;
    case sdp_media_message:
        return SYLK_MEDIA_CHAT;
    default:
        return SYLK_MEDIA_UNKNOWN;
    }
}

static void parse_media(struct sylk_sdp_media *out, const sdp_media_t *m, char *const *prefs)
{
    out->type = media_type(m);
    out->media = g_strdup(m->m_type_name ? m->m_type_name : "unknown");
    out->proto = g_strdup(m->m_proto_name ? m->m_proto_name : "RTP/AVP");
    out->formats = format_list(m);
    out->port = (unsigned)m->m_port;
    out->rtcp_port = out->port ? out->port + 1 : 0;
    out->direction = (enum sylk_direction)m->m_mode;
    out->dtmf_pt = -1;
    const sdp_connection_t *c = sdp_media_connections(m);
    if (c && c->c_address)
        out->address = g_strdup(c->c_address);
    const sdp_attribute_t *rtcp = sdp_attribute_find(m->m_attributes, "rtcp");
    if (rtcp && rtcp->a_value) {
        guint64 p = g_ascii_strtoull(rtcp->a_value, NULL, 10);
        if (p > 0 && p < 65536)
            out->rtcp_port = (unsigned)p;
    }
    /* Only plain RTP audio in this version; SRTP (RTP/SAVP) comes with the media engine. */
    if (out->type == SYLK_MEDIA_AUDIO && m->m_proto == sdp_proto_rtp && out->port && out->address &&
        !m->m_rejected)
        choose_codec(out, m, prefs);
}

/* RFC 4566 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
static bool token_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B || c == 0x2D ||
           c == 0x2E || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) ||
           (c >= 0x5E && c <= 0x7E);
}

/* m=<media> <port>[/<number>] <proto> <fmt> … (RFC 4566 §5.14), fields separated by one space */
static bool m_line_valid(const char *line, size_t len)
{
    unsigned field = 0;
    size_t field_len = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)line[i] : ' ';
        if (c == ' ') {
            if (field_len == 0)
                return false;
            field++;
            field_len = 0;
            continue;
        }
        field_len++;
        bool ok = field == 1   ? (g_ascii_isdigit(c) || c == '/')
                  : field == 2 ? (token_char(c) || c == '/')
                               : token_char(c);
        if (!ok)
            return false;
    }
    return field >= 4;
}

/*
 * Checks what sofia-sip's parser does not survive: an m= line outside the RFC 4566 grammar
 * ('=' or '/' or a non-ASCII byte among the formats, …) makes sdp_parse allocate list entries
 * until memory runs out (found by fuzzing). So m= lines are checked against the grammar, the
 * other lines made of ASCII fields must be ASCII, and control characters other than CR, LF and
 * TAB are refused anywhere.
 */
static const char *sdp_text_problem(const char *body, size_t len)
{
    const char *end = body + len;
    for (const char *line = body; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((nl ? nl : end) - line);
        if (n && line[n - 1] == '\r')
            n--;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return "control character in SDP";
            if (c >= 0x80 && strchr("vocmtb", line[0]))
                return "non-ASCII byte in an SDP line made of tokens";
        }
        if (n >= 2 && line[0] == 'm' && line[1] == '=' && !m_line_valid(line + 2, n - 2))
            return "m= line does not follow RFC 4566 (media port proto formats)";
        line += n;
        while (line < end && (*line == '\r' || *line == '\n'))
            line++;
    }
    return NULL;
}

int sylk_sdp_parse(const char *body, size_t len, char *const *codecs, struct sylk_sdp *out,
                   char **error)
{
    memset(out, 0, sizeof(*out));
    if (!body || len == 0) {
        *error = g_strdup("empty SDP body");
        return -EINVAL;
    }
    if (len > SYLK_SDP_MAX_SIZE) {
        *error = g_strdup_printf("SDP body of %zu bytes is larger than %d", len, SYLK_SDP_MAX_SIZE);
        return -EINVAL;
    }
    const char *problem = sdp_text_problem(body, len);
    if (problem) {
        *error = g_strdup_printf("malformed SDP: %s", problem);
        return -EINVAL;
    }
    su_home_t *home = su_home_new(sizeof(su_home_t));
    int ret = 0;
    sdp_parser_t *parser = sdp_parse(home, body, (issize_t)len, sdp_f_strict);
    sdp_session_t *session = sdp_session(parser);
    if (!session) {
        *error = g_strdup_printf("malformed SDP: %s", sdp_parsing_error(parser));
        ret = -EINVAL;
        goto out;
    }
    if (!session->sdp_media) {
        *error = g_strdup("SDP has no m= line");
        ret = -EINVAL;
        goto out;
    }
    for (const sdp_media_t *m = session->sdp_media; m; m = m->m_next) {
        if (out->count == SYLK_SDP_MAX_STREAMS) {
            *error = g_strdup_printf("SDP has more than %d m= lines", SYLK_SDP_MAX_STREAMS);
            ret = -EINVAL;
            goto out;
        }
        parse_media(&out->m[out->count++], m, codecs);
    }
out:
    if (parser)
        sdp_parser_free(parser);
    su_home_unref(home);
    if (ret)
        sylk_sdp_clear(out);
    return ret;
}

void sylk_sdp_clear(struct sylk_sdp *sdp)
{
    for (unsigned i = 0; i < sdp->count; i++) {
        g_free(sdp->m[i].media);
        g_free(sdp->m[i].proto);
        g_free(sdp->m[i].formats);
        g_free(sdp->m[i].address);
    }
    memset(sdp, 0, sizeof(*sdp));
}

unsigned sylk_sdp_usable_count(const struct sylk_sdp *sdp)
{
    unsigned n = 0;
    for (unsigned i = 0; i < sdp->count; i++)
        n += sdp->m[i].usable;
    return n;
}

static const char *direction_attr(enum sylk_direction d)
{
    static const char *names[] = {"inactive", "sendonly", "recvonly", "sendrecv"};
    return names[d & 3];
}

static void print_audio(GString *s, const struct sylk_sdp_media *m, char *const *offer_codecs)
{
    g_string_append_printf(s, "m=audio %u RTP/AVP", m->port);
    if (offer_codecs) {
        for (unsigned i = 0; offer_codecs[i]; i++) {
            int pt;
            unsigned clock;
            if (sylk_sdp_codec_info(offer_codecs[i], &pt, &clock))
                g_string_append_printf(s, " %d", pt);
        }
        g_string_append_printf(s, " %d\r\n", TELEPHONE_EVENT_PT);
        for (unsigned i = 0; offer_codecs[i]; i++) {
            int pt;
            unsigned clock;
            if (sylk_sdp_codec_info(offer_codecs[i], &pt, &clock))
                g_string_append_printf(s, "a=rtpmap:%d %s/%u\r\n", pt,
                                       codec_static_name(offer_codecs[i]), clock);
        }
        g_string_append_printf(s, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n",
                               TELEPHONE_EVENT_PT, TELEPHONE_EVENT_PT);
    } else {
        if (m->dtmf_pt >= 0)
            g_string_append_printf(s, " %d %d\r\n", m->pt, m->dtmf_pt);
        else
            g_string_append_printf(s, " %d\r\n", m->pt);
        g_string_append_printf(s, "a=rtpmap:%d %s/%u\r\n", m->pt, m->codec, m->clock);
        if (m->dtmf_pt >= 0)
            g_string_append_printf(s, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n",
                                   m->dtmf_pt, m->dtmf_pt);
    }
    g_string_append_printf(s, "a=rtcp:%u\r\na=%s\r\n", m->rtcp_port, direction_attr(m->direction));
}

char *sylk_sdp_print(const struct sylk_sdp *sdp, const char *address, uint64_t sess_id,
                     unsigned version, char *const *offer_codecs)
{
    const char *family = strchr(address, ':') ? "IP6" : "IP4";
    GString *s = g_string_new(NULL);
    g_string_append_printf(s,
                           "v=0\r\no=- %" G_GUINT64_FORMAT " %u IN %s %s\r\ns=sylkserver\r\n"
                           "c=IN %s %s\r\nt=0 0\r\n",
                           sess_id, version, family, address, family, address);
    for (unsigned i = 0; i < sdp->count; i++) {
        const struct sylk_sdp_media *m = &sdp->m[i];
        if (m->port && m->type == SYLK_MEDIA_AUDIO)
            print_audio(s, m, offer_codecs);
        else /* refused, or a kind of stream this version does not carry */
            g_string_append_printf(s, "m=%s 0 %s %s\r\n", m->media, m->proto, m->formats);
    }
    return g_string_free(s, FALSE);
}

void sylk_sdp_copy(struct sylk_sdp *dst, const struct sylk_sdp *src)
{
    sylk_sdp_clear(dst);
    *dst = *src;
    for (unsigned i = 0; i < src->count; i++) {
        dst->m[i].media = g_strdup(src->m[i].media);
        dst->m[i].proto = g_strdup(src->m[i].proto);
        dst->m[i].formats = g_strdup(src->m[i].formats);
        dst->m[i].address = g_strdup(src->m[i].address);
    }
}
