"""XMPP gateway, one-to-one chat sessions (RFC 7573, plugins/xmppgw/chat.c): XMPP chat messages
to a SIP user ride on a SIP session with an MSRP chat stream, and a SIP chat session to an XMPP
user turns into XMPP chat messages.

XMPP side: a private prosody 0.12 serving xmpp.test with slixmpp clients; the gateway is its
external component (XEP-0114) for sip.test (use_msrp_for_chat on, the default) and, for the
last case, a second gateway for bare.test with use_msrp_for_chat = no.

SIP side: the gateway's `[sip] outbound_proxy` is a SIP peer of the test (test/peers/sip_peer.py)
that answers the gateway's INVITEs (with the SDP of an MSRP listener, test/peers/msrp_client.py
EchoServer, which the gateway connects to: RFC 6135 active side) or refuses them, and answers
MESSAGEs 200. The SIP-initiated case uses our SIP UA (sip_client.SipUA) and MSRP client.
"""
import os
import re
import time

import pytest

from conftest import Server
from msrp_client import (EchoServer, MsrpClient, answer_path, cpim_parse, msrp_sdp_offer,
                         parse_msrp_sdp)
from prosody import Prosody
from sip_client import SipUA
from sip_peer import SipPeer, header_uri
from xmpp_client import q as cq

GW = "sip.test"
BARE = "bare.test"  # served by a gateway with use_msrp_for_chat = no
XMPP = "xmpp.test"
SECRET = "s3cret"
USERS = ("juliet", "romeo", "nurse", "tybalt")
CHATSTATES = "http://jabber.org/protocol/chatstates"
RECEIPTS = "urn:xmpp:receipts"
IDLE = 4  # sip_session_timeout of the gateway under test, seconds


def gateway(workdir, prosody, proxy_uri, domain, **more):
    os.makedirs(workdir, exist_ok=True)
    general = {"domains": domain, "trace_xmpp": True, "mode": "component",
               "component_host": "127.0.0.1", "component_port": prosody.component_port,
               "component_secret": SECRET, "sip_session_timeout": IDLE}
    general.update(more)
    s = Server(workdir, config={
        "server": {"application_map": f"{XMPP}:xmppgw"},
        "sip": {"outbound_proxy": proxy_uri},
        "msrp": {"use_tls": "no"}},
        plugin_configs={"xmppgw": {"general": general}})
    s.start()
    logged(s, rf"component {re.escape(domain)}: connected to .* as component")
    return s


class Env:
    def __init__(self, prosody, peer, gw, plain):
        self.prosody, self.peer, self.gw, self.plain = prosody, peer, gw, plain
        self.clients = []

    def client(self, user, resource):
        from xmpp_client import XmppClient
        c = XmppClient(f"{user}@{XMPP}/{resource}", f"{user}pw", self.prosody.c2s_port)
        self.clients.append(c)
        return c


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"), s2s=False, dns_jitter=False,
                offline=False, components={GW: SECRET, BARE: SECRET})
    for user in USERS:
        p.register(user, f"{user}pw")
    p.start()
    peer = SipPeer().start()
    gw = gateway(tmp_path_factory.mktemp("gw"), p, peer.uri, GW)
    plain = gateway(tmp_path_factory.mktemp("gw-plain"), p, peer.uri, BARE,
                    use_msrp_for_chat=False)
    e = Env(p, peer, gw, plain)
    yield e
    for c in e.clients:
        c.close()
    try:
        for s in (gw, plain):
            assert s.stop() == 0, s.log()[-3000:]
    finally:
        for s in (gw, plain):
            if s.alive():
                s.proc.kill()
        peer.stop()
        p.stop()


@pytest.fixture
def e(env):
    env.peer.message_rule = lambda req: 200
    env.peer.invite_rule = lambda req: (480, None)
    for q_ in (env.peer.messages, env.peer.invites, env.peer.byes):
        while not q_.empty():
            q_.get_nowait()
    yield env
    for c in env.clients:
        c.close()
    env.clients = []
    assert env.gw.alive(), env.gw.log()[-3000:]


def logged(server, pattern, timeout=15):
    deadline = time.time() + timeout
    while True:
        m = re.search(pattern, server.log())
        if m:
            return m
        if time.time() > deadline:
            raise AssertionError(f"/{pattern}/ not logged within {timeout}s:\n"
                                 f"{server.log()[-5000:]}")
        time.sleep(0.1)


def body_of(stanza):
    b = stanza.find(cq("body"))
    return None if b is None else b.text


def has_body(stanza):
    return body_of(stanza) is not None


def chat_state(stanza, name):
    return stanza.find(f"{{{CHATSTATES}}}{name}") is not None


def msrp_answer(listener):
    return msrp_sdp_offer("127.0.0.1", listener.port, listener.uri, tls=False, setup="passive",
                          accept_types=("message/cpim", "text/plain"))


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


# ------------------------------------------------------------------------------- tests ---

def test_xmpp_to_sip_session_both_ways_then_idle(e):
    """juliet writes to alice@sip.test: one INVITE with an MSRP chat stream (From juliet, To
    alice), her 20 messages arrive over MSRP in order (CPIM From/To mapped; the first, sent
    before the session is up, waited for it), the receipt she asked for comes back once MSRP
    said 200; alice's 20 answers reach juliet's resource in order; no SIP MESSAGE at all. Left
    idle for sip_session_timeout: BYE to the SIP side, <gone/> to juliet."""
    listener = EchoServer(tls=False, echo=False).start()
    e.peer.invite_rule = lambda req: (200, msrp_answer(listener))
    try:
        juliet = e.client("juliet", "balcony")
        juliet.send_raw(f"<message xmlns='jabber:client' to='alice@{GW}' type='chat' id='r0'>"
                        f"<body>m0</body><request xmlns='{RECEIPTS}'/></message>")
        for i in range(1, 20):
            juliet.send_message(f"alice@{GW}", f"m{i}", mid=f"r{i}")
        invite, answer = e.peer.invites.get(timeout=10)
        assert answer.status == 200
        assert header_uri(invite.get("From")).startswith(f"sip:juliet@{XMPP}")
        assert header_uri(invite.get("To")) == f"sip:alice@{GW}"
        assert parse_msrp_sdp(invite.body) is not None, invite.text
        wait_for(lambda: len(listener.received) >= 20, 15,
                 f"{len(listener.received)} of 20 over MSRP\n{e.gw.log()[-4000:]}")
        texts = []
        for m in listener.received:
            assert m.content_type == "message/cpim", m
            headers, content, body = cpim_parse(m.body)
            h = dict(headers)
            assert header_uri(h["From"]).startswith(f"sip:juliet@{XMPP}"), h
            assert header_uri(h["To"]) == f"sip:alice@{GW}", h
            texts.append(body.decode())
        assert texts == [f"m{i}" for i in range(20)]
        logged(e.gw, r"established, [1-9]\d* message\(s\) waited")  # some had to wait
        receipt = juliet.next_message(10, match=lambda m: m.find(f"{{{RECEIPTS}}}received")
                                      is not None)
        assert receipt is not None and \
            receipt.find(f"{{{RECEIPTS}}}received").get("id") == "r0"
        assert e.peer.messages.empty()
        assert len(e.peer.invites.queue) == 0  # one session for the whole conversation

        conn = listener.connections[0]
        for i in range(20):
            assert conn.send_message(f"a{i}", to_path=listener.received[0].from_path).ok
        got = []
        while len(got) < 20:
            m = juliet.next_message(10, match=has_body)
            assert m is not None, f"{got}\n{e.gw.log()[-4000:]}"
            assert m.get("from").startswith(f"alice@{GW}") and \
                m.get("to") == f"juliet@{XMPP}/balcony", m.attrib
            got.append(body_of(m))
        assert got == [f"a{i}" for i in range(20)]

        bye = e.peer.byes.get(timeout=IDLE + 10)
        assert bye.get("Call-ID") == invite.get("Call-ID")
        gone = juliet.next_message(10, match=lambda m: chat_state(m, "gone"))
        assert gone is not None, e.gw.log()[-3000:]
        assert e.peer.messages.empty()
    finally:
        listener.stop()


def test_refused_invite_falls_back_to_message(e):
    """The SIP side refuses the chat session (488): every message that waited for it goes as a
    SIP MESSAGE, in order, and a 200 to one that asked for a receipt gives the receipt."""
    e.peer.invite_rule = lambda req: (488, None)
    romeo = e.client("romeo", "garden")
    romeo.send_raw(f"<message xmlns='jabber:client' to='bob@{GW}' type='chat' id='f0'>"
                   f"<body>f0</body><request xmlns='{RECEIPTS}'/></message>")
    for i in range(1, 8):
        romeo.send_message(f"bob@{GW}", f"f{i}")
    invite, answer = e.peer.invites.get(timeout=10)
    assert answer.status == 488
    bodies = []
    while len(bodies) < 8:
        m = e.peer.messages.get(timeout=10)
        assert header_uri(m.get("To")) == f"sip:bob@{GW}"
        head, _, rest = m.body.partition(b"\r\n\r\n")
        bodies.append(rest.partition(b"\r\n\r\n")[2].decode() if b"cpim" in
                      m.get("Content-Type").encode() else m.body.decode())
    assert bodies == [f"f{i}" for i in range(8)]
    receipt = romeo.next_message(10, match=lambda m: m.find(f"{{{RECEIPTS}}}received")
                                 is not None)
    assert receipt is not None
    # the SIP side takes no session: the conversation stays on MESSAGE, no INVITE again
    romeo.send_message(f"bob@{GW}", "later")
    m = e.peer.messages.get(timeout=10)
    assert m.body.endswith(b"later")
    assert e.peer.invites.empty()


def test_sip_initiated_chat_session(e):
    """carol@sip.test INVITEs nurse@xmpp.test with an MSRP chat stream: answered 200; her
    messages reach nurse's bare JID; nurse's replies (from her full JID, which binds the
    session) come back over MSRP. carol's BYE ends it: nurse gets <gone/>."""
    nurse = e.client("nurse", "hall")
    ua, client = SipUA(("127.0.0.1", e.gw.sip_port)), MsrpClient(tls=False)
    try:
        offer = msrp_sdp_offer("127.0.0.1", client.local_port, client.sdp_path, tls=False)
        dialog = ua.invite(f"sip:nurse@{XMPP}", sdp=offer, from_uri=f"sip:carol@{GW}")
        assert dialog.response.status == 200, e.gw.log()[-3000:]
        dialog.ack()
        client.connect(answer_path(dialog.response.body))
        for i in range(5):
            assert client.send_message(f"c{i}").ok, client.trace()
        got = []
        while len(got) < 5:
            m = nurse.next_message(10, match=has_body)
            assert m is not None, e.gw.log()[-3000:]
            assert m.get("from").startswith(f"carol@{GW}") and m.get("to") == f"nurse@{XMPP}"
            got.append(body_of(m))
        assert got == [f"c{i}" for i in range(5)]
        for i in range(5):
            nurse.send_message(f"carol@{GW}", f"n{i}")
        back = []
        while len(back) < 5:
            m = client.receive_message(timeout=10)
            if m.content_type == "message/cpim":
                headers, content, body = cpim_parse(m.body)
                if content.get("Content-Type", "").startswith("application/im-iscomposing"):
                    continue
                back.append(body.decode())
            else:
                back.append(m.text)
        assert back == [f"n{i}" for i in range(5)]
        assert e.peer.messages.empty() and e.peer.invites.empty()
        assert dialog.bye().status == 200
        assert nurse.next_message(10, match=lambda m: chat_state(m, "gone")) is not None
    finally:
        client.close()
        ua.close()


def test_sip_initiated_from_foreign_domain_refused(e):
    ua = SipUA(("127.0.0.1", e.gw.sip_port))
    client = MsrpClient(tls=False)
    try:
        offer = msrp_sdp_offer("127.0.0.1", client.local_port, client.sdp_path, tls=False)
        dialog = ua.invite(f"sip:nurse@{XMPP}", sdp=offer, from_uri="sip:eve@elsewhere.test")
        assert dialog.response.status == 403
    finally:
        client.close()
        ua.close()


def test_without_msrp_for_chat_messages_stay_messages(e):
    """use_msrp_for_chat = no (the bare.test gateway): chat messages are SIP MESSAGEs, no
    INVITE is sent."""
    tybalt = e.client("tybalt", "street")
    for i in range(3):
        tybalt.send_message(f"dave@{BARE}", f"p{i}")
    bodies = []
    while len(bodies) < 3:
        m = e.peer.messages.get(timeout=10)
        assert header_uri(m.get("To")) == f"sip:dave@{BARE}"
        bodies.append(m.body.rpartition(b"\r\n\r\n")[2].decode())
    assert bodies == [f"p{i}" for i in range(3)]
    assert e.peer.invites.empty()


COMPOSING = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
             '<state>active</state><contenttype>text/plain</contenttype>'
             '<refresh>60</refresh></isComposing>')


def test_chat_states_and_xmpp_gone(e):
    """On a session: romeo's <composing/> reaches the SIP side as is-composing active over
    MSRP, the SIP side's is-composing reaches romeo as <composing/>, and romeo's <gone/> ends
    the session with BYE."""
    listener = EchoServer(tls=False, echo=False).start()
    e.peer.invite_rule = lambda req: (200, msrp_answer(listener))
    try:
        romeo = e.client("romeo", "orchard")
        romeo.send_message(f"erin@{GW}", "hello")
        invite, answer = e.peer.invites.get(timeout=10)
        wait_for(lambda: len(listener.received) >= 1, 10, e.gw.log()[-3000:])
        romeo.send_raw(f"<message xmlns='jabber:client' to='erin@{GW}' type='chat'>"
                       f"<composing xmlns='{CHATSTATES}'/></message>")
        wait_for(lambda: len(listener.received) >= 2, 10, e.gw.log()[-3000:])
        headers, content, body = cpim_parse(listener.received[1].body)
        assert content.get("Content-Type").startswith("application/im-iscomposing+xml")
        assert b"<state>active</state>" in body, body
        conn = listener.connections[0]
        assert conn.send_message(COMPOSING, content_type="application/im-iscomposing+xml",
                                 to_path=listener.received[0].from_path).ok
        m = romeo.next_message(10, match=lambda m: chat_state(m, "composing"))
        assert m is not None and m.get("from").startswith(f"erin@{GW}"), e.gw.log()[-3000:]
        romeo.send_raw(f"<message xmlns='jabber:client' to='erin@{GW}' type='chat'>"
                       f"<gone xmlns='{CHATSTATES}'/></message>")
        bye = e.peer.byes.get(timeout=IDLE - 1)  # before the idle timer could have sent it
        assert bye.get("Call-ID") == invite.get("Call-ID")
        logged(e.gw, r"chat erin@sip\.test romeo@xmpp\.test: the XMPP side is gone")
        assert e.peer.messages.empty()
    finally:
        listener.stop()
