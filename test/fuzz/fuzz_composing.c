/* libFuzzer target: RFC 3994 isComposing documents through sylk_composing_parse and back,
 * libxml2's reports routed to our log as in the server (nothing on stderr). */
#include "msrp/composing.h"
#include "xml_log.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static struct sylk_xml_log log; /* this harness's thread, as the server's main thread */
    (void)argc;
    (void)argv;
    sylk_xml_log_install(&log);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sylk_composing c;
    char *error = NULL;
    if (sylk_composing_parse((const char *)data, size, &c, &error) != 0) {
        if (!error)
            abort(); /* a refusal always says why */
        g_free(error);
        return 0;
    }
    char *text = sylk_composing_format(&c);
    struct sylk_composing again;
    char *error2 = NULL;
    /* what we write parses back to the same notice */
    if (sylk_composing_parse(text, strlen(text), &again, &error2) != 0 ||
        again.active != c.active || again.refresh != c.refresh ||
        g_strcmp0(again.content_type, c.content_type) != 0)
        abort();
    sylk_composing_clear(&again);
    g_free(text);
    sylk_composing_clear(&c);
    return 0;
}
