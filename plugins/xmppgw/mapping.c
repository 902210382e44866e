/*
 * mapping.c — the SIP <-> XMPP mapping's entry points (see gateway.h). Main thread.
 *
 * A placeholder that refuses everything cleanly, so that the transport can be built and
 * tested on its own: XMPP stanzas get service-unavailable, SIP requests 501. The mapping
 * (messages, chat states, receipts, presence) replaces it.
 */
#include "gateway.h"

#include <errno.h>

static void refuse_stanza(struct xmpp_node *stanza)
{
    struct xmpp_node *reply =
        xmpp_stanza_error_reply(stanza, XMPP_STANZA_ERR_SERVICE_UNAVAILABLE, NULL);
    if (reply)
        xgw_send(reply, NULL, NULL);
    xmpp_node_free(stanza);
}

void xgw_message_in(struct xmpp_node *stanza)
{
    refuse_stanza(stanza);
}

void xgw_presence_in(struct xmpp_node *stanza)
{
    xmpp_node_free(stanza); /* RFC 6121: presence is never answered with an error here */
}

void xgw_iq_in(struct xmpp_node *stanza)
{
    refuse_stanza(stanza);
}

void xgw_sip_message_in(sylk_message *message)
{
    xgw_host()->message_respond(message, 501, "Not Implemented");
}

void xgw_sip_subscription_in(sylk_subscription *subscription)
{
    xgw_host()->subscription_reject(subscription, 501, "Not Implemented");
}

int xgw_mapping_init(void)
{
    return 0;
}

void xgw_mapping_shutdown(void)
{
}
