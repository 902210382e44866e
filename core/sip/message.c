/*
 * message.c — SIP MESSAGE in and out. See message.h.
 */
#define G_LOG_DOMAIN "sylk-message"
#include "sip/message.h"

#include "plugin/loader.h"
#include "server.h"
#include "sip/pending.h"
#include "sip/request.h"
#include "sip/session.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_alloc.h>
#include <string.h>

#define RESPONSE_TIMEOUT_S 30

struct sylk_message {
    struct sylk_pending base; /* first; base.answered: by the core before the plugin did */
    GList *link;              /* in stack->messages */
    gint64 deadline;          /* monotonic µs: the core answers for the plugin from then */
};

struct sylk_outgoing_message {
    struct sylk_owner owner;
    struct sylk_sip_stack *stack;
    GList *link; /* in stack->outgoing */
    nua_handle_t *nh;
    void (*result)(int status, const char *reason, void *user_data);
    void *user_data;
};

static void message_free(struct sylk_message *m)
{
    g_queue_delete_link(&m->base.stack->messages, m->link);
    sylk_pending_clear(&m->base);
    g_free(m);
}

/* The core answers for a silent plugin; the handle stays until the plugin answers too. Every
 * MESSAGE has the same time to wait, so the queue (in arrival order) is in deadline order: one
 * timer for all of them, ticking each second while any waits, instead of a GLib source each,
 * which every main loop iteration would visit (a gateway holds thousands). */
static gboolean response_timeouts(gpointer data)
{
    struct sylk_sip_stack *stack = data;
    gint64 now = g_get_monotonic_time();
    for (GList *l = stack->messages.head; l; l = l->next) {
        struct sylk_message *m = l->data;
        if (m->deadline > now)
            break;
        if (m->base.answered)
            continue;
        g_warning("MESSAGE %s: application did not respond within %d s",
                  m->base.request->info.call_id, RESPONSE_TIMEOUT_S);
        sylk_pending_answer(&m->base, 500, "Application Did Not Respond");
    }
    if (g_queue_is_empty(&stack->messages)) {
        stack->messages_timer = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static struct sylk_message *message_new(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                                        struct sylk_session *session, struct sylk_request *req)
{
    struct sylk_message *m = g_new0(struct sylk_message, 1);
    sylk_pending_init(&m->base, SYLK_OWNER_MESSAGE_IN, stack, nua, nh, session, req);
    m->deadline = g_get_monotonic_time() + (gint64)RESPONSE_TIMEOUT_S * G_USEC_PER_SEC;
    g_queue_push_tail(&stack->messages, m);
    m->link = stack->messages.tail;
    if (!stack->messages_timer)
        stack->messages_timer = g_timeout_add_seconds(1, response_timeouts, stack);
    return m;
}

void sylk_message_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                           struct sylk_request *req, const struct sylk_loaded_plugin *plugin)
{
    struct sylk_message *m = message_new(stack, nua, nh, NULL, req);
    g_info("MESSAGE %s from %s to %s → %s (%zu bytes %s)", req->info.call_id, req->info.from_uri,
           req->info.request_uri, plugin->desc.name, req->info.body_len,
           req->info.content_type ? req->info.content_type : "without type");
    plugin->desc.incoming_sip_message(m);
}

void sylk_message_incoming_in_dialog(struct sylk_sip_stack *stack, struct sylk_session *session,
                                     nua_t *nua, const sip_t *sip)
{
    const struct sylk_loaded_plugin *plugin = sylk_session_plugin(session);
    nua_handle_t *nh = sylk_session_handle(session);
    if (!plugin || !plugin->desc.incoming_sip_message) {
        sylk_sip_respond(sip_method_message, nh, 405, "Method Not Allowed", NUTAG_WITH_THIS(nua),
                         TAG_END());
        return;
    }
    plugin->desc.incoming_sip_message(
        message_new(stack, nua, nh, session, sylk_request_new(nua, sip)));
}

void sylk_message_abort_all(struct sylk_sip_stack *stack)
{
    for (GList *l = stack->messages.head; l; l = l->next)
        sylk_pending_answer(l->data, 503, "Server Shutting Down");
}

void sylk_message_free_all(struct sylk_sip_stack *stack)
{
    while (!g_queue_is_empty(&stack->messages))
        message_free(g_queue_peek_head(&stack->messages));
    if (stack->messages_timer)
        g_source_remove(stack->messages_timer);
    stack->messages_timer = 0;
}

void sylk_message_session_gone(struct sylk_sip_stack *stack, struct sylk_session *session)
{
    for (GList *l = stack->messages.head; l; l = l->next) {
        struct sylk_message *m = l->data;
        if (m->base.session == session)
            sylk_pending_detach(&m->base);
    }
}

const struct sylk_request_info *sylk_message_request(sylk_message *m)
{
    return m ? &m->base.request->info : NULL;
}

int sylk_message_respond(sylk_message *m, int status, const char *reason)
{
    if (!m || status < 200 || status > 699)
        return -EINVAL;
    int rc = sylk_pending_answer(&m->base, status, reason);
    message_free(m);
    return rc == -EALREADY ? -ETIMEDOUT : rc;
}

static void outgoing_free(struct sylk_outgoing_message *om)
{
    om->stack->outgoing = g_list_delete_link(om->stack->outgoing, om->link);
    if (om->nh) {
        nua_handle_bind(om->nh, NULL);
        nua_handle_destroy(om->nh);
    }
    g_free(om);
}

int sylk_message_send(const struct sylk_message_params *params)
{
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    struct sylk_message_params copy = {0}, *p = &copy;
    /* Read only what the plugin's SDK version had; later fields stay zero. */
    if (!params || params->struct_size <
                       offsetof(struct sylk_message_params, user_data) + sizeof(params->user_data))
        return -EINVAL;
    memcpy(&copy, params, MIN((size_t)params->struct_size, sizeof(copy)));
    if (!p->from || !p->to || !p->content_type || (p->body_len && !p->body))
        return -EINVAL;
    if (!stack || stack->shutting_down)
        return -ENOTCONN;
    struct sylk_outgoing_message *om = g_new0(struct sylk_outgoing_message, 1);
    om->owner.kind = SYLK_OWNER_MESSAGE_OUT;
    om->stack = stack;
    om->result = p->result;
    om->user_data = p->user_data;
    om->nh = sylk_sip_handle_new(stack, &om->owner, p->request_uri, p->from, p->to);
    if (!om->nh) {
        g_free(om);
        return -EINVAL;
    }
    stack->outgoing = g_list_prepend(stack->outgoing, om);
    om->link = stack->outgoing;
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_payload_t *pl = sip_payload_create(home, p->body, (isize_t)p->body_len);
    sylk_sip_count_request(sip_method_message);
    nua_message(om->nh, SIPTAG_CONTENT_TYPE_STR(p->content_type), SIPTAG_PAYLOAD(pl),
                TAG_IF(p->extra_headers, SIPTAG_HEADER_STR(p->extra_headers)), TAG_END());
    su_home_deinit(home);
    g_debug("MESSAGE to %s from %s sent (%zu bytes %s)", p->to, p->from, p->body_len,
            p->content_type);
    return 0;
}

void sylk_message_on_response(struct sylk_outgoing_message *om, nua_event_t event, int status,
                              const char *phrase)
{
    if (event != nua_r_message || status < 200)
        return;
    if (status >= 300)
        g_info("MESSAGE sent got %d %s", status, phrase);
    if (om->result)
        om->result(status, phrase, om->user_data);
    outgoing_free(om);
}

void sylk_message_free_outgoing(struct sylk_sip_stack *stack)
{
    while (stack->outgoing) {
        struct sylk_outgoing_message *om = stack->outgoing->data;
        if (om->result)
            om->result(503, "Server Shutting Down", om->user_data);
        outgoing_free(om);
    }
}
