/*
 * pending.h — a received request that a plugin answers later (MESSAGE, SUBSCRIBE, REFER):
 * the saved nua event the deferred response needs (NUTAG_WITH_SAVED), the handle it arrived
 * on (owned when out of dialog), the request as the plugin sees it, and an answer timeout.
 * The first member of sylk_message, sylk_subscription and sylk_referral. Main thread.
 */
#ifndef SYLK_PENDING_H
#define SYLK_PENDING_H

#include "sip/stack.h"

#include <glib.h>
#include <stdbool.h>

struct sylk_request;

struct sylk_pending {
    struct sylk_owner owner; /* first: what the nua handle is bound to */
    struct sylk_sip_stack *stack;
    nua_handle_t *nh;             /* NULL once the dialog it arrived in is gone */
    struct sylk_session *session; /* that dialog, or NULL: then the handle is ours */
    bool answered;                /* a final response went out */
    nua_saved_event_t saved[1];
    struct sylk_request *request;
    guint timer;
};

/** Saves the event being processed; binds `nh` to `p` unless it belongs to `session`. */
void sylk_pending_init(struct sylk_pending *p, enum sylk_owner_kind kind,
                       struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                       struct sylk_session *session, struct sylk_request *req);

/** Calls fn(p) after `seconds` unless answered first. */
void sylk_pending_set_timeout(struct sylk_pending *p, unsigned seconds, GSourceFunc fn);

/** Sends the final response: 0, -EALREADY when already answered, -ENOTCONN when the dialog
 *  is gone (nothing sent; the request counts as answered). */
int sylk_pending_answer(struct sylk_pending *p, int status, const char *reason);

/** sylk_pending_answer with headers or nua tags added to the response. */
int sylk_pending_answer_tags(struct sylk_pending *p, int status, const char *reason, tag_type_t tag,
                             tag_value_t value, ...);

/** The dialog the request arrived in has ended. */
void sylk_pending_detach(struct sylk_pending *p);

/** Releases the saved event, the owned handle and the request (not p itself). */
void sylk_pending_clear(struct sylk_pending *p);

#endif
