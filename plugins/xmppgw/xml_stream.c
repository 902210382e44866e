/*
 * xml_stream.c — the XMPP stream parser over libxml2's SAX2 push parser, and our stream
 * header. See xml_stream.h.
 */
#define G_LOG_DOMAIN "sylk-xmpp"
#include "xml_stream.h"

#include "jid.h"
#include "ns.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <string.h>

/* Bytes handed to libxml2 at a time, so that limits are checked while a large read is parsed. */
#define PIECE 4096
/* A start tag libxml2 is waiting to complete is held back until its '>' (or this much). */
#define HOLD_MAX 4096

enum state {
    WAIT_HEADER,
    OPEN,
    CLOSED,
    FAILED,
};

struct xmpp_stream_parser {
    xmlParserCtxtPtr ctxt;
    char *content_ns; /* expected default namespace, NULL: any of three */
    struct xmpp_stream_limits limits;
    enum state state;
    unsigned depth;   /* open elements, <stream:stream> included */
    GPtrArray *open;  /* the elements of the stanza being built, outermost first */
    GQueue events;    /* struct xmpp_stream_event * */
    guint64 fed;      /* bytes of this stream received (given to libxml2 or held) */
    guint64 boundary; /* where the last thing at stream level ended */
    GByteArray *held; /* bytes of an incomplete start tag not given to libxml2 yet */
    char quote;       /* inside a quoted attribute value of the held tag: its quote */
    size_t parse_calls;
    bool in_error_handler;
};

static void push_event(struct xmpp_stream_parser *p, struct xmpp_stream_event ev)
{
    g_queue_push_tail(&p->events, g_memdup2(&ev, sizeof ev));
}

static void drop_stanza(struct xmpp_stream_parser *p)
{
    if (p->open->len)
        xmpp_node_free(g_ptr_array_index(p->open, 0));
    g_ptr_array_set_size(p->open, 0);
}

static void fail(struct xmpp_stream_parser *p, enum xmpp_stream_condition cond, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));

/* The first error ends the stream: one ERROR event, and libxml2 stops calling us. libxml2 may
 * be stopped from a SAX callback but not from its error handler: stopping frees the input
 * that the code raising the error goes on using (a UTF-16 lone surrogate crashed it there).
 * After an error libxml2 stops by itself or goes on with callbacks we ignore. */
static void fail(struct xmpp_stream_parser *p, enum xmpp_stream_condition cond, const char *fmt,
                 ...)
{
    if (p->state == FAILED)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p->state = FAILED;
    drop_stanza(p);
    push_event(p, (struct xmpp_stream_event){
                      .type = XMPP_STREAM_EV_ERROR, .condition = cond, .text = text});
    if (p->ctxt && !p->in_error_handler)
        xmlStopParser(p->ctxt);
}

static guint64 consumed(struct xmpp_stream_parser *p)
{
    long n = xmlByteConsumed(p->ctxt);
    return n > 0 ? (guint64)n : 0;
}

/* libxml2 calls back for a start tag before it checks the tag's end (it reports a missing '>'
 * afterwards): an element whose tag is not followed by '>' or '/>' is no element. Whether it
 * had been seen depended on how the bytes were split. */
static bool start_tag_ends(struct xmpp_stream_parser *p)
{
    xmlParserInputPtr in = p->ctxt->input;
    if (!in || !in->cur || in->cur >= in->end)
        return false;
    return in->cur[0] == '>' || (in->cur[0] == '/' && in->cur + 1 < in->end && in->cur[1] == '>');
}

/* In a start-element callback libxml2 has not consumed the tag's closing '>' yet. */
static guint64 consumed_after_start_tag(struct xmpp_stream_parser *p)
{
    const xmlChar *cur = p->ctxt->input ? p->ctxt->input->cur : NULL;
    guint64 n = consumed(p);
    if (cur && cur < p->ctxt->input->end && *cur == '>')
        n++;
    return n;
}

/* libxml2's errors and warnings, from the context or raised without one (encodings). */
static void on_error(void *user, xmlErrorPtr e)
{
    struct xmpp_stream_parser *p = user;
    if (!e || e->level < XML_ERR_ERROR || (p->state != WAIT_HEADER && p->state != OPEN))
        return;
    enum xmpp_stream_condition cond = XMPP_STREAM_ERR_NOT_WELL_FORMED;
    if (e->domain == XML_FROM_NAMESPACE && e->code == XML_NS_ERR_UNDEFINED_NAMESPACE)
        cond = XMPP_STREAM_ERR_BAD_NAMESPACE_PREFIX;
    else if (e->code == XML_ERR_UNDECLARED_ENTITY)
        cond = XMPP_STREAM_ERR_RESTRICTED_XML;
    else if (e->code == XML_ERR_UNSUPPORTED_ENCODING || e->domain == XML_FROM_I18N)
        cond = XMPP_STREAM_ERR_UNSUPPORTED_ENCODING;
    g_autofree char *msg = g_strdup(e->message ? e->message : "XML error");
    g_strdelimit(g_strchomp(msg), "\r\n", ' ');
    p->in_error_handler = true;
    fail(p, cond, "%s (line %d)", msg, e->line);
    p->in_error_handler = false;
}

static void restricted(struct xmpp_stream_parser *p, const char *what)
{
    fail(p, XMPP_STREAM_ERR_RESTRICTED_XML, "%s is not allowed in XMPP (RFC 6120 §11.1)", what);
}

static void on_internal_subset(void *user, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id)
{
    (void)name, (void)external_id, (void)system_id;
    restricted(user, "a DOCTYPE");
}

static xmlEntityPtr on_get_entity(void *user, const xmlChar *name)
{
    (void)name;
    restricted(user, "an entity reference");
    return NULL;
}

static void on_entity_decl(void *user, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    (void)name, (void)type, (void)public_id, (void)system_id, (void)content;
    restricted(user, "an entity declaration");
}

static void on_pi(void *user, const xmlChar *target, const xmlChar *data)
{
    (void)target, (void)data;
    restricted(user, "a processing instruction");
}

static void on_comment(void *user, const xmlChar *value)
{
    (void)value;
    restricted(user, "a comment");
}

/* Without entity substitution libxml2 hands an attribute's '&' over as "&#38;"; a raw '&'
 * cannot occur in a value, so each one starts that reference. */
static char *attr_value(const xmlChar *value, const xmlChar *end)
{
    GString *s = g_string_sized_new((gsize)(end - value));
    for (const xmlChar *c = value; c < end; c++) {
        g_string_append_c(s, (char)*c);
        if (*c == '&' && end - c >= 5 && memcmp(c, "&#38;", 5) == 0)
            c += 4;
    }
    return g_string_free(s, FALSE);
}

static bool allowed_content_ns(const struct xmpp_stream_parser *p, const char *ns)
{
    if (!ns)
        return false;
    if (p->content_ns)
        return strcmp(ns, p->content_ns) == 0;
    return strcmp(ns, XMPP_NS_SERVER) == 0 || strcmp(ns, XMPP_NS_CLIENT) == 0 ||
           strcmp(ns, XMPP_NS_COMPONENT) == 0;
}

static bool encoding_ok(xmlParserCtxtPtr ctxt)
{
    if (ctxt->encoding && g_ascii_strcasecmp((const char *)ctxt->encoding, "UTF-8") != 0)
        return false;
    return !(ctxt->input && ctxt->input->buf && ctxt->input->buf->encoder);
}

/* An address of the header: empty means absent; anything else must be a JID. */
static bool header_address(struct xmpp_stream_parser *p, const char *name, char **field)
{
    if (*field && !**field)
        g_clear_pointer(field, g_free);
    if (*field && !xmpp_jid_valid(*field)) {
        fail(p, XMPP_STREAM_ERR_IMPROPER_ADDRESSING, "the stream header's %s is not a JID", name);
        return false;
    }
    return true;
}

static bool check_header(struct xmpp_stream_parser *p, struct xmpp_stream_header *h)
{
    unsigned major, minor;
    if (!allowed_content_ns(p, h->content_ns)) {
        fail(p, XMPP_STREAM_ERR_INVALID_NAMESPACE, "the stream's default namespace is %s%s%s",
             h->content_ns ? "'" : "", h->content_ns ? h->content_ns : "missing",
             h->content_ns ? "'" : "");
        return false;
    }
    if (h->version && (!xmpp_stream_version_parse(h->version, &major, &minor) || major > 1)) {
        fail(p, XMPP_STREAM_ERR_UNSUPPORTED_VERSION, "stream version '%s' (we speak 1.0)",
             h->version);
        return false;
    }
    if (h->id && !*h->id)
        g_clear_pointer(&h->id, g_free);
    return header_address(p, "to", &h->to) && header_address(p, "from", &h->from);
}

static void on_stream_start(struct xmpp_stream_parser *p, const xmlChar *localname,
                            const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                            int nb_attributes, const xmlChar **attrs)
{
    if (!encoding_ok(p->ctxt)) {
        fail(p, XMPP_STREAM_ERR_UNSUPPORTED_ENCODING, "the stream is not in UTF-8");
        return;
    }
    if (!uri || strcmp((const char *)uri, XMPP_NS_STREAMS) != 0) {
        fail(p, XMPP_STREAM_ERR_INVALID_NAMESPACE, "the root element is not in %s",
             XMPP_NS_STREAMS);
        return;
    }
    if (strcmp((const char *)localname, "stream") != 0) {
        fail(p, XMPP_STREAM_ERR_BAD_FORMAT, "the root element is <%s>, not <stream>", localname);
        return;
    }
    struct xmpp_stream_header *h = g_new0(struct xmpp_stream_header, 1);
    for (int i = 0; i < nb_namespaces; i++) {
        const char *prefix = (const char *)namespaces[2 * i];
        const char *ns = (const char *)namespaces[2 * i + 1];
        if (!prefix)
            g_free(h->content_ns), h->content_ns = g_strdup(ns);
        else if (ns && strcmp(ns, XMPP_NS_DIALBACK) == 0)
            h->dialback = true;
    }
    for (int i = 0; i < nb_attributes; i++) {
        const char *name = (const char *)attrs[5 * i];
        const char *ns = (const char *)attrs[5 * i + 2];
        char **field = NULL;
        if (!ns && strcmp(name, "to") == 0)
            field = &h->to;
        else if (!ns && strcmp(name, "from") == 0)
            field = &h->from;
        else if (!ns && strcmp(name, "id") == 0)
            field = &h->id;
        else if (!ns && strcmp(name, "version") == 0)
            field = &h->version;
        else if (ns && strcmp(ns, XMPP_NS_XML) == 0 && strcmp(name, "lang") == 0)
            field = &h->lang;
        if (field) {
            g_free(*field);
            *field = attr_value(attrs[5 * i + 3], attrs[5 * i + 4]);
        }
    }
    if (!check_header(p, h)) {
        xmpp_stream_header_free(h);
        return;
    }
    p->state = OPEN;
    p->depth = 1;
    p->boundary = consumed_after_start_tag(p);
    push_event(p, (struct xmpp_stream_event){.type = XMPP_STREAM_EV_OPEN, .header = h});
}

static void on_start(void *user, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                     int nb_attributes, int nb_defaulted, const xmlChar **attrs)
{
    struct xmpp_stream_parser *p = user;
    (void)prefix, (void)nb_defaulted;
    if (p->state != WAIT_HEADER && p->state != OPEN)
        return;
    if (!start_tag_ends(p)) {
        fail(p, XMPP_STREAM_ERR_NOT_WELL_FORMED, "the start tag <%s> does not end", localname);
        return;
    }
    if (p->depth == 0) {
        on_stream_start(p, localname, uri, nb_namespaces, namespaces, nb_attributes, attrs);
        return;
    }
    if (p->depth > p->limits.max_depth) {
        fail(p, XMPP_STREAM_ERR_POLICY_VIOLATION, "elements nested more than %u deep",
             p->limits.max_depth);
        return;
    }
    struct xmpp_node *node = xmpp_node_new((const char *)uri, (const char *)localname);
    for (int i = 0; node && i < nb_attributes; i++) {
        g_autofree char *value = attr_value(attrs[5 * i + 3], attrs[5 * i + 4]);
        if (xmpp_node_set_attr_ns(node, (const char *)attrs[5 * i + 2], (const char *)attrs[5 * i],
                                  value) != 0)
            g_clear_pointer(&node, xmpp_node_free);
    }
    if (!node) {
        fail(p, XMPP_STREAM_ERR_NOT_WELL_FORMED, "element <%s> cannot be represented", localname);
        return;
    }
    if (p->open->len)
        xmpp_node_append(g_ptr_array_index(p->open, p->open->len - 1), node);
    g_ptr_array_add(p->open, node);
    p->depth++;
}

static void on_end(void *user, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    struct xmpp_stream_parser *p = user;
    (void)localname, (void)prefix, (void)uri;
    if (p->state != OPEN)
        return;
    p->depth--;
    if (p->depth == 0) { /* what may follow </stream:stream> is no concern of ours */
        p->state = CLOSED;
        push_event(p, (struct xmpp_stream_event){.type = XMPP_STREAM_EV_CLOSE});
        xmlStopParser(p->ctxt);
        return;
    }
    struct xmpp_node *node = g_ptr_array_steal_index(p->open, p->open->len - 1);
    if (p->depth > 1)
        return;
    guint64 end = consumed(p);
    if (end - p->boundary > p->limits.max_stanza_bytes) {
        xmpp_node_free(node);
        fail(p, XMPP_STREAM_ERR_POLICY_VIOLATION, "a stanza of more than %zu bytes",
             p->limits.max_stanza_bytes);
        return;
    }
    p->boundary = end;
    push_event(p, (struct xmpp_stream_event){.type = XMPP_STREAM_EV_STANZA, .stanza = node});
}

static bool whitespace(const xmlChar *s, int len)
{
    for (int i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static void on_characters(void *user, const xmlChar *s, int len)
{
    struct xmpp_stream_parser *p = user;
    if (p->state != OPEN)
        return;
    if (p->depth == 1) { /* between stanzas: whitespace keepalives only */
        if (!whitespace(s, len)) {
            fail(p, XMPP_STREAM_ERR_BAD_FORMAT, "text outside any stanza");
            return;
        }
        p->boundary = consumed(p);
        return;
    }
    if (xmpp_node_add_text(g_ptr_array_index(p->open, p->open->len - 1), (const char *)s, len))
        fail(p, XMPP_STREAM_ERR_NOT_WELL_FORMED, "text that is not XML characters");
}

static xmlParserCtxtPtr new_context(struct xmpp_stream_parser *p)
{
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_characters;
    sax.cdataBlock = on_characters;
    sax.ignorableWhitespace = on_characters;
    sax.serror = on_error;
    sax.internalSubset = on_internal_subset;
    sax.externalSubset = on_internal_subset;
    sax.getEntity = on_get_entity;
    sax.getParameterEntity = on_get_entity;
    sax.entityDecl = on_entity_decl;
    sax.processingInstruction = on_pi;
    sax.comment = on_comment;
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
    if (ctxt)
        xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    return ctxt;
}

static void reset_state(struct xmpp_stream_parser *p)
{
    drop_stanza(p);
    p->state = WAIT_HEADER;
    p->depth = 0;
    p->fed = p->boundary = 0;
    g_byte_array_set_size(p->held, 0);
    p->quote = 0;
}

struct xmpp_stream_parser *xmpp_stream_parser_new(const char *content_ns,
                                                  const struct xmpp_stream_limits *limits)
{
    static const struct xmpp_stream_limits defaults = {XMPP_STREAM_DEFAULT_MAX_STANZA,
                                                       XMPP_STREAM_DEFAULT_MAX_DEPTH};
    if (!limits)
        limits = &defaults;
    if (limits->max_depth == 0 || limits->max_depth > XMPP_STREAM_MAX_DEPTH_LIMIT ||
        limits->max_stanza_bytes == 0)
        return NULL;
    xmlInitParser();
    struct xmpp_stream_parser *p = g_new0(struct xmpp_stream_parser, 1);
    p->content_ns = g_strdup(content_ns);
    p->limits = *limits;
    p->open = g_ptr_array_new();
    p->held = g_byte_array_new();
    g_queue_init(&p->events);
    reset_state(p);
    p->ctxt = new_context(p);
    if (!p->ctxt) {
        xmpp_stream_parser_free(p);
        return NULL;
    }
    return p;
}

static void event_free(gpointer data)
{
    xmpp_stream_event_clear(data);
    g_free(data);
}

void xmpp_stream_parser_free(struct xmpp_stream_parser *p)
{
    if (!p)
        return;
    drop_stanza(p);
    g_ptr_array_unref(p->open);
    g_byte_array_unref(p->held);
    g_queue_clear_full(&p->events, event_free);
    if (p->ctxt)
        xmlFreeParserCtxt(p->ctxt);
    g_free(p->content_ns);
    g_free(p);
}

void xmpp_stream_reset(struct xmpp_stream_parser *p)
{
    g_queue_clear_full(&p->events, event_free);
    reset_state(p);
    if (p->ctxt)
        xmlFreeParserCtxt(p->ctxt);
    p->ctxt = new_context(p);
    if (!p->ctxt)
        fail(p, XMPP_STREAM_ERR_INTERNAL_SERVER_ERROR, "out of memory");
}

/* libxml2 errors raised without a context (encoding conversion) go to the thread's global
 * handlers: they point at this parser only while it runs. */
static void silent(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

static void parse(struct xmpp_stream_parser *p, const void *data, size_t len, bool terminate)
{
    xmlStructuredErrorFunc old_structured = xmlStructuredError;
    void *old_structured_ctx = xmlStructuredErrorContext;
    xmlGenericErrorFunc old_generic = xmlGenericError;
    void *old_generic_ctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(p, on_error);
    xmlSetGenericErrorFunc(NULL, silent);
    p->parse_calls++;
    xmlParseChunk(p->ctxt, data, (int)len, terminate);
    xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
    xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
    if (p->ctxt->dict && xmlDictGetUsage(p->ctxt->dict) > XMPP_STREAM_MAX_NAME_BYTES)
        fail(p, XMPP_STREAM_ERR_POLICY_VIOLATION,
             "more than %d bytes of distinct element and namespace names",
             XMPP_STREAM_MAX_NAME_BYTES);
}

/* The quote state at the end of bytes of a start tag, from `quote`; *gt: index just after an
 * unquoted '>' (the end of the tag), or 0 when there is none. */
static char lex_tag(const guint8 *s, size_t len, char quote, size_t *gt)
{
    *gt = 0;
    for (size_t i = 0; i < len; i++) {
        if (quote) {
            if (s[i] == quote)
                quote = 0;
        } else if (s[i] == '\'' || s[i] == '"') {
            quote = (char)s[i];
        } else if (s[i] == '>') {
            *gt = i + 1;
            return 0;
        }
    }
    return quote;
}

/*
 * libxml2 retries an incomplete start tag from its '<' on every chunk it gets once a '>' has
 * arrived, even a quoted one: fed byte by byte, a 256 KiB tag full of quoted '>' took it 27 s.
 * So while it waits for a start tag we keep the bytes until the tag's own '>' (or HOLD_MAX of
 * them) and hand them over at once.
 */
static bool start_holding(struct xmpp_stream_parser *p)
{
    xmlParserInputPtr in = p->ctxt->input;
    if (p->state == FAILED || p->ctxt->instate != XML_PARSER_START_TAG || !in || !in->cur ||
        in->end <= in->cur || *in->cur != '<')
        return false;
    size_t gt;
    p->quote = lex_tag(in->cur, (size_t)(in->end - in->cur), 0, &gt);
    return gt == 0;
}

static void pass(struct xmpp_stream_parser *p, const guint8 *data, size_t len)
{
    if (p->held->len || p->quote || start_holding(p)) {
        size_t gt;
        p->quote = lex_tag(data, len, p->quote, &gt);
        g_byte_array_append(p->held, data, (guint)len);
        if (!gt && p->held->len < HOLD_MAX)
            return;
        p->quote = 0;
        parse(p, p->held->data, p->held->len, false);
        g_byte_array_set_size(p->held, 0);
        return;
    }
    parse(p, data, len, false);
}

int xmpp_stream_feed(struct xmpp_stream_parser *p, const void *data, size_t len)
{
    const guint8 *bytes = data;
    while (len > 0 && (p->state == WAIT_HEADER || p->state == OPEN)) {
        size_t pending = p->fed - p->boundary;
        size_t room = pending < p->limits.max_stanza_bytes
                          ? p->limits.max_stanza_bytes - pending + 1 /* the byte that passes */
                          : 1;
        size_t n = MIN(MIN(len, (size_t)PIECE), room);
        p->fed += n;
        pass(p, bytes, n);
        bytes += n;
        len -= n;
        if (p->state != FAILED && p->fed - p->boundary > p->limits.max_stanza_bytes)
            fail(p, XMPP_STREAM_ERR_POLICY_VIOLATION, "%s of more than %zu bytes",
                 p->state == OPEN ? "a stanza" : "a stream header", p->limits.max_stanza_bytes);
    }
    return p->state == FAILED ? -EPROTO : 0;
}

void xmpp_stream_finish(struct xmpp_stream_parser *p)
{
    if (p->state == WAIT_HEADER || p->state == OPEN) {
        /* libxml2 sees the end of its input, so it reports what it still held back */
        parse(p, p->held->data, p->held->len, true);
        g_byte_array_set_size(p->held, 0);
        fail(p, XMPP_STREAM_ERR_NOT_WELL_FORMED, "the connection ended before %s",
             p->state == OPEN ? "</stream:stream>" : "a stream header");
    }
}

size_t xmpp_stream_parse_calls(const struct xmpp_stream_parser *p)
{
    return p->parse_calls;
}

bool xmpp_stream_next(struct xmpp_stream_parser *p, struct xmpp_stream_event *event)
{
    struct xmpp_stream_event *ev = g_queue_pop_head(&p->events);
    if (!ev)
        return false;
    *event = *ev;
    g_free(ev);
    return true;
}

void xmpp_stream_event_clear(struct xmpp_stream_event *event)
{
    xmpp_stream_header_free(event->header);
    xmpp_node_free(event->stanza);
    g_free(event->text);
    memset(event, 0, sizeof *event);
}

void xmpp_stream_header_free(struct xmpp_stream_header *h)
{
    if (!h)
        return;
    g_free(h->content_ns);
    g_free(h->to);
    g_free(h->from);
    g_free(h->id);
    g_free(h->version);
    g_free(h->lang);
    g_free(h);
}

static bool digits(const char *s, size_t len, unsigned *value)
{
    guint64 v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i]))
            return false;
        v = v * 10 + (guint64)(s[i] - '0');
        if (v > G_MAXUINT)
            return false;
    }
    *value = (unsigned)v;
    return true;
}

bool xmpp_stream_version_parse(const char *version, unsigned *major, unsigned *minor)
{
    const char *dot = strchr(version, '.');
    return dot && digits(version, (size_t)(dot - version), major) &&
           digits(dot + 1, strlen(dot + 1), minor);
}

static bool add_attr(GString *out, const char *name, const char *value)
{
    if (!value)
        return true;
    if (!xmpp_xml_text_valid(value, -1))
        return false;
    g_string_append_printf(out, " %s='", name);
    xmpp_xml_escape_attr(out, value, -1);
    g_string_append_c(out, '\'');
    return true;
}

char *xmpp_stream_header_write(const struct xmpp_stream_header *h)
{
    if (!h->content_ns)
        return NULL;
    GString *out = g_string_new("<?xml version='1.0'?><stream:stream");
    bool ok = add_attr(out, "xmlns", h->content_ns) &&
              add_attr(out, "xmlns:stream", XMPP_NS_STREAMS) &&
              add_attr(out, "xmlns:db", h->dialback ? XMPP_NS_DIALBACK : NULL) &&
              add_attr(out, "from", h->from) && add_attr(out, "to", h->to) &&
              add_attr(out, "id", h->id) && add_attr(out, "version", h->version) &&
              add_attr(out, "xml:lang", h->lang);
    g_string_append_c(out, '>');
    return g_string_free(out, !ok);
}

const char *xmpp_stream_footer(void)
{
    return "</stream:stream>";
}

struct xmpp_scope xmpp_stream_scope(const struct xmpp_stream_header *h)
{
    return (struct xmpp_scope){
        .default_ns = h->content_ns, .stream_prefix = true, .db_prefix = h->dialback};
}
