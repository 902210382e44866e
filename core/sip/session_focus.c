/*
 * session_focus.c — our Contact as a conference focus (see session_focus.h): the focus user
 * at our address on the transport of the dialog, with the isfocus feature tag the stack's own
 * Contact cannot carry; for answers (sylk_session_set_focus) and for INVITEs we send.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-session"
#include "sip/session_focus.h"

#include <errno.h>
#include <string.h>

/*
 * Our Contact as a conference focus (RFC 4579 section 3): the focus user at our address on
 * `transport`, with the isfocus feature tag, which the stack's own Contact cannot carry.
 */
char *sylk_session_focus_contact(const char *user, const char *transport)
{
    struct sylk_server_config *c = cfg();
    bool tls = g_ascii_strcasecmp(transport, "tls") == 0;
    bool tcp = g_ascii_strcasecmp(transport, "tcp") == 0;
    unsigned port = tls ? c->tls_port : tcp ? c->tcp_port : c->udp_port;
    bool v6 = strchr(c->advertised_ip, ':') != NULL;
    return g_strdup_printf("<%s:%s%s%s%s%s:%u%s>;isfocus", tls ? "sips" : "sip", user ? user : "",
                           user && *user ? "@" : "", v6 ? "[" : "", c->advertised_ip, v6 ? "]" : "",
                           port, tcp ? ";transport=tcp" : "");
}

/* The transport an INVITE to `uri` leaves on: the outbound proxy's or the URI's. */
const char *sylk_session_outgoing_transport(const char *uri)
{
    const char *via = cfg()->outbound_proxy ? cfg()->outbound_proxy : uri;
    if (g_str_has_prefix(via, "sips:") || strstr(via, "<sips:"))
        return "tls";
    g_autofree char *lower = g_ascii_strdown(via, -1);
    const char *t = strstr(lower, ";transport=");
    if (t && g_str_has_prefix(t + 11, "tcp"))
        return "tcp";
    if (t && g_str_has_prefix(t + 11, "tls"))
        return "tls";
    return "udp";
}

/* The user part of a SIP URI in a name-addr or bare ("Name" <sip:user@host>), or NULL. */
char *sylk_session_uri_user(const char *addr)
{
    const char *lt = strchr(addr, '<');
    const char *uri = lt ? lt + 1 : addr;
    const char *colon = strchr(uri, ':');
    const char *at = colon ? strpbrk(colon + 1, "@>;") : NULL;
    return at && *at == '@' ? g_strndup(colon + 1, (gsize)(at - colon - 1)) : NULL;
}

int sylk_session_set_focus(sylk_session *s)
{
    if (!s || !s->incoming)
        return -EINVAL;
    if (s->state != S_INCOMING)
        return -EALREADY;
    g_autofree char *user = sylk_session_uri_user(s->request->info.request_uri);
    g_free(s->focus_contact);
    s->focus_contact = sylk_session_focus_contact(user, s->transport);
    return 0;
}
