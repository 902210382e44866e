"""Echo plugin media and messaging, driven by the stdlib peers in test/peers/:
sip_client.py (SIP over UDP) and rtp_tone.py (a tone in a codec, the echo decoded and its
dominant frequency measured: the echo decodes, delays and re-encodes)."""
import re
import socket
import struct
import threading
import time

import pytest

import conftest  # noqa: F401  (puts test/peers on sys.path)
import rtp_tone
import srtp
from sip_client import parse_sdp, sdp_offer

PCMU, PCMA, G722 = (0, "PCMU/8000"), (8, "PCMA/8000"), (9, "G722/8000")
ECHO_DELAY_S = 0.5  # echo.ini's default delay


def assert_tone_echoed(report, freq, min_received=None):
    """The echo carried our tone back: its dominant frequency, tonal and loud enough."""
    sent = report["sent"]
    # The echo starts ECHO_DELAY_S plus the jitter buffer later; rtp_tone lingers 1 s.
    min_received = min_received or int(sent * 0.8)
    assert report["received"] >= min_received, report
    assert abs(report["dominant_hz"] - freq) <= 20, report
    assert report["freq_power_ratio"] > 0.7, report
    assert report["rms"] > report["sent_rms"] * 0.5, report
    assert report["decode_errors"] == 0, report
    assert report["received_ssrcs"] and report["sent_ssrc"] not in report["received_ssrcs"], \
        f"the echo should come from the server's own SSRC: {report}"


@pytest.fixture
def rtp_socket():
    socks = []

    def make():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        return s
    yield make
    for s in socks:
        s.close()


def _answer(dialog, ua):
    r = dialog.response
    assert r.status == 200, f"INVITE answered {r.status} {r.reason}\n{ua.trace()}"
    assert (r.get("Content-Type") or "").startswith("application/sdp"), ua.trace()
    sdp = parse_sdp(r.body)
    audio = [m for m in sdp["media"] if m["type"] == "audio" and m["port"] != 0]
    assert len(audio) == 1, f"one active audio stream expected\n{r.text}"
    return audio[0]


def _codecs(media):
    return [f for f in media["fmts"] if f != "101" and
            not media["rtpmap"].get(f, "").lower().startswith("telephone-event")]


def test_rtp_echo_pcmu(server, ua_factory, rtp_socket):
    ua = ua_factory(server)
    rtp = rtp_socket()
    d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(rtp.getsockname()[1], [PCMU]))
    assert [p.status for p in d.provisional if p.status == 180], \
        f"no 180 Ringing before the 200\n{ua.trace()}"
    m = _answer(d, ua)
    assert m["c"] == "127.0.0.1", m
    assert _codecs(m) == ["0"], f"only PCMU was offered: {m}"
    assert server.rtp_start <= m["port"] <= server.rtp_start + 99, \
        f"answer port {m['port']} outside port_range {server.config['rtp']['port_range']}"
    d.ack()
    report = rtp_tone.run(m["c"], m["port"], "PCMU", 0, 700, 2.0, sock=rtp)
    assert_tone_echoed(report, 700)
    bye = d.bye()
    assert bye.status == 200, ua.trace()
    assert server.alive()


def test_rtp_echo_is_symmetric(server, ua_factory, rtp_socket):
    """RTP goes back to where it came from, not to the port in our SDP."""
    ua = ua_factory(server)
    advertised = rtp_socket()
    actual = rtp_socket()
    d = ua.invite(f"sip:echo@{server.uri_host}",
                  sdp_offer(advertised.getsockname()[1], [PCMU, PCMA], dtmf=True))
    m = _answer(d, ua)
    d.ack()
    report = rtp_tone.run(m["c"], m["port"], "PCMU", 0, 900, 1.5, sock=actual)
    assert_tone_echoed(report, 900)
    advertised.setblocking(False)
    try:
        stray = advertised.recv(2048)
    except BlockingIOError:
        stray = None
    assert stray is None, "echo went to the SDP address instead of the packets' source"
    assert d.bye().status == 200


def test_two_calls_get_their_own_echo(server, ua_factory, rtp_socket):
    ua = ua_factory(server)
    calls = []
    for _ in range(2):
        rtp = rtp_socket()
        d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(rtp.getsockname()[1], [PCMU]))
        m = _answer(d, ua)
        d.ack()
        calls.append((d, m, rtp))
    assert calls[0][1]["port"] != calls[1][1]["port"], "two calls share one RTP port"
    reports = [None, None]

    def talk(i, freq):
        _, m, rtp = calls[i]
        reports[i] = rtp_tone.run(m["c"], m["port"], "PCMU", 0, freq, 1.5, sock=rtp)
    threads = [threading.Thread(target=talk, args=(i, f)) for i, f in enumerate((600, 1300))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_tone_echoed(reports[0], 600)  # each hears itself, not the other call
    assert_tone_echoed(reports[1], 1300)
    for d, _, _ in calls:
        assert d.bye().status == 200


@pytest.mark.parametrize("offer,expected", [
    ([PCMA, PCMU], "0"),        # server preference: G722, PCMU, PCMA
    ([PCMA, G722, PCMU], "9"),
    ([PCMA], "8"),
])
def test_answer_codec_by_server_preference(server, ua_factory, offer, expected):
    ua = ua_factory(server)
    d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(40000, offer))
    m = _answer(d, ua)
    assert _codecs(m) == [expected], f"offer {offer} → answer {m['fmts']}"
    d.ack()
    assert d.bye().status == 200


def test_audio_codecs_config_restricts_answer(server_factory, ua_factory):
    server = server_factory(config={"rtp": {"audio_codecs": "PCMA"}}).start()
    ua = ua_factory(server)
    d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(40000, [PCMU, PCMA]))
    m = _answer(d, ua)
    assert _codecs(m) == ["8"], m
    d.ack()
    assert d.bye().status == 200
    d2 = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(40002, [PCMU]))
    assert d2.response.status == 488, f"PCMU is not enabled\n{ua.trace()}"


def test_telephone_event_kept(server, ua_factory):
    ua = ua_factory(server)
    d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(40000, [PCMU], dtmf=True))
    m = _answer(d, ua)
    assert "101" in m["fmts"], m
    assert m["rtpmap"].get("101", "").lower().startswith("telephone-event/8000"), m
    d.ack()
    assert d.bye().status == 200


def test_max_call_duration_bye(server_factory, ua_factory):
    server = server_factory(plugin_configs={"echo": {"echo": {"max_call_duration": 2}}})
    server.start()
    ua = ua_factory(server)
    d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(40000, [PCMU]))
    _answer(d, ua)
    d.ack()
    t0 = time.time()
    bye = ua.wait_request("BYE", timeout=8)
    elapsed = time.time() - t0
    assert bye.get("Call-ID") == d.call_id, ua.trace()
    assert 1.0 <= elapsed <= 6.0, f"BYE after {elapsed:.1f}s, max_call_duration = 2"
    ua.respond(bye, 200)
    assert server.alive()


# -- MESSAGE echo ------------------------------------------------------------------------------

def _lines(text):
    return text.replace("\r\n", "\n").rstrip("\n").split("\n")


def test_message_echo_text_plain(server, ua_factory):
    ua = ua_factory(server)
    r = ua.request("MESSAGE", f"sip:echo@{server.uri_host}", body="hello sylk\nsecond line",
                   content_type="text/plain")
    assert r.status in (200, 202), ua.trace()
    echo = ua.wait_request("MESSAGE", timeout=5)
    ua.respond(echo, 200)
    assert (echo.get("Content-Type") or "").startswith("text/plain"), str(echo)
    assert _lines(echo.text) == ["Echo:", ">> hello sylk", ">> second line"], repr(echo.text)
    assert "echo@" in echo.get("From"), str(echo)
    assert ua.contact.split("@")[0] + "@" in echo.get("To"), str(echo)
    assert echo.uri.startswith(f"sip:{ua.user}@127.0.0.1:{ua.port}"), str(echo)


def test_message_echo_cpim(server, ua_factory):
    ua = ua_factory(server)
    me = ua.aor
    cpim = (f"From: <{me}>\r\n"
            f"To: <sip:echo@{server.uri_host}>\r\n"
            "DateTime: 2024-01-01T12:00:00Z\r\n"
            "\r\n"
            "Content-Type: text/plain\r\n"
            "\r\n"
            "hi there\r\n")
    r = ua.request("MESSAGE", f"sip:echo@{server.uri_host}", body=cpim,
                   content_type="message/cpim")
    assert r.status in (200, 202), ua.trace()
    echo = ua.wait_request("MESSAGE", timeout=5)
    ua.respond(echo, 200)
    assert (echo.get("Content-Type") or "").lower().startswith("message/cpim"), str(echo)
    text = echo.text.replace("\r\n", "\n")
    outer, _, rest = text.partition("\n\n")
    inner_headers, _, inner_body = rest.partition("\n\n")
    hdrs = dict((k.strip().lower(), v.strip()) for k, _, v in
                (line.partition(":") for line in outer.split("\n") if ":" in line))
    assert "echo@" in hdrs.get("from", ""), f"CPIM From must be the echo URI\n{text}"
    assert me.split(":")[1].split("@")[0] in hdrs.get("to", ""), \
        f"CPIM To must be the sender\n{text}"
    assert re.search(r"(?im)^content-type:\s*text/plain", inner_headers), text
    assert _lines(inner_body) == ["Echo:", ">> hi there"], repr(inner_body)


def test_message_without_body_400(server, ua_factory):
    ua = ua_factory(server)
    r = ua.request("MESSAGE", f"sip:echo@{server.uri_host}")
    assert r.status == 400, ua.trace()


# -- rejected REFER/SUBSCRIBE leave nothing behind ---------------------------------------------

@pytest.mark.parametrize("method,extra,allowed", [
    ("REFER", [("Refer-To", "<sip:bob@127.0.0.1>")], (405,)),
    ("SUBSCRIBE", [("Event", "conference"), ("Expires", "60")], (405, 489)),
    ("SUBSCRIBE", [("Event", "foo"), ("Expires", "60")], (489,)),
])
def test_rejected_request_sends_no_notify(server_factory, ua_factory, method, extra, allowed):
    """A rejected REFER/SUBSCRIBE creates no subscription: no NOTIFY before or after. With echo
    alone: when a loaded plugin handles REFER (conference), sofia-sip lets every REFER in and
    sends its first NOTIFY before the application can refuse it (README, notes)."""
    from test_sip_sipp import ECHO_ONLY
    server = server_factory(plugins_dir=ECHO_ONLY).start()
    ua = ua_factory(server)
    r = ua.request(method, f"sip:echo@{server.uri_host}", extra=extra)
    assert r.status in allowed, ua.trace()
    assert r.reason and r.reason.isprintable(), f"bad reason phrase {r.reason!r}"
    stray = ua.wait(lambda m: m.is_request, 1.0)
    assert stray is None and not ua.pending, f"unexpected request after {r.status}\n{ua.trace()}"


@pytest.mark.parametrize("pt,rtpmap,codec,freq", [
    (0, "PCMU/8000", "PCMU", 500),
    (8, "PCMA/8000", "PCMA", 1900),
    (9, "G722/8000", "G722", 3100),
    (111, "opus/48000/2", "opus", 2700),
])
def test_tone_echoed_per_codec(server, ua_factory, rtp_socket, pt, rtpmap, codec, freq):
    """A known tone in each codec comes back decoded and re-encoded with its frequency."""
    ua = ua_factory(server)
    sock = rtp_socket()
    call = ua.invite(f"sip:echo@{server.uri_host}",
                     sdp=sdp_offer(sock.getsockname()[1], codecs=((pt, rtpmap),)))
    assert call.response.status == 200, ua.trace()
    media = parse_sdp(call.response.text)["media"][0]
    assert media["rtpmap"].get(str(pt), "").lower() == rtpmap.lower(), media
    call.ack()
    report = rtp_tone.run(media["c"], media["port"], codec, pt, freq, 2.0, sock=sock)
    assert_tone_echoed(report, freq)
    assert call.bye().status == 200


@pytest.mark.parametrize("rtpmap,codec", [("speex/16000", "speex16"), ("speex/8000", "speex8")])
def test_speex_negotiated_and_echoed(server, ua_factory, rtp_socket, rtpmap, codec):
    """baresip has no speex: our own client offers it (libspeex through ctypes) and the tone
    comes back through the server's speex decoder and encoder."""
    ua = ua_factory(server)
    sock = rtp_socket()
    port = sock.getsockname()[1]
    call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(port, codecs=((97, rtpmap),)))
    assert call.response.status == 200
    media = parse_sdp(call.response.text)["media"][0]
    assert media["rtpmap"].get("97") == rtpmap
    call.ack()
    report = rtp_tone.run(media["c"], media["port"], codec, 97, 1100, 2.0, sock=sock)
    assert_tone_echoed(report, 1100)
    assert call.bye().status == 200


def test_second_ssrc_is_dropped_while_the_first_talks(server, ua_factory, rtp_socket):
    """One sender SSRC per stream: packets of another SSRC (here from another socket, with
    another tone) are dropped while the first one is active, so per-SSRC state stays bounded
    and the echo neither mixes them in nor follows them; the first stream goes on."""
    ua = ua_factory(server)
    first, intruder = rtp_socket(), rtp_socket()
    call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(first.getsockname()[1]))
    assert call.response.status == 200
    media = parse_sdp(call.response.text)["media"][0]
    call.ack()
    reports = {}

    def talk(name, sock, freq, delay):
        time.sleep(delay)
        reports[name] = rtp_tone.run(media["c"], media["port"], "PCMU", 0, freq, 2.0, sock=sock)
    threads = [threading.Thread(target=talk, args=("first", first, 700, 0)),
               threading.Thread(target=talk, args=("intruder", intruder, 1500, 0.3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_tone_echoed(reports["first"], 700)
    assert reports["intruder"]["received"] == 0, reports["intruder"]
    assert call.bye().status == 200


def _rtcp_packets(data):
    """(packet type, body) of each packet in a compound RTCP datagram."""
    out = []
    while len(data) >= 4:
        length = (struct.unpack("!H", data[2:4])[0] + 1) * 4
        out.append((data[1], data[:length]))
        data = data[length:]
    return out


def test_rtcp_sender_reports_with_cname(server, ua_factory):
    """Every 5 s the server sends RTCP to the RTP port + 1: an SR for the echo it sends (its
    SSRC, packet count), a report block on what it received, and an SDES CNAME. Our RR is
    taken and counted."""
    from conftest import free_port
    ua = ua_factory(server)
    port = free_port(kinds=("udp",), even=True)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", port))
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(("127.0.0.1", port + 1))
    try:
        call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(port))
        m = _answer(call, ua)
        call.ack()
        report = {}
        t = threading.Thread(target=lambda: report.update(
            rtp_tone.run(m["c"], m["port"], "PCMU", 0, 700, 6.0, sock=rtp)))
        t.start()
        rtcp.settimeout(8)
        data, source = rtcp.recvfrom(2048)
        t.join()
        assert source == (m["c"], m["port"] + 1), source
        packets = dict(_rtcp_packets(data))
        assert 200 in packets, f"no SR in {data!r}"
        sr = packets[200]
        ssrc, packets_sent = struct.unpack("!I", sr[4:8])[0], struct.unpack("!I", sr[20:24])[0]
        assert ssrc in report["received_ssrcs"], (ssrc, report)
        assert packets_sent > 100, packets_sent
        assert sr[0] & 0x1f == 1, "one report block expected"
        assert struct.unpack("!I", sr[28:32])[0] == report["sent_ssrc"], "block about our SSRC"
        assert 202 in packets and b"sylk-" in packets[202], f"no CNAME: {data!r}"
        rr = struct.pack("!BBHI", 0x80, 201, 1, report["sent_ssrc"])
        rtcp.sendto(rr, (m["c"], m["port"] + 1))
        time.sleep(0.2)
        assert call.bye().status == 200
        server.wait_log(f"RTP port {m['port']} closed")
        line = server.log().split(f"RTP port {m['port']} closed")[1].splitlines()[0]
        assert "RTCP 1 in" in line, line
    finally:
        rtp.close()
        rtcp.close()


def srtp_call(server, ua, sock, suite, codec=(0, "PCMU/8000")):
    """An RTP/SAVP call with our SDES key; returns (dialog, media, (send ctx, receive ctx))."""
    value, key, salt = srtp.make_sdes(tag=1, suite=suite)
    offer = sdp_offer(sock.getsockname()[1], [codec], extra_lines=[f"a=crypto:{value}"])
    offer = offer.replace(b" RTP/AVP ", b" RTP/SAVP ")
    d = ua.invite(f"sip:echo@{server.uri_host}", offer)
    assert d.response.status == 200, ua.trace()
    m = [m for m in parse_sdp(d.response.body)["media"] if m["type"] == "audio"][0]
    crypto = [a for a in m["attrs"] if a.startswith("crypto:")]
    assert m["proto"] == "RTP/SAVP" and len(crypto) == 1, m
    _, their_suite, skey, ssalt = srtp.parse_sdes(crypto[0])
    assert their_suite == suite, crypto
    d.ack()
    return d, m, (srtp.Context(key, salt, suite), srtp.Context(skey, ssalt, suite))


@pytest.mark.parametrize("suite,codec,name,freq", [
    ("AES_CM_128_HMAC_SHA1_80", (0, "PCMU/8000"), "PCMU", 700),
    ("AES_CM_128_HMAC_SHA1_32", (111, "opus/48000/2"), "opus", 1300),
])
def test_srtp_tone_echoed(server, ua_factory, rtp_socket, suite, codec, name, freq):
    """SRTP (SDES) with our own RFC 3711 peer: the tone goes in encrypted, is decrypted,
    decoded, re-encoded and comes back encrypted with the server's key, every packet
    authenticating."""
    ua, sock = ua_factory(server), rtp_socket()
    d, m, ctx = srtp_call(server, ua, sock, suite, codec)
    report = rtp_tone.run(m["c"], m["port"], name, codec[0], freq, 2.0, sock=sock, srtp=ctx)
    assert_tone_echoed(report, freq)
    assert report["srtp_auth_failures"] == 0, report
    assert d.bye().status == 200


def _stun(method, tid, attrs=b""):
    """A STUN message (RFC 5389): type, length, magic cookie, 96-bit transaction id."""
    return struct.pack("!HHI12s", method, len(attrs), 0x2112A442, tid) + attrs


def test_stun_keepalives_counted_as_stun_not_dropped(server, ua_factory, rtp_socket):
    """Linphone keeps its NAT binding open with STUN on the RTP port: Binding Requests (with
    the magic cookie, as ICE sends them) and Binding Indications, on RTP and RTCP, while its
    audio flows. They are counted as STUN when the stream closes, not as drops; they are not
    answered (we offer no ICE, so none could be authenticated); the audio is not disturbed."""
    ua = ua_factory(server)
    rtp, side = rtp_socket(), rtp_socket()
    d = ua.invite(f"sip:echo@{server.uri_host}", sdp_offer(rtp.getsockname()[1], [PCMU]))
    m = _answer(d, ua)
    d.ack()
    dest = (m["c"], m["port"])
    report = {}
    talker = threading.Thread(target=lambda: report.update(
        rtp_tone.run(*dest, "PCMU", 0, 700, 2.5, sock=rtp)))
    talker.start()
    software = struct.pack("!HH", 0x8022, 8) + b"linphone"
    sent = 0
    for i in range(10):
        tid = struct.pack("!III", 0x51, 0x7e57, i)
        rtp.sendto(_stun(0x0001, tid, software), dest)                 # Binding Request
        rtp.sendto(_stun(0x0011, tid), dest)                           # Binding Indication
        rtp.sendto(_stun(0x0001, tid), (dest[0], dest[1] + 1))         # on RTCP too
        sent += 3
        time.sleep(0.1)
    side.sendto(_stun(0x0001, b"side-request"), dest)
    sent += 1
    talker.join()
    side.settimeout(0.5)
    with pytest.raises(socket.timeout):
        side.recv(2048)  # not answered
    assert_tone_echoed(report, 700)
    assert d.bye().status == 200
    server.wait_log(f"RTP port {m['port']} closed")
    line = server.log().split(f"RTP port {m['port']} closed")[1].splitlines()[0]
    stun = re.search(r"(\d+) STUN", line)
    dropped = re.search(r"(\d+) dropped", line)
    assert stun and int(stun.group(1)) == sent, line
    assert dropped and int(dropped.group(1)) < sent, line
