/*
 * keys.c — dialback keys, component handshakes, stream ids. See keys.h.
 */
#include "keys.h"

#include <glib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

char *xgw_dialback_secret_hash(const char *secret)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret, -1);
}

char *xgw_dialback_key(const char *secret_hash, const char *receiving, const char *originating,
                       const char *id)
{
    g_autofree char *text = g_strdup_printf("%s %s %s", receiving, originating, id);
    return g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *)secret_hash,
                                     strlen(secret_hash), text, -1);
}

bool xgw_dialback_key_valid(const char *secret_hash, const char *receiving, const char *originating,
                            const char *id, const char *key)
{
    g_autofree char *ours = xgw_dialback_key(secret_hash, receiving, originating, id);
    if (strlen(key) != strlen(ours))
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; ours[i]; i++)
        diff |= (unsigned char)(g_ascii_tolower(key[i]) ^ ours[i]);
    return diff == 0;
}

char *xgw_component_handshake(const char *id, const char *secret)
{
    g_autofree char *text = g_strconcat(id, secret, NULL);
    return g_compute_checksum_for_string(G_CHECKSUM_SHA1, text, -1);
}

static char *random_hex(size_t bytes, gnutls_rnd_level_t level)
{
    unsigned char buf[32];
    if (bytes > sizeof buf || gnutls_rnd(level, buf, bytes) < 0)
        return NULL;
    GString *hex = g_string_sized_new(2 * bytes);
    for (size_t i = 0; i < bytes; i++)
        g_string_append_printf(hex, "%02x", buf[i]);
    return g_string_free(hex, FALSE);
}

char *xgw_stream_id(void)
{
    return random_hex(XGW_STREAM_ID_LEN / 2, GNUTLS_RND_NONCE);
}

char *xgw_random_secret(void)
{
    return random_hex(32, GNUTLS_RND_KEY);
}
