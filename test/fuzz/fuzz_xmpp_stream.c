/*
 * libFuzzer target: the XMPP stream parser (plugins/xmppgw/xml_stream.c). The input after its
 * first byte is a stream fed twice: at once, and cut in two where the first byte says. Both
 * must give the same events; when they end in a stream error, both do, though not always with
 * the same condition (libxml2 looks ahead as far as the bytes it holds, so of two faults, say
 * bad UTF-8 in a text and the size limit a little further on, either may be seen first).
 * Every stanza is then written with the serializer after a header
 * of ours and parsed again: it must come back as the same tree (and our header as the same
 * header), so what the gateway writes is always well-formed and means what it held.
 */
#include "ns.h"
#include "xml_node.h"
#include "xml_stream.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct xmpp_stream_limits small = {4096, 24};

struct run {
    GPtrArray *events; /* struct xmpp_stream_event *, owned */
    GString *transcript;
};

static void event_free(gpointer p)
{
    xmpp_stream_event_clear(p);
    g_free(p);
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

static void describe(GString *out, const struct xmpp_stream_event *ev)
{
    static const struct xmpp_scope scope = {NULL, false, false};
    switch (ev->type) {
    case XMPP_STREAM_EV_OPEN:
        g_string_append_printf(out, "OPEN %s %d %s %s %s %s %s\n", ev->header->content_ns,
                               ev->header->dialback, or_dash(ev->header->to),
                               or_dash(ev->header->from), or_dash(ev->header->id),
                               or_dash(ev->header->version), or_dash(ev->header->lang));
        break;
    case XMPP_STREAM_EV_STANZA:
        g_string_append(out, "STANZA ");
        xmpp_node_write(ev->stanza, &scope, out);
        g_string_append_c(out, '\n');
        break;
    case XMPP_STREAM_EV_CLOSE:
        g_string_append(out, "CLOSE\n");
        break;
    case XMPP_STREAM_EV_ERROR:
        if (!ev->text)
            abort(); /* an error always says why */
        g_string_append(out, "ERROR\n");
        break;
    }
}

static void run_stream(const uint8_t *data, size_t len, size_t cut, struct run *r)
{
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(NULL, &small);
    r->events = g_ptr_array_new_with_free_func(event_free);
    r->transcript = g_string_new(NULL);
    int a = xmpp_stream_feed(p, data, cut);
    int b = xmpp_stream_feed(p, data + cut, len - cut);
    xmpp_stream_finish(p);
    struct xmpp_stream_event ev;
    bool error = false;
    while (xmpp_stream_next(p, &ev)) {
        if (error)
            abort(); /* nothing after an error */
        error = ev.type == XMPP_STREAM_EV_ERROR;
        describe(r->transcript, &ev);
        g_ptr_array_add(r->events, g_memdup2(&ev, sizeof ev));
    }
    if ((a != 0 || b != 0) && !error)
        abort(); /* a refused feed has its error queued */
    xmpp_stream_parser_free(p);
}

/* Our header for the peer's content namespace, and each stanza written after it. */
static void reparse(const struct xmpp_stream_header *theirs, const struct xmpp_node *stanza)
{
    struct xmpp_stream_header ours = {.content_ns = theirs->content_ns,
                                      .dialback = theirs->dialback,
                                      .to = theirs->from,
                                      .from = theirs->to,
                                      .id = theirs->id,
                                      .version = theirs->version,
                                      .lang = theirs->lang};
    char *header = xmpp_stream_header_write(&ours);
    if (!header)
        abort(); /* what we parsed, we can write */
    struct xmpp_scope scope = xmpp_stream_scope(&ours);
    GString *doc = g_string_new(header);
    xmpp_node_write(stanza, &scope, doc);
    struct xmpp_stream_parser *p = xmpp_stream_parser_new(theirs->content_ns, NULL);
    if (xmpp_stream_feed(p, doc->str, doc->len) != 0)
        abort();
    struct xmpp_stream_event open, again, none;
    if (!xmpp_stream_next(p, &open) || open.type != XMPP_STREAM_EV_OPEN ||
        !xmpp_stream_next(p, &again) || again.type != XMPP_STREAM_EV_STANZA ||
        xmpp_stream_next(p, &none))
        abort();
    const struct xmpp_stream_header *h = open.header;
    if (g_strcmp0(h->content_ns, ours.content_ns) || h->dialback != ours.dialback ||
        g_strcmp0(h->to, ours.to) || g_strcmp0(h->from, ours.from) || g_strcmp0(h->id, ours.id) ||
        g_strcmp0(h->version, ours.version) || g_strcmp0(h->lang, ours.lang))
        abort();
    if (!xmpp_node_equal(again.stanza, stanza))
        abort();
    xmpp_stream_event_clear(&open);
    xmpp_stream_event_clear(&again);
    xmpp_stream_parser_free(p);
    g_string_free(doc, TRUE);
    g_free(header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *doc = data + 1;
    size_t len = size - 1;
    size_t cut = len * data[0] / 255;
    struct run whole, split;
    run_stream(doc, len, 0, &whole);
    run_stream(doc, len, cut, &split);
    if (strcmp(whole.transcript->str, split.transcript->str) != 0)
        abort(); /* where the bytes were cut changes nothing */
    const struct xmpp_stream_header *header = NULL;
    for (guint i = 0; i < whole.events->len; i++) {
        const struct xmpp_stream_event *ev = g_ptr_array_index(whole.events, i);
        if (ev->type == XMPP_STREAM_EV_OPEN)
            header = ev->header;
        else if (ev->type == XMPP_STREAM_EV_STANZA)
            reparse(header, ev->stanza);
    }
    g_ptr_array_unref(whole.events);
    g_ptr_array_unref(split.events);
    g_string_free(whole.transcript, TRUE);
    g_string_free(split.transcript, TRUE);
    return 0;
}
