/*
 * policy.h — who may join a room, subscribe to it or refer people into it: the access policy of
 * conference.ini, as SylkServer (and Apache's Order directive) has it.
 *
 *   access_policy = allow,deny   allowed when an allow entry matches and no deny entry does
 *   access_policy = deny,allow   allowed unless a deny entry matches and no allow entry does
 *   allow = all | domain.com | user@domain.com | sip:user@domain.com, …
 *   deny  = (the same forms)
 *
 * Entries are compared without case; a bare domain matches every user of it.
 *
 * Thread: pure functions.
 */
#ifndef CONF_POLICY_H
#define CONF_POLICY_H

#include <stdbool.h>

struct conf_policy {
    bool deny_first;          /* deny,allow */
    const char *const *allow; /* NULL-terminated, or NULL */
    const char *const *deny;
};

/** Whether `uri` (sip:user@host, parameters ignored) may take part. */
bool conf_policy_allows(const struct conf_policy *policy, const char *uri);

/** user@host of a SIP URI, lower-cased, without scheme, port, parameters or headers (g_free). */
char *conf_uri_key(const char *uri);

#endif
