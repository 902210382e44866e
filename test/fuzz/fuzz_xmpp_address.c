/*
 * libFuzzer target: XMPP addresses (plugins/xmppgw/jid.c). The input is tried as a JID, as a
 * SIP URI and as a localpart to escape. A parsed JID formats to a string that parses to the
 * same JID; it maps to a SIP URI that maps back to it, or is refused only for the documented
 * reason (a localpart whose XEP-0106 escapes cannot be undone). A SIP URI that maps to a JID
 * maps back to a URI that gives the same JID again. Escaping is undone by unescaping.
 */
#include "jid.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_jid(const struct xmpp_jid *j)
{
    for (int full = 0; full <= 1; full++) {
        char *s = xmpp_jid_format(j, full);
        struct xmpp_jid k;
        if (xmpp_jid_parse(s, &k, NULL) != 0 || !xmpp_jid_equal(j, &k, full) ||
            (!full && k.resource))
            abort();
        xmpp_jid_clear(&k);
        g_free(s);

        const char *why = NULL;
        char *uri = xmpp_jid_to_sip_uri(j, full, &why);
        if (!uri) {
            char *raw = j->local ? xmpp_jid_unescape_local(j->local) : NULL;
            if (!why || !j->local || raw)
                abort(); /* refused only when the localpart cannot be unescaped */
            continue;
        }
        if (xmpp_jid_from_sip_uri(uri, &k, &why) != 0 || !xmpp_jid_equal(j, &k, full) ||
            (!full && k.resource))
            abort();
        xmpp_jid_clear(&k);
        g_free(uri);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = g_strndup((const char *)data, size);
    struct xmpp_jid j;
    const char *why = NULL;
    if (xmpp_jid_parse(s, &j, &why) == 0) {
        check_jid(&j);
        xmpp_jid_clear(&j);
    } else if (!why) {
        abort();
    }
    why = NULL;
    if (xmpp_jid_from_sip_uri(s, &j, &why) == 0) {
        check_jid(&j);
        char *uri = xmpp_jid_to_sip_uri(&j, true, NULL);
        if (!uri)
            abort(); /* whatever came from SIP goes back to SIP */
        g_free(uri);
        xmpp_jid_clear(&j);
    } else if (!why) {
        abort();
    }
    char *escaped = xmpp_jid_escape_local(s);
    if (escaped) {
        char *raw = xmpp_jid_unescape_local(escaped);
        if (!raw || strcmp(raw, s) != 0)
            abort();
        g_free(raw);
        g_free(escaped);
    }
    g_free(s);
    return 0;
}
