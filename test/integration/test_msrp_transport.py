"""The MSRP listener ([msrp] port, use_tls): TLS with the self-signed certificate the server
makes in its spool directory, or plain TCP; a request for a session nobody has is answered 481
(RFC 4975 §7.2: to the previous hop, from our URI); a byte stream that is not MSRP, or a header
section beyond the limits, closes that connection with the reason logged while the server
keeps serving others. Written with the standard library's socket and ssl (not core code)."""
import os
import socket
import ssl
import time

import pytest

SEND = ("MSRP {tid} SEND\r\n"
        "To-Path: msrp{s}://127.0.0.1:{port}/{sid};tcp\r\n"
        "From-Path: msrp{s}://127.0.0.1:40000/client1;tcp\r\n"
        "Message-ID: m1\r\n"
        "Byte-Range: 1-5/5\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "hello\r\n"
        "-------{tid}$\r\n")


def connect(server, tls):
    sock = socket.create_connection(("127.0.0.1", server.msrp_port), timeout=5)
    if not tls:
        return sock
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock)


def read_frame(sock, timeout=5):
    """Bytes up to and including the first end-line."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n-------" not in data or not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


@pytest.fixture(params=[True, False], ids=["tls", "tcp"])
def msrp_server(request, server_factory):
    return request.param, server_factory(config={"msrp": {"use_tls": "yes" if request.param
                                                          else "no"}}).start()


def test_unknown_session_gets_481(msrp_server):
    tls, server = msrp_server
    s = "s" if tls else ""
    assert f"MSRP {server.msrp_port} ({'TLS' if tls else 'TCP'})" in server.log()
    with connect(server, tls) as sock:
        sock.sendall(SEND.format(tid="a1b2c3", s=s, port=server.msrp_port,
                                 sid="nosuchsession").encode())
        reply = read_frame(sock)
    lines = reply.split("\r\n")
    assert lines[0] == "MSRP a1b2c3 481 Session does not exist", reply
    assert f"To-Path: msrp{s}://127.0.0.1:40000/client1;tcp" in lines, reply
    assert f"From-Path: msrp{s}://127.0.0.1:{server.msrp_port}/nosuchsession;tcp" in lines, reply
    assert lines[-2] == "-------a1b2c3$", reply
    server.wait_log("for unknown session nosuchsession: 481")


def test_self_signed_certificate_kept_in_spool(server_factory):
    server = server_factory().start()
    pem = os.path.join(server.workdir, "spool", "tls", "msrp.pem")
    server.wait_log(f"MSRP TLS certificate: {pem}")
    assert oct(os.stat(pem).st_mode & 0o777) == "0o600"
    with connect(server, True) as sock:
        der = sock.getpeercert(binary_form=True)
    with open(pem) as f:
        cert_pem = f.read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    assert ssl.PEM_cert_to_DER_cert(cert_pem) == der
    assert server.stop() == 0
    ready = server.log().count("sylkserver ready")
    server.start(wait=False)  # a restart reuses the same certificate
    deadline = time.time() + 15
    while server.log().count("sylkserver ready") == ready and time.time() < deadline:
        time.sleep(0.05)
    with connect(server, True) as sock:
        assert sock.getpeercert(binary_form=True) == der


@pytest.mark.parametrize("junk,why", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an MSRP frame"),
    (b"MSRP t1 SEND\r\n", "bad transaction id"),
    (b"MSRP abcd SEND\r\nX-Long: " + b"a" * 20000, "header section longer"),
])
def test_bad_stream_closes_that_connection_only(msrp_server, junk, why):
    tls, server = msrp_server
    s = "s" if tls else ""
    bystander = connect(server, tls)
    with connect(server, tls) as sock:
        sock.sendall(junk)
        sock.settimeout(5)
        try:
            closed = sock.recv(1024) == b""
        except (ConnectionResetError, ssl.SSLError):
            closed = True
        assert closed, "the server kept a connection that sent garbage"
    server.wait_log(f"closed: bad MSRP frame: {why}")
    # the other connection still works
    bystander.sendall(SEND.format(tid="b2c3d4", s=s, port=server.msrp_port, sid="x1y2z3").encode())
    assert read_frame(bystander).startswith("MSRP b2c3d4 481")
    bystander.close()
    assert server.alive()


def test_peer_reset_mid_frame(msrp_server):
    tls, server = msrp_server
    sock = connect(server, tls)
    sock.sendall(b"MSRP abcd SEND\r\nTo-Path: msrp://127.0.0.1/x;tcp\r\n")
    raw = sock.unwrap() if tls else sock
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.close()
    server.wait_log("MSRP connection from")
    time.sleep(0.2)
    with connect(server, tls) as again:
        again.sendall(SEND.format(tid="c3d4e5", s="s" if tls else "", port=server.msrp_port,
                                  sid="q1w2e3").encode())
        assert read_frame(again).startswith("MSRP c3d4e5 481")
    assert server.alive()


def test_msrp_port_in_use_is_a_clear_startup_error(server_factory):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        server = server_factory(config={"msrp": {"port": busy.getsockname()[1]}})
        server.start(wait=False)
        assert server.proc.wait(15) == 1, "the server should exit with status 1"
        assert f"cannot listen for MSRP on 127.0.0.1:{busy.getsockname()[1]}" in server.log()
    finally:
        busy.close()
