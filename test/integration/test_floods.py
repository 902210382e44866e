"""Floods and idle connections (issue 12): the SIP UDP receive buffer, idle and slow TCP
connections, connections per source address, the RTP port pool's 503 burst line and counter,
and memory given back after floods.

Every loop here is bounded in time or count. Timeouts in the servers' configs are short (a few
seconds) and every assertion leaves generous slack for a loaded 2-core machine: a connection the
server should close is waited for up to the timeout plus 10 s, and is only checked not to close
long before the timeout.
"""
import os
import re
import socket
import subprocess
import time
import urllib.request

import conftest
from conftest import BUILD, free_port_range
from sip_client import SipUA, new_branch, rand_token, sdp_offer

FLOOD_SENDER = os.path.join(BUILD, "test", "bench", "flood_sender")


# ------------------------------------------------------------------------------ helpers ---

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized(pid):
    """True when the server runs with AddressSanitizer (its own allocator)."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def udp_receive_buffer(port):
    """The kernel's rcvbuf (ss -m 'rb', the doubled value setsockopt asked for) of the UDP
    socket bound to 127.0.0.1:port."""
    out = subprocess.run(["ss", "-uamnH", "sport", "=", f":{port}"], capture_output=True,
                         text=True, timeout=10).stdout
    m = re.search(r"skmem:\([^)]*\brb(\d+)", out)
    assert m, out
    return int(m.group(1))


def options_request(port, transport="TCP", local="127.0.0.1:5999"):
    branch = new_branch()
    return (f"OPTIONS sip:echo@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} {local};branch={branch}\r\n"
            f"From: <sip:tester@127.0.0.1>;tag={rand_token()}\r\n"
            f"To: <sip:echo@127.0.0.1:{port}>\r\n"
            f"Call-ID: {rand_token(16)}\r\n"
            f"CSeq: 1 OPTIONS\r\n"
            f"Max-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def tcp_connect(port, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def tcp_options(s, port, timeout=5):
    """Sends an OPTIONS on the connection; returns the response's status line (or None when the
    connection was closed or nothing came in `timeout` seconds)."""
    local = "%s:%d" % s.getsockname()
    try:
        s.sendall(options_request(port, local=local))
    except OSError:
        return None
    data = b""
    deadline = time.time() + timeout
    while b"\r\n\r\n" not in data and time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0].decode() if b"\r\n" in data else None


def wait_closed(s, timeout):
    """Seconds until the server closed `s` (EOF or reset), None if still open after `timeout`.
    Anything the server sends meanwhile (a 400 for a cut request) is read and ignored."""
    start = time.time()
    while time.time() - start < timeout:
        s.settimeout(max(0.05, timeout - (time.time() - start)))
        try:
            if not s.recv(4096):
                return time.time() - start
        except socket.timeout:
            return None
        except OSError:
            return time.time() - start
    return None


def flood(server, method, count, rate=0, wait=3, uri=None):
    args = [FLOOD_SENDER, "--to", f"127.0.0.1:{server.sip_port}", "--count", str(count),
            "--method", method, "--rate", str(rate), "--wait", str(wait)]
    if uri:
        args += ["--uri", uri]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"answered (\d+) \(200: (\d+), 503: (\d+)", out)
    assert m, out
    return {"answered": int(m.group(1)), "ok": int(m.group(2)), "unavailable": int(m.group(3)),
            "line": out.strip()}


def status_page(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.web_port}/", timeout=5) as r:
        return r.read().decode()


# ------------------------------------------------------------------- UDP receive buffer ---

def test_udp_receive_buffer_default_is_sized_and_logged(server_factory):
    server = server_factory().start()
    # The kernel's default is 212992 bytes (rmem_default); the server asks for 8 MB.
    assert udp_receive_buffer(server.sip_port) >= 8 * 1024 * 1024
    server.wait_log("SIP UDP receive buffer: 8388608 bytes")


def test_udp_receive_buffer_capped_by_the_kernel_is_a_warning(server_factory, monkeypatch):
    # Without CAP_NET_ADMIN (dropped from the bounding set even for root) SO_RCVBUFFORCE is
    # refused and SO_RCVBUF is capped at net.core.rmem_max: the server says so.
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())
    asked = min(rmem_max * 2, 1 << 30)
    server = server_factory(config={"sip": {"udp_receive_buffer": asked}})
    wrapper = os.path.join(server.workdir, "sylkserver-without-net-admin")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --bounding-set -net_admin --inh-caps -net_admin "
                f"{conftest.SERVER_BIN} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    monkeypatch.setattr(conftest, "SERVER_BIN", wrapper)
    server.start()
    server.wait_log(f"SIP UDP receive buffer: asked for {asked} bytes, the kernel granted "
                    f"{rmem_max}")
    server.wait_log("net.core.rmem_max")
    assert udp_receive_buffer(server.sip_port) == 2 * rmem_max


def test_udp_receive_buffer_zero_keeps_the_kernel_default(server_factory):
    server = server_factory(config={"sip": {"udp_receive_buffer": 0}}).start()
    with open("/proc/sys/net/core/rmem_default") as f:
        default = int(f.read())
    assert udp_receive_buffer(server.sip_port) == default  # not doubled: no setsockopt
    assert "SIP UDP receive buffer" not in server.log()


# ----------------------------------------------------------------- TCP idle and slow ---

def test_idle_tcp_connections_are_closed(server_factory):
    server = server_factory(config={"sip": {"connection_timeout": 2}}).start()
    silent = tcp_connect(server.sip_port)
    connected = time.time()
    used = tcp_connect(server.sip_port)
    try:
        assert tcp_options(used, server.sip_port) == "SIP/2.0 200 OK"
        answered = time.time()
        # Never sent a byte: closed by the server (sofia's idle timer starts with data).
        assert wait_closed(silent, 2 + 10) is not None, "a silent connection stayed open"
        assert time.time() - connected >= 1.5, "closed long before connection_timeout"
        # Idle after a request.
        assert wait_closed(used, max(0.1, answered + 2 + 10 - time.time())) is not None, \
            "an idle connection stayed open after its request"
        assert time.time() - answered >= 1.5, "closed long before connection_timeout"
        server.wait_log("nothing received (connection_timeout)")
    finally:
        silent.close()
        used.close()


def test_a_request_that_stops_halfway_is_dropped_and_its_connection_closed(server_factory):
    server = server_factory(config={"sip": {"message_timeout": 2,
                                            "connection_timeout": 4}}).start()
    s = tcp_connect(server.sip_port)
    try:
        request = options_request(server.sip_port, local="%s:%d" % s.getsockname())
        s.sendall(request[:40])
        sent = time.time()
        assert wait_closed(s, 2 + 4 + 10) is not None, "a half request kept its connection open"
        assert time.time() - sent >= 3, "closed long before connection_timeout"
    finally:
        s.close()


def test_a_request_sent_one_byte_per_second_is_cut(server_factory):
    server = server_factory(config={"sip": {"message_timeout": 3,
                                            "connection_timeout": 60}}).start()
    slow = tcp_connect(server.sip_port)
    legit = tcp_connect(server.sip_port)
    try:
        request = options_request(server.sip_port, local="%s:%d" % slow.getsockname())
        started = time.time()
        sent = 0
        closed = False
        # One byte a second: the whole request would take len(request) seconds (~250 s).
        while sent < len(request) and time.time() - started < 3 + 12:
            try:
                slow.sendall(request[sent:sent + 1])
            except OSError:
                closed = True
                break
            sent += 1
            if wait_closed(slow, 1.0) is not None:
                closed = True
                break
        assert closed, f"the server still reads a request after {sent} bytes at 1 byte/s"
        assert sent < len(request)
        assert time.time() - started >= 2.0, "cut long before message_timeout"
        server.wait_log("incomplete message")
        # A connection that sends whole requests is not affected.
        assert tcp_options(legit, server.sip_port) == "SIP/2.0 200 OK"
    finally:
        slow.close()
        legit.close()


# ----------------------------------------------------- connections per source address ---

def test_connections_per_source_address_are_limited(server_factory):
    limit, extra = 4, 3
    server = server_factory(config={"sip": {"max_connections_per_ip": limit}}).start()
    kept, refused = [], []
    try:
        for _ in range(limit):
            s = tcp_connect(server.sip_port)
            kept.append(s)
            assert tcp_options(s, server.sip_port) == "SIP/2.0 200 OK"
        for _ in range(extra):
            refused.append(tcp_connect(server.sip_port))
        for s in refused:
            assert wait_closed(s, 10) is not None, "a connection over the limit stayed open"
        # Another source address is counted on its own.
        other = tcp_connect(server.sip_port, source="127.0.0.2")
        kept.append(other)
        assert tcp_options(other, server.sip_port) == "SIP/2.0 200 OK"
        # The connections within the limit still get answers, over and over.
        for s in kept[:limit]:
            assert tcp_options(s, server.sip_port) == "SIP/2.0 200 OK"
        server.wait_log("SIP connection from 127.0.0.1")
        assert "max_connections_per_ip" in server.log()
        # UDP from the same address is not a connection: still answered.
        ua = SipUA(("127.0.0.1", server.sip_port))
        try:
            assert ua.request("OPTIONS", f"sip:echo@{server.uri_host}").status == 200
        finally:
            ua.close()
        assert re.search(rf"{extra} SIP connections refused", status_page(server))
    finally:
        for s in kept + refused:
            s.close()


# ----------------------------------------------------------------- RTP port pool 503s ---

def test_rtp_port_pool_exhaustion_is_logged_once_per_burst_and_counted(server_factory):
    start = free_port_range(4)  # two RTP/RTCP pairs: two calls, then 503
    server = server_factory(config={"rtp": {"port_range": f"{start}:{start + 3}"}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    calls = []
    try:
        statuses = []
        for i in range(8):
            call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(40000 + 2 * i))
            statuses.append(call.response.status)
            if call.response.status == 200:
                call.ack()
                calls.append(call)
        assert statuses == [200, 200] + [503] * 6, statuses
        server.wait_log("RTP port pool exhausted: 6 calls refused with 503 in the last", 25)
        log = server.log()
        assert log.count("RTP port pool exhausted") == 1, log[-3000:]
        assert not re.search(r"WARNING .*(no free RTP port|accept failed|cannot accept)", log)
        assert re.search(r"6 calls refused for lack of RTP ports", status_page(server))
        for call in calls:
            call.bye()
    finally:
        ua.close()
    server.stop()
    assert "6 calls refused for lack of RTP ports" in server.log()  # the line at exit


# ---------------------------------------------------------------- memory after floods ---

def settled_rss(server, flood_end):
    """RSS once the server gave back the memory of a flood, within a bounded wait: un-ACKed
    INVITEs (their calls) and OPTIONS transactions live 32 s (Timers H and J), then the server
    trims ('memory: returned' lines). Taken when no such line came for 5 s after the first one
    logged once they all ended, or 55 s after the flood."""
    while time.time() < flood_end + 31:
        time.sleep(0.5)
    before = server.log().count("memory: returned")
    seen, last_change = before, None
    while time.time() < flood_end + 55:
        n = server.log().count("memory: returned")
        if n != seen:
            seen, last_change = n, time.time()
        if last_change and time.time() - last_change >= 5:
            break
        time.sleep(0.5)
    return rss_kb(server.proc.pid)


def test_memory_is_given_back_after_repeated_floods(server_factory):
    """Soak: three rounds of the same floods (1000 un-ACKed INVITEs that run 50 calls' worth of
    RTP ports out, then 5000 OPTIONS); rounds 2 and 3 back to back, so their calls and
    transactions are alive together. RSS once round 3 settled is within 10% of RSS once round
    1 settled."""
    first = free_port_range(100)
    server = server_factory(config={"rtp": {"port_range": f"{first}:{first + 99}"}}).start()
    uri = f"sip:echo@{server.uri_host}"
    start = rss_kb(server.proc.pid)
    after = []
    for round_ in range(3):
        invites = flood(server, "INVITE", 1000, rate=1000, uri=uri)
        if round_ == 0:
            assert invites["ok"] == 50, invites["line"]
        assert invites["unavailable"] > 0, invites["line"]
        options = flood(server, "OPTIONS", 5000, rate=2000)
        assert options["answered"] > 0, options["line"]
        flood_end = time.time()
        peak = rss_kb(server.proc.pid)
        if round_ == 1:
            continue
        after.append(settled_rss(server, flood_end))
        print(f"round {round_ + 1}: RSS at start {start} kB, after the floods {peak} kB, "
              f"settled {after[-1]} kB")
    assert server.alive()
    if sanitized(server.proc.pid):
        # AddressSanitizer keeps freed memory in its quarantine (256 MB) and malloc_trim does
        # not reach its allocator: RSS says nothing there. What is checked under it is that the
        # floods are answered and that nothing leaks (LeakSanitizer at exit).
        return
    assert after[1] <= after[0] * 1.10, f"RSS after round 1 {after[0]} kB, after 3 {after[1]} kB"
