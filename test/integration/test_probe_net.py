"""SDK 1.7 through the probe test plugin (test/plugins/probe_net.c), each probe step a MESSAGE
with an X-Probe command: file descriptors watched on the main loop (a TCP echo server: data,
back-pressure, FIN, RST, a watch the plugin forgot), name resolution against a real DNS server
(dnsmasq, test/peers/dns_server.py, in the server's own mount namespace), and SUBSCRIBE as the
subscriber (to the server's own conference room, a real RFC 4575 notifier, and to sipp
notifiers: NOTIFYs, refresh, unsubscribe, termination, refusal, Timer N, shutdown)."""
import os
import re
import socket
import struct
import threading
import time

import pytest

from conftest import BUILD, PLUGINS_DIR, assert_sipp_ok, free_port
from dns_server import DnsServer
from sip_client import SipUA, sdp_offer

PROBE_SO = os.path.join(BUILD, "test", "plugins", "probe.so")
CONFERENCE_SO = os.path.join(PLUGINS_DIR, "conference", "conference.so")


@pytest.fixture
def plugins(tmp_path):
    """A plugins dir with the probe and the conference (the default application)."""
    d = tmp_path / "plugins"
    (d / "conference").mkdir(parents=True)
    os.symlink(PROBE_SO, d / "probe.so")
    os.symlink(CONFERENCE_SO, d / "conference" / "conference.so")
    return str(d)


def make_server(server_factory, plugins, **kw):
    return server_factory(plugins_dir=plugins,
                          config={"server": {"application_map": "probe:probe"}}, **kw)


@pytest.fixture
def probe(server_factory, plugins):
    return make_server(server_factory, plugins).start()


@pytest.fixture
def ua(probe):
    u = SipUA(("127.0.0.1", probe.sip_port))
    yield u
    u.close()


def command(ua, server, text):
    """One X-Probe command; the probe answers 202 after it ran it."""
    resp = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body="x",
                      content_type="text/plain", extra=[("X-Probe", text)])
    assert resp.status == 202, str(resp)


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


# -- file descriptors on the main loop --------------------------------------------------------

def recv_exactly(sock, n, timeout=10):
    sock.settimeout(timeout)
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(65536, n - len(data)))
        assert chunk, f"connection closed after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def test_fd_watch_echo(probe, ua):
    """The probe's echo server runs on fd watches: bytes come back, 16 MiB sent while we do not
    read make it pause reading and wait for writable, a FIN is seen as end of file and an RST
    as SYLK_FD_CLOSED; the listener's watch, which the probe never removes, is removed by the
    core at stop with a log line naming the plugin."""
    command(ua, probe, "echo-listen")
    port = int(logged(probe, r"echo listening on 127\.0\.0\.1:(\d+)").group(1))

    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"hello")
    assert recv_exactly(s, 5) == b"hello"
    big = os.urandom(16 << 20)
    sender = threading.Thread(target=s.sendall, args=(big,))
    sender.start()
    time.sleep(0.5)  # nothing read yet: the server's writes fill the socket buffers
    back = recv_exactly(s, len(big), timeout=60)
    sender.join(10)
    assert back == big
    logged(probe, r"echo waits for writable")
    s.close()
    logged(probe, rf"echo eof after {5 + len(big)} bytes")

    r = socket.create_connection(("127.0.0.1", port), timeout=5)
    r.sendall(b"x")
    assert recv_exactly(r, 1) == b"x"
    r.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.close()  # RST
    m = logged(probe, r"echo closed after 1 bytes \(events (\d+)\)")
    assert int(m.group(1)) & 4  # SYLK_FD_CLOSED

    assert probe.stop() == 0
    assert re.search(r"plugin probe left a watch on file descriptor \d+: removed", probe.log()), \
        probe.log()[-3000:]


# -- name resolution ---------------------------------------------------------------------------

@pytest.fixture
def dns(tmp_path):
    d = tmp_path / "dns"
    d.mkdir()
    server = DnsServer(d, local="test", silent=["slow.test"], srv=[
        ("_xmpp-server._tcp.two.test", "b.two.test", 5270, 20, 0),
        ("_xmpp-server._tcp.two.test", "a.two.test", 5269, 10, 0),
        ("_xmpp-server._tcp.gone.test", "missing.gone.test", 5271, 10, 0),
        ("_xmpp-server._tcp.gone.test", "there.gone.test", 5272, 20, 0),
        ("_xmpp-server._tcp.dot.test", None, 0, 0, 0),
    ], hosts=[
        ("a.two.test", "127.0.0.11", "fd00::11"),
        ("b.two.test", "127.0.0.12"),
        ("there.gone.test", "127.0.0.15"),
        ("plain.test", "127.0.0.13"),
        ("dot.test", "127.0.0.14"),
    ])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def resolving(server_factory, plugins, dns):
    return make_server(server_factory, plugins, wrapper=dns.wrapper()).start()


def resolve(ua, server, tag, service, domain, port, protocol="tcp"):
    command(ua, server, f"resolve {tag} {service or '-'} {protocol if service else '-'} "
                        f"{domain} {port}")
    return logged(server, rf"resolve {tag}: (-?\d+)(.*)").groups()


def test_resolve_srv_and_fallbacks(resolving, dns):
    """SRV targets by priority, each with its A and AAAA addresses; a target without address
    skipped; no SRV record: the domain's address with the fallback port; SRV target ".": the
    service is not available (-ENOENT, no fallback although the domain has an address);
    NXDOMAIN -ENOENT; an IP literal without a lookup."""
    ua = SipUA(("127.0.0.1", resolving.sip_port))
    try:
        status, found = resolve(ua, resolving, "two", "xmpp-server", "two.test", 5999)
        assert status == "0"
        addresses = found.split()
        assert sorted(addresses[:2]) == ["127.0.0.11:5269(a.two.test)",
                                         "[fd00::11]:5269(a.two.test)"], found
        assert addresses[2:] == ["127.0.0.12:5270(b.two.test)"], found

        status, found = resolve(ua, resolving, "gone", "_xmpp-server", "gone.test", 5999)
        assert (status, found.split()) == ("0", ["127.0.0.15:5272(there.gone.test)"])

        assert resolve(ua, resolving, "plain", "xmpp-server", "plain.test", 5269) == \
            ("0", " 127.0.0.13:5269(plain.test)")
        assert resolve(ua, resolving, "plain-a", None, "plain.test", 5222) == \
            ("0", " 127.0.0.13:5222(plain.test)")
        assert resolve(ua, resolving, "dot", "xmpp-server", "dot.test", 5269) == ("-2", "")
        assert resolve(ua, resolving, "nx", "xmpp-server", "nosuch.test", 5269) == ("-2", "")
        assert resolve(ua, resolving, "nx-a", None, "nosuch.test", 5269) == ("-2", "")
        assert resolve(ua, resolving, "lit", "xmpp-server", "127.0.0.9", 5269) == \
            ("0", " 127.0.0.9:5269(127.0.0.9)")
    finally:
        ua.close()
    queries = dns.log()
    assert "_xmpp-server._tcp.two.test" in queries and "a.two.test" in queries, queries
    assert "127.0.0.9" not in queries  # the literal was not looked up


def test_resolve_timeout_and_cancel(resolving, dns):
    """A DNS server that never answers: the resolution ends after the server's 10 s bound with
    -ETIMEDOUT; one cancelled 200 ms after it started never calls back."""
    ua = SipUA(("127.0.0.1", resolving.sip_port))
    try:
        started = time.time()
        command(ua, resolving, "resolve-cancel 200 quiet xmpp-server tcp slow.test 5269")
        command(ua, resolving, "resolve slow xmpp-server tcp slow.test 5269")
        logged(resolving, r"resolve quiet cancelled")
        assert logged(resolving, r"resolve slow: (-?\d+)", timeout=20).group(1) == "-110"
        assert 8 <= time.time() - started <= 16
        time.sleep(0.5)
        assert "resolve quiet:" not in resolving.log()
    finally:
        ua.close()
    assert "slow.test" in dns.log()  # the query did reach the DNS server


# -- SUBSCRIBE as the subscriber ---------------------------------------------------------------

def join_room(server, user, room):
    ua = SipUA(("127.0.0.1", server.sip_port), user=user)
    call = ua.invite(f"sip:{room}@127.0.0.1:{server.sip_port}", sdp=sdp_offer(ua.port + 2))
    assert call.response.status == 200, str(call.response)
    call.ack()
    return ua, call


def notifies(server, tag):
    """The NOTIFYs the probe reported for subscription `tag`: [(state, type, length, version)]."""
    return re.findall(rf"sub {tag} notify (\S+) (\S+) (\d+) version=(\S+)", server.log())


def wait_notify(server, tag, after, timeout=10):
    """The first NOTIFY of `tag` after the first `after` ones."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = notifies(server, tag)
        if len(seen) > after:
            return seen[after]
        time.sleep(0.05)
    raise AssertionError(f"no NOTIFY {after + 1} for {tag}:\n{server.log()[-4000:]}")


def stop_answering_byes(server, *uas):
    """Stops the server (exit code 0) while its calls to `uas` are up: they answer its BYEs."""
    codes = []
    stopper = threading.Thread(target=lambda: codes.append(server.stop()))
    stopper.start()
    for ua in uas:
        ua.respond(ua.wait_request("BYE", timeout=10), 200)
    stopper.join(20)
    assert codes == [0], server.log()[-3000:]


def test_subscribe_to_own_conference_room(probe, ua):
    """The probe subscribes to a room of the server's own conference plugin (the SUBSCRIBE goes
    out to the Request-URI and comes back in): conference-info NOTIFYs reach the plugin with
    versions 0, 1, 2…, nua refreshes the short subscription (the room sends a new document),
    a newcomer makes another one, unsubscribe ends it with the room's final NOTIFY, and a
    subscription still active at shutdown ends with 503."""
    alice, _ = join_room(probe, "alice", "room7")
    try:
        room = f"sip:room7@127.0.0.1:{probe.sip_port}"
        command(ua, probe, f"subscribe c1 4 conference {room} application/conference-info+xml")
        logged(probe, r"sub c1: sent")
        first = wait_notify(probe, "c1", 0)
        assert first[:2] == ("active", "application/conference-info+xml") and first[3] == "0"
        logged(probe, r"subscription to conference of \S+ refreshed: 200")  # within 1..3 s
        refreshed = wait_notify(probe, "c1", 1)
        assert refreshed[0] == "active" and refreshed[3] == "1", refreshed
        assert refreshed[2] == first[2]  # the same room: a new document of the same size
        bob, _ = join_room(probe, "bob", "room7")
        try:
            count = len(notifies(probe, "c1"))
            deadline = time.time() + 10
            while int(notifies(probe, "c1")[-1][2]) <= int(first[2]):
                assert time.time() < deadline, probe.log()[-4000:]
                time.sleep(0.05)  # a refresh may come first
            command(ua, probe, "unsubscribe c1")
            logged(probe, r"unsubscribe c1: 0")
            logged(probe, r"sub c1 ended 200 timeout")
            assert notifies(probe, "c1")[-1][0] == "terminated"
            command(ua, probe, "unsubscribe c1")
            logged(probe, r"unsubscribe c1: -2")  # gone from the probe's table
            command(ua, probe, f"subscribe c2 60 conference {room}")
            wait_notify(probe, "c2", 0)
            stop_answering_byes(probe, alice, bob)  # the room is still there
        finally:
            bob.close()
    finally:
        alice.close()
    versions = [int(v) for _, _, _, v in notifies(probe, "c1")]
    assert versions == list(range(len(versions))) and len(versions) > count, versions
    log = probe.log()
    assert "sub c2 ended 503 Server Shutting Down" in log, log[-3000:]
    assert log.count("sub c1 ended") == 1


def test_subscribe_sipp_notifier(probe, ua, sipp):
    """sipp as a presence notifier: 200, a NOTIFY with a PIDF body, then
    "terminated;reason=deactivated": the plugin gets both NOTIFYs then ended 200 deactivated,
    and the server does not subscribe again (the scenario would fail on a SUBSCRIBE)."""
    port = free_port(kinds=("udp",))
    finish = sipp.start_uas("subscribe_notifier_uas.xml", port, timeout=20)
    command(ua, probe, f"subscribe s1 60 presence sip:sipp@127.0.0.1:{port} "
                       "application/pidf+xml")
    logged(probe, r"sub s1 notify active application/pidf\+xml \d+ version=-")
    logged(probe, r"sub s1 notify terminated - 0 version=-")
    logged(probe, r"sub s1 ended 200 deactivated")
    assert_sipp_ok(finish())


def test_subscribe_refused_through_outbound_proxy(server_factory, plugins, sipp):
    """With [sip] outbound_proxy set, the SUBSCRIBE to a domain that does not resolve goes to
    the proxy (sipp here), Request-URI unchanged; its 403 ends the subscription with 403."""
    port = free_port(kinds=("udp",))
    server = server_factory(plugins_dir=plugins, config={
        "server": {"application_map": "probe:probe"},
        "sip": {"outbound_proxy": f"sip:127.0.0.1:{port};lr"}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        finish = sipp.start_uas("subscribe_403_uas.xml", port, timeout=20)
        command(ua, server, "subscribe s2 60 presence sip:alice@example.invalid")
        logged(server, r"sub s2 ended 403 Not Watching You")
        result = finish()
        assert_sipp_ok(result)
        assert "SUBSCRIBE sip:alice@example.invalid SIP/2.0" in result.messages
        assert "sub s2 notify" not in server.log()
    finally:
        ua.close()


def test_subscription_ends_at_shutdown_with_unsubscribe(probe, ua, sipp):
    """A subscription active when the server stops: the plugin hears 503 before its shutdown,
    and the notifier gets the un-SUBSCRIBE inside the dialog before the server is gone."""
    port = free_port(kinds=("udp",))
    finish = sipp.start_uas("subscribe_shutdown_uas.xml", port, timeout=20)
    command(ua, probe, f"subscribe s4 600 presence sip:sipp@127.0.0.1:{port}")
    logged(probe, r"sub s4 notify active application/pidf\+xml")
    assert probe.stop() == 0
    assert_sipp_ok(finish())
    assert "sub s4 ended 503 Server Shutting Down" in probe.log()


def test_subscribe_without_notify_ends_after_timer_n(probe, ua, sipp):
    """A notifier that answers 200 and never sends a NOTIFY: after Timer N (32 s) the
    subscription ends with 408 and the server un-SUBSCRIBEs."""
    port = free_port(kinds=("udp",))
    finish = sipp.start_uas("subscribe_silent_uas.xml", port, timeout=60)
    started = time.time()
    command(ua, probe, f"subscribe s3 3600 presence sip:sipp@127.0.0.1:{port}")
    logged(probe, r"sub s3 ended 408 No NOTIFY", timeout=45)
    assert 30 <= time.time() - started <= 40
    assert_sipp_ok(finish())
