/*
 * jid.c — JIDs (RFC 7622) and the SIP URI <-> JID mapping (RFC 7247 §5). See jid.h.
 */
#define G_LOG_DOMAIN "sylk-xmpp"
#include "jid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define DNS_NAME_MAX  253
#define DNS_LABEL_MAX 63

static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -EINVAL;
}

/* Characters that make no sense in any part of an address, and are not XML characters or
 * cannot be shown. */
static bool bad_anywhere(gunichar c)
{
    return c == 0xFFFE || c == 0xFFFF || g_unichar_type(c) == G_UNICODE_CONTROL;
}

/* PRECIS IdentifierClass (RFC 8264 §4.2) in practical form: printable ASCII, and beyond it
 * letters, digits and combining marks only (no symbols, punctuation, spaces). */
static bool bad_in_localpart(gunichar c)
{
    if (c < 0x80)
        return c <= 0x20 || c == 0x7f || strchr("\"&'/:<>@", (int)c) != NULL;
    switch (g_unichar_type(c)) {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_SPACING_MARK:
        return false;
    default:
        return true;
    }
}

static bool bad_in_identifier(gunichar c)
{
    switch (g_unichar_type(c)) {
    case G_UNICODE_FORMAT:
    case G_UNICODE_SPACE_SEPARATOR:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
        return true;
    default:
        return bad_anywhere(c);
    }
}

static bool all_chars(const char *s, bool (*bad)(gunichar))
{
    for (const char *p = s; *p; p = g_utf8_next_char(p))
        if (bad(g_utf8_get_char(p)))
            return false;
    return true;
}

/* Lower case code point by code point (Unicode simple case mapping, as PRECIS's toLower):
 * g_utf8_strdown applies context rules (Σ at a word's end becomes ς). */
static char *lower(const char *s)
{
    GString *out = g_string_sized_new(strlen(s));
    for (const char *p = s; *p; p = g_utf8_next_char(p))
        g_string_append_unichar(out, g_unichar_tolower(g_utf8_get_char(p)));
    return g_string_free(out, FALSE);
}

/* NFC (and lower case for a localpart) must be stable, so that a prepared part prepares to
 * itself: what we format parses back to the same JID. */
static char *normalize(const char *s, gssize len, bool lowercase)
{
    char *nfc = g_utf8_normalize(s, len, G_NORMALIZE_NFC);
    if (!lowercase || !nfc)
        return nfc;
    char *down = lower(nfc);
    g_free(nfc);
    nfc = g_utf8_normalize(down, -1, G_NORMALIZE_NFC);
    g_free(down);
    return nfc;
}

static char *prepare(const char *s, gssize len, bool lowercase, const char **why)
{
    if (len < 0)
        len = (gssize)strlen(s);
    if (len == 0 || !g_utf8_validate_len(s, (gsize)len, NULL)) {
        refuse(why, len ? "not UTF-8" : "an empty part");
        return NULL;
    }
    char *once = normalize(s, len, lowercase);
    char *twice = once ? normalize(once, -1, lowercase) : NULL;
    bool stable = twice && strcmp(once, twice) == 0;
    g_free(twice);
    if (!stable || strlen(once) > XMPP_JID_PART_MAX) {
        refuse(why, stable ? "a part longer than 1023 bytes" : "a part that does not normalize");
        g_free(once);
        return NULL;
    }
    return once;
}

static char *prepare_local(const char *s, gssize len, const char **why)
{
    char *local = prepare(s, len, true, why);
    if (local && !all_chars(local, bad_in_localpart)) {
        refuse(why, "a character not allowed in a localpart");
        g_clear_pointer(&local, g_free);
    }
    return local;
}

static char *prepare_resource(const char *s, gssize len, const char **why)
{
    char *resource = prepare(s, len, false, why);
    if (resource && !all_chars(resource, bad_anywhere)) {
        refuse(why, "a control character in the resource");
        g_clear_pointer(&resource, g_free);
    }
    return resource;
}

static bool ldh_name(const char *ascii)
{
    size_t len = strlen(ascii);
    if (len == 0 || len > DNS_NAME_MAX)
        return false;
    const char *label = ascii;
    for (const char *p = ascii;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t n = (size_t)(p - label);
            if (n == 0 || n > DNS_LABEL_MAX || label[0] == '-' || p[-1] == '-')
                return false;
            if (*p == '\0')
                return true;
            label = p + 1;
        } else if (!g_ascii_isalnum(*p) && *p != '-') {
            return false;
        }
    }
}

/* A domain name in its ASCII (A-label) form, or NULL; checks that its Unicode form maps back. */
static char *domain_ascii(const char *name)
{
    char *ascii = g_hostname_to_ascii(name);
    if (!ascii || !ldh_name(ascii)) {
        g_free(ascii);
        return NULL;
    }
    g_autofree char *unicode = g_hostname_to_unicode(ascii);
    g_autofree char *again = unicode ? g_hostname_to_ascii(unicode) : NULL;
    if (!again || strcmp(again, ascii) != 0)
        g_clear_pointer(&ascii, g_free);
    return ascii;
}

static char *prepare_domain(const char *s, gssize len, const char **why)
{
    if (len < 0)
        len = (gssize)strlen(s);
    if (len > 0 && s[len - 1] == '.') /* RFC 7622 §3.2: a final dot is stripped */
        len--;
    if (len == 0 || len > XMPP_JID_PART_MAX || !g_utf8_validate_len(s, (gsize)len, NULL)) {
        refuse(why, len ? "a domain that is not UTF-8" : "an empty domain");
        return NULL;
    }
    g_autofree char *d = g_strndup(s, (gsize)len);
    if (d[0] == '[') {
        struct in6_addr a6;
        g_autofree char *inner = len >= 3 ? g_strndup(d + 1, (gsize)len - 2) : NULL;
        if (!inner || d[len - 1] != ']' || inet_pton(AF_INET6, inner, &a6) != 1) {
            refuse(why, "a bad IPv6 literal");
            return NULL;
        }
        return g_ascii_strdown(d, len);
    }
    if (!all_chars(d, bad_in_identifier)) {
        refuse(why, "a character not allowed in a domain");
        return NULL;
    }
    g_autofree char *ascii = domain_ascii(d);
    char *unicode = ascii ? g_hostname_to_unicode(ascii) : NULL;
    if (!unicode || !all_chars(unicode, bad_in_identifier)) {
        g_free(unicode);
        refuse(why, "not a domain name");
        return NULL;
    }
    return unicode;
}

int xmpp_jid_parse(const char *s, struct xmpp_jid *jid, const char **why)
{
    memset(jid, 0, sizeof *jid);
    const char *slash = strchr(s, '/');
    size_t bare_len = slash ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', bare_len);
    const char *domain = at ? at + 1 : s;
    if (at && !(jid->local = prepare_local(s, at - s, why)))
        goto fail;
    if (!(jid->domain = prepare_domain(domain, (gssize)(s + bare_len - domain), why)))
        goto fail;
    if (slash && !(jid->resource = prepare_resource(slash + 1, -1, why)))
        goto fail;
    return 0;
fail:
    xmpp_jid_clear(jid);
    return -EINVAL;
}

bool xmpp_jid_valid(const char *s)
{
    struct xmpp_jid jid;
    if (xmpp_jid_parse(s, &jid, NULL) != 0)
        return false;
    xmpp_jid_clear(&jid);
    return true;
}

void xmpp_jid_clear(struct xmpp_jid *jid)
{
    g_clear_pointer(&jid->local, g_free);
    g_clear_pointer(&jid->domain, g_free);
    g_clear_pointer(&jid->resource, g_free);
}

char *xmpp_jid_format(const struct xmpp_jid *jid, bool full)
{
    return g_strdup_printf("%s%s%s%s%s", jid->local ? jid->local : "", jid->local ? "@" : "",
                           jid->domain, full && jid->resource ? "/" : "",
                           full && jid->resource ? jid->resource : "");
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool xmpp_jid_equal(const struct xmpp_jid *a, const struct xmpp_jid *b, bool full)
{
    return same(a->local, b->local) && same(a->domain, b->domain) &&
           (!full || same(a->resource, b->resource));
}

/* XEP-0106 §3: the characters escaped, in the order of their sequences. */
static const char escapable[] = " \"&'/:<>@\\";

/* The index in `escapable` of the escape sequence at s, or -1; any_case: "\2F" counts too. */
static int escape_at(const char *s, bool any_case)
{
    static const char *const seq[] = {"20", "22", "26", "27", "2f", "3a", "3c", "3e", "40", "5c"};
    if (s[0] != '\\' || !s[1] || !s[2])
        return -1;
    for (int i = 0; i < (int)G_N_ELEMENTS(seq); i++)
        if (any_case ? g_ascii_strncasecmp(s + 1, seq[i], 2) == 0 : strncmp(s + 1, seq[i], 2) == 0)
            return i;
    return -1;
}

char *xmpp_jid_escape_local(const char *raw)
{
    size_t len = strlen(raw);
    if (len == 0 || raw[0] == ' ' || raw[len - 1] == ' ')
        return NULL;
    GString *out = g_string_sized_new(len);
    for (const char *p = raw; *p; p++) {
        const char *e = strchr(escapable, *p);
        /* A backslash is escaped only where it would read as an escape (XEP-0106 §4.2). */
        if (e && (*p != '\\' || escape_at(p, true) >= 0))
            g_string_append_printf(out, "\\%02x", (unsigned char)*p);
        else
            g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

char *xmpp_jid_unescape_local(const char *local)
{
    GString *out = g_string_sized_new(strlen(local));
    for (const char *p = local; *p; p++) {
        int i = escape_at(p, false);
        if (i >= 0) {
            g_string_append_c(out, escapable[i]);
            p += 2;
        } else {
            g_string_append_c(out, *p);
        }
    }
    char *raw = g_string_free(out, FALSE);
    char *again = xmpp_jid_escape_local(raw);
    bool reversible = again && strcmp(again, local) == 0;
    g_free(again);
    if (!reversible)
        g_clear_pointer(&raw, g_free);
    return raw;
}

/* %XX-decoding of s[0..len); NULL on a bad escape or a byte that is not printable ASCII. */
static char *percent_decode(const char *s, size_t len)
{
    GString *out = g_string_sized_new(len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                g_string_free(out, TRUE);
                return NULL;
            }
            int hi = g_ascii_xdigit_value(s[i + 1]), lo = g_ascii_xdigit_value(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                g_string_free(out, TRUE);
                return NULL;
            }
            g_string_append_c(out, (char)(hi * 16 + lo));
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            g_string_free(out, TRUE);
            return NULL;
        } else {
            g_string_append_c(out, (char)c);
        }
    }
    return g_string_free(out, FALSE);
}

static void percent_encode(GString *out, const char *s, const char *keep)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (g_ascii_isalnum(*p) || strchr("-_.!~*'()", *p) || strchr(keep, *p))
            g_string_append_c(out, (char)*p);
        else
            g_string_append_printf(out, "%%%02X", *p);
    }
}

/* The gr parameter of ";p1;p2=v..." as a prepared resource (*resource stays NULL without). */
static int read_params(const char *params, char **resource, const char **why)
{
    g_auto(GStrv) list = g_strsplit(params, ";", -1);
    bool seen = false;
    for (char **p = list; *p; p++) {
        if (!**p)
            continue;
        char *eq = strchr(*p, '=');
        size_t name_len = eq ? (size_t)(eq - *p) : strlen(*p);
        if (name_len != 2 || g_ascii_strncasecmp(*p, "gr", 2) != 0)
            continue;
        if (seen)
            return refuse(why, "two gr parameters");
        seen = true;
        if (!eq) /* a temporary GRUU's bare ";gr": no instance to name */
            continue;
        g_autofree char *value = percent_decode(eq + 1, strlen(eq + 1));
        if (!value || !*value)
            return refuse(why, value ? "an empty gr parameter" : "a bad escape in gr");
        if (!(*resource = prepare_resource(value, -1, why)))
            return -EINVAL;
    }
    return 0;
}

static int read_user(const char *user, size_t len, char **local, const char **why)
{
    if (len == 0)
        return refuse(why, "an empty user part");
    if (memchr(user, ':', len))
        return refuse(why, "a password in the URI");
    g_autofree char *decoded = percent_decode(user, len);
    if (!decoded || !g_utf8_validate(decoded, -1, NULL))
        return refuse(why, "a user part that is not UTF-8");
    g_autofree char *escaped = xmpp_jid_escape_local(decoded);
    if (!escaped)
        return refuse(why, "a user part beginning or ending with a space");
    *local = prepare_local(escaped, -1, why);
    return *local ? 0 : -EINVAL;
}

/* host[:port] of a SIP URI, as a prepared domain (the port dropped). */
static int read_host(const char *hostport, size_t len, char **domain, const char **why)
{
    const char *end = hostport + len;
    const char *host_end = end;
    if (len && hostport[0] == '[') {
        const char *close = memchr(hostport, ']', len);
        if (!close)
            return refuse(why, "a bad IPv6 reference");
        host_end = close + 1;
    } else {
        const char *colon = memchr(hostport, ':', len);
        if (colon)
            host_end = colon;
    }
    if (host_end < end) {
        if (*host_end != ':' || host_end + 1 == end)
            return refuse(why, "a bad port");
        for (const char *p = host_end + 1; p < end; p++)
            if (!g_ascii_isdigit(*p))
                return refuse(why, "a bad port");
    }
    for (const char *p = hostport; p < host_end; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '%')
            return refuse(why, "a host that is not ASCII");
    *domain = prepare_domain(hostport, (gssize)(host_end - hostport), why);
    return *domain ? 0 : -EINVAL;
}

int xmpp_jid_from_sip_uri(const char *uri, struct xmpp_jid *jid, const char **why)
{
    memset(jid, 0, sizeof *jid);
    const char *rest;
    if (g_ascii_strncasecmp(uri, "sip:", 4) == 0)
        rest = uri + 4;
    else if (g_ascii_strncasecmp(uri, "sips:", 5) == 0)
        rest = uri + 5;
    else
        return refuse(why, "not a sip: or sips: URI");
    /* '@' cannot occur unescaped but as the end of the userinfo, which may hold ';' and '?'. */
    const char *at = strchr(rest, '@');
    const char *hostport = at ? at + 1 : rest;
    size_t hostport_len = strcspn(hostport, ";?");
    const char *params = hostport + hostport_len;
    size_t params_len = strcspn(params, "?");
    g_autofree char *param_text = g_strndup(params, params_len);
    if ((at && read_user(rest, (size_t)(at - rest), &jid->local, why) != 0) ||
        read_host(hostport, hostport_len, &jid->domain, why) != 0 ||
        read_params(param_text, &jid->resource, why) != 0) {
        xmpp_jid_clear(jid);
        return -EINVAL;
    }
    return 0;
}

char *xmpp_jid_to_sip_uri(const struct xmpp_jid *jid, bool with_resource, const char **why)
{
    g_autofree char *user = NULL;
    g_autofree char *host = NULL;
    if (jid->local && !(user = xmpp_jid_unescape_local(jid->local))) {
        refuse(why, "a localpart whose XEP-0106 escapes cannot be undone");
        return NULL;
    }
    host = jid->domain[0] == '[' ? g_strdup(jid->domain) : domain_ascii(jid->domain);
    if (!host) {
        refuse(why, "a domain with no ASCII form");
        return NULL;
    }
    GString *uri = g_string_new("sip:");
    if (user) {
        percent_encode(uri, user, "&=+$,");
        g_string_append_c(uri, '@');
    }
    g_string_append(uri, host);
    if (with_resource && jid->resource) {
        g_string_append(uri, ";gr=");
        percent_encode(uri, jid->resource, "/:&+$");
    }
    return g_string_free(uri, FALSE);
}
