/*
 * libFuzzer target: what the XMPP gateway's mapping reads from SIP peers (plugins/xmppgw):
 * PIDF documents, is-composing documents, message/cpim bodies, text/html bodies and whole SIP
 * MESSAGE bodies under each content type it takes. The first byte chooses. A refusal always
 * says why; what is read comes back the same when written and read again (a PIDF's tuples with
 * their state and notes, an is-composing state); the stanzas and documents built from it are
 * well-formed.
 */
#include "chatstate.h"
#include "cpim.h"
#include "message.h"
#include "ns.h"
#include "pidf.h"
#include "xhtml.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void pidf(const char *data, size_t len)
{
    struct xgw_pidf p;
    const char *why = NULL;
    if (xgw_pidf_parse(data, len, &p, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    struct xgw_pidf_resource *rs = g_new0(struct xgw_pidf_resource, p.tuples->len + 1);
    for (guint i = 0; i < p.tuples->len; i++) {
        struct xgw_pidf_tuple *t = g_ptr_array_index(p.tuples, i);
        if (t->presence.status && !xmpp_xml_text_valid(t->presence.status, -1))
            abort(); /* it came from XML */
        rs[i].presence = &t->presence;
        rs[i].contact = t->contact;
    }
    char *doc = xgw_pidf_build("sip:someone@example.com", rs, p.tuples->len);
    struct xgw_pidf again;
    if (xgw_pidf_parse(doc, strlen(doc), &again, &why) != 0 || again.tuples->len != p.tuples->len)
        abort();
    for (guint i = 0; i < p.tuples->len; i++) {
        const struct xgw_pidf_tuple *a = g_ptr_array_index(p.tuples, i);
        const struct xgw_pidf_tuple *b = g_ptr_array_index(again.tuples, i);
        /* a tuple without a note of its own may take the person's (the best resource's) */
        if (a->presence.available != b->presence.available ||
            (a->presence.status && g_strcmp0(a->presence.status, b->presence.status) != 0))
            abort();
    }
    xgw_pidf_clear(&again);
    g_free(doc);
    g_free(rs);
    xgw_pidf_clear(&p);
}

static void composing(const char *data, size_t len)
{
    struct xgw_composing c;
    const char *why = NULL;
    if (xgw_composing_parse(data, len, &c, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    char *doc = xgw_composing_format(c.active, c.refresh, NULL);
    struct xgw_composing again;
    if (xgw_composing_parse(doc, strlen(doc), &again, &why) != 0 || again.active != c.active ||
        again.refresh != (c.active ? c.refresh : 0))
        abort();
    xgw_composing_clear(&again);
    g_free(doc);
    xgw_composing_clear(&c);
}

static void cpim(const char *data, size_t len)
{
    struct xgw_cpim c;
    const char *why = NULL;
    if (xgw_cpim_parse(data, len, &c, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    if (c.body < data || c.body + c.body_len != data + len)
        abort();
    g_free(xgw_cpim_address_uri(xgw_cpim_header(&c, "From")));
    xgw_cpim_clear(&c);
}

static void html(const char *data, size_t len)
{
    struct xmpp_node *body = xgw_xhtml_from_html(data, len);
    if (!body)
        return;
    char *text = xgw_xhtml_text(body);
    char *out = xgw_xhtml_to_html(body);
    if (!g_utf8_validate(text, -1, NULL) || !g_utf8_validate(out, -1, NULL))
        abort();
    struct xmpp_node *again = xgw_xhtml_from_html(out, strlen(out));
    struct xmpp_node *clean = again ? xgw_xhtml_sanitize(again) : NULL;
    if (!again || !xmpp_node_equal(again, clean)) /* what we write is already clean */
        abort();
    xmpp_node_free(clean);
    xmpp_node_free(again);
    g_free(out);
    g_free(text);
    xmpp_node_free(body);
}

static void message(uint8_t which, const char *data, size_t len)
{
    static const char *const types[] = {"text/plain", "text/plain;charset=iso-8859-1", "text/html",
                                        "message/cpim", "application/im-iscomposing+xml"};
    struct xgw_sip_content c;
    const char *why = NULL;
    int status = xgw_sip_content_decode(types[which % G_N_ELEMENTS(types)], data, len, &c, &why);
    if (status) {
        if (!why || (status != 400 && status != 413 && status != 415))
            abort();
        return;
    }
    struct xmpp_node *m = xgw_message_from_sip("a@sip.example", "b@xmpp.example", "id", &c, NULL,
                                               NULL, XGW_CHAT_ACTIVE);
    const struct xmpp_scope scope = {.default_ns = XMPP_NS_SERVER};
    char *xml = xmpp_node_to_string(m, &scope);
    if (!xmpp_xml_text_valid(xml, -1))
        abort();
    g_free(xml);
    xmpp_node_free(m);
    xgw_sip_content_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0:
        pidf(d, n);
        break;
    case 1:
        composing(d, n);
        break;
    case 2:
        cpim(d, n);
        break;
    case 3:
        html(d, n);
        break;
    default:
        if (n >= 1)
            message((uint8_t)d[0], d + 1, n - 1);
    }
    return 0;
}
