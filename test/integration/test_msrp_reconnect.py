"""MSRP sessions whose connection goes away and comes back (RFC 4975 5.4), driven by our own
RFC 4975 client (test/peers/msrp_client.py) against the echo and conference plugins and the
probe plugin's server-originated chat:

- the server closes the connection (a bad frame), or the client closes or resets it, and the
  client connects again to the same session: both directions work on the new connection;
- what the server had to send meanwhile (messages sent while nobody was connected, chunks in
  flight or queued on the dead connection) arrives on the new one, complete and in order;
- a second connection for a session from the session's peer (even from another address) takes
  the session over and the older one is closed; a stranger's frames on it get 481;
- a session the server opened (RFC 6135 active side) is reconnected by the server;
- when nobody comes back within [msrp] reconnect_timeout what was pending fails (408) and the
  plugin hears it.
"""
import hashlib
import os
import re
import socket
import threading
import time

import pytest

from conftest import BUILD
from msrp_client import (EchoServer, MsrpClient, answer_path, cpim_parse, make_request,
                         make_self_signed_cert, msrp_sdp_offer, parse_msrp_sdp)
from test_conference import Member, members  # noqa: F401  (the fixture)
from test_msrp_echo import chat_call

PROBE_DIR = os.path.join(BUILD, "test", "plugins")


def tls_server(server_factory, tls, **config):
    msrp = {"use_tls": "yes" if tls else "no"}
    msrp.update(config)
    return server_factory(config={"msrp": msrp}).start()


def bad_frame(client):
    """A frame that does not parse makes the server close the connection."""
    client.send_raw(b"MSRP t1 SEND\r\n-------t1$\r\n")
    assert client.wait_closed(5), client.trace()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "tcp"])
def test_server_closes_and_the_peer_reconnects(server_factory, ua_factory, tls):
    """The issue's case: after the server closed the connection, a reconnect binds the same
    session; our SEND is accepted and the echo comes back on the new connection."""
    server = tls_server(server_factory, tls)
    ua, client = ua_factory(server), MsrpClient(tls=tls)
    try:
        call, _ = chat_call(server, ua, client)
        client.connect(answer_path(call.response.body))
        assert client.send_message(b"before").ok, client.trace()
        assert client.receive_message(timeout=5).body == b"before"
        bad_frame(client)
        server.wait_log("closed: bad MSRP frame")
        client.reconnect()
        assert client.send_message(b"after").ok, client.trace()
        assert client.receive_message(timeout=5).body == b"after", server.log()[-3000:]
        assert "not connected" not in server.log()
        assert call.bye().status == 200
    finally:
        client.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_message_in_flight_is_resent_whole(server, ua_factory, how):
    """The client stops reading as the echo of a 4 MB message starts (its chunks unanswered,
    most still queued in the server or in socket buffers), then drops the connection: every
    chunk not acknowledged is sent again (same Message-ID and Byte-Ranges) on the new
    connection, and the message arrives whole, once."""
    ua, client = ua_factory(server), MsrpClient(tls=True)
    try:
        call, _ = chat_call(server, ua, client)
        client.connect(answer_path(call.response.body))
        data = os.urandom(4 << 20)
        ours = []

        def pause_at_the_echo(conn, f):
            if f.method == "SEND" and f.message_id not in ours:
                conn.pause_reading()
        client.auto_respond = False  # the echo's chunks stay unanswered
        client.on_frame = pause_at_the_echo
        sent = client.send_message(data, content_type="application/octet-stream",
                                   chunk_size=16384, wait=None)
        ours.append(sent.message_id)
        deadline = time.time() + 20
        while not client.paused and time.time() < deadline:
            time.sleep(0.05)
        assert client.paused, client.trace()
        client.on_frame = None
        client.reconnect(reset=(how == "rst"))
        client.auto_respond = True
        back = client.receive_message(timeout=30)
        assert back.sha1 == hashlib.sha1(data).hexdigest(), back
        with pytest.raises(AssertionError):  # delivered once
            client.receive_message(timeout=1, match=lambda m: m.message_id == back.message_id)
        again = re.findall(r"(\d+) unacknowledged chunks? of \d+ messages? to send again",
                           server.log())
        assert again and int(again[-1]) > 0, server.log()[-3000:]
        assert client.send_message(b"and on").ok
        assert client.receive_message(timeout=5).body == b"and on"
        assert call.bye().status == 200
    finally:
        client.close()


def test_messages_sent_while_disconnected_arrive_in_order(server, members):
    """Conference: bob's connection closes (FIN); alice says five things meanwhile; bob
    reconnects and gets all five, in order, once; then both directions work."""
    alice, bob = members("alice"), members("bob")
    assert alice.join().status == 200
    assert bob.join().status == 200
    alice.expect_notice("bob@127.0.0.1 has joined")
    assert alice.say("warm-up").ok
    bob.expect("warm-up")
    bob.msrp.close()
    server.wait_log("waiting")
    said = [f"while away {i}" for i in range(5)]
    for text in said:
        assert alice.say(text).ok, alice.msrp.trace()
    bob.msrp = MsrpClient(tls=True, local_uri=bob.msrp.local_uri)
    bob.msrp.connect(answer_path(bob.dialog.response.body))
    bob.msrp.send_empty()
    got = []
    for _ in said:
        m = bob.msrp.receive_message(timeout=10, match=lambda x: b"while away" in x.body)
        got.append(cpim_parse(m.body)[2].decode())
    assert got == said, got
    assert bob.nothing("while away", wait=1)
    assert bob.say("back again").ok
    alice.expect("back again")
    assert alice.say("welcome back").ok
    bob.expect("welcome back")
    assert server.alive()


def test_newest_connection_takes_the_session(server, ua_factory):
    """A second connection for the session, from the session's peer URI but another address
    (127.0.0.2): its SEND is taken and the echo comes back on it; the older connection is
    closed. A stranger (another From-Path) on yet another connection gets 481 and changes
    nothing."""
    ua, first = ua_factory(server), MsrpClient(tls=True)
    second = stranger = None
    try:
        call, _ = chat_call(server, ua, first)
        path = answer_path(call.response.body)
        first.connect(path)
        assert first.send_message(b"one").ok and first.receive_message(timeout=5).body == b"one"
        second = MsrpClient(tls=True, local_uri=first.local_uri, local_ip="127.0.0.2")
        second.connect(path)
        assert second.send_message(b"two").ok, second.trace()
        assert second.receive_message(timeout=5).body == b"two", server.log()[-3000:]
        assert first.wait_closed(5), "the older connection stays open"
        server.wait_log("replaced by")
        stranger = MsrpClient(tls=True)
        stranger.connect(path)
        assert stranger.send_message(b"not yours", wait="each").statuses == [481]
        assert second.send_message(b"three").ok
        assert second.receive_message(timeout=5).body == b"three"
        assert call.bye().status == 200
    finally:
        for c in (first, second, stranger):
            if c:
                c.close()


def probe_server(server_factory, tls=True, **msrp):
    msrp["use_tls"] = "yes" if tls else "no"
    return server_factory(plugins_dir=PROBE_DIR,
                          config={"server": {"application_map": "probe:probe"},
                                  "msrp": msrp}).start()


def dial_chat(server, ua, listener_uri, listener_port, tls):
    status = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body=b"dial",
                        content_type="text/plain",
                        extra=[("X-Probe", f"dial-chat sip:target@127.0.0.1:{ua.port}")]).status
    assert status == 202
    invite = ua.wait_request("INVITE", timeout=10)
    assert parse_msrp_sdp(invite.body)["setup"] == "actpass", invite.text
    answer = msrp_sdp_offer("127.0.0.1", listener_port, listener_uri, tls=tls, setup="passive",
                            accept_types=("*",))
    ua.respond(invite, 200, body=answer, content_type="application/sdp",
               headers=[("Contact", f"<sip:target@127.0.0.1:{ua.port}>")])
    return invite


COMPOSING = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
             '<state>active</state></isComposing>')


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "tcp"])
def test_server_reconnects_a_session_it_opened(server_factory, ua_factory, tmp_path, tls):
    """RFC 6135 active side: the answerer closes the connection the server opened; the server
    connects again (binding it with an empty SEND) and both directions work: the answerer's
    is-composing reaches the probe, whose idle notice comes back on the new connection."""
    server = probe_server(server_factory, tls)
    ua = ua_factory(server)
    cert, key = make_self_signed_cert(str(tmp_path)) if tls else (None, None)
    listener = EchoServer(tls=tls, certfile=cert, keyfile=key, echo=False).start()
    try:
        invite = dial_chat(server, ua, listener.uri, listener.port, tls)
        assert listener.wait_received(1, timeout=10), server.log()[-3000:]
        server.wait_log("chat sent hello: 200")
        old = listener.connections[0]
        old.close()
        server.wait_log("reconnecting")
        deadline = time.time() + 10
        while len(listener.connections) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(listener.connections) == 2, server.log()[-3000:]
        conn = listener.connections[1]
        assert conn.next_frame(5, method="SEND") is not None, conn.trace()  # the binding one
        wrapped = ("From: <sip:target@127.0.0.1>\r\nTo: <sip:probe@example.com>\r\n\r\n"
                   "Content-Type: application/im-iscomposing+xml\r\n\r\n" + COMPOSING)
        to = parse_msrp_sdp(invite.body)["path"]
        r = conn.send_message(wrapped, content_type="message/cpim", to_path=" ".join(to))
        assert r.ok, conn.trace()
        server.wait_log("composing active=1")
        idle = conn.receive_message(timeout=5)
        assert b"<state>idle</state>" in cpim_parse(idle.body)[2], idle
    finally:
        listener.stop()


def test_nobody_comes_back_pending_fails_408(server_factory, ua_factory):
    """The server's connection to the answerer carries the probe's "hello", is closed before
    the answer, and the answerer's port is closed for good: within reconnect_timeout (1 s)
    the server tries again and gives up; the plugin hears 408 for the message."""
    server = probe_server(server_factory, tls=False, reconnect_timeout=1)
    ua = ua_factory(server)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    taken = []

    def take_one_then_close():
        lsock.settimeout(10)
        try:
            s, _ = lsock.accept()
        except OSError:
            return
        s.settimeout(5)
        data = b""
        while b"hello from probe" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        taken.append(data)
        lsock.close()  # nobody listens any more: reconnects are refused
        s.close()
    t = threading.Thread(target=take_one_then_close)
    t.start()
    try:
        dial_chat(server, ua, f"msrp://127.0.0.1:{port}/gone1;tcp", port, tls=False)
        t.join(15)
        assert taken and b"hello from probe" in taken[0], server.log()[-3000:]
        server.wait_log("chat sent hello: 408", timeout=15)
        log = server.log()
        assert log.index("reconnecting") < log.index("chat sent hello: 408"), log[-3000:]
        assert "no reconnect within 1 s" in log, log[-3000:]
        assert server.alive()
    finally:
        lsock.close()
