"""Bad input the server must answer and survive: SDP that once made sofia-sip's parser
allocate without bound (fuzzer findings), garbage datagrams, an oversized UDP request, and
malformed or flooding RTP/RTCP in the middle of a call whose audio must go on."""
import re
import socket
import struct
import threading
import time

import pytest

import rtp_tone
import srtp
from sip_client import SipUA, parse_sdp, sdp_offer

FUZZ_SDP = [
    b"v=0\r\nm=audio 20000 RT?P/AVP 0 9ap:9 G722ephone-event\xce/8000",
    b"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\n"
    b"m=audio 400RvT0 =P/AVP 8\r\na=sendonly\r\nm=video 400\r\no02 =-R ",
    b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 20000 RTPA0 /V9P 1 1\r\n",
]


@pytest.mark.parametrize("sdp", FUZZ_SDP, ids=["non-ascii-format", "equals-format", "slash-format"])
def test_fuzzer_found_sdp_gets_488(server, sdp):
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp)
        assert call.response.status == 488
        assert "malformed SDP" in (call.response.get("Warning") or "")
        assert ua.request("OPTIONS", f"sip:echo@{server.uri_host}").status == 200
        server.wait_log("malformed SDP")
    finally:
        ua.close()


def test_garbage_datagrams_are_ignored(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for junk in (b"", b"\x00" * 100, b"INVITE\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n",
                 bytes(range(256)) * 4):
        s.sendto(junk, ("127.0.0.1", server.sip_port))
    s.close()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        assert ua.request("OPTIONS", f"sip:echo@{server.uri_host}").status == 200
        assert server.alive()
    finally:
        ua.close()


def _bad_rtp(ssrc):
    """Datagrams no RTP stack may take, each with the caller's own SSRC where it has one."""
    hdr = struct.pack("!BBHII", 0x80, 0, 1, 0, ssrc)
    return [
        b"\x80",                                                  # one byte
        hdr[:11],                                                 # truncated header
        bytes([0x00]) + hdr[1:] + b"\xff" * 160,                  # version 0
        bytes([0x8f]) + hdr[1:] + b"\x00" * 8,                    # 15 CSRCs in 8 bytes
        bytes([0x90]) + hdr[1:] + b"\xbe\xde\x7f\xff",            # extension longer than packet
        bytes([0xa0]) + hdr[1:] + b"\x00" * 10 + b"\xff",          # padding longer than payload
    ]


def test_malformed_rtp_and_flood_dropped_call_goes_on(server):
    """Malformed RTP and RTCP from the caller's own address, and a flood from another SSRC,
    are dropped and counted (the count is logged when the stream closes) while the caller's
    tone keeps coming back decoded."""
    ua = SipUA(("127.0.0.1", server.sip_port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(sock.getsockname()[1]))
        assert call.response.status == 200, ua.trace()
        media = parse_sdp(call.response.text)["media"][0]
        call.ack()
        dest = (media["c"], media["port"])
        report = {}
        talker = threading.Thread(target=lambda: report.update(
            rtp_tone.run(*dest, "PCMU", 0, 800, 2.5, sock=sock)))
        talker.start()
        time.sleep(0.5)  # the tone's SSRC is latched by now
        bad = 0
        for _ in range(20):
            for junk in _bad_rtp(0x12345678):
                sock.sendto(junk, dest)
                sock.sendto(junk, (dest[0], dest[1] + 1))  # RTCP port: garbage too
                bad += 1
            time.sleep(0.02)
        for i in range(3000):  # a burst from an SSRC that is not the caller's
            flood.sendto(struct.pack("!BBHII", 0x80, 0, i, i * 160, 0xBADBAD) + b"\xff" * 160,
                         dest)
        talker.join()
        assert abs(report["dominant_hz"] - 800) <= 20, report
        assert report["freq_power_ratio"] > 0.7, report
        assert report["received"] >= report["sent"] * 0.8, report
        assert call.bye().status == 200
        server.wait_log(f"RTP port {media['port']} closed")
        line = server.log().split(f"RTP port {media['port']} closed")[1].splitlines()[0]
        counts = re.search(r"(\d+) dropped", line)
        assert counts and int(counts.group(1)) >= 2 * bad, f"drops not counted: {line}"
        assert server.alive()
    finally:
        sock.close()
        flood.close()
        ua.close()


def test_bad_srtp_tags_dropped_call_goes_on(server):
    """SRTP packets with the caller's SSRC but a broken authentication tag (and replays of
    good ones) are dropped and counted; the real, authenticated stream goes on."""
    from test_rtp_echo import srtp_call
    ua = SipUA(("127.0.0.1", server.sip_port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        d, m, (send, recv) = srtp_call(server, ua, sock, "AES_CM_128_HMAC_SHA1_80")
        dest = (m["c"], m["port"])
        report, ssrc = {}, 0x5EC0DE
        talker = threading.Thread(target=lambda: report.update(
            rtp_tone.run(*dest, "PCMU", 0, 600, 2.5, sock=sock, srtp=(send, recv), ssrc=ssrc)))
        talker.start()
        time.sleep(0.5)
        # A forger with its own key and the talker's SSRC: its tags never verify.
        _, key, salt = srtp.make_sdes(tag=1, suite="AES_CM_128_HMAC_SHA1_80")
        forger = srtp.Context(key, salt, "AES_CM_128_HMAC_SHA1_80")
        bad = 0
        for i in range(100):
            pkt = struct.pack("!BBHII", 0x80, 0, 40000 + i, i * 160, ssrc) + b"\xff" * 160
            sock.sendto(forger.protect(pkt), dest)
            bad += 1
            if i % 10 == 0:
                time.sleep(0.02)
        talker.join()
        assert abs(report["dominant_hz"] - 600) <= 20, report
        assert report["srtp_auth_failures"] == 0, report
        assert report["received"] >= report["sent"] * 0.8, report
        assert d.bye().status == 200
        server.wait_log(f"RTP port {m['port']} closed")
        line = server.log().split(f"RTP port {m['port']} closed")[1].splitlines()[0]
        counts = re.search(r"(\d+) dropped", line)
        assert counts and int(counts.group(1)) >= bad, f"forged packets not counted: {line}"
    finally:
        sock.close()
        ua.close()
