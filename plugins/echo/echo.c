/*
 * echo — the echo test application.
 *
 * Audio: answers an INVITE with audio (180, then 200 with the codec the core negotiates) and
 * plays the caller's audio back through the media engine: decoded, delayed by `delay` ms
 * (echo.ini, default 500: long enough to hear yourself after you spoke, short enough to
 * follow), and re-encoded in the caller's codec, with SRTP when the call has it. The call is
 * ended with a BYE after max_call_duration seconds (echo.ini, default 600).
 *
 * Chat over MSRP (a chat stream, alone or with audio, or added to a call by a re-INVITE): each
 * message comes back with the same content type; a CPIM-wrapped one comes back wrapped, From
 * and To swapped.
 *
 * Chat over SIP MESSAGE: a text/plain (or message/cpim wrapping text) MESSAGE is answered 200,
 * then a MESSAGE goes back to the sender, From and To swapped, with the body
 *     Echo:
 *     >> first line
 *     >> second line
 * wrapped in CPIM again when it came wrapped. An empty body gets 400, other types 415.
 *
 * SUBSCRIBE and REFER are not handled (the server answers 405).
 * Thread: every callback runs on the server's main thread.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sylk/sylk.h>

#define ECHO_NAME          "echo"
#define DEFAULT_MAX_CALL_S 600
#define DEFAULT_DELAY_MS   500

static const struct sylk_host *host;
static long max_call_s = DEFAULT_MAX_CALL_S;
static long delay_ms = DEFAULT_DELAY_MS;

struct echo_call {
    sylk_session *session;
    sylk_timer *limit;
};

static void call_limit_reached(sylk_timer *timer, void *user_data)
{
    struct echo_call *call = user_data;
    (void)timer;
    call->limit = NULL; /* one-shot: freed by the host after this returns */
    host->log(ECHO_NAME, SYLK_LOG_INFO, "call %s reached %ld s; hanging up",
              host->session_request(call->session)->call_id, max_call_s);
    host->session_terminate(call->session);
}

static void call_ended(sylk_session *session, int status, const char *reason, void *user_data)
{
    struct echo_call *call = user_data;
    (void)session;
    host->log(ECHO_NAME, SYLK_LOG_DEBUG, "call ended: %d %s", status, reason);
    if (call->limit)
        host->timer_cancel(call->limit);
    g_free(call);
}

static const struct sylk_chat_handler chat_handler;

/* A re-INVITE adding chat to a call: taken, and echoed like chat offered at first. */
static bool stream_added(sylk_session *session, sylk_stream *stream, void *user_data)
{
    (void)session;
    if (host->stream_type(stream) != SYLK_MEDIA_CHAT || !SYLK_HOST_HAS(host, chat_send))
        return false;
    host->chat_set_handler(stream, &chat_handler, user_data);
    return true;
}

static const struct sylk_session_handler call_handler = {
    .struct_size = sizeof(struct sylk_session_handler),
    .ended = call_ended,
    .stream_added = stream_added,
};

/* A chat message goes back as it came: same type, and in CPIM with From and To swapped. */
static void chat_message(sylk_stream *stream, const struct sylk_chat_message *m, void *user_data)
{
    (void)user_data;
    const struct sylk_request_info *req = host->session_request(host->stream_session(stream));
    struct sylk_chat_send_params p = {
        .struct_size = sizeof(p),
        .content_type = m->content_type,
        .body = m->body,
        .body_len = m->body_len,
    };
    g_autofree char *from = NULL;
    if (m->cpim) {
        from = g_strdup_printf("<%s>", req->to_uri);
        p.cpim_from = m->cpim_to ? m->cpim_to : from;
        p.cpim_to = m->cpim_from;
    }
    int rc = host->chat_send(stream, &p);
    if (rc < 0)
        host->log(ECHO_NAME, SYLK_LOG_INFO, "chat echo not sent: %s", g_strerror(-rc));
}

static const struct sylk_chat_handler chat_handler = {
    .struct_size = sizeof(struct sylk_chat_handler),
    .message = chat_message,
};

static void echo_incoming_session(sylk_session *session)
{
    sylk_stream *accept[2] = {NULL, NULL}, *audio = NULL, *chat = NULL;
    for (size_t i = 0; i < host->session_stream_count(session); i++) {
        sylk_stream *st = host->session_stream(session, i);
        if (!audio && host->stream_type(st) == SYLK_MEDIA_AUDIO)
            audio = st;
        else if (!chat && host->stream_type(st) == SYLK_MEDIA_CHAT &&
                 SYLK_HOST_HAS(host, chat_send))
            chat = st;
    }
    if (!audio && !chat) {
        host->session_reject(session, 488, "Not Acceptable Here (echo needs audio or chat)");
        return;
    }
    size_t n = 0;
    if (audio)
        accept[n++] = audio;
    if (chat)
        accept[n++] = chat;
    struct echo_call *call = g_new0(struct echo_call, 1);
    call->session = session;
    host->session_set_handler(session, &call_handler, call);
    host->session_ring(session);
    if (chat)
        host->chat_set_handler(chat, &chat_handler, call);
    int rc = host->session_accept(session, accept, n);
    if (rc < 0) {
        /* No free RTP port: the core answered 503 and says so once per burst. */
        host->log(ECHO_NAME, rc == -EADDRINUSE ? SYLK_LOG_DEBUG : SYLK_LOG_WARNING,
                  "accept failed: %s", g_strerror(-rc));
        return; /* the core answered with an error; ended follows */
    }
    if (audio)
        host->audio_loopback(audio, (unsigned)delay_ms);
    call->limit = host->timer_add((unsigned)max_call_s * 1000, false, call_limit_reached, call);
}

/* "Echo:" then every line of text prefixed with ">> ". */
static char *echo_text(const char *text, size_t len)
{
    g_autofree char *copy = g_strndup(text, len);
    g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
    GString *out = g_string_new("Echo:\n");
    for (unsigned i = 0; lines[i]; i++) {
        g_strchomp(lines[i]); /* drops the \r of CRLF text too */
        if (!lines[i + 1] && !*lines[i])
            break; /* the text's final newline */
        g_string_append_printf(out, ">> %s\n", lines[i]);
    }
    return g_string_free(out, FALSE);
}

/* Message/CPIM (RFC 3862): headers, blank line, MIME headers, blank line, content. */
struct cpim {
    char *from, *to, *content_type;
    const char *content;
    size_t content_len;
};

static const char *skip_block(const char *p, const char *end)
{
    const char *blank = g_strstr_len(p, end - p, "\r\n\r\n");
    if (blank)
        return blank + 4;
    blank = g_strstr_len(p, end - p, "\n\n");
    return blank ? blank + 2 : NULL;
}

static char *header_in(const char *block, const char *block_end, const char *name)
{
    g_autofree char *text = g_strndup(block, block_end - block);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    size_t n = strlen(name);
    for (unsigned i = 0; lines[i]; i++) {
        if (g_ascii_strncasecmp(lines[i], name, n) == 0 && lines[i][n] == ':')
            return g_strstrip(g_strdup(lines[i] + n + 1));
    }
    return NULL;
}

static bool cpim_parse(const char *body, size_t len, struct cpim *out)
{
    const char *end = body + len;
    const char *mime = skip_block(body, end);
    const char *content = mime ? skip_block(mime, end) : NULL;
    if (!content)
        return false;
    out->from = header_in(body, mime, "From");
    out->to = header_in(body, mime, "To");
    out->content_type = header_in(mime, content, "Content-Type");
    out->content = content;
    out->content_len = (size_t)(end - content);
    return out->content_type != NULL;
}

static void cpim_clear(struct cpim *c)
{
    g_free(c->from);
    g_free(c->to);
    g_free(c->content_type);
}

static void echo_sent(int status, const char *reason, void *user_data)
{
    (void)user_data;
    if (status >= 300)
        host->log(ECHO_NAME, SYLK_LOG_INFO, "echoed MESSAGE got %d %s", status, reason);
}

static void send_echo(const struct sylk_request_info *req, const char *content_type,
                      const char *body)
{
    g_autofree char *from = g_strdup_printf("<%s>", req->to_uri);
    g_autofree char *to = g_strdup_printf("<%s>", req->from_uri);
    struct sylk_message_params p = {
        .struct_size = sizeof(p),
        .from = from,
        .to = to,
        .content_type = content_type,
        .body = body,
        .body_len = strlen(body),
        .result = echo_sent,
    };
    int rc = host->message_send(&p);
    if (rc < 0)
        host->log(ECHO_NAME, SYLK_LOG_WARNING, "cannot send echo: %s", g_strerror(-rc));
}

static void echo_incoming_message(sylk_message *message)
{
    const struct sylk_request_info *req = host->message_request(message);
    const char *type = req->content_type ? req->content_type : "";
    if (!req->body || req->body_len == 0) {
        host->message_respond(message, 400, "Missing Body");
        return;
    }
    if (g_str_has_prefix(req->body, "Echo:\n")) {
        /* An echo of ours routed back to us: answering it again would loop forever. */
        host->message_respond(message, 200, "OK");
        return;
    }
    if (g_ascii_strcasecmp(type, "text/plain") == 0) {
        g_autofree char *reply = echo_text(req->body, req->body_len);
        send_echo(req, "text/plain", reply);
        host->message_respond(message, 200, "OK"); /* req is invalid from here on */
        return;
    }
    if (g_ascii_strcasecmp(type, "message/cpim") != 0) {
        host->message_respond(message, 415, "Unsupported Media Type");
        return;
    }
    struct cpim cpim = {0};
    if (!cpim_parse(req->body, req->body_len, &cpim) ||
        g_ascii_strncasecmp(cpim.content_type, "text/", 5) != 0) {
        host->message_respond(message, 415, "Unsupported Media Type (CPIM must wrap text)");
        cpim_clear(&cpim);
        return;
    }
    g_autofree char *text = echo_text(cpim.content, cpim.content_len);
    g_autofree char *wrapped = g_strdup_printf(
        "From: %s\r\nTo: %s\r\n\r\nContent-Type: %s\r\n\r\n%s", cpim.to ? cpim.to : req->to_uri,
        cpim.from ? cpim.from : req->from_uri, cpim.content_type, text);
    send_echo(req, "message/cpim", wrapped);
    host->message_respond(message, 200, "OK"); /* req is invalid from here on */
    cpim_clear(&cpim);
}

static int echo_init(const struct sylk_host *h, sylk_config *config)
{
    host = h;
    max_call_s = host->config_get_int(config, "echo", "max_call_duration", DEFAULT_MAX_CALL_S);
    delay_ms = host->config_get_int(config, "echo", "delay", DEFAULT_DELAY_MS);
    host->log(ECHO_NAME, SYLK_LOG_INFO, "echo ready (max_call_duration %ld s, delay %ld ms)",
              max_call_s, delay_ms);
    return 0;
}

static const struct sylk_config_option echo_options[] = {
    SYLK_OPTION(.section = "echo", .key = "max_call_duration", .type = SYLK_OPTION_INT, .min = 1,
                .max = 86400, .description = "seconds after which a call is ended"),
    SYLK_OPTION(.section = "echo", .key = "delay", .type = SYLK_OPTION_INT, .min = 0, .max = 10000,
                .description = "milliseconds before the caller hears itself"),
    SYLK_OPTION_END,
};

static const struct sylk_plugin echo_plugin =
    SYLK_PLUGIN_INIT(.name = ECHO_NAME, .version = "1.0",
                     .description = "echo test: audio loopback and "
                                    "MESSAGE echo",
                     .config_options = echo_options, .init = echo_init,
                     .incoming_session = echo_incoming_session,
                     .incoming_sip_message = echo_incoming_message);

SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void)
{
    return &echo_plugin;
}
