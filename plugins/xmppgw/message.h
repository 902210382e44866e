/*
 * message.h — instant messages between SIP MESSAGE (RFC 3428) and XMPP <message/> (RFC 6121),
 * as RFC 7572 maps them: the pure half (bodies, types, stanzas), without I/O.
 *
 * SIP MESSAGE -> XMPP: the body is decoded by its Content-Type:
 *   text/plain                 <body> (charset UTF-8 or absent: kept byte for byte, refused
 *                              when not valid UTF-8; another charset libiconv knows: converted)
 *   text/html                  <body> with the text of it, and XEP-0071 <html> with its markup
 *   message/cpim               unwrapped (RFC 3862): one of the above or is-composing inside;
 *                              CPIM From/To are returned to the caller, Subject is mapped
 *   application/im-iscomposing+xml   a chat state (chatstate.h)
 *   anything else              415, with XGW_SIP_ACCEPT for the Accept header
 * Refused: over XGW_MESSAGE_MAX_BYTES (413), a body that is not valid in its charset or holds
 * characters XML cannot carry (400 / 415 for an unknown charset), bad CPIM (400).
 *
 * XMPP -> SIP MESSAGE: the <body> (the one in the stanza's language, else the first without
 * xml:lang, else the first), or the XEP-0071 XHTML body as text/html when the message has one;
 * wrapped in message/cpim when use_cpim is set. <subject/> becomes a Subject header and
 * xml:lang a Content-Language header (RFC 7572 §5); <thread/> is not carried.
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_MESSAGE_H
#define XMPPGW_MESSAGE_H

#include "chatstate.h"
#include "xml_node.h"

#include <glib.h>
#include <stdbool.h>

#define XGW_MESSAGE_MAX_BYTES (64 * 1024)
#define XGW_SIP_ACCEPT        "text/plain, text/html, message/cpim, application/im-iscomposing+xml"
#define XGW_NS_RECEIPTS       "urn:xmpp:receipts"

enum xgw_content_kind {
    XGW_CONTENT_TEXT,
    XGW_CONTENT_HTML,
    XGW_CONTENT_COMPOSING,
};

/* A SIP MESSAGE body, decoded. */
struct xgw_sip_content {
    enum xgw_content_kind kind;
    char *text;                     /* TEXT, HTML: the plain text, valid UTF-8 and XML characters */
    struct xmpp_node *xhtml;        /* HTML: the whitelisted <body xmlns=XHTML>, or NULL */
    struct xgw_composing composing; /* COMPOSING */
    char *cpim_from;                /* the URI of the CPIM From, or NULL (not wrapped, or none) */
    char *cpim_to;                  /* the URI of the first CPIM To, or NULL */
    char *subject;                  /* CPIM Subject, or NULL */
};

/**
 * Decodes a SIP MESSAGE body: content_type is the whole Content-Type header (parameters
 * included). 0, or the SIP status to answer (400, 413, 415) with *why (static text).
 */
int xgw_sip_content_decode(const char *content_type, const void *body, size_t len,
                           struct xgw_sip_content *out, const char **why);
void xgw_sip_content_clear(struct xgw_sip_content *c);

/**
 * The <message type='chat'> for decoded SIP content: from, to and id as given, <subject/>
 * (subject, when not NULL), <body/> and XEP-0071 <html/>, or a chat state alone; xml:lang from
 * lang when it is a valid language tag. chat_state: a state to add to a content message
 * (XGW_CHAT_ACTIVE once the peer has used chat states), or XGW_CHAT_NONE.
 */
struct xmpp_node *xgw_message_from_sip(const char *from, const char *to, const char *id,
                                       const struct xgw_sip_content *content, const char *subject,
                                       const char *lang, enum xgw_chat_state chat_state);

/* An XMPP <message/>, read for SIP. */
struct xgw_xmpp_content {
    char *body;              /* the chosen <body/>, or NULL */
    struct xmpp_node *xhtml; /* the whitelisted XHTML-IM body, or NULL */
    char *subject;           /* <subject/>, one line, or NULL */
    char *lang;              /* the stanza's xml:lang when a valid tag, or NULL */
    enum xgw_chat_state state;
    bool receipt_request; /* XEP-0184 <request/> (with an id) */
};

/** Reads a <message/>. */
void xgw_xmpp_content_read(const struct xmpp_node *message, struct xgw_xmpp_content *out);
void xgw_xmpp_content_clear(struct xgw_xmpp_content *c);

/** True when the content has something to send as a SIP MESSAGE (a body or XHTML). */
bool xgw_xmpp_content_has_text(const struct xgw_xmpp_content *c);

/**
 * The SIP MESSAGE body for XMPP content: *content_type and the body (both g_free/GString).
 * With use_cpim the payload is wrapped in message/cpim From: from_uri, To: to_uri,
 * DateTime: datetime.
 */
GString *xgw_sip_body_for(const struct xgw_xmpp_content *c, bool use_cpim, const char *from_uri,
                          const char *to_uri, const char *datetime, char **content_type);

/** The extra SIP headers for XMPP content ("Subject: …\r\nContent-Language: …\r\n"), or NULL. */
char *xgw_sip_headers_for(const struct xgw_xmpp_content *c);

/** The XEP-0184 receipt for a message: <message from=its to, to=its from, id=id, type=its
 * type><received xmlns='urn:xmpp:receipts' id=its id/></message>; NULL when it has no id. */
struct xmpp_node *xgw_receipt_for(const struct xmpp_node *message, const char *id);

/** True when s is a language tag we carry between xml:lang and Content-Language (RFC 5646
 * shape: alphanumeric subtags of 1..8 separated by '-', 64 bytes at most). */
bool xgw_lang_tag_valid(const char *s);

/** The current time as RFC 3339 UTC ("2024-05-01T12:00:00Z"), for CPIM DateTime and PIDF. */
char *xgw_datetime_now(void);

#endif
