/*
 * s2s.h — XMPP server-to-server (RFC 6120) for our domains, authenticated by server dialback
 * (XEP-0220) with keys made as XEP-0185 says.
 *
 *   s2s.c      listeners (local_port: STARTTLS; tls_port: direct TLS), the dialback secret, the
 *              timer that enforces deadlines and idle limits on every stream;
 *   s2s_in.c   streams remote servers open to us: features (STARTTLS offered, required with
 *              require_tls; dialback), db:result checked with the remote's authoritative server
 *              through s2s_out, db:verify answered for our own keys, stanzas from verified
 *              domains handed to the router;
 *   s2s_out.c  streams we open: one per (our domain, remote domain), on demand, found through
 *              static_routes or DNS (SRV _xmpp-server._tcp, then A/AAAA on 5269), STARTTLS when
 *              offered, db:result for our key, the db:verify requests of s2s_in; stanzas wait
 *              in a bounded queue until the stream is authenticated; closed when idle.
 *
 * Thread: main thread.
 */
#ifndef XMPPGW_S2S_H
#define XMPPGW_S2S_H

#include "queue.h"
#include "settings.h"

#include <stdbool.h>

/** Listens and gets ready. 0, or a negative errno with *why. */
int xgw_s2s_start(const struct xgw_settings *settings, char **why);

/** Shutdown, first step: no more connections; queued stanzas fail, written ones go out. */
void xgw_s2s_quiesce(void);

/** Shutdown, last step: every stream closed (best effort </stream:stream>) and freed. */
void xgw_s2s_stop(void);

/** Sends p from our domain `local` to `remote` (router: checked addresses). Takes p. */
void xgw_s2s_send(struct xgw_pending *p, const char *local, const char *remote);

/* ------------------------------------------------- between the parts of s2s --- */

/* How a dialback check ended. */
enum xgw_db_verdict {
    XGW_DB_VALID,
    XGW_DB_INVALID,
    XGW_DB_ERROR, /* with a stanza error condition (XEP-0220 §2.4) */
};

const struct xgw_settings *xgw_s2s_settings(void);
/** hex(SHA-256(dialback secret)). */
const char *xgw_s2s_secret_hash(void);

/** <db:NAME from to [id] [type]>[key]</db:NAME> (NULLs left out). */
struct xmpp_node *xgw_db_element(const char *name, const char *from, const char *to, const char *id,
                                 const char *type, const char *key);
/** The same with type='error' and <error><COND/></error>. */
struct xmpp_node *xgw_db_error(const char *name, const char *from, const char *to, const char *id,
                               enum xmpp_stanza_condition condition);
/** Reads the verdict of a db:result or db:verify answer (the condition for an error). */
enum xgw_db_verdict xgw_db_verdict_of(const struct xmpp_node *el,
                                      enum xmpp_stanza_condition *condition);

/* s2s_in.c */
void xgw_s2s_in_accept(int fd, const char *peer, bool direct_tls);
unsigned xgw_s2s_in_count(void);
/** The authoritative server of `remote` answered our db:verify for the stream `id`. */
void xgw_s2s_in_verified(const char *remote, const char *local, const char *id,
                         enum xgw_db_verdict verdict, enum xmpp_stanza_condition condition);
void xgw_s2s_in_sweep(gint64 now);
void xgw_s2s_in_close_all(void);

/* s2s_out.c */
/** Sends <db:verify from=local to=remote id=id>key</db:verify> to remote's servers. */
void xgw_s2s_out_verify(const char *local, const char *remote, const char *id, const char *key);
void xgw_s2s_out_send(struct xgw_pending *p, const char *local, const char *remote);
void xgw_s2s_out_sweep(gint64 now);
void xgw_s2s_out_quiesce(void);
void xgw_s2s_out_close_all(void);

#endif
