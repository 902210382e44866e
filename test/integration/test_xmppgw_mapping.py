"""The XMPP gateway end to end (plugins/xmppgw): SIP user agents of sip.test and XMPP users of
xmpp.test talking through it, in both modes.

XMPP side: a private prosody 0.12 serving xmpp.test (test/peers/prosody.py) with slixmpp clients
(juliet, romeo; test/peers/xmpp_client.py). In s2s mode prosody finds the gateway by the SRV
record of a private dnsmasq (test/peers/dns_server.py) and dialback authenticates both ways; in
component mode sip.test is prosody's external component (XEP-0114).

SIP side: SIP requests for xmpp.test reach the gateway by routing (`application_map =
xmpp.test:xmppgw`, as the README tells operators); what the gateway sends to SIP goes through
`[sip] outbound_proxy`, which points at a SIP peer of the test (test/peers/sip_peer.py): it
answers MESSAGEs (200, or the status the test chooses), is the presence notifier of sip.test's
users and sends the test's own requests to the gateway. One case uses baresip instead, sending
and receiving a SIP MESSAGE.

One prosody, one SIP peer and one gateway per mode for the whole module; each test uses
addresses of its own so that what one leaves (a roster entry, a conversation) does not meet the
next.
"""
import os
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import Server, free_port
from dns_server import DnsServer
from prosody import Prosody
from sip_peer import SipPeer, header_uri
from xmpp_client import XmppClient, error_condition, q as cq

GW = "sip.test"
XMPP = "xmpp.test"
SECRET = "s3cret"
USERS = ("juliet", "romeo", "nurse", "tybalt", "mercutio", "benvolio")
CHATSTATES = "http://jabber.org/protocol/chatstates"
RECEIPTS = "urn:xmpp:receipts"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
PIDF_NS = "urn:ietf:params:xml:ns:pidf"
DM_NS = "urn:ietf:params:xml:ns:pidf:data-model"
RPID_NS = "urn:ietf:params:xml:ns:pidf:rpid"
ISCOMPOSING_NS = "urn:ietf:params:xml:ns:im-iscomposing"
SCHEMAS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                       "xmppgw")
NON_ASCII = "Grüße aus Verona — ¿qué tal? 日本語 ✓ 🌹"


# ---------------------------------------------------------------------------------- peers ---

@pytest.fixture(scope="module")
def gw_port():
    """The gateway's s2s port (the SRV record names it)."""
    return free_port(kinds=("tcp",))


@pytest.fixture(scope="module")
def dns(tmp_path_factory, gw_port):
    d = DnsServer(tmp_path_factory.mktemp("dns"),
                  srv=[(f"_xmpp-server._tcp.{GW}", f"gw.{GW}", gw_port, 10, 0)],
                  hosts=[(f"gw.{GW}", "127.0.0.1")], local="test").start()
    yield d
    d.stop()


class Env:
    """One mode's setup: prosody, the SIP peer behind outbound_proxy, the gateway."""

    def __init__(self, mode, prosody, peer, gw):
        self.mode, self.prosody, self.peer, self.gw = mode, prosody, peer, gw
        self.clients = []

    def client(self, user, resource=None):
        jid = f"{user}@{XMPP}" + (f"/{resource}" if resource else "")
        c = XmppClient(jid, f"{user}pw", self.prosody.c2s_port)
        self.clients.append(c)
        return c

    def close_clients(self):
        for c in self.clients:
            c.close()
        self.clients = []


def gateway_config(mode, gw_port, prosody):
    general = {"domains": GW, "trace_xmpp": True, "log_presence": True, "connect_timeout": 10}
    if mode == "s2s":
        general.update(local_ip="127.0.0.1", local_port=gw_port,
                       static_routes=f"{XMPP}=127.0.0.1:{prosody.s2s_port}")
    else:
        general.update(mode="component", component_host="127.0.0.1",
                       component_port=prosody.component_port, component_secret=SECRET)
    return {"general": general}


def start_gateway(workdir, mode, gw_port, prosody, peer, dns, **server):
    s = Server(workdir, config={
        "server": {"application_map": f"echo:echo, {XMPP}:xmppgw, nowhere.test:xmppgw"},
        "sip": {"outbound_proxy": peer.uri}},
        plugin_configs={"xmppgw": gateway_config(mode, gw_port, prosody)},
        wrapper=dns.wrapper(), **server)
    s.start()
    if mode == "s2s":
        s.wait_log(f"s2s listening on 127.0.0.1 port {gw_port}")
    else:
        logged(s, r"component sip\.test: connected to .* as component sip\.test")
    return s


@pytest.fixture(scope="module", params=["s2s", "component"])
def env(request, tmp_path_factory, dns, gw_port):
    mode = request.param
    p = Prosody(tmp_path_factory.mktemp(f"prosody-{mode}"), wrapper=dns.wrapper(),
                dns_jitter=False,
                components={GW: SECRET} if mode == "component" else None)
    for user in USERS:
        p.register(user, f"{user}pw")
    p.start()
    peer = SipPeer().start()
    gw = start_gateway(tmp_path_factory.mktemp(f"gw-{mode}"), mode, gw_port, p, peer, dns)
    peer.server = ("127.0.0.1", gw.sip_port)
    e = Env(mode, p, peer, gw)
    yield e
    e.close_clients()
    try:
        assert gw.stop() == 0, gw.log()[-3000:]
        assert_nothing_left(gw)
    finally:
        if gw.alive():
            gw.proc.kill()
        peer.stop()
        p.stop()


@pytest.fixture
def e(env):
    """The module's setup for one test; the test's XMPP clients are closed after it."""
    env.peer.message_rule = lambda req: 200
    env.peer.subscribe_rule = lambda req: (200, 60)
    env.peer.first_notify = lambda n: n.notify(wait=False)
    drain(env.peer.messages)
    drain(env.peer.subscriptions)
    yield env
    env.close_clients()
    assert env.gw.alive(), env.gw.log()[-3000:]


def drain(q_):
    while not q_.empty():
        q_.get_nowait()


def logged(server, pattern, timeout=15, after=0):
    """The first match of regex `pattern` in the server's log past offset `after`."""
    deadline = time.time() + timeout
    while True:
        m = re.search(pattern, server.log()[after:])
        if m:
            return m
        if time.time() > deadline:
            raise AssertionError(f"/{pattern}/ not logged within {timeout}s:\n"
                                 f"{server.log()[after:][-5000:]}")
        time.sleep(0.1)


def assert_nothing_left(gw):
    """At exit the mapping held no message and no watch."""
    m = re.search(r"mapping stops: (\d+) SIP MESSAGE\(s\) and (\d+) XMPP message\(s\) pending, "
                  r"(\d+) SIP watcher pair\(s\), (\d+) XMPP watcher pair\(s\) left", gw.log())
    assert m, gw.log()[-3000:]
    assert m.groups() == ("0", "0", "0", "0"), m.group(0)


def sip_message(e, user, to, body, content_type="text/plain;charset=utf-8", extra=(),
                from_uri=None, timeout=10):
    """A SIP MESSAGE from sip:user@sip.test to `to` (a SIP URI) through the gateway."""
    return e.peer.request("MESSAGE", to, from_uri or f"sip:{user}@{GW}", body=body.encode(),
                          content_type=content_type, extra=extra, timeout=timeout)


def next_sip_message(e, timeout=10, match=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = e.peer.messages.get(timeout=max(deadline - time.time(), 0.01))
        except Exception:  # noqa: BLE001 - queue.Empty
            break
        if match is None or match(m):
            return m
    raise AssertionError(f"no SIP MESSAGE within {timeout}s\n{e.peer.trace()}")


def cpim_parts(req):
    """A MESSAGE body: (content type, headers, body) of the CPIM payload, or of the body."""
    ctype = req.get("Content-Type")
    if not ctype.lower().startswith("message/cpim"):
        return ctype, {}, req.body
    head, _, rest = req.body.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    chead, _, body = rest.partition(b"\r\n\r\n")
    ctype = None
    for line in chead.decode().split("\r\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-type":
            ctype = v.strip()
    return ctype, headers, body


def body_of(stanza):
    b = stanza.find(cq("body"))
    return None if b is None else b.text


# ---------------------------------------------------------------------------- messages ---

def test_message_sip_to_xmpp(e):
    """SIP MESSAGE (UTF-8, non-ASCII) -> <message type='chat'> at juliet, From/To mapped;
    answered 200 once prosody had it (no error within the hold)."""
    juliet = e.client("juliet", "balcony")
    r = sip_message(e, "alice", f"sip:juliet@{XMPP}", NON_ASCII)
    assert r.status == 200, r
    m = juliet.next_message(10)
    assert m is not None, e.gw.log()[-3000:]
    assert m.get("type") == "chat"
    assert m.get("from") == f"alice@{GW}"
    assert m.get("to") == f"juliet@{XMPP}"  # the bare JID, as the SIP side addressed it
    assert body_of(m) == NON_ASCII


def test_message_xmpp_to_sip(e):
    """<message type='chat'> from juliet's resource -> SIP MESSAGE through outbound_proxy:
    From with the resource as gr, To alice, the text byte for byte inside CPIM (use_cpim)."""
    juliet = e.client("juliet", "balcony")
    juliet.send_message(f"alice@{GW}", NON_ASCII, mid="m-x2s")
    req = next_sip_message(e)
    assert req.uri == f"sip:alice@{GW}"
    assert header_uri(req.get("From")) == f"sip:juliet@{XMPP};gr=balcony"
    assert header_uri(req.get("To")) == f"sip:alice@{GW}"
    ctype, cpim, body = cpim_parts(req)
    assert req.get("Content-Type").startswith("message/cpim")
    assert ctype.startswith("text/plain") and "charset=utf-8" in ctype.lower()
    assert body == NON_ASCII.encode()
    assert header_uri(cpim["From"]) == f"sip:juliet@{XMPP};gr=balcony"
    assert header_uri(cpim["To"]) == f"sip:alice@{GW}"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", cpim["DateTime"])
    # a 200 without a receipt asked for: nothing comes back to juliet
    juliet.send_message(f"alice@{GW}", "second", mid="m-x2s-2")
    assert cpim_parts(next_sip_message(e))[2] == b"second"
    assert juliet.next_message(1) is None


def test_reply_reaches_the_same_resource(e):
    """juliet writes from 'garden' while 'balcony' is online too: the SIP reply to the From it
    got (gr=garden) reaches garden alone. alice's own device (gr in her From) gets juliet's
    answer to that full JID."""
    balcony = e.client("romeo", "balcony")
    garden = e.client("romeo", "garden")
    garden.send_message(f"alice@{GW}", "from the garden")
    req = next_sip_message(e)
    reply_to = header_uri(req.get("From"))
    assert reply_to == f"sip:romeo@{XMPP};gr=garden"
    r = sip_message(e, "alice", reply_to, "to the garden only",
                    from_uri=f"sip:alice@{GW};gr=phone")
    assert r.status == 200, r
    m = garden.next_message(10)
    assert m is not None and body_of(m) == "to the garden only"
    assert m.get("to") == f"romeo@{XMPP}/garden"
    assert m.get("from") == f"alice@{GW}/phone"
    assert balcony.next_message(1) is None
    # and back to alice's phone
    garden.send_message(m.get("from"), "to your phone")
    req = next_sip_message(e)
    assert req.uri == f"sip:alice@{GW};gr=phone"
    assert header_uri(req.get("To")) == f"sip:alice@{GW};gr=phone"
    assert cpim_parts(req)[2] == b"to your phone"


def test_message_to_unknown_sip_user(e):
    """The SIP side answers 404: juliet gets an error stanza item-not-found (RFC 7247 §7.2),
    the SIP status in its text, from the address she wrote to, with her message's id."""
    e.peer.message_rule = lambda req: 404 if "nobody@" in req.uri else 200
    juliet = e.client("juliet")
    juliet.send_message(f"nobody@{GW}", "anyone there?", mid="lost-1")
    err = juliet.next_message(10)
    assert err is not None and err.get("type") == "error", err
    assert err.get("id") == "lost-1"
    assert err.get("from") == f"nobody@{GW}"
    assert error_condition(err) == "item-not-found"
    text = err.find(f"{cq('error')}/{{{STANZAS}}}text")
    assert text is not None and "404" in text.text


def test_message_to_unknown_xmpp_user(e):
    """prosody answers a message to a user it does not have with an error stanza
    (service-unavailable, RFC 6121 §8.5.2.2.1): the MESSAGE gets its RFC 7247 status."""
    r = sip_message(e, "alice", f"sip:nobody@{XMPP}", "hello?")
    assert r.status == 503, r
    logged(e.gw, r"message [\w-]+ to nobody@xmpp\.test: error service-unavailable")


def test_message_to_unknown_xmpp_domain(e):
    """No such XMPP domain: the MESSAGE fails with 404 (remote-server-not-found)."""
    r = sip_message(e, "alice", "sip:someone@nowhere.test", "hello?", timeout=30)
    assert r.status == 404, r
