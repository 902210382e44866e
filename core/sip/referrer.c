/*
 * referrer.c — the referrer side of REFER. See referrer.h.
 *
 * nua does the protocol: nua_refer adds Event: refer, a Referred-By from the From when the
 * plugin gives none, and the implicit subscription whose NOTIFYs it answers 200 itself (NOTIFY
 * is not in our NUTAG_APPL_METHOD) and reports as nua_i_notify. What nua leaves to us: reading
 * the sipfrag, ending on the final status, and not waiting forever for a NOTIFY (a notifier
 * that accepted the REFER and went silent: RFC 3515 only bounds the subscription by Expires).
 */
#define G_LOG_DOMAIN "sylk-referrer"
#include "sip/referrer.h"

#include <errno.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REASON 128

struct sylk_outgoing_referral {
    struct sylk_owner owner; /* first: what the nua handle is bound to */
    struct sylk_sip_stack *stack;
    nua_handle_t *nh;
    char *what; /* "sip:bob@example.com to sip:room@example.com", for logs */
    struct sylk_outgoing_referral_handler handler;
    void *user_data;
    bool ending; /* `ended` is being reported */
    guint wait;  /* until the next NOTIFY */
};

static void stop_wait(struct sylk_outgoing_referral *ref)
{
    if (ref->wait)
        g_source_remove(ref->wait);
    ref->wait = 0;
}

/* Destroying the handle drops the implicit subscription: later NOTIFYs get 481 from nua. */
static void referral_free(struct sylk_outgoing_referral *ref)
{
    stop_wait(ref);
    ref->stack->referrers = g_list_remove(ref->stack->referrers, ref);
    nua_handle_bind(ref->nh, NULL);
    nua_handle_destroy(ref->nh);
    g_free(ref->what);
    g_free(ref);
}

/* Tells the plugin (once), then frees. */
static void end(struct sylk_outgoing_referral *ref, int status, const char *reason)
{
    if (ref->ending)
        return;
    ref->ending = true;
    stop_wait(ref);
    g_info("REFER of %s ended: %d %s", ref->what, status, reason ? reason : "");
    if (ref->handler.ended)
        ref->handler.ended(ref, status, reason, ref->user_data);
    referral_free(ref);
}

static gboolean wait_fired(gpointer data)
{
    struct sylk_outgoing_referral *ref = data;
    ref->wait = 0;
    g_info("REFER of %s: no NOTIFY within %d s", ref->what, SYLK_REFERRER_WAIT_S);
    end(ref, 408, "No NOTIFY");
    return G_SOURCE_REMOVE;
}

static void rearm_wait(struct sylk_outgoing_referral *ref)
{
    stop_wait(ref);
    ref->wait = g_timeout_add_seconds(SYLK_REFERRER_WAIT_S, wait_fired, ref);
}

/* RFC 3420: the body is a SIP message fragment; its first line is the status line. */
int sylk_referrer_parse_sipfrag(const char *body, size_t len, char *reason, size_t reason_size)
{
    static const char version[] = "SIP/2.0 ";
    size_t vlen = sizeof(version) - 1;
    if (!body || len < vlen + 3 || g_ascii_strncasecmp(body, version, vlen) != 0)
        return 0;
    const char *p = body + vlen, *end = body + len;
    int status = 0;
    size_t digits = 0;
    for (; p < end && g_ascii_isdigit(*p) && digits < 4; p++, digits++)
        status = status * 10 + (*p - '0');
    if (digits != 3 || status < 100 || status > 699 || (p < end && *p != ' ' && *p != '\r'))
        return 0;
    while (p < end && *p == ' ')
        p++;
    const char *eol = p;
    while (eol < end && *eol != '\r' && *eol != '\n')
        eol++;
    if (reason && reason_size)
        g_strlcpy(reason, p, MIN(reason_size, (size_t)(eol - p) + 1));
    return status;
}

/* A NOTIFY nua answered (sip set), or nua's word that the subscription is over (sip NULL). */
static void on_notify(struct sylk_outgoing_referral *ref, int status, const char *phrase,
                      const sip_t *sip, tagi_t tags[])
{
    int substate = nua_substate_active;
    tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
    if (!sip) {
        end(ref, 200, phrase);
        return;
    }
    if (status >= 300) { /* nua refused it (a forked NOTIFY: 481); not ours to see */
        g_debug("REFER of %s: NOTIFY answered %d by nua", ref->what, status);
        return;
    }
    rearm_wait(ref);
    const sip_payload_t *pl = sip->sip_payload;
    const sip_content_type_t *ct = sip->sip_content_type;
    char reason[MAX_REASON] = "";
    int frag = 0;
    if (pl && ct && ct->c_type && g_ascii_strcasecmp(ct->c_type, "message/sipfrag") == 0)
        frag = sylk_referrer_parse_sipfrag(pl->pl_data, pl->pl_len, reason, sizeof(reason));
    const sip_subscription_state_t *ss = sip->sip_subscription_state;
    bool terminated =
        substate == nua_substate_terminated ||
        (ss && ss->ss_substate && g_ascii_strcasecmp(ss->ss_substate, "terminated") == 0);
    if (frag) {
        g_debug("REFER of %s: NOTIFY %d %s", ref->what, frag, reason);
        if (ref->handler.progress)
            ref->handler.progress(ref, frag, reason, ref->user_data);
        if (ref->ending) /* cancelled inside progress */
            return;
    } else if (pl && pl->pl_len) {
        g_info("REFER of %s: NOTIFY without a sipfrag status line: ignored", ref->what);
    }
    if (frag >= 200)
        end(ref, frag, reason);
    else if (terminated)
        end(ref, 200, ss && ss->ss_reason ? ss->ss_reason : "Subscription Terminated");
}

static void on_refer_answer(struct sylk_outgoing_referral *ref, int status, const char *phrase)
{
    if (status < 200)
        return;
    if (status >= 300) {
        end(ref, status, phrase);
        return;
    }
    g_info("REFER of %s accepted: %d %s", ref->what, status, phrase);
    if (!ref->wait)
        rearm_wait(ref); /* unless a NOTIFY came first and started it */
}

void sylk_referrer_on_event(struct sylk_outgoing_referral *ref, nua_event_t event, int status,
                            const char *phrase, const sip_t *sip, tagi_t tags[])
{
    if (ref->ending)
        return;
    switch (event) {
    case nua_i_notify:
        on_notify(ref, status, phrase, sip, tags);
        return;
    case nua_r_refer:
        on_refer_answer(ref, status, phrase);
        return;
    default:
        return;
    }
}

void sylk_referrer_end_all(struct sylk_sip_stack *stack)
{
    while (stack->referrers)
        end(stack->referrers->data, 503, "Server Shutting Down");
}

/* A bare URI's parameters (";method=BYE") stay the URI's (RFC 4579 puts the method there),
 * as sylk_sip_handle_new does for From and To. */
static char *name_addr(const char *address)
{
    return strchr(address, '<') ? g_strdup(address) : g_strdup_printf("<%s>", address);
}

static bool header_ok(su_home_t *home, const char *value, bool referred_by)
{
    if (strpbrk(value, "\r\n"))
        return false;
    return referred_by ? sip_referred_by_make(home, value) != NULL
                       : sip_refer_to_make(home, value) != NULL;
}

sylk_outgoing_referral *sylk_referrer_refer(const struct sylk_refer_params *params)
{
    struct sylk_sip_stack *stack = sylk_sip_stack_get();
    struct sylk_refer_params p = {0};
    /* Read only what the plugin's SDK version had; later fields stay zero. */
    if (!params || params->struct_size <
                       offsetof(struct sylk_refer_params, user_data) + sizeof(params->user_data))
        return NULL;
    memcpy(&p, params, MIN((size_t)params->struct_size, sizeof(p)));
    if (!p.from || !p.to || !p.refer_to || !p.refer_to[0] || !p.handler ||
        p.handler->struct_size < sizeof(uint32_t))
        return NULL;
    g_autofree char *refer_to = name_addr(p.refer_to);
    g_autofree char *referred_by = p.referred_by ? name_addr(p.referred_by) : NULL;
    su_home_t home[1] = {SU_HOME_INIT(home)};
    bool ok =
        header_ok(home, refer_to, false) && (!referred_by || header_ok(home, referred_by, true));
    su_home_deinit(home);
    if (!ok) {
        g_warning("REFER to %s not sent: bad Refer-To '%s' or Referred-By '%s'", p.to, p.refer_to,
                  p.referred_by ? p.referred_by : "");
        return NULL;
    }
    if (!stack || stack->shutting_down) {
        g_info("REFER to %s not sent: the server is shutting down", p.to);
        return NULL;
    }
    struct sylk_outgoing_referral *ref = g_new0(struct sylk_outgoing_referral, 1);
    ref->owner.kind = SYLK_OWNER_REFERRER;
    ref->stack = stack;
    memcpy(&ref->handler, p.handler, MIN((size_t)p.handler->struct_size, sizeof(ref->handler)));
    ref->user_data = p.user_data;
    ref->nh = sylk_sip_handle_new(stack, &ref->owner, p.request_uri, p.from, p.to);
    if (!ref->nh) {
        g_free(ref);
        return NULL;
    }
    ref->what = g_strdup_printf("%s to %s", p.refer_to, p.to);
    stack->referrers = g_list_prepend(stack->referrers, ref);
    sylk_sip_count_request(sip_method_refer);
    nua_refer(ref->nh, SIPTAG_REFER_TO_STR(refer_to),
              TAG_IF(referred_by, SIPTAG_REFERRED_BY_STR(referred_by)),
              TAG_IF(p.extra_headers, SIPTAG_HEADER_STR(p.extra_headers)), TAG_END());
    g_debug("REFER of %s from %s sent", ref->what, p.from);
    return ref;
}

void sylk_referrer_cancel(sylk_outgoing_referral *ref)
{
    if (!ref || ref->ending)
        return;
    g_debug("REFER of %s cancelled by its plugin", ref->what);
    ref->ending = true;
    referral_free(ref);
}
