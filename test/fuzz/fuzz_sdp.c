/* libFuzzer target: SDP offers through sylk_sdp_parse, then printing an answer from them;
 * MSRP file-selector attributes through the RFC 5547 parser and back. */
#include "msrp/file_selector.h"
#include "sdp/sdp.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *prefs[] = {"opus", "G722", "speex", "PCMU", "PCMA", NULL};
    static const struct sylk_sdp_policy policy = {
        .codecs = prefs, .srtp = SYLK_SRTP_OPTIONAL, .msrp = SYLK_SDP_MSRP_TCP | SYLK_SDP_MSRP_TLS};
    struct sylk_sdp sdp;
    char *error = NULL;
    if (sylk_sdp_parse((const char *)data, size, &policy, &sdp, &error) == 0) {
        for (unsigned i = 0; i < sdp.count; i++) {
            if (!sdp.m[i].usable)
                sdp.m[i].port = 0;
            struct sylk_file_selector sel;
            char *why = NULL;
            if (sdp.m[i].file_selector &&
                sylk_file_selector_parse(sdp.m[i].file_selector, &sel, &why) == 0) {
                free(sylk_file_selector_format(&sel));
                sylk_file_selector_clear(&sel);
            }
            free(why);
        }
        free(sylk_sdp_print(&sdp, "127.0.0.1", 1, 1, NULL));
        free(sylk_sdp_print(&sdp, "::1", 1, 2, prefs));
        sylk_sdp_clear(&sdp);
    }
    free(error);
    return 0;
}
