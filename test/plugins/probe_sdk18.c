/*
 * probe_sdk18.c — the probe's SDK 1.8 parts, logged under "plugin-probe":
 *
 *   INVITE to sip:nickprobe@… with chat, and X-Nickname: N1,N2,… → answered (a=chatroom
 *       nickname); once established, a NICKNAME for each name in order ("nickname send N: RC"),
 *       each outcome logged "nickname result N: STATUS"; also logged: what a 300-byte name, a
 *       NULL one and a NULL stream get ("nickname bad: LONG NULL STREAM").
 *   MESSAGE with X-Probe: refer TAG TO REFER-TO [REFERRED-BY] → a REFER from the MESSAGE's
 *       Request-URI to TO ("refer TAG: sent|refused"), its NOTIFYs logged "refer TAG progress
 *       STATUS REASON" and its end "refer TAG ended STATUS REASON"; X-Probe: refer-cancel TAG
 *       → "refer-cancel TAG: 0" (no callback after it).
 *
 * Main thread only.
 */
#include "probe_sdk18.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

static const struct sylk_host *host;

#define LOG(...) host->log("probe", SYLK_LOG_INFO, __VA_ARGS__)

/* ---------------------------------------------------------------- nicknames --- */

static void nickname_result(sylk_stream *stream, void *token, int status, void *ud)
{
    (void)stream;
    (void)ud;
    LOG("nickname result %s: %d", (const char *)token, status);
    g_free(token);
}

static const struct sylk_chat_handler nick_chat = {
    .struct_size = sizeof(struct sylk_chat_handler),
    .nickname_result = nickname_result,
};

static sylk_stream *chat_of(sylk_session *session)
{
    for (size_t i = 0; i < host->session_stream_count(session); i++) {
        if (host->stream_type(host->session_stream(session, i)) == SYLK_MEDIA_CHAT)
            return host->session_stream(session, i);
    }
    return NULL;
}

static void nick_established(sylk_session *session, void *ud)
{
    (void)ud;
    sylk_stream *chat = chat_of(session);
    char long_name[301];
    memset(long_name, 'x', 300);
    long_name[300] = '\0';
    LOG("nickname bad: %d %d %d", host->chat_send_nickname(chat, long_name, NULL),
        host->chat_send_nickname(chat, NULL, NULL), host->chat_send_nickname(NULL, "x", NULL));
    const char *names = host->request_header(host->session_request(session), "X-Nickname");
    g_auto(GStrv) list = g_strsplit(names ? names : "", ",", 0);
    for (char **n = list; *n; n++) {
        char *token = g_strdup(*n);
        int rc = host->chat_send_nickname(chat, *n, token);
        LOG("nickname send %s: %d", *n, rc);
        if (rc < 0)
            g_free(token);
    }
}

static const struct sylk_session_handler nick_session = {
    .struct_size = sizeof(struct sylk_session_handler),
    .established = nick_established,
};

bool probe_sdk18_session(const struct sylk_host *h, sylk_session *session, const char *user)
{
    host = h;
    if (strcmp(user, "nickprobe") != 0)
        return false;
    sylk_stream *chat = chat_of(session);
    if (!chat) {
        LOG("session reject: %d", host->session_reject(session, 488, "Chat Only"));
        return true;
    }
    host->chat_set_handler(chat, &nick_chat, NULL);
    host->stream_set_local_attribute(chat, "chatroom", "nickname");
    host->session_set_handler(session, &nick_session, NULL);
    LOG("session accept: %d", host->session_accept(session, &chat, 1));
    return true;
}

/* ---------------------------------------------------------------- refer --- */

static GHashTable *refers; /* tag → sylk_outgoing_referral * */

static void refer_progress(sylk_outgoing_referral *ref, int status, const char *reason, void *ud)
{
    (void)ref;
    LOG("refer %s progress %d %s", (const char *)ud, status, reason ? reason : "-");
}

static void refer_ended(sylk_outgoing_referral *ref, int status, const char *reason, void *ud)
{
    (void)ref;
    LOG("refer %s ended %d %s", (const char *)ud, status, reason ? reason : "-");
    g_hash_table_remove(refers, ud); /* frees the tag */
}

static const struct sylk_outgoing_referral_handler refer_handler = {
    .struct_size = sizeof(struct sylk_outgoing_referral_handler),
    .progress = refer_progress,
    .ended = refer_ended,
};

/* words: TAG TO REFER-TO [REFERRED-BY] */
static void refer_probe(char **words, const struct sylk_request_info *request)
{
    if (g_strv_length(words) < 3 || g_hash_table_contains(refers, words[0])) {
        LOG("refer: bad X-Probe");
        return;
    }
    char *tag = g_strdup(words[0]);
    struct sylk_refer_params p = {
        .struct_size = sizeof(p),
        .from = request->request_uri,
        .to = words[1],
        .refer_to = words[2],
        .referred_by = words[3],
        .extra_headers = "X-Probe: referrer\r\n",
        .handler = &refer_handler,
        .user_data = tag,
    };
    sylk_outgoing_referral *ref = host->refer(&p);
    LOG("refer %s: %s", tag, ref ? "sent" : "refused");
    if (ref)
        g_hash_table_insert(refers, tag, ref);
    else
        g_free(tag);
}

bool probe_sdk18_command(const struct sylk_host *h, const char *command,
                         const struct sylk_request_info *request)
{
    host = h;
    if (!SYLK_HOST_HAS(h, refer_cancel)) {
        LOG("host ABI %u.%u lacks the 1.8 functions", h->abi_major, h->abi_minor);
        return false;
    }
    if (!refers)
        refers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) words = g_strsplit(command, " ", 0);
    if (strcmp(words[0], "refer") == 0) {
        refer_probe(words + 1, request);
    } else if (strcmp(words[0], "refer-cancel") == 0 && words[1]) {
        sylk_outgoing_referral *ref = g_hash_table_lookup(refers, words[1]);
        if (ref) {
            host->refer_cancel(ref);
            g_hash_table_remove(refers, words[1]);
        }
        LOG("refer-cancel %s: %d", words[1], ref ? 0 : -ENOENT);
    } else {
        return false;
    }
    return true;
}

void probe_sdk18_shutdown(void)
{
    if (refers) /* empty: the core ended every REFER before the plugins' shutdown */
        g_hash_table_destroy(refers);
    refers = NULL;
}
