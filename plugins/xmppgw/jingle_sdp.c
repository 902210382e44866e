/*
 * jingle_sdp.c — Jingle RTP audio with raw-UDP or ICE-UDP host candidates to SDP and back (see
 * jingle_sdp.h). Only what the gateway's audio leg needs: one audio content, no SRTP
 * (<encryption/> is not offered), ICE-UDP as ICE-lite: the best UDP candidate of each
 * component is the address, as raw UDP's, and the core answers the peer's checks. SylkServer's bugs
 * are avoided: the content's creator/name are echoed, candidates carry generation and id (XEP-0177
 * requires both), opus says channels='2', and telephone-event's "0-16" fmtp (not name=value) is
 * left out rather than mangled.
 *
 * Thread: pure functions, any thread.
 */
#include "jingle_sdp.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number attribute in [min, max], or -1. */
static long num_attr(const struct xmpp_node *n, const char *name, long min, long max)
{
    const char *v = xmpp_node_attr(n, name);
    char *end = NULL;
    long x = v && *v ? strtol(v, &end, 10) : -1;
    return end && *end == '\0' && x >= min && x <= max ? x : -1;
}

static bool safe_token(const char *s)
{
    return s && *s &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.+") == strlen(s);
}

/* The rtpmap and fmtp lines of one <payload-type/>; false when it is malformed. */
static bool payload_lines(const struct xmpp_node *pt, GString *formats, GString *attrs)
{
    long id = num_attr(pt, "id", 0, 127);
    long clock = num_attr(pt, "clockrate", 1, 1000000);
    long channels = num_attr(pt, "channels", 1, 8);
    const char *name = xmpp_node_attr(pt, "name");
    if (id < 0 || !safe_token(name) || clock < 0)
        return id >= 0 && id < 96 && !name; /* a static id alone is enough */
    g_string_append_printf(formats, " %ld", id);
    g_string_append_printf(attrs, "a=rtpmap:%ld %s/%ld", id, name, clock);
    if (channels > 1)
        g_string_append_printf(attrs, "/%ld", channels);
    g_string_append(attrs, "\r\n");
    GString *fmtp = g_string_new(NULL);
    for (guint i = 0; pt->children && i < pt->children->len; i++) {
        const struct xmpp_node *p = g_ptr_array_index(pt->children, i);
        const char *pn = xmpp_node_attr(p, "name"), *pv = xmpp_node_attr(p, "value");
        if (!xmpp_node_is(p, XGW_NS_JINGLE_RTP, "parameter") || !safe_token(pn) ||
            (pv && *pv && !safe_token(pv)))
            continue;
        g_string_append_printf(fmtp, "%s%s=%s", fmtp->len ? ";" : "", pn, pv ? pv : "");
    }
    if (fmtp->len)
        g_string_append_printf(attrs, "a=fmtp:%ld %s\r\n", id, fmtp->str);
    g_string_free(fmtp, TRUE);
    return true;
}

/* The candidate of `component`: raw UDP has one; of ICE-UDP's, the UDP one of highest priority
 * with a host candidate first (a server reaches the peer's own address; no checks are made). */
static const struct xmpp_node *candidate(const struct xmpp_node *transport, long component)
{
    const struct xmpp_node *best = NULL;
    long best_rank = -1;
    for (guint i = 0; transport->children && i < transport->children->len; i++) {
        const struct xmpp_node *c = g_ptr_array_index(transport->children, i);
        if (!xmpp_node_is(c, transport->ns, "candidate") ||
            num_attr(c, "component", 1, 2) != component)
            continue;
        if (strcmp(transport->ns, XGW_NS_JINGLE_RAW_UDP) == 0)
            return c;
        if (g_ascii_strcasecmp(xmpp_node_attr(c, "protocol") ? xmpp_node_attr(c, "protocol") : "",
                               "udp") != 0)
            continue;
        long priority = MAX(num_attr(c, "priority", 0, G_MAXINT32), 0);
        long rank = (g_strcmp0(xmpp_node_attr(c, "type"), "host") == 0 ? 1L << 32 : 0) + priority;
        if (rank > best_rank) {
            best = c;
            best_rank = rank;
        }
    }
    return best;
}

/* The content's raw-UDP or ICE-UDP <transport/>, or NULL. */
static const struct xmpp_node *transport_of(const struct xmpp_node *content)
{
    const struct xmpp_node *t = xmpp_node_child(content, XGW_NS_JINGLE_RAW_UDP, "transport");
    return t ? t : xmpp_node_child(content, XGW_NS_JINGLE_ICE_UDP, "transport");
}

bool xgw_jingle_remote_ice(const struct xmpp_node *content, const char **ufrag, const char **pwd)
{
    const struct xmpp_node *t = transport_of(content);
    if (!t || strcmp(t->ns, XGW_NS_JINGLE_ICE_UDP) != 0)
        return false;
    *ufrag = xmpp_node_attr(t, "ufrag");
    *pwd = xmpp_node_attr(t, "pwd");
    return *ufrag && *pwd && **ufrag && **pwd;
}

bool xgw_jingle_uses_ice(const struct xmpp_node *content)
{
    const struct xmpp_node *t = transport_of(content);
    return t && strcmp(t->ns, XGW_NS_JINGLE_ICE_UDP) == 0;
}

int xgw_jingle_to_sdp(const struct xmpp_node *content, char **sdp)
{
    *sdp = NULL;
    const struct xmpp_node *desc = xmpp_node_child(content, XGW_NS_JINGLE_RTP, "description");
    if (!desc || g_strcmp0(xmpp_node_attr(desc, "media"), "audio") != 0)
        return XGW_JINGLE_BAD_APPLICATION;
    const struct xmpp_node *transport = transport_of(content);
    if (!transport)
        return XGW_JINGLE_BAD_TRANSPORT;
    const struct xmpp_node *rtp = candidate(transport, 1), *rtcp = candidate(transport, 2);
    const char *ip = rtp ? xmpp_node_attr(rtp, "ip") : NULL;
    long port = rtp ? num_attr(rtp, "port", 1, 65535) : -1;
    if (!ip || port < 0 || strspn(ip, "0123456789.:abcdefABCDEF") != strlen(ip))
        return XGW_JINGLE_MALFORMED;
    GString *formats = g_string_new(NULL), *attrs = g_string_new(NULL);
    for (guint i = 0; desc->children && i < desc->children->len; i++) {
        const struct xmpp_node *pt = g_ptr_array_index(desc->children, i);
        if (xmpp_node_is(pt, XGW_NS_JINGLE_RTP, "payload-type") &&
            !payload_lines(pt, formats, attrs))
            continue;
    }
    if (formats->len == 0) {
        g_string_free(formats, TRUE);
        g_string_free(attrs, TRUE);
        return XGW_JINGLE_MALFORMED;
    }
    const char *family = strchr(ip, ':') ? "IP6" : "IP4";
    long rtcp_port = rtcp ? num_attr(rtcp, "port", 1, 65535) : -1;
    g_autofree char *rtcp_line =
        rtcp_port > 0 ? g_strdup_printf("a=rtcp:%ld\r\n", rtcp_port) : g_strdup("");
    *sdp = g_strdup_printf("v=0\r\no=- %u 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n"
                           "m=audio %ld RTP/AVP%s\r\n%s%sa=sendrecv\r\n",
                           g_random_int(), family, ip, family, ip, port, formats->str, attrs->str,
                           rtcp_line);
    g_string_free(formats, TRUE);
    g_string_free(attrs, TRUE);
    return 0;
}

/* Adds a <payload-type/> for each format of the m= line, with its rtpmap and fmtp. */
static void add_payloads(struct xmpp_node *desc, char **lines, const char *formats)
{
    g_auto(GStrv) ids = g_strsplit(formats, " ", 0);
    for (char **id = ids; *id; id++) {
        if (!**id)
            continue;
        struct xmpp_node *pt = xmpp_node_add_element(desc, XGW_NS_JINGLE_RTP, "payload-type");
        xmpp_node_set_attr(pt, "id", *id);
        g_autofree char *rtpmap = g_strdup_printf("a=rtpmap:%s ", *id);
        g_autofree char *fmtp = g_strdup_printf("a=fmtp:%s ", *id);
        for (char **l = lines; *l; l++) {
            if (g_str_has_prefix(*l, rtpmap)) {
                g_auto(GStrv) f = g_strsplit(*l + strlen(rtpmap), "/", 3);
                xmpp_node_set_attr(pt, "name", f[0]);
                if (f[1])
                    xmpp_node_set_attr(pt, "clockrate", f[1]);
                if (f[1] && f[2])
                    xmpp_node_set_attr(pt, "channels", f[2]);
            } else if (g_str_has_prefix(*l, fmtp)) {
                g_auto(GStrv) params = g_strsplit(*l + strlen(fmtp), ";", 0);
                for (char **p = params; *p; p++) {
                    char *eq = strchr(*p, '=');
                    if (!eq)
                        continue; /* "0-16": no name=value form in XEP-0167 */
                    *eq = '\0';
                    struct xmpp_node *pn =
                        xmpp_node_add_element(pt, XGW_NS_JINGLE_RTP, "parameter");
                    xmpp_node_set_attr(pn, "name", g_strstrip(*p));
                    xmpp_node_set_attr(pn, "value", g_strstrip(eq + 1));
                }
            }
        }
    }
}

static void add_candidate(struct xmpp_node *t, const char *component, const char *ip, unsigned port)
{
    struct xmpp_node *c = xmpp_node_add_element(t, t->ns, "candidate");
    char p[8], id[24];
    g_snprintf(p, sizeof(p), "%u", port);
    g_snprintf(id, sizeof(id), "gw%08x%s", g_random_int(), component);
    xmpp_node_set_attr(c, "component", component);
    if (strcmp(t->ns, XGW_NS_JINGLE_ICE_UDP) == 0) { /* XEP-0176 §5.3: a host candidate */
        xmpp_node_set_attr(c, "foundation", "1");
        xmpp_node_set_attr(c, "network", "0");
        /* RFC 8445 5.1.2.1: type preference 126 (host), local 65535, 256 - component */
        char prio[16];
        g_snprintf(prio, sizeof(prio), "%u",
                   (126u << 24) + (65535u << 8) + 256u - (unsigned)atoi(component));
        xmpp_node_set_attr(c, "priority", prio);
        xmpp_node_set_attr(c, "protocol", "udp");
        xmpp_node_set_attr(c, "type", "host");
    }
    xmpp_node_set_attr(c, "generation", "0");
    xmpp_node_set_attr(c, "id", id);
    xmpp_node_set_attr(c, "ip", ip);
    xmpp_node_set_attr(c, "port", p);
}

/* RFC 8445 5.3: ufrag of at least 4 and pwd of at least 22 ice-chars. */
static void ice_token(char *s, unsigned len)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (unsigned i = 0; i < len; i++)
        s[i] = chars[g_random_int_range(0, 64)];
    s[len] = '\0';
}

void xgw_jingle_ice_creds(struct xgw_ice_creds *ice)
{
    ice_token(ice->ufrag, sizeof(ice->ufrag) - 1);
    ice_token(ice->pwd, sizeof(ice->pwd) - 1);
}

struct xmpp_node *xgw_jingle_content_from_sdp(const char *sdp, const char *creator,
                                              const char *name, const struct xgw_ice_creds *ice)
{
    g_auto(GStrv) lines = g_strsplit(sdp, "\n", 0);
    const char *ip = NULL, *mline = NULL;
    for (char **l = lines; *l; l++) {
        g_strchomp(*l);
        if (g_str_has_prefix(*l, "c=IN IP4 ") || g_str_has_prefix(*l, "c=IN IP6 "))
            ip = *l + 9;
        else if (g_str_has_prefix(*l, "m=audio ") && !mline)
            mline = *l;
    }
    unsigned port = 0;
    char formats[256] = "";
    if (!ip || !mline || sscanf(mline, "m=audio %u RTP/%*s %255[0-9 ]", &port, formats) < 2 ||
        port == 0 || port > 65534)
        return NULL;
    struct xmpp_node *c = xmpp_node_new(XGW_NS_JINGLE, "content");
    xmpp_node_set_attr(c, "creator", creator);
    xmpp_node_set_attr(c, "name", name);
    struct xmpp_node *desc = xmpp_node_add_element(c, XGW_NS_JINGLE_RTP, "description");
    xmpp_node_set_attr(desc, "media", "audio");
    add_payloads(desc, lines, formats);
    struct xmpp_node *t =
        xmpp_node_add_element(c, ice ? XGW_NS_JINGLE_ICE_UDP : XGW_NS_JINGLE_RAW_UDP, "transport");
    if (ice) {
        xmpp_node_set_attr(t, "ufrag", ice->ufrag);
        xmpp_node_set_attr(t, "pwd", ice->pwd);
    }
    add_candidate(t, "1", ip, port);
    add_candidate(t, "2", ip, port + 1);
    return c;
}
