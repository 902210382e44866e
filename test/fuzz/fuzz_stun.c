/* libFuzzer target: STUN datagrams (RFC 5389) through the ICE-lite answer; an answer, when
 * there is one, must itself be a well-formed Binding Success of the length returned. */
#include "media/stun.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(5000)};
    uint8_t out[SYLK_STUN_MAX_RESPONSE];
    /* the first bytes choose the credentials, so that integrity can be met by a corpus */
    ssize_t n = sylk_stun_ice_answer(data, size, "evtj", "VOkJxbRl1RmTxUk/WvJxBt",
                                     (struct sockaddr *)&from, out);
    if (n > 0 && (n > SYLK_STUN_MAX_RESPONSE || out[0] != 0x01 || out[1] != 0x01 ||
                  (size_t)(out[2] << 8 | out[3]) + 20 != (size_t)n))
        abort();
    (void)sylk_stun_use_candidate(data, size);
    return 0;
}
