/*
 * mapping.h — inside the mapping half of the gateway (main thread): what mapping.c (the entry
 * points of gateway.h) shares with im.c (messages and chat states), s2x.c (SIP watchers of
 * XMPP contacts) and x2s.c (XMPP watchers of SIP users).
 *
 * Addresses: a SIP request's From must be in one of our domains and its Request-URI in a
 * remote one; the XMPP side mirrors it (the transport checked that). SIP URIs and JIDs map as
 * jid.h says, the resource in the gr parameter. A SIP From without gr takes the gr of the
 * request's Contact when that Contact is a public GRUU of the same address of record (RFC
 * 5627), so that XMPP replies come back to the device that wrote.
 */
#ifndef XMPPGW_MAPPING_H
#define XMPPGW_MAPPING_H

#include "gateway.h"
#include "jid.h"

#include <glib.h>

#define XGW_MAP_LOG(domain, level, ...) xgw_host()->log(domain, level, __VA_ARGS__)

/* Bounds on the mapping's state: each table refuses new entries past this many. */
#define XGW_MAX_SUBSCRIPTIONS 10000 /* per direction (s2x, x2s) */
#define XGW_MAX_PENDING       10000 /* messages waiting for their outcome, each direction */
#define XGW_MAX_CONVERSATIONS 10000 /* chat-state memories */

/* XMPP -> SIP flow control: at most XGW_SIP_WINDOW MESSAGEs are in transaction at once (over
 * UDP a burst beyond what the next hop's socket buffer holds is lost and retransmitted at
 * 0.5, 1, 2 s...: throughput falls to nothing); the others wait in order. From
 * XGW_SIP_WAITING_HIGH waiting the gateway stops reading XMPP streams (TCP slows the senders
 * down), and reads again once they are down to XGW_SIP_WAITING_LOW. */
#define XGW_SIP_WINDOW       256
#define XGW_SIP_WAITING_HIGH 1024
#define XGW_SIP_WAITING_LOW  256

/** The SIP request's parties as JIDs: 0, or the SIP status to refuse it with (*reason). */
int xgw_map_sip_parties(const struct sylk_request_info *info, struct xmpp_jid *from,
                        struct xmpp_jid *to, const char **reason);

/** "sip:user@host[;gr=resource]" for a JID (NULL when it cannot be mapped). */
char *xgw_map_sip_uri(const struct xmpp_jid *jid, bool with_resource);

/** A JID's text ("local@domain[/resource]"). */
char *xgw_map_jid(const struct xmpp_jid *jid, bool full);

/** A fresh stanza id. */
char *xgw_map_new_id(void);

/* Live entries, for logs and tests. */
struct xgw_mapping_counts {
    unsigned pending_in;    /* SIP MESSAGEs waiting for their XMPP outcome */
    unsigned pending_out;   /* XMPP messages waiting for their SIP response */
    unsigned conversations; /* chat-state memories */
    unsigned s2x;           /* SIP watchers of XMPP contacts (pairs) */
    unsigned s2x_dialogs;   /* their SIP subscriptions */
    unsigned x2s;           /* XMPP watchers of SIP users (pairs) */
};
void xgw_mapping_counts(struct xgw_mapping_counts *counts);

/* im.c */
void xgw_im_init(void);
void xgw_im_shutdown(void);
void xgw_im_sip_message(sylk_message *message);
void xgw_im_xmpp_message(struct xmpp_node *stanza);
void xgw_im_counts(struct xgw_mapping_counts *counts);

/* s2x.c */
void xgw_s2x_init(void);
void xgw_s2x_shutdown(void);
void xgw_s2x_subscription(sylk_subscription *subscription);
/** Presence from a remote contact to one of our users (available, unavailable, subscribed,
 * unsubscribed, error). */
void xgw_s2x_presence(const struct xmpp_node *stanza);
void xgw_s2x_counts(struct xgw_mapping_counts *counts);

/* x2s.c */
void xgw_x2s_init(void);
void xgw_x2s_shutdown(void);
/** Presence from a remote user to one of ours (subscribe, unsubscribe, probe, available,
 * unavailable). */
void xgw_x2s_presence(const struct xmpp_node *stanza);
void xgw_x2s_counts(struct xgw_mapping_counts *counts);

#endif
