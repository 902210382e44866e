/* libFuzzer target: message/cpim bodies (RFC 3862) through sylk_cpim_parse, format and back. */
#include "msrp/cpim.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sylk_cpim m;
    char *error = NULL;
    if (sylk_cpim_parse(data, size, &m, &error) != 0) {
        if (!error)
            abort(); /* a refusal always says why */
        g_free(error);
        return 0;
    }
    GBytes *wire = sylk_cpim_format(&m);
    gsize n;
    const uint8_t *w = g_bytes_get_data(wire, &n);
    struct sylk_cpim again;
    char *error2 = NULL;
    /* what we write parses back to the same headers and body */
    if (sylk_cpim_parse(w, n, &again, &error2) != 0 || again.headers->len != m.headers->len ||
        again.content_headers->len != m.content_headers->len || again.body_len != m.body_len ||
        memcmp(again.body, m.body, m.body_len) != 0)
        abort();
    const char *ct = sylk_cpim_content(&m, "Content-Type");
    (void)sylk_cpim_get(&m, "urn:ag-projects:xml:ns:cpim", "Message-Type");
    char *display = NULL, *uri = NULL;
    if (sylk_cpim_address(sylk_cpim_get(&m, NULL, "From"), &display, &uri)) {
        char *back = sylk_cpim_format_address(display, uri);
        g_free(back);
    }
    (void)ct;
    g_free(display);
    g_free(uri);
    sylk_cpim_clear(&again);
    g_bytes_unref(wire);
    sylk_cpim_clear(&m);
    return 0;
}
