/*
 * wire.c — lenient parsing where sofia-sip would drop a request, strict checks after it. See
 * wire.h.
 *
 * The message class is sofia's default one with three header classes replaced by copies whose
 * parse function first runs sofia's own and, only when that fails, parses a repaired copy of
 * the text. The originals stay in the class too (nta and nua insert headers of sofia's own
 * classes into messages of this class, which sofia finds by class pointer), after the copies
 * in the hash chain, so that parsing by name finds the copies.
 */
#define G_LOG_DOMAIN "sylk-sip"
#include "sip/wire.h"

#include <glib.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_string.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct sylk_wire {
    msg_mclass_t *mclass; /* malloc'ed by msg_mclass_clone */
    struct msg_hclass_s request, status, via, cseq;
    /* the class of a Via parsed leniently: sofia's own in all but its address, which marks it
     * through whatever nta does to the Via (it adds received and rport) */
    struct msg_hclass_s via_lenient;
    /* likewise, the classes of a request line and of a Via whose SIP version is not 2.0 (see
     * request_line_d) */
    struct msg_hclass_s request_other_version, via_other_version;
};

/* RFC 3261 token characters, which sofia's method parser narrows (no '+' nor '`'). */
static bool token_char(unsigned char c)
{
    return g_ascii_isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}

static bool lws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The header fields after its common part are parsed again from scratch. */
static void reset_header(msg_header_t *h, size_t size)
{
    size_t common = sizeof(msg_common_t) + sizeof(msg_header_t *); /* h_next too */
    if (size > common)
        memset((char *)h + common, 0, size - common);
}

/*
 * Request line: "Method SP Request-URI SP SIP-Version". When sofia refuses it, the method, the
 * version and the URI between them (its LWS removed) are parsed again; a method sofia cannot
 * spell is parsed as "X" and named afterwards (it is unknown to sofia anyway).
 */
static issize_t lenient_request_line(su_home_t *home, msg_header_t *h, const char *line)
{
    const char *end = line + strlen(line);
    const char *m_end = line;
    while (m_end < end && !lws(*m_end))
        m_end++;
    const char *v_start = end;
    while (v_start > m_end && !lws(v_start[-1]))
        v_start--;
    if (m_end == line || v_start <= m_end)
        return -1;
    GString *uri = g_string_new(NULL);
    for (const char *p = m_end; p < v_start; p++) {
        if (!lws(*p))
            g_string_append_c(uri, *p);
    }
    char *method = su_strndup(home, line, (isize_t)(m_end - line));
    bool spelled = true;
    for (const char *p = method; *p; p++)
        spelled &= token_char((unsigned char)*p) && *p != '+' && *p != '`';
    char *again = su_sprintf(home, "%s %s %.*s", spelled ? method : "X", uri->str,
                             (int)(end - v_start), v_start);
    g_string_free(uri, TRUE);
    reset_header(h, sizeof(sip_request_t));
    if (!again || sip_request_class->hc_parse(home, h, again, (isize_t)strlen(again)) < 0)
        return -1;
    if (!spelled) {
        sip_request_t *rq = (sip_request_t *)h;
        rq->rq_method = sip_method_unknown;
        rq->rq_method_name = method;
    }
    return 0;
}

/* RFC 3261 19.1.1: a SIP or SIPS Request-URI has no headers component. */
static bool uri_has_headers(const url_t *url)
{
    return (url->url_type == url_sip || url->url_type == url_sips) && url->url_headers;
}

/*
 * The first line as received. With MSG_DO_EXTRACT_COPY sofia hands the parser a copy of it
 * that any whitespace before the line (CRLF keepalives on a stream, say) cuts short at its end;
 * h_data has the line as received. Returns it without that whitespace and its CRLF.
 */
static char *first_line(su_home_t *home, msg_header_t *h, const char *s, isize_t slen)
{
    const char *raw = h->sh_data ? h->sh_data : s;
    size_t len = h->sh_data ? h->sh_len : (size_t)slen;
    while (len && lws(*raw))
        raw++, len--;
    while (len && (raw[len - 1] == '\r' || raw[len - 1] == '\n'))
        len--;
    return su_strndup(home, raw, (isize_t)len);
}

static issize_t status_line_d(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
    char *line = first_line(home, h, s, slen);
    return line ? sip_status_class->hc_parse(home, h, line, (isize_t)strlen(line)) : -1;
}

static issize_t request_line_d(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
    const char *problem = h->sh_data ? sylk_wire_request_line_problem(h->sh_data, h->sh_len)
                                     : sylk_wire_request_line_problem(s, (size_t)slen);
    char *line = first_line(home, h, s, slen);
    size_t len = line ? strlen(line) : 0;
    char *first = su_strdup(home, line);
    if (!line || !first)
        return -1;
    if (sip_request_class->hc_parse(home, h, first, (isize_t)len) < 0 &&
        lenient_request_line(home, h, line) < 0)
        return -1;
    sip_request_t *rq = (sip_request_t *)h;
    if (!problem && uri_has_headers(rq->rq_url))
        problem = "headers in the Request-URI (RFC 3261 19.1.1)";
    if (problem) {
        /* nta's sanity check answers a request with an invalid Request-URI 400 itself, for
         * every method, before nua sees it */
        g_autofree char *shown = g_strescape(line, NULL);
        g_info("malformed request line \"%.200s\": %s; answering 400", shown, problem);
        rq->rq_url->url_type = url_invalid;
    } else if (!su_casematch(rq->rq_version, sip_version_2_0)) {
        /* nta answers another version 505 itself, but before it has looked at the Via: the
         * response goes to the Via's sent-by as written, without received or rport (RFC 3261
         * 18.2.2), so a UDP sender behind another address never gets it. Taken as 2.0 and
         * marked by its class, the request reaches us and is answered 505 the usual way. */
        struct sylk_wire *w =
            (struct sylk_wire *)((char *)h->sh_class - offsetof(struct sylk_wire, request));
        g_info("request line \"%.200s\": SIP version %s; answering 505", line, rq->rq_version);
        rq->rq_version = sip_version_2_0;
        h->sh_class = &w->request_other_version;
    }
    return 0;
}

/* A Via value without empty parameters (";;") and empty list items (",,"). */
static char *without_empty_parts(su_home_t *home, const char *s)
{
    GString *out = g_string_new(NULL);
    bool quoted = false;
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (!quoted && (*p == ';' || *p == ',')) {
            const char *q = p + 1;
            while (lws(*q))
                q++;
            bool empty = !*q || *q == ';' || *q == ',';
            bool leading = *p == ',' && out->len == 0;
            if (empty || leading)
                continue; /* the separator of an empty part */
        }
        g_string_append_c(out, *p);
    }
    char *r = su_strdup(home, out->str);
    g_string_free(out, TRUE);
    return r;
}

/* "SIP/7.0/UDP" as "SIP/2.0/UDP": nta drops a request whose Via names a protocol its transport
 * does not speak, before anything could answer it 505 (see request_line_d). */
static void via_version_as_2_0(su_home_t *home, msg_header_t *h, struct sylk_wire *w)
{
    for (msg_header_t *v = h; v; v = v->sh_next) {
        sip_via_t *via = (sip_via_t *)v;
        const char *p = via->v_protocol;
        const char *slash = p ? strchr(p, '/') : NULL;
        const char *second = slash ? strchr(slash + 1, '/') : NULL;
        if (!second || g_ascii_strncasecmp(p, "SIP/", 4) != 0 ||
            g_ascii_strncasecmp(p, "SIP/2.0/", 8) == 0)
            continue;
        via->v_protocol = su_sprintf(home, "SIP/2.0%s", second);
        v->sh_class = &w->via_other_version;
    }
}

static issize_t via_d(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
    char *copy = su_strndup(home, s, slen);
    /* this parser is only ever the `via` class of a struct sylk_wire */
    struct sylk_wire *w =
        (struct sylk_wire *)((char *)h->sh_class - offsetof(struct sylk_wire, via));
    if (sip_via_class->hc_parse(home, h, s, slen) >= 0) {
        via_version_as_2_0(home, h, w);
        return 0;
    }
    /* Without a Via nta cannot answer at all (it drops the request): parse the Via without
     * its empty parts; sylk_wire_request_problem then answers 400. */
    char *clean = copy ? without_empty_parts(home, copy) : NULL;
    reset_header(h, sizeof(sip_via_t));
    h->sh_next = NULL;
    if (!clean || sip_via_class->hc_parse(home, h, clean, (isize_t)strlen(clean)) < 0)
        return -1;
    for (msg_header_t *v = h; v; v = v->sh_next)
        v->sh_class = &w->via_lenient;
    return 0;
}

/* CSeq: "1*DIGIT LWS Method"; a method sofia cannot spell is parsed as "X", then named. */
static issize_t cseq_d(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
    char *copy = su_strndup(home, s, slen);
    if (sip_cseq_class->hc_parse(home, h, s, slen) >= 0)
        return 0;
    char *method = copy ? copy + strspn(copy, "0123456789") : NULL;
    if (!method || method == copy || !lws(*method))
        return -1;
    *method++ = '\0';
    method += strspn(method, " \t\r\n");
    size_t n = strlen(method);
    while (n && lws(method[n - 1]))
        method[--n] = '\0';
    for (const char *p = method; *p; p++) {
        if (!token_char((unsigned char)*p))
            return -1; /* not a method by RFC 3261 either */
    }
    char *again = su_sprintf(home, "%s X", copy);
    reset_header(h, sizeof(sip_cseq_t));
    if (!n || !again || sip_cseq_class->hc_parse(home, h, again, (isize_t)strlen(again)) < 0)
        return -1;
    ((sip_cseq_t *)h)->cs_method = sip_method_unknown;
    ((sip_cseq_t *)h)->cs_method_name = method;
    return 0;
}

/* Puts `ours` where `theirs` is in the hash table, `theirs` after it, `ours` as short form. */
static bool shadow(msg_mclass_t *mc, msg_hclass_t *theirs, msg_hclass_t *ours)
{
    int n = mc->mc_hash_size;
    for (int i = 0; i < n; i++) {
        if (mc->mc_hash[i].hr_class != theirs)
            continue;
        msg_href_t original = mc->mc_hash[i];
        mc->mc_hash[i].hr_class = ours;
        int j = (i + 1) % n;
        while (mc->mc_hash[j].hr_class && j != i)
            j = (j + 1) % n;
        if (j == i)
            return false;
        mc->mc_hash[j] = original;
        mc->mc_hash_used++;
        if (mc->mc_short && theirs->hc_short[0]) {
            msg_href_t *shorts = (msg_href_t *)mc->mc_short;
            int c = g_ascii_tolower(theirs->hc_short[0]) - 'a';
            if (c >= 0 && c < MC_SHORT_SIZE && shorts[c].hr_class == theirs)
                shorts[c].hr_class = ours;
        }
        return true;
    }
    return false;
}

/* Adds `extra` after `known` (same offset and flags): sofia finds headers of both classes. */
static bool also(msg_mclass_t *mc, msg_hclass_t *known, msg_hclass_t *extra)
{
    int n = mc->mc_hash_size;
    for (int i = 0; i < n; i++) {
        if (mc->mc_hash[i].hr_class != known)
            continue;
        int j = (i + 1) % n;
        while (mc->mc_hash[j].hr_class && j != i)
            j = (j + 1) % n;
        if (j == i)
            return false;
        mc->mc_hash[j] = mc->mc_hash[i];
        mc->mc_hash[j].hr_class = extra;
        mc->mc_hash_used++;
        return true;
    }
    return false;
}

struct sylk_wire *sylk_wire_new(void)
{
    struct sylk_wire *w = g_new0(struct sylk_wire, 1);
    /* room for the four entries shadow() and also() add */
    w->mclass = msg_mclass_clone(sip_default_mclass(), sip_default_mclass()->mc_hash_size + 4, 0);
    if (!w->mclass) {
        g_free(w);
        return NULL;
    }
    w->request = *sip_request_class;
    w->request.hc_parse = request_line_d;
    w->request_other_version = w->request;
    w->via = *sip_via_class;
    w->via.hc_parse = via_d;
    w->via_lenient = *sip_via_class;
    w->via_other_version = *sip_via_class;
    w->cseq = *sip_cseq_class;
    w->cseq.hc_parse = cseq_d;
    w->status = *sip_status_class;
    w->status.hc_parse = status_line_d;
    w->mclass->mc_request->hr_class = &w->request;
    w->mclass->mc_status->hr_class = &w->status;
    if (!shadow(w->mclass, sip_via_class, &w->via) ||
        !shadow(w->mclass, sip_cseq_class, &w->cseq) ||
        !also(w->mclass, &w->via, &w->via_lenient) ||
        !also(w->mclass, &w->via, &w->via_other_version)) {
        sylk_wire_free(w);
        return NULL;
    }
    return w;
}

void sylk_wire_free(struct sylk_wire *wire)
{
    if (!wire)
        return;
    free(wire->mclass);
    g_free(wire);
}

msg_mclass_t const *sylk_wire_mclass(const struct sylk_wire *wire)
{
    return wire->mclass;
}

unsigned sylk_wire_sip_flags(void)
{
    return MSG_DO_CANONIC | MSG_DO_EXTRACT_COPY; /* nta's default plus the raw bytes */
}

/* ------------------------------------------------------------------------ checks --- */

const char *sylk_wire_request_line_problem(const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    while (p < end && (*p == '\r' || *p == '\n'))
        p++; /* RFC 3261 7.5: CRLFs before the start line are ignored */
    while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    if (p < end && (*p == ' ' || *p == '\t'))
        return "whitespace before the request line";
    const char *method = p;
    while (p < end && token_char((unsigned char)*p))
        p++;
    if (p == method || p == end || *p != ' ')
        return "the method is not a token followed by one SP";
    const char *uri = ++p;
    while (p < end && !lws(*p))
        p++;
    if (p == uri)
        return "more than one SP before the Request-URI";
    if (memchr(uri, '<', (size_t)(p - uri)) || memchr(uri, '>', (size_t)(p - uri)))
        return "<> around or inside the Request-URI";
    if (p == end || *p != ' ')
        return "LWS inside the Request-URI";
    const char *version = ++p;
    if (version < end && lws(*version))
        return "more than one SP before the version";
    const char *ws = version;
    while (ws < end && !lws(*ws))
        ws++;
    bool sip = ws - version >= 4 && g_ascii_strncasecmp(version, "SIP/", 4) == 0;
    if (ws < end && !sip)
        return "LWS inside the Request-URI"; /* more words follow the URI */
    size_t digits[2] = {0, 0};
    unsigned part = 0;
    for (p = version + 4; sip && p < ws; p++) {
        if (g_ascii_isdigit(*p))
            digits[part]++;
        else if (*p == '.' && part == 0)
            part = 1;
        else
            sip = false;
    }
    if (!sip || !digits[0] || !digits[1])
        return "malformed SIP version";
    return ws < end ? "whitespace after the SIP version" : NULL;
}

int sylk_wire_request_problem(const struct sylk_wire *wire, const sip_t *sip, const char **why)
{
    *why = NULL;
    if (!wire || !sip)
        return 0;
    bool other_version =
        sip->sip_request && sip->sip_request->rq_common->h_class == &wire->request_other_version;
    for (const sip_via_t *v = sip->sip_via; v; v = v->v_next)
        other_version |= v->v_common->h_class == &wire->via_other_version;
    if (other_version) {
        *why = "SIP version other than 2.0";
        return 505;
    }
    for (const sip_via_t *v = sip->sip_via; v; v = v->v_next) {
        if (v->v_common->h_class == &wire->via_lenient) {
            *why = "malformed Via (empty parameters or list items)";
            return 400;
        }
    }
    return 0;
}

/* "type/subtype" (or its wildcards) against an Accept value, q=0 meaning "not this". */
static bool accept_matches(const sip_accept_t *ac, const char *type)
{
    if (!ac->ac_type)
        return false;
    if (ac->ac_q && g_ascii_strtod(ac->ac_q, NULL) <= 0.0)
        return false;
    const char *slash = strchr(type, '/');
    size_t major = slash ? (size_t)(slash - type) : strlen(type);
    if (g_ascii_strcasecmp(ac->ac_type, "*/*") == 0 || g_ascii_strcasecmp(ac->ac_type, type) == 0)
        return true;
    return ac->ac_subtype && strcmp(ac->ac_subtype, "*") == 0 &&
           g_ascii_strncasecmp(ac->ac_type, type, major) == 0 && ac->ac_type[major] == '/';
}

bool sylk_wire_accepts(const sip_t *sip, const char *type)
{
    if (!sip->sip_accept)
        return true;
    for (const sip_accept_t *ac = sip->sip_accept; ac; ac = ac->ac_next) {
        if (accept_matches(ac, type))
            return true;
    }
    return false;
}
