"""Bad input the server must answer and survive: SDP that once made sofia-sip's parser
allocate without bound (fuzzer findings), garbage datagrams, an oversized UDP request."""
import socket

import pytest

from sip_client import SipUA

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
