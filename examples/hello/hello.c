/*
 * hello — a minimal third-party sylkserver plugin, built out of tree against the installed SDK.
 *
 * What it does
 * ------------
 * - SIP MESSAGE: answers 200 OK, then sends a new MESSAGE back to the sender saying
 *   "Hello, <name>!", where <name> is the display name of the request's From header, or its URI
 *   when there is no display name. The greeting's From is the request's To and its To is the
 *   request's From, so the sender sees the answer coming from the address it wrote to.
 *   Typing notifications (application/im-iscomposing+xml) get 200 and no greeting.
 * - INVITE: rejected with "486 Busy Here (hello plugin)", so a caller can tell this plugin
 *   answered and not the server.
 * - REFER and SUBSCRIBE: not handled (callbacks left NULL), so the server answers 405 / 489.
 *
 * Configuration (optional `hello.ini` beside the server's configuration file)
 * ----------------------------------------------------------------------------
 *     [hello]
 *     greeting = Hello     ; the word before the name
 *
 * Route requests to it with `application_map = hello:hello` in the server's [server] section
 * (a Request-URI user "hello" then reaches the plugin named "hello").
 *
 * How a plugin is put together
 * ----------------------------
 * The only exported symbol is sylk_plugin_entry(), returning one const struct sylk_plugin
 * (filled with SYLK_PLUGIN_INIT so the ABI version fields are right). Everything else is static
 * and the module is compiled with -fvisibility=hidden. The plugin reaches the server only
 * through the `struct sylk_host` table it receives in init(). Every callback runs on the
 * server's main thread and must not block.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sylk/sylk.h>

#define HELLO_DOMAIN "hello"

static const struct sylk_host *host;
static char *greeting;

/* "Display" <uri> with the display name quoted (RFC 3261 quoted-string), or <uri> alone. */
static char *name_addr(const char *display, const char *uri)
{
    char *out = NULL;
    if (display == NULL || display[0] == '\0') {
        if (asprintf(&out, "<%s>", uri) < 0)
            return NULL;
        return out;
    }
    size_t len = strlen(display);
    char *quoted = malloc(2 * len + 1);
    if (quoted == NULL)
        return NULL;
    char *q = quoted;
    for (const char *p = display; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            *q++ = '\\';
        *q++ = *p;
    }
    *q = '\0';
    if (asprintf(&out, "\"%s\" <%s>", quoted, uri) < 0)
        out = NULL;
    free(quoted);
    return out;
}

static void greeting_sent(int status, const char *reason, void *user_data)
{
    (void)user_data;
    host->log(HELLO_DOMAIN, status < 300 ? SYLK_LOG_DEBUG : SYLK_LOG_WARNING,
              "greeting answered %d %s", status, reason != NULL ? reason : "");
}

static void hello_message(sylk_message *message)
{
    const struct sylk_request_info *req = host->message_request(message);
    char *from = NULL, *to = NULL, *body = NULL;

    /* Copy what the greeting needs first: the handle and its strings end with the response. */
    bool composing = req->content_type != NULL &&
                     strcmp(req->content_type, "application/im-iscomposing+xml") == 0;
    if (!composing) {
        const char *who = req->from_display != NULL && req->from_display[0] != '\0'
                              ? req->from_display
                              : req->from_uri;
        from = name_addr(req->to_display, req->to_uri);
        to = name_addr(req->from_display, req->from_uri);
        if (asprintf(&body, "%s, %s!", greeting, who) < 0)
            body = NULL;
        if (from == NULL || to == NULL || body == NULL) {
            host->message_respond(message, 500, "Out of memory");
            goto out;
        }
    }

    host->message_respond(message, 200, "OK");
    if (composing)
        goto out;

    struct sylk_message_params params = {
        .struct_size = sizeof(params),
        .from = from,
        .to = to,
        .content_type = "text/plain",
        .body = body,
        .body_len = strlen(body),
        .result = greeting_sent,
    };
    int rc = host->message_send(&params);
    if (rc < 0)
        host->log(HELLO_DOMAIN, SYLK_LOG_WARNING, "cannot send greeting to %s: %s", to,
                  strerror(-rc));
out:
    free(from);
    free(to);
    free(body);
}

static void hello_session(sylk_session *session)
{
    host->session_reject(session, 486, "Busy Here (hello plugin)");
}

static int hello_init(const struct sylk_host *h, sylk_config *config)
{
    host = h;
    greeting = strdup(host->config_get_string(config, "hello", "greeting", "Hello"));
    if (greeting == NULL)
        return -ENOMEM;
    host->log(HELLO_DOMAIN, SYLK_LOG_INFO, "hello plugin ready (server %s)", host->server_version);
    return 0;
}

static void hello_shutdown(void)
{
    free(greeting);
    greeting = NULL;
}

static const struct sylk_config_option hello_options[] = {
    SYLK_OPTION(.section = "hello", .key = "greeting", .type = SYLK_OPTION_STRING,
                .description = "word put before the sender's name"),
    SYLK_OPTION_END,
};

static const struct sylk_plugin hello_plugin =
    SYLK_PLUGIN_INIT(.name = "hello", .version = "1.0",
                     .description = "greets MESSAGE senders, busy for calls",
                     .config_options = hello_options, .init = hello_init,
                     .shutdown = hello_shutdown, .incoming_session = hello_session,
                     .incoming_sip_message = hello_message);

SYLK_PLUGIN_EXPORT const struct sylk_plugin *sylk_plugin_entry(void)
{
    return &hello_plugin;
}
