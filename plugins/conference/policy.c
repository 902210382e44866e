/*
 * policy.c — access policy. See policy.h.
 */
#include "policy.h"

#include <glib.h>
#include <string.h>

char *conf_uri_key(const char *uri)
{
    const char *s = uri;
    if (g_ascii_strncasecmp(s, "sip:", 4) == 0)
        s += 4;
    else if (g_ascii_strncasecmp(s, "sips:", 5) == 0)
        s += 5;
    size_t n = strcspn(s, ";?>");
    const char *at = memchr(s, '@', n);
    const char *host = at ? at + 1 : s;
    const char *end = s + n;
    if (*host == '[') { /* an IPv6 literal keeps its colons */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close)
            end = close + 1;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        if (colon)
            end = colon; /* the port is not part of who it is */
    }
    g_autofree char *raw = g_strndup(s, (gsize)(end - s));
    return g_ascii_strdown(raw, -1);
}

static bool entry_matches(const char *entry, const char *key)
{
    g_autofree char *trimmed = g_strstrip(g_strdup(entry));
    g_autofree char *e = conf_uri_key(trimmed);
    if (g_ascii_strcasecmp(e, "all") == 0)
        return true;
    if (strchr(e, '@'))
        return strcmp(e, key) == 0;
    const char *at = strchr(key, '@');
    return at && strcmp(at + 1, e) == 0; /* a domain: all of its users */
}

static bool any_matches(const char *const *list, const char *key)
{
    for (size_t i = 0; list && list[i]; i++) {
        if (*list[i] && entry_matches(list[i], key))
            return true;
    }
    return false;
}

bool conf_policy_allows(const struct conf_policy *policy, const char *uri)
{
    g_autofree char *key = conf_uri_key(uri);
    bool allowed = any_matches(policy->allow, key), denied = any_matches(policy->deny, key);
    if (policy->deny_first)
        return !denied || allowed;
    return allowed && !denied;
}
