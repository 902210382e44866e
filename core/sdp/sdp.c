/*
 * sdp.c — parse with sofia-sip (sdp_parse), negotiate, print by hand.
 *
 * We print rather than use sdp_print so that answers look exactly like what we mean: one line
 * per accepted codec, refused streams keeping their offered formats (RFC 3264 §6).
 */
#define G_LOG_DOMAIN "sylk-sdp"
#include "sdp.h"

#include "msrp/uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#define TELEPHONE_EVENT_PT 101
#define MAX_PT             127

/* RTP payload types (0..127) of one m= line whose a=rtpmap or a=fmtp was malformed. */
struct pt_set {
    uint64_t bits[2];
};

static void pt_add(struct pt_set *set, unsigned pt)
{
    set->bits[pt / 64] |= UINT64_C(1) << (pt % 64);
}

static bool pt_has(const struct pt_set *set, unsigned pt)
{
    return pt <= MAX_PT && (set->bits[pt / 64] >> (pt % 64)) & 1;
}

/* The payload type we use for a codec in our own offers. */
static int offer_pt(const struct sylk_codec_info *info)
{
    return info->static_pt >= 0 ? info->static_pt : info->dynamic_pt;
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

/* fmtp of opus (RFC 7587): the options that shape our encoder. */
static void parse_fmtp(struct sylk_codec_options *o, const char *fmtp)
{
    if (!fmtp)
        return;
    g_auto(GStrv) params = g_strsplit(fmtp, ";", -1);
    for (unsigned i = 0; params[i]; i++) {
        char *kv = g_strstrip(params[i]);
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        guint64 v = g_ascii_strtoull(eq + 1, NULL, 10);
        if (g_ascii_strcasecmp(kv, "useinbandfec") == 0)
            o->fec = v == 1;
        else if (g_ascii_strcasecmp(kv, "maxplaybackrate") == 0 && v <= 48000)
            o->max_playback_rate = (unsigned)v;
        else if (g_ascii_strcasecmp(kv, "maxaveragebitrate") == 0 && v <= 510000)
            o->bitrate = (unsigned)v;
    }
}

static bool rtpmap_is(const sdp_rtpmap_t *rm, const struct sylk_codec_info *info)
{
    if (!rm->rm_encoding || g_ascii_strcasecmp(rm->rm_encoding, info->name) != 0 ||
        rm->rm_rate != info->sdp_clock)
        return false;
    /* opus is always "opus/48000/2" (RFC 7587); others are mono */
    unsigned channels = rm->rm_params ? (unsigned)g_ascii_strtoull(rm->rm_params, NULL, 10) : 1;
    return channels == info->sdp_channels;
}

/* telephone-event on the codec's clock if offered (RFC 4733 §2.1), else at 8000. */
static void choose_dtmf(struct sylk_sdp_media *out, const sdp_media_t *m,
                        const struct pt_set *broken)
{
    out->dtmf_pt = -1;
    for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
        if (!rm->rm_encoding || g_ascii_strcasecmp(rm->rm_encoding, "telephone-event") != 0 ||
            pt_has(broken, rm->rm_pt))
            continue;
        bool same_clock = rm->rm_rate == out->clock;
        if (same_clock || (rm->rm_rate == 8000 && out->dtmf_pt < 0)) {
            out->dtmf_pt = rm->rm_pt;
            out->dtmf_clock = (unsigned)rm->rm_rate;
            if (same_clock)
                return;
        }
    }
}

/* Picks the most preferred codec the stream offers, and telephone-event. */
static void choose_codec(struct sylk_sdp_media *out, const sdp_media_t *m, char *const *prefs,
                         const struct pt_set *broken)
{
    out->dtmf_pt = -1;
    for (unsigned i = 0; prefs && prefs[i]; i++) {
        for (const struct sylk_codec_info *info = sylk_codecs; info->name; info++) {
            if (g_ascii_strcasecmp(info->name, prefs[i]) != 0)
                continue;
            for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
                if (!rtpmap_is(rm, info) || pt_has(broken, rm->rm_pt))
                    continue;
                out->pt = rm->rm_pt;
                out->info = info;
                out->codec = info->name;
                out->clock = info->sdp_clock;
                parse_fmtp(&out->options, rm->rm_fmtp);
                out->usable = true;
                choose_dtmf(out, m, broken);
                return;
            }
        }
    }
}

/* The first a=crypto line with a suite we support (RFC 4568 §6.1: the offerer's order). */
static bool choose_crypto(struct sylk_sdp_media *out, const sdp_media_t *m)
{
    for (const sdp_attribute_t *a = m->m_attributes; a; a = a->a_next) {
        if (!a->a_name || g_ascii_strcasecmp(a->a_name, "crypto") != 0 || !a->a_value)
            continue;
        g_autofree char *error = NULL;
        if (sylk_sdes_parse(a->a_value, &out->crypto, &error) == 0)
            return true;
        g_debug("%s", error);
    }
    return false;
}

/* Whether the stream can be carried under the SRTP policy, and with which key. */
static bool settle_srtp(struct sylk_sdp_media *out, const sdp_media_t *m, enum sylk_srtp_mode mode)
{
    bool savp = m->m_proto == sdp_proto_srtp;
    if (mode == SYLK_SRTP_DISABLED)
        return !savp;
    out->secure = choose_crypto(out, m);
    if (mode == SYLK_SRTP_MANDATORY || savp)
        return out->secure;
    return true;
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
    case sdp_media_message: /* RFC 5547: a file-selector makes it a file transfer */
        return sdp_attribute_find(m->m_attributes, "file-selector") ? SYLK_MEDIA_FILE_TRANSFER
                                                                    : SYLK_MEDIA_CHAT;
    default:
        return SYLK_MEDIA_UNKNOWN;
    }
}

#define AUDIO_LEVEL_URI      "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define OFFER_AUDIO_LEVEL_ID 1

/*
 * RFC 6464 / RFC 8285: "a=extmap:ID[/direction] URI [attributes]". Only the one-byte header
 * form (ids 1..14) is taken; a direction that says the author will not send it is ignored.
 */
static unsigned audio_level_id(const sdp_media_t *m)
{
    for (const sdp_attribute_t *a = m->m_attributes; a; a = a->a_next) {
        if (!a->a_name || g_ascii_strcasecmp(a->a_name, "extmap") != 0 || !a->a_value)
            continue;
        char *end;
        guint64 id = g_ascii_strtoull(a->a_value, &end, 10);
        if (end == a->a_value || id < 1 || id > 14)
            continue;
        if (*end == '/') {
            const char *dir = end + 1;
            end += strcspn(end, " \t");
            if (g_str_has_prefix(dir, "recvonly") || g_str_has_prefix(dir, "inactive"))
                continue;
        }
        while (*end == ' ' || *end == '\t')
            end++;
        size_t n = strcspn(end, " \t");
        if (n == strlen(AUDIO_LEVEL_URI) && g_ascii_strncasecmp(end, AUDIO_LEVEL_URI, n) == 0)
            return (unsigned)id;
    }
    return 0;
}

static char *attr_dup(const sdp_media_t *m, const char *name)
{
    const sdp_attribute_t *a = sdp_attribute_find(m->m_attributes, name);
    return a && a->a_value ? g_strstrip(g_strdup(a->a_value)) : NULL;
}

/* The m=message line's MSRP attributes; usable with a valid path and accept-types. */
static void parse_msrp(struct sylk_sdp_media *out, const sdp_media_t *m,
                       const struct sylk_sdp_policy *policy)
{
    out->msrp_tls = g_ascii_strcasecmp(out->proto, "TCP/TLS/MSRP") == 0;
    bool proto_ok = out->msrp_tls || g_ascii_strcasecmp(out->proto, "TCP/MSRP") == 0;
    out->msrp_path = attr_dup(m, "path");
    out->accept_types = attr_dup(m, "accept-types");
    out->accept_wrapped_types = attr_dup(m, "accept-wrapped-types");
    out->setup = attr_dup(m, "setup");
    out->chatroom = attr_dup(m, "chatroom");
    out->file_selector = attr_dup(m, "file-selector");
    out->file_transfer_id = attr_dup(m, "file-transfer-id");
    g_autofree char *error = NULL;
    g_autoptr(GPtrArray) path =
        out->msrp_path ? sylk_msrp_path_parse(out->msrp_path, &error) : NULL;
    unsigned transport = out->msrp_tls ? SYLK_SDP_MSRP_TLS : SYLK_SDP_MSRP_TCP;
    out->usable = (policy->msrp & transport) && proto_ok && out->port && path &&
                  out->accept_types && *out->accept_types && !m->m_rejected;
}

/*
 * Whether RTP can flow to the connection address: a unicast IP address (not a host name: we
 * resolve none) of our media's family. Sets the refusal and returns false otherwise.
 */
static bool connection_usable(struct sylk_sdp_media *out, const sdp_connection_t *c, int family)
{
    unsigned char bin[sizeof(struct in6_addr)];
    if (!c || !c->c_address) {
        out->refusal_code = 399;
        out->refusal = "no connection address (c=) for the stream";
        return false;
    }
    int af = c->c_addrtype == sdp_addr_ip6 ? AF_INET6 : AF_INET;
    if (family && af != family) {
        out->refusal_code = 301;
        out->refusal = family == AF_INET ? "Incompatible network address format: IP6 "
                                           "(this server's media use IPv4)"
                                         : "Incompatible network address format: IP4 "
                                           "(this server's media use IPv6)";
        return false;
    }
    if (inet_pton(af, c->c_address, bin) != 1) {
        out->refusal_code = 301;
        out->refusal = "connection address is not an IP address (host names are not resolved)";
        return false;
    }
    bool multicast = af == AF_INET ? bin[0] >= 224 && bin[0] <= 239 : bin[0] == 0xff;
    if (multicast || c->c_mcast) {
        out->refusal_code = 330;
        out->refusal = "Multicast not available";
        return false;
    }
    return true;
}

static void parse_media(struct sylk_sdp_media *out, const sdp_media_t *m,
                        const struct sylk_sdp_policy *policy, const struct pt_set *broken)
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
    bool rtp = m->m_proto == sdp_proto_rtp || m->m_proto == sdp_proto_srtp;
    if (out->type == SYLK_MEDIA_CHAT || out->type == SYLK_MEDIA_FILE_TRANSFER)
        parse_msrp(out, m, policy);
    if (out->type == SYLK_MEDIA_AUDIO)
        out->audio_level_id = audio_level_id(m);
    if (out->type == SYLK_MEDIA_AUDIO && rtp && out->port && !m->m_rejected &&
        connection_usable(out, c, policy->family) && settle_srtp(out, m, policy->srtp))
        choose_codec(out, m, policy->codecs, broken);
}

/* RFC 4566 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
static bool token_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B || c == 0x2D ||
           c == 0x2E || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) ||
           (c >= 0x5E && c <= 0x7E);
}

/* 1*DIGIT ["/" 1*DIGIT] */
static bool port_valid(const char *f, size_t n)
{
    size_t digits = 0, slashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (g_ascii_isdigit(f[i])) {
            digits++;
        } else if (f[i] == '/' && digits && ++slashes == 1) {
            digits = 0;
        } else {
            return false;
        }
    }
    return digits > 0;
}

/* RFC 4566 5.14: a port is a 16-bit UDP or TCP port (leading zeros allowed). */
static bool port_in_range(const char *f, size_t n)
{
    guint64 port = 0;
    for (size_t i = 0; i < n && g_ascii_isdigit(f[i]); i++) {
        port = port * 10 + (guint64)(f[i] - '0');
        if (port > 65535)
            return false;
    }
    return true;
}

/* token *("/" token), or a token-only field when `slashes` is false */
static bool tokens_valid(const char *f, size_t n, bool slashes)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (token_char(c)) {
            run++;
        } else if (c == '/' && slashes && run) {
            run = 0;
        } else {
            return false;
        }
    }
    return run > 0;
}

/* m=<media> <port>[/<number>] <proto> <fmt> … (RFC 4566 §5.14), fields separated by one space */
static const char *m_line_problem(const char *line, size_t len)
{
    static const char grammar[] = "m= line does not follow RFC 4566 (media port proto formats)";
    unsigned field = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != ' ')
            continue;
        const char *f = line + start;
        size_t n = i - start;
        bool ok = field == 1 ? port_valid(f, n) : tokens_valid(f, n, field == 2);
        if (!ok)
            return grammar;
        if (field == 1 && !port_in_range(f, n))
            return "m= port above 65535 (RFC 4566: a 16-bit port)";
        field++;
        start = i + 1;
    }
    return field >= 4 ? NULL : grammar;
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
        const char *m_problem =
            n >= 2 && line[0] == 'm' && line[1] == '=' ? m_line_problem(line + 2, n - 2) : NULL;
        if (m_problem)
            return m_problem;
        line += n;
        while (line < end && (*line == '\r' || *line == '\n'))
            line++;
    }
    return NULL;
}

/* A payload type: 1-3 digits, at most 127; -1 otherwise. */
static int parse_pt(const char *s, size_t n)
{
    if (n == 0 || n > 3)
        return -1;
    int pt = 0;
    for (size_t i = 0; i < n; i++) {
        if (!g_ascii_isdigit(s[i]))
            return -1;
        pt = pt * 10 + (s[i] - '0');
    }
    return pt <= MAX_PT ? pt : -1;
}

/* The payload types of an m= line (already checked by m_line_problem); false when its formats
 * are not all payload type numbers (MSRP's "*", …): rtpmap and fmtp are then left alone. */
static bool m_formats(const char *line, size_t n, struct pt_set *out)
{
    memset(out, 0, sizeof(*out));
    g_autofree char *copy = g_strndup(line + 2, n - 2);
    g_auto(GStrv) f = g_strsplit(copy, " ", -1);
    for (unsigned i = 3; f[0] && f[1] && f[2] && f[i]; i++) {
        int pt = parse_pt(f[i], strlen(f[i]));
        if (pt < 0)
            return false;
        pt_add(out, (unsigned)pt);
    }
    return true;
}

/* "<encoding name>/<clock rate>[/<encoding parameters>]" (RFC 4566 section 6) */
static bool rtpmap_value_valid(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (!slash || slash == s)
        return false;
    size_t digits = 0;
    const char *p = slash + 1;
    while (p < s + n && g_ascii_isdigit(*p))
        p++, digits++;
    if (digits == 0 || (p < s + n && (*p != '/' || p + 1 == s + n)))
        return false;
    for (const char *q = s; q < slash; q++) {
        if (!token_char((unsigned char)*q))
            return false;
    }
    return true;
}

/*
 * What one a=rtpmap or a=fmtp line inside an RTP m= section does to the copy sofia parses:
 * kept (true), or left out (false) when malformed or about a payload type the m= line does not
 * list: sofia-sip's strict parser would refuse the whole description for it, where RFC 3264
 * lets an answerer ignore what it does not understand. A listed payload type whose rtpmap is
 * malformed goes into `broken`: nobody knows what its author meant by it.
 */
static bool format_line_kept(const char *line, size_t n, const struct pt_set *listed,
                             struct pt_set *broken)
{
    bool rtpmap = n > 9 && strncmp(line, "a=rtpmap:", 9) == 0;
    size_t skip = rtpmap ? 9 : 7;
    const char *v = line + skip, *end = line + n;
    const char *sp = memchr(v, ' ', (size_t)(end - v));
    int pt = parse_pt(v, (size_t)((sp ? sp : end) - v));
    if (pt < 0 || !pt_has(listed, (unsigned)pt)) {
        g_debug("SDP: ignoring %.*s (payload type not listed in its m= line)", (int)n, line);
        return false;
    }
    if (!rtpmap)
        return true;
    if (sp && rtpmap_value_valid(sp + 1, (size_t)(end - sp - 1)))
        return true;
    g_debug("SDP: ignoring payload type %d: malformed %.*s", pt, (int)n, line);
    pt_add(broken, (unsigned)pt);
    return false;
}

/* A copy of the body without the a=rtpmap and a=fmtp lines sofia-sip cannot take. */
static GString *without_bad_format_lines(const char *body, size_t len,
                                         struct pt_set broken[SYLK_SDP_MAX_STREAMS])
{
    GString *out = g_string_sized_new(len);
    const char *end = body + len;
    int media = -1;
    bool rtp = false;
    struct pt_set listed = {{0}};
    for (const char *line = body; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *next = nl ? nl + 1 : end;
        size_t n = (size_t)((nl ? nl : end) - line);
        if (n && line[n - 1] == '\r')
            n--;
        bool keep = true;
        if (n >= 2 && line[0] == 'm' && line[1] == '=') {
            media++;
            rtp = m_formats(line, n, &listed);
        } else if (rtp && media >= 0 && media < SYLK_SDP_MAX_STREAMS &&
                   ((n > 9 && strncmp(line, "a=rtpmap:", 9) == 0) ||
                    (n > 7 && strncmp(line, "a=fmtp:", 7) == 0))) {
            keep = format_line_kept(line, n, &listed, &broken[media]);
        }
        if (keep)
            g_string_append_len(out, line, next - line);
        line = next;
    }
    return out;
}

int sylk_sdp_parse(const char *body, size_t len, const struct sylk_sdp_policy *policy,
                   struct sylk_sdp *out, char **error)
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
    struct pt_set broken[SYLK_SDP_MAX_STREAMS];
    memset(broken, 0, sizeof(broken));
    g_autoptr(GString) clean = without_bad_format_lines(body, len, broken);
    su_home_t *home = su_home_new(sizeof(su_home_t));
    int ret = 0;
    sdp_parser_t *parser = sdp_parse(home, clean->str, (issize_t)clean->len, sdp_f_strict);
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
        parse_media(&out->m[out->count], m, policy, &broken[out->count]);
        out->count++;
    }
out:
    if (parser)
        sdp_parser_free(parser);
    su_home_unref(home);
    if (ret)
        sylk_sdp_clear(out);
    return ret;
}

/* The MSRP attribute strings of a media, which clear and copy treat alike. */
static const size_t msrp_fields[] = {
    offsetof(struct sylk_sdp_media, msrp_path),
    offsetof(struct sylk_sdp_media, accept_types),
    offsetof(struct sylk_sdp_media, accept_wrapped_types),
    offsetof(struct sylk_sdp_media, setup),
    offsetof(struct sylk_sdp_media, chatroom),
    offsetof(struct sylk_sdp_media, file_selector),
    offsetof(struct sylk_sdp_media, file_transfer_id),
};

static char **msrp_field(const struct sylk_sdp_media *m, size_t i)
{
    return (char **)((char *)m + msrp_fields[i]);
}

void sylk_sdp_clear(struct sylk_sdp *sdp)
{
    for (unsigned i = 0; i < sdp->count; i++) {
        g_free(sdp->m[i].media);
        g_free(sdp->m[i].proto);
        g_free(sdp->m[i].formats);
        g_free(sdp->m[i].address);
        for (size_t k = 0; k < G_N_ELEMENTS(msrp_fields); k++)
            g_free(*msrp_field(&sdp->m[i], k));
    }
    memset(sdp, 0, sizeof(*sdp));
}

const struct sylk_sdp_media *sylk_sdp_refused_connection(const struct sylk_sdp *sdp)
{
    for (unsigned i = 0; i < sdp->count; i++) {
        if (sdp->m[i].refusal)
            return &sdp->m[i];
    }
    return NULL;
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

static void print_rtpmap(GString *s, int pt, const struct sylk_codec_info *info)
{
    if (info->sdp_channels > 1)
        g_string_append_printf(s, "a=rtpmap:%d %s/%u/%u\r\n", pt, info->name, info->sdp_clock,
                               info->sdp_channels);
    else
        g_string_append_printf(s, "a=rtpmap:%d %s/%u\r\n", pt, info->name, info->sdp_clock);
    /* opus: no fmtp, so RFC 7587's defaults hold (no in-band FEC asked for: we do not
     * decode it yet). */
}

static void print_dtmf(GString *s, int pt, unsigned clock)
{
    g_string_append_printf(s, "a=rtpmap:%d telephone-event/%u\r\na=fmtp:%d 0-16\r\n", pt,
                           clock ? clock : 8000, pt);
}

/* Every codec `names` selects, in that order (speex selects both of its clocks). */
static GPtrArray *offered(char *const *names)
{
    GPtrArray *out = g_ptr_array_new();
    for (unsigned i = 0; names[i]; i++) {
        for (const struct sylk_codec_info *c = sylk_codecs; c->name; c++) {
            if (g_ascii_strcasecmp(c->name, names[i]) == 0)
                g_ptr_array_add(out, (gpointer)c);
        }
    }
    return out;
}

static void print_audio(GString *s, const struct sylk_sdp_media *m, char *const *offer_codecs)
{
    g_string_append_printf(s, "m=audio %u %s", m->port, m->proto);
    if (offer_codecs) {
        g_autoptr(GPtrArray) codecs = offered(offer_codecs);
        for (guint i = 0; i < codecs->len; i++)
            g_string_append_printf(s, " %d", offer_pt(g_ptr_array_index(codecs, i)));
        g_string_append_printf(s, " %d\r\n", TELEPHONE_EVENT_PT);
        for (guint i = 0; i < codecs->len; i++) {
            const struct sylk_codec_info *c = g_ptr_array_index(codecs, i);
            print_rtpmap(s, offer_pt(c), c);
        }
        print_dtmf(s, TELEPHONE_EVENT_PT, 8000);
        /* levels let a mixer skip decoding silent participants; we only receive them */
        g_string_append_printf(s, "a=extmap:%u/recvonly %s\r\n", OFFER_AUDIO_LEVEL_ID,
                               AUDIO_LEVEL_URI);
    } else {
        if (m->dtmf_pt >= 0)
            g_string_append_printf(s, " %d %d\r\n", m->pt, m->dtmf_pt);
        else
            g_string_append_printf(s, " %d\r\n", m->pt);
        print_rtpmap(s, m->pt, m->info);
        if (m->dtmf_pt >= 0)
            print_dtmf(s, m->dtmf_pt, m->dtmf_clock);
        if (m->audio_level_id)
            g_string_append_printf(s, "a=extmap:%u/recvonly %s\r\n", m->audio_level_id,
                                   AUDIO_LEVEL_URI);
    }
    if (m->secure) {
        g_autofree char *crypto = sylk_sdes_format(&m->crypto);
        g_string_append_printf(s, "a=crypto:%s\r\n", crypto);
    }
    g_string_append_printf(s, "a=rtcp:%u\r\na=%s\r\n", m->rtcp_port, direction_attr(m->direction));
}

int sylk_sdp_localize(struct sylk_sdp_media *m)
{
    if (!m->secure)
        return 0;
    return sylk_sdes_generate(&m->crypto, m->crypto.tag ? m->crypto.tag : 1,
                              m->crypto.suite ? m->crypto.suite
                                              : SYLK_SRTP_AES_CM_128_HMAC_SHA1_80);
}

static void print_attr(GString *s, const char *name, const char *value)
{
    if (value)
        g_string_append_printf(s, "a=%s:%s\r\n", name, value);
}

static void print_msrp(GString *s, const struct sylk_sdp_media *m)
{
    g_string_append_printf(s, "m=message %u %s *\r\n", m->port,
                           m->msrp_tls ? "TCP/TLS/MSRP" : "TCP/MSRP");
    print_attr(s, "path", m->msrp_path);
    print_attr(s, "accept-types", m->accept_types);
    print_attr(s, "accept-wrapped-types", m->accept_wrapped_types);
    print_attr(s, "setup", m->setup);
    print_attr(s, "chatroom", m->chatroom);
    print_attr(s, "file-selector", m->file_selector);
    print_attr(s, "file-transfer-id", m->file_transfer_id);
    g_string_append_printf(s, "a=%s\r\n", direction_attr(m->direction));
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
        else if (m->port && m->msrp_path &&
                 (m->type == SYLK_MEDIA_CHAT || m->type == SYLK_MEDIA_FILE_TRANSFER))
            print_msrp(s, m);
        else /* refused, or a kind of stream this version does not carry */
            g_string_append_printf(s, "m=%s 0 %s %s\r\n", m->media, m->proto, m->formats);
    }
    return g_string_free(s, FALSE);
}

void sylk_sdp_media_copy(struct sylk_sdp_media *dst, const struct sylk_sdp_media *src)
{
    *dst = *src;
    dst->media = g_strdup(src->media);
    dst->proto = g_strdup(src->proto);
    dst->formats = g_strdup(src->formats);
    dst->address = g_strdup(src->address);
    for (size_t k = 0; k < G_N_ELEMENTS(msrp_fields); k++)
        *msrp_field(dst, k) = g_strdup(*msrp_field(src, k));
}

void sylk_sdp_copy(struct sylk_sdp *dst, const struct sylk_sdp *src)
{
    sylk_sdp_clear(dst);
    dst->count = src->count;
    for (unsigned i = 0; i < src->count; i++)
        sylk_sdp_media_copy(&dst->m[i], &src->m[i]);
}
