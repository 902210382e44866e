/*
 * test_xmpp_jingle.c — plugins/xmppgw/jingle_sdp.c: a Jingle RTP audio content with a raw-UDP
 * transport (XEP-0167, XEP-0177) as an SDP offer, and an SDP answer as the session-accept's
 * content (the initiator's creator and name echoed, same payload ids, generation and id on
 * every candidate, opus with two channels); ICE-UDP host candidates both ways; other
 * transports and descriptions refused.
 */
#include "jingle_sdp.h"

#include <glib.h>
#include <string.h>

static struct xmpp_node *payload(struct xmpp_node *desc, const char *id, const char *name,
                                 const char *clock, const char *channels)
{
    struct xmpp_node *pt = xmpp_node_add_element(desc, XGW_NS_JINGLE_RTP, "payload-type");
    xmpp_node_set_attr(pt, "id", id);
    xmpp_node_set_attr(pt, "name", name);
    xmpp_node_set_attr(pt, "clockrate", clock);
    if (channels)
        xmpp_node_set_attr(pt, "channels", channels);
    return pt;
}

/* <content creator='initiator' name='voice'> with opus, PCMU, telephone-event; transport ns */
static struct xmpp_node *content(const char *transport_ns)
{
    struct xmpp_node *c = xmpp_node_new(XGW_NS_JINGLE, "content");
    xmpp_node_set_attr(c, "creator", "initiator");
    xmpp_node_set_attr(c, "name", "voice");
    struct xmpp_node *d = xmpp_node_add_element(c, XGW_NS_JINGLE_RTP, "description");
    xmpp_node_set_attr(d, "media", "audio");
    struct xmpp_node *opus = payload(d, "111", "opus", "48000", "2");
    struct xmpp_node *p = xmpp_node_add_element(opus, XGW_NS_JINGLE_RTP, "parameter");
    xmpp_node_set_attr(p, "name", "useinbandfec");
    xmpp_node_set_attr(p, "value", "1");
    payload(d, "0", "PCMU", "8000", NULL);
    payload(d, "101", "telephone-event", "8000", NULL);
    struct xmpp_node *t = xmpp_node_add_element(c, transport_ns, "transport");
    struct xmpp_node *cand = xmpp_node_add_element(t, transport_ns, "candidate");
    xmpp_node_set_attr(cand, "component", "1");
    xmpp_node_set_attr(cand, "generation", "0");
    xmpp_node_set_attr(cand, "id", "a1");
    xmpp_node_set_attr(cand, "ip", "127.0.0.1");
    xmpp_node_set_attr(cand, "port", "40000");
    return c;
}

static void offer_from_raw_udp(void)
{
    struct xmpp_node *c = content(XGW_NS_JINGLE_RAW_UDP);
    char *sdp = NULL;
    g_assert_cmpint(xgw_jingle_to_sdp(c, &sdp), ==, 0);
    g_assert_nonnull(strstr(sdp, "c=IN IP4 127.0.0.1\r\n"));
    g_assert_nonnull(strstr(sdp, "m=audio 40000 RTP/AVP 111 0 101\r\n"));
    g_assert_nonnull(strstr(sdp, "a=rtpmap:111 opus/48000/2\r\n"));
    g_assert_nonnull(strstr(sdp, "a=fmtp:111 useinbandfec=1\r\n"));
    g_assert_nonnull(strstr(sdp, "a=rtpmap:101 telephone-event/8000\r\n"));
    g_free(sdp);
    xmpp_node_free(c);
}

static struct xmpp_node *ice_candidate(struct xmpp_node *t, const char *component, const char *type,
                                       const char *protocol, const char *priority, const char *ip,
                                       const char *port)
{
    struct xmpp_node *cand = xmpp_node_add_element(t, XGW_NS_JINGLE_ICE_UDP, "candidate");
    const char *attrs[][2] = {{"component", component},
                              {"foundation", "1"},
                              {"generation", "0"},
                              {"id", "x"},
                              {"ip", ip},
                              {"port", port},
                              {"priority", priority},
                              {"protocol", protocol},
                              {"type", type}};
    for (size_t i = 0; i < G_N_ELEMENTS(attrs); i++)
        xmpp_node_set_attr(cand, attrs[i][0], attrs[i][1]);
    return cand;
}

/* ICE-UDP: the UDP host candidate of each component is the address (relay and TCP ones are not
 * used, a higher priority does not beat a host candidate); the answer's transport is ICE-UDP
 * with ufrag, pwd and host candidates. */
static void ice_host_candidates(void)
{
    struct xmpp_node *c = xmpp_node_new(XGW_NS_JINGLE, "content");
    xmpp_node_set_attr(c, "creator", "initiator");
    xmpp_node_set_attr(c, "name", "audio");
    struct xmpp_node *d = xmpp_node_add_element(c, XGW_NS_JINGLE_RTP, "description");
    xmpp_node_set_attr(d, "media", "audio");
    payload(d, "8", "PCMA", "8000", NULL);
    struct xmpp_node *t = xmpp_node_add_element(c, XGW_NS_JINGLE_ICE_UDP, "transport");
    xmpp_node_set_attr(t, "ufrag", "8hhy");
    xmpp_node_set_attr(t, "pwd", "asd88fgpdd777uzjYhagZg");
    ice_candidate(t, "1", "relay", "udp", "2130706431", "10.9.9.9", "3478");
    ice_candidate(t, "1", "host", "tcp", "2130706430", "10.0.0.2", "9");
    ice_candidate(t, "1", "host", "udp", "1694498815", "127.0.0.3", "41000");
    ice_candidate(t, "2", "host", "udp", "1694498814", "127.0.0.3", "41001");
    char *sdp = NULL;
    g_assert_cmpint(xgw_jingle_to_sdp(c, &sdp), ==, 0);
    g_assert_nonnull(strstr(sdp, "c=IN IP4 127.0.0.3\r\n"));
    g_assert_nonnull(strstr(sdp, "m=audio 41000 RTP/AVP 8\r\n"));
    g_assert_nonnull(strstr(sdp, "a=rtcp:41001\r\n"));
    g_assert_true(xgw_jingle_uses_ice(c));
    const char *ru = NULL, *rp = NULL;
    g_assert_true(xgw_jingle_remote_ice(c, &ru, &rp));
    g_assert_cmpstr(ru, ==, "8hhy");
    g_assert_cmpstr(rp, ==, "asd88fgpdd777uzjYhagZg");
    g_free(sdp);
    xmpp_node_free(c);
    const char *answer = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\n"
                         "t=0 0\r\nm=audio 50000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
    struct xgw_ice_creds ice;
    xgw_jingle_ice_creds(&ice);
    c = xgw_jingle_content_from_sdp(answer, "initiator", "audio", &ice);
    t = xmpp_node_child(c, XGW_NS_JINGLE_ICE_UDP, "transport");
    g_assert_nonnull(t);
    g_assert_cmpstr(xmpp_node_attr(t, "ufrag"), ==, ice.ufrag);
    g_assert_cmpstr(xmpp_node_attr(t, "pwd"), ==, ice.pwd);
    g_assert_cmpuint(strlen(ice.ufrag), >=, 4);
    g_assert_cmpuint(strlen(ice.pwd), >=, 22);
    struct xmpp_node *rtp = g_ptr_array_index(t->children, 0);
    g_assert_cmpstr(xmpp_node_attr(rtp, "type"), ==, "host");
    g_assert_cmpstr(xmpp_node_attr(rtp, "protocol"), ==, "udp");
    g_assert_cmpstr(xmpp_node_attr(rtp, "port"), ==, "50000");
    g_assert_nonnull(xmpp_node_attr(rtp, "foundation"));
    g_assert_nonnull(xmpp_node_attr(rtp, "priority"));
    xmpp_node_free(c);
}

static void other_transports_refused(void)
{
    struct xmpp_node *c = content("urn:xmpp:jingle:transports:s5b:1");
    char *sdp = NULL;
    g_assert_cmpint(xgw_jingle_to_sdp(c, &sdp), ==, XGW_JINGLE_BAD_TRANSPORT);
    g_assert_null(sdp);
    xmpp_node_free(c);
    c = content(XGW_NS_JINGLE_RAW_UDP);
    struct xmpp_node *d = xmpp_node_child(c, XGW_NS_JINGLE_RTP, "description");
    xmpp_node_set_attr(d, "media", "video");
    g_assert_cmpint(xgw_jingle_to_sdp(c, &sdp), ==, XGW_JINGLE_BAD_APPLICATION);
    xmpp_node_free(c);
}

static void accept_from_answer(void)
{
    const char *answer = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\n"
                         "t=0 0\r\nm=audio 50000 RTP/AVP 111 101\r\n"
                         "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"
                         "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
                         "a=sendrecv\r\n";
    struct xmpp_node *c = xgw_jingle_content_from_sdp(answer, "initiator", "voice", NULL);
    g_assert_nonnull(c);
    g_assert_cmpstr(xmpp_node_attr(c, "creator"), ==, "initiator");
    g_assert_cmpstr(xmpp_node_attr(c, "name"), ==, "voice");
    struct xmpp_node *d = xmpp_node_child(c, XGW_NS_JINGLE_RTP, "description");
    g_assert_nonnull(d);
    g_assert_cmpuint(d->children->len, ==, 2);
    struct xmpp_node *opus = g_ptr_array_index(d->children, 0);
    g_assert_cmpstr(xmpp_node_attr(opus, "id"), ==, "111");
    g_assert_cmpstr(xmpp_node_attr(opus, "name"), ==, "opus");
    g_assert_cmpstr(xmpp_node_attr(opus, "clockrate"), ==, "48000");
    g_assert_cmpstr(xmpp_node_attr(opus, "channels"), ==, "2");
    struct xmpp_node *p = xmpp_node_child(opus, XGW_NS_JINGLE_RTP, "parameter");
    g_assert_cmpstr(xmpp_node_attr(p, "name"), ==, "useinbandfec");
    struct xmpp_node *te = g_ptr_array_index(d->children, 1);
    g_assert_null(xmpp_node_child(te, XGW_NS_JINGLE_RTP, "parameter")); /* 0-16: no name=value */
    struct xmpp_node *t = xmpp_node_child(c, XGW_NS_JINGLE_RAW_UDP, "transport");
    g_assert_nonnull(t);
    g_assert_cmpuint(t->children->len, ==, 2);
    struct xmpp_node *rtp = g_ptr_array_index(t->children, 0);
    g_assert_cmpstr(xmpp_node_attr(rtp, "component"), ==, "1");
    g_assert_cmpstr(xmpp_node_attr(rtp, "generation"), ==, "0");
    g_assert_nonnull(xmpp_node_attr(rtp, "id"));
    g_assert_cmpstr(xmpp_node_attr(rtp, "ip"), ==, "127.0.0.2");
    g_assert_cmpstr(xmpp_node_attr(rtp, "port"), ==, "50000");
    struct xmpp_node *rtcp = g_ptr_array_index(t->children, 1);
    g_assert_cmpstr(xmpp_node_attr(rtcp, "component"), ==, "2");
    g_assert_cmpstr(xmpp_node_attr(rtcp, "port"), ==, "50001");
    xmpp_node_free(c);
    g_assert_null(xgw_jingle_content_from_sdp("v=0\r\n", "initiator", "voice", NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xmpp-jingle/offer-from-raw-udp", offer_from_raw_udp);
    g_test_add_func("/xmpp-jingle/ice-host-candidates", ice_host_candidates);
    g_test_add_func("/xmpp-jingle/other-transports-refused", other_transports_refused);
    g_test_add_func("/xmpp-jingle/accept-from-answer", accept_from_answer);
    return g_test_run();
}
