/* libFuzzer target: RTP and RTCP packets through their parsers. */
#include "media/rtp_packet.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sylk_rtp_header h;
    if (sylk_rtp_parse(data, size, 1, &h) == 0) {
        if (h.payload < data || h.payload + h.payload_len > data + size)
            abort(); /* the payload must lie inside the packet */
    }
    struct sylk_rtcp_parsed p;
    if (sylk_rtcp_parse(data, size, &p) == 0 && p.blocks > 4)
        abort();
    return 0;
}
