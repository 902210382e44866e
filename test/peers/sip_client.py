#!/usr/bin/env python3
"""A small SIP user agent over UDP (RFC 3261), standard library only.

Enough for tests: out-of-dialog INVITE/ACK/BYE/MESSAGE/OPTIONS/SUBSCRIBE as a client, with
proper Via branches (z9hG4bK…), From/To tags, CSeq numbering, UDP retransmission (timer A/E
with T1 = 500 ms), ACK for non-2xx (same branch, hop-by-hop) and for 2xx (new transaction to
the remote Contact); and, as a server, answering requests that arrive on its socket (incoming
MESSAGE, BYE, NOTIFY, …).

    ua = SipUA(server=("127.0.0.1", 5060))
    call = ua.invite("sip:echo@127.0.0.1:5060", sdp=offer)
    assert call.response.status == 200
    call.ack(); call.bye(); ua.close()

Everything is loopback-only in the tests; the class does not resolve names.
"""
import random
import re
import socket
import string
import time

T1 = 0.5
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "e": "content-encoding",
           "k": "supported", "s": "subject", "o": "event", "r": "refer-to", "b": "referred-by",
           "u": "allow-events", "x": "session-expires"}
CANONICAL = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
             "contact": "Contact", "content-length": "Content-Length",
             "content-type": "Content-Type", "max-forwards": "Max-Forwards",
             "record-route": "Record-Route", "route": "Route", "www-authenticate":
             "WWW-Authenticate", "user-agent": "User-Agent", "event": "Event",
             "subscription-state": "Subscription-State", "refer-to": "Refer-To",
             "allow": "Allow", "supported": "Supported", "warning": "Warning",
             "server": "Server", "require": "Require", "expires": "Expires"}


def rand_token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def new_branch():
    return "z9hG4bK" + rand_token(16)


def canonical(name):
    low = name.strip().lower()
    low = COMPACT.get(low, low)
    return CANONICAL.get(low, "-".join(p.capitalize() for p in low.split("-")))


class SipMessage:
    """A parsed request or response. Header names are canonical; values keep their order."""

    def __init__(self):
        self.method = None      # request
        self.uri = None         # request
        self.status = None      # response
        self.reason = None      # response
        self.headers = []       # [(name, value)]
        self.body = b""
        self.source = None      # (ip, port) it came from

    @property
    def is_request(self):
        return self.method is not None

    def get(self, name, default=None):
        name = canonical(name)
        for n, v in self.headers:
            if n == name:
                return v
        return default

    def get_all(self, name):
        name = canonical(name)
        out = []
        for n, v in self.headers:
            if n == name:
                out.append(v)
        return out

    @property
    def cseq(self):
        num, method = self.get("CSeq", "0 X").split(None, 1)
        return int(num), method.strip()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def tag(self, header):
        m = re.search(r";\s*tag=([^;>\s]+)", self.get(header, "") or "")
        return m.group(1) if m else None

    def branch(self):
        m = re.search(r";\s*branch=([^;\s,]+)", self.get("Via", ""))
        return m.group(1) if m else None

    def contact_uri(self):
        c = self.get("Contact")
        if not c:
            return None
        m = re.search(r"<([^>]+)>", c)
        return m.group(1) if m else c.split(";")[0].strip()

    def __str__(self):
        return serialize(self).decode("utf-8", "replace")


def parse(data):
    """bytes → SipMessage (raises ValueError on garbage)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    if not lines or not lines[0]:
        raise ValueError("empty message")
    msg = SipMessage()
    first = lines[0]
    if first.startswith("SIP/2.0 "):
        parts = first.split(" ", 2)
        msg.status = int(parts[1])
        msg.reason = parts[2] if len(parts) > 2 else ""
    else:
        parts = first.split(" ")
        if len(parts) != 3 or not parts[2].startswith("SIP/"):
            raise ValueError("bad start line %r" % first)
        msg.method, msg.uri = parts[0], parts[1]
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and msg.headers:   # folded line
            n, v = msg.headers[-1]
            msg.headers[-1] = (n, v + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        msg.headers.append((canonical(name), value.strip()))
    length = msg.get("Content-Length")
    if length is not None:
        body = body[:int(length)]
    msg.body = body
    return msg


def serialize(msg):
    if msg.is_request:
        first = f"{msg.method} {msg.uri} SIP/2.0"
    else:
        first = f"SIP/2.0 {msg.status} {msg.reason}"
    lines = [first]
    for n, v in msg.headers:
        if n == "Content-Length":
            continue
        lines.append(f"{n}: {v}")
    lines.append(f"Content-Length: {len(msg.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + msg.body


class SipTimeout(AssertionError):
    pass


class Dialog:
    """What a client INVITE produced: the final response and the dialog state to ACK/BYE."""

    def __init__(self, ua, uri, call_id, local_tag, from_uri, to_uri, cseq):
        self.ua = ua
        self.request_uri = uri
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = None
        self.from_uri = from_uri
        self.to_uri = to_uri
        self.cseq = cseq
        self.remote_target = uri
        self.route_set = []
        self.response = None        # final response
        self.provisional = []       # 1xx responses seen
        self.invite_branch = None

    def _request(self, method, body=b"", content_type=None, cseq=None, branch=None,
                 extra=()):
        m = SipMessage()
        m.method = method
        m.uri = self.remote_target
        to = f"<{self.to_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else "")
        m.headers = [("Via", self.ua.via(branch or new_branch())),
                     ("Max-Forwards", "70"),
                     ("From", f"<{self.from_uri}>;tag={self.local_tag}"),
                     ("To", to),
                     ("Call-ID", self.call_id),
                     ("CSeq", f"{cseq if cseq is not None else self.next_cseq()} {method}"),
                     ("Contact", f"<{self.ua.contact}>")]
        for r in self.route_set:
            m.headers.append(("Route", r))
        m.headers.extend(extra)
        if body:
            m.headers.append(("Content-Type", content_type or "application/sdp"))
            m.body = body if isinstance(body, bytes) else body.encode()
        return m

    def next_cseq(self):
        self.cseq += 1
        return self.cseq

    def ack(self, body=b"", content_type="application/sdp"):
        """ACK for a 2xx (a new transaction to the remote target, same CSeq number)."""
        m = self._request("ACK", body, content_type, cseq=self.invite_cseq)
        self.ua.send(m)
        return m

    def bye(self, timeout=5):
        m = self._request("BYE")
        return self.ua.transaction(m, timeout=timeout)

    def request(self, method, body=b"", content_type=None, extra=(), timeout=5):
        m = self._request(method, body, content_type, extra=extra)
        return self.ua.transaction(m, timeout=timeout)


class SipUA:
    """One UDP socket on 127.0.0.1 acting as a SIP user agent."""

    def __init__(self, server, local_ip="127.0.0.1", port=0, user="tester"):
        self.server = tuple(server)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_ip, port))
        self.local_ip, self.port = self.sock.getsockname()
        self.user = user
        self.contact = f"sip:{user}@{self.local_ip}:{self.port}"
        self.aor = self.contact
        self.pending = []           # messages received but not consumed yet
        self.log = []               # (direction, SipMessage) for diagnostics
        self.auto_answer = {}       # method -> status for in-dialog requests seen while waiting

    def close(self):
        self.sock.close()

    def via(self, branch):
        return f"SIP/2.0/UDP {self.local_ip}:{self.port};rport;branch={branch}"

    def send(self, msg, dest=None):
        data = msg if isinstance(msg, bytes) else serialize(msg)
        self.log.append((">>", msg))
        self.sock.sendto(data, dest or self.server)

    def trace(self):
        out = []
        for d, m in self.log:
            text = m.decode("utf-8", "replace") if isinstance(m, bytes) else str(m)
            out.append(f"{d}\n{text}")
        return "\n".join(out)

    # -- receiving -----------------------------------------------------------------------
    def _recv_one(self, timeout):
        if timeout <= 0:
            return None
        self.sock.settimeout(timeout)
        try:
            data, addr = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        try:
            msg = parse(data)
        except ValueError:
            return None
        msg.source = addr
        self.log.append(("<<", msg))
        return msg

    def _take(self, pred):
        for i, m in enumerate(self.pending):
            if pred(m):
                return self.pending.pop(i)
        return None

    def wait(self, pred, timeout):
        """Next received message for which pred(msg) is true; others are kept in `pending`."""
        m = self._take(pred)
        if m is not None:
            return m
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            m = self._recv_one(left)
            if m is None:
                if time.time() >= deadline:
                    return None
                continue
            if pred(m):
                return m
            self._background(m)

    def _background(self, m):
        """A message nobody is waiting for: answer stray retransmissions, keep the rest."""
        if not m.is_request and m.status >= 200 and m.cseq[1] == "INVITE" and m.status < 300:
            # retransmitted 2xx: re-ACK is the caller's business; keep it out of the way
            return
        if not m.is_request and m.status >= 300 and m.cseq[1] == "INVITE":
            self._ack_non2xx_from_response(m)
            return
        self.pending.append(m)

    def wait_request(self, method, timeout=5):
        m = self.wait(lambda x: x.is_request and x.method == method, timeout)
        if m is None:
            raise SipTimeout(f"no {method} within {timeout}s\n{self.trace()}")
        return m

    def respond(self, req, status, reason=None, headers=(), body=b"", content_type=None,
                to_tag=None):
        m = SipMessage()
        m.status = status
        m.reason = reason or {100: "Trying", 180: "Ringing", 200: "OK", 202: "Accepted",
                              400: "Bad Request", 404: "Not Found", 481: "Call Does Not Exist",
                              486: "Busy Here", 488: "Not Acceptable Here",
                              500: "Server Internal Error"}.get(status, "Status")
        for v in req.get_all("Via"):
            if req.source and ";rport" in v and "rport=" not in v:
                v = v.replace(";rport", f";received={req.source[0]};rport={req.source[1]}", 1)
            m.headers.append(("Via", v))
        m.headers.append(("From", req.get("From")))
        to = req.get("To")
        if req.tag("To") is None and status > 100:
            to = f"{to};tag={to_tag or rand_token(8)}"
        m.headers.append(("To", to))
        m.headers.append(("Call-ID", req.get("Call-ID")))
        m.headers.append(("CSeq", req.get("CSeq")))
        for rr in req.get_all("Record-Route"):
            m.headers.append(("Record-Route", rr))
        m.headers.extend(headers)
        if body:
            m.headers.append(("Content-Type", content_type or "text/plain"))
            m.body = body if isinstance(body, bytes) else body.encode()
        self.send(m, req.source or self.server)
        return m

    # -- client transactions -----------------------------------------------------------------
    def transaction(self, req, timeout=5, on_provisional=None):
        """Send a non-INVITE or INVITE request with UDP retransmissions; return the final
        response (provisional ones go to on_provisional). Raises SipTimeout."""
        branch = re.search(r"branch=([^;\s]+)", req.get("Via")).group(1)
        method = req.method

        def mine(m):
            return (not m.is_request and m.branch() == branch and m.cseq[1] == method)

        data = serialize(req)
        self.send(req)
        deadline = time.time() + timeout
        interval = T1
        next_tx = time.time() + interval
        got_provisional = False
        while time.time() < deadline:
            wait_for = min(deadline, next_tx) - time.time()
            m = self.wait(mine, max(wait_for, 0.001))
            if m is None:
                if time.time() >= next_tx and time.time() < deadline:
                    # timer A (INVITE, stops after a provisional) / timer E (capped at T2)
                    if not (got_provisional and method == "INVITE"):
                        self.sock.sendto(data, self.server)
                    if method == "INVITE":
                        interval = interval * 2
                    else:
                        interval = 4.0 if got_provisional else min(interval * 2, 4.0)
                    next_tx = time.time() + interval
                continue
            if m.status < 200:
                got_provisional = True
                if on_provisional:
                    on_provisional(m)
                continue
            return m
        raise SipTimeout(f"no final response to {method} within {timeout}s\n{self.trace()}")

    def _ack_non2xx_from_response(self, resp, req_uri=None):
        m = SipMessage()
        m.method = "ACK"
        m.uri = req_uri or getattr(self, "_last_invite_uri", "sip:unknown@127.0.0.1")
        m.headers = [("Via", resp.get("Via")), ("Max-Forwards", "70"),
                     ("From", resp.get("From")), ("To", resp.get("To")),
                     ("Call-ID", resp.get("Call-ID")),
                     ("CSeq", f"{resp.cseq[0]} ACK")]
        self.send(m)

    def new_request(self, method, uri, to_uri=None, body=b"", content_type=None, extra=(),
                    call_id=None, from_uri=None, cseq=1):
        m = SipMessage()
        m.method = method
        m.uri = uri
        m.headers = [("Via", self.via(new_branch())), ("Max-Forwards", "70"),
                     ("From", f"<{from_uri or self.aor}>;tag={rand_token(8)}"),
                     ("To", f"<{to_uri or uri}>"),
                     ("Call-ID", call_id or f"{rand_token(16)}@{self.local_ip}"),
                     ("CSeq", f"{cseq} {method}"),
                     ("Contact", f"<{self.contact}>"),
                     ("User-Agent", "sylk-test-client")]
        m.headers.extend(extra)
        if body:
            m.headers.append(("Content-Type", content_type or "text/plain"))
            m.body = body if isinstance(body, bytes) else body.encode()
        return m

    def request(self, method, uri, body=b"", content_type=None, extra=(), timeout=5, **kw):
        """An out-of-dialog non-INVITE request; returns the final response."""
        return self.transaction(self.new_request(method, uri, body=body,
                                                 content_type=content_type, extra=extra, **kw),
                                timeout=timeout)

    def invite(self, uri, sdp=None, extra=(), timeout=10, from_uri=None):
        """Send an INVITE; returns a Dialog whose .response is the final response. Non-2xx
        finals are ACKed here; for a 2xx call dialog.ack(...) yourself."""
        req = self.new_request("INVITE", uri, body=sdp or b"",
                               content_type="application/sdp", extra=extra, from_uri=from_uri)
        self._last_invite_uri = uri
        d = Dialog(self, uri, req.get("Call-ID"), req.tag("From"), from_uri or self.aor, uri, 1)
        d.invite_cseq = 1
        d.invite_branch = req.branch()
        resp = self.transaction(req, timeout=timeout, on_provisional=d.provisional.append)
        d.response = resp
        d.remote_tag = resp.tag("To")
        if 200 <= resp.status < 300:
            d.remote_target = resp.contact_uri() or uri
            d.route_set = list(reversed(resp.get_all("Record-Route")))
        elif resp.status >= 300:
            self._ack_non2xx_from_response(resp, uri)
        return d


def sdp_offer(port, codecs=((0, "PCMU/8000"),), ip="127.0.0.1", dtmf=False, extra_lines=()):
    """A plain RTP/AVP audio offer."""
    pts = [str(pt) for pt, _ in codecs]
    if dtmf:
        pts.append("101")
    lines = ["v=0", f"o=tester {random.randint(1, 1 << 30)} 1 IN IP4 {ip}", "s=-",
             f"c=IN IP4 {ip}", "t=0 0", f"m=audio {port} RTP/AVP {' '.join(pts)}"]
    for pt, name in codecs:
        lines.append(f"a=rtpmap:{pt} {name}")
    if dtmf:
        lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"]
    lines += list(extra_lines)
    lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode()


def parse_sdp(body):
    """Minimal SDP reading: {'c': ip, 'media': [{'type','port','proto','fmts','rtpmap':{pt:name},
    'attrs': [...]}]}."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    out = {"c": None, "media": [], "attrs": []}
    cur = None
    for line in body.replace("\r\n", "\n").split("\n"):
        if len(line) < 2 or line[1] != "=":
            continue
        k, v = line[0], line[2:].strip()
        if k == "c":
            ip = v.split()[-1]
            if cur is None:
                out["c"] = ip
            else:
                cur["c"] = ip
        elif k == "m":
            parts = v.split()
            cur = {"type": parts[0], "port": int(parts[1]), "proto": parts[2],
                   "fmts": parts[3:], "rtpmap": {}, "attrs": [], "c": None}
            out["media"].append(cur)
        elif k == "a":
            (cur["attrs"] if cur else out["attrs"]).append(v)
            if cur is not None and v.startswith("rtpmap:"):
                pt, name = v[len("rtpmap:"):].split(None, 1)
                cur["rtpmap"][pt] = name
    for m in out["media"]:
        if m["c"] is None:
            m["c"] = out["c"]
    return out


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="send one SIP request over UDP and print the reply")
    ap.add_argument("method")
    ap.add_argument("uri")
    ap.add_argument("--server", default="127.0.0.1:5060")
    ap.add_argument("--body", default="")
    ap.add_argument("--content-type", default="text/plain")
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    ua = SipUA((host, int(port)))
    try:
        if a.method == "INVITE":
            d = ua.invite(a.uri, sdp_offer(40000))
            print(d.response)
            if d.response.status < 300:
                d.ack()
                print(d.bye())
        else:
            print(ua.request(a.method, a.uri, body=a.body, content_type=a.content_type))
    finally:
        ua.close()
