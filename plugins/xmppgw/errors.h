/*
 * errors.h — XMPP stream errors (RFC 6120 §4.9) and stanza errors (RFC 6120 §8.3): the
 * tables of defined conditions (with each stanza condition's usual error type), builders of
 * the error elements we send, and readers of the ones we receive.
 *
 * A stream error is sent as `<stream:error>` then `</stream:stream>`, and the connection is
 * closed. A stanza error answers one stanza: same element, from and to swapped, same id,
 * type='error', with an <error/> child in the stanza's namespace. Never answer an error with
 * an error (xmpp_stanza_error_reply returns NULL for one).
 *
 * Thread: pure functions, any thread.
 */
#ifndef XMPPGW_ERRORS_H
#define XMPPGW_ERRORS_H

#include "xml_node.h"

#include <stdbool.h>

/* RFC 6120 §4.9.3, in its order. */
enum xmpp_stream_condition {
    XMPP_STREAM_ERR_BAD_FORMAT,
    XMPP_STREAM_ERR_BAD_NAMESPACE_PREFIX,
    XMPP_STREAM_ERR_CONFLICT,
    XMPP_STREAM_ERR_CONNECTION_TIMEOUT,
    XMPP_STREAM_ERR_HOST_GONE,
    XMPP_STREAM_ERR_HOST_UNKNOWN,
    XMPP_STREAM_ERR_IMPROPER_ADDRESSING,
    XMPP_STREAM_ERR_INTERNAL_SERVER_ERROR,
    XMPP_STREAM_ERR_INVALID_FROM,
    XMPP_STREAM_ERR_INVALID_NAMESPACE,
    XMPP_STREAM_ERR_INVALID_XML,
    XMPP_STREAM_ERR_NOT_AUTHORIZED,
    XMPP_STREAM_ERR_NOT_WELL_FORMED,
    XMPP_STREAM_ERR_POLICY_VIOLATION,
    XMPP_STREAM_ERR_REMOTE_CONNECTION_FAILED,
    XMPP_STREAM_ERR_RESET,
    XMPP_STREAM_ERR_RESOURCE_CONSTRAINT,
    XMPP_STREAM_ERR_RESTRICTED_XML,
    XMPP_STREAM_ERR_SEE_OTHER_HOST,
    XMPP_STREAM_ERR_SYSTEM_SHUTDOWN,
    XMPP_STREAM_ERR_UNDEFINED_CONDITION,
    XMPP_STREAM_ERR_UNSUPPORTED_ENCODING,
    XMPP_STREAM_ERR_UNSUPPORTED_FEATURE,
    XMPP_STREAM_ERR_UNSUPPORTED_STANZA_TYPE,
    XMPP_STREAM_ERR_UNSUPPORTED_VERSION,
    XMPP_STREAM_ERR_COUNT
};

/* RFC 6120 §8.3.3, in its order. */
enum xmpp_stanza_condition {
    XMPP_STANZA_ERR_BAD_REQUEST,
    XMPP_STANZA_ERR_CONFLICT,
    XMPP_STANZA_ERR_FEATURE_NOT_IMPLEMENTED,
    XMPP_STANZA_ERR_FORBIDDEN,
    XMPP_STANZA_ERR_GONE,
    XMPP_STANZA_ERR_INTERNAL_SERVER_ERROR,
    XMPP_STANZA_ERR_ITEM_NOT_FOUND,
    XMPP_STANZA_ERR_JID_MALFORMED,
    XMPP_STANZA_ERR_NOT_ACCEPTABLE,
    XMPP_STANZA_ERR_NOT_ALLOWED,
    XMPP_STANZA_ERR_NOT_AUTHORIZED,
    XMPP_STANZA_ERR_POLICY_VIOLATION,
    XMPP_STANZA_ERR_RECIPIENT_UNAVAILABLE,
    XMPP_STANZA_ERR_REDIRECT,
    XMPP_STANZA_ERR_REGISTRATION_REQUIRED,
    XMPP_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
    XMPP_STANZA_ERR_REMOTE_SERVER_TIMEOUT,
    XMPP_STANZA_ERR_RESOURCE_CONSTRAINT,
    XMPP_STANZA_ERR_SERVICE_UNAVAILABLE,
    XMPP_STANZA_ERR_SUBSCRIPTION_REQUIRED,
    XMPP_STANZA_ERR_UNDEFINED_CONDITION,
    XMPP_STANZA_ERR_UNEXPECTED_REQUEST,
    XMPP_STANZA_ERR_COUNT
};

/* RFC 6120 §8.3.2: what the sender of the stanza may do about it. */
enum xmpp_error_type {
    XMPP_ERROR_AUTH,
    XMPP_ERROR_CANCEL,
    XMPP_ERROR_CONTINUE,
    XMPP_ERROR_MODIFY,
    XMPP_ERROR_WAIT,
};

/** "not-well-formed", ... */
const char *xmpp_stream_condition_name(enum xmpp_stream_condition cond);

/** "bad-request", ... */
const char *xmpp_stanza_condition_name(enum xmpp_stanza_condition cond);

/** The type RFC 6120 §8.3.3 gives the condition (undefined-condition: cancel). */
enum xmpp_error_type xmpp_stanza_condition_type(enum xmpp_stanza_condition cond);

/** "auth", "cancel", "continue", "modify", "wait". */
const char *xmpp_error_type_name(enum xmpp_error_type type);

/**
 * <stream:error><COND xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text …>text</text>
 * </stream:error> (in XMPP_NS_STREAMS: write it with a scope whose stream_prefix is set).
 * text may be NULL; text that is not valid XML character data is left out.
 */
struct xmpp_node *xmpp_stream_error_new(enum xmpp_stream_condition cond, const char *text);

/**
 * Reads a received <stream:error>: its condition (undefined-condition when none is known) and
 * its <text/> (a new string, or NULL). False when node is not a stream error element.
 */
bool xmpp_stream_error_read(const struct xmpp_node *node, enum xmpp_stream_condition *cond,
                            char **text);

/**
 * The error reply to stanza (RFC 6120 §8.3.1): same element and namespace, to = its from,
 * from = its to (each only when present), its id, type='error', and
 * <error type='…'><COND xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text …/></error> with
 * the condition's usual type. NULL when stanza is itself an error (type='error').
 */
struct xmpp_node *xmpp_stanza_error_reply(const struct xmpp_node *stanza,
                                          enum xmpp_stanza_condition cond, const char *text);

/**
 * Reads the error of a stanza of type 'error': condition (undefined-condition when the
 * <error/> names none we know), type (the condition's usual one when missing or unknown) and
 * text (a new string, or NULL). False when the stanza is not an error or has no <error/>.
 */
bool xmpp_stanza_error_read(const struct xmpp_node *stanza, enum xmpp_stanza_condition *cond,
                            enum xmpp_error_type *type, char **text);

#endif
