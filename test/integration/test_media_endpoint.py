"""SDK 1.8 media endpoints (media_endpoint_*): an RTP audio leg without a SIP session, driven
through the probe test plugin (test/plugins/probe_endpoint.c). The endpoint leg and the SIP
call are test/peers/rtp_tone.py participants in different codecs; the probe bridges them in a
2-participant mixer, and a 440 Hz tone sent to the endpoint's port must reach the SIP caller
and the caller's tone the endpoint's peer. Bad offers get the documented errors."""
import math
import os
import re
import socket
import threading
import time

import pytest

from conftest import BUILD
import rtp_tone
from sip_client import SipUA, parse_sdp, sdp_offer

PROBE_DIR = os.path.join(BUILD, "test", "plugins")


@pytest.fixture
def probe(server_factory):
    return server_factory(plugins_dir=PROBE_DIR,
                          config={"server": {"default_application": "probe"}}).start()


@pytest.fixture
def ua(probe):
    u = SipUA(("127.0.0.1", probe.sip_port))
    yield u
    u.close()


def command(ua, server, text, body=b"x", content_type="text/plain"):
    """One X-Probe command; the probe answers 202 after it ran it."""
    resp = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body=body,
                      content_type=content_type, extra=[("X-Probe", text)])
    assert resp.status == 202, str(resp)


def logged(server, pattern, timeout=10):
    """The first match of `pattern` in the server log, waited for (bounded)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, server.log())
        if m:
            return m
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not logged:\n{server.log()[-3000:]}")


def level(report, freq):
    audio, rate = report["audio"], report["rate"]
    if not audio:
        return 0.0
    return 2 * math.sqrt(rtp_tone.goertzel_power(audio, rate, freq)) / len(audio)


class Leg:
    """One rtp_tone participant: where it sends, in which codec, and what it heard."""

    def __init__(self, sock, host, port, codec, pt):
        self.sock, self.host, self.port, self.codec, self.pt = sock, host, port, codec, pt
        self.report = None

    def talk(self, freq, seconds=2.5):
        self.report = rtp_tone.run(self.host, self.port, self.codec, self.pt, freq, seconds,
                                   sock=self.sock, keep_audio=True)


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def endpoint_leg_by_answer(ua, server, tag):
    """The endpoint answers our opus offer."""
    sock = udp()
    offer = sdp_offer(sock.getsockname()[1], codecs=((111, "opus/48000/2"),), dtmf=True)
    command(ua, server, f"endpoint-answer {tag}", body=offer, content_type="application/sdp")
    m = logged(server, rf"endpoint {tag} answer: 0 port (\d+) codec (\S+)")
    assert m.group(2) == "opus/48000", m.group(0)
    return Leg(sock, "127.0.0.1", int(m.group(1)), "opus", 111)


def endpoint_leg_by_offer(ua, server, tag):
    """The endpoint offers, we answer with G.722 (its payload type 9 from the offer)."""
    sock = udp()
    command(ua, server, f"endpoint-offer {tag}")
    m = logged(server, rf"endpoint {tag} offer: 0 port (\d+) formats ([\d ]+)")
    assert "9" in m.group(2).split(), m.group(0)
    answer = sdp_offer(sock.getsockname()[1], codecs=((9, "G722/8000"),))
    command(ua, server, f"endpoint-set-answer {tag}", body=answer,
            content_type="application/sdp")
    logged(server, rf"endpoint {tag} set-answer: 0 codec G722/8000")
    return Leg(sock, "127.0.0.1", int(m.group(1)), "G722", 9)


@pytest.mark.parametrize("negotiation", [endpoint_leg_by_answer, endpoint_leg_by_offer])
def test_endpoint_bridged_with_a_call_both_ways(probe, ua, negotiation):
    tag = negotiation.__name__[-6:]
    ep = negotiation(ua, probe, tag)
    sip_sock = udp()
    call = ua.invite(f"sip:epbridge-{tag}@{probe.uri_host}",
                     sdp=sdp_offer(sip_sock.getsockname()[1]))
    assert call.response.status == 200, ua.trace()
    media = parse_sdp(call.response.text)["media"][0]
    call.ack()
    logged(probe, rf"epbridge {tag}: mixer add 0 0, 2 participants")
    sip = Leg(sip_sock, media["c"], media["port"], "PCMU", 0)
    threads = [threading.Thread(target=ep.talk, args=(440,)),
               threading.Thread(target=sip.talk, args=(1000,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for leg in (ep, sip):
        assert leg.report["received"] >= leg.report["sent"] * 0.8, leg.report
        assert leg.report["decode_errors"] == 0, leg.report
    assert level(sip.report, 440) > 1500, "the SIP caller does not hear the endpoint's tone"
    assert level(sip.report, 1000) < level(sip.report, 440) / 20, "the caller hears itself"
    assert level(ep.report, 1000) > 1500, "the endpoint's peer does not hear the caller"
    assert level(ep.report, 440) < level(ep.report, 1000) / 20, "the endpoint hears itself"
    call.bye()
    command(ua, probe, f"endpoint-free {tag}")
    logged(probe, rf"endpoint {tag} freed")
    ep.sock.close()
    sip_sock.close()


def test_endpoint_refuses_bad_offers(probe, ua):
    """No common codec: -ENOTSUP; not SDP: -EINVAL; a second answer: -EALREADY."""
    port = 40000
    g729 = sdp_offer(port, codecs=((18, "G729/8000"),))
    command(ua, probe, "endpoint-answer bad1", body=g729, content_type="application/sdp")
    logged(probe, r"endpoint bad1 answer: -95\b")
    command(ua, probe, "endpoint-answer bad2", body=b"hello", content_type="application/sdp")
    logged(probe, r"endpoint bad2 answer: -22\b")
    ok = sdp_offer(port)
    command(ua, probe, "endpoint-answer ok1", body=ok, content_type="application/sdp")
    logged(probe, r"endpoint ok1 answer: 0 port \d+ codec PCMU/8000")
    command(ua, probe, "endpoint-again ok1", body=ok, content_type="application/sdp")
    logged(probe, r"endpoint ok1 again: -114 -114")
    command(ua, probe, "endpoint-free ok1")
    logged(probe, r"endpoint ok1 freed")
    for tag in ("bad1", "bad2"):
        command(ua, probe, f"endpoint-free {tag}")
        logged(probe, rf"endpoint {tag} freed")
