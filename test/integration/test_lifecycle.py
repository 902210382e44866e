"""Server lifecycle and transports: clean shutdown with live calls (BYE sent), the echo call
length cap, trace_sip, SIP over TLS, and plugin .ini validation by --check-config."""
import os
import socket
import ssl
import subprocess
import time

import pytest

from conftest import SERVER_BIN, PLUGINS_DIR, free_port, write_ini
from sip_client import SipUA, parse, sdp_offer


def established_call(server, ua, rtp_port=40000):
    call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(rtp_port))
    assert call.response.status == 200, call.response
    call.ack()
    return call


def test_sigterm_ends_live_calls_with_bye(server_factory):
    server = server_factory().start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        established_call(server, ua)
        server.proc.terminate()
        bye = ua.wait_request("BYE", timeout=5)
        ua.respond(bye, 200)
        assert server.proc.wait(15) == 0
        log = server.log()
        assert "ended: 200 BYE sent" in log
        assert "sylkserver stopped" in log
    finally:
        ua.close()


def test_echo_call_length_cap(server_factory):
    server = server_factory(plugin_configs={"echo": {"echo": {"max_call_duration": 1}}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        established_call(server, ua)
        started = time.time()
        bye = ua.wait_request("BYE", timeout=6)
        ua.respond(bye, 200)
        assert 0.8 <= time.time() - started <= 4
        server.wait_log("reached 1 s; hanging up")
    finally:
        ua.close()


def test_trace_sip_logs_messages(server_factory):
    server = server_factory(config={"server": {"trace_sip": True}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        resp = ua.request("OPTIONS", f"sip:echo@{server.uri_host}")
        assert resp.status == 200
        server.wait_log("OPTIONS sip:echo@")  # the request as received
        server.wait_log("SIP/2.0 200 OK")     # the response as sent
    finally:
        ua.close()
    quiet = server_factory().start()
    ua = SipUA(("127.0.0.1", quiet.sip_port))
    try:
        assert ua.request("OPTIONS", f"sip:echo@{quiet.uri_host}").status == 200
        time.sleep(0.2)
        assert "SIP/2.0 200 OK" not in quiet.log()
    finally:
        ua.close()


@pytest.fixture
def certificate(tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    pem = tmp_path / "server.pem"
    pem.write_bytes(key.read_bytes() + crt.read_bytes())
    return str(pem), str(crt)


def tls_request(port, cafile, payload):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            tls.sendall(payload)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            return parse(data)


def test_sip_over_tls(server_factory, certificate):
    pem, crt = certificate
    tls_port = free_port(kinds=("tcp",))
    server = server_factory(config={"sip": {"tls_port": tls_port, "tls_certificate": pem}})
    server.start()
    assert f"tls:{tls_port}" in server.log()
    local = f"127.0.0.1:{tls_port}"
    options = (f"OPTIONS sips:echo@{local} SIP/2.0\r\n"
               f"Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls1;rport\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sips:tester@127.0.0.1>;tag=t1\r\nTo: <sips:echo@{local}>\r\n"
               "Call-ID: tls-options-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n").encode()
    resp = tls_request(tls_port, crt, options)
    assert resp.status == 200, resp


def test_tls_without_certificate_is_a_config_error(tmp_path):
    path = tmp_path / "sylkserver.ini"
    write_ini(path, {"sip": {"tls_port": free_port(kinds=("tcp",))}})
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--check-config",
                        "--plugins-dir", PLUGINS_DIR], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{path}:2: [sip] tls_port: TLS needs tls_certificate" in r.stderr


def test_check_config_validates_plugin_files(tmp_path):
    path = tmp_path / "sylkserver.ini"
    write_ini(path, {"server": {"default_application": "echo"}})
    (tmp_path / "echo.ini").write_text("[echo]\n; comment\nmax_call_duration = 0\ncolour = red\n")
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--check-config",
                        "--plugins-dir", PLUGINS_DIR], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{tmp_path}/echo.ini:3: [echo] max_call_duration: 0 is outside 1..86400" in r.stderr
    assert f"{tmp_path}/echo.ini:4: [echo] colour: unknown key" in r.stderr
    (tmp_path / "echo.ini").write_text("[echo]\nmax_call_duration = 30\n")
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--check-config",
                        "--plugins-dir", PLUGINS_DIR], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "configuration OK (3 plugins)" in r.stdout  # echo, conference and xmppgw


def test_port_in_use_fails_cleanly(server_factory):
    first = server_factory().start()
    second = server_factory()
    second.sip_port = first.sip_port
    second.config["sip"].update({"udp_port": first.sip_port, "tcp_port": first.sip_port})
    write_ini(second.config_path, second.config)
    second.start(wait=False)
    assert second.proc.wait(10) == 1
    assert "cannot listen for SIP" in second.log()
    assert first.alive()


def test_outbound_proxy_carries_originated_requests(server_factory):
    proxy = SipUA(("127.0.0.1", 9), user="proxy")  # only receives; never sends first
    proxy_uri = f"sip:127.0.0.1:{proxy.port};lr"
    server = server_factory(config={"sip": {"outbound_proxy": proxy_uri}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port), user="alice")
    try:
        resp = ua.request("MESSAGE", f"sip:echo@{server.uri_host}", body="via the proxy",
                          content_type="text/plain")
        assert resp.status == 200
        echoed = proxy.wait_request("MESSAGE", timeout=5)
        proxy.respond(echoed, 200)
        assert echoed.uri.startswith(f"sip:alice@127.0.0.1:{ua.port}")
        # sofia-sip sends to the outbound proxy's address without adding a Route header.
        assert ">> via the proxy" in echoed.text
    finally:
        ua.close()
        proxy.close()


def test_advertised_ip_in_contact_and_sdp(server_factory):
    server = server_factory(config={"sip": {"advertised_ip": "127.0.0.2"}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(40010))
        assert call.response.status == 200
        body = call.response.text
        assert "c=IN IP4 127.0.0.2" in body
        assert "127.0.0.2" in call.response.get("Contact")
        call.ack()
        assert call.bye().status == 200
    finally:
        ua.close()


def test_rtp_timeout_ends_silent_calls_only(server_factory):
    import socket as sk
    from rtp_sender import make_frames
    server = server_factory(config={"rtp": {"timeout": 2}}).start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    talker = sk.socket(sk.AF_INET, sk.SOCK_DGRAM)
    talker.bind(("127.0.0.1", 0))
    try:
        silent = established_call(server, ua, rtp_port=40300)
        live = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(talker.getsockname()[1]))
        assert live.response.status == 200
        live.ack()
        media = [l for l in live.response.text.splitlines() if l.startswith("m=audio")][0]
        port = int(media.split()[1])
        started = time.time()
        frames = make_frames(250)
        bye = None
        for f in frames:  # 5 s of audio on the live call only
            talker.sendto(f, ("127.0.0.1", port))
            m = ua.wait(lambda x: x.is_request and x.method == "BYE", 0.02)
            if m:
                bye = m
                break
        assert bye is not None and bye.get("Call-ID") == silent.call_id
        assert 1.5 <= time.time() - started <= 5
        ua.respond(bye, 200)
        server.wait_log("no RTP for 2 s; ending the call")
        assert live.bye().status == 200  # the talking call was never ended
    finally:
        talker.close()
        ua.close()
