"""The core's web server ([web]): the status page, 404 for unknown tokens and paths, 405 for
other methods, HTTPS with a configured certificate, `port = 0` turning it off, config errors;
and the SDK's web items (ABI 1.6) driven through the probe test plugin (test/plugins/probe.c):
a page and an image at the URLs the plugin is given, swapped, then 404 once freed."""
import http.client
import os
import re
import secrets
import ssl
import subprocess

import pytest

from conftest import BUILD, PLUGINS_DIR, SERVER_BIN, free_port, write_ini
from sip_client import SipUA

PROBE_DIR = os.path.join(BUILD, "test", "plugins")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(reversed(range(256))) * 4


def fetch(port, path, method="GET", body=None, headers=None, tls_ca=None):
    """(status, headers as a lowercase dict, body) of one request on its own connection."""
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def listening_tcp_ports(pid):
    """The TCP ports the process `pid` listens on (its socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for row in f:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_status_page_and_headers(server):
    status, headers, body = fetch(server.web_port, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"sylkserver-c" in body and b"0 screens are being shared" in body
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["cache-control"] == "no-cache, no-store, must-revalidate"
    status, headers, head_body = fetch(server.web_port, "/", method="HEAD")
    assert status == 200 and head_body == b""
    assert int(headers["content-length"]) == len(body)
    assert f"web http://127.0.0.1:{server.web_port}," in server.log()


def test_unknown_tokens_and_paths_are_404(server):
    for _ in range(50):
        token = secrets.token_hex(16)
        for path in (f"/screen/{token}/", f"/screen/{token}/image"):
            assert fetch(server.web_port, path)[0] == 404, path
    for path in ("/screen/../../etc/passwd", "/screen/%2e%2e%2fetc%2fpasswd", "/etc/passwd",
                 "/index.html", "/screen/", f"/screen/{secrets.token_hex(16).upper()}/",
                 f"/screen/{secrets.token_hex(15)}/", "/favicon.ico"):
        assert fetch(server.web_port, path)[0] == 404, path
    assert server.alive()


def test_other_methods_are_405(server):
    for method, body in (("POST", b"x" * 1000), ("PUT", b"data"), ("DELETE", None),
                         ("OPTIONS", None)):
        status, headers, _ = fetch(server.web_port, "/", method=method, body=body)
        assert status == 405, method
        assert headers["allow"] == "GET, HEAD"
    status, _, _ = fetch(server.web_port, "/", body=b"abc")  # a GET with a body
    assert status == 413
    assert fetch(server.web_port, "/")[0] == 200


def test_port_zero_turns_the_web_server_off(server_factory):
    on = server_factory().start()
    assert on.web_port in listening_tcp_ports(on.proc.pid)
    off = server_factory(config={"web": {"port": 0}}).start()
    assert "web off" in off.log()
    ports = listening_tcp_ports(off.proc.pid)
    assert ports == {off.sip_port, off.msrp_port}, ports
    with pytest.raises(ConnectionRefusedError):
        fetch(off.web_port, "/")


@pytest.fixture
def certificate(tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    pem = tmp_path / "web.pem"
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return str(pem), str(crt)


def test_https_with_configured_certificate(server_factory, certificate):
    pem, crt = certificate
    server = server_factory(config={"web": {"certificate": pem}}).start()
    assert f"web https://127.0.0.1:{server.web_port}," in server.log()
    status, _, body = fetch(server.web_port, "/", tls_ca=crt)
    assert status == 200 and b"sylkserver-c" in body
    assert fetch(server.web_port, f"/screen/{secrets.token_hex(16)}/", tls_ca=crt)[0] == 404


def test_public_url_is_the_base_of_published_urls(server_factory):
    server = server_factory(config={"web": {"public_url": "https://screens.example.com/sylk/"}})
    server.start()
    assert "web https://screens.example.com/sylk," in server.log()


def test_port_in_use_fails_cleanly(server_factory):
    first = server_factory().start()
    second = server_factory(config={"web": {"port": first.web_port}})
    second.start(wait=False)
    assert second.proc.wait(10) == 1
    assert "cannot start the web server" in second.log()
    assert first.alive()


@pytest.mark.parametrize("key, value, why", [
    ("port", "abc", "is not a port"),
    ("public_url", "ftp://example.com/", "is not an http: or https: URL"),
    ("public_url", "https://example.com/?a=b", "is not an http: or https: URL"),
    ("local_ip", "localhost", "is not an IPv4 or IPv6 address"),
    ("max_connections", "0", "must be at least 1"),
    ("connection_timeout", "-5", "is not a number of seconds"),
    ("certificate", "/nonexistent/web.pem", "no such file"),
    ("colour", "red", "unknown key"),
])
def test_bad_web_options_are_config_errors(tmp_path, key, value, why):
    path = tmp_path / "sylkserver.ini"
    write_ini(path, {"web": {key: value}})
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--check-config",
                        "--plugins-dir", PLUGINS_DIR], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{path}:2: [web] {key}: " in r.stderr and why in r.stderr, r.stderr


# ------------------------------------------------------------ items through the SDK ---

@pytest.fixture
def probe(server_factory):
    return server_factory(plugins_dir=PROBE_DIR,
                          config={"server": {"application_map": "probe:probe"}}).start()


def web_probe(server, how, body=b"", content_type=None):
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        resp = ua.request("MESSAGE", f"sip:probe@{server.uri_host}", body=body,
                          content_type=content_type, extra=[("X-Probe", how)])
        assert resp.status == 202
    finally:
        ua.close()


def new_item(server, title):
    web_probe(server, f"web-new {title}")
    m = re.search(rf"web item {re.escape(title)}: (\S+) (\S+)", server.log())
    assert m, server.log()[-2000:]
    return m.group(1), m.group(2)


def path_of(server, url):
    prefix = f"http://127.0.0.1:{server.web_port}"
    assert url.startswith(prefix), url
    return url[len(prefix):]


def test_item_page_and_image_through_the_sdk(probe):
    url, image_url = new_item(probe, "Alice <b>")
    assert re.fullmatch(rf"http://127\.0\.0\.1:{probe.web_port}/screen/[0-9a-f]{{32}}/", url)
    assert image_url == url + "image"
    page, image = path_of(probe, url), path_of(probe, image_url)

    status, headers, body = fetch(probe.web_port, page)
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"<h1>Alice &lt;b&gt;</h1>" in body and b"<b>" not in body
    assert b"image?t=" in body  # the viewer reloads the image with a cache-busting query
    assert fetch(probe.web_port, image)[0] == 404  # no image yet
    assert b"1 screen is being shared" in fetch(probe.web_port, "/")[2]

    # the plugin acts on the MESSAGE before its (deferred) 202: no waiting needed below
    web_probe(probe, "web-set Alice <b>", JPEG, "image/jpeg")
    assert probe.log().count("web set Alice <b>: 0") == 1
    status, headers, body = fetch(probe.web_port, image + "?t=12345")
    assert status == 200 and body == JPEG
    assert headers["content-type"] == "image/jpeg"
    assert headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert headers["pragma"] == "no-cache" and headers["expires"] == "0"

    web_probe(probe, "web-set Alice <b>", PNG, "image/png")
    assert probe.log().count("web set Alice <b>: 0") == 2
    _, headers, body = fetch(probe.web_port, image)
    assert body == PNG and headers["content-type"] == "image/png"

    web_probe(probe, "web-set Alice <b>", b"GIF89a", "image/gif")
    assert "web set Alice <b>: -22" in probe.log()
    assert fetch(probe.web_port, image)[2] == PNG  # the refused one left the image as it was

    web_probe(probe, "web-free Alice <b>")
    assert "web free Alice <b>" in probe.log()
    assert fetch(probe.web_port, image)[0] == 404
    assert fetch(probe.web_port, page)[0] == 404


def test_items_are_none_when_the_web_server_is_off(server_factory):
    server = server_factory(plugins_dir=PROBE_DIR, config={
        "server": {"application_map": "probe:probe"}, "web": {"port": 0}}).start()
    web_probe(server, "web-new nowhere")
    assert "web item nowhere: none" in server.log()


def test_stop_with_items_served_is_clean(probe):
    new_item(probe, "left")
    web_probe(probe, "web-set left", JPEG, "image/jpeg")
    assert "web set left: 0" in probe.log()
    assert probe.stop() == 0
