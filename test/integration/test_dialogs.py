"""In-dialog behaviour of sessions: re-INVITE (hold, new offer, offer without SDP answered in
the ACK), late offer followed by re-INVITEs, in-dialog OPTIONS keepalives, SUBSCRIBE inside a
call, and session timers never refreshed by the server."""


import pytest

from sip_client import SipUA, parse_sdp, sdp_offer

PCMU, G722 = (0, "PCMU/8000"), (9, "G722/8000")


@pytest.fixture
def ua(server):
    u = SipUA(("127.0.0.1", server.sip_port))
    yield u
    u.close()


def call_echo(server, ua, sdp, extra=()):
    call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp, extra=extra)
    assert call.response.status == 200, call.response
    return call


def reinvite(call, sdp=b""):
    """An in-dialog INVITE; returns its final response (2xx not yet ACKed)."""
    m = call._request("INVITE", sdp, "application/sdp")
    call.invite_cseq = int(m.get("CSeq").split()[0])
    return call.ua.transaction(m, timeout=5)


def no_bye_within(ua, seconds):
    return ua.wait(lambda m: m.is_request and m.method == "BYE", seconds) is None


def test_hold_and_resume(server, ua):
    call = call_echo(server, ua, sdp_offer(40100, codecs=(PCMU,)))
    call.ack()
    held = reinvite(call, sdp_offer(40100, codecs=(PCMU,)).replace(b"a=sendrecv", b"a=sendonly"))
    assert held.status == 200
    assert "a=recvonly" in held.text
    call.ack()
    resumed = reinvite(call, sdp_offer(40100, codecs=(PCMU,)))
    assert resumed.status == 200 and "a=sendrecv" in resumed.text
    call.ack()
    assert no_bye_within(ua, 0.5)
    assert call.bye().status == 200


def test_reinvite_without_sdp_gets_an_offer_answered_in_ack(server, ua):
    call = call_echo(server, ua, sdp_offer(40110, codecs=(PCMU,)))
    call.ack()
    resp = reinvite(call)
    assert resp.status == 200
    offer = parse_sdp(resp.text)
    assert offer["media"][0]["rtpmap"].get("9") == "G722/8000"   # every configured codec
    assert offer["media"][0]["rtpmap"].get("0") == "PCMU/8000"
    call.ack(sdp_offer(40110, codecs=(G722,)))
    assert no_bye_within(ua, 0.5)
    again = reinvite(call, sdp_offer(40110, codecs=(G722,)))  # the call still negotiates
    assert again.status == 200 and "G722/8000" in again.text
    call.ack()
    assert call.bye().status == 200


def test_late_offer_then_reinvites(server, ua):
    call = call_echo(server, ua, b"")
    offer = parse_sdp(call.response.text)
    assert offer["media"][0]["type"] == "audio"
    call.ack(sdp_offer(40120, codecs=(PCMU,)))
    held = reinvite(call, sdp_offer(40120, codecs=(PCMU,)).replace(b"a=sendrecv", b"a=inactive"))
    assert held.status == 200 and "a=inactive" in held.text
    assert "PCMU/8000" in held.text and "(null)" not in held.text
    call.ack()  # no body: this ACK answers nothing and must not end the call
    assert no_bye_within(ua, 0.5)
    assert call.bye().status == 200


def test_reinvite_dropping_every_common_codec_is_refused(server, ua):
    call = call_echo(server, ua, sdp_offer(40130, codecs=(PCMU,)))
    call.ack()
    resp = reinvite(call, sdp_offer(40130, codecs=((18, "G729/8000"),)))
    assert resp.status == 488
    assert call.bye().status == 200


def test_in_dialog_options_and_subscribe(server, ua):
    call = call_echo(server, ua, sdp_offer(40140))
    call.ack()
    assert call.request("OPTIONS").status == 200
    sub = call.request("SUBSCRIBE", extra=[("Event", "conference"), ("Expires", "60")])
    assert sub.status == 403
    assert call.bye().status == 200


def test_session_timer_refreshed_by_the_caller(server, ua):
    call = call_echo(server, ua, sdp_offer(40150),
                     extra=[("Supported", "timer"), ("Session-Expires", "1800;refresher=uas")])
    # The server never refreshes (its re-INVITE could not carry our SDP): it does not take
    # the refresher role the caller asked it to take; "timer" is not in its Supported.
    assert "refresher=uas" not in (call.response.get("Session-Expires") or "")
    assert "timer" not in (call.response.get("Supported") or "")
    assert "100rel" not in (call.response.get("Supported") or "")
    call.ack()
    assert call.bye().status == 200


KEY = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"


def crypto_lines(text):
    return [line for line in text.splitlines() if line.startswith("a=crypto:")]


def test_reinvite_rekeys_and_drops_srtp(server, ua):
    """Best-effort SRTP (a=crypto on RTP/AVP): the answer keys with our own key under the
    offer's tag; a re-offer with another tag gets that tag back, a plain re-offer no key."""
    offer = sdp_offer(40160, codecs=(PCMU,),
                      extra_lines=[f"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"])
    call = call_echo(server, ua, offer)
    lines = crypto_lines(call.response.text)
    assert len(lines) == 1 and lines[0].startswith("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:")
    assert KEY not in lines[0]  # our own key, not the caller's
    call.ack()
    rekey = sdp_offer(40160, codecs=(PCMU,),
                      extra_lines=[f"a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"])
    resp = reinvite(call, rekey)
    assert resp.status == 200
    again = crypto_lines(resp.text)
    assert len(again) == 1 and again[0].startswith("a=crypto:7 ")
    assert again[0].split("inline:")[1] == lines[0].split("inline:")[1]  # same key kept
    call.ack()
    plain = reinvite(call, sdp_offer(40160, codecs=(PCMU,)))
    assert plain.status == 200 and not crypto_lines(plain.text)
    call.ack()
    assert call.bye().status == 200
