/*
 * session.h — INVITE dialogs: incoming offers handed to a plugin, answers built by the core,
 * late offers, re-INVITEs, BYE/CANCEL, outgoing INVITEs, and the RTP sockets of their audio
 * streams. Main thread. Made of parts (session.c the dialog, and the parts session_internal.h
 * lists).
 *
 * Lifetime: a session lives from the INVITE until nua reports the call terminated; then the
 * plugin's `ended` runs, the handle is unbound and destroyed, and the session is freed.
 */
#ifndef SYLK_SESSION_H
#define SYLK_SESSION_H

#include "sip/stack.h"

#include <sofia-sip/sip.h>
#include <sylk/host.h>

struct sylk_request;
struct sylk_loaded_plugin;

/** A new INVITE routed to `plugin`; takes ownership of `req`. */
void sylk_session_incoming(struct sylk_sip_stack *stack, nua_handle_t *nh, const sip_t *sip,
                           struct sylk_request *req, const struct sylk_loaded_plugin *plugin);

/** An event on a handle bound to a session. */
void sylk_session_on_event(struct sylk_session *s, nua_event_t event, int status,
                           const char *phrase, nua_t *nua, const sip_t *sip, tagi_t tags[]);

/** Shutdown: 503 to unanswered sessions, BYE to the others. */
void sylk_session_terminate_all(struct sylk_sip_stack *stack);
/** After nua_shutdown: end (and report) every session nua did not terminate. */
void sylk_session_drop_all(struct sylk_sip_stack *stack);

/** The plugin owning a session (NULL for sessions the server originated). */
const struct sylk_loaded_plugin *sylk_session_plugin(const struct sylk_session *s);
nua_handle_t *sylk_session_handle(const struct sylk_session *s);

/* The SDK functions (see sylk/host.h for their contracts). */
const struct sylk_request_info *sylk_session_request(sylk_session *s);
void sylk_session_set_handler(sylk_session *s, const struct sylk_session_handler *h, void *ud);
void *sylk_session_user_data(sylk_session *s);
size_t sylk_session_stream_count(sylk_session *s);
sylk_stream *sylk_session_stream(sylk_session *s, size_t index);
int sylk_session_ring(sylk_session *s);
int sylk_session_accept(sylk_session *s, sylk_stream *const *streams, size_t count);
int sylk_session_reject(sylk_session *s, int status, const char *reason);
int sylk_session_set_focus(sylk_session *s);
int sylk_session_terminate(sylk_session *s);
sylk_session *sylk_session_connect(const struct sylk_session_params *params);
enum sylk_media_type sylk_stream_type(sylk_stream *st);
enum sylk_direction sylk_stream_direction(sylk_stream *st);
sylk_session *sylk_stream_session(sylk_stream *st);
const char *sylk_stream_codec(sylk_stream *st);
int sylk_stream_audio_loopback(sylk_stream *st, unsigned delay_ms);
/**
 * The RTP stream behind an accepted audio stream: 0 and `*out`, -EINVAL for another kind of
 * stream, -ENOTCONN when it has no RTP (not accepted, refused, ended).
 */
struct sylk_rtp_socket;
int sylk_stream_rtp(sylk_stream *st, struct sylk_rtp_socket **out);
void sylk_stream_chat_set_handler(sylk_stream *st, const struct sylk_chat_handler *h, void *ud);
int sylk_stream_chat_send(sylk_stream *st, const struct sylk_chat_send_params *params);
int sylk_stream_chat_refuse(sylk_stream *st, int status);
bool sylk_stream_enabled(sylk_stream *st);
const char *sylk_stream_remote_attribute(sylk_stream *st, const char *name);
int sylk_stream_set_local_attribute(sylk_stream *st, const char *name, const char *value);
int sylk_stream_chat_send_composing(sylk_stream *st, const struct sylk_chat_composing *composing);
int sylk_stream_chat_send_nickname(sylk_stream *st, const char *nickname, void *token);
int sylk_stream_file_info(sylk_stream *st, struct sylk_file_info *info);
int sylk_stream_file_receive(sylk_stream *st, const char *path, const struct sylk_file_handler *h,
                             void *user_data);
int sylk_stream_file_send(sylk_stream *st, const char *path, const struct sylk_file_handler *h,
                          void *user_data);

#endif
