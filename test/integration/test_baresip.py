"""A real softphone against the echo plugin: headless baresip 1.0.0 (test/peers/baresip_peer.py)
dials sip:echo@…, plays a 440 Hz tone from a WAV file (aufile), and the sndfile module's dump of
the decoded received audio must hold that tone — i.e. the server echoed decodable audio in the
negotiated codec. One run per codec."""
import time

import pytest

from conftest import free_port, free_port_pair, free_port_range
from baresip_peer import Baresip, read_wav, tone_analysis


@pytest.fixture
def baresip_factory(tmp_path):
    peers = []

    def make(**kwargs):
        d = tmp_path / f"baresip{len(peers)}"
        b = Baresip(d, sip_port=free_port_pair(), rtp_start=free_port_range(100),
                    ctrl_port=free_port(kinds=("tcp",)), **kwargs)
        peers.append(b)
        return b
    yield make
    for b in peers:
        b.stop()


def _received_tone(b):
    dumps = b.decoded_dumps()
    assert dumps, f"sndfile wrote no decoded dump\n{b.log()[-3000:]}"
    rate, samples = read_wav(dumps[-1])
    return rate, tone_analysis(rate, samples)


def _echo_round(server, b, codec, rate):
    r = b.command("dial", f"sip:echo@{server.uri_host}")
    assert r.get("ok"), r
    b.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    time.sleep(2.5)
    b.command("hangup")
    b.wait_event("CALL_CLOSED", timeout=5)
    log = b.log()
    assert f"Set audio decoder: {codec} {rate}Hz" in log, log[-3000:]
    b.stop()
    got_rate, a = _received_tone(b)
    assert got_rate == rate, (got_rate, a)
    assert a["loud"] >= rate * 1.0, f"too little audio echoed: {a}\n{log[-2000:]}"
    assert 380 <= a["freq"] <= 500, f"echoed audio is not the 440 Hz tone: {a}"
    return log


@pytest.mark.parametrize("codec,account_codecs,rate", [
    ("PCMU", "PCMU", 8000),
    ("PCMA", "PCMA", 8000),
    ("G722", "G722/16000/1", 16000),
])
def test_baresip_echo_call(server, baresip_factory, codec, account_codecs, rate):
    b = baresip_factory(codecs=account_codecs, tone_freq=440.0).start()
    _echo_round(server, b, codec, rate)
    assert server.alive()


def test_baresip_call_ended_by_server_after_max_duration(server_factory, baresip_factory):
    server = server_factory(plugin_configs={"echo": {"echo": {"max_call_duration": 2}}})
    server.start()
    b = baresip_factory(codecs="PCMU").start()
    b.command("dial", f"sip:echo@{server.uri_host}")
    b.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    t0 = time.time()
    closed = b.wait_event("CALL_CLOSED", timeout=8)
    elapsed = time.time() - t0
    assert 1.0 <= elapsed <= 6.0, f"server hung up after {elapsed:.1f}s: {closed}"
    assert server.alive()


def test_baresip_echo_opus(server, baresip_factory):
    b = baresip_factory(codecs="opus/48000/2", tone_freq=440.0,
                        modules=("g711", "g722", "opus")).start()
    _echo_round(server, b, "opus", 48000)
    assert server.alive()


@pytest.mark.parametrize("mediaenc", ["srtp-mand", "srtp"])
def test_baresip_echo_srtp(server_factory, baresip_factory, mediaenc):
    """SRTP with SDES: RTP/SAVP (srtp-mand) against a server that requires SRTP, and
    best-effort SRTP on RTP/AVP (srtp) against the default (optional)."""
    mode = "mandatory" if mediaenc == "srtp-mand" else "optional"
    server = server_factory(config={"rtp": {"srtp": mode}}).start()
    b = baresip_factory(codecs="PCMU", tone_freq=440.0, modules=("g711", "g722", "srtp"),
                        extra_account_params=f";mediaenc={mediaenc}").start()
    log = _echo_round(server, b, "PCMU", 8000)
    # baresip only says this once both sides' keys are in place; the tone then came back
    # through SRTP both ways (baresip drops what it cannot authenticate).
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in log, log[-3000:]
    assert server.alive()


def test_plain_caller_refused_when_srtp_mandatory(server_factory, baresip_factory):
    server = server_factory(config={"rtp": {"srtp": "mandatory"}}).start()
    b = baresip_factory(codecs="PCMU").start()
    b.command("dial", f"sip:echo@{server.uri_host}")
    closed = b.wait_event("CALL_CLOSED", timeout=10)
    assert "488" in str(closed), closed
    server.wait_log("SRTP mandatory")


def test_baresip_three_in_a_conference_room(server, baresip_factory):
    """Three real softphones in one conference room, in PCMU, G.722 and PCMA, each playing its
    own tone: each one's recording holds the other two tones and not its own."""
    import math
    import rtp_tone
    tones = (400.0, 700.0, 1100.0)
    setups = (("PCMU", "alice"), ("G722/16000/1", "bob"), ("PCMA", "carol"))
    peers = [baresip_factory(codecs=c, user=u, tone_freq=f).start()
             for (c, u), f in zip(setups, tones)]
    for b in peers:
        assert b.command("dial", f"sip:room8@{server.uri_host}").get("ok")
        b.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    time.sleep(3.5)
    for b in peers:
        b.command("hangup")
        b.wait_event("CALL_CLOSED", timeout=5)
        b.stop()
    server.wait_log("room sip:room8@127.0.0.1 ended")

    def level(rate, samples, freq):
        return 2 * math.sqrt(rtp_tone.goertzel_power(samples, rate, freq)) / len(samples)

    for b, own in zip(peers, tones):
        rate, samples = read_wav(b.decoded_dumps()[-1])
        # 2 s before the hang-ups began, when all three were in the room
        tail = list(samples[-int(2.5 * rate):-rate // 2])
        others = [level(rate, tail, f) for f in tones if f != own]
        mine = level(rate, tail, own)
        assert min(others) > 500, f"{b.aor} hears too little of the others: {others}"
        assert mine < min(others) / 10, f"{b.aor} hears itself: {mine} vs {others}"
