/*
 * probe_endpoint.c — the probe's SDK 1.8 media endpoints, logged under "plugin-probe":
 *
 *   MESSAGE with X-Probe: endpoint-answer TAG and an SDP offer as body → a new endpoint
 *       answers it: "endpoint TAG answer: RC port PORT codec CODEC" (RC alone on failure).
 *   X-Probe: endpoint-offer TAG → a new endpoint's offer: "endpoint TAG offer: RC port PORT
 *       formats PT PT…"; X-Probe: endpoint-set-answer TAG with the SDP answer as body →
 *       "endpoint TAG set-answer: RC codec CODEC".
 *   X-Probe: endpoint-again TAG with an SDP body → what a second answer and a second offer
 *       get: "endpoint TAG again: RC RC".
 *   X-Probe: endpoint-free TAG → its mixer and the endpoint freed: "endpoint TAG freed".
 *   INVITE to sip:epbridge-TAG@… with audio → accepted, its audio and endpoint TAG's stream
 *       in a new 2-participant mixer: "epbridge TAG: mixer add RC RC, N participants".
 *
 * Main thread only.
 */
#include "probe_endpoint.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

static const struct sylk_host *host;
static GHashTable *endpoints; /* TAG → struct probe_ep */

#define LOG(...) host->log("probe", SYLK_LOG_INFO, __VA_ARGS__)

struct probe_ep {
    sylk_media_endpoint *ep;
    sylk_mixer *mixer; /* the bridge with a call, or NULL */
};

static void probe_ep_free(gpointer p)
{
    struct probe_ep *pe = p;
    host->mixer_free(pe->mixer);
    host->media_endpoint_free(pe->ep);
    g_free(pe);
}

static void ep_dtmf(sylk_media_endpoint *ep, char digit, unsigned duration_ms, void *ud)
{
    (void)ep;
    LOG("endpoint %s dtmf %c %u ms", (const char *)ud, digit, duration_ms);
}

static void ep_timeout(sylk_media_endpoint *ep, void *ud)
{
    (void)ep;
    LOG("endpoint %s timeout", (const char *)ud);
}

static const struct sylk_media_endpoint_handler ep_handler = {
    .struct_size = sizeof(struct sylk_media_endpoint_handler),
    .dtmf = ep_dtmf,
    .timeout = ep_timeout,
};

/* The value of "m=audio PORT PROTO FORMATS" in an SDP text: port and formats. */
static unsigned audio_line(const char *sdp, char *formats, size_t size)
{
    const char *m = sdp ? strstr(sdp, "m=audio ") : NULL;
    unsigned port = 0;
    formats[0] = '\0';
    if (!m || sscanf(m, "m=audio %u", &port) != 1)
        return 0;
    const char *f = strchr(m + 8, ' ');
    f = f ? strchr(f + 1, ' ') : NULL;
    if (f)
        g_strlcpy(formats, f + 1, MIN(size, strcspn(f + 1, "\r\n") + 1));
    return port;
}

static struct probe_ep *new_ep(const char *tag)
{
    struct probe_ep *pe = g_new0(struct probe_ep, 1);
    char *key = g_strdup(tag);
    pe->ep = host->media_endpoint_new(&ep_handler, key);
    g_hash_table_replace(endpoints, key, pe);
    return pe;
}

static void answer(const char *tag, const struct sylk_request_info *request)
{
    struct probe_ep *pe = new_ep(tag);
    g_autofree char *offer = g_strndup(request->body, request->body_len);
    const char *sdp = NULL;
    int rc = host->media_endpoint_answer(pe->ep, offer, &sdp);
    char formats[64];
    if (rc == 0)
        LOG("endpoint %s answer: %d port %u codec %s", tag, rc,
            audio_line(sdp, formats, sizeof(formats)),
            host->stream_codec(host->media_endpoint_stream(pe->ep)));
    else
        LOG("endpoint %s answer: %d", tag, rc);
}

static void offer(const char *tag)
{
    struct probe_ep *pe = new_ep(tag);
    const char *sdp = NULL;
    int rc = host->media_endpoint_offer(pe->ep, &sdp);
    char formats[64];
    unsigned port = rc == 0 ? audio_line(sdp, formats, sizeof(formats)) : 0;
    LOG("endpoint %s offer: %d port %u formats %s", tag, rc, port, rc == 0 ? formats : "");
}

static void with_body(const char *what, const char *tag, const struct sylk_request_info *request)
{
    struct probe_ep *pe = g_hash_table_lookup(endpoints, tag);
    if (!pe) {
        LOG("endpoint %s %s: %d", tag, what, -ENOENT);
        return;
    }
    g_autofree char *body = g_strndup(request->body, request->body_len);
    if (strcmp(what, "set-answer") == 0) {
        int rc = host->media_endpoint_set_answer(pe->ep, body);
        const char *codec = host->stream_codec(host->media_endpoint_stream(pe->ep));
        LOG("endpoint %s set-answer: %d codec %s", tag, rc, codec ? codec : "none");
        return;
    }
    const char *sdp;
    LOG("endpoint %s again: %d %d", tag, host->media_endpoint_answer(pe->ep, body, &sdp),
        host->media_endpoint_offer(pe->ep, &sdp));
}

bool probe_endpoint_command(const struct sylk_host *h, const char *command,
                            const struct sylk_request_info *request)
{
    host = h;
    if (!g_str_has_prefix(command, "endpoint-") || !SYLK_HOST_HAS(h, media_endpoint_free))
        return false;
    if (!endpoints)
        endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, probe_ep_free);
    g_auto(GStrv) words = g_strsplit(command, " ", 0);
    const char *tag = words[1];
    if (!tag) {
        LOG("endpoint: bad X-Probe");
    } else if (strcmp(words[0], "endpoint-answer") == 0) {
        answer(tag, request);
    } else if (strcmp(words[0], "endpoint-offer") == 0) {
        offer(tag);
    } else if (strcmp(words[0], "endpoint-set-answer") == 0) {
        with_body("set-answer", tag, request);
    } else if (strcmp(words[0], "endpoint-again") == 0) {
        with_body("again", tag, request);
    } else if (strcmp(words[0], "endpoint-free") == 0) {
        g_hash_table_remove(endpoints, tag);
        LOG("endpoint %s freed", tag);
    }
    return true;
}

bool probe_endpoint_session(const struct sylk_host *h, sylk_session *session, const char *user)
{
    host = h;
    if (!g_str_has_prefix(user, "epbridge-"))
        return false;
    const char *tag = user + strlen("epbridge-");
    struct probe_ep *pe = endpoints ? g_hash_table_lookup(endpoints, tag) : NULL;
    if (!pe) {
        LOG("epbridge %s: no such endpoint", tag);
        host->session_reject(session, 404, "No Such Endpoint");
        return true;
    }
    sylk_stream *audio = host->session_stream(session, 0);
    int rc = host->session_accept(session, &audio, 1);
    if (rc < 0) {
        LOG("epbridge %s: accept %d", tag, rc);
        return true;
    }
    host->mixer_free(pe->mixer);
    pe->mixer = host->mixer_new(0);
    int a = host->mixer_add(pe->mixer, audio);
    int b = host->mixer_add(pe->mixer, host->media_endpoint_stream(pe->ep));
    LOG("epbridge %s: mixer add %d %d, %zu participants", tag, a, b, host->mixer_count(pe->mixer));
    return true;
}

void probe_endpoint_shutdown(void)
{
    if (endpoints)
        g_hash_table_destroy(endpoints);
    endpoints = NULL;
}
