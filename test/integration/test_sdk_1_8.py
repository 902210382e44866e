"""SDK 1.8 driven through the probe test plugin (test/plugins/probe_sdk18.c):

- chat_send_nickname: the plugin sends NICKNAMEs (RFC 7701) on a chat session our own MSRP
  client (test/peers/msrp_client.py) set up; the client checks each request's headers and
  answers 200 or 425, and the plugin hears each status in nickname_result; a peer whose
  a=chatroom does not list "nickname" is not sent any (-EOPNOTSUPP);
- refer: the plugin sends an out-of-dialog REFER (RFC 3515, RFC 4579 Refer-To with the method
  inside <>) through [sip] outbound_proxy to our SIP peer (test/peers/sip_peer.py), which
  answers 202 and sends sipfrag NOTIFYs 100 then 200 (progress, then ended 200), or refuses
  it 403 (ended 403); a cancelled REFER hears nothing more and its NOTIFYs get 481.
"""
import os
import re
import time

import pytest

from conftest import BUILD
from msrp_client import MsrpClient, answer_path, msrp_sdp_offer
from sip_client import SipUA
from sip_peer import Notifier, SipPeer

PROBE_DIR = os.path.join(BUILD, "test", "plugins")
SIPFRAG = "message/sipfrag"


def logged(server, pattern, timeout=10):
    """Waits for a log line matching the regex `pattern`; returns its match."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, server.log())
        if m:
            return m
        assert server.alive(), server.log()[-4000:]
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not logged within {timeout}s:\n{server.log()[-4000:]}")


# -- NICKNAME sent by a plugin ----------------------------------------------------------------

@pytest.fixture
def chat_server(server_factory):
    return server_factory(plugins_dir=PROBE_DIR,
                          config={"server": {"application_map": "nickprobe:probe"},
                                  "msrp": {"use_tls": "yes"}}).start()


def nick_call(server, ua, client, names, chatroom=True):
    offer = msrp_sdp_offer("127.0.0.1", client.local_port, client.sdp_path, tls=True,
                           extra_lines=["a=chatroom:nickname private-messages"] if chatroom
                           else [])
    dialog = ua.invite(f"sip:nickprobe@{server.uri_host}", sdp=offer,
                       extra=[("X-Nickname", names)])
    assert dialog.response.status == 200, ua.trace() + server.log()[-2000:]
    dialog.ack()
    return dialog


def test_plugin_sends_nicknames(chat_server, ua_factory):
    seen = []

    def on_nickname(conn, frame, nickname):
        seen.append((frame, nickname))
        return 425 if nickname == "taken" else 200

    ua, client = ua_factory(chat_server), MsrpClient(tls=True, on_nickname=on_nickname)
    try:
        dialog = nick_call(chat_server, ua, client, 'Alice "A",taken')
        client.connect(answer_path(dialog.response.body))
        client.send_empty()  # RFC 4975 5.4: the side that connects sends first; this binds it
        logged(chat_server, re.escape('nickname result Alice "A": 200'))
        logged(chat_server, "nickname result taken: 425")
        assert 'nickname send Alice "A": 0' in chat_server.log()
        # checked before the connection: over 256 bytes, NULL nickname, NULL stream
        assert "nickname bad: -22 -22 -22" in chat_server.log(), chat_server.log()[-3000:]
        assert [n for _, n in seen] == ['Alice "A"', "taken"], client.trace()
        for frame, _ in seen:
            names = [n.lower() for n, _ in frame.headers.items()]
            assert names == ["to-path", "from-path", "use-nickname"], frame
            assert frame.to_path == [client.local_uri], frame
            assert frame.from_path == [answer_path(dialog.response.body)[0]] or \
                " ".join(frame.from_path) in dialog.response.body.decode(), frame
            assert not frame.body and frame.flag == "$", frame
        assert seen[0][0].headers.get("Use-Nickname") == '"Alice \\"A\\""', seen[0][0]
        assert seen[0][0].transaction_id != seen[1][0].transaction_id
        assert dialog.bye().status == 200
    finally:
        client.close()


def test_no_nickname_to_a_peer_without_chatroom_nickname(chat_server, ua_factory):
    seen = []
    ua = ua_factory(chat_server)
    client = MsrpClient(tls=True, on_nickname=lambda c, f, n: seen.append(n) or 200)
    try:
        dialog = nick_call(chat_server, ua, client, "alice", chatroom=False)
        client.connect(answer_path(dialog.response.body))
        client.send_empty()
        logged(chat_server, "nickname send alice: -95")  # -EOPNOTSUPP
        assert client.next_frame(timeout=1, method="NICKNAME") is None, client.trace()
        assert seen == [] and "nickname result" not in chat_server.log()
        assert dialog.bye().status == 200
    finally:
        client.close()


# -- REFER sent by a plugin -------------------------------------------------------------------

@pytest.fixture
def refer_env(server_factory):
    peer = SipPeer().start()
    server = server_factory(plugins_dir=PROBE_DIR,
                            config={"server": {"application_map": "probe:probe"},
                                    "sip": {"outbound_proxy": f"sip:127.0.0.1:{peer.port};lr"}})
    server.start()
    peer.server = ("127.0.0.1", server.sip_port)
    ua = SipUA(("127.0.0.1", server.sip_port))
    yield server, peer, ua
    ua.close()
    peer.stop()


def command(ua, server, text):
    """One X-Probe command; the probe answers 202 after it ran it."""
    resp = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body="x",
                      content_type="text/plain", extra=[("X-Probe", text)])
    assert resp.status == 202, str(resp)


def test_refer_reports_sipfrag_progress_and_final_status(refer_env):
    server, peer, ua = refer_env
    command(ua, server, "refer r1 sip:room@conf.test <sip:bob@example.com;method=INVITE> "
                        "sip:alice@example.com")
    ref = peer.referrals.get(timeout=10)
    assert isinstance(ref, Notifier), ref
    req = ref.request
    assert req.uri == "sip:room@conf.test", str(req)
    assert req.get("Refer-To") == "<sip:bob@example.com;method=INVITE>", str(req)
    assert req.get("Referred-By") == "<sip:alice@example.com>", str(req)
    assert f"sip:probe@{server.uri_host}" in req.get("From"), str(req)
    assert req.get("X-Probe") == "referrer", str(req)
    logged(server, "refer r1: sent")

    assert ref.notify(b"SIP/2.0 100 Trying\r\n", content_type=SIPFRAG).status == 200
    logged(server, "refer r1 progress 100 Trying")
    assert ref.notify(b"SIP/2.0 180 Ringing\r\n", content_type=SIPFRAG).status == 200
    logged(server, "refer r1 progress 180 Ringing")
    assert "refer r1 ended" not in server.log()
    assert ref.terminate("noresource", body=b"SIP/2.0 200 OK\r\n").status == 200
    logged(server, "refer r1 ended 200 OK")
    log = server.log()
    assert log.index("refer r1 progress 200 OK") < log.index("refer r1 ended 200 OK"), log
    assert log.count("refer r1 ended") == 1, log[-3000:]


def test_refer_refused_ends_with_its_status(refer_env):
    server, peer, ua = refer_env
    peer.refer_rule = lambda req: 403
    command(ua, server, "refer r2 sip:room@conf.test sip:bob@example.com")
    kind, req = peer.referrals.get(timeout=10)
    assert kind == "refused"
    assert req.get("Refer-To") == "<sip:bob@example.com>", str(req)
    # without a referred_by the referrer is the From (RFC 3892)
    assert req.get("Referred-By") == f"<sip:probe@{server.uri_host}>", str(req)
    logged(server, "refer r2 ended 403 Forbidden")
    assert "refer r2 progress" not in server.log()


def test_refer_cancelled_hears_nothing_more(refer_env):
    server, peer, ua = refer_env
    command(ua, server, "refer r3 sip:room@conf.test sip:bob@example.com")
    ref = peer.referrals.get(timeout=10)
    logged(server, "refer r3: sent")
    command(ua, server, "refer-cancel r3")
    logged(server, "refer-cancel r3: 0")
    assert ref.notify(b"SIP/2.0 100 Trying\r\n", content_type=SIPFRAG).status == 481
    assert ref.terminate("noresource", body=b"SIP/2.0 200 OK\r\n").status == 481
    log = server.log()
    assert "refer r3 progress" not in log and "refer r3 ended" not in log, log[-3000:]
