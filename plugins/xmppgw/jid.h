/*
 * jid.h — XMPP addresses (RFC 7622) and their mapping to and from SIP URIs (RFC 7247 §5).
 *
 * A JID is [localpart "@"] domainpart ["/" resourcepart], split at the first "/" and then at
 * the first "@" before it. Each part is 1 to 1023 bytes of valid UTF-8 once prepared; what we
 * enforce (RFC 7622 in practical form, without a PRECIS library):
 *   localpart   NFC, lower-cased code point by code point; printable ASCII but for
 *               " & ' / : < > @ and space, and beyond ASCII only letters, digits and marks
 *               (PRECIS IdentifierClass in practice: no symbols, punctuation, spaces, controls).
 *   domainpart  an IP literal ([v6], kept lower-cased), or a domain name whose labels are
 *               LDH once converted to ASCII (IDNA via GLib; each label 1..63, the name at most
 *               253 bytes as ASCII); stored in its Unicode form (A-labels become U-labels, RFC
 *               7622 §3.2), lower-cased, without a final dot.
 *   resourcepart NFC, case kept; any character but controls (Cc) and U+FFFE/U+FFFF.
 * Comparison is byte equality of the prepared parts, so parse both sides first.
 *
 * SIP <-> XMPP (RFC 7247 §5; a gateway-private choice where the RFC leaves one):
 *
 *   SIP URI                                  JID
 *   sip:alice@example.com                    alice@example.com
 *   sips:Alice@EXAMPLE.com:5061;transport=tls alice@example.com   (case, port, params dropped)
 *   sip:alice@example.com;gr=balcony         alice@example.com/balcony   (GRUU gr = resource)
 *   sip:a%20b%40c@example.com                a\20b\40c@example.com   (percent-decoded, then
 *                                            XEP-0106-escaped: space " & ' / : < > @ and \
 *                                            before a hex pair that is an escape)
 *   sip:j%C3%BCrgen@example.com              jürgen@example.com
 *   sip:example.com                          example.com   (no user part: the domain)
 *   sip:bob@xn--mnchen-3ya.de                bob@münchen.de
 *   sip:alice@example.com;gr=urn:uuid:f81d…  alice@example.com/urn:uuid:f81d…
 *
 *   JID                                      SIP URI
 *   juliet@example.com/balcony               sip:juliet@example.com;gr=balcony
 *   juliet@example.com/bal cony              sip:juliet@example.com;gr=bal%20cony
 *   a\20b@example.com                        sip:a%20b@example.com   (XEP-0106 unescaped)
 *   bob@münchen.de                           sip:bob@xn--mnchen-3ya.de
 *   example.com                              sip:example.com
 *
 * The resource travels in the gr parameter as itself, percent-encoded where a URI parameter
 * needs it (not SylkServer's hex encoding): any SIP UA carries it opaquely, and it reads
 * plainly. SIP user parts are percent-encoded but for unreserved characters and & = + $ ,
 * (";" "?" "/" are encoded though RFC 3261 allows them); hosts are ASCII (A-labels). Refused (clean
 * -EINVAL with a reason): other schemes, a password, an empty or invalid host, a user part that is
 * not UTF-8 once decoded or holds a control character, begins or ends with a space (XEP-0106 cannot
 * escape those) or passes 1023 bytes escaped, a bad %-escape, two gr parameters, an empty gr, a
 * resource with a control character; and on the way back a localpart whose XEP-0106 unescaping is
 * not reversible (e.g. "\5c" alone), so that every JID we map comes back from its SIP URI as the
 * same JID. Round trips: jid -> sip -> jid is the identity for every JID mapped; sip -> jid -> sip
 * keeps everything but the case of the user part and host, the port and other parameters.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_JID_H
#define XMPPGW_JID_H

#include <glib.h>
#include <stdbool.h>

#define XMPP_JID_PART_MAX 1023

struct xmpp_jid {
    char *local;    /* NULL when absent */
    char *domain;   /* never NULL in a parsed JID */
    char *resource; /* NULL when absent (a bare JID) */
};

/** Parses and prepares s. 0, or -EINVAL with *why (static text) set when why is not NULL. */
int xmpp_jid_parse(const char *s, struct xmpp_jid *jid, const char **why);

/** True when s parses as a JID. */
bool xmpp_jid_valid(const char *s);

void xmpp_jid_clear(struct xmpp_jid *jid);

/** "local@domain/resource"; without the resource when full is false. */
char *xmpp_jid_format(const struct xmpp_jid *jid, bool full);

/** Same prepared parts; resources compared only when full is true. */
bool xmpp_jid_equal(const struct xmpp_jid *a, const struct xmpp_jid *b, bool full);

/** XEP-0106 escaping of an unescaped localpart; NULL when it cannot be escaped. */
char *xmpp_jid_escape_local(const char *raw);

/** XEP-0106 unescaping; NULL when escaping the result again would not give local back. */
char *xmpp_jid_unescape_local(const char *local);

/** RFC 7247: a sip:/sips: URI as a JID (with its gr as resource). 0, or -EINVAL and *why. */
int xmpp_jid_from_sip_uri(const char *uri, struct xmpp_jid *jid, const char **why);

/** RFC 7247: sip:user@host[;gr=resource] (the resource only when with_resource); NULL + *why. */
char *xmpp_jid_to_sip_uri(const struct xmpp_jid *jid, bool with_resource, const char **why);

#endif
