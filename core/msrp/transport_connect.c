/*
 * transport_connect.c — outgoing MSRP connections (TCP or TLS) for sessions whose peer is
 * passive: connecting, the outcome told once to the endpoint, the connect timeout. Reading and
 * writing are transport.c's. See transport.h.
 *
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "sylk-msrp"
#include "msrp/transport_internal.h"

#include "msrp/uri.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

/* ----------------------------------------------------------------- connecting --- */

/*
 * Tells the endpoint of an outgoing connection its outcome, once; an error closes the
 * connection first (so the callback may free the endpoint). Nobody is told when the endpoint's
 * session was unregistered or given to another endpoint meanwhile.
 */
void sylk_msrp_connect_done(struct sylk_msrp_conn *c, int error, const char *why)
{
    g_autofree char *sid = g_steal_pointer(&c->connect_sid);
    if (!sid)
        return;
    if (c->connect_timer)
        g_source_remove(c->connect_timer);
    c->connect_timer = 0;
    struct sylk_msrp_endpoint *ep = g_hash_table_lookup(c->t->endpoints, sid);
    if (ep != c->connect_ep) {
        sylk_msrp_conn_close(c, "the session it was for has ended");
        return;
    }
    if (error) {
        g_info("MSRP connect to %s for session %s failed: %s", c->peer, sid, why);
        sylk_msrp_conn_close(c, why);
    } else {
        g_debug("MSRP connected to %s%s for session %s", c->peer, c->tls ? " (TLS)" : "", sid);
    }
    if (ep->connected)
        ep->connected(ep, error ? NULL : c, error);
    else if (!error)
        ep->conn = c;
}

static gboolean on_connect_timeout(gpointer data)
{
    struct sylk_msrp_conn *c = data;
    c->connect_timer = 0;
    if (c->connect_error) {
        g_autofree char *why = g_strdup_printf("connect failed: %s", g_strerror(c->connect_error));
        sylk_msrp_connect_done(c, -c->connect_error, why);
    } else {
        sylk_msrp_connect_done(c, -ETIMEDOUT,
                               "no connection within " G_STRINGIFY(CONNECT_TIMEOUT_S) " s");
    }
    return G_SOURCE_REMOVE;
}

/* Credentials for msrps connects: the server's own, or client ones made once. */
static gnutls_certificate_credentials_t client_credentials(struct sylk_msrp_transport *t,
                                                           char **error)
{
    if (t->cred)
        return t->cred;
    if (!t->client_cred) {
        int rc = gnutls_certificate_allocate_credentials(&t->client_cred);
        if (rc < 0) {
            t->client_cred = NULL;
            *error = g_strdup_printf("cannot allocate TLS credentials: %s", gnutls_strerror(rc));
        }
    }
    return t->client_cred;
}

/* The session id `ep` is registered with, or NULL. */
static const char *registered_sid(struct sylk_msrp_transport *t, struct sylk_msrp_endpoint *ep)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, t->endpoints);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (value == ep)
            return key;
    }
    return NULL;
}

int sylk_msrp_transport_connect(struct sylk_msrp_transport *t, const struct sylk_msrp_uri *to,
                                struct sylk_msrp_endpoint *ep, char **error)
{
    const char *sid = registered_sid(t, ep);
    if (!sid) {
        *error = g_strdup("MSRP connect for an endpoint that is not registered");
        return -EINVAL;
    }
    if (g_list_length(t->conns) >= MAX_CONNECTIONS) {
        *error = g_strdup_printf("MSRP: %d connections open; not opening another", MAX_CONNECTIONS);
        return -EMFILE;
    }
    gnutls_certificate_credentials_t cred = NULL;
    if (to->secure && !(cred = client_credentials(t, error)))
        return -ENOMEM;
    /* An IP literal in practice (the peer's a=path); a host name is resolved here, blocking the
     * main loop for as long as the resolver takes. */
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai;
    char service[8];
    g_snprintf(service, sizeof(service), "%u", to->port);
    int rc = getaddrinfo(to->host, service, &hints, &ai);
    if (rc != 0) {
        *error = g_strdup_printf("MSRP peer %s: %s", to->host, gai_strerror(rc));
        return rc == EAI_FAMILY || rc == EAI_ADDRFAMILY ? -EAFNOSUPPORT : -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        *error = g_strdup_printf("MSRP peer %s: %s", to->host, g_strerror(err));
        freeaddrinfo(ai);
        return -err;
    }
    struct sockaddr_storage ss = {0};
    memcpy(&ss, ai->ai_addr, MIN(ai->ai_addrlen, sizeof(ss)));
    int err = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? errno : 0;
    freeaddrinfo(ai);
    struct sylk_msrp_conn *c = sylk_msrp_conn_new(t, fd, &ss);
    c->connecting = true;
    c->connect_sid = g_strdup(sid);
    c->connect_ep = ep;
    if (cred) {
        gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
        gnutls_set_default_priority(c->tls);
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred);
        if (!g_hostname_is_ip_address(to->host))
            gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, to->host, strlen(to->host));
        gnutls_transport_set_int(c->tls, fd);
        /* The server's certificate is not verified: MSRP peers use self-signed ones, and
         * checking the SDP a=fingerprint (RFC 4572) is not implemented. */
        g_debug("MSRP TLS to %s: the peer's certificate is not verified", c->peer);
    }
    if (err && err != EINPROGRESS) { /* told from the loop, like any other outcome */
        c->connect_error = err;
        c->connect_timer = g_idle_add(on_connect_timeout, c);
        return 0;
    }
    c->connect_timer = g_timeout_add_seconds(CONNECT_TIMEOUT_S, on_connect_timeout, c);
    g_debug("MSRP connecting to %s for session %s", c->peer, sid);
    sylk_msrp_conn_watch(c);
    return 0;
}
