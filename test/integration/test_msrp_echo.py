"""MSRP chat with the echo plugin through our own RFC 4975 client (test/peers/msrp_client.py)
and, for the SIP part, test/peers/sip_client.py: TLS and TCP, plain and CPIM-wrapped messages
(From/To swapped on the way back), chat alongside audio, a 5 MB message in 2 KB chunks,
REPORTs, a session-id mismatch (481), a TCP reset in the middle of a message, and the path
through a real RFC 4976 relay (Kamailio)."""
import hashlib
import os
import re
import socket

import pytest

import conftest  # noqa: F401  (puts test/peers on sys.path)
from msrp_client import MsrpClient, answer_path, cpim_parse, cpim_wrap, msrp_sdp_offer
from sip_client import parse_sdp, sdp_offer


def tls_server(server_factory, tls):
    return server_factory(config={"msrp": {"use_tls": "yes" if tls else "no"}}).start()


def chat_call(server, ua, client, extra_media=b""):
    """INVITE echo with a chat offer; returns (dialog, the server's m=message attributes)."""
    offer = msrp_sdp_offer("127.0.0.1", client.local_port, client.sdp_path
                           if client.use_path else client.local_uri, tls=client.tls)
    if extra_media:
        offer = offer + extra_media
    call = ua.invite(f"sip:echo@{server.uri_host}", sdp=offer)
    assert call.response.status == 200, ua.trace()
    call.ack()
    media = [m for m in parse_sdp(call.response.body)["media"] if m["type"] == "message"]
    assert len(media) == 1 and media[0]["port"] == server.msrp_port, call.response.text
    return call, media[0]


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "tcp"])
def test_echo_chat(server_factory, ua_factory, tls):
    server = tls_server(server_factory, tls)
    ua, client = ua_factory(server), MsrpClient(tls=tls)
    try:
        call, m = chat_call(server, ua, client)
        attrs = m["attrs"]
        assert "setup:passive" in attrs, attrs
        proto = "TCP/TLS/MSRP" if tls else "TCP/MSRP"
        assert proto in call.response.text, call.response.text
        path = answer_path(call.response.body)
        assert re.match(rf"msrps?://127\.0\.0\.1:{server.msrp_port}/\w+;tcp$", path[-1]), path
        client.connect(path)
        sent = client.send_message(b"hello echo", content_type="text/plain")
        assert sent.ok, client.trace()
        back = client.receive_message(timeout=5)
        assert back.content_type == "text/plain" and back.body == b"hello echo", client.trace()

        wrapped = cpim_wrap("sip:tester@127.0.0.1", f"sip:echo@{server.uri_host}",
                            "with CPIM", content_type="text/html")
        assert client.send_message(wrapped, content_type="message/cpim").ok, client.trace()
        back = client.receive_message(timeout=5)
        assert back.content_type == "message/cpim", back
        headers, content, body = cpim_parse(back.body)
        headers = dict(headers)
        assert body == b"with CPIM" and content.get("Content-Type") == "text/html", back.body
        assert "sip:tester@127.0.0.1" in headers["To"], headers
        assert f"sip:echo@{server.uri_host}" in headers["From"], headers
        assert "DateTime" in headers, headers
        assert call.bye().status == 200
    finally:
        client.close()


def test_chat_with_audio_and_reports(server, ua_factory):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    try:
        audio = sdp_offer(rtp.getsockname()[1]).split(b"m=audio", 1)[1]
        call, _ = chat_call(server, ua, client, extra_media=b"m=audio" + audio)
        streams = parse_sdp(call.response.body)["media"]
        assert [s["type"] for s in streams] == ["message", "audio"], call.response.text
        assert all(s["port"] for s in streams), call.response.text
        client.connect(answer_path(call.response.body))
        sent = client.send_message(b"report me", success_report="yes")
        assert sent.ok, client.trace()
        report = client.expect_report(sent.message_id, timeout=5, status=200)
        assert report.byte_range[2] == 9, report
        assert client.receive_message(timeout=5).body == b"report me"
        assert call.bye().status == 200
    finally:
        rtp.close()
        client.close()


def test_five_megabytes_in_two_kilobyte_chunks(server, ua_factory):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    try:
        call, _ = chat_call(server, ua, client)
        client.connect(answer_path(call.response.body))
        data = os.urandom(5 * 1024 * 1024)
        sent = client.send_message(data, content_type="application/octet-stream",
                                   chunk_size=2048, wait="all", timeout=60)
        assert sent.ok and len(sent.statuses) == 2560, client.trace()
        back = client.receive_message(timeout=60)
        assert back.sha1 == hashlib.sha1(data).hexdigest(), back
        assert call.bye().status == 200
    finally:
        client.close()


def test_session_id_mismatch_gets_481(server, ua_factory):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    try:
        call, _ = chat_call(server, ua, client)
        path = answer_path(call.response.body)
        client.connect(path)
        wrong = re.sub(r"/\w+;tcp$", "/notoursession;tcp", path[-1])
        sent = client.send_message(b"lost", to_path=path[:-1] + [wrong], wait="each")
        assert sent.statuses == [481], client.trace()
        server.wait_log("for unknown session notoursession: 481")
        assert client.send_message(b"found").ok, client.trace()  # the real one still works
        assert client.receive_message(timeout=5).body == b"found"
        assert call.bye().status == 200
    finally:
        client.close()


def test_reset_mid_message_then_a_new_session(server, ua_factory):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    call, _ = chat_call(server, ua, client)
    client.connect(answer_path(call.response.body))
    client.send_chunks([b"a" * 2048, b"b" * 2048], flags=["+", "+"], total=10 * 2048)
    client.reset()
    server.wait_log("MSRP connection from")
    assert call.bye().status == 200
    again = MsrpClient(tls=True)
    try:
        call2, _ = chat_call(server, ua, again)
        again.connect(answer_path(call2.response.body))
        assert again.send_message(b"still here").ok, again.trace()
        assert again.receive_message(timeout=5).body == b"still here"
        assert call2.bye().status == 200
        assert server.alive()
    finally:
        again.close()


def test_chat_through_kamailio_msrp_relay(server_factory, ua_factory, tmp_path):
    """The client AUTHs to a real RFC 4976 relay and puts it in its a=path; the server's
    messages reach it through the relay, and ours reach the server (REPORT end to end)."""
    from kamailio_relay import KamailioRelay
    server = tls_server(server_factory, False)  # the relay here speaks plain TCP
    relay = KamailioRelay(str(tmp_path / "relay"), tls=False)
    relay_uri = relay.start()
    ua, client = ua_factory(server), MsrpClient(tls=False)
    try:
        client.auth(relay_uri)
        assert client.use_path, client.trace()
        call, _ = chat_call(server, ua, client)
        client.connect(answer_path(call.response.body))
        sent = client.send_message(b"via the relay", success_report="yes")
        assert sent.ok, client.trace()
        client.expect_report(sent.message_id, timeout=5, status=200)
        back = client.receive_message(timeout=5)
        assert back.body == b"via the relay", client.trace()
        assert relay_uri.split(";")[0] in " ".join(back.from_path), back.from_path
        assert call.bye().status == 200
    finally:
        client.close()
        relay.stop()


def test_reinvite_adds_chat_to_an_audio_call(server, ua_factory):
    """RFC 3264 8.1: a re-INVITE appends an m=message line to an audio call; echo takes it and
    echoes chat on it. Removing a line instead of disabling it is refused (488)."""
    from test_dialogs import reinvite
    ua, client = ua_factory(server), MsrpClient(tls=True)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    try:
        audio = sdp_offer(rtp.getsockname()[1])
        call = ua.invite(f"sip:echo@{server.uri_host}", sdp=audio)
        assert call.response.status == 200, ua.trace()
        call.ack()
        chat = msrp_sdp_offer("127.0.0.1", client.local_port, client.local_uri, tls=True)
        offer = audio + b"m=message" + chat.split(b"m=message", 1)[1]
        resp = reinvite(call, offer)
        assert resp.status == 200, resp.text
        call.ack()
        streams = parse_sdp(resp.body)["media"]
        assert [(m["type"], bool(m["port"])) for m in streams] == [("audio", True),
                                                                   ("message", True)], resp.text
        client.connect(answer_path(resp.body))
        assert client.send_message(b"added later").ok, client.trace()
        assert client.receive_message(timeout=5).body == b"added later"
        shrunk = reinvite(call, audio)
        assert shrunk.status == 488, shrunk.text
        assert call.bye().status == 200
    finally:
        rtp.close()
        client.close()
