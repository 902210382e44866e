"""Sending the RFC 4475 torture messages (test/data/rfc4475/, the RFC's own bytes) to a server
over UDP or TCP and collecting its answers. Used by test_rfc4475.py.

Each message is sent as the RFC has it, with three rewrites made at send time:
- the Request-URI's host[:port] becomes the server's 127.0.0.1:PORT (opaque URIs without a
  host, like nobodyKnowsThisScheme:totallyopaquecontent, are left alone);
- the top Via's transport becomes the one used and its sent-by our own 127.0.0.1:PORT, so that
  the answer comes back to us (sofia-sip drops a request whose top Via names another
  transport, and answers a UDP request at its Via port); in a response (a stray one sent to
  the server) the top Via names the server;
- in SDP bodies, "IN IP4 192.0.2." becomes "IN IP4 127.0.0." (same length, so Content-Length
  still holds): a call the server accepts sends its RTP to loopback, never to TEST-NET.
Everything else, folding, escapes, NULs, wrong Content-Lengths and all, is byte for byte the RFC's.
"""
import os
import re
import socket
import time

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "rfc4475")

_VIA_NAME = re.compile(rb"\r\n(?:via|v)[ \t]*:", re.I)
_VIA_VALUE = re.compile(rb"(SIP\s*/\s*\d+\.\d+\s*/\s*)([A-Za-z]+)(\s+)([^\s;,]+)")


def load(name):
    with open(os.path.join(DATA, name + ".dat"), "rb") as f:
        return f.read()


def is_response(raw):
    return raw.startswith(b"SIP/")


def _rewrite_uri(uri, hostport):
    """The host[:port] of a URI token replaced by hostport (b'127.0.0.1:5060')."""
    scheme_end = uri.find(b":")
    if scheme_end < 0:
        return uri
    if uri[scheme_end + 1:scheme_end + 3] == b"//":            # soap.beep://host:port
        start = scheme_end + 3
    elif re.match(rb"<?sips?:", uri, re.I):
        at = uri.rfind(b"@")
        start = at + 1 if at >= 0 else scheme_end + 1
    else:
        return uri                                              # opaque: no host to point
    end = start
    while end < len(uri) and uri[end:end + 1] not in b";?>/:":
        end += 1
    if uri[end:end + 1] == b":":                                # a port
        end += 1
        while end < len(uri) and uri[end:end + 1].isdigit():
            end += 1
    return uri[:start] + hostport + uri[end:]


def _rewrite_request_line(line, hostport):
    """The second SP-separated element of the start line is the Request-URI (extra SP kept)."""
    m = re.match(rb"(\S*)( +)(\S+)(.*)", line, re.S)
    if not m:
        return line
    return m.group(1) + m.group(2) + _rewrite_uri(m.group(3), hostport) + m.group(4)


def _rewrite_top_via(head, transport, hostport):
    m = _VIA_NAME.search(head)
    if not m:
        return head
    v = _VIA_VALUE.search(head, m.end())
    if not v:
        return head
    return (head[:v.start(2)] + transport.upper().encode() + v.group(3) + hostport +
            head[v.end(4):])


def rewrite(raw, transport, server_hostport, local_hostport):
    """The RFC's message made to reach the server and come back to us (see the module doc)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    first, crlf, rest = head.partition(b"\r\n")
    if is_response(raw):
        head = first + crlf + rest
        head = _rewrite_top_via(head, transport, server_hostport)
    else:
        head = _rewrite_request_line(first, server_hostport) + crlf + rest
        head = _rewrite_top_via(head, transport, local_hostport)
    body = body.replace(b"IN IP4 192.0.2.", b"IN IP4 127.0.0.")
    return head + sep + body


# ------------------------------------------------------------------------------- answers ---

def split_messages(buf):
    """Complete SIP messages at the start of a stream buffer; returns (messages, rest)."""
    out = []
    while True:
        while buf.startswith(b"\r\n"):
            buf = buf[2:]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end]
        m = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)", head, re.I)
        length = int(m.group(1)) if m else 0
        total = end + 4 + length
        if len(buf) < total:
            return out, buf
        out.append(buf[:total])
        buf = buf[total:]


def status_of(msg):
    m = re.match(rb"SIP/2\.0 (\d{3}) ", msg)
    return int(m.group(1)) if m else None


def header(msg, *names):
    """The first value of a header (any of its names), unfolded, or None."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    for line in re.split(rb"\r\n(?![ \t])", head)[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower().decode("latin-1") in names:
            return re.sub(rb"\r\n[ \t]+", b" ", value).strip().decode("utf-8", "replace")
    return None


class Peer:
    """One UDP socket or TCP connection to the server, sending raw bytes and reading answers."""

    def __init__(self, transport, server_port):
        self.transport = transport
        self.server = ("127.0.0.1", server_port)
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        if transport == "tcp":
            self.sock.connect(self.server)
        self.buf = b""
        self.closed = False       # the server closed the TCP connection

    @property
    def local_hostport(self):
        return ("127.0.0.1:%d" % self.sock.getsockname()[1]).encode()

    @property
    def server_hostport(self):
        return ("127.0.0.1:%d" % self.server[1]).encode()

    def send(self, data):
        if self.transport == "udp":
            self.sock.sendto(data, self.server)
        else:
            self.sock.sendall(data)

    def receive(self, timeout):
        """Messages arriving within `timeout` seconds (bounded wait, never longer)."""
        deadline = time.time() + timeout
        out = []
        while time.time() < deadline and not self.closed:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionError:
                self.closed = True
                break
            if self.transport == "udp":
                out.append(data)
                continue
            if not data:
                self.closed = True
                break
            msgs, self.buf = split_messages(self.buf + data)
            out.extend(msgs)
        return out

    def final_answer(self, timeout, call_id=None):
        """The first final response (to `call_id` when given) within `timeout` seconds:
        (status or None, that response, every message received)."""
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline and not self.closed:
            for m in self.receive(min(0.2, max(0.01, deadline - time.time()))):
                seen.append(m)
                st = status_of(m)
                if st and st >= 200 and (call_id is None or header(m, "call-id", "i") == call_id):
                    return st, m, seen
        return None, None, seen

    def close(self):
        self.sock.close()


def ack_and_bye(peer, request_uri, answer, timeout=5):
    """Ends what an INVITE's final answer left open: ACK for a failure (same branch), or ACK
    to the Contact and BYE for a 2xx. Returns the BYE's status (None when no BYE was due)."""
    status = status_of(answer)
    via = (header(answer, "via", "v") or "").split(",")[0]
    frm, to = header(answer, "from", "f"), header(answer, "to", "t")
    call_id, cseq = header(answer, "call-id", "i"), header(answer, "cseq")
    if not (via and frm and to and call_id and cseq):
        return None  # an answer to a request missing them (insuf): nothing to acknowledge
    cseq = int(cseq.split()[0])
    if status >= 300:
        peer.send(_request("ACK", request_uri, via, frm, to, call_id, cseq))
        return None
    contact = header(answer, "contact", "m")
    target = re.search(r"<([^>]+)>", contact).group(1).encode() if contact else request_uri
    mine = "SIP/2.0/%s %s;branch=z9hG4bK%08x" % (peer.transport.upper(),
                                                 peer.local_hostport.decode(), id(answer))
    peer.send(_request("ACK", target, mine, frm, to, call_id, cseq))
    mine_bye = mine + "b"
    peer.send(_request("BYE", target, mine_bye, frm, to, call_id, cseq + 1))
    st, _, _ = peer.final_answer(timeout, call_id)
    return st


def _request(method, uri, via, frm, to, call_id, cseq):
    return (b"%s %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\n"
            b"Call-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n" %
            (method.encode(), uri, via.encode(), frm.encode(), to.encode(), call_id.encode(),
             cseq, method.encode()))
