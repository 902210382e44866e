/*
 * muc.h — XMPP multi-user chat (XEP-0045) over the conference plugin's rooms (RFC 7702), main
 * thread.
 *
 * room@muc_prefix.DOMAIN is the conference room sip:room@DOMAIN. Each XMPP occupant (one full
 * JID in one room) is one SIP participant of its own: an INVITE with one MSRP chat stream from
 * the occupant's SIP address (jid.h's mapping of its bare JID), an MSRP NICKNAME with the
 * nickname it asked for, and a SUBSCRIBE to the room's conference-info, whose users become the
 * room's other occupants. muc.c owns the XMPP side (stanzas in, presence and messages out),
 * muc_sip.c the SIP side (session, chat stream, conference-info).
 */
#ifndef XMPPGW_MUC_H
#define XMPPGW_MUC_H

#include "gateway.h"
#include "jid.h"

#include <glib.h>

#define XGW_NS_MUC        "http://jabber.org/protocol/muc"
#define XGW_NS_MUC_USER   "http://jabber.org/protocol/muc#user"
#define XGW_NS_DELAY      "urn:xmpp:delay"
#define XGW_MUC_MAX_JOINS 10000

enum muc_state {
    MUC_CONNECTING, /* INVITE sent */
    MUC_NAMING,     /* established, NICKNAME sent */
    MUC_ENTERING,   /* nickname granted, waiting for the first conference-info */
    MUC_JOINED,     /* self-presence sent */
    MUC_LEAVING,    /* BYE sent (or the session ended): nothing goes to XMPP any more */
};

/* One XMPP occupant of one room. */
struct muc_join {
    char *user;     /* the occupant's full JID */
    char *user_uri; /* its SIP address, sip:local@domain */
    char *room;     /* the room's bare JID */
    char *room_uri; /* sip:room@DOMAIN */
    char *nick;     /* granted (JOINED) or asked for */
    char *new_nick; /* a nick change waiting for its NICKNAME answer, or NULL */
    char *join_id;  /* the join presence's id (reflected in the self-presence), or NULL */
    enum muc_state state;
    sylk_session *session;
    sylk_stream *chat;
    sylk_outgoing_subscription *sub;
    GHashTable *occupants; /* entity URI -> nickname: the others, from the last document */
    GPtrArray *history;    /* struct xmpp_node *: groupchat held until the self-presence */
    char *subject;         /* the room's subject, or NULL */
};

/* muc.c */
void xgw_muc_init(void);
void xgw_muc_shutdown(void);
/** A stanza to muc_prefix.DOMAIN or an address in it; owns it. */
void xgw_muc_in(struct xmpp_node *stanza);
/** The join is over (the SIP side is gone): forgets and frees it. */
void xgw_muc_forget(struct muc_join *j);
/** Sends `stanza` to the occupant (sets its to). */
void xgw_muc_send(struct muc_join *j, struct xmpp_node *stanza);
/** <presence from='room/nick'> with its muc#user item; `codes` ends with 0. */
struct xmpp_node *xgw_muc_presence(const struct muc_join *j, const char *nick, bool available,
                                   const char *new_nick, const int *codes);
/** A presence error from room/nick with <x xmlns=muc/> and `cond`. */
void xgw_muc_join_error(struct muc_join *j, enum xmpp_stanza_condition cond, const char *text);
/** The roster, the self-presence, the held history and the subject (B.2's order). */
void xgw_muc_entered(struct muc_join *j, bool created);

/* muc_sip.c */
/** The INVITE; 0 or -errno. */
int xgw_muc_sip_connect(struct muc_join *j);
/** The room's INVITE (its invitation, muc_invite.c) answered as the join's session; 0 or
 * -errno (the session is refused or ends, and the join's failure is reported either way). */
int xgw_muc_sip_adopt(struct muc_join *j, sylk_session *session);
/** BYE (or CANCEL) and un-SUBSCRIBE; the session's end frees the join. */
void xgw_muc_sip_leave(struct muc_join *j);
/** Sends a message into the room (to_uri NULL) or privately to to_uri. */
int xgw_muc_sip_say(struct muc_join *j, const char *to_uri, const char *body, size_t len);
/** A nickname change. */
int xgw_muc_sip_nick(struct muc_join *j, const char *nick);
/** A message to a room from someone not in it: refused not-acceptable when the room exists
 *  (it answers a SUBSCRIBE to its conference-info), item-not-found when it does not. */
void xgw_muc_sip_probe(const struct xmpp_node *m, const char *from_uri, const char *room_uri);

/* muc_invite.c (XEP-0045 §7.8.2 <-> RFC 4579 REFER) */
void xgw_muc_invite_init(void);
void xgw_muc_invite_shutdown(void);
/** A message to a room's bare JID with <x muc#user/> (invite, decline) from an occupant (j) or
 * anyone (j NULL); true when it was one (taken, answered). */
bool xgw_muc_invite_message(const struct xmpp_node *m, struct muc_join *j, const char *room_uri);
/** An incoming INVITE from one of our rooms (Contact isfocus) to an XMPP user: the room's
 * invitation (true: taken); false for any other INVITE. */
bool xgw_muc_invite_session(sylk_session *session);
/** The room's ringing INVITE to user_uri, now the caller's (handler cleared), or NULL. */
sylk_session *xgw_muc_invite_take(const char *room_uri, const char *user_uri);

#endif
