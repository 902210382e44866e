"""The XMPP gateway's transport (plugins/xmppgw) against real peers: a private prosody 0.12
serving xmpp.test (test/peers/prosody.py) with slixmpp clients, the gateway serving sip.test.

- s2s both ways with dialback (XEP-0220), with STARTTLS required on both sides (prosody's
  default s2s_require_encryption) and without TLS; prosody finds the gateway through the SRV
  record _xmpp-server._tcp.sip.test of a private dnsmasq that prosody alone sees (a mount
  namespace with its own /etc/resolv.conf, test/peers/dns_server.py); the gateway finds
  prosody through static_routes. Disco, ping, version; the MUC domain; prosody restarted.
- component mode (XEP-0114) with prosody: handshake, a wrong secret (refused, retried with
  backoff), prosody restarted (reconnected).
- stanzas waiting for an outgoing stream (queued while dialback runs, failed after
  connect_timeout, set up again when the stream broke), with a fake server of the test's own
  (test/peers/xmpp_raw.py) whose timing the test controls.
- bad input, each over a real TCP connection to the s2s port (xmpp_raw.py): the RFC 6120 stream
  or stanza error and a log line, while a prosody user keeps reaching the gateway.
- the plugin's configuration: etc/xmppgw.ini loads, --check-config reports bad values with
  file:line.
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import ROOT, SERVER_BIN, PLUGINS_DIR, Server, free_port, write_ini
from dns_server import DnsServer
from prosody import Prosody
from xmpp_client import XmppClient, error_condition, q as cq
from xmpp_raw import (NS_DB, NS_SERVER, NS_STREAMS, NS_TLS, FakeComponentServer, FakeServer,
                      RawStream, header, q, stanza_error_condition)

GW = "sip.test"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


# ---------------------------------------------------------------------------------- peers ---

@pytest.fixture(scope="module")
def gw_port():
    """The gateway's s2s port: the same for every gateway of the module (the SRV record)."""
    return free_port(kinds=("tcp",))


@pytest.fixture
def own_port():
    """A port for a gateway that no prosody needs to find."""
    return free_port(kinds=("tcp",))


@pytest.fixture(scope="module")
def dns(tmp_path_factory, gw_port):
    d = DnsServer(tmp_path_factory.mktemp("dns"),
                  srv=[(f"_xmpp-server._tcp.{GW}", f"gw.{GW}", gw_port, 10, 0),
                       (f"_xmpp-server._tcp.conference.{GW}", f"gw.{GW}", gw_port, 10, 0)],
                  hosts=[(f"gw.{GW}", "127.0.0.1")], local="test").start()
    yield d
    d.stop()


def make_prosody(tmp_path_factory, name, **kw):
    p = Prosody(tmp_path_factory.mktemp(name), **kw)
    p.register("alice", "alicepw")
    p.register("bob", "bobpw")
    return p.start()


@pytest.fixture(scope="module")
def prosody(tmp_path_factory, dns):
    """xmpp.test with prosody's defaults: STARTTLS required on s2s."""
    p = make_prosody(tmp_path_factory, "prosody", wrapper=dns.wrapper())
    yield p
    p.stop()


@pytest.fixture(scope="module")
def prosody_plain(tmp_path_factory, dns):
    """xmpp.test without TLS (no certificate, s2s_require_encryption = false)."""
    p = make_prosody(tmp_path_factory, "prosody-plain", wrapper=dns.wrapper(), tls=False,
                     require_encryption=False)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def prosody_component(tmp_path_factory):
    """xmpp.test without s2s, sip.test its external component."""
    p = make_prosody(tmp_path_factory, "prosody-comp", s2s=False,
                     components={GW: "s3cret"})
    yield p
    p.stop()


@pytest.fixture
def clients():
    made = []

    def make(p, user="alice"):
        c = XmppClient(f"{user}@xmpp.test", f"{user}pw", p.c2s_port)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def gw_config(gw_port, routes, **general):
    base = {"domains": GW, "local_ip": "127.0.0.1", "local_port": gw_port,
            "static_routes": ", ".join(f"{d}=127.0.0.1:{p}" for d, p in routes.items()),
            "trace_xmpp": True, "connect_timeout": 10}
    base.update(general)
    return {"general": base}


@pytest.fixture
def gateway(server_factory, gw_port):
    """gateway(routes={domain: port}, **xmppgw.ini values) -> a started server."""
    def start(routes, **general):
        s = server_factory(plugin_configs={"xmppgw": gw_config(gw_port, routes, **general)})
        s.start()
        s.wait_log("XMPP gateway for sip.test")
        return s
    return start


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


def ping_ok(client, to=GW, timeout=25):
    r = client.ping(to, timeout=timeout)
    assert r.get("type") == "result", f"ping {to}: {r.get('type')} {error_condition(r)}"
    assert r.get("from") == to
    return r


# ------------------------------------------------------------------------ s2s, prosody ---

def test_s2s_starttls_and_dialback_both_ways(prosody, dns, gateway, clients):
    """prosody -> us (its stream, its db:result verified by our db:verify to it) and us ->
    prosody (our answers go on a stream we open; prosody verifies our key by a db:verify to
    our listener), STARTTLS first both ways, as prosody requires by default."""
    mark = len(prosody.log())
    gw = gateway({"xmpp.test": prosody.s2s_port})
    alice = clients(prosody)
    ping_ok(alice)
    log = prosody.wait_log(f"Incoming s2s connection {GW}->xmpp.test complete", after=mark)
    assert f"Outgoing s2s connection xmpp.test->{GW} complete" in log[mark:]
    assert "Stream encrypted" in log[mark:]
    # prosody found us through the SRV record of the test's DNS server
    assert f"query[SRV] _xmpp-server._tcp.{GW} from" in dns.log()
    logged(gw, rf"s2s in [\d.:]+: xmpp\.test verified by dialback for {GW} \(.*, TLS\)")
    logged(gw, rf"s2s out {GW} -> xmpp\.test: authenticated by dialback as {GW} to "
               rf"xmpp\.test \(127\.0\.0\.1:{prosody.s2s_port}, TLS\)")
    # our listener offered STARTTLS as required, and dialback with errors (XEP-0220 §2.4)
    assert "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" \
        in gw.log()
    assert "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>" in gw.log()

    info = alice.iq("get", GW, f"<query xmlns='{DISCO_INFO}'/>")
    assert info.get("type") == "result"
    query = info.find(f"{{{DISCO_INFO}}}query")
    idents = {(i.get("category"), i.get("type"), i.get("name"))
              for i in query.findall(f"{{{DISCO_INFO}}}identity")}
    assert idents == {("gateway", "simple", "SylkServer"), ("server", "im", "SylkServer")}
    features = {f.get("var") for f in query.findall(f"{{{DISCO_INFO}}}feature")}
    assert {DISCO_INFO, DISCO_ITEMS, "urn:xmpp:ping", "jabber:iq:version"} <= features
    # both streams were reused: one of each
    assert len(re.findall(r"authenticated by dialback as", gw.log())) == 1
    assert len(re.findall(r"verified by dialback for", gw.log())) == 1


def test_disco_items_version_and_refusals(prosody, gateway, clients):
    gateway({"xmpp.test": prosody.s2s_port})
    alice = clients(prosody)
    items = alice.iq("get", GW, f"<query xmlns='{DISCO_ITEMS}'/>")
    assert items.get("type") == "result"
    assert list(items.find(f"{{{DISCO_ITEMS}}}query")) == []
    version = alice.iq("get", GW, "<query xmlns='jabber:iq:version'/>")
    assert version.find("{jabber:iq:version}query/{jabber:iq:version}name").text == "SylkServer"
    assert version.find("{jabber:iq:version}query/{jabber:iq:version}version").text
    node = alice.iq("get", GW, f"<query xmlns='{DISCO_INFO}' node='x#y'/>")
    assert error_condition(node) == "item-not-found"
    wrong_type = alice.iq("set", GW, "<ping xmlns='urn:xmpp:ping'/>")
    assert error_condition(wrong_type) == "bad-request"
    # an iq nobody here handles: service-unavailable (RFC 6120 §8.4), from the mapping
    other = alice.iq("get", GW, "<query xmlns='jabber:iq:last'/>")
    assert error_condition(other) == "service-unavailable"


def test_muc_domain_has_its_own_stream(prosody, gateway, clients):
    """conference.sip.test is ours, on its own s2s stream: the MUC service (muc.c) answers its
    rooms' disco; an iq it does not handle gets service-unavailable from the room."""
    gw = gateway({"xmpp.test": prosody.s2s_port})
    alice = clients(prosody)
    r = alice.iq("get", f"room@conference.{GW}", f"<query xmlns='{DISCO_INFO}'/>")
    assert r.get("type") == "result" and r.get("from") == f"room@conference.{GW}"
    r = alice.iq("get", f"room@conference.{GW}", "<query xmlns='jabber:iq:last'/>")
    assert error_condition(r) == "service-unavailable"
    assert r.get("from") == f"room@conference.{GW}"
    logged(gw, rf"xmpp\.test verified by dialback for conference\.{GW}")


def test_s2s_without_tls(prosody_plain, gateway, clients):
    mark = len(prosody_plain.log())
    gw = gateway({"xmpp.test": prosody_plain.s2s_port}, transport="tcp", require_tls=False)
    alice = clients(prosody_plain)
    ping_ok(alice)
    log = prosody_plain.wait_log(f"Incoming s2s connection {GW}->xmpp.test complete",
                                 after=mark)
    assert f"Outgoing s2s connection xmpp.test->{GW} complete" in log[mark:]
    assert "Stream encrypted" not in log[mark:]
    logged(gw, r"xmpp\.test verified by dialback for sip\.test \(.*, no TLS\)")
    logged(gw, r"authenticated by dialback as sip\.test to xmpp\.test \(.*, no TLS\)")
    assert "starttls" not in gw.log()


def test_s2s_found_through_dns_with_configured_certificate(tmp_path, prosody, gw_port,
                                                        server_factory, clients):
    """Without static_routes the gateway finds xmpp.test by SRV _xmpp-server._tcp then the
    target's address (its own DNS server, in its own mount namespace); a domain without
    records makes dialback for it fail with remote-server-not-found. Our certificate comes
    from `certificate`."""
    from prosody import make_certificate
    crt, key = make_certificate(str(tmp_path), GW)
    pem = tmp_path / "gw.pem"
    pem.write_text(open(crt).read() + open(key).read())
    ours = DnsServer(tmp_path, srv=[("_xmpp-server._tcp.xmpp.test", "s2s.xmpp.test",
                                     prosody.s2s_port, 10, 0)],
                     hosts=[("s2s.xmpp.test", "127.0.0.1")], local="test").start()
    try:
        cfg = gw_config(gw_port, {}, certificate=str(pem))
        gw = server_factory(plugin_configs={"xmppgw": cfg}, wrapper=ours.wrapper()).start()
        logged(gw, rf"TLS certificate: {re.escape(str(pem))}")
        ping_ok(clients(prosody))
        logged(gw, rf"authenticated by dialback as sip\.test to xmpp\.test "
                   rf"\(127\.0\.0\.1:{prosody.s2s_port}, TLS\)")
        assert "query[SRV] _xmpp-server._tcp.xmpp.test" in ours.log()
        assert gw.stop() == 0
        # a domain without records: its dialback claim cannot be checked
        port = free_port(kinds=("tcp",))
        plain = server_factory(plugin_configs={"xmppgw": gw_config(
            port, {}, transport="tcp", require_tls=False)}, wrapper=ours.wrapper()).start()
        nowhere = FakeServer("nowhere.test")
        try:
            assert nowhere.dialback(nowhere.open_stream(port)) == "error"
        finally:
            nowhere.stop()
        logged(plain, r"s2s out sip\.test -> nowhere\.test: cannot reach nowhere\.test: no "
                      r"address for nowhere\.test: no such name or service")
        logged(plain, r"cannot verify nowhere\.test by dialback: remote-server-not-found")
    finally:
        ours.stop()


def test_s2s_survives_prosody_restart(tmp_path_factory, dns, gateway, clients):
    """prosody restarts: its streams end; the next stanzas set up new streams both ways."""
    p = make_prosody(tmp_path_factory, "prosody-restart", wrapper=dns.wrapper())
    try:
        gw = gateway({"xmpp.test": p.s2s_port})
        ping_ok(clients(p))
        logged(gw, r"authenticated by dialback as")
        mark = len(gw.log())
        p.restart()
        logged(gw, r"s2s out sip\.test -> xmpp\.test: stream closed", after=mark)
        ping_ok(clients(p))
        logged(gw, r"authenticated by dialback as sip\.test to xmpp\.test", after=mark)
        logged(gw, r"xmpp\.test verified by dialback for sip\.test", after=mark)
        assert gw.alive()
    finally:
        p.stop()


# ------------------------------------------------------------------ component, prosody ---

@pytest.fixture
def component(server_factory, prosody_component):
    def start(secret="s3cret", wait=True):
        cfg = {"general": {"domains": GW, "mode": "component", "component_host": "127.0.0.1",
                           "component_port": prosody_component.component_port,
                           "component_secret": secret, "trace_xmpp": True,
                           "connect_timeout": 5}}
        s = server_factory(plugin_configs={"xmppgw": cfg}).start()
        if wait:
            logged(s, r"component sip\.test: connected to .* as component sip\.test")
        return s
    return start


def test_component_handshake_and_stanzas(prosody_component, component, clients):
    mark = len(prosody_component.log())
    gw = component()
    prosody_component.wait_log("External component successfully authenticated", after=mark)
    alice = clients(prosody_component)
    ping_ok(alice)
    info = alice.iq("get", GW, f"<query xmlns='{DISCO_INFO}'/>")
    assert info.find(f"{{{DISCO_INFO}}}query/{{{DISCO_INFO}}}identity") is not None
    # the answer went back on the component connection, in the component namespace (the
    # stream's default: no xmlns on the stanza)
    logged(gw, r"component sip\.test >> <iq from='sip\.test' to='alice@xmpp\.test/[^']+' "
               r"id='[^']+' type='result'/>")


def test_component_wrong_secret_retries_with_backoff(prosody_component, component):
    mark = len(prosody_component.log())
    gw = component(secret="wrong", wait=False)
    logged(gw, r"component sip\.test: the server refused the handshake as component sip\.test "
               r"\(not-authorized\): is component_secret the server's\?")
    logged(gw, r"connecting again in 1 s")
    logged(gw, r"connecting again in 2 s", timeout=10)
    logged(gw, r"connecting again in 4 s", timeout=15)
    log = prosody_component.log()[mark:]
    assert log.count("not-authorized") >= 3, log[-3000:]
    assert gw.alive()


def test_component_reconnects_after_prosody_restart(prosody_component, component, clients):
    gw = component()
    ping_ok(clients(prosody_component))
    mark = len(gw.log())
    prosody_component.restart()
    logged(gw, r"component sip\.test: connection lost", after=mark)
    logged(gw, r"component sip\.test: connected to .* as component sip\.test", after=mark,
           timeout=20)
    ping_ok(clients(prosody_component))


def test_component_handshake_against_fake_server(server_factory):
    """Against a fake XEP-0114 server: our handshake is hex(SHA-1(id + secret)) (the fake
    server checks it), and a stanza arriving right after is answered on the connection."""
    fake = FakeComponentServer(GW, "topsecret").start()
    try:
        cfg = {"general": {"domains": GW, "mode": "component", "component_host": "127.0.0.1",
                           "component_port": fake.port, "component_secret": "topsecret"}}
        gw = server_factory(plugin_configs={"xmppgw": cfg},
                            config={"web": {"metrics": "yes"}}).start()
        s = fake.connections.get(timeout=15)
        s.send("<iq type='get' id='p1' from='alice@xmpp.test/x' to='sip.test'>"
               "<ping xmlns='urn:xmpp:ping'/></iq>")
        r = s.next_of(q("jabber:component:accept", "iq"))
        assert (r.get("type"), r.get("id"), r.get("to")) == ("result", "p1", "alice@xmpp.test/x")
        from test_metrics import scrape, value  # the gateway's own sample (SDK 1.9)
        assert value(scrape(gw), "sylk_xmppgw_streams_open", mode="component") == 1
        s.close()
        logged(gw, r"component sip\.test: connection lost")
        s2 = fake.connections.get(timeout=15)  # after the backoff, a new handshake
        assert fake.handshakes == 2
        s2.close()
    finally:
        fake.stop()


def test_component_unwritten_stanzas_go_on_next_connection(server_factory):
    """The server stops reading, then resets the connection: the answers the gateway had not
    handed to the kernel go, in order, on the next connection. Those the kernel had taken are
    counted as sent (TCP; no stream management, XEP-0198): the reset loses them, and only them,
    so what the server got on both connections is a prefix and a suffix of the answers with a
    gap no larger than the kernel's buffers (net.ipv4.tcp_wmem's largest)."""
    fake = FakeComponentServer(GW, "topsecret", rcvbuf=4096).start()
    try:
        cfg = {"general": {"domains": GW, "mode": "component", "component_host": "127.0.0.1",
                           "component_port": fake.port, "component_secret": "topsecret",
                           "send_buffer_kb": 32768}}
        gw = server_factory(plugin_configs={"xmppgw": cfg}).start()
        s1 = fake.connections.get(timeout=15)
        pad = "x" * 2000
        ids = [f"{pad}-{i}" for i in range(4000)]  # about 8.5 MB of answers
        s1.send("".join(f"<iq type='get' id='{i}' from='alice@xmpp.test/x' to='sip.test'>"
                        "<ping xmlns='urn:xmpp:ping'/></iq>" for i in ids))
        time.sleep(2)  # all read and answered; the answers wait in the kernel and the gateway
        first = [s1.next(timeout=10).get("id") for _ in range(20)]
        s1.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s1.close()  # RST
        logged(gw, r"component sip\.test: connection lost")
        s2 = fake.connections.get(timeout=15)  # after the backoff
        second = []
        while not second or second[-1] != ids[-1]:
            second.append(s2.next(timeout=15).get("id"))
        assert first == ids[:20]
        k = ids.index(second[0])
        assert second == ids[k:]  # in order, none twice, up to the last one
        wmem_max = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
        lost = k - len(first)
        assert 0 <= lost * 2000 <= wmem_max + 65536, f"{lost} answers lost in the kernel"
        assert len(second) > 1000
    finally:
        fake.stop()


# ------------------------------------------------------------- outgoing streams, queue ---

@pytest.fixture
def evil():
    f = FakeServer("evil.test").start()
    yield f
    f.stop()


def authenticated_stream(evil, gw_port):
    s = evil.open_stream(gw_port)
    assert evil.dialback(s) == "valid"
    return s


def ping_from_evil(s, sid):
    s.send(f"<iq type='get' id='{sid}' from='mallory@evil.test/r' to='{GW}'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>")


class DelayedResult(FakeServer):
    """Answers the gateway's db:result only when `release` is set (never when it is not)."""

    def __init__(self):
        super().__init__("evil.test")
        self.release = threading.Event()

    def _serve(self, s):
        self.streams.append(s)
        try:
            h = s.read_header()
            s.send(header(self.domain, h.get("from"), sid="delay1"))
            s.send("<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
                   "</stream:features>")
            while True:
                el = s.next(timeout=60)
                if el.tag == q(NS_DB, "verify"):
                    ok = self.issued.get(el.get("id")) == el.text
                    s.send(f"<db:verify from='{el.get('to')}' to='{el.get('from')}' "
                           f"id='{el.get('id')}' type='{'valid' if ok else 'invalid'}'/>")
                elif el.tag == q(NS_DB, "result"):
                    self.result_asked = time.time()
                    if self.release.wait(30):
                        s.send(f"<db:result from='{el.get('to')}' to='{el.get('from')}' "
                               "type='valid'/>")
                else:
                    self.stanzas.put((time.time(), el))
        except Exception:  # noqa: BLE001 - the test ended the stream
            pass


def test_stanzas_wait_for_dialback_then_go(server_factory, own_port):
    """Our answer waits in the queue while our stream to evil.test is being authenticated,
    and goes once it is (XEP-0220: no stanza before db:result valid)."""
    fake = DelayedResult().start()
    try:
        gw = server_factory(plugin_configs={"xmppgw": gw_config(
            own_port, {"evil.test": fake.port}, transport="tcp", require_tls=False,
            queue_limit=2)}).start()
        s = fake.open_stream(own_port)
        key = "k" * 64
        fake.issued[s.header["id"]] = key
        s.send(f"<db:result from='evil.test' to='{GW}'>{key}</db:result>")
        # our db:verify went on our outgoing stream, which now waits for its own db:result
        assert s.next_of(q(NS_DB, "result"), 15).get("type") == "valid"
        for i in range(3):
            ping_from_evil(s, f"w{i}")
        logged(gw, r"s2s out sip\.test -> evil\.test: 2 stanzas wait already \(queue_limit\): "
                   r"one more fails")
        time.sleep(0.5)
        assert fake.stanzas.empty()  # not before dialback
        released = time.time()
        fake.release.set()
        for i in range(2):  # the first two, in order; the third failed
            when, el = fake.stanzas.get(timeout=10)
            assert when >= released and el.get("id") == f"w{i}" and el.get("type") == "result"
        time.sleep(0.5)
        assert fake.stanzas.empty()
        s.close()
    finally:
        fake.release.set()
        fake.stop()


def test_stanzas_fail_after_connect_timeout(server_factory, own_port):
    """A stream that never authenticates: what waits fails after connect_timeout (logged),
    and the stream is dropped."""
    fake = DelayedResult().start()
    try:
        gw = server_factory(plugin_configs={"xmppgw": gw_config(
            own_port, {"evil.test": fake.port}, transport="tcp", require_tls=False,
            connect_timeout=2)}).start()
        s = fake.open_stream(own_port)
        fake.issued[s.header["id"]] = "k" * 64
        s.send(f"<db:result from='evil.test' to='{GW}'>{'k' * 64}</db:result>")
        assert s.next_of(q(NS_DB, "result"), 15).get("type") == "valid"
        ping_from_evil(s, "t1")
        logged(gw, r"s2s out sip\.test -> evil\.test: cannot reach evil\.test: not "
                   r"authenticated within 2 s; the stanzas waiting fail")
        assert fake.stanzas.empty()
        s.close()
    finally:
        fake.release.set()
        fake.stop()


def test_broken_outgoing_stream_is_set_up_again(server_factory, own_port, evil):
    gw = server_factory(plugin_configs={"xmppgw": gw_config(
        own_port, {"evil.test": evil.port}, transport="tcp", require_tls=False)}).start()
    s = authenticated_stream(evil, own_port)
    ping_from_evil(s, "b1")
    assert evil.stanzas.get(timeout=10).get("id") == "b1"
    assert evil.accepted == 1
    for out in list(evil.streams):  # evil.test closes our stream to it
        out.send("</stream:stream>")
    logged(gw, r"s2s out sip\.test -> evil\.test: stream closed")
    ping_from_evil(s, "b2")
    assert evil.stanzas.get(timeout=10).get("id") == "b2"
    assert evil.accepted == 2
    s.close()


def test_idle_outgoing_stream_is_closed(server_factory, own_port, evil):
    gw = server_factory(plugin_configs={"xmppgw": gw_config(
        own_port, {"evil.test": evil.port}, transport="tcp", require_tls=False,
        idle_timeout=2)}).start()
    s = authenticated_stream(evil, own_port)
    ping_from_evil(s, "i1")
    assert evil.stanzas.get(timeout=10).get("id") == "i1"
    logged(gw, r"s2s out sip\.test -> evil\.test: idle for 2 s: closing")
    logged(gw, r"s2s out sip\.test -> evil\.test: stream closed: closed by us")
    ping_from_evil(s, "i2")  # s is idle too: it may have been closed as well
    s.close()


def test_incoming_stream_must_authenticate_in_time(server_factory, own_port):
    gw = server_factory(plugin_configs={"xmppgw": gw_config(
        own_port, {}, transport="tcp", require_tls=False, connect_timeout=1)}).start()
    s = open_raw(own_port)
    s.next()  # features
    assert s.stream_error(timeout=10) == "connection-timeout"
    logged(gw, r"stream error connection-timeout: not authenticated within 2 s")


def test_peer_that_does_not_read_is_dropped(server_factory, own_port, evil):
    """Our stream to evil.test stops being read: past send_buffer_kb it is dropped (logged),
    and what it had not written is not counted as sent."""
    gw = server_factory(plugin_configs={"xmppgw": gw_config(
        own_port, {"evil.test": evil.port}, transport="tcp", require_tls=False,
        send_buffer_kb=64, max_stanza_kb=32)}).start()
    evil.stall.set()
    s = authenticated_stream(evil, own_port)
    big_id = "x" * 2000
    for i in range(4000):  # about 8 MB of answers, more than the kernel's buffers hold
        ping_from_evil(s, f"{big_id}{i}")
    logged(gw, r"s2s out sip\.test -> evil\.test: the peer does not read: \d+ bytes not sent; "
               r"dropping the connection", timeout=30)
    s.close()


def test_direct_tls_listener(server_factory, own_port, evil):
    """tls_port: TLS from the first byte (XEP-0368): no STARTTLS offered, dialback at once."""
    import ssl
    tls_port = free_port(kinds=("tcp",))
    gw = server_factory(plugin_configs={"xmppgw": gw_config(
        own_port, {"evil.test": evil.port}, tls_port=tls_port, require_tls=False)}).start()
    logged(gw, rf"s2s listening on 127.0.0.1 port {tls_port} \(direct TLS\)")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    s = RawStream(ctx.wrap_socket(raw, server_hostname=GW))
    s.send(header("evil.test", GW))
    s.read_header()
    features = s.next()
    assert features.find(f"{{{NS_TLS}}}starttls") is None
    assert features.find("{urn:xmpp:features:dialback}dialback") is not None
    assert evil.dialback(s) == "valid"
    logged(gw, r"evil\.test verified by dialback for sip\.test \(.*, TLS\)")
    ping_from_evil(s, "d1")
    assert evil.stanzas.get(timeout=10).get("id") == "d1"
    s.close()


def test_tls_verify(prosody, gateway, clients):
    """tls_verify: prosody's self-signed certificate is refused with the system's trust store
    and accepted with it as ca_file (its name checked against xmpp.test)."""
    gw = gateway({"xmpp.test": prosody.s2s_port}, tls_verify=True, connect_timeout=3)
    alice = clients(prosody)
    r = alice.ping(GW, timeout=15)  # prosody's stream to us fails its dialback in turn
    assert r.get("type") == "error", r
    logged(gw, r"s2s out sip\.test -> xmpp\.test.*: TLS handshake failed: Error in the "
               r"certificate verification")
    assert gw.stop() == 0
    ca = os.path.join(prosody.dir, "certs", "xmpp.test.crt")
    gw = gateway({"xmpp.test": prosody.s2s_port}, tls_verify=True, ca_file=ca)
    ping_ok(clients(prosody))
    logged(gw, r"authenticated by dialback as sip\.test to xmpp\.test \(.*, TLS\)")


# ------------------------------------------------------------------------- bad input ---

@pytest.fixture(scope="module")
def bad_input(tmp_path_factory, gw_port, prosody_plain):
    """One gateway for every bad-input test (each must leave it serving the others), without
    TLS so that raw sockets can speak to it; evil.test is a fake server of the test."""
    evil = FakeServer("evil.test").start()
    d = tmp_path_factory.mktemp("gw-bad")
    s = Server(d, plugin_configs={"xmppgw": gw_config(
        gw_port, {"xmpp.test": prosody_plain.s2s_port, "evil.test": evil.port},
        transport="tcp", require_tls=False, max_stanza_kb=256)})
    s.start()
    s.evil = evil
    s.alice = XmppClient("alice@xmpp.test", "alicepw", prosody_plain.c2s_port)
    yield s
    s.alice.close()
    evil.stop()
    assert s.stop() == 0, s.log()[-3000:]


def still_serving(gw):
    """A prosody user still reaches the gateway over its own s2s streams."""
    ping_ok(gw.alice)


def open_raw(gw_port, frm="evil.test", to=GW):
    s = RawStream.connect(gw_port)
    s.send(header(frm, to))
    s.read_header()
    return s


def test_bad_malformed_xml(bad_input, gw_port):
    mark = len(bad_input.log())
    s = open_raw(gw_port)
    s.send("<message to='a@sip.test'><body>hi</message>")
    assert s.stream_error() == "not-well-formed"
    assert s.wait_closed()
    logged(bad_input, r"stream error not-well-formed", after=mark)
    still_serving(bad_input)


def test_bad_unclosed_stream(bad_input, gw_port):
    mark = len(bad_input.log())
    s = open_raw(gw_port)
    s.send("<message from='x@evil.test' to='a@sip.test'><body>never ends")
    s.close()
    logged(bad_input, r"s2s in [\d.:]+: stream from evil\.test closed: connection closed by "
                      r"the peer", after=mark)
    still_serving(bad_input)


def test_bad_entity_declarations(bad_input, gw_port):
    mark = len(bad_input.log())
    s = RawStream.connect(gw_port)
    lol = "".join(f'<!ENTITY lol{i} "&lol{i - 1};&lol{i - 1};&lol{i - 1};">' for i in range(1, 10))
    s.send(f"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol0 'lol'>{lol}]>"
           f"<stream:stream xmlns='jabber:server' xmlns:stream='{NS_STREAMS}' to='sip.test' "
           "version='1.0'><message>&lol9;</message>")
    s.read_header()
    assert s.stream_error() == "restricted-xml"
    logged(bad_input, r"stream error restricted-xml", after=mark)
    still_serving(bad_input)


def test_bad_ten_megabyte_stanza(bad_input, gw_port):
    mark = len(bad_input.log())
    s = open_raw(gw_port)
    errors = []

    def flood():
        try:
            s.send("<message from='x@evil.test' to='a@sip.test'><body>")
            chunk = "a" * 65536
            for _ in range(160):  # 10 MiB
                s.send(chunk)
        except OSError as e:  # the gateway stops reading and closes: expected
            errors.append(e)
    t = threading.Thread(target=flood)
    t.start()
    assert s.stream_error(timeout=20) == "policy-violation"
    t.join(30)
    logged(bad_input, r"stream error policy-violation: a stanza of more than 262144 bytes",
           after=mark)
    still_serving(bad_input)


def test_bad_ten_thousand_nested_elements(bad_input, gw_port):
    mark = len(bad_input.log())
    s = open_raw(gw_port)
    s.send("<message from='x@evil.test' to='a@sip.test'>" + "<a>" * 10000)
    assert s.stream_error() == "policy-violation"
    logged(bad_input, r"stream error policy-violation: elements nested more than 64 deep",
           after=mark)
    still_serving(bad_input)


def test_bad_domain_not_served(bad_input, gw_port):
    mark = len(bad_input.log())
    s = RawStream.connect(gw_port)
    s.send(header("evil.test", "elsewhere.test"))
    s.read_header()
    assert s.stream_error() == "host-unknown"
    logged(bad_input, r"stream error host-unknown: we do not serve elsewhere\.test", after=mark)
    still_serving(bad_input)


def test_bad_stanza_before_dialback(bad_input, gw_port):
    mark = len(bad_input.log())
    s = open_raw(gw_port)
    s.send("<message from='x@evil.test' to='a@sip.test'><body>hi</body></message>")
    assert s.stream_error() == "not-authorized"
    logged(bad_input, r"stream error not-authorized: evil\.test may not send", after=mark)
    still_serving(bad_input)


def test_bad_wrong_dialback_key(bad_input, gw_port):
    """evil.test's authoritative server (the fake) says the key is not its own: db:result
    invalid, the stream closed, nothing from it forwarded."""
    mark = len(bad_input.log())
    s = bad_input.evil.open_stream(gw_port)
    assert bad_input.evil.dialback(s, key="0" * 64) == "invalid"
    assert s.wait_closed()
    verify = bad_input.evil.verify_requests.get(timeout=5)
    assert verify.text == "0" * 64 and verify.get("id") == s.header["id"]
    logged(bad_input, r"evil\.test's authoritative server says the dialback key from .* is not "
                      r"its own: closing the stream", after=mark)
    still_serving(bad_input)


def test_bad_from_not_verified_on_stream(bad_input, gw_port):
    mark = len(bad_input.log())
    s = authenticated_stream(bad_input.evil, gw_port)
    s.send("<message from='eve@other.test' to='a@sip.test'><body>hi</body></message>")
    assert s.stream_error() == "invalid-from"
    logged(bad_input, r"stream error invalid-from: other\.test may not send", after=mark)
    still_serving(bad_input)


def test_bad_addresses(bad_input, gw_port):
    """A 'to' that is no JID: a jid-malformed stanza error back to the sender (on our own
    stream to evil.test); a 'from' that is none: improper-addressing."""
    evil = bad_input.evil
    s = authenticated_stream(evil, gw_port)
    long_local = "x" * 3000
    # a space in a localpart, a localpart of 3000 bytes, a control character (tab: allowed
    # in XML) in a resource, an empty localpart
    for i, to in enumerate(["a b@sip.test", f"{long_local}@sip.test", "a@sip.test/r&#x9;",
                            "@sip.test"]):
        s.send(f"<message id='m{i}' from='mallory@evil.test/r' to='{to}'><body>x</body>"
               "</message>")
        while True:  # skip the errors of earlier tests still arriving
            err = evil.stanzas.get(timeout=15)
            if err.get("id") == f"m{i}":
                break
        assert err.get("type") == "error", to
        assert stanza_error_condition(err) == "jid-malformed", to
        assert err.get("to") == "mallory@evil.test/r"
    mark = len(bad_input.log())
    s.send("<message from='mal lory@evil.test' to='a@sip.test'><body>x</body></message>")
    assert s.stream_error() == "improper-addressing"
    logged(bad_input, r"stream error improper-addressing: the from address is not a JID",
           after=mark)
    still_serving(bad_input)


def test_bad_iq_payloads(bad_input, gw_port):
    """An iq get or set needs exactly one payload element (RFC 6120 §8.2.3): bad-request."""
    evil = bad_input.evil
    s = authenticated_stream(evil, gw_port)
    s.send("<iq type='get' id='e0' from='mallory@evil.test/r' to='sip.test'/>")
    s.send("<iq type='get' id='e1' from='mallory@evil.test/r' to='sip.test'>"
           "<ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/></iq>")
    got = {}
    while len(got) < 2:
        el = evil.stanzas.get(timeout=15)
        if el.get("id") in ("e0", "e1"):
            got[el.get("id")] = el
    for el in got.values():
        assert el.get("type") == "error" and stanza_error_condition(el) == "bad-request"
    still_serving(bad_input)


def test_dialback_before_starttls_does_not_count(server_factory, own_port, evil):
    """RFC 6120 §5.4.3.3: after STARTTLS the stream starts again and what was negotiated
    before (a verified domain) no longer counts."""
    import ssl
    gw = server_factory(plugin_configs={"xmppgw": gw_config(
        own_port, {"evil.test": evil.port}, require_tls=False)}).start()
    s = evil.open_stream(own_port)
    assert s.features.find(f"{{{NS_TLS}}}starttls") is not None
    assert evil.dialback(s) == "valid"
    s.send(f"<starttls xmlns='{NS_TLS}'/>")
    assert s.next().tag == q(NS_TLS, "proceed")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.sock = ctx.wrap_socket(s.sock, server_hostname=GW)
    s.restart()
    s.send(header("evil.test", GW))
    assert s.read_header()["id"]
    features = s.next()
    assert features.find(f"{{{NS_TLS}}}starttls") is None  # not twice
    s.send("<message from='mallory@evil.test' to='a@sip.test'><body>x</body></message>")
    assert s.stream_error() == "not-authorized"
    logged(gw, r"stream error not-authorized: evil\.test may not send")


def test_bad_require_tls(server_factory, own_port):
    """require_tls: only STARTTLS is offered, and dialback before TLS is a policy-violation."""
    gw = server_factory(plugin_configs={"xmppgw": gw_config(own_port, {})}).start()
    s = open_raw(own_port)
    features = s.next()
    assert features.find(f"{{{NS_TLS}}}starttls/{{{NS_TLS}}}required") is not None
    assert features.find("{urn:xmpp:features:dialback}dialback") is None
    s.send(f"<db:result from='evil.test' to='{GW}'>{'0' * 64}</db:result>")
    assert s.stream_error() == "policy-violation"
    logged(gw, r"stream error policy-violation: TLS is required before dialback")


# ------------------------------------------------------------------------- configuration ---

def test_loads_with_shipped_ini(tmp_path, own_port):
    """etc/xmppgw.ini as shipped loads (idle without domains); with domains set it listens."""
    s = Server(tmp_path)
    shutil.copy(os.path.join(ROOT, "etc", "xmppgw.ini"), tmp_path / "xmppgw.ini")
    s.start()
    s.wait_log("no domains in xmppgw.ini: the XMPP gateway is idle")
    assert s.stop() == 0
    text = open(os.path.join(ROOT, "etc", "xmppgw.ini")).read()
    text = text.replace(";domains = sip.example.com", "domains = sip.test")
    text = text.replace("local_port = 5269", f"local_port = {own_port}")
    text = text.replace(";local_ip =", "local_ip = 127.0.0.1")
    assert "domains = sip.test" in text and f"local_port = {own_port}" in text
    s = Server(tmp_path)
    (tmp_path / "xmppgw.ini").write_text(text)
    s.start()
    s.wait_log("XMPP gateway for sip.test (server-to-server)")
    s.wait_log(f"s2s listening on 127.0.0.1 port {own_port} (STARTTLS)")
    s.wait_log("TLS certificate: ")
    assert os.path.exists(tmp_path / "spool" / "xmppgw" / "tls" / "xmppgw.pem")
    assert s.stop() == 0


def test_check_config_reports_bad_values(tmp_path):
    path = tmp_path / "sylkserver.ini"
    write_ini(path, {"server": {"default_application": "echo"}})
    (tmp_path / "xmppgw.ini").write_text(
        "[general]\n; comment\ndomains = sip.test\nmode = client\ncolour = red\n"
        "static_routes = xmpp.test=[::1\nmax_stanza_kb = 0\nlocal_ip = somewhere\n")
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--check-config", "--plugins-dir",
                        PLUGINS_DIR], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    ini = tmp_path / "xmppgw.ini"
    for line in [f"{ini}:4: [general] mode: 'client' is neither s2s nor component",
                 f"{ini}:5: [general] colour: unknown key",
                 f"{ini}:6: [general] static_routes: '[::1': an IPv6 address goes in brackets, "
                 "then :port",
                 f"{ini}:7: [general] max_stanza_kb: 0 is outside 1..65536",
                 f"{ini}:8: [general] local_ip: 'somewhere' is not an IP address"]:
        assert line in r.stderr, r.stderr
    (tmp_path / "xmppgw.ini").write_text("[general]\ndomains = sip.test\nmode = component\n"
                                         "component_secret = x\n")
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--check-config", "--plugins-dir",
                        PLUGINS_DIR], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_component_mode_needs_a_secret(server_factory):
    s = server_factory(plugin_configs={"xmppgw": {"general": {"domains": GW,
                                                               "mode": "component"}}})
    s.start()
    s.wait_log("xmppgw.ini: mode = component needs component_secret")
    s.wait_log("plugin xmppgw init failed")
