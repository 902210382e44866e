/*
 * srtp.c — SDES parsing/generation and libsrtp2 contexts. See srtp.h.
 */
#define G_LOG_DOMAIN "sylk-srtp"
#include "media/srtp.h"

#include "media/srtp_crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <srtp2/srtp.h>
#include <string.h>
#include <sys/random.h>

static const struct {
    enum sylk_srtp_suite suite;
    const char *name;
} suites[] = {
    {SYLK_SRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80"},
    {SYLK_SRTP_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32"},
};

int sylk_srtp_library_init(void)
{
    if (srtp_init() != srtp_err_status_ok)
        return -EIO;
    return sylk_srtp_crypto_install(); /* a per-packet cost independent of the contexts alive */
}

const char *sylk_srtp_suite_name(enum sylk_srtp_suite suite)
{
    for (size_t i = 0; i < G_N_ELEMENTS(suites); i++) {
        if (suites[i].suite == suite)
            return suites[i].name;
    }
    return NULL;
}

enum sylk_srtp_suite sylk_srtp_suite_parse(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(suites); i++) {
        if (strcmp(suites[i].name, name) == 0)
            return suites[i].suite;
    }
    return SYLK_SRTP_NONE;
}

static int fail(char **error, const char *why, const char *value)
{
    *error = g_strdup_printf("a=crypto:%s: %s", value, why);
    return -EINVAL;
}

/* key-params = "inline:" key-salt ["|" lifetime] ["|" mki ":" length] (RFC 4568 §6.1) */
static int parse_key_params(const char *value, const char *params, uint8_t *master, char **error)
{
    if (!g_str_has_prefix(params, "inline:"))
        return fail(error, "key method is not inline", value);
    g_auto(GStrv) parts = g_strsplit(params + strlen("inline:"), "|", 3);
    const char *b64 = parts[0] ? parts[0] : ""; /* "inline:" alone splits into nothing */
    size_t n = strlen(b64);
    /* 30 bytes encode as exactly 40 base64 characters. */
    if (n != 40 ||
        strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != n)
        return fail(error, "the key is not 40 base64 characters (30 bytes)", value);
    gsize len = 0;
    g_autofree guchar *raw = g_base64_decode(b64, &len);
    if (len != SYLK_SRTP_MASTER_LEN)
        return fail(error, "the key is not 30 bytes", value);
    memcpy(master, raw, SYLK_SRTP_MASTER_LEN);
    for (unsigned i = 1; parts[i]; i++) {
        if (strchr(parts[i], ':')) {
            *error = g_strdup_printf("a=crypto:%s: MKI is not supported", value);
            return -ENOTSUP;
        }
        /* A lifetime ("2^31" or a number) is accepted; rekeying before it is the peer's. */
        if (!*parts[i] || strspn(parts[i], "0123456789^") != strlen(parts[i]))
            return fail(error, "bad key lifetime", value);
    }
    return 0;
}

int sylk_sdes_parse(const char *value, struct sylk_sdes *out, char **error)
{
    memset(out, 0, sizeof(*out));
    g_auto(GStrv) fields = g_strsplit_set(value, " \t", -1);
    unsigned n = g_strv_length(fields);
    if (n < 3 || !*fields[0] || !*fields[1])
        return fail(error, "expected: tag suite key-params", value);
    char *end;
    guint64 tag = g_ascii_strtoull(fields[0], &end, 10);
    if (*end || tag > 999999999) /* tag = 1*9DIGIT (RFC 4568 §9.1): 0 is valid */
        return fail(error, "bad tag", value);
    out->tag = (unsigned)tag;
    out->suite = sylk_srtp_suite_parse(fields[1]);
    if (strchr(fields[2], ';'))
        return fail(error, "several keys are not supported", value);
    int rc = parse_key_params(value, fields[2], out->master, error);
    if (rc < 0)
        return rc;
    if (out->suite == SYLK_SRTP_NONE) {
        *error = g_strdup_printf("a=crypto:%s: unsupported suite %s", value, fields[1]);
        return -ENOTSUP;
    }
    /* Session parameters (UNENCRYPTED_SRTP, KDR, …) change the keying: refuse them. */
    if (n > 3) {
        *error = g_strdup_printf("a=crypto:%s: session parameters are not supported", value);
        return -ENOTSUP;
    }
    return 0;
}

int sylk_sdes_generate(struct sylk_sdes *out, unsigned tag, enum sylk_srtp_suite suite)
{
    memset(out, 0, sizeof(*out));
    out->tag = tag;
    out->suite = suite;
    ssize_t n = getrandom(out->master, sizeof(out->master), 0);
    return n == (ssize_t)sizeof(out->master) ? 0 : -EIO;
}

char *sylk_sdes_format(const struct sylk_sdes *sdes)
{
    g_autofree char *b64 = g_base64_encode(sdes->master, sizeof(sdes->master));
    return g_strdup_printf("%u %s inline:%s", sdes->tag, sylk_srtp_suite_name(sdes->suite), b64);
}

struct sylk_srtp {
    srtp_t out, in;
};

static void policy_for(srtp_policy_t *p, const struct sylk_sdes *sdes, srtp_ssrc_type_t type)
{
    memset(p, 0, sizeof(*p));
    if (sdes->suite == SYLK_SRTP_AES_CM_128_HMAC_SHA1_32)
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
    else
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
    /* RTCP always uses the 80-bit tag (RFC 4568 §6.2.1). */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
    p->ssrc.type = type;
    p->key = (unsigned char *)sdes->master;
    p->window_size = 128;
    p->allow_repeat_tx = 0;
}

int sylk_srtp_new(const struct sylk_sdes *local, const struct sylk_sdes *remote,
                  struct sylk_srtp **out)
{
    if (!local || !remote || local->suite == SYLK_SRTP_NONE || local->suite != remote->suite)
        return -EINVAL;
    struct sylk_srtp *s = g_new0(struct sylk_srtp, 1);
    srtp_policy_t p;
    policy_for(&p, local, ssrc_any_outbound);
    if (srtp_create(&s->out, &p) != srtp_err_status_ok)
        goto fail;
    policy_for(&p, remote, ssrc_any_inbound);
    if (srtp_create(&s->in, &p) != srtp_err_status_ok)
        goto fail;
    *out = s;
    return 0;
fail:
    sylk_srtp_free(s);
    return -EINVAL;
}

void sylk_srtp_free(struct sylk_srtp *srtp)
{
    if (!srtp)
        return;
    if (srtp->out)
        srtp_dealloc(srtp->out);
    if (srtp->in)
        srtp_dealloc(srtp->in);
    g_free(srtp);
}

void sylk_srtp_forget(struct sylk_srtp *srtp, uint32_t ssrc)
{
    srtp_remove_stream(srtp->in, htonl(ssrc));
    srtp_remove_stream(srtp->out, htonl(ssrc));
}

static int result(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok:
        return 0;
    case srtp_err_status_auth_fail:
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return -EBADMSG;
    default:
        return -EINVAL;
    }
}

int sylk_srtp_protect(struct sylk_srtp *srtp, uint8_t *packet, size_t *len, size_t cap)
{
    if (*len < 12 || *len + SYLK_SRTP_MAX_TRAILER > cap)
        return -ENOSPC;
    int n = (int)*len;
    int rc = result(srtp_protect(srtp->out, packet, &n));
    *len = (size_t)n;
    return rc;
}

int sylk_srtp_unprotect(struct sylk_srtp *srtp, uint8_t *packet, size_t *len)
{
    if (*len < 12)
        return -EBADMSG;
    int n = (int)*len;
    int rc = result(srtp_unprotect(srtp->in, packet, &n));
    *len = (size_t)n;
    return rc;
}

int sylk_srtp_protect_rtcp(struct sylk_srtp *srtp, uint8_t *packet, size_t *len, size_t cap)
{
    if (*len < 8 || *len + SYLK_SRTP_MAX_TRAILER + 4 > cap)
        return -ENOSPC;
    int n = (int)*len;
    int rc = result(srtp_protect_rtcp(srtp->out, packet, &n));
    *len = (size_t)n;
    return rc;
}

int sylk_srtp_unprotect_rtcp(struct sylk_srtp *srtp, uint8_t *packet, size_t *len)
{
    if (*len < 8)
        return -EBADMSG;
    int n = (int)*len;
    int rc = result(srtp_unprotect_rtcp(srtp->in, packet, &n));
    *len = (size_t)n;
    return rc;
}
