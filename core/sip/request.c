/*
 * request.c — struct sylk_request from a sofia-sip message. See request.h.
 */
#define G_LOG_DOMAIN "sylk-sip"
#include "request.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <string.h>

static const char *chunk(struct sylk_request *req, const char *s)
{
    return s ? g_string_chunk_insert(req->strings, s) : NULL;
}

/* Display names arrive quoted; the SDK promises them unquoted. */
static const char *unquoted(struct sylk_request *req, const char *display)
{
    if (!display || *display != '"')
        return chunk(req, display);
    g_autofree char *s = g_strdup(display + 1);
    char *end = strrchr(s, '"');
    if (end)
        *end = '\0';
    return chunk(req, s);
}

const char *sylk_request_url_str(struct sylk_request *req, const url_t *url)
{
    if (!url)
        return NULL;
    su_home_t home[1] = {SU_HOME_INIT(home)};
    char *s = url_as_string(home, url);
    const char *out = chunk(req, s);
    su_home_deinit(home);
    return out;
}

static void set_source(struct sylk_request *req, nua_t *nua)
{
    msg_t *msg = nua_current_request(nua);
    su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
    if (!ai || !ai->ai_addr || ai->ai_addrlen > sizeof(req->source))
        return;
    memcpy(&req->source, ai->ai_addr, ai->ai_addrlen);
    req->has_source = true;
    char host[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    if (req->source.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&req->source;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (req->source.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&req->source;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    g_autofree char *addr = req->source.ss_family == AF_INET6
                                ? g_strdup_printf("[%s]:%u", host, port)
                                : g_strdup_printf("%s:%u", host, port);
    req->info.remote_address = chunk(req, addr);
}

static const char *transport_of(const sip_t *sip)
{
    if (!sip->sip_via || !sip->sip_via->v_protocol)
        return NULL;
    const char *p = sip->sip_via->v_protocol; /* "SIP/2.0/UDP" */
    const char *slash = strrchr(p, '/');
    if (!slash)
        return NULL;
    if (g_ascii_strcasecmp(slash + 1, "UDP") == 0)
        return "udp";
    if (g_ascii_strcasecmp(slash + 1, "TCP") == 0)
        return "tcp";
    if (g_ascii_strcasecmp(slash + 1, "TLS") == 0)
        return "tls";
    return NULL;
}

static struct sylk_request *request_alloc(void)
{
    struct sylk_request *req = g_new0(struct sylk_request, 1);
    req->info.struct_size = sizeof(req->info);
    req->magic = SYLK_REQUEST_MAGIC;
    req->strings = g_string_chunk_new(512);
    req->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return req;
}

struct sylk_request *sylk_request_new_outgoing(const char *method, const char *request_uri,
                                               const char *from, const char *to)
{
    struct sylk_request *req = request_alloc();
    req->info.method = chunk(req, method);
    req->info.request_uri = chunk(req, request_uri);
    req->info.from_uri = chunk(req, from);
    req->info.to_uri = chunk(req, to);
    return req;
}

struct sylk_request *sylk_request_new(nua_t *nua, const sip_t *sip)
{
    struct sylk_request *req = request_alloc();
    msg_t *msg = nua_current_request(nua);
    if (msg)
        req->msg = msg_ref_create(msg);
    set_source(req, nua);
    if (!sip)
        return req;
    if (sip->sip_request) {
        req->info.method = chunk(req, sip->sip_request->rq_method_name);
        req->info.request_uri = sylk_request_url_str(req, sip->sip_request->rq_url);
    }
    if (sip->sip_from) {
        req->info.from_uri = sylk_request_url_str(req, sip->sip_from->a_url);
        req->info.from_display = unquoted(req, sip->sip_from->a_display);
    }
    if (sip->sip_to) {
        req->info.to_uri = sylk_request_url_str(req, sip->sip_to->a_url);
        req->info.to_display = unquoted(req, sip->sip_to->a_display);
    }
    if (sip->sip_call_id)
        req->info.call_id = chunk(req, sip->sip_call_id->i_id);
    req->info.transport = transport_of(sip);
    if (sip->sip_user_agent)
        req->info.user_agent = chunk(req, sip->sip_user_agent->g_string);
    if (sip->sip_content_type) {
        const char *t = sip->sip_content_type->c_type;
        req->info.content_type = chunk(req, t);
    }
    if (sip->sip_payload && sip->sip_payload->pl_len) {
        /* Copied with a terminating NUL so text bodies can be used as C strings. */
        char *body = g_malloc(sip->sip_payload->pl_len + 1);
        memcpy(body, sip->sip_payload->pl_data, sip->sip_payload->pl_len);
        body[sip->sip_payload->pl_len] = '\0';
        req->info.body =
            g_string_chunk_insert_len(req->strings, body, (gssize)sip->sip_payload->pl_len + 1);
        req->info.body_len = sip->sip_payload->pl_len;
        g_free(body);
    }
    return req;
}

void sylk_request_free(struct sylk_request *req)
{
    if (!req)
        return;
    if (req->msg)
        msg_ref_destroy(req->msg);
    req->magic = 0;
    g_string_chunk_free(req->strings);
    g_hash_table_destroy(req->headers);
    g_free(req);
}

const struct sockaddr *sylk_request_source(const struct sylk_request *req)
{
    return req->has_source ? (const struct sockaddr *)&req->source : NULL;
}

static bool header_named(const msg_header_t *h, const char *name)
{
    const msg_hclass_t *hc = h->sh_class;
    if (hc->hc_name && *hc->hc_name) {
        if (g_ascii_strcasecmp(hc->hc_name, name) == 0)
            return true;
        return hc->hc_short[0] && strlen(name) == 1 &&
               g_ascii_strncasecmp(hc->hc_short, name, 1) == 0;
    }
    /* Extension headers use the "unknown" class and keep their own name. */
    const sip_unknown_t *u = (const sip_unknown_t *)h;
    return hc->hc_hash == sip_unknown_hash && u->un_name &&
           g_ascii_strcasecmp(u->un_name, name) == 0;
}

const char *sylk_request_header(const struct sylk_request_info *info, const char *name)
{
    struct sylk_request *req = (struct sylk_request *)info;
    if (!req || !name || req->magic != SYLK_REQUEST_MAGIC || !req->msg)
        return NULL;
    g_autofree char *key = g_ascii_strdown(name, -1);
    gpointer cached;
    if (g_hash_table_lookup_extended(req->headers, key, NULL, &cached))
        return cached;
    const char *value = NULL;
    msg_header_t **head = msg_chain_head(req->msg);
    for (msg_header_t *h = head ? *head : NULL; h; h = h->sh_succ) {
        if (!h->sh_class || !header_named(h, name))
            continue;
        if (h->sh_class->hc_hash == sip_unknown_hash) {
            value = chunk(req, ((const sip_unknown_t *)h)->un_value);
        } else {
            char buf[4096];
            issize_t n = msg_header_field_e(buf, sizeof(buf), h, 0);
            if (n >= 0 && (size_t)n < sizeof(buf))
                value = chunk(req, buf);
        }
        break;
    }
    g_hash_table_insert(req->headers, g_steal_pointer(&key), (gpointer)value);
    return value;
}
