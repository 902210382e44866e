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
import queue
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from baresip_peer import Baresip
from conftest import Server, free_port, free_port_pair, free_port_range
from dns_server import DnsServer
from prosody import Prosody
from sip_peer import SipPeer, header_uri
from xmpp_client import XmppClient, error_condition, q as cq

GW = "sip.test"
BARE = "bare.test"  # the SIP domain of the baresip case, served by a gateway of its own
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
def bare_port():
    """The s2s port of the gateway of bare.test (baresip's domain)."""
    return free_port(kinds=("tcp",))


@pytest.fixture(scope="module")
def dns(tmp_path_factory, gw_port, bare_port):
    d = DnsServer(tmp_path_factory.mktemp("dns"),
                  srv=[(f"_xmpp-server._tcp.{GW}", f"gw.{GW}", gw_port, 10, 0),
                       (f"_xmpp-server._tcp.{BARE}", f"gw.{GW}", bare_port, 10, 0)],
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


def gateway_config(mode, gw_port, prosody, domain=GW, **more):
    # use_msrp_for_chat = no: these tests are about the MESSAGE mapping (RFC 7572); with the
    # default, chat messages would first try an MSRP session (test_xmppgw_chat.py) and reach
    # MESSAGE only through the fallback after the SIP peer's refusal.
    general = {"domains": domain, "trace_xmpp": True, "log_presence": True,
               "connect_timeout": 10, "use_msrp_for_chat": False}
    if mode == "s2s":
        general.update(local_ip="127.0.0.1", local_port=gw_port,
                       static_routes=f"{XMPP}=127.0.0.1:{prosody.s2s_port}")
    else:
        general.update(mode="component", component_host="127.0.0.1",
                       component_port=prosody.component_port, component_secret=SECRET)
    general.update(more)
    return {"general": general}


def start_gateway(workdir, mode, gw_port, prosody, proxy_uri, dns, domain=GW, **more):
    """A gateway for `domain` whose SIP requests go to proxy_uri ([sip] outbound_proxy)."""
    os.makedirs(workdir, exist_ok=True)
    s = Server(workdir, config={
        "server": {"application_map": f"echo:echo, {XMPP}:xmppgw, nowhere.test:xmppgw"},
        "sip": {"outbound_proxy": proxy_uri}},
        plugin_configs={"xmppgw": gateway_config(mode, gw_port, prosody, domain, **more)},
        wrapper=dns.wrapper())
    s.start()
    if mode == "s2s":
        s.wait_log(f"s2s listening on 127.0.0.1 port {gw_port}")
    else:
        logged(s, rf"component {re.escape(domain)}: connected to .* as component "
                  rf"{re.escape(domain)}")
    return s


@pytest.fixture(scope="module", params=["s2s", "component"])
def env(request, tmp_path_factory, dns, gw_port):
    mode = request.param
    p = Prosody(tmp_path_factory.mktemp(f"prosody-{mode}"), wrapper=dns.wrapper(),
                dns_jitter=False, offline=False,
                components={GW: SECRET, BARE: SECRET} if mode == "component" else None)
    for user in USERS:
        p.register(user, f"{user}pw")
    p.start()
    peer = SipPeer().start()
    gw = start_gateway(tmp_path_factory.mktemp(f"gw-{mode}"), mode, gw_port, p, peer.uri, dns)
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


def test_baresip_message_both_ways(e, tmp_path, bare_port, dns):
    """baresip (alice@bare.test, its outbound proxy the gateway of bare.test) sends a SIP
    MESSAGE to juliet@xmpp.test and receives her answer (the gateway's outbound_proxy is
    baresip's listen address). baresip takes text/plain only."""
    sip_port, ctrl, cons = free_port_pair(), free_port(kinds=("tcp",)), free_port(kinds=("tcp",))
    gw = start_gateway(tmp_path / "gw", e.mode, bare_port, e.prosody,
                       f"sip:127.0.0.1:{sip_port}", dns, domain=BARE)
    b = Baresip(tmp_path / "baresip", sip_port=sip_port, rtp_start=free_port_range(100),
                ctrl_port=ctrl, aor=f"sip:alice@{BARE}",
                extra_account_params=f';outbound="sip:127.0.0.1:{gw.sip_port}"',
                contacts=[f"sip:juliet@{XMPP}"], cons_port=cons)
    try:
        b.start()
        console = b.console()
        juliet = e.client("juliet", "lute")
        r = b.command("message", NON_ASCII)
        assert r.get("ok") is not False, r
        m = juliet.next_message(15)
        assert m is not None, gw.log()[-3000:] + b.log()[-2000:]
        assert (m.get("type"), m.get("from"), body_of(m)) == ("chat", f"alice@{BARE}", NON_ASCII)
        seen = b""

        def printed(text):
            nonlocal seen
            expected = f'sip:juliet@{XMPP};gr=lute: "{text}"'.encode()
            deadline = time.time() + 15
            while expected not in seen and time.time() < deadline:
                console.settimeout(max(deadline - time.time(), 0.01))
                try:
                    seen += console.recv(4096)
                except OSError:
                    break
            assert expected in seen, seen.decode("utf-8", "replace") + gw.log()[-3000:]
        # the gateway wraps in CPIM (use_cpim); baresip answers 415: the text goes again as
        # text/plain
        answer = "Ay me! ✓ ¡sí!"
        juliet.send_message(f"alice@{BARE}", answer, mid="a1")
        printed(answer)
        logged(gw, r"MESSAGE from sip:juliet@xmpp\.test;gr=lute to sip:alice@bare\.test refused "
                   r"415: sending it again as text/plain")
        # chat states: baresip takes no is-composing (wrapped or not): no error comes back to
        # juliet, and once it said so none is sent
        def state(name):
            juliet.send_raw(f"<message to='alice@{BARE}' type='chat'><{name} "
                            f"xmlns='{CHATSTATES}'/></message>")
        state("composing")
        deadline = time.time() + 10
        while gw.log().count("message - from juliet@xmpp.test/lute: SIP 415") < 2:
            assert time.time() < deadline, gw.log()[-3000:]
            time.sleep(0.05)
        state("paused")
        state("composing")
        juliet.send_message(f"alice@{BARE}", "still there?", mid="a2")
        printed("still there?")
        log = gw.log()
        assert log.count("bytes application/im-iscomposing+xml)") == 1, log[-4000:]
        assert juliet.next_message(0.5) is None  # neither receipts nor errors
        console.close()
    finally:
        b.stop()
        assert gw.stop() == 0, gw.log()[-3000:]


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


def xmllint(doc, schema, tmp_path, name):
    """Validates doc (bytes) against one of test/data/xmppgw's schemas; the output on failure."""
    path = tmp_path / name
    path.write_bytes(doc)
    r = subprocess.run(["xmllint", "--noout", "--schema", os.path.join(SCHEMAS, schema),
                        str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{r.stderr}\n{doc.decode()}"


def composing_doc(state, refresh=None):
    refresh = f"<refresh>{refresh}</refresh>" if refresh else ""
    return (f"<?xml version='1.0' encoding='UTF-8'?><isComposing xmlns='{ISCOMPOSING_NS}'>"
            f"<state>{state}</state><contenttype>text/plain</contenttype>{refresh}"
            "</isComposing>")


def chat_state(stanza):
    """The XEP-0085 state a message carries, or None."""
    for child in stanza:
        if child.tag.startswith(f"{{{CHATSTATES}}}"):
            return child.tag.split("}")[1]
    return None


def is_composing(req, tmp_path, name):
    """The state of an is-composing MESSAGE (validated with RFC 3994's schema)."""
    ctype, _, body = cpim_parts(req)
    assert ctype.startswith("application/im-iscomposing+xml"), ctype
    xmllint(body, "im-iscomposing.xsd", tmp_path, name)
    doc = ET.fromstring(body)
    refresh = doc.find(f"{{{ISCOMPOSING_NS}}}refresh")
    return doc.find(f"{{{ISCOMPOSING_NS}}}state").text, (None if refresh is None
                                                           else int(refresh.text))


def test_chat_states_sip_to_xmpp(e):
    """RFC 3994 active/idle -> XEP-0085 composing/paused (standalone, no body); the text
    message that follows carries <active/>; a repeated state is not repeated to XMPP."""
    nurse = e.client("nurse")
    to = f"sip:nurse@{XMPP}"
    ctype = "application/im-iscomposing+xml"
    assert sip_message(e, "bob", to, composing_doc("active", 60), ctype).status == 200
    m = nurse.next_message(10)
    assert m is not None, e.gw.log()[-3000:]
    assert (chat_state(m), body_of(m), m.get("type"), m.get("from")) == \
        ("composing", None, "chat", f"bob@{GW}")
    assert sip_message(e, "bob", to, composing_doc("active", 60), ctype).status == 200
    assert sip_message(e, "bob", to, composing_doc("idle"), ctype).status == 200
    m = nurse.next_message(10)
    assert (chat_state(m), body_of(m)) == ("paused", None)  # the second active was not repeated
    assert sip_message(e, "bob", to, "there", "text/plain").status == 200
    m = nurse.next_message(10)
    assert (chat_state(m), body_of(m)) == ("active", "there")


def test_chat_states_xmpp_to_sip(e, tmp_path):
    """XEP-0085 composing/paused -> is-composing active (with a refresh)/idle MESSAGEs; the
    text message after them is plain text."""
    tybalt = e.client("tybalt")

    def state(name, body=""):
        body = f"<body>{body}</body>" if body else ""
        tybalt.send_raw(f"<message to='bob@{GW}' type='chat'>{body}<{name} "
                        f"xmlns='{CHATSTATES}'/></message>")
    state("composing")
    req = next_sip_message(e)
    assert header_uri(req.get("From")).startswith(f"sip:tybalt@{XMPP};gr=")
    assert is_composing(req, tmp_path, "c1.xml") == ("active", 120)
    state("paused")
    assert is_composing(next_sip_message(e), tmp_path, "c2.xml") == ("idle", None)
    state("paused")  # nothing to end: no idle of its own (RFC 3994)
    state("active", "hi bob")
    req = next_sip_message(e)
    assert cpim_parts(req)[0].startswith("text/plain") and cpim_parts(req)[2] == b"hi bob"


def test_receipts_only_for_a_sip_200(e):
    """XEP-0184: a receipt is asked for; the SIP side answers 202 (a relay took it: no receipt),
    then 200 (the user agent took it: <received/>), then 480 (an error, no receipt)."""
    answers = {"r-202": 202, "r-200": 200, "r-480": 480}
    e.peer.message_rule = lambda req: answers[cpim_parts(req)[2].decode()]
    mercutio = e.client("mercutio")
    for mid in answers:
        mercutio.send_raw(f"<message to='bob@{GW}' type='chat' id='{mid}'><body>{mid}</body>"
                          f"<request xmlns='{RECEIPTS}'/></message>")
    got = []
    while len(got) < 2:
        m = mercutio.next_message(10)
        assert m is not None, f"{got}\n{e.gw.log()[-3000:]}"
        got.append(m)
    received = got[0].find(f"{{{RECEIPTS}}}received")
    assert received is not None and received.get("id") == "r-200", ET.tostring(got[0])
    assert got[0].get("from") == f"bob@{GW}" and got[0].get("id") != "r-200"
    assert got[1].get("type") == "error" and got[1].get("id") == "r-480"
    assert error_condition(got[1]) == "recipient-unavailable"
    assert mercutio.next_message(1) is None


SIP_TO_XMPP_ERRORS = [(403, "forbidden"), (404, "item-not-found"), (408, "remote-server-timeout"),
                      (410, "gone"), (415, "bad-request"), (480, "recipient-unavailable"),
                      (484, "item-not-found"), (486, "recipient-unavailable"),
                      (488, "not-acceptable"), (500, "internal-server-error"),
                      (501, "feature-not-implemented"), (503, "service-unavailable"),
                      (603, "forbidden"), (604, "item-not-found")]


def test_sip_failures_become_stanza_errors(e):
    """RFC 7247 §7.2, each row: the SIP status of the MESSAGE -> the stanza error juliet gets."""
    e.peer.message_rule = lambda req: int(cpim_parts(req)[2])
    benvolio = e.client("benvolio")
    for status, _ in SIP_TO_XMPP_ERRORS:
        benvolio.send_message(f"bob@{GW}", str(status), mid=f"s{status}")
    got = {}
    while len(got) < len(SIP_TO_XMPP_ERRORS):
        m = benvolio.next_message(10)
        assert m is not None, f"{sorted(got)}\n{e.gw.log()[-3000:]}"
        assert m.get("type") == "error"
        got[int(m.get("id")[1:])] = error_condition(m)
    assert got == dict(SIP_TO_XMPP_ERRORS)


XMPP_TO_SIP_ERRORS = [("item-not-found", 404), ("recipient-unavailable", 480),
                      ("forbidden", 403), ("not-acceptable", 406), ("gone", 410),
                      ("service-unavailable", 503), ("remote-server-timeout", 408),
                      ("feature-not-implemented", 501), ("jid-malformed", 484),
                      ("not-authorized", 401), ("internal-server-error", 500)]


def test_stanza_errors_become_sip_failures(e):
    """RFC 7247 §7.1, each row: juliet answers the gateway's message with an error stanza of
    a condition; the SIP MESSAGE gets the status for it."""
    juliet = e.client("juliet", "study")
    for cond, status in XMPP_TO_SIP_ERRORS:
        t = e.peer.send_request(e.peer.new_request(
            "MESSAGE", f"sip:juliet@{XMPP}", f"sip:carol@{GW}", body=cond.encode()), wait=False)
        m = juliet.next_message(10)
        assert m is not None and body_of(m) == cond, e.gw.log()[-3000:]
        juliet.send_raw(f"<message type='error' id='{m.get('id')}' to='{m.get('from')}'>"
                        f"<error type='cancel'><{cond} xmlns='{STANZAS}'/></error></message>")
        assert t.done.wait(10) and t.response is not None, e.peer.trace()
        assert t.response.status == status, (cond, t.response.status)


# ---------------------------------------------------------------------------- presence ---

def pidf_of(notify, tmp_path, name):
    """A NOTIFY's PIDF, validated against RFC 3863's schema (with RFC 4479/4480's through
    presence.xsd), as an element."""
    assert notify.get("Content-Type").startswith("application/pidf+xml"), notify
    xmllint(notify.body, "presence.xsd", tmp_path, name)
    return ET.fromstring(notify.body)


def tuples(doc):
    """{contact: tuple element} of a PIDF."""
    out = {}
    for t in doc.findall(f"{{{PIDF_NS}}}tuple"):
        out[t.find(f"{{{PIDF_NS}}}contact").text] = t
    return out


def tuple_fields(t):
    contact = t.find(f"{{{PIDF_NS}}}contact")
    note = t.find(f"{{{PIDF_NS}}}note")
    return {"id": t.get("id"), "basic": t.find(f"{{{PIDF_NS}}}status/{{{PIDF_NS}}}basic").text,
            "priority": contact.get("priority"),
            "note": None if note is None else note.text,
            "timestamp": t.find(f"{{{PIDF_NS}}}timestamp").text}


def person_fields(doc):
    person = doc.find(f"{{{DM_NS}}}person")
    if person is None:
        return None
    acts = person.find(f"{{{RPID_NS}}}activities")
    note = person.find(f"{{{DM_NS}}}note")
    return {"activities": [a.tag.split("}")[1] for a in acts] if acts is not None else [],
            "note": None if note is None else note.text}


class Pidfs:
    """The PIDF documents of a SIP watch's NOTIFYs, each validated."""

    def __init__(self, w, tmp_path):
        self.w, self.tmp_path, self.n = w, tmp_path, 0

    def next(self, state="active"):
        n = self.w.next_notify()
        assert n.get("Event") == "presence"
        assert n.get("Subscription-State").startswith(state), n.get("Subscription-State")
        self.n += 1
        return pidf_of(n, self.tmp_path, f"pidf{self.n}.xml")

    def until(self, pred, limit=6):
        """The first document for which pred(doc) holds (prosody may send a presence that
        changes nothing first: an unavailable from the bare JID, a repeated one)."""
        seen = []
        for _ in range(limit):
            doc = self.next()
            if pred(doc):
                return doc
            seen.append(ET.tostring(doc).decode())
        raise AssertionError("no such PIDF among:\n" + "\n".join(seen))


def presence_of(p):
    show = p.find(cq("show"))
    status = p.find(cq("status"))
    prio = p.find(cq("priority"))
    return {"type": p.get("type"), "show": None if show is None else show.text,
            "status": None if status is None else status.text,
            "priority": None if prio is None else int(prio.text)}


def watches_left(e, side, after):
    """The gateway's count of watches after the last 'no longer watches' line."""
    m = logged(e.gw, rf"presence: {side} no longer watches .*; (\d+) watch\(es\) left",
               after=after)
    return int(m.group(1))


def test_presence_sip_watches_xmpp(e, tmp_path):
    """SIP SUBSCRIBE (Event: presence) to romeo@xmpp.test: romeo is asked (subscribe from
    alice@sip.test), approves, and each change of his two resources reaches alice as a PIDF
    checked field by field and against the schema; alice's un-SUBSCRIBE becomes unsubscribe
    for romeo and leaves nothing behind in the gateway."""
    balcony = e.client("romeo", "balcony")
    w = e.peer.subscribe(f"sip:romeo@{XMPP}", from_uri=f"sip:alice@{GW}", expires=60)
    assert w.response.status == 200, w.response
    pidfs = Pidfs(w, tmp_path)
    doc = pidfs.next()
    assert doc.get("entity") == f"sip:romeo@{XMPP}" and tuples(doc) == {}  # nothing known yet
    ask = balcony.next_presence(10, lambda p: p.get("type") == "subscribe")
    assert ask is not None and ask.get("from") == f"alice@{GW}", e.gw.log()[-3000:]
    balcony.send_presence(to=f"alice@{GW}", ptype="subscribed")
    contact_b = f"sip:romeo@{XMPP};gr=balcony"
    contact_g = f"sip:romeo@{XMPP};gr=garden"
    doc = pidfs.until(lambda d: contact_b in tuples(d))
    assert doc.get("entity") == f"sip:romeo@{XMPP}"
    t = tuple_fields(tuples(doc)[contact_b])
    assert t["basic"] == "open" and t["note"] is None and t["priority"] is None
    assert re.fullmatch(r"r[0-9a-f]{16}", t["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                        t["timestamp"])
    assert person_fields(doc) is None

    balcony.send_presence(show="away", status="In Verona, back soon", priority=5)
    doc = pidfs.until(lambda d: person_fields(d) is not None)
    t = tuple_fields(tuples(doc)[contact_b])
    assert (t["basic"], t["note"], t["priority"]) == ("open", "In Verona, back soon", "0.039")
    assert person_fields(doc) == {"activities": ["away"], "note": "In Verona, back soon"}

    garden = e.client("romeo", "garden")  # a second resource: a second tuple
    doc = pidfs.until(lambda d: contact_g in tuples(d))
    assert set(tuples(doc)) == {contact_b, contact_g}
    assert tuple_fields(tuples(doc)[contact_g])["basic"] == "open"
    assert tuple_fields(tuples(doc)[contact_g])["id"] != tuple_fields(tuples(doc)[contact_b])["id"]
    garden.send_presence(show="dnd", status="Sword practice", priority=10)
    doc = pidfs.until(lambda d: tuple_fields(tuples(d)[contact_g])["note"] is not None)
    assert tuple_fields(tuples(doc)[contact_g])["note"] == "Sword practice"
    assert tuple_fields(tuples(doc)[contact_g])["priority"] == "0.079"
    # the person is the available resource with the highest priority
    assert person_fields(doc) == {"activities": ["busy"], "note": "Sword practice"}
    garden.send_presence(show="xa", status=NON_ASCII, priority=10)
    doc = pidfs.next()
    assert person_fields(doc) == {"activities": ["away"], "note": NON_ASCII}
    assert tuple_fields(tuples(doc)[contact_g])["note"] == NON_ASCII

    garden.send_presence(ptype="unavailable")
    doc = pidfs.until(lambda d: tuple_fields(tuples(d)[contact_g])["basic"] == "closed")
    assert tuple_fields(tuples(doc)[contact_b])["basic"] == "open"
    assert person_fields(doc) == {"activities": ["away"], "note": "In Verona, back soon"}
    balcony.send_presence(show="chat", status="Free")
    doc = pidfs.next()
    assert set(tuples(doc)) == {contact_b}  # the closed one was reported once, then dropped
    assert person_fields(doc) == {"activities": [], "note": "Free"}  # chat has no activity

    mark = len(e.gw.log())
    r = w.unsubscribe()
    assert r.status == 200
    assert w.next_notify().get("Subscription-State").startswith("terminated")
    bye = balcony.next_presence(10, lambda p: p.get("type") == "unsubscribe")
    assert bye is not None and bye.get("from") == f"alice@{GW}"
    assert watches_left(e, f"alice@{GW}", mark) == 0


def test_presence_xmpp_revokes_sip_watch(e, tmp_path):
    """romeo refuses alice's subscription after approving it (unsubscribed): alice's dialog
    ends with terminated;reason=rejected and the gateway keeps nothing."""
    romeo = e.client("romeo", "hall")
    w = e.peer.subscribe(f"sip:romeo@{XMPP}", from_uri=f"sip:dave@{GW}", expires=60)
    assert w.response.status == 200
    pidfs = Pidfs(w, tmp_path)
    pidfs.next()
    assert romeo.next_presence(10, lambda p: p.get("type") == "subscribe") is not None
    romeo.send_presence(to=f"dave@{GW}", ptype="subscribed")
    pidfs.until(lambda d: tuples(d))
    mark = len(e.gw.log())
    romeo.send_presence(to=f"dave@{GW}", ptype="unsubscribed")
    while True:
        n = w.next_notify()
        if n.get("Subscription-State").startswith("terminated"):
            break
    assert n.get("Subscription-State") == "terminated;reason=rejected"
    assert watches_left(e, f"dave@{GW}", mark) == 0


PIDF_TEMPLATE = ("<?xml version='1.0' encoding='UTF-8'?>"
                 f"<presence xmlns='{PIDF_NS}' xmlns:dm='{DM_NS}' xmlns:rpid='{RPID_NS}' "
                 "entity='sip:alice@sip.test'>{tuples}{person}</presence>")


def pidf(basic="open", gr="desk", note=None, activity=None, person_note=None, q=None):
    note = f"<note>{note}</note>" if note else ""
    prio = f" priority='{q}'" if q else ""
    tuple_ = (f"<tuple id='t-{gr}'><status><basic>{basic}</basic></status>"
              f"<contact{prio}>sip:alice@sip.test;gr={gr}</contact>{note}</tuple>")
    person = ""
    if activity or person_note:
        acts = f"<rpid:activities><rpid:{activity}/></rpid:activities>" if activity else ""
        pn = f"<dm:note>{person_note}</dm:note>" if person_note else ""
        person = f"<dm:person id='p1'>{acts}{pn}</dm:person>"
    return PIDF_TEMPLATE.format(tuples=tuple_, person=person).encode()


def from_alice(p):
    return p.get("from", "").startswith(f"alice@{GW}")


def test_presence_xmpp_watches_sip(e, tmp_path):
    """juliet subscribes to alice@sip.test: the gateway SUBSCRIBEs through outbound_proxy (the
    SIP peer is alice's notifier), juliet gets subscribed, then each NOTIFY's PIDF as presence:
    available with the note, away, dnd, unavailable. The core refreshes the SUBSCRIBE; juliet's
    unsubscribe ends it (un-SUBSCRIBE), and nothing is left: no refresh follows."""
    e.peer.subscribe_rule = lambda req: (200, 4)  # a short subscription: refreshed soon
    juliet = e.client("juliet", "balcony")
    for doc in (pidf(note="at my desk"),):  # the PIDF the notifier starts with
        e.peer.first_notify = lambda n, doc=doc: n.notify(doc, wait=False)
    juliet.send_presence(to=f"alice@{GW}", ptype="subscribe")
    n = e.peer.subscriptions.get(timeout=10)
    req = n.request
    assert req.uri == f"sip:alice@{GW}"
    assert header_uri(req.get("From")) == f"sip:juliet@{XMPP}"
    assert header_uri(req.get("To")) == f"sip:alice@{GW}"
    assert req.get("Event") == "presence" and "application/pidf+xml" in req.get("Accept")
    p = juliet.next_presence(10, lambda p: from_alice(p) and p.get("type") == "subscribed")
    assert p is not None and p.get("from") == f"alice@{GW}", e.gw.log()[-3000:]
    p = juliet.next_presence(10, lambda p: from_alice(p) and p.get("type") is None)
    assert p is not None, e.gw.log()[-3000:]
    assert p.get("from") == f"alice@{GW}/desk"
    assert presence_of(p) == {"type": None, "show": None, "status": "at my desk",
                              "priority": None}

    # The refresh (Expires 4) makes the notifier send its current document again, which may
    # land between two of these: each wait is for the state it expects, not the next stanza.
    def changed_to(show=None, kind=None):
        return lambda p: from_alice(p) and (presence_of(p)["show"], presence_of(p)["type"]) == \
            (show, kind)
    assert n.notify(pidf(q="0.5", activity="away", person_note="gone fishing")).status == 200
    p = juliet.next_presence(10, changed_to("away"))
    assert p is not None and presence_of(p) == {"type": None, "show": "away",
                                                "status": "gone fishing", "priority": 64}
    assert n.notify(pidf(activity="on-the-phone", note=NON_ASCII)).status == 200
    p = juliet.next_presence(10, changed_to("dnd"))
    assert p is not None and presence_of(p) == {"type": None, "show": "dnd",
                                                "status": NON_ASCII, "priority": None}
    assert n.notify(pidf(basic="closed")).status == 200
    p = juliet.next_presence(10, changed_to(None, "unavailable"))
    assert p is not None and p.get("from") == f"alice@{GW}/desk"
    # the core keeps the subscription up (Expires 4 granted)
    assert n.events.get(timeout=10)[0] == "refresh"

    mark = len(e.gw.log())
    juliet.send_presence(to=f"alice@{GW}", ptype="unsubscribe")
    while True:
        kind, _ = n.events.get(timeout=10)
        if kind == "unsubscribe":
            break
    assert watches_left(e, f"juliet@{XMPP}", mark) == 0
    # and no refresh follows (in the dialog or a new one): nothing for twice the granted time
    with pytest.raises(queue.Empty):
        n.events.get(timeout=8)
    assert e.peer.subscriptions.empty()


def test_presence_sip_notifier_ends_xmpp_watch(e):
    """alice's notifier ends the subscription (terminated;reason=rejected): romeo hears
    unsubscribed; the core does not subscribe again and the gateway keeps nothing. A SIP
    refusal of the SUBSCRIBE (403) is unsubscribed too; another (404) a presence error."""
    romeo = e.client("romeo", "orchard")
    romeo.send_presence(to=f"alice@{GW}", ptype="subscribe")
    n = e.peer.subscriptions.get(timeout=10)
    assert romeo.next_presence(10, lambda p: from_alice(p) and
                               p.get("type") == "subscribed") is not None
    mark = len(e.gw.log())
    assert n.terminate("rejected").status == 200
    p = romeo.next_presence(10, lambda p: from_alice(p) and p.get("type") == "unsubscribed")
    assert p is not None, e.gw.log()[-3000:]
    assert watches_left(e, f"romeo@{XMPP}", mark) == 0

    e.peer.subscribe_rule = lambda req: (403, 0) if "erin@" in req.uri else (404, 0)
    romeo.send_presence(to=f"erin@{GW}", ptype="subscribe")
    p = romeo.next_presence(10, lambda p: p.get("from", "").startswith(f"erin@{GW}"))
    assert p is not None and p.get("type") == "unsubscribed", e.gw.log()[-3000:]
    romeo.send_presence(to=f"frank@{GW}", ptype="subscribe")
    p = romeo.next_presence(10, lambda p: p.get("from", "").startswith(f"frank@{GW}"))
    assert p is not None and p.get("type") == "error"
    assert error_condition(p) == "item-not-found"
    refused = [e.peer.subscriptions.get(timeout=5) for _ in range(2)]
    assert [(kind, header_uri(req.get("To"))) for kind, req in refused] == \
        [("refused", f"sip:erin@{GW}"), ("refused", f"sip:frank@{GW}")]
    # nothing more reached the notifier: no SUBSCRIBE again after a refusal or rejected
    assert e.peer.subscriptions.empty() and n.events.empty()


# --------------------------------------------------------------------- prosody restart ---

def test_prosody_restart(e):
    """prosody stops and starts again (same ports, same data) with a SIP MESSAGE waiting for
    it: the component connects again / the s2s streams are set up again, messages flow both
    ways afterwards, and every MESSAGE the gateway answered 200 reached juliet (and every
    receipt juliet got is for a MESSAGE the SIP side had): nothing acknowledged is lost. The
    gateway does not crash (and leaves nothing behind at the module's end)."""
    juliet = e.client("juliet", "before")
    assert sip_message(e, "alice", f"sip:juliet@{XMPP}", "before the restart").status == 200
    assert body_of(juliet.next_message(10)) == "before the restart"
    mark = len(e.gw.log())
    e.prosody.stop()
    if e.mode == "component":
        logged(e.gw, r"component sip\.test: connection lost", after=mark)
    else:
        logged(e.gw, r"s2s (out|in) .*: stream closed", after=mark)
    waiting = e.peer.send_request(e.peer.new_request(
        "MESSAGE", f"sip:juliet@{XMPP}", f"sip:alice@{GW}", body=b"while down",
        content_type="text/plain"), wait=False)
    e.prosody.start()
    juliet = e.client("juliet", "after")
    if e.mode == "component":
        logged(e.gw, r"component sip\.test: connected to .* as component sip\.test", after=mark,
               timeout=30)
    sent = {"while down": waiting}
    for i in range(5):
        text = f"after {i} ✓"
        sent[text] = e.peer.send_request(e.peer.new_request(
            "MESSAGE", f"sip:juliet@{XMPP}", f"sip:alice@{GW}", body=text.encode(),
            content_type="text/plain;charset=utf-8"), wait=False)
    for t in sent.values():
        assert t.done.wait(40) and t.response is not None, e.peer.trace()
    statuses = {text: t.response.status for text, t in sent.items()}
    got = set()
    while True:
        m = juliet.next_message(5)
        if m is None:
            break
        got.add(body_of(m))
    acknowledged = {text for text, status in statuses.items() if status == 200}
    assert acknowledged <= got, (statuses, got)
    assert all(statuses[f"after {i} ✓"] == 200 for i in range(5)), statuses
    assert statuses["while down"] in (200, 408, 503), statuses  # failed, or delivered
    if e.mode == "s2s":
        logged(e.gw, r"authenticated by dialback as sip\.test to xmpp\.test", after=mark)
        logged(e.gw, r"xmpp\.test verified by dialback for sip\.test", after=mark)
    # and XMPP -> SIP, each with a receipt asked for
    for i in range(3):
        juliet.send_raw(f"<message to='bob@{GW}' type='chat' id='back{i}'><body>back {i}"
                        f"</body><request xmlns='{RECEIPTS}'/></message>")
    bodies = {cpim_parts(next_sip_message(e))[2] for _ in range(3)}
    assert bodies == {b"back 0", b"back 1", b"back 2"}
    receipts = set()
    while len(receipts) < 3:
        m = juliet.next_message(10)
        assert m is not None, receipts
        receipts.add(m.find(f"{{{RECEIPTS}}}received").get("id"))
    assert receipts == {"back0", "back1", "back2"}
    assert e.gw.alive()


def test_retransmitted_message_gets_the_same_answer(e):
    """A MESSAGE retransmitted after its final response (the gateway answers after its 2 s
    hold; over UDP the request is sent again meanwhile and after) gets that response again from
    the transaction, reason phrase included (a phrase of the plugin's own too), long after the
    core let the request go."""
    from sip_client import SipUA, serialize
    ua = SipUA(("127.0.0.1", e.gw.sip_port))
    juliet = e.client("juliet", "408")
    try:
        for frm, uri, status, phrase in [
                (GW, f"sip:juliet@{XMPP}", 200, "OK"),
                (GW, f"sip:nobody@{XMPP}", 503, "Service Unavailable"),
                ("elsewhere.test", f"sip:juliet@{XMPP}", 403, "From Domain Not Served")]:
            req = ua.new_request("MESSAGE", uri, body=b"again", content_type="text/plain",
                                 from_uri=f"sip:alice@{frm}")
            first = ua.transaction(req, timeout=10)
            assert (first.status, first.reason) == (status, phrase)
            for _ in range(2):
                ua.sock.sendto(serialize(req), ua.server)
                again = ua.wait(lambda m: not m.is_request and m.branch() == req.branch(), 5)
                assert again is not None, ua.trace()
                assert (again.status, again.reason) == (status, phrase)
        # a 408 (juliet answers remote-server-timeout): nta holds a 408 to a non-INVITE
        # request back (RFC 4320) and sends it, encoding it then, when the request comes again
        req = ua.new_request("MESSAGE", f"sip:juliet@{XMPP}", body=b"slow",
                             content_type="text/plain", from_uri=f"sip:alice@{GW}")
        result = []
        t = threading.Thread(target=lambda: result.append(ua.transaction(req, timeout=15)))
        t.start()
        m = juliet.next_message(10, lambda m: body_of(m) == "slow")
        assert m is not None
        juliet.send_raw(f"<message type='error' id='{m.get('id')}' to='{m.get('from')}'>"
                        f"<error type='wait'><remote-server-timeout xmlns='{STANZAS}'/></error>"
                        "</message>")
        t.join(20)
        assert result and (result[0].status, result[0].reason) == (408, "Request Timeout"), \
            ua.trace()
        assert e.gw.alive()
    finally:
        ua.close()
