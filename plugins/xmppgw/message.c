/*
 * message.c — SIP MESSAGE bodies <-> XMPP <message/>. See message.h.
 */
#include "message.h"

#include "cpim.h"
#include "ns.h"
#include "xhtml.h"

#include <string.h>

/* "type/subtype; charset=..." -> lower-cased type/subtype and the charset (or NULL). */
static char *parse_content_type(const char *value, char **charset)
{
    *charset = NULL;
    if (!value)
        return NULL;
    g_auto(GStrv) parts = g_strsplit(value, ";", 16);
    if (!parts[0] || !*g_strstrip(parts[0]))
        return NULL; /* an empty value */
    char *type = g_ascii_strdown(parts[0], -1);
    for (guint i = 1; parts[i]; i++) {
        char *p = g_strstrip(parts[i]);
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (g_ascii_strcasecmp(g_strstrip(p), "charset") != 0 || *charset)
            continue;
        char *v = g_strstrip(eq + 1);
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
            v[n - 1] = '\0';
            v++;
        }
        *charset = g_strdup(v);
    }
    return type;
}

static bool is_utf8_name(const char *charset)
{
    return !charset || g_ascii_strcasecmp(charset, "utf-8") == 0 ||
           g_ascii_strcasecmp(charset, "utf8") == 0 || g_ascii_strcasecmp(charset, "us-ascii") == 0;
}

/* The body as UTF-8 text XML can carry: kept byte for byte when it is UTF-8 already. */
static int decode_text(const char *body, size_t len, const char *charset, char **out,
                       const char **why)
{
    char *text;
    if (is_utf8_name(charset)) {
        if (!g_utf8_validate_len(body, len, NULL)) {
            *why = "the body is not valid UTF-8";
            return 400;
        }
        text = g_strndup(body, len);
    } else {
        GError *error = NULL;
        gsize written = 0;
        text = g_convert(body, (gssize)len, "UTF-8", charset, NULL, &written, &error);
        if (!text) {
            gboolean unknown =
                g_error_matches(error, G_CONVERT_ERROR, G_CONVERT_ERROR_NO_CONVERSION);
            g_error_free(error);
            *why = unknown ? "unknown charset" : "the body is not valid in its charset";
            return unknown ? 415 : 400;
        }
        if (strlen(text) != written) {
            g_free(text);
            *why = "the body holds a NUL character";
            return 400;
        }
    }
    if (strlen(text) != len && is_utf8_name(charset)) {
        g_free(text);
        *why = "the body holds a NUL character";
        return 400;
    }
    if (!xmpp_xml_text_valid(text, -1)) {
        g_free(text);
        *why = "the body holds characters XMPP cannot carry";
        return 400;
    }
    *out = text;
    return 0;
}

static int decode_payload(const char *type, const char *charset, const char *body, size_t len,
                          struct xgw_sip_content *out, const char **why)
{
    if (strcmp(type, "text/plain") == 0) {
        out->kind = XGW_CONTENT_TEXT;
        return decode_text(body, len, charset, &out->text, why);
    }
    if (strcmp(type, "text/html") == 0) {
        g_autofree char *html = NULL;
        int rc = decode_text(body, len, charset, &html, why);
        if (rc)
            return rc;
        out->kind = XGW_CONTENT_HTML;
        out->xhtml = xgw_xhtml_from_html(html, strlen(html));
        if (!out->xhtml) {
            *why = "the HTML body could not be read";
            return 400;
        }
        out->text = xgw_xhtml_text(out->xhtml);
        return 0;
    }
    if (strcmp(type, XGW_COMPOSING_TYPE) == 0) {
        out->kind = XGW_CONTENT_COMPOSING;
        return xgw_composing_parse(body, len, &out->composing, why) == 0 ? 0 : 400;
    }
    *why = "content type not supported";
    return 415;
}

int xgw_sip_content_decode(const char *content_type, const void *body, size_t len,
                           struct xgw_sip_content *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (len > XGW_MESSAGE_MAX_BYTES) {
        *why = "message too large";
        return 413;
    }
    if (len && !body) {
        *why = "no body";
        return 400;
    }
    const char *data = body ? body : "";
    g_autofree char *charset = NULL;
    g_autofree char *type = parse_content_type(content_type, &charset);
    if (!type) {
        *why = "no Content-Type";
        return 400;
    }
    int rc;
    if (strcmp(type, XGW_CPIM_TYPE) == 0) {
        struct xgw_cpim cpim;
        if (xgw_cpim_parse(data, len, &cpim, why) < 0)
            return 400;
        g_autofree char *inner_charset = NULL;
        g_autofree char *inner =
            parse_content_type(xgw_cpim_content_header(&cpim, "Content-Type"), &inner_charset);
        out->cpim_from = xgw_cpim_address_uri(xgw_cpim_header(&cpim, "From"));
        out->cpim_to = xgw_cpim_address_uri(xgw_cpim_header(&cpim, "To"));
        const char *subject = xgw_cpim_header(&cpim, "Subject");
        if (subject && xmpp_xml_text_valid(subject, -1))
            out->subject = g_strdup(subject);
        if (!inner) {
            *why = "CPIM content without a Content-Type";
            rc = 400;
        } else {
            rc = decode_payload(inner, inner_charset, cpim.body, cpim.body_len, out, why);
        }
        xgw_cpim_clear(&cpim);
    } else {
        rc = decode_payload(type, charset, data, len, out, why);
    }
    if (rc)
        xgw_sip_content_clear(out);
    return rc;
}

void xgw_sip_content_clear(struct xgw_sip_content *c)
{
    g_free(c->text);
    if (c->xhtml)
        xmpp_node_free(c->xhtml);
    xgw_composing_clear(&c->composing);
    g_free(c->cpim_from);
    g_free(c->cpim_to);
    g_free(c->subject);
    memset(c, 0, sizeof(*c));
}

bool xgw_lang_tag_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0, run = 0;
    if (n == 0 || n > 64 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-') {
            if (run == 0)
                return false;
            run = 0;
        } else if (!g_ascii_isalnum(s[i]) || ++run > 8) {
            return false;
        }
    }
    return true;
}

struct xmpp_node *xgw_message_from_sip(const char *from, const char *to, const char *id,
                                       const struct xgw_sip_content *content, const char *subject,
                                       const char *lang, enum xgw_chat_state chat_state)
{
    struct xmpp_node *m = xmpp_node_new(XMPP_NS_SERVER, "message");
    xmpp_node_set_attr(m, "from", from);
    xmpp_node_set_attr(m, "to", to);
    xmpp_node_set_attr(m, "type", "chat");
    if (id)
        xmpp_node_set_attr(m, "id", id);
    if (lang && xgw_lang_tag_valid(lang))
        xmpp_node_set_attr_ns(m, XMPP_NS_XML, "lang", lang);
    if (content->kind == XGW_CONTENT_COMPOSING) {
        xgw_chat_state_add(m, xgw_chat_state_from_composing(content->composing.active));
        return m;
    }
    const char *subj = subject ? subject : content->subject;
    if (subj && xmpp_xml_text_valid(subj, -1))
        xmpp_node_add_text(xmpp_node_add_element(m, XMPP_NS_SERVER, "subject"), subj, -1);
    xmpp_node_add_text(xmpp_node_add_element(m, XMPP_NS_SERVER, "body"), content->text, -1);
    if (content->xhtml) {
        struct xmpp_node *html = xmpp_node_add_element(m, XGW_NS_XHTML_IM, "html");
        xmpp_node_append(html, xmpp_node_copy(content->xhtml));
    }
    xgw_chat_state_add(m, chat_state);
    return m;
}

void xgw_xmpp_content_read(const struct xmpp_node *m, struct xgw_xmpp_content *out)
{
    memset(out, 0, sizeof(*out));
    const char *lang = xmpp_node_attr_ns(m, XMPP_NS_XML, "lang");
    if (xgw_lang_tag_valid(lang))
        out->lang = g_strdup(lang);
    const struct xmpp_node *body = xmpp_node_child_in_lang(m, m->ns, "body", lang);
    if (body)
        out->body = xmpp_node_text(body);
    const struct xmpp_node *html = xmpp_node_child(m, XGW_NS_XHTML_IM, "html");
    const struct xmpp_node *xbody = html ? xmpp_node_child(html, XGW_NS_XHTML, "body") : NULL;
    if (xbody) {
        out->xhtml = xgw_xhtml_sanitize(xbody);
        if (!out->xhtml->children) { /* nothing left worth sending as HTML */
            xmpp_node_free(out->xhtml);
            out->xhtml = NULL;
        }
    }
    const struct xmpp_node *subject = xmpp_node_child(m, m->ns, "subject");
    if (subject) {
        out->subject = xmpp_node_text(subject);
        g_strdelimit(out->subject, "\r\n\t", ' '); /* a SIP header is one line */
        if (!*out->subject) {
            g_free(out->subject);
            out->subject = NULL;
        }
    }
    out->state = xgw_chat_state_of(m);
    out->receipt_request =
        xmpp_node_child(m, XGW_NS_RECEIPTS, "request") && xmpp_node_attr(m, "id");
}

void xgw_xmpp_content_clear(struct xgw_xmpp_content *c)
{
    g_free(c->body);
    if (c->xhtml)
        xmpp_node_free(c->xhtml);
    g_free(c->subject);
    g_free(c->lang);
    memset(c, 0, sizeof(*c));
}

bool xgw_xmpp_content_has_text(const struct xgw_xmpp_content *c)
{
    return c->body || c->xhtml;
}

GString *xgw_sip_body_for(const struct xgw_xmpp_content *c, bool use_cpim, const char *from_uri,
                          const char *to_uri, const char *datetime, char **content_type)
{
    g_autofree char *html = c->xhtml ? xgw_xhtml_to_html(c->xhtml) : NULL;
    const char *payload = html ? html : c->body ? c->body : "";
    const char *type = html ? "text/html;charset=utf-8" : "text/plain;charset=utf-8";
    if (!use_cpim) {
        *content_type = g_strdup(type);
        return g_string_new(payload);
    }
    *content_type = g_strdup(XGW_CPIM_TYPE);
    return xgw_cpim_format(from_uri, to_uri, datetime, type, payload, strlen(payload));
}

char *xgw_sip_headers_for(const struct xgw_xmpp_content *c)
{
    GString *s = g_string_new(NULL);
    if (c->subject)
        g_string_append_printf(s, "Subject: %s\r\n", c->subject);
    if (c->lang)
        g_string_append_printf(s, "Content-Language: %s\r\n", c->lang);
    return g_string_free(s, s->len == 0);
}

struct xmpp_node *xgw_receipt_for(const struct xmpp_node *message, const char *id)
{
    const char *orig = xmpp_node_attr(message, "id");
    const char *from = xmpp_node_attr(message, "from");
    const char *to = xmpp_node_attr(message, "to");
    const char *type = xmpp_node_attr(message, "type");
    if (!orig || !from || !to)
        return NULL;
    struct xmpp_node *r = xmpp_node_new(message->ns, "message");
    xmpp_node_set_attr(r, "from", to);
    xmpp_node_set_attr(r, "to", from);
    xmpp_node_set_attr(r, "id", id);
    if (type)
        xmpp_node_set_attr(r, "type", type);
    xmpp_node_set_attr(xmpp_node_add_element(r, XGW_NS_RECEIPTS, "received"), "id", orig);
    return r;
}

char *xgw_datetime_now(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    return g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
}
