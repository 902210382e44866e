/*
 * mapping.c — the SIP <-> XMPP mapping's entry points (gateway.h) and the address rules they
 * share (mapping.h). Main thread.
 *
 * XMPP stanzas go by kind: messages to im.c; presence to s2x.c (what our SIP users watch) and
 * x2s.c (who watches our SIP users), each taking the types it handles; an <iq/> get or set the
 * transport did not answer gets service-unavailable (RFC 6120 §8.2.3: every one is answered).
 * SIP MESSAGEs go to im.c, SUBSCRIBEs to s2x.c, INVITEs to chat.c.
 */
#include "mapping.h"
#include "chat.h"

#include "barrier.h"
#include "jingle.h"

#include <errno.h>
#include <string.h>

#define LOG_DOMAIN "xmppgw-mapping"

char *xgw_map_jid(const struct xmpp_jid *jid, bool full)
{
    return xmpp_jid_format(jid, full);
}

char *xgw_map_sip_uri(const struct xmpp_jid *jid, bool with_resource)
{
    return xmpp_jid_to_sip_uri(jid, with_resource, NULL);
}

char *xgw_map_new_id(void)
{
    return g_uuid_string_random();
}

/* The URI inside <...> of a header value (or the value itself when it has none). */
static char *header_uri(const char *value)
{
    const char *lt = strchr(value, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return g_strndup(lt + 1, (gsize)(gt - lt - 1));
    return g_strndup(value, strcspn(value, ";, \t"));
}

/* The Contact's gr when the Contact is a public GRUU of from's address of record. */
static char *contact_resource(const struct sylk_request_info *info, const struct xmpp_jid *from)
{
    const char *contact = xgw_host()->request_header(info, "Contact");
    if (!contact)
        return NULL;
    g_autofree char *uri = header_uri(contact);
    struct xmpp_jid c;
    if (xmpp_jid_from_sip_uri(uri, &c, NULL) < 0)
        return NULL;
    char *resource = NULL;
    if (c.resource && xmpp_jid_equal(&c, from, false))
        resource = g_steal_pointer(&c.resource);
    xmpp_jid_clear(&c);
    return resource;
}

int xgw_map_sip_parties(const struct sylk_request_info *info, struct xmpp_jid *from,
                        struct xmpp_jid *to, const char **reason)
{
    memset(from, 0, sizeof(*from));
    memset(to, 0, sizeof(*to));
    const char *why = NULL;
    if (!info->from_uri || xmpp_jid_from_sip_uri(info->from_uri, from, &why) < 0) {
        XGW_MAP_LOG(LOG_DOMAIN, SYLK_LOG_INFO, "%s from %s: From not mappable to XMPP: %s",
                    info->method, info->from_uri ? info->from_uri : "-", why ? why : "none");
        *reason = "From Not Mappable To XMPP";
        return 400;
    }
    if (!from->local || !xgw_is_our_domain(from->domain)) {
        /* Only our own users speak through the gateway: anything else would let a SIP peer
         * speak for a domain we do not serve. 403, not SylkServer's 606: the request is
         * refused for who sent it, not for what it carries (RFC 3261 §21.4.4). */
        XGW_MAP_LOG(LOG_DOMAIN, SYLK_LOG_INFO, "%s from %s: not one of our domains", info->method,
                    info->from_uri);
        xmpp_jid_clear(from);
        *reason = "From Domain Not Served";
        return 403;
    }
    if (!from->resource)
        from->resource = contact_resource(info, from);
    if (!info->request_uri || xmpp_jid_from_sip_uri(info->request_uri, to, &why) < 0) {
        bool scheme = info->request_uri && !g_str_has_prefix(info->request_uri, "sip:") &&
                      !g_str_has_prefix(info->request_uri, "sips:");
        XGW_MAP_LOG(LOG_DOMAIN, SYLK_LOG_INFO, "%s to %s: not mappable to XMPP: %s", info->method,
                    info->request_uri ? info->request_uri : "-", why ? why : "none");
        xmpp_jid_clear(from);
        *reason = scheme ? "Unsupported URI Scheme" : "Request-URI Not Mappable To XMPP";
        return scheme ? 416 : 404;
    }
    if (!to->local || xgw_is_our_domain(to->domain)) {
        XGW_MAP_LOG(LOG_DOMAIN, SYLK_LOG_INFO, "%s to %s: not a remote XMPP user", info->method,
                    info->request_uri);
        xmpp_jid_clear(from);
        xmpp_jid_clear(to);
        *reason = "Not A Remote XMPP Address";
        return 404;
    }
    return 0;
}

void xgw_message_in(struct xmpp_node *stanza)
{
    if (xgw_jingle_message(stanza)) { /* XEP-0353: a call's proceed, reject or bounce */
        xmpp_node_free(stanza);
        return;
    }
    xgw_im_xmpp_message(stanza);
}

void xgw_presence_in(struct xmpp_node *stanza)
{
    const char *type = xmpp_node_attr(stanza, "type");
    if (!type || strcmp(type, "unavailable") == 0) {
        xgw_s2x_presence(stanza);
        xgw_x2s_presence(stanza);
    } else if (strcmp(type, "subscribed") == 0 || strcmp(type, "unsubscribed") == 0 ||
               strcmp(type, "error") == 0) {
        xgw_s2x_presence(stanza);
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0 ||
               strcmp(type, "probe") == 0) {
        xgw_x2s_presence(stanza);
    } else {
        XGW_MAP_LOG(LOG_DOMAIN, SYLK_LOG_DEBUG, "presence of type %s from %s dropped", type,
                    xmpp_node_attr(stanza, "from"));
    }
    xmpp_node_free(stanza); /* RFC 6121: presence is never answered with an error here */
}

void xgw_iq_in(struct xmpp_node *stanza)
{
    if (xgw_barrier_iq(stanza)) {
        xmpp_node_free(stanza);
        return;
    }
    if (xgw_jingle_iq(stanza)) {
        xmpp_node_free(stanza);
        return;
    }
    const char *type = xmpp_node_attr(stanza, "type");
    if (g_strcmp0(type, "get") == 0 || g_strcmp0(type, "set") == 0) {
        struct xmpp_node *reply =
            xmpp_stanza_error_reply(stanza, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, NULL);
        if (reply)
            xgw_send(reply, NULL, NULL);
    }
    xmpp_node_free(stanza);
}

void xgw_sip_message_in(sylk_message *message)
{
    xgw_im_sip_message(message);
}

void xgw_sip_session_in(sylk_session *session)
{
    xgw_chat_sip_session(session);
}

void xgw_sip_subscription_in(sylk_subscription *subscription)
{
    xgw_s2x_subscription(subscription);
}

void xgw_mapping_counts(struct xgw_mapping_counts *counts)
{
    memset(counts, 0, sizeof(*counts));
    xgw_im_counts(counts);
    xgw_s2x_counts(counts);
    xgw_x2s_counts(counts);
}

int xgw_mapping_init(void)
{
    xgw_im_init();
    xgw_chat_init();
    xgw_jingle_init();
    xgw_s2x_init();
    xgw_x2s_init();
    return 0;
}

void xgw_mapping_shutdown(void)
{
    struct xgw_mapping_counts c;
    xgw_mapping_counts(&c);
    XGW_MAP_LOG(LOG_DOMAIN, SYLK_LOG_INFO,
                "mapping stops: %u SIP MESSAGE(s) and %u XMPP message(s) pending, %u SIP "
                "watcher pair(s), %u XMPP watcher pair(s) left",
                c.pending_in, c.pending_out, c.s2x, c.x2s);
    xgw_x2s_shutdown();
    xgw_s2x_shutdown();
    xgw_jingle_shutdown();
    xgw_chat_shutdown(); /* what waits goes by MESSAGE: before im.c stops */
    xgw_im_shutdown();
}
