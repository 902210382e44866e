/*
 * message.h — SIP MESSAGE: received ones wait for the plugin's response (deferred with
 * nua_save_event), sent ones report their final response. Main thread.
 */
#ifndef SYLK_MESSAGE_H
#define SYLK_MESSAGE_H

#include "sip/stack.h"

#include <sofia-sip/sip.h>
#include <sylk/host.h>

struct sylk_request;
struct sylk_loaded_plugin;
struct sylk_outgoing_message;

/** An out-of-dialog MESSAGE routed to `plugin`; takes `req`. */
void sylk_message_incoming(struct sylk_sip_stack *stack, nua_t *nua, nua_handle_t *nh,
                           struct sylk_request *req, const struct sylk_loaded_plugin *plugin);
/** A MESSAGE inside a session's dialog: given to the session's plugin. */
void sylk_message_incoming_in_dialog(struct sylk_sip_stack *stack, struct sylk_session *session,
                                     nua_t *nua, const sip_t *sip);
/** A response to a MESSAGE we sent. */
void sylk_message_on_response(struct sylk_outgoing_message *om, nua_event_t event, int status,
                              const char *phrase);
/** Shutdown: 503 to every MESSAGE still waiting for its plugin (handles stay valid). */
void sylk_message_abort_all(struct sylk_sip_stack *stack);
/** After the plugins stopped: frees every received MESSAGE left. */
void sylk_message_free_all(struct sylk_sip_stack *stack);
/** A session is going away: MESSAGEs received in its dialog lose their handle. */
void sylk_message_session_gone(struct sylk_sip_stack *stack, struct sylk_session *session);
/** Frees what is left of outgoing messages once nua is gone. */
void sylk_message_free_outgoing(struct sylk_sip_stack *stack);

const struct sylk_request_info *sylk_message_request(sylk_message *m);
int sylk_message_respond(sylk_message *m, int status, const char *reason);
int sylk_message_send(const struct sylk_message_params *p);

#endif
