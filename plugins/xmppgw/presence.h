/*
 * presence.h — XMPP presence (RFC 6121 §4) as the gateway reads and writes it: the state of
 * one resource (available or not, <show/>, <status/>, <priority/>), the presence stanzas of
 * subscription management, and the show <-> RPID activity mapping RFC 7248 §5 suggests.
 *
 *   <show/>   RPID activity (RFC 4480)          RPID activity -> <show/>
 *   away      away                              away appointment breakfast dinner lunch meal
 *   xa        away                                in-transit shopping travel steering -> away
 *   dnd       busy                              busy meeting on-the-phone performance
 *   chat      (none)                              presentation -> dnd
 *                                               holiday vacation sleeping
 *                                                 permanent-absence -> xa
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_PRESENCE_H
#define XMPPGW_PRESENCE_H

#include "xml_node.h"

#include <stdbool.h>

enum xgw_show {
    XGW_SHOW_NONE, /* available, no <show/> */
    XGW_SHOW_CHAT,
    XGW_SHOW_AWAY,
    XGW_SHOW_XA,
    XGW_SHOW_DND,
};

/* One resource's presence. */
struct xgw_presence {
    char *resource; /* NULL: the bare JID */
    bool available; /* no type (available), else type='unavailable' */
    enum xgw_show show;
    char *status;      /* <status/>, or NULL */
    char *status_lang; /* its xml:lang (or the stanza's), or NULL */
    int priority;      /* -128..127, 0 when absent */
};

/** "chat", "away", "xa", "dnd"; NULL for XGW_SHOW_NONE. */
const char *xgw_show_name(enum xgw_show show);

/** The RPID activity for a show ("away", "busy"), or NULL. */
const char *xgw_show_activity(enum xgw_show show);

/** The show for an RPID activity name, XGW_SHOW_NONE for others. */
enum xgw_show xgw_show_from_activity(const char *activity);

/**
 * Reads an available (no type) or unavailable presence stanza; false for other types. The
 * resource is taken from the stanza's `from`. <status/>: the one in the stanza's xml:lang,
 * else the first without xml:lang, else the first.
 */
bool xgw_presence_read(const struct xmpp_node *stanza, struct xgw_presence *out);
void xgw_presence_clear(struct xgw_presence *p);
void xgw_presence_copy(struct xgw_presence *to, const struct xgw_presence *from);

/** <presence from to [type='unavailable']> with show, status and priority as p says. */
struct xmpp_node *xgw_presence_stanza(const char *from, const char *to,
                                      const struct xgw_presence *p);

/** <presence from to type='TYPE'/> (subscribe, subscribed, unsubscribe, unsubscribed, probe,
 * unavailable). */
struct xmpp_node *xgw_presence_typed(const char *from, const char *to, const char *type);

#endif
