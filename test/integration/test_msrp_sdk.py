"""The MSRP parts of the SDK (ABI 1.3) driven through the probe test plugin from our own RFC 4975
client (test/peers/msrp_client.py) and SIP UA (test/peers/sip_client.py):

- chat: CPIM headers reach the plugin, a message the plugin refuses gets 403, is-composing
  (RFC 3994) goes both ways, NICKNAME (RFC 7701) granted, refused 425, malformed 400;
- file transfer (RFC 5547): a pushed file lands on disk with its SHA-1, a pulled file arrives
  byte for byte, a file larger than its offer is refused 413;
- sessions the server originates (RFC 6135 active side): chat and a file offered by the
  server, which connects to the answerer's MSRP listener over TLS and TCP.
"""
import hashlib
import os
import re

import pytest

from conftest import BUILD, free_port
from msrp_client import (EchoServer, MsrpClient, answer_path, cpim_parse, cpim_wrap,
                         make_request, make_self_signed_cert, msrp_sdp_offer, parse_msrp_sdp)

PROBE_DIR = os.path.join(BUILD, "test", "plugins")
PROBE_MAP = "probe:probe, chatprobe:probe, filesink:probe, filesource:probe"


def probe_server(server_factory, tls=True):
    return server_factory(plugins_dir=PROBE_DIR,
                          config={"server": {"application_map": PROBE_MAP},
                                  "msrp": {"use_tls": "yes" if tls else "no"}}).start()


@pytest.fixture
def server(server_factory):
    return probe_server(server_factory)


def logged(server, text, timeout=10):
    """Waits for a log line containing text and returns it."""
    server.wait_log(text, timeout)
    return next(line for line in server.log().splitlines() if text in line)


COMPOSING = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
             '<state>active</state><contenttype>text/plain</contenttype>'
             '<refresh>60</refresh></isComposing>')


def call(server, ua, client, user, extra_lines=(), headers=(), setup="active"):
    offer = msrp_sdp_offer("127.0.0.1", client.local_port, client.sdp_path, tls=client.tls,
                           setup=setup, extra_lines=extra_lines,
                           accept_types=("*",) if extra_lines else ("message/cpim", "text/plain"))
    dialog = ua.invite(f"sip:{user}@{server.uri_host}", sdp=offer, extra=headers)
    assert dialog.response.status == 200, ua.trace() + server.log()[-2000:]
    dialog.ack()
    return dialog


def selector(data, name="data.bin", ctype="application/octet-stream"):
    digest = hashlib.sha1(data).hexdigest().upper()
    pairs = ":".join(digest[i:i + 2] for i in range(0, 40, 2))
    return f'a=file-selector:name:"{name}" type:{ctype} size:{len(data)} hash:sha-1:{pairs}', pairs


def test_chat_headers_refusal_composing_nickname(server, ua_factory):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    try:
        dialog = call(server, ua, client, "chatprobe")
        client.connect(answer_path(dialog.response.body))
        wrapped = cpim_wrap("sip:tester@127.0.0.1", ["sip:room@example.com", "sip:bob@example.com"],
                            "hi there", ns=[("agp", "urn:ag-projects:xml:ns:cpim")],
                            extra_headers=[("agp.Message-Type", "status")])
        assert client.send_message(wrapped, content_type="message/cpim").ok, client.trace()
        line = logged(server, "chat message ")
        assert "cpim=1" in line and "body=hi there" in line, line
        assert "[To: <sip:room@example.com>] [To: <sip:bob@example.com>]" in line, line
        assert "[agp.Message-Type: status]" in line and "[NS: agp <urn:" in line, line

        refused = client.send_message(b"refuse-me", content_type="text/plain",
                                      success_report="yes")
        assert refused.statuses == [403], client.trace()
        logged(server, "chat refuse: 0")

        composing = cpim_wrap("sip:tester@127.0.0.1", "sip:chatprobe@example.com", COMPOSING,
                              content_type="application/im-iscomposing+xml")
        assert client.send_message(composing, content_type="message/cpim").ok
        line = logged(server, "composing active=1")
        assert "refresh=60 type=text/plain from=<sip:tester@127.0.0.1>" in line, line
        idle = client.receive_message(timeout=5)
        headers, content, body = cpim_parse(idle.body)
        assert content.get("Content-Type") == "application/im-iscomposing+xml", idle.body
        assert b"<state>idle</state>" in body and "sip:tester@127.0.0.1" in dict(headers)["To"]

        def nickname(value):
            hdrs = [] if value is None else [("Use-Nickname", value)]
            frame = client.send_frame(make_request("NICKNAME", client.to_path, [client.local_uri],
                                                   hdrs))
            return client.wait_response(frame.transaction_id).status
        assert nickname('"taken"') == 425
        assert nickname('"Alice \\"A\\""') == 200
        logged(server, 'nickname Alice "A"')
        assert nickname(None) == 400
        assert nickname('"' + "x" * 300 + '"') == 423
        assert dialog.bye().status == 200
    finally:
        client.close()


def test_file_push_to_disk(server, ua_factory, tmp_path):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    data = os.urandom(1 << 20) + b"tail"
    line, pairs = selector(data, name="photo.jpg", ctype="image/jpeg")
    target = tmp_path / "received.bin"
    try:
        dialog = call(server, ua, client, "filesink", extra_lines=[line, "a=sendonly"],
                      headers=[("X-Save-To", str(target))])
        ours = parse_msrp_sdp(dialog.response.body)
        assert "recvonly" in ours["attrs"], ours
        assert f"file info photo.jpg {len(data)} {pairs}" in server.log()
        client.connect(answer_path(dialog.response.body))
        sent = client.send_message(data, content_type="image/jpeg", chunk_size=2048,
                                   wait="all")
        assert sent.ok, sent
        done = logged(server, "file done ")
        assert f"file done 200 {pairs} {len(data)}" in done, done
        assert "file progress" in server.log()
        assert target.read_bytes() == data
        assert dialog.bye().status == 200
    finally:
        client.close()


def test_file_larger_than_offered_is_refused(server, ua_factory, tmp_path):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    line, _ = selector(b"x" * 100)
    try:
        dialog = call(server, ua, client, "filesink", extra_lines=[line, "a=sendonly"],
                      headers=[("X-Save-To", str(tmp_path / "f"))])
        client.connect(answer_path(dialog.response.body))
        sent = client.send_message(b"y" * 5000, content_type="application/octet-stream",
                                   chunk_size=2048)
        assert sent.statuses[0] == 413, sent
        assert "file done 413" in logged(server, "file done ")
        assert server.alive()
    finally:
        client.close()


def test_file_pull_from_disk(server, ua_factory, tmp_path):
    ua, client = ua_factory(server), MsrpClient(tls=True)
    data = os.urandom(3 << 20)
    source = tmp_path / "stored.bin"
    source.write_bytes(data)
    line, pairs = selector(data, name="stored.bin")
    try:
        dialog = call(server, ua, client, "filesource", extra_lines=[line, "a=recvonly"],
                      headers=[("X-Send-File", str(source))])
        assert "sendonly" in parse_msrp_sdp(dialog.response.body)["attrs"]
        client.connect(answer_path(dialog.response.body))
        client.send_empty()  # binds the connection: the file waits for it
        got = client.receive_message(timeout=20)
        assert got.content_type == "application/octet-stream", got
        assert hashlib.sha1(got.body).hexdigest() == hashlib.sha1(data).hexdigest()
        done = logged(server, "file done ", timeout=20)
        assert f"file done 200 - {len(data)}" in done, done
        assert dialog.bye().status == 200
    finally:
        client.close()


def answer_invite(ua, listener, setup="passive"):
    """Waits for the server's INVITE, answers it with the listener's path; returns the offer."""
    invite = ua.wait_request("INVITE", timeout=10)
    offer = parse_msrp_sdp(invite.body)
    assert offer and offer["setup"] == "actpass", invite.text
    answer = msrp_sdp_offer("127.0.0.1", listener.port, listener.uri, tls=listener.tls,
                            setup=setup, accept_types=("*",))
    ua.respond(invite, 200, body=answer, content_type="application/sdp",
               headers=[("Contact", f"<sip:target@127.0.0.1:{ua.port}>")])
    return invite, offer


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "tcp"])
def test_server_originated_chat(server_factory, ua_factory, tmp_path, tls):
    server = probe_server(server_factory, tls)
    ua = ua_factory(server)
    cert, key = make_self_signed_cert(str(tmp_path)) if tls else (None, None)
    listener = EchoServer(tls=tls, certfile=cert, keyfile=key).start()
    try:
        status = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body=b"dial",
                            content_type="text/plain",
                            extra=[("X-Probe", f"dial-chat sip:target@127.0.0.1:{ua.port}")]).status
        assert status == 202
        invite, offer = answer_invite(ua, listener)
        assert offer["proto"] == ("TCP/TLS/MSRP" if tls else "TCP/MSRP"), invite.text
        assert listener.wait_received(1, timeout=10), server.log()[-3000:]
        sent = listener.received[0]
        assert sent.content_type == "message/cpim", sent
        headers, content, body = cpim_parse(sent.body)
        assert body == b"hello from probe" and "sip:probe@example.com" in dict(headers)["From"]
        logged(server, "chat sent hello: 200")
        line = logged(server, "chat message ")  # the echo came back over our connection
        assert "body=hello from probe" in line, line
    finally:
        listener.stop()


def test_server_originated_file(server, ua_factory, tmp_path):
    ua = ua_factory(server)
    listener = EchoServer(tls=True, certfile=make_self_signed_cert(str(tmp_path))[0],
                          keyfile=str(tmp_path / "key.pem"), echo=False).start()
    data = os.urandom(300000)
    path = tmp_path / "offer.txt"
    path.write_bytes(data)
    try:
        status = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body=b"dial",
                            content_type="text/plain",
                            extra=[("X-Probe", f"dial-file sip:target@127.0.0.1:{ua.port} {path}")]
                            ).status
        assert status == 202
        invite, offer = answer_invite(ua, listener)
        attrs = offer["attrs"]
        assert "sendonly" in attrs, invite.text
        sel = [a for a in attrs if a.startswith("file-selector:")]
        assert sel and 'name:"offer.txt"' in sel[0] and f"size:{len(data)}" in sel[0], attrs
        assert any(re.match(r"file-transfer-id:\w+", a) for a in attrs), attrs
        assert listener.wait_received(1, timeout=15), server.log()[-3000:]
        assert listener.received[0].body == data
        done = logged(server, "file done ", timeout=10)
        assert f"file done 200 - {len(data)}" in done, done
    finally:
        listener.stop()


def test_server_originated_chat_peer_unreachable(server, ua_factory):
    """The answerer's path goes nowhere: what the plugin sent fails (408), the server is fine."""
    ua = ua_factory(server)
    status = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body=b"dial",
                        content_type="text/plain",
                        extra=[("X-Probe", f"dial-chat sip:target@127.0.0.1:{ua.port}")]).status
    assert status == 202
    invite = ua.wait_request("INVITE", timeout=10)
    dead = free_port(("tcp",))
    answer = msrp_sdp_offer("127.0.0.1", dead, f"msrps://127.0.0.1:{dead}/nobody;tcp",
                            setup="passive")
    ua.respond(invite, 200, body=answer, content_type="application/sdp",
               headers=[("Contact", f"<sip:target@127.0.0.1:{ua.port}>")])
    logged(server, "chat sent hello: 408")
    assert server.alive()


def test_chat_attributes_and_updates(server, ua_factory):
    """ABI 1.4: our answer's a=chatroom set by the plugin, the offer's attributes read by it,
    and a re-INVITE that holds then disables the chat stream reported through `updated`."""
    ua, client = ua_factory(server), MsrpClient(tls=True)
    try:
        dialog = call(server, ua, client, "chatprobe")
        ours = parse_msrp_sdp(dialog.response.body)
        assert "chatroom:nickname private-messages" in ours["attrs"], ours
        log = server.log()
        assert "remote accept-types message/cpim text/plain" in log
        assert "set chatroom: 0" in log and "set path: -95" in log, log[-2000:]
        assert "set chatroom after: -114" in log
        client.connect(answer_path(dialog.response.body))
        assert client.send_message(b"before hold").ok

        from test_dialogs import reinvite
        base = msrp_sdp_offer("127.0.0.1", client.local_port, client.sdp_path, tls=True)
        held = reinvite(dialog, base + b"a=sendonly\r\n")
        assert held.status == 200, held.text
        dialog.ack()
        assert "direction 2" in logged(server, "updated: stream 0")  # we receive only
        port = f" {client.local_port} ".encode()
        disabled = reinvite(dialog, base.replace(port, b" 0 ", 1))
        assert disabled.status == 200, disabled.text
        dialog.ack()
        server.wait_log("enabled 0")
        assert dialog.bye().status == 200
    finally:
        client.close()


BAD_ENCODING = [
    # declares ISO-2022-JP, then bytes that are no ISO-2022-JP
    b'<?xml version="1.0" encoding="ISO-2022-JP"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:'
    b'im-iscomposing"><state>active</state><contenttype>\x1b$B\xff\xfe\x1b(B</contenttype>'
    b'</isComposing>',
    # declares UTF-16, holds UTF-8
    b'<?xml version="1.0" encoding="UTF-16"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:'
    b'im-iscomposing"><state>active</state></isComposing>',
]


def test_composing_with_bad_encoding_stays_off_stderr(server, ua_factory):
    """An is-composing document that declares an encoding and holds bytes invalid in it is
    refused 400 as before; libxml2's complaints about it go to our log at debug level (one line
    for a burst of them), never as raw lines on the server's stderr, once per message."""
    ua, client = ua_factory(server), MsrpClient(tls=True)
    try:
        dialog = call(server, ua, client, "chatprobe")
        client.connect(answer_path(dialog.response.body))
        for _ in range(3):
            for doc in BAD_ENCODING:
                wrapped = cpim_wrap("sip:tester@127.0.0.1", "sip:chatprobe@example.com", doc,
                                    content_type="application/im-iscomposing+xml")
                sent = client.send_message(wrapped, content_type="message/cpim")
                assert sent.statuses == [400], client.trace()
        logged(server, "bad is-composing document")
        good = cpim_wrap("sip:tester@127.0.0.1", "sip:chatprobe@example.com", COMPOSING,
                         content_type="application/im-iscomposing+xml")
        assert client.send_message(good, content_type="message/cpim").ok  # still served
        logged(server, "composing active=1")
        assert dialog.bye().status == 200
    finally:
        client.close()
    log = server.log()
    raw = [line for line in log.splitlines()
           if line.startswith(("encoding error", "I/O error", "parser error", "iscomposing.xml:"))]
    assert not raw, raw
    routed = [line for line in log.splitlines() if "DEBUG sylk-xml" in line]
    assert len(routed) == 1, routed
    assert "libxml2" in routed[0] and "input conversion failed" in routed[0], routed
