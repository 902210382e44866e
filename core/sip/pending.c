/*
 * pending.c — deferred answers to received requests. See pending.h.
 */
#define G_LOG_DOMAIN "sylk-sip"
#include "sip/pending.h"

#include "sip/request.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>

void sylk_pending_init(struct sylk_pending *p, enum sylk_owner_kind kind,
                       struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                       struct sylk_session *session, struct sylk_request *req)
{
    p->owner.kind = kind;
    p->stack = stack;
    p->nh = nh;
    p->session = session;
    p->request = req;
    nua_save_event(nua, p->saved);
    if (!session)
        nua_handle_bind(nh, &p->owner);
}

void sylk_pending_set_timeout(struct sylk_pending *p, unsigned seconds, GSourceFunc fn)
{
    p->timer = g_timeout_add_seconds(seconds, fn, p);
}

static void stop_timer(struct sylk_pending *p)
{
    if (p->timer) {
        g_source_remove(p->timer);
        p->timer = 0;
    }
}

int sylk_pending_answer_tags(struct sylk_pending *p, int status, const char *reason, tag_type_t tag,
                             tag_value_t value, ...)
{
    if (p->answered)
        return -EALREADY;
    p->answered = true;
    stop_timer(p);
    if (!p->nh)
        return -ENOTCONN;
    ta_list ta;
    ta_start(ta, tag, value);
    sylk_sip_respond(sylk_sip_request_method(nua_saved_event_request(p->saved)), p->nh, status,
                     sylk_sip_phrase(status, reason ? reason : sip_status_phrase(status)),
                     NUTAG_WITH_SAVED(p->saved), ta_tags(ta));
    (void)ta_end(ta); /* the macro ends in ", 0" */
    return 0;
}

int sylk_pending_answer(struct sylk_pending *p, int status, const char *reason)
{
    return sylk_pending_answer_tags(p, status, reason, TAG_END());
}

void sylk_pending_detach(struct sylk_pending *p)
{
    p->nh = NULL;
    p->session = NULL;
}

void sylk_pending_clear(struct sylk_pending *p)
{
    stop_timer(p);
    nua_destroy_event(p->saved);
    /* A handle of our own (not a session's) goes with us. */
    if (p->nh && !p->session) {
        nua_handle_bind(p->nh, NULL);
        nua_handle_destroy(p->nh);
    }
    p->nh = NULL;
    sylk_request_free(p->request);
    p->request = NULL;
}
