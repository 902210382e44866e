/*
 * chat.h — one-to-one chat sessions between XMPP and SIP (RFC 7573): a conversation as a SIP
 * session with an MSRP chat stream. Main thread. See chat.c for the rules.
 */
#ifndef XMPPGW_CHAT_H
#define XMPPGW_CHAT_H

#include "mapping.h"

/* At most this many XMPP messages wait for a session being set up; past it a message goes by
 * SIP MESSAGE at once (it is sent, only not on the session). */
#define XGW_CHAT_MAX_QUEUED 256
/* At most this many chat sessions at once; past it conversations use SIP MESSAGE. */
#define XGW_CHAT_MAX_SESSIONS 10000

void xgw_chat_init(void);
/** Ends every session (BYE); what still waits goes by SIP MESSAGE. */
void xgw_chat_shutdown(void);

/**
 * An XMPP <message/> (not an error, not groupchat) from a remote user to one of our SIP users.
 * True when the chat-session path took it (and ownership of the stanza): a chat message with
 * text (opens a session when none exists), or a chat state or <gone/> of a conversation that
 * has a session. False leaves it to im.c's MESSAGE path (the stanza is still the caller's).
 */
bool xgw_chat_xmpp_message(struct xmpp_node *stanza);

/** An INVITE routed to the gateway (sylk_plugin.incoming_session): answered here. */
void xgw_chat_sip_session(sylk_session *session);

/** Live sessions, for logs and tests. */
unsigned xgw_chat_count(void);

/* im.c: an XMPP message through the MESSAGE path (RFC 7572), bypassing chat sessions; takes
 * ownership of the stanza. */
void xgw_im_xmpp_message_by_sip(struct xmpp_node *stanza);

#endif
