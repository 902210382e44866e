/* libFuzzer target: MSRP frames (RFC 4975) through sylk_msrp_parse, the serializer and back. */
#include "msrp/frame.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sylk_msrp_limits small = {.max_header_bytes = 2048, .max_body_bytes = 4096};
    size_t pos = 0;
    while (pos < size) { /* a stream: frame after frame, as a connection reads them */
        struct sylk_msrp_frame f;
        size_t used = 0;
        char *error = NULL;
        enum sylk_msrp_parse_result r =
            sylk_msrp_parse(data + pos, size - pos, &small, &f, &used, &error);
        if (r != SYLK_MSRP_FRAME) {
            if ((r == SYLK_MSRP_ERROR) != (error != NULL))
                abort(); /* an error always says why, and only an error */
            g_free(error);
            return 0;
        }
        if (used == 0 || used > size - pos)
            abort();
        GBytes *wire = sylk_msrp_format(&f);
        if (wire) { /* what we write parses back to the same frame */
            gsize n;
            const uint8_t *w = g_bytes_get_data(wire, &n);
            struct sylk_msrp_frame g;
            size_t used2;
            char *error2 = NULL;
            if (sylk_msrp_parse(w, n, NULL, &g, &used2, &error2) != SYLK_MSRP_FRAME || used2 != n ||
                strcmp(g.transaction_id, f.transaction_id) != 0 || g.body_len != f.body_len ||
                g.flag != f.flag || g.headers->len != f.headers->len)
                abort();
            sylk_msrp_frame_clear(&g);
            g_bytes_unref(wire);
        }
        sylk_msrp_frame_clear(&f);
        pos += used;
    }
    return 0;
}
