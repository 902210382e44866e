/*
 * pidf.h — presence documents (PIDF, RFC 3863, with the RFC 4479 data model and RFC 4480 RPID
 * activities) built from XMPP presence and read into it, as RFC 7248 §5 maps them.
 *
 * Built, for one XMPP contact with its resources (entity: the SIP URI watchers subscribed to):
 *   <presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:romeo@xmpp.example'>
 *     <tuple id='r…'>           one per resource (id: "r" + 16 hex of its SHA-256)
 *       <status><basic>open|closed</basic></status>   available | unavailable
 *       <contact priority='q'>sip:romeo@xmpp.example;gr=balcony</contact>   the resource's
 *                              address (jid.h); priority from <priority/> > 0: p/127, else 0
 *       <note xml:lang='en'>…</note>                  <status/>
 *       <timestamp>…</timestamp>                      when the gateway received it
 *     </tuple>
 *     <dm:person id='p'>       when the best available resource (highest priority, first
 *       <rpid:activities><rpid:away/></rpid:activities>   received) has a show with an activity
 *       <dm:note>…</dm:note>   or a status
 *     </dm:person>
 *   </presence>
 * With no resource known the document has no tuple ("nothing known yet", valid PIDF).
 *
 * Read (a NOTIFY body): every <tuple/> (at most XGW_PIDF_MAX_TUPLES): basic open/closed (a
 * sipsimple <agp-pidf:extended>offline</agp-pidf:extended> makes it closed, away/busy/
 * extended-away give the show), its contact (and priority), its first note in the document's
 * preferred language; the person's RPID activities give the show and its note the status of
 * tuples that have none. At most XGW_PIDF_MAX_BYTES, parsed as data (xmldoc.h).
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_PIDF_H
#define XMPPGW_PIDF_H

#include "presence.h"

#include <glib.h>
#include <stddef.h>

#define XGW_PIDF_TYPE       "application/pidf+xml"
#define XGW_PIDF_MAX_BYTES  (64 * 1024)
#define XGW_PIDF_MAX_TUPLES 32
#define XGW_NS_PIDF         "urn:ietf:params:xml:ns:pidf"
#define XGW_NS_PIDF_DM      "urn:ietf:params:xml:ns:pidf:data-model"
#define XGW_NS_PIDF_RPID    "urn:ietf:params:xml:ns:pidf:rpid"
#define XGW_NS_AGP_PIDF     "urn:ag-projects:xml:ns:pidf"

/* One resource to describe: its presence, its SIP contact URI, when it was received. */
struct xgw_pidf_resource {
    const struct xgw_presence *presence;
    const char *contact;   /* may be NULL */
    const char *timestamp; /* RFC 3339, may be NULL */
};

/** The PIDF document (g_free). */
char *xgw_pidf_build(const char *entity, const struct xgw_pidf_resource *resources, size_t n);

/* One tuple read. */
struct xgw_pidf_tuple {
    char *id;
    struct xgw_presence presence; /* resource: the contact's gr when it has one, else the id */
    char *contact;                /* or NULL */
};

struct xgw_pidf {
    char *entity;
    GPtrArray *tuples; /* struct xgw_pidf_tuple * */
};

/** 0, or -EBADMSG with *why (static text). */
int xgw_pidf_parse(const char *data, size_t len, struct xgw_pidf *out, const char **why);
void xgw_pidf_clear(struct xgw_pidf *pidf);

/** "r" + 16 hex digits of SHA-256(resource) ("r0" for none): an xs:ID, stable per resource. */
char *xgw_pidf_tuple_id(const char *resource);

#endif
