"""XMPP gateway, Jingle audio (XEP-0166/0167, raw-UDP transport XEP-0177) <-> SIP audio
(plugins/xmppgw/jingle.c): a Jingle call to a SIP user becomes an INVITE, the two legs are
bridged by a mixer and each side hears the other's tone.

XMPP side: a private prosody 0.12 serving xmpp.test, the gateway its external component
(XEP-0114) for sip.test; slixmpp has no Jingle plugin, so the test client writes the Jingle IQs
itself (XEP-0166 examples) and acknowledges the gateway's. Its media is test/peers/rtp_tone.py
on the raw-UDP candidate it announced.

SIP side: the gateway's `[sip] outbound_proxy` is a SIP peer of the test (test/peers/sip_peer.py)
that answers the INVITE with the SDP of another rtp_tone socket, or refuses it.
"""
import copy
import os
import queue
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import rtp_tone
from conftest import Server
from prosody import Prosody
from sip_client import parse_sdp, sdp_offer
from sip_peer import SipPeer
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from xmpp_client import CLIENT_NS, XmppClient, error_condition

GW = "sip.test"
XMPP = "xmpp.test"
SECRET = "s3cret"
JINGLE = "urn:xmpp:jingle:1"
RTP = "urn:xmpp:jingle:apps:rtp:1"
RAW_UDP = "urn:xmpp:jingle:transports:raw-udp:1"
ICE_UDP = "urn:xmpp:jingle:transports:ice-udp:1"
RTP_INFO = "urn:xmpp:jingle:apps:rtp:info:1"
JINGLE_ERRORS = "urn:xmpp:jingle:errors:1"
CALLEE = f"bob@{GW}/phone"
PHONE = "phone.test"  # served by a second gateway whose outbound proxy is baresip


def gateway(workdir, prosody, domain, proxy_uri):
    os.makedirs(workdir, exist_ok=True)
    gw = Server(workdir, config={
        "server": {"application_map": f"{XMPP}:xmppgw"},
        "sip": {"outbound_proxy": proxy_uri}},
        plugin_configs={"xmppgw": {"general": {
            "domains": domain, "trace_xmpp": True, "mode": "component",
            "component_host": "127.0.0.1", "component_port": prosody.component_port,
            "component_secret": SECRET}}})
    gw.start()
    gw.wait_log(f"component {domain}: connected")
    return gw


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"), s2s=False, dns_jitter=False,
                offline=False, components={GW: SECRET, PHONE: SECRET})
    p.register("juliet", "julietpw")
    p.start()
    peer = SipPeer().start()
    gw = gateway(tmp_path_factory.mktemp("gw"), p, GW, peer.uri)
    yield gw, peer, p
    try:
        assert gw.stop() == 0, gw.log()[-3000:]
    finally:
        if gw.alive():
            gw.proc.kill()
        peer.stop()
        p.stop()


class Caller:
    """juliet@xmpp.test/r with a Jingle IQ inbox and an RTP socket for its raw-UDP candidate."""

    def __init__(self, prosody):
        self.c = XmppClient(f"juliet@{XMPP}/r", "julietpw", prosody.c2s_port)
        self.jingles = queue.Queue()
        self.c.xmpp.register_handler(Callback(
            "jingle", MatchXPath(f"{{{CLIENT_NS}}}iq/{{{JINGLE}}}jingle"), self._on_jingle))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.sid = f"sid{time.time_ns()}"

    def _on_jingle(self, iq):
        self.jingles.put(copy.deepcopy(iq.xml))
        iq.reply().send()  # the ack (XEP-0166 §6.2)

    def jingle(self, action, inner="", timeout=20, sid=None, to=CALLEE):
        return self.c.iq("set", to, f"<jingle xmlns='{JINGLE}' action='{action}' "
                         f"sid='{sid or self.sid}' initiator='juliet@{XMPP}/r'>{inner}</jingle>",
                         timeout)

    def offer(self, transport=None):
        port = self.rtp.getsockname()[1]
        transport = transport or (
            f"<transport xmlns='{RAW_UDP}'>"
            f"<candidate component='1' generation='0' id='c1' ip='127.0.0.1' port='{port}'/>"
            f"<candidate component='2' generation='0' id='c2' ip='127.0.0.1' port='{port + 1}'/>"
            "</transport>")
        return (f"<content creator='initiator' name='voice'>"
                f"<description xmlns='{RTP}' media='audio'>"
                "<payload-type id='0' name='PCMU' clockrate='8000'/></description>"
                f"{transport}</content>")

    def next_action(self, action, timeout=15):
        """The next Jingle IQ from the gateway with this action (others are dropped)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                iq = self.jingles.get(timeout=max(deadline - time.time(), 0.05))
            except queue.Empty:
                break
            j = iq.find(f"{{{JINGLE}}}jingle")
            if j.get("action") == action and j.get("sid") == self.sid:
                return iq, j
        raise AssertionError(f"no {action} within {timeout}s")

    def close(self):
        self.rtp.close()
        self.c.close()


@pytest.fixture
def caller(env):
    gw, peer, prosody = env
    peer.invite_rule = lambda req: (480, None)
    for q_ in (peer.invites, peer.byes):
        while not q_.empty():
            q_.get_nowait()
    c = Caller(prosody)
    yield c
    c.close()
    assert gw.alive(), gw.log()[-3000:]


def reason_of(jingle):
    r = jingle.find(f"{{{JINGLE}}}reason")
    return [el.tag.split("}")[1] for el in r if el.tag != f"{{{JINGLE}}}text"][0]


def exchange_tones(xmpp_leg, sip_leg, xmpp_hz=600, sip_hz=1100):
    """Each leg (host, port, socket) sends its tone for 2.5 s and hears the other's."""
    reports = {}
    legs = [("xmpp", *xmpp_leg, xmpp_hz), ("sip", *sip_leg, sip_hz)]
    threads = [threading.Thread(target=lambda n=n, h=h, p=p, s=s, f=f: reports.update(
        {n: rtp_tone.run(h, p, "PCMU", 0, f, 2.5, sock=s)})) for n, h, p, s, f in legs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert reports["xmpp"]["dominant_hz"] == pytest.approx(sip_hz, abs=30), reports["xmpp"]
    assert reports["sip"]["dominant_hz"] == pytest.approx(xmpp_hz, abs=30), reports["sip"]
    for r in reports.values():
        assert r["received"] >= r["sent"] * 0.8, r


def test_jingle_call_to_a_sip_user_is_bridged(env, caller):
    """session-initiate -> ack, INVITE to sip:bob@sip.test from sip:juliet@xmpp.test;gr=r; the
    SIP 200 -> session-accept (the initiator's content name, our raw-UDP candidates, PCMU);
    each side hears the other's tone; the Jingle side's terminate -> BYE."""
    gw, peer, _ = env
    sip_rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_rtp.bind(("127.0.0.1", 0))
    peer.invite_rule = lambda req: (200, sdp_offer(sip_rtp.getsockname()[1]))
    try:
        ack = caller.jingle("session-initiate", caller.offer())
        assert ack.get("type") == "result", ET.tostring(ack)
        invite, _ = peer.invites.get(timeout=15)
        assert "sip:bob@sip.test" in invite.get("To"), invite.text
        assert re.search(r"sip:juliet@xmpp\.test;gr=r", invite.get("From")), invite.text
        iq, j = caller.next_action("session-accept")
        assert j.get("responder") == CALLEE
        content = j.find(f"{{{JINGLE}}}content")
        assert (content.get("creator"), content.get("name")) == ("initiator", "voice")
        pts = content.findall(f"{{{RTP}}}description/{{{RTP}}}payload-type")
        assert [(p.get("id"), p.get("name")) for p in pts] == [("0", "PCMU")], ET.tostring(j)
        cand = rtp_candidate(content)
        assert cand is not None and cand.get("ip") == "127.0.0.1", ET.tostring(j)
        sip_media = parse_sdp(invite.text)["media"][0]
        exchange_tones(("127.0.0.1", int(cand.get("port")), caller.rtp),
                       (sip_media["c"], sip_media["port"], sip_rtp))
        done = caller.jingle("session-terminate", f"<reason><success/></reason>")
        assert done.get("type") == "result"
        bye = peer.byes.get(timeout=10)
        assert bye.get("Call-ID") == invite.get("Call-ID")
    finally:
        sip_rtp.close()


def stun_check(sock, dest, username, pwd, timeout=2.0):
    """An ICE connectivity check (RFC 8445 7.2.2, RFC 5389, built here with hmac and zlib):
    a Binding Request with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
    MESSAGE-INTEGRITY keyed with pwd and FINGERPRINT, from sock to dest. Returns the answer's
    (XOR-MAPPED-ADDRESS host, port) once its integrity (with pwd) and fingerprint check out,
    or None when nothing came."""
    import hashlib
    import hmac
    import struct
    import zlib
    cookie = 0x2112A442
    tid = os.urandom(12)

    def attr(t, v):
        return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
    body = (attr(0x0006, username.encode()) + attr(0x0024, struct.pack("!I", 1853824511)) +
            attr(0x802A, os.urandom(8)) + attr(0x0025, b""))
    head = struct.pack("!HHI", 0x0001, len(body) + 24, cookie) + tid
    mi = hmac.new(pwd.encode(), head + body, hashlib.sha1).digest()
    msg = head + body + attr(0x0008, mi)
    msg = msg[:2] + struct.pack("!H", len(msg) - 20 + 8) + msg[4:]
    msg += attr(0x8028, struct.pack("!I", (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF))
    sock.sendto(msg, dest)
    deadline = time.time() + timeout
    try:
        while True:  # RTP may be flowing on the same socket: only our answer counts
            left = deadline - time.time()
            if left <= 0:
                return None
            sock.settimeout(left)
            r, _ = sock.recvfrom(2048)
            if len(r) >= 20 and r[8:20] == tid:
                break
    except socket.timeout:
        return None
    finally:
        sock.settimeout(None)
    typ, length = struct.unpack("!HH", r[:4])
    assert typ == 0x0101 and length + 20 == len(r), r.hex()
    attrs, off = {}, 20
    while off < len(r):
        t, n = struct.unpack("!HH", r[off:off + 4])
        attrs[t] = (off, r[off + 4:off + 4 + n])
        off += 4 + n + (-n % 4)
    mi_off, mi_val = attrs[0x0008]
    covered = r[:2] + struct.pack("!H", mi_off + 24 - 20) + r[4:mi_off]
    assert hmac.new(pwd.encode(), covered, hashlib.sha1).digest() == mi_val, "integrity"
    fp_off, fp_val = attrs[0x8028]
    assert struct.unpack("!I", fp_val)[0] == (zlib.crc32(r[:fp_off]) ^ 0x5354554E) & 0xFFFFFFFF
    xa = attrs[0x0020][1]
    port = struct.unpack("!H", xa[2:4])[0] ^ (cookie >> 16)
    ip = socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", xa[4:8])[0] ^ cookie))
    return ip, port


def test_jingle_call_with_ice_host_candidates(env, caller):
    """An ICE-UDP offer (a relay and a TCP candidate beside the UDP host one): the host
    candidate is used, the session-accept answers in ICE-UDP (ufrag, pwd, host candidates) and
    the tones cross. Our connectivity checks to its candidate are answered (ICE-lite) when
    they carry its credentials, and only then."""
    _, peer, _ = env
    sip_rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_rtp.bind(("127.0.0.1", 0))
    peer.invite_rule = lambda req: (200, sdp_offer(sip_rtp.getsockname()[1]))
    port = caller.rtp.getsockname()[1]
    ice = (f"<transport xmlns='{ICE_UDP}' ufrag='8hhy' pwd='asd88fgpdd777uzjYhagZg'>"
           "<candidate component='1' foundation='2' generation='0' id='r1' ip='10.9.9.9' "
           "port='3478' priority='16777215' protocol='udp' type='relay'/>"
           "<candidate component='1' foundation='3' generation='0' id='t1' ip='127.0.0.1' "
           "port='9' priority='2130706431' protocol='tcp' type='host'/>"
           "<candidate component='1' foundation='1' generation='0' id='h1' ip='127.0.0.1' "
           f"port='{port}' priority='2130706430' protocol='udp' type='host'/></transport>")
    try:
        assert caller.jingle("session-initiate", caller.offer(ice)).get("type") == "result"
        invite, _ = peer.invites.get(timeout=15)
        _, j = caller.next_action("session-accept")
        t = j.find(f"{{{JINGLE}}}content/{{{ICE_UDP}}}transport")
        assert t is not None and len(t.get("ufrag")) >= 4 and len(t.get("pwd")) >= 22, \
            ET.tostring(j)
        cand = t.find(f"{{{ICE_UDP}}}candidate[@component='1']")
        assert cand.get("type") == "host" and cand.get("protocol") == "udp"
        # ICE-lite: our check of the gateway's candidate is answered, authenticated with its
        # pwd and telling our address; one with another pwd or ufrag is not answered
        ours = ("127.0.0.1", int(cand.get("port")))
        mapped = stun_check(caller.rtp, ours, f"{t.get('ufrag')}:8hhy", t.get("pwd"))
        assert mapped == caller.rtp.getsockname(), mapped
        assert stun_check(caller.rtp, ours, f"{t.get('ufrag')}:8hhy", "x" * 22, 0.5) is None
        assert stun_check(caller.rtp, ours, f"nope:8hhy", t.get("pwd"), 0.5) is None
        sip_media = parse_sdp(invite.text)["media"][0]
        exchange_tones(("127.0.0.1", int(cand.get("port")), caller.rtp),
                       (sip_media["c"], sip_media["port"], sip_rtp))
        assert caller.jingle("session-terminate", "<reason><success/></reason>").get("type") \
            == "result"
        peer.byes.get(timeout=10)
    finally:
        sip_rtp.close()


def test_sip_refusal_ends_the_jingle_session_with_its_reason(env, caller):
    """486 -> session-terminate <busy/>; 603 -> <decline/>; 404 -> <gone/>."""
    _, peer, _ = env
    for status, reason in ((486, "busy"), (603, "decline"), (404, "gone")):
        caller.sid = f"sid{time.time_ns()}"
        peer.invite_rule = lambda req, s=status: (s, None)
        assert caller.jingle("session-initiate", caller.offer()).get("type") == "result"
        _, j = caller.next_action("session-terminate")
        assert reason_of(j) == reason, ET.tostring(j)


def test_disco_of_a_sip_user_shows_jingle(env, caller):
    """disco#info of bob@sip.test/phone: the features a Jingle client looks for."""
    info = "http://jabber.org/protocol/disco#info"
    r = caller.c.iq("get", CALLEE, f"<query xmlns='{info}'/>")
    assert r.get("type") == "result", ET.tostring(r)
    features = {f.get("var") for f in r.findall(f"{{{info}}}query/{{{info}}}feature")}
    assert {JINGLE, RTP, "urn:xmpp:jingle:apps:rtp:audio", RAW_UDP, ICE_UDP,
            "urn:xmpp:jingle-message:0"} <= features, features


def test_bad_jingle_requests(env, caller):
    """An unknown session: item-not-found with <unknown-session/>; a transport that is neither
    raw-UDP nor ICE-UDP: ack then terminate <unsupported-transports/>; no common codec:
    <incompatible-parameters/>; no content: bad-request. A call ringing (SIP 180 ->
    session-info <ringing/>): a ping (empty session-info) gets its result, an unknown action
    bad-request, the caller's terminate cancels the INVITE."""
    gw, peer, _ = env
    r = caller.jingle("session-terminate", "<reason><success/></reason>", sid="nosuch")
    assert r.get("type") == "error" and error_condition(r) == "item-not-found", ET.tostring(r)
    assert r.find(f".//{{{JINGLE_ERRORS}}}unknown-session") is not None, ET.tostring(r)
    s5b = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='x'/>"
    assert caller.jingle("session-initiate", caller.offer(s5b)).get("type") == "result"
    _, j = caller.next_action("session-terminate")
    assert reason_of(j) == "unsupported-transports"
    # no codec in common (XEP-0166: incompatible-parameters); no SIP call is made
    caller.sid = f"sid{time.time_ns()}"
    odd = caller.offer().replace("id='0' name='PCMU'", "id='98' name='x-nothing'")
    assert caller.jingle("session-initiate", odd).get("type") == "result"
    _, j = caller.next_action("session-terminate")
    assert reason_of(j) == "incompatible-parameters", ET.tostring(j)
    assert peer.invites.empty(), "a SIP call was made for an offer with no common codec"
    caller.sid = f"sid{time.time_ns()}"
    r = caller.jingle("session-initiate", "")
    assert r.get("type") == "error" and error_condition(r) == "bad-request", ET.tostring(r)
    # a live (ringing) call: a ping, an unknown action
    caller.sid = f"sid{time.time_ns()}"
    peer.invite_rule = lambda req: (180, None)  # rings (a CANCEL gets its 487)
    assert caller.jingle("session-initiate", caller.offer()).get("type") == "result"
    _, j = caller.next_action("session-info")  # 180 -> <ringing/>
    assert j.find(f"{{{RTP_INFO}}}ringing") is not None, ET.tostring(j)
    assert caller.jingle("session-info").get("type") == "result"
    r = caller.jingle("no-such-action")
    assert r.get("type") == "error" and error_condition(r) == "bad-request", ET.tostring(r)
    assert caller.jingle("session-terminate", "<reason><cancel/></reason>").get("type") == \
        "result"
    gw.wait_log("ended by the Jingle side")


# ------------------------------------------------------------------------ SIP -> Jingle ---

JMI = "urn:xmpp:jingle-message:0"


def sip_call(gw, to, rtp_sock, result, offer=None):
    """INVITE from sip:alice@sip.test with PCMU on rtp_sock, in a thread; result["dialog"]."""
    from sip_client import SipUA
    ua = SipUA(("127.0.0.1", gw.sip_port), user="alice")
    result["ua"] = ua
    result["dialog"] = ua.invite(to, sdp=offer or sdp_offer(rtp_sock.getsockname()[1]),
                                 timeout=25, from_uri=f"sip:alice@{GW}")


def accept_content(caller):
    port = caller.rtp.getsockname()[1]
    return (f"<content creator='initiator' name='audio'><description xmlns='{RTP}' "
            "media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description>"
            f"<transport xmlns='{RAW_UDP}'><candidate component='1' generation='0' id='a1' "
            f"ip='127.0.0.1' port='{port}'/></transport></content>")


def rtp_candidate(content):
    """The component-1 candidate of a content's raw-UDP or ICE-UDP transport."""
    for ns in (RAW_UDP, ICE_UDP):
        c = content.find(f"{{{ns}}}transport/{{{ns}}}candidate[@component='1']")
        if c is not None:
            return c
    return None


def accept_call(caller):
    """juliet's session-accept (PCMU on her raw-UDP candidate) of the call caller.sid."""
    r = caller.c.iq("set", f"alice@{GW}", f"<jingle xmlns='{JINGLE}' action='session-accept'"
                    f" sid='{caller.sid}' responder='juliet@{XMPP}/r'>"
                    f"{accept_content(caller)}</jingle>")
    assert r.get("type") == "result", ET.tostring(r)


def wait_initiate(caller, timeout=15):
    """The next session-initiate's <jingle/> (its sid becomes caller.sid)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = caller.jingles.get(timeout=max(deadline - time.time(), 0.05)).find(
            f"{{{JINGLE}}}jingle")
        if j.get("action") == "session-initiate":
            caller.sid = j.get("sid")
            return j
    raise AssertionError("no session-initiate")


def test_sip_call_to_an_xmpp_user_is_proposed_then_bridged(env, caller):
    """An INVITE with audio to sip:juliet@xmpp.test: an XEP-0353 propose to her bare JID from
    alice@sip.test; her <proceed/> brings the session-initiate (our raw-UDP offer) to that
    resource; her session-accept answers the INVITE 200; tones both ways; the BYE ends the
    Jingle session with <success/>."""
    gw, _, _ = env
    sip_rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_rtp.bind(("127.0.0.1", 0))
    result = {}
    t = threading.Thread(target=sip_call, args=(gw, f"sip:juliet@{XMPP}", sip_rtp, result))
    t.start()
    try:
        m = caller.c.next_message(15, match=lambda x: x.find(f"{{{JMI}}}propose") is not None)
        assert m is not None, "no propose"
        assert m.get("from") == f"alice@{GW}" and m.get("to") == f"juliet@{XMPP}"
        propose = m.find(f"{{{JMI}}}propose")
        assert propose.find(f"{{{RTP}}}description").get("media") == "audio"
        caller.sid = propose.get("id")
        caller.c.send_raw(f"<message to='alice@{GW}' type='chat'><proceed xmlns='{JMI}' "
                          f"id='{caller.sid}'/></message>")
        iq, j = caller.next_action("session-initiate")
        assert iq.get("to") == f"juliet@{XMPP}/r" and j.get("initiator") == f"alice@{GW}"
        content = j.find(f"{{{JINGLE}}}content")
        names = [p.get("name") for p in content.findall(f"{{{RTP}}}description/{{{RTP}}}"
                                                        "payload-type")]
        assert "PCMU" in names, ET.tostring(j)
        cand = rtp_candidate(content)
        accept_call(caller)
        t.join(30)
        d = result["dialog"]
        assert d.response.status == 200, d.response.text
        assert any(p.status == 180 for p in d.provisional), "the INVITE did not ring"
        d.ack()
        sip_media = parse_sdp(d.response.text)["media"][0]
        exchange_tones(("127.0.0.1", int(cand.get("port")), caller.rtp),
                       (sip_media["c"], sip_media["port"], sip_rtp), 700, 1300)
        d.bye()
        _, j = caller.next_action("session-terminate")
        assert reason_of(j) == "success"
    finally:
        t.join(30)
        if "ua" in result:
            result["ua"].close()
        sip_rtp.close()


def test_sip_call_refused_on_the_xmpp_side(env, caller):
    """A <reject/> to the propose answers the INVITE 603; with gr=r the session-initiate goes
    straight to juliet@xmpp.test/r, and her session-terminate <busy/> answers it 486."""
    gw, _, _ = env
    sip_rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_rtp.bind(("127.0.0.1", 0))
    try:
        result = {}
        t = threading.Thread(target=sip_call, args=(gw, f"sip:juliet@{XMPP}", sip_rtp, result))
        t.start()
        m = caller.c.next_message(15, match=lambda x: x.find(f"{{{JMI}}}propose") is not None)
        sid = m.find(f"{{{JMI}}}propose").get("id")
        caller.c.send_raw(f"<message to='alice@{GW}' type='chat'><reject xmlns='{JMI}' "
                          f"id='{sid}'/></message>")
        t.join(30)
        result["ua"].close()
        assert result["dialog"].response.status == 603, result["dialog"].response.text
        result = {}
        t = threading.Thread(target=sip_call, args=(gw, f"sip:juliet@{XMPP};gr=r", sip_rtp,
                                                    result))
        t.start()
        wait_initiate(caller)
        r = caller.c.iq("set", f"alice@{GW}", f"<jingle xmlns='{JINGLE}' "
                        f"action='session-terminate' sid='{caller.sid}'><reason><busy/>"
                        "</reason></jingle>")
        assert r.get("type") == "result"
        t.join(30)
        result["ua"].close()
        assert result["dialog"].response.status == 486, result["dialog"].response.text
    finally:
        sip_rtp.close()


def test_jingle_call_answered_by_baresip(env, caller, tmp_path):
    """A Jingle call to alice@phone.test, a baresip (auto answer, a 440 Hz WAV) behind a second
    gateway: the Jingle side hears 440 Hz, baresip decodes the caller's 600 Hz; the caller's
    terminate ends baresip's call."""
    from baresip_peer import Baresip, read_wav, tone_analysis
    from conftest import free_port, free_port_pair, free_port_range
    _, _, prosody = env
    b = Baresip(tmp_path / "baresip", sip_port=free_port_pair(), rtp_start=free_port_range(100),
                ctrl_port=free_port(kinds=("tcp",)), aor=f"sip:alice@{PHONE}").start()
    try:
        gw2 = gateway(tmp_path / "gw2", prosody, PHONE, f"sip:127.0.0.1:{b.sip_port}")
    except Exception:
        b.stop()  # not left running when the gateway does not start
        raise
    try:
        callee = f"alice@{PHONE}/desk"
        ack = caller.jingle("session-initiate", caller.offer(), to=callee)
        # It failed once (1 in ~10 full runs) with prosody's "Component unavailable" right
        # after gw2's handshake was accepted: say what both sides logged if it comes back.
        assert ack.get("type") == "result", (ET.tostring(ack), gw2.log()[-2000:],
                                             prosody.log()[-3000:])
        b.wait_event("CALL_ESTABLISHED", timeout=15, stop_on=("CALL_CLOSED",))
        _, j = caller.next_action("session-accept")
        cand = j.find(f"{{{JINGLE}}}content/{{{RAW_UDP}}}transport/{{{RAW_UDP}}}"
                      "candidate[@component='1']")
        heard = rtp_tone.run("127.0.0.1", int(cand.get("port")), "PCMU", 0, 600, 3.0,
                             sock=caller.rtp)
        assert heard["dominant_hz"] == pytest.approx(440, abs=30), heard
        assert heard["received"] >= heard["sent"] * 0.8, heard
        r = caller.jingle("session-terminate", "<reason><success/></reason>", to=callee)
        assert r.get("type") == "result"
        b.wait_event("CALL_CLOSED", timeout=10)
        dumps = b.decoded_dumps()
        assert dumps, b.log()[-3000:]
        rate, samples = read_wav(dumps[-1])
        assert tone_analysis(rate, samples)["freq"] == pytest.approx(600, abs=30)
    finally:
        assert gw2.stop() == 0, gw2.log()[-3000:]
        b.stop()


def test_srtp_on_the_sip_leg(env, caller):
    """The SIP caller offers RTP/SAVP with an SDES key (RFC 4568): the SIP leg is answered with
    SRTP while the Jingle leg stays plain RTP, and the tones cross both ways."""
    import srtp
    gw, _, _ = env
    sip_rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_rtp.bind(("127.0.0.1", 0))
    suite = "AES_CM_128_HMAC_SHA1_80"
    value, key, salt = srtp.make_sdes(tag=1, suite=suite)
    offer = sdp_offer(sip_rtp.getsockname()[1], extra_lines=[f"a=crypto:{value}"]).replace(
        b" RTP/AVP ", b" RTP/SAVP ")
    result = {}
    t = threading.Thread(target=sip_call, args=(gw, f"sip:juliet@{XMPP};gr=r", sip_rtp, result,
                                                offer))
    t.start()
    try:
        content = wait_initiate(caller).find(f"{{{JINGLE}}}content")
        assert content.find(f"{{{RTP}}}description/{{{RTP}}}encryption") is None
        cand = rtp_candidate(content)
        accept_call(caller)
        t.join(30)
        d = result["dialog"]
        assert d.response.status == 200, d.response.text
        d.ack()
        m = parse_sdp(d.response.text)["media"][0]
        crypto = [a for a in m["attrs"] if a.startswith("crypto:")]
        assert m["proto"] == "RTP/SAVP" and len(crypto) == 1, m
        _, their_suite, skey, ssalt = srtp.parse_sdes(crypto[0])
        ctx = (srtp.Context(key, salt, suite), srtp.Context(skey, ssalt, suite))
        reports = {}
        legs = [("xmpp", "127.0.0.1", int(cand.get("port")), caller.rtp, 700, None),
                ("sip", m["c"], m["port"], sip_rtp, 1300, ctx)]
        threads = [threading.Thread(target=lambda n=n, h=h, p=p, s=s, f=f, c=c: reports.update(
            {n: rtp_tone.run(h, p, "PCMU", 0, f, 2.5, sock=s, srtp=c)}))
            for n, h, p, s, f, c in legs]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert reports["xmpp"]["dominant_hz"] == pytest.approx(1300, abs=30), reports["xmpp"]
        assert reports["sip"]["dominant_hz"] == pytest.approx(700, abs=30), reports["sip"]
        assert reports["sip"]["srtp_auth_failures"] == 0, reports["sip"]
        d.bye()
        _, j = caller.next_action("session-terminate")
        assert reason_of(j) == "success"
    finally:
        t.join(30)
        if "ua" in result:
            result["ua"].close()
        sip_rtp.close()


def stun_attrs(m):
    """{type: (offset, value)} of a STUN message's attributes."""
    import struct
    attrs, off = {}, 20
    while off + 4 <= len(m):
        t, n = struct.unpack("!HH", m[off:off + 4])
        attrs[t] = (off, m[off + 4:off + 4 + n])
        off += 4 + n + (-n % 4)
    return attrs


def answer_our_check(sock, local_ufrag, local_pwd, remote_ufrag, timeout=5.0):
    """Waits on sock for the gateway's connectivity check (it is the controlling agent): checks
    its USERNAME (our fragment first), USE-CANDIDATE, ICE-CONTROLLING and MESSAGE-INTEGRITY
    (keyed with our pwd), and answers it with a Binding Success of our own making."""
    import hashlib
    import hmac
    import struct
    import zlib
    cookie = 0x2112A442
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        assert left > 0, "no connectivity check from the gateway"
        sock.settimeout(left)
        m, src = sock.recvfrom(2048)
        if len(m) >= 20 and m[0] < 4 and struct.unpack("!H", m[:2])[0] == 0x0001:
            break
    sock.settimeout(None)
    attrs = stun_attrs(m)
    assert attrs[0x0006][1] == f"{local_ufrag}:{remote_ufrag}".encode(), attrs[0x0006]
    assert 0x0025 in attrs and 0x802A in attrs, sorted(attrs)
    mi_off, mi = attrs[0x0008]
    covered = m[:2] + struct.pack("!H", mi_off + 24 - 20) + m[4:mi_off]
    assert hmac.new(local_pwd.encode(), covered, hashlib.sha1).digest() == mi

    def attr(t, v):
        return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
    ip = struct.unpack("!I", socket.inet_aton(src[0]))[0]
    xor = attr(0x0020, struct.pack("!BBHI", 0, 1, src[1] ^ (cookie >> 16), ip ^ cookie))
    head = struct.pack("!HHI", 0x0101, len(xor) + 24, cookie) + m[8:20]
    r = head + xor
    r += attr(0x0008, hmac.new(local_pwd.encode(), r, hashlib.sha1).digest())
    r = r[:2] + struct.pack("!H", len(r) - 20 + 8) + r[4:]
    r += attr(0x8028, struct.pack("!I", (zlib.crc32(r) ^ 0x5354554E) & 0xFFFFFFFF))
    sock.sendto(r, src)
    return src


def test_sip_call_over_ice_is_nominated(env, caller):
    """SIP -> Jingle over ICE-UDP: our session-initiate offers ICE-UDP (ufrag, pwd, host
    candidates); the callee accepts in ICE-UDP; the gateway, the controlling agent, checks the
    pair with USE-CANDIDATE keyed with the callee's pwd; the callee answers it; then no more
    checks come, and the tones cross both ways."""
    gw, _, _ = env
    sip_rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_rtp.bind(("127.0.0.1", 0))
    result = {}
    t = threading.Thread(target=sip_call, args=(gw, f"sip:juliet@{XMPP};gr=r", sip_rtp, result))
    t.start()
    try:
        j = wait_initiate(caller)
        offer_t = j.find(f"{{{JINGLE}}}content/{{{ICE_UDP}}}transport")
        assert offer_t is not None and len(offer_t.get("pwd")) >= 22, ET.tostring(j)
        cand = offer_t.find(f"{{{ICE_UDP}}}candidate[@component='1']")
        assert cand.get("type") == "host"
        port = caller.rtp.getsockname()[1]
        my_ufrag, my_pwd = "jul1", "julietjulietjulietjuliet"
        accept = (f"<content creator='initiator' name='audio'><description xmlns='{RTP}' "
                  "media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/>"
                  f"</description><transport xmlns='{ICE_UDP}' ufrag='{my_ufrag}' "
                  f"pwd='{my_pwd}'><candidate component='1' foundation='1' generation='0' "
                  f"id='j1' ip='127.0.0.1' port='{port}' priority='2130706431' protocol='udp' "
                  "type='host'/></transport></content>")
        r = caller.c.iq("set", f"alice@{GW}", f"<jingle xmlns='{JINGLE}' action='session-accept'"
                        f" sid='{caller.sid}' responder='juliet@{XMPP}/r'>{accept}</jingle>")
        assert r.get("type") == "result", ET.tostring(r)
        answer_our_check(caller.rtp, my_ufrag, my_pwd, offer_t.get("ufrag"))
        t.join(30)
        d = result["dialog"]
        assert d.response.status == 200, d.response.text
        d.ack()
        sip_media = parse_sdp(d.response.text)["media"][0]
        exchange_tones(("127.0.0.1", int(cand.get("port")), caller.rtp),
                       (sip_media["c"], sip_media["port"], sip_rtp), 800, 1200)
        d.bye()
        gw.wait_log(f"RTP port {cand.get('port')} closed")
        line = gw.log().split(f"RTP port {cand.get('port')} closed")[1].splitlines()[0]
        sent = int(re.search(r"(\d+) sent\)", line).group(1))
        assert 1 <= sent <= 3, line  # it stopped once answered
    finally:
        t.join(30)
        if "ua" in result:
            result["ua"].close()
        sip_rtp.close()
