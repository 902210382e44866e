/*
 * conn_tls.c — TLS on XMPP connections (gnutls): the credentials shared by every connection,
 * STARTTLS in either role and direct TLS, the handshake. See conn.h.
 */
#define XGW_LOG_DOMAIN "xmppgw-conn"
#include "conn_priv.h"

#include "msrp/tls.h"

#include <errno.h>
#include <string.h>

static struct {
    gnutls_certificate_credentials_t server, client;
    bool verify;
} tls;

/* ------------------------------------------------------------- credentials --- */

int xconn_tls_init(const struct xgw_settings *s, const char *spool_dir, const char *host,
                   char **why)
{
    g_autofree char *dir = g_build_filename(spool_dir, XGW_NAME, NULL);
    g_autofree char *used = NULL;
    int rc =
        sylk_tls_server_credentials(s->certificate, dir, XGW_NAME, host, &tls.server, &used, why);
    if (rc < 0)
        return rc;
    XGW_LOG(SYLK_LOG_INFO, "TLS certificate: %s", used);
    if ((rc = gnutls_certificate_allocate_credentials(&tls.client)) < 0) {
        *why = g_strdup_printf("TLS client credentials: %s", gnutls_strerror(rc));
        xconn_tls_shutdown();
        return -ENOMEM;
    }
    tls.verify = s->tls_verify;
    if (s->tls_verify) {
        rc = s->ca_file ? gnutls_certificate_set_x509_trust_file(tls.client, s->ca_file,
                                                                 GNUTLS_X509_FMT_PEM)
                        : gnutls_certificate_set_x509_system_trust(tls.client);
        if (rc <= 0) {
            *why = g_strdup_printf("no trust anchors for tls_verify in %s%s%s",
                                   s->ca_file ? s->ca_file : "the system's store",
                                   rc < 0 ? ": " : "", rc < 0 ? gnutls_strerror(rc) : "");
            xconn_tls_shutdown();
            return -EINVAL;
        }
    }
    return 0;
}

void xconn_tls_shutdown(void)
{
    if (tls.server)
        gnutls_certificate_free_credentials(tls.server);
    if (tls.client)
        gnutls_certificate_free_credentials(tls.client);
    memset(&tls, 0, sizeof tls);
}

/* ---------------------------------------------------------------------- TLS --- */

bool xconn_start_tls(struct xconn *c, bool server)
{
    gnutls_certificate_credentials_t cred = server ? tls.server : tls.client;
    int rc = gnutls_init(&c->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK);
    if (rc >= 0)
        rc = gnutls_set_default_priority(c->tls);
    if (rc >= 0)
        rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred);
    if (rc >= 0 && !server && c->server_name) {
        gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, c->server_name, strlen(c->server_name));
        if (tls.verify)
            gnutls_session_set_verify_cert(c->tls, c->server_name, 0);
    }
    if (rc < 0) {
        g_autofree char *why = g_strdup_printf("TLS setup failed: %s", gnutls_strerror(rc));
        xconn_teardown(c, why);
        return false;
    }
    if (server)
        gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_IGNORE);
    gnutls_transport_set_int(c->tls, c->fd);
    c->tls_server = server;
    c->state = ST_HANDSHAKE;
    xconn_update_watch(c);
    return true;
}

int xconn_starttls(struct xconn *c, bool server)
{
    if (c->tls || c->starttls_pending || c->state != ST_OPEN || !tls.server)
        return -EINVAL;
    c->starttls_done = true;
    xmpp_stream_reset(c->parser); /* bytes after <starttls/> or <proceed/> are not used */
    xmpp_stream_header_free(c->ours);
    c->ours = NULL;
    if (server) {
        c->starttls_pending = true;
        c->plain_until = c->queued;
        xconn_update_watch(c);
        return 0;
    }
    return xconn_start_tls(c, false) ? 0 : -EIO;
}

void xconn_handshake(struct xconn *c)
{
    int rc = gnutls_handshake(c->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        xconn_update_watch(c);
        return;
    }
    if (rc < 0) {
        g_autofree char *why = g_strdup_printf("TLS handshake failed: %s", gnutls_strerror(rc));
        XGW_LOG(SYLK_LOG_WARNING, "%s%s%s: %s", c->label, c->peer ? " " : "",
                c->peer ? c->peer : "", why);
        xconn_teardown(c, why);
        return;
    }
    g_autofree char *desc = gnutls_session_get_desc(c->tls);
    XGW_LOG(SYLK_LOG_DEBUG, "%s: TLS up (%s)", c->label, desc ? desc : "?");
    c->state = ST_OPEN;
    xconn_update_watch(c);
    if (c->starttls_done) {
        if (c->p.handler->secured)
            c->p.handler->secured(c, c->p.user_data);
    } else if (!c->tls_server) {
        xconn_connected(c);
    }
}
