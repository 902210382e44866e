/*
 * chatstate.h — XEP-0085 chat states <-> RFC 3994 is-composing indications.
 *
 *   XMPP (standalone <message type='chat'>)   SIP MESSAGE application/im-iscomposing+xml
 *   <composing/>                          ->  state active, refresh XGW_COMPOSING_REFRESH
 *   <paused/> <inactive/> <gone/> <active/> -> state idle (only after an active: RFC 3994
 *                                             sends idle to end one, never on its own)
 *   <composing/>                          <-  state active
 *   <paused/>                             <-  state idle
 * A content message ends composing on both sides without a notice of its own (RFC 3994 §3.3:
 * a message received makes the receiver idle; XEP-0085: a content message carries <active/>).
 *
 * is-composing documents are read as data (xmldoc.h), at most XGW_COMPOSING_MAX_BYTES.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_CHATSTATE_H
#define XMPPGW_CHATSTATE_H

#include "xml_node.h"

#include <stdbool.h>
#include <stddef.h>

#define XGW_NS_CHATSTATES       "http://jabber.org/protocol/chatstates"
#define XGW_NS_ISCOMPOSING      "urn:ietf:params:xml:ns:im-iscomposing"
#define XGW_COMPOSING_TYPE      "application/im-iscomposing+xml"
#define XGW_COMPOSING_MAX_BYTES 4096
#define XGW_COMPOSING_REFRESH   120 /* seconds, RFC 3994's default refresh interval */

enum xgw_chat_state {
    XGW_CHAT_NONE, /* no chat state in the message */
    XGW_CHAT_ACTIVE,
    XGW_CHAT_COMPOSING,
    XGW_CHAT_PAUSED,
    XGW_CHAT_INACTIVE,
    XGW_CHAT_GONE,
};

struct xgw_composing {
    bool active;        /* state active, else idle */
    unsigned refresh;   /* seconds, 0 when absent */
    char *content_type; /* contenttype, or NULL */
};

/** "active", "composing", ...; NULL for XGW_CHAT_NONE. */
const char *xgw_chat_state_name(enum xgw_chat_state state);

/** The chat state a <message/> carries (its first child in the chatstates namespace). */
enum xgw_chat_state xgw_chat_state_of(const struct xmpp_node *message);

/** Appends <STATE xmlns='http://jabber.org/protocol/chatstates'/> to message. */
void xgw_chat_state_add(struct xmpp_node *message, enum xgw_chat_state state);

/** 0, or -EBADMSG with *why (static text). */
int xgw_composing_parse(const char *data, size_t len, struct xgw_composing *out, const char **why);
void xgw_composing_clear(struct xgw_composing *c);

/** An isComposing document (g_free): state, lastactive (when given), contenttype text/plain,
 * and refresh for an active state. */
char *xgw_composing_format(bool active, unsigned refresh, const char *last_active);

/** The chat state an is-composing state maps to: composing for active, paused for idle. */
enum xgw_chat_state xgw_chat_state_from_composing(bool active);

/**
 * The is-composing state a chat state maps to: true (*active) for composing, false for the
 * others; false is returned for XGW_CHAT_NONE (nothing to send).
 */
bool xgw_chat_state_to_composing(enum xgw_chat_state state, bool *active);

#endif
