"""Host functions that echo does not use, driven from a SIP client through the probe test
plugin (test/plugins/probe.c): subscriptions with NOTIFYs, unsubscribe, server-side
termination, REFER with a dial-out INVITE (session_connect) and sipfrag NOTIFYs, deferred
MESSAGE responses and request_header."""
import os

import pytest

from conftest import BUILD
from sip_client import SipUA, parse_sdp, sdp_offer

PROBE_DIR = os.path.join(BUILD, "test", "plugins")


@pytest.fixture
def probe(server_factory):
    return server_factory(plugins_dir=PROBE_DIR,
                          config={"server": {"application_map":
                                             "probe:probe, probe-end:probe, reject:probe"}}).start()


@pytest.fixture
def ua(probe):
    u = SipUA(("127.0.0.1", probe.sip_port))
    yield u
    u.close()


def subscribe(ua, uri, expires=60, dialog=None):
    extra = [("Event", "conference"), ("Expires", str(expires)), ("Accept", "text/plain")]
    if dialog:
        return dialog.request("SUBSCRIBE", extra=extra)
    req = ua.new_request("SUBSCRIBE", uri, extra=extra)
    return req, ua.transaction(req)


def next_notify(ua, timeout=5):
    n = ua.wait_request("NOTIFY", timeout=timeout)
    ua.respond(n, 200)
    return n


def test_subscription_notifies_then_server_terminates(probe, ua):
    _, resp = subscribe(ua, f"sip:probe-end@{probe.uri_host}")
    assert resp.status in (200, 202)
    bodies = []
    for _ in range(3):
        n = next_notify(ua)
        assert n.get("Event").startswith("conference")
        bodies.append((n.text, n.get("Subscription-State")))
        if n.get("Subscription-State").startswith("terminated"):
            break
    assert [b for b, _ in bodies][:2] == ["state 1", "state 2"]
    assert bodies[-1][1].startswith("terminated")
    assert "noresource" in bodies[-1][1]
    probe.wait_log("subscription ended")


def test_unsubscribe_ends_the_subscription(probe, ua):
    req, resp = subscribe(ua, f"sip:probe@{probe.uri_host}")
    assert resp.status in (200, 202)
    assert next_notify(ua).text == "state 1"
    assert next_notify(ua).text == "state 2"
    # Unsubscribe inside the dialog the SUBSCRIBE created.
    from sip_client import Dialog
    d = Dialog(ua, f"sip:probe@{probe.uri_host}", req.get("Call-ID"), req.tag("From"), ua.aor,
               f"sip:probe@{probe.uri_host}", 1)
    d.remote_tag = resp.tag("To")
    d.remote_target = resp.contact_uri() or d.request_uri
    resp = subscribe(ua, None, expires=0, dialog=d)
    assert resp.status in (200, 202)
    final = next_notify(ua)
    assert final.get("Subscription-State").startswith("terminated")
    probe.wait_log("subscription ended")


def test_subscription_rejected_by_plugin(probe, ua):
    _, resp = subscribe(ua, f"sip:reject@{probe.uri_host}")
    assert resp.status == 403
    assert resp.reason == "Probe Says No"


def test_refer_dials_out_and_reports_with_sipfrag(probe, ua):
    target = SipUA(("127.0.0.1", probe.sip_port), user="target")
    try:
        req = ua.new_request("REFER", f"sip:probe@{probe.uri_host}",
                             extra=[("Refer-To", f"<sip:target@127.0.0.1:{target.port}>")])
        resp = ua.transaction(req)
        assert resp.status == 202
        invite = target.wait_request("INVITE", timeout=5)
        assert invite.get("X-Probe") == "dial-out"
        assert '"Probe"' in invite.get("From")
        offer = parse_sdp(invite.text)
        assert offer["media"][0]["type"] == "audio"
        target.respond(invite, 180)
        target.respond(invite, 200, body=sdp_offer(40200), content_type="application/sdp",
                       headers=[("Contact", f"<{target.contact}>")], to_tag="tgt1")
        target.wait_request("ACK", timeout=5)
        frags = []
        while not frags or not frags[-1].startswith("SIP/2.0 2"):
            n = next_notify(ua)
            if n.text:
                assert n.get("Content-Type").startswith("message/sipfrag")
                frags.append(n.text.strip())
        assert "SIP/2.0 100 Trying" in frags
        assert "SIP/2.0 180 Ringing" in frags
        assert frags[-1] == "SIP/2.0 200 OK"
        bye = target.wait_request("BYE", timeout=5)
        target.respond(bye, 200)
        probe.wait_log("dial-out established, codec PCMU/8000")
        probe.wait_log("dial-out ended 200")
    finally:
        target.close()


def test_refer_to_failing_target_reports_the_failure(probe, ua):
    target = SipUA(("127.0.0.1", probe.sip_port), user="busy")
    try:
        req = ua.new_request("REFER", f"sip:probe@{probe.uri_host}",
                             extra=[("Refer-To", f"<sip:busy@127.0.0.1:{target.port}>")])
        assert ua.transaction(req).status == 202
        invite = target.wait_request("INVITE", timeout=5)
        target.respond(invite, 486, to_tag="b1")
        frags = []
        while not frags or not frags[-1].startswith("SIP/2.0 4"):
            n = next_notify(ua)
            if n.text:
                frags.append(n.text.strip())
        assert frags[-1].startswith("SIP/2.0 486")
    finally:
        target.close()


def test_refer_with_other_method_is_rejected(probe, ua):
    req = ua.new_request("REFER", f"sip:probe@{probe.uri_host}",
                         extra=[("Refer-To", "<sip:someone@127.0.0.1;method=BYE>")])
    resp = ua.transaction(req)
    assert resp.status == 501
    probe.wait_log("refer BYE to sip:someone@127.0.0.1")


def test_deferred_message_response_and_headers(probe, ua):
    resp = ua.request("MESSAGE", f"sip:probe@{probe.uri_host}", body="hi",
                      content_type="text/plain", extra=[("X-Probe", "yes please")])
    assert resp.status == 202
    assert resp.reason == "Accepted Later"
    probe.wait_log("message with X-Probe yes please")


def test_in_dialog_message_answered_after_the_call_ended(probe, ua):
    call = ua.invite(f"sip:probe@{probe.uri_host}", sdp=sdp_offer(40210))
    assert call.response.status == 200
    call.ack()
    # The plugin answers the MESSAGE 100 ms later; the call is gone by then.
    ua.send(call._request("MESSAGE", b"in the call", "text/plain"))
    assert call.bye().status == 200
    probe.wait_log("deferred respond: -107")  # -ENOTCONN: its dialog has ended
    assert ua.request("OPTIONS", f"sip:probe@{probe.uri_host}").status == 200


def dtmf_packet(seq, ts, digit_code, end, duration, ssrc=0x4242):
    import struct
    header = struct.pack("!BBHII", 0x80, 101, seq, ts, ssrc)
    return header + struct.pack("!BBH", digit_code, (0x80 if end else 0) | 10, duration)


def test_dtmf_reaches_the_plugin_once_per_key(probe, ua):
    import socket
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    try:
        call = ua.invite(f"sip:probe@{probe.uri_host}",
                         sdp=sdp_offer(rtp.getsockname()[1], dtmf=True))
        assert call.response.status == 200
        media = parse_sdp(call.response.text)["media"][0]
        assert media["rtpmap"].get("101") == "telephone-event/8000"
        call.ack()
        dest = (media["c"], media["port"])
        seq = 1
        for code, ts in ((5, 1000), (11, 3000)):  # '5' then '#'
            for dur in (160, 320):  # key held
                rtp.sendto(dtmf_packet(seq, ts, code, False, dur), dest)
                seq += 1
            for _ in range(3):  # the end packet, sent three times (RFC 4733 §2.5.1.4)
                rtp.sendto(dtmf_packet(seq, ts, code, True, 800), dest)
                seq += 1
        probe.wait_log("dtmf 5 100 ms")
        probe.wait_log("dtmf # 100 ms")
        assert probe.log().count("dtmf 5 ") == 1
        assert call.bye().status == 200
    finally:
        rtp.close()


def test_dtmf_from_sipp_capture(probe, sipp):
    """sipp plays its own RFC 4733 capture of the digit 1 into a call to the probe plugin."""
    from conftest import assert_sipp_ok
    assert_sipp_ok(sipp.run("invite_dtmf_pcap.xml", probe.sip_port, service="probe"))
    probe.wait_log("dtmf 1 ")
