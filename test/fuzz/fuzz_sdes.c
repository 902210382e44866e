/* libFuzzer target: a=crypto values (RFC 4568) through sylk_sdes_parse and back. */
#include "media/srtp.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = g_strndup((const char *)data, size);
    struct sylk_sdes sdes;
    char *error = NULL;
    if (sylk_sdes_parse(value, &sdes, &error) == 0) {
        char *again = sylk_sdes_format(&sdes);
        struct sylk_sdes back;
        char *error2 = NULL;
        if (sylk_sdes_parse(again, &back, &error2) != 0 || memcmp(&back, &sdes, sizeof(back)))
            abort(); /* what we print must parse to the same thing */
        g_free(again);
        g_free(error2);
    }
    g_free(error);
    g_free(value);
    return 0;
}
