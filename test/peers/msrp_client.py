#!/usr/bin/env python3
"""An MSRP endpoint for tests (RFC 4975, RFC 4976 AUTH, RFC 6135 active connect), standard
library only (ssl for msrps).

Written from the RFCs; the server's own code is not used. One background I/O thread per
connection owns the socket (plain or TLS): it reads and parses frames, answers SENDs with 200
(auto_respond), reassembles chunked messages by Message-ID and Byte-Range, sends a REPORT when a
message asked for Success-Report: yes (auto_report), and writes whatever the caller queued.
The caller's methods block with timeouts and are meant for pytest:

    c = MsrpClient(tls=True)                       # binds 127.0.0.1:<port>, c.local_uri is known
    offer = msrp_sdp_offer("127.0.0.1", c.local_port, c.local_uri, tls=True)
    ... INVITE with offer, 200 OK answer ...
    c.connect(answer_path(answer_sdp))            # active connect to the first a=path hop
    r = c.send_message("hello")                    # waits for the 200 of every chunk
    assert r.ok
    m = c.receive_message(timeout=5)              # reassembled, already answered with 200
    c.close()

`MsrpClient.connect(path, tls=True, local_uri=None)` also works as a one-line constructor.
Run `python3 msrp_client.py --selftest` for the self-test (an echo server inside this file).
"""
import collections
import datetime
import hashlib
import os
import random
import re
import select
import shutil
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time

try:                                    # our SIP UA's SDP reader (same directory)
    from sip_client import parse_sdp
except ImportError:                     # pragma: no cover - imported from elsewhere
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sip_client import parse_sdp

CRLF = b"\r\n"
ALNUM = string.ascii_letters + string.digits
_rng = random.SystemRandom()
FLAGS = "+$#"
DEFAULT_PORT = 2855
# RFC 4975 transact-id = ident = ALPHANUM 3*31ident-char
_TID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}$")
_FIRST_RE = re.compile(r"^MSRP (\S+) (?:([A-Z]+)|([0-9]{3})(?: (.*))?)$")


def rand_id(n=12):
    return "".join(_rng.choice(ALNUM) for _ in range(n))


class MsrpError(Exception):
    pass


class MsrpTimeout(AssertionError):
    pass


class MsrpParseError(ValueError):
    pass


# ---------------------------------------------------------------------------------------------
# Headers, frames, parser
# ---------------------------------------------------------------------------------------------
class Headers:
    """Ordered, case-insensitive header map (name -> value), as MSRP header names are."""

    def __init__(self, items=()):
        self._items = []
        for n, v in (items.items() if hasattr(items, "items") else items):
            self.add(n, v)

    def add(self, name, value):
        self._items.append((str(name), str(value)))

    def get(self, name, default=None):
        low = name.lower()
        for n, v in self._items:
            if n.lower() == low:
                return v
        return default

    def get_all(self, name):
        low = name.lower()
        return [v for n, v in self._items if n.lower() == low]

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __setitem__(self, name, value):
        low = name.lower()
        for i, (n, _) in enumerate(self._items):
            if n.lower() == low:
                self._items[i] = (n, str(value))
                self._items = [x for j, x in enumerate(self._items)
                               if j <= i or x[0].lower() != low]
                return
        self.add(name, value)

    def __delitem__(self, name):
        low = name.lower()
        if name not in self:
            raise KeyError(name)
        self._items = [x for x in self._items if x[0].lower() != low]

    def __contains__(self, name):
        return self.get(name) is not None

    def __iter__(self):
        return iter([n for n, _ in self._items])

    def __len__(self):
        return len(self._items)

    def items(self):
        return list(self._items)

    def keys(self):
        return [n for n, _ in self._items]

    def values(self):
        return [v for _, v in self._items]

    def __eq__(self, other):
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self):
        return f"Headers({self._items!r})"


class MsrpFrame:
    """One MSRP request or response. `headers` is a Headers (case-insensitive, ordered);
    `body` is bytes or None (no content-stuff); `flag` is '$', '+' or '#'."""

    def __init__(self, transaction_id, method=None, status=None, comment=None, headers=(),
                 body=None, flag="$"):
        self.transaction_id = transaction_id
        self.method = method
        self.status = status
        self.comment = comment
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        self.flag = flag
        self.raw = None          # the bytes as received (parsed frames only)
        self.received_at = None

    # -- accessors -----------------------------------------------------------------------
    @property
    def is_request(self):
        return self.method is not None

    @property
    def is_response(self):
        return self.status is not None

    @property
    def to_path(self):
        return self.headers.get("To-Path", "").split()

    @property
    def from_path(self):
        return self.headers.get("From-Path", "").split()

    @property
    def message_id(self):
        return self.headers.get("Message-ID")

    @property
    def content_type(self):
        return self.headers.get("Content-Type")

    @property
    def byte_range(self):
        """(start, end or None for '*', total or None for '*'), or None without Byte-Range."""
        v = self.headers.get("Byte-Range")
        if v is None:
            return None
        m = re.match(r"^\s*(\d+)-(\d+|\*)/(\d+|\*)\s*$", v)
        if not m:
            raise MsrpParseError(f"bad Byte-Range {v!r}")
        end = None if m.group(2) == "*" else int(m.group(2))
        total = None if m.group(3) == "*" else int(m.group(3))
        return int(m.group(1)), end, total

    @property
    def report_status(self):
        """REPORT 'Status: 000 200 OK' -> (namespace, code, comment) or None."""
        v = self.headers.get("Status")
        if v is None:
            return None
        parts = v.strip().split(" ", 2)
        return parts[0], int(parts[1]), (parts[2] if len(parts) > 2 else "")

    @property
    def text(self):
        return (self.body or b"").decode("utf-8", "replace")

    # -- writing -------------------------------------------------------------------------
    def serialize(self):
        """RFC 4975 §7.1: start line, headers (Content-Type last, then a blank line, the
        content and CRLF), end-line '-------' transact-id flag CRLF."""
        if self.is_request:
            first = f"MSRP {self.transaction_id} {self.method}"
        else:
            first = f"MSRP {self.transaction_id} {int(self.status):03d}"
            if self.comment:
                first += f" {self.comment}"
        lines = [first]
        ctype = None
        for n, v in self.headers.items():
            if n.lower() == "content-type":
                ctype = v
                continue
            lines.append(f"{n}: {v}")
        out = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        if ctype is not None:
            out += f"Content-Type: {ctype}\r\n".encode("utf-8")
            if self.body is not None:
                out += CRLF + bytes(self.body) + CRLF
        elif self.body is not None:          # malformed on purpose: body without Content-Type
            out += CRLF + bytes(self.body) + CRLF
        out += f"-------{self.transaction_id}{self.flag}\r\n".encode("ascii")
        return out

    def __bytes__(self):
        return self.serialize()

    def summary(self):
        if self.is_request:
            head = f"MSRP {self.transaction_id} {self.method}"
        else:
            head = f"MSRP {self.transaction_id} {self.status} {self.comment or ''}".rstrip()
        hdrs = "".join(f"\n  {n}: {v}" for n, v in self.headers.items())
        body = "" if self.body is None else f"\n  <{len(self.body)} bytes>"
        return f"{head}{hdrs}{body}\n  -------{self.transaction_id}{self.flag}"

    def __repr__(self):
        what = self.method if self.is_request else f"{self.status} {self.comment or ''}".strip()
        size = "" if self.body is None else f" {len(self.body)}B"
        return f"<MsrpFrame {self.transaction_id} {what}{size} {self.flag}>"


def make_request(method, to_path, from_path, headers=(), body=None, content_type=None,
                 flag="$", transaction_id=None):
    """A request frame with To-Path and From-Path first (RFC 4975 requires that order)."""
    h = Headers()
    h.add("To-Path", " ".join(to_path) if not isinstance(to_path, str) else to_path)
    h.add("From-Path", " ".join(from_path) if not isinstance(from_path, str) else from_path)
    for n, v in (headers.items() if hasattr(headers, "items") else headers):
        h.add(n, v)
    if content_type is not None:
        h.add("Content-Type", content_type)
    if isinstance(body, str):
        body = body.encode("utf-8")
    tid = transaction_id or rand_id(12)
    if body is not None:
        while (b"-------" + tid.encode()) in body:   # the end-line must not occur in the data
            tid = rand_id(12)
    return MsrpFrame(tid, method=method, headers=h, body=body, flag=flag)


class FrameParser:
    """Incremental MSRP frame reader: feed() bytes as they arrive (any split, several frames
    per read), get complete MsrpFrame objects back. Raises MsrpParseError on garbage."""

    MAX_HEAD = 64 * 1024

    def __init__(self, strict_tid=True):
        self.buf = bytearray()
        self.strict_tid = strict_tid
        self._reset()

    def _reset(self):
        self.frame = None        # set once the head is parsed and content follows
        self.body_start = 0
        self.scan = 0
        self.marker = None

    def feed(self, data):
        self.buf += data
        frames = []
        while True:
            f = self._one()
            if f is None:
                return frames
            frames.append(f)

    def pending(self):
        return len(self.buf)

    def _one(self):
        buf = self.buf
        if self.frame is None:
            if len(buf) >= 5 and buf[:5] != b"MSRP ":
                raise MsrpParseError(f"frame does not start with 'MSRP ': {bytes(buf[:40])!r}")
            nl = buf.find(CRLF)
            if nl < 0:
                if len(buf) > self.MAX_HEAD:
                    raise MsrpParseError("start line too long")
                return None
            first = bytes(buf[:nl]).decode("utf-8", "replace")
            m = _FIRST_RE.match(first)
            if not m:
                raise MsrpParseError(f"bad start line {first!r}")
            tid = m.group(1)
            if self.strict_tid and not _TID_RE.match(tid):
                raise MsrpParseError(f"bad transaction id {tid!r}")
            endline = f"-------{tid}".encode()
            pos = nl + 2
            headers = Headers()
            while True:
                e = buf.find(CRLF, pos)
                if e < 0:
                    if len(buf) > self.MAX_HEAD:
                        raise MsrpParseError("header section too long")
                    return None
                line = bytes(buf[pos:e])
                if line.startswith(b"-------"):
                    if (len(line) == len(endline) + 1 and line.startswith(endline)
                            and chr(line[-1]) in FLAGS):
                        f = self._make(m, headers, None, chr(line[-1]))
                        f.raw = bytes(buf[:e + 2])
                        del buf[:e + 2]
                        return f
                    raise MsrpParseError(f"bad end-line {line!r} for transaction {tid!r}")
                if line == b"":
                    self.frame = self._make(m, headers, None, None)
                    self.body_start = e + 2
                    self.scan = self.body_start
                    self.marker = b"\r\n" + endline
                    break
                name, sep, value = line.decode("utf-8", "replace").partition(":")
                if not sep or not name or name != name.strip():
                    raise MsrpParseError(f"bad header line {line!r}")
                headers.add(name, value.strip())
                pos = e + 2
        # content: up to CRLF end-line
        marker = self.marker
        while True:
            i = buf.find(marker, self.scan)
            if i < 0:
                self.scan = max(self.body_start, len(buf) - len(marker) + 1)
                return None
            j = i + len(marker)
            if len(buf) < j + 3:
                self.scan = i
                return None
            if chr(buf[j]) in FLAGS and buf[j + 1:j + 3] == CRLF:
                f = self.frame
                f.body = bytes(buf[self.body_start:i])
                f.flag = chr(buf[j])
                f.raw = bytes(buf[:j + 3])
                del buf[:j + 3]
                self._reset()
                return f
            self.scan = i + 1

    @staticmethod
    def _make(m, headers, body, flag):
        if m.group(2):
            f = MsrpFrame(m.group(1), method=m.group(2), headers=headers, body=body, flag=flag)
        else:
            f = MsrpFrame(m.group(1), status=int(m.group(3)), comment=m.group(4) or "",
                          headers=headers, body=body, flag=flag)
        f.received_at = time.time()
        return f


def parse_frames(data, strict_tid=True):
    """bytes holding whole frames -> [MsrpFrame]; raises if bytes are left over."""
    p = FrameParser(strict_tid)
    frames = p.feed(data)
    if p.pending():
        raise MsrpParseError(f"{p.pending()} bytes left after the last complete frame")
    return frames


# ---------------------------------------------------------------------------------------------
# URIs and paths
# ---------------------------------------------------------------------------------------------
MsrpUri = collections.namedtuple("MsrpUri", "scheme user host port session_id transport params")


def parse_msrp_uri(uri):
    """msrp[s]://[user@]host[:port][/session-id];transport[;params] -> MsrpUri."""
    m = re.match(r"^(msrps?)://(?:([^@/]*)@)?(\[[^\]]+\]|[^:/;]+)(?::(\d+))?"
                 r"(?:/([^;]*))?;([^;]+)((?:;.*)?)$", uri.strip(), re.I)
    if not m:
        raise ValueError(f"not an MSRP URI: {uri!r}")
    host = m.group(3).strip("[]")
    return MsrpUri(m.group(1).lower(), m.group(2), host,
                   int(m.group(4)) if m.group(4) else DEFAULT_PORT, m.group(5),
                   m.group(6).lower(), m.group(7).lstrip(";"))


def parse_path(path):
    """'uri uri' or [uri, ...] -> [uri, ...]."""
    if isinstance(path, str):
        return path.split()
    out = []
    for p in path:
        out.extend(p.split())
    return out


# ---------------------------------------------------------------------------------------------
# Messages (reassembled)
# ---------------------------------------------------------------------------------------------
class MsrpMessage:
    """A message reassembled from its SEND chunks."""

    def __init__(self, message_id, frames, body, aborted):
        self.message_id = message_id
        self.frames = frames
        self.body = body
        self.aborted = aborted
        self.complete = not aborted
        first = frames[0]
        self.headers = first.headers
        self.content_type = next((f.content_type for f in frames if f.content_type), None)
        self.from_path = first.from_path
        self.to_path = first.to_path
        self.success_report = (first.headers.get("Success-Report") or "no").lower()
        self.failure_report = (first.headers.get("Failure-Report") or "yes").lower()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def sha1(self):
        return hashlib.sha1(self.body).hexdigest()

    def cpim(self):
        return cpim_parse(self.body)

    def __repr__(self):
        state = "aborted" if self.aborted else "complete"
        return (f"<MsrpMessage {self.message_id} {self.content_type} {len(self.body)}B "
                f"{len(self.frames)} chunks {state}>")


class _Assembly:
    def __init__(self):
        self.frames = []
        self.buf = bytearray()
        self.ranges = []
        self.total = None
        self.last_end = None

    def covered(self):
        end = 0
        for s, e in sorted(self.ranges):
            if s > end:
                break
            end = max(end, e)
        return end


class SendResult:
    """What send_message/send_chunks did: ids of the chunks sent and the responses seen."""

    def __init__(self, message_id):
        self.message_id = message_id
        self.transaction_ids = []
        self.frames = []            # the SEND frames sent
        self.responses = {}         # transaction id -> response frame
        self.elapsed = 0.0

    @property
    def statuses(self):
        return [self.responses[t].status if t in self.responses else None
                for t in self.transaction_ids]

    @property
    def ok(self):
        return bool(self.transaction_ids) and all(s == 200 for s in self.statuses)

    def __repr__(self):
        return (f"<SendResult {self.message_id} chunks={len(self.transaction_ids)} "
                f"statuses={sorted(set(map(str, self.statuses)))} {self.elapsed:.3f}s>")


# ---------------------------------------------------------------------------------------------
# Connection: one socket, one I/O thread
# ---------------------------------------------------------------------------------------------
class MsrpConnection:
    """An MSRP connection over a connected socket (plain or ssl.SSLSocket).

    auto_respond: answer incoming SENDs with 200 (per Failure-Report) and unknown methods
    with 501. auto_report: send a REPORT when a complete message asked for Success-Report:
    yes. on_message(conn, msg) / on_frame(conn, frame) run in the I/O thread.
    on_nickname(conn, frame, nickname) answers a NICKNAME (RFC 7701) with the status it
    returns; its Use-Nickname is handed over unquoted (None when missing). Without it a
    NICKNAME gets 501 like any unknown method."""

    def __init__(self, sock=None, local_uri=None, auto_respond=True, auto_report=True,
                 name="msrp", max_log=100000, on_message=None, on_frame=None, on_nickname=None):
        self.name = name
        self.sock = None
        self.local_uri = local_uri
        self.to_path = []
        self.auto_respond = auto_respond
        self.auto_report = auto_report
        self.on_message = on_message   # set before the I/O thread starts: no frame is missed
        self.on_frame = on_frame
        self.on_nickname = on_nickname
        self.parser = FrameParser()
        self.log = collections.deque(maxlen=max_log)   # (time, '<<' | '>>', frame or bytes)
        self.messages_received = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.error = None           # what stopped the I/O thread (parse error, socket error)
        self.peer_closed = False    # EOF or reset seen
        self.peer_reset = False     # ECONNRESET seen
        self.paused = False         # pause_reading(): the socket is not read
        self._cond = threading.Condition(threading.RLock())
        self._inbox = []            # frames nobody claimed yet
        self._messages = []         # complete messages nobody claimed yet
        self._assembly = {}
        self._done = collections.OrderedDict()   # Message-IDs delivered (duplicates dropped)
        self.duplicates = 0         # chunks of messages already delivered, answered and dropped
        self._out = bytearray()
        self._wpending = None
        self._closing = False
        self._abort = False
        self._dead = False
        self._thread = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        if sock is not None:
            self._attach(sock)

    # -- plumbing ------------------------------------------------------------------------
    def _attach(self, sock):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.sock = sock
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-io", daemon=True)
        self._thread.start()

    @property
    def connected(self):
        return self.sock is not None and not self._dead

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass

    def _run(self):
        try:
            while True:
                with self._cond:
                    want_write = bool(self._out) or self._wpending is not None
                    if self._closing and (self._abort or not want_write):
                        break
                wl = [self.sock] if want_write else []
                rl = [self._wake_r] if self.paused else [self.sock, self._wake_r]
                r, w, _ = select.select(rl, wl, [], 0.5)
                if self._wake_r in r:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                if self.sock in r and not self._read():
                    break
                if w or (want_write and self.sock in r):
                    self._write()
        except Exception as e:   # noqa: BLE001 - recorded for the test to see
            if self.error is None:
                self.error = e
        finally:
            with self._cond:
                self._dead = True
                self._cond.notify_all()

    def _read(self):
        while not self.paused:
            try:
                data = self.sock.recv(256 * 1024)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return True
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b""
            except ConnectionResetError:
                self.peer_closed = self.peer_reset = True
                return False
            if not data:
                self.peer_closed = True
                # TLS reports a RST as EOF: tell them apart by the TCP state (CLOSE after a
                # RST, CLOSE_WAIT after a FIN)
                self.peer_reset = _tcp_state(self.sock) == 7
                return False
            self.bytes_received += len(data)
            try:
                frames = self.parser.feed(data)
            except MsrpParseError as e:
                self.error = e
                return False
            for f in frames:
                self._dispatch(f)
        return True

    def pause_reading(self):
        """Stop reading the socket (what the peer sends piles up in its buffers and the
        peer's), e.g. from on_frame; frames already read are still dispatched."""
        self.paused = True

    def resume_reading(self):
        self.paused = False
        self._wake()

    def _write(self):
        while True:
            if self._wpending is None:
                with self._cond:
                    if not self._out:
                        self._cond.notify_all()
                        return
                    n = min(len(self._out), 256 * 1024)
                    self._wpending = bytes(self._out[:n])
                    del self._out[:n]
            try:
                n = self.sock.send(self._wpending)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return
            self.bytes_sent += n
            if n < len(self._wpending):
                self._wpending = self._wpending[n:]
            else:
                self._wpending = None

    def _queue(self, data, frame=None):
        with self._cond:
            own = threading.current_thread() is self._thread   # auto replies while closing
            if self._dead or (self._closing and not own):
                why = self.error or ("peer closed" if self.peer_closed else "closed")
                raise MsrpError(f"{self.name}: connection is closed ({why})")
            self._out += data
            self.log.append((time.time(), ">>", frame if frame is not None else bytes(data)))
        self._wake()

    def _dispatch(self, f):
        self.log.append((time.time(), "<<", f))
        if f.is_request:
            if f.method == "SEND":
                if self.auto_respond and wants_response(f, 200):
                    self.respond(f, 200, "OK")
                self._assemble(f)
            elif f.method == "NICKNAME" and self.on_nickname:
                status = self.on_nickname(self, f, unquote_nickname(f.headers.get("Use-Nickname")))
                self.respond(f, status, "OK" if status == 200 else "Nickname Usage Failed")
            elif f.method != "REPORT" and self.auto_respond and wants_response(f, 501):
                self.respond(f, 501, "Method not understood")
        if self.on_frame:
            self.on_frame(self, f)
        with self._cond:
            self._inbox.append(f)
            self._cond.notify_all()

    def _assemble(self, f):
        mid = f.message_id
        if not mid:
            return
        if f.body is None and f.content_type is None and mid not in self._assembly \
                and f.flag == "$":
            return                      # an empty SEND (connection binding / keepalive)
        if mid in self._done and mid not in self._assembly:
            # RFC 4975 5.4: a message resent after a reconnect keeps its Message-ID; the
            # receiver takes a second one as a duplicate (already answered above).
            self.duplicates += 1
            return
        a = self._assembly.setdefault(mid, _Assembly())
        a.frames.append(f)
        try:
            br = f.byte_range or (1, None, None)
        except MsrpParseError:
            br = (1, None, None)
        data = f.body or b""
        off = br[0] - 1
        if len(a.buf) < off:
            a.buf.extend(b"\0" * (off - len(a.buf)))
        a.buf[off:off + len(data)] = data
        a.ranges.append((off, off + len(data)))
        if br[2] is not None:
            a.total = br[2]
        if f.flag == "$":
            a.last_end = off + len(data)
        if f.flag == "#":
            self._finish(mid, a, aborted=True, length=a.covered())
        elif a.last_end is not None:
            expected = a.total if a.total is not None else a.last_end
            if a.covered() >= expected:
                self._finish(mid, a, aborted=False, length=expected)

    def _finish(self, mid, a, aborted, length):
        del self._assembly[mid]
        if not aborted:
            self._done[mid] = True
            while len(self._done) > 10000:
                self._done.popitem(last=False)
        msg = MsrpMessage(mid, a.frames, bytes(a.buf[:length]), aborted)
        self.messages_received += 1
        if not aborted and self.auto_report and msg.success_report == "yes":
            self.send_report(msg)
        with self._cond:
            self._messages.append(msg)
            self._cond.notify_all()
        if self.on_message:
            self.on_message(self, msg)

    def _wait(self, store, pred, timeout):
        deadline = time.time() + timeout
        with self._cond:
            while True:
                for i, x in enumerate(store):
                    if pred(x):
                        return store.pop(i)
                left = deadline - time.time()
                if left <= 0 or self._dead:
                    return None
                self._cond.wait(min(left, 0.5))

    def trace(self, last=40):
        out = []
        for t, d, x in list(self.log)[-last:]:
            text = x.summary() if isinstance(x, MsrpFrame) else repr(bytes(x)[:300])
            out.append(f"{t:.3f} {d} {text}")
        state = (f"[{self.name}: error={self.error!r} peer_closed={self.peer_closed} "
                 f"unclaimed_frames={len(self._inbox)} unclaimed_messages={len(self._messages)}]")
        return "\n".join(out + [state])

    # -- receiving -----------------------------------------------------------------------
    def next_frame(self, timeout=5, match=None, method=None, status=None, transaction_id=None):
        """The oldest received frame not yet claimed (requests and responses), optionally
        the first one matching; None on timeout."""
        def pred(f):
            if method is not None and f.method != method:
                return False
            if status is not None and f.status != status:
                return False
            if transaction_id is not None and f.transaction_id != transaction_id:
                return False
            return match(f) if match else True
        return self._wait(self._inbox, pred, timeout)

    def pending_frames(self):
        with self._cond:
            return list(self._inbox)

    def clear_frames(self):
        with self._cond:
            self._inbox.clear()

    def wait_response(self, transaction_id, timeout=10):
        f = self._wait(self._inbox, lambda x: x.is_response
                       and x.transaction_id == transaction_id, timeout)
        if f is None:
            raise MsrpTimeout(f"{self.name}: no response to {transaction_id} within "
                              f"{timeout}s\n{self.trace()}")
        return f

    def receive_message(self, timeout=5, include_aborted=False, match=None):
        """The next complete message (chunks reassembled by Message-ID/Byte-Range; each SEND
        was answered with 200 by the I/O thread, REPORT sent if asked). Aborted ('#')
        messages are returned only with include_aborted=True. Raises MsrpTimeout."""
        def pred(m):
            return (include_aborted or not m.aborted) and (match is None or match(m))
        m = self._wait(self._messages, pred, timeout)
        if m is None:
            raise MsrpTimeout(f"{self.name}: no message within {timeout}s\n{self.trace()}")
        ids = {id(f) for f in m.frames}
        with self._cond:
            self._inbox = [f for f in self._inbox if id(f) not in ids]
        return m

    def expect_report(self, message_id=None, timeout=5, status=None):
        """The next REPORT (for message_id if given); checks the Status code if given."""
        f = self._wait(self._inbox, lambda x: x.method == "REPORT" and
                       (message_id is None or x.message_id == message_id), timeout)
        if f is None:
            raise MsrpTimeout(f"{self.name}: no REPORT for {message_id} within {timeout}s\n"
                              f"{self.trace()}")
        if status is not None:
            got = f.report_status
            assert got and got[1] == status, f"REPORT status {got} != {status}\n{f.summary()}"
        return f

    def wait_closed(self, timeout=5):
        """True once the peer closed or reset the connection (or the I/O thread stopped)."""
        deadline = time.time() + timeout
        with self._cond:
            while not self._dead:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    # -- sending -------------------------------------------------------------------------
    def send_frame(self, frame):
        self._queue(frame.serialize(), frame)
        return frame

    def send_raw(self, data, flush=True, timeout=5):
        """Write bytes as they are (partial frames, garbage, several frames at once)."""
        self._queue(bytes(data))
        if flush:
            self.flush(timeout)

    def flush(self, timeout=10):
        """Wait until everything queued has been handed to the kernel."""
        deadline = time.time() + timeout
        with self._cond:
            while self._out or self._wpending is not None:
                left = deadline - time.time()
                if left <= 0 or self._dead:
                    raise MsrpTimeout(f"{self.name}: could not flush {len(self._out)} bytes")
                self._cond.wait(min(left, 0.2))

    def respond(self, request, status=200, comment="OK", extra_headers=()):
        """A transaction response (hop by hop: To-Path is the previous hop)."""
        f = MsrpFrame(request.transaction_id, status=status, comment=comment, flag="$")
        f.headers.add("To-Path", request.from_path[0] if request.from_path else "")
        f.headers.add("From-Path", (request.to_path[:1] or [self.local_uri or ""])[0])
        for n, v in extra_headers:
            f.headers.add(n, v)
        return self.send_frame(f)

    def send_report(self, message, status=200, comment="OK", byte_range=None,
                    namespace="000"):
        """A REPORT for a received MsrpMessage (or its first SEND frame): To-Path is the
        message's whole From-Path, From-Path our URI."""
        first = message.frames[0] if isinstance(message, MsrpMessage) else message
        size = len(message.body) if isinstance(message, MsrpMessage) else len(first.body or b"")
        if byte_range is None:
            byte_range = f"1-{size}/{size}"
        me = self.local_uri or (first.to_path[-1:] or [""])[0]
        f = make_request("REPORT", first.from_path, [me],
                         [("Message-ID", first.message_id), ("Byte-Range", byte_range),
                          ("Status", f"{namespace} {status} {comment}")])
        return self.send_frame(f)

    def send_message(self, body, content_type="text/plain", message_id=None, chunk_size=None,
                     success_report=None, failure_report=None, byte_range_total=True,
                     extra_headers=(), wait="each", timeout=10, to_path=None):
        """Send one message, split into chunk_size pieces ('+' ... '$'). wait='each': wait for
        the 200 of every chunk before the next (stops at the first non-200); 'all': send
        everything, then wait for all responses; None: don't wait. Returns a SendResult."""
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if chunk_size and len(data) > chunk_size:
            chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
        else:
            chunks = [data]
        return self.send_chunks(chunks, content_type, message_id, None, None, success_report,
                                failure_report, byte_range_total, extra_headers, wait,
                                timeout, to_path)

    def send_chunks(self, chunks, content_type="text/plain", message_id=None, flags=None,
                    total=None, success_report=None, failure_report=None,
                    byte_range_total=True, extra_headers=(), wait="each", timeout=10,
                    to_path=None, end_star=False, byte_ranges=None):
        """Explicit chunking: chunks is a list of bytes, flags a list of '+', '$', '#' (default
        '+' ... '$'; '#' aborts the message). Byte-Range start-end/total follows the offsets
        (total=None: the sum, or '*' when byte_range_total is False; end_star: end '*');
        byte_ranges overrides the Byte-Range values verbatim."""
        to_path = parse_path(to_path) if to_path is not None else self.to_path
        if not to_path:
            raise MsrpError("no To-Path: connect(path) first or pass to_path")
        chunks = [c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in chunks]
        flags = list(flags) if flags else ["+"] * (len(chunks) - 1) + ["$"]
        assert len(flags) == len(chunks), "one flag per chunk"
        if total is None:
            total = sum(len(c) for c in chunks) if byte_range_total else "*"
        if failure_report in ("no", "partial"):
            wait = None
        res = SendResult(message_id or rand_id(16))
        t0 = time.time()
        off = 0
        for i, (data, flag) in enumerate(zip(chunks, flags)):
            hdrs = [("Message-ID", res.message_id)]
            if byte_ranges is not None:
                hdrs.append(("Byte-Range", byte_ranges[i]))
            else:
                end = "*" if end_star else off + len(data)
                hdrs.append(("Byte-Range", f"{off + 1}-{end}/{total}"))
            if success_report is not None:
                hdrs.append(("Success-Report", success_report))
            if failure_report is not None:
                hdrs.append(("Failure-Report", failure_report))
            hdrs.extend(extra_headers)
            has_content = bool(data) or (len(chunks) == 1 and content_type is not None)
            f = make_request("SEND", to_path, [self.local_uri], hdrs,
                             body=data if has_content else None,
                             content_type=content_type if has_content else None, flag=flag)
            self.send_frame(f)
            res.transaction_ids.append(f.transaction_id)
            res.frames.append(f)
            off += len(data)
            if wait == "each":
                r = self.wait_response(f.transaction_id, timeout)
                res.responses[f.transaction_id] = r
                if r.status != 200:
                    break
        if wait == "all":
            deadline = time.time() + timeout * max(1, len(chunks) // 100)
            for tid in res.transaction_ids:
                res.responses[tid] = self.wait_response(tid, max(0.1, deadline - time.time()))
        res.elapsed = time.time() - t0
        return res

    def send_empty(self, to_path=None):
        """An empty SEND (no body, no Content-Type): binds the connection (RFC 4975 §5.4)."""
        f = make_request("SEND", parse_path(to_path) if to_path else self.to_path,
                         [self.local_uri], [("Message-ID", rand_id(16)), ("Byte-Range", "1-0/0")])
        return self.send_frame(f)

    # -- closing -------------------------------------------------------------------------
    def _stop_thread(self, abort, timeout):
        with self._cond:
            self._closing = True
            self._abort = abort
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self, timeout=3):
        """Flush what is queued (up to timeout), then close the socket."""
        self._stop_thread(False, timeout)
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        for s in (self._wake_r, self._wake_w):
            s.close()

    def reset(self):
        """Abort the TCP connection: SO_LINGER 0 then close, so the peer gets a RST."""
        self._stop_thread(True, 2)
        if self.sock is not None:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.sock.close()
        for s in (self._wake_r, self._wake_w):
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def unquote_nickname(value):
    """A Use-Nickname value (RFC 7701: a quoted-string, RFC 4975's escapes) unquoted; an
    unquoted value as it is; None stays None."""
    if value is None or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    out, i, inner = [], 0, value[1:-1]
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            i += 1
        out.append(inner[i])
        i += 1
    return "".join(out)


def _tcp_state(sock):
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except (OSError, AttributeError):
        return None


def wants_response(request, status):
    """RFC 4975 §7.2: Failure-Report 'no' -> never; 'partial' -> only error responses."""
    fr = (request.headers.get("Failure-Report") or "yes").strip().lower()
    if fr == "no":
        return False
    if fr == "partial":
        return status >= 300
    return True


# ---------------------------------------------------------------------------------------------
# The client: bind first (so the URI can go into the SDP offer), then connect actively
# ---------------------------------------------------------------------------------------------
class _ConnectDescriptor:
    """MsrpClient.connect(path, tls=True, local_uri=None, ...) builds and connects a client;
    client.connect(path) connects an existing one."""

    def __get__(self, obj, cls):
        if obj is None:
            def make(path, tls=True, local_uri=None, timeout=5, **kw):
                return cls(tls=tls, local_uri=local_uri, **kw)._connect(path, timeout)
            return make
        return obj._connect


def client_ssl_context(certfile=None, keyfile=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE            # loopback tests with self-signed certificates
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


class MsrpClient(MsrpConnection):
    """An MSRP endpoint that connects actively (a=setup:active). The local TCP port is bound
    at construction so local_uri (our From-Path and a=path) exists before the SDP offer."""

    connect = _ConnectDescriptor()

    def __init__(self, tls=True, local_uri=None, local_ip="127.0.0.1", certfile=None,
                 keyfile=None, **kw):
        super().__init__(**kw)
        self.tls = tls
        self.certfile, self.keyfile = certfile, keyfile
        self._sock0 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock0.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock0.bind((local_ip, 0))
        self.local_ip, self.local_port = self._sock0.getsockname()[:2]
        self.session_id = rand_id(20)
        self.local_uri = local_uri or (f"{'msrps' if tls else 'msrp'}://{self.local_ip}:"
                                       f"{self.local_port}/{self.session_id};tcp")
        self.use_path = []          # from a relay's AUTH 200 (RFC 4976)
        self.peer_path = []         # the peer's a=path
        self.auth_response = None

    @property
    def sdp_path(self):
        """What goes into our a=path: the relays' Use-Path, then our URI."""
        return self.use_path + [self.local_uri]

    def _open(self, uri, timeout, source_ip=None):
        u = parse_msrp_uri(uri)
        s, self._sock0 = self._sock0, None
        if s is None:                   # a reconnect: a new socket from a new local port
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((source_ip or self.local_ip, 0))
        s.settimeout(timeout)
        s.connect((u.host, u.port))
        if self.tls:
            s = client_ssl_context(self.certfile, self.keyfile).wrap_socket(s)
        s.settimeout(None)
        self._attach(s)

    def _connect(self, path, timeout=5):
        """Connect to the first hop of (use_path + path) unless already connected (e.g. to a
        relay we AUTHed with); sets to_path."""
        self.peer_path = parse_path(path)
        self.to_path = self.use_path + self.peer_path
        if self.sock is None:
            self._open(self.to_path[0], timeout)
        return self

    def auth(self, relay_uri, expires=None, credentials=None, timeout=5):
        """RFC 4976 §5: AUTH to the relay (connecting to it if needed), Digest with
        credentials=(user, password) after a 401. On 200 sets use_path from Use-Path.
        Returns the final response frame."""
        if self.sock is None:
            self._open(relay_uri, timeout)
        hdrs = [("Expires", str(expires))] if expires is not None else []
        f = make_request("AUTH", [relay_uri], [self.local_uri], hdrs)
        self.send_frame(f)
        r = self.wait_response(f.transaction_id, timeout)
        if r.status == 401 and credentials:
            auth = digest_authorization(r.headers.get("WWW-Authenticate", ""), credentials,
                                        relay_uri)
            f = make_request("AUTH", [relay_uri], [self.local_uri],
                             [("Authorization", auth)] + hdrs)
            self.send_frame(f)
            r = self.wait_response(f.transaction_id, timeout)
        self.auth_response = r
        if r.status == 200:
            self.use_path = parse_path(r.headers.get("Use-Path", ""))
        return r

    def reconnect(self, reset=False, source_ip=None, timeout=5, bind=True):
        """Drops the connection (FIN, or RST with reset=True; nothing when the peer already
        closed it) and connects again to the first hop from a new local port (source_ip:
        another loopback address), keeping local_uri and to_path (the session's), unclaimed
        frames and messages, and messages partly received (their resent chunks complete
        them). bind: send the empty SEND that binds the new connection (RFC 4975 5.4)."""
        self._stop_thread(reset, 2)
        if self.sock is not None:
            if reset:
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         struct.pack("ii", 1, 0))
                except OSError:
                    pass
            self.sock.close()
        for s in (self._wake_r, self._wake_w):
            s.close()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        with self._cond:
            self._closing = self._abort = self._dead = False
            self._out = bytearray()
            self._wpending = None
        self.error = None
        self.peer_closed = self.peer_reset = self.paused = False
        self.parser = FrameParser()
        self.sock = None
        self._open(self.to_path[0], timeout, source_ip)
        if bind:
            self.send_empty()
        return self

    def close(self, timeout=3):
        if self.sock is None and self._sock0 is not None:
            self._sock0.close()
        super().close(timeout)

    def reset(self):
        if self.sock is None and self._sock0 is not None:
            self._sock0.close()
        super().reset()


def digest_authorization(challenge, credentials, uri, method="AUTH"):
    """An RFC 2617 Digest Authorization value (MD5, qop=auth if offered)."""
    user, password = credentials
    params = {k.lower(): (a or b) for k, a, b in
              re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', challenge)}
    realm, nonce = params.get("realm", ""), params.get("nonce", "")

    def md5(s):
        return hashlib.md5(s.encode()).hexdigest()
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    value = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
        cnonce, nc = rand_id(16), "00000001"
        resp = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        value += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        resp = md5(f"{ha1}:{nonce}:{ha2}")
    value += f', response="{resp}"'
    if "opaque" in params:
        value += f', opaque="{params["opaque"]}"'
    if "algorithm" in params:
        value += f', algorithm={params["algorithm"]}'
    return value


# ---------------------------------------------------------------------------------------------
# CPIM (RFC 3862)
# ---------------------------------------------------------------------------------------------
CpimMessage = collections.namedtuple("CpimMessage", "headers content_headers body")


def _cpim_addr(a):
    return a if "<" in a else f"<{a}>"


def cpim_wrap(from_uri, to_uri, body, content_type="text/plain", extra_headers=(), ns=(),
              datetime_value=True, content_headers=()):
    """message/cpim bytes: From, To (one per URI), NS (prefix, uri) pairs, DateTime,
    extra headers; blank line; Content-Type (+ content_headers); blank line; body."""
    lines = [f"From: {_cpim_addr(from_uri)}"]
    for t in ([to_uri] if isinstance(to_uri, str) else to_uri):
        lines.append(f"To: {_cpim_addr(t)}")
    for prefix, uri in (ns.items() if hasattr(ns, "items") else ns):
        lines.append(f"NS: {prefix} <{uri}>")
    if datetime_value:
        stamp = (datetime_value if isinstance(datetime_value, str) else
                 datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        lines.append(f"DateTime: {stamp}")
    for n, v in extra_headers:
        lines.append(f"{n}: {v}")
    content = [f"Content-Type: {content_type}"] + [f"{n}: {v}" for n, v in content_headers]
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return ("\r\n".join(lines) + "\r\n\r\n" + "\r\n".join(content) + "\r\n\r\n").encode() + data


def cpim_parse(data):
    """message/cpim bytes -> CpimMessage(headers [(name, value)], content_headers (Headers),
    body bytes). Unpacks as a 3-tuple."""
    if isinstance(data, str):
        data = data.encode("utf-8")

    def split(b):
        for sep in (b"\r\n\r\n", b"\n\n"):
            i = b.find(sep)
            if i >= 0:
                return b[:i], b[i + len(sep):]
        raise ValueError("CPIM: no blank line")

    def header_lines(b):
        out = []
        for line in b.decode("utf-8", "replace").replace("\r\n", "\n").split("\n"):
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"CPIM: bad header line {line!r}")
            out.append((name.strip(), value.strip()))
        return out
    head, rest = split(data)
    chead, body = split(rest)
    return CpimMessage(header_lines(head), Headers(header_lines(chead)), body)


def cpim_header(headers, name):
    """First value of a CPIM header from cpim_parse()'s list, or None."""
    return next((v for n, v in headers if n.lower() == name.lower()), None)


# ---------------------------------------------------------------------------------------------
# SDP
# ---------------------------------------------------------------------------------------------
def msrp_sdp_offer(ip, port, path_uri, accept_types=("message/cpim", "text/plain"),
                   accept_wrapped_types=("*",), tls=True, setup="active", extra_lines=()):
    """An SDP offer with one m=message line (RFC 4975 §8, RFC 6135 a=setup). path_uri is our
    URI or a list (relay Use-Path first, ours last)."""
    path = " ".join(parse_path(path_uri))
    lines = ["v=0", f"o=tester {random.randint(1, 1 << 30)} 1 IN IP4 {ip}", "s=-",
             f"c=IN IP4 {ip}", "t=0 0",
             f"m=message {port} {'TCP/TLS/MSRP' if tls else 'TCP/MSRP'} *",
             f"a=path:{path}"]
    if accept_types:
        lines.append("a=accept-types:" + " ".join(accept_types))
    if accept_wrapped_types:
        lines.append("a=accept-wrapped-types:" + " ".join(accept_wrapped_types))
    if setup:
        lines.append(f"a=setup:{setup}")
    lines += list(extra_lines)
    return ("\r\n".join(lines) + "\r\n").encode()


def parse_msrp_sdp(body, index=0):
    """The index-th m=message section of an SDP body -> dict(ip, port, proto, fmts, path,
    accept_types, accept_wrapped_types, setup, max_size, attrs), or None."""
    sdp = parse_sdp(body)
    media = [m for m in sdp["media"] if m["type"] == "message"]
    if len(media) <= index:
        return None
    m = media[index]
    out = {"ip": m["c"], "port": m["port"], "proto": m["proto"], "fmts": m["fmts"],
           "path": [], "accept_types": [], "accept_wrapped_types": [], "setup": None,
           "max_size": None, "attrs": list(m["attrs"])}
    for a in m["attrs"]:
        name, _, value = a.partition(":")
        value = value.strip()
        if name == "path":
            out["path"] = value.split()
        elif name == "accept-types":
            out["accept_types"] = value.split()
        elif name == "accept-wrapped-types":
            out["accept_wrapped_types"] = value.split()
        elif name == "setup":
            out["setup"] = value
        elif name == "max-size":
            out["max_size"] = int(value)
    return out


def answer_path(body):
    """The a=path URIs of the first m=message in an SDP body (e.g. the server's 200 OK)."""
    info = parse_msrp_sdp(body)
    if not info or not info["path"]:
        raise AssertionError(f"no m=message with a=path in SDP:\n{body!r}")
    return info["path"]


# ---------------------------------------------------------------------------------------------
# Self-test: an echo server inside this file
# ---------------------------------------------------------------------------------------------
def make_self_signed_cert(directory):
    """A throwaway key + certificate via the openssl CLI -> (certfile, keyfile)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


class EchoServer:
    """Test-only MSRP listener: answers every SEND with 200, sends REPORTs when asked and
    echoes each complete message back (new Message-ID, same Content-Type and Success-Report,
    in chunk_size pieces, to the received From-Path, over the same connection). An aborted
    message is echoed as the bytes received followed by a '#' chunk. `received` lists the
    MsrpMessages it got; `connections` its MsrpConnection objects."""

    def __init__(self, tls=False, certfile=None, keyfile=None, chunk_size=2048,
                 host="127.0.0.1", echo=True):
        self.tls = tls
        self.chunk_size = chunk_size
        self.echo = echo
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.host, self.port = self.lsock.getsockname()[:2]
        self.session_id = "echo" + rand_id(12)
        self.uri = f"{'msrps' if tls else 'msrp'}://{host}:{self.port}/{self.session_id};tcp"
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(certfile, keyfile)
        self.received = []
        self.connections = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, name="echo-accept", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _accept(self):
        while not self._stop:
            r, _, _ = select.select([self.lsock], [], [], 0.2)
            if not r:
                continue
            try:
                s, _ = self.lsock.accept()
            except OSError:
                continue
            if self.ctx:
                s.settimeout(5)
                try:
                    s = self.ctx.wrap_socket(s, server_side=True)
                except (ssl.SSLError, OSError):
                    s.close()
                    continue
                s.settimeout(None)
            # listed before its I/O thread starts: a message may arrive at once, and a test
            # that sees it in `received` then looks for its connection here
            conn = MsrpConnection(local_uri=self.uri, name=f"echo{len(self.connections)}",
                                  on_message=self._on_message)
            self.connections.append(conn)
            conn._attach(s)

    def _on_message(self, conn, msg):
        self.received.append(msg)
        if not self.echo:
            return
        data = msg.body
        n = self.chunk_size or max(1, len(data))
        chunks = [data[i:i + n] for i in range(0, len(data), n)] or [b""]
        sr = "yes" if msg.success_report == "yes" else None
        if msg.aborted:
            chunks = chunks + [b""] if data else chunks
            flags = ["+"] * (len(chunks) - 1) + ["#"]
            conn.send_chunks(chunks, msg.content_type or "text/plain", flags=flags,
                             total="*", wait=None, to_path=msg.from_path)
        else:
            conn.send_chunks(chunks, msg.content_type or "text/plain", success_report=sr,
                             wait=None, to_path=msg.from_path)

    def wait_received(self, count, timeout=10):
        deadline = time.time() + timeout
        while len(self.received) < count and time.time() < deadline:
            time.sleep(0.01)
        return len(self.received) >= count

    def stop(self):
        self._stop = True
        self._thread.join(2)
        self.lsock.close()
        for c in self.connections:
            c.close(timeout=1)


# RFC 4975 §7.1 style frames written by hand (not produced by our serializer)
_GOLDEN = (b"MSRP a786hjs2 SEND\r\n"
           b"To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n"
           b"From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n"
           b"Message-ID: 87652491\r\n"
           b"Byte-Range: 1-25/25\r\n"
           b"Content-Type: text/plain\r\n"
           b"\r\n"
           b"Hey Bob, are you there?\r\n"
           b"-------a786hjs2$\r\n"
           b"MSRP a786hjs2 200 OK\r\n"
           b"To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n"
           b"From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n"
           b"-------a786hjs2$\r\n"
           b"MSRP dkei38sd REPORT\r\n"
           b"To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
           b"From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
           b"Message-ID: 12339sdqwer\r\n"
           b"Byte-Range: 1-106/106\r\n"
           b"Status: 000 200 OK\r\n"
           b"-------dkei38sd$\r\n")


def _selftest_golden(check):
    frames = parse_frames(_GOLDEN)
    check(len(frames) == 3, "three frames from one buffer")
    s, r, rep = frames
    check(s.method == "SEND" and s.transaction_id == "a786hjs2" and s.flag == "$", "SEND line")
    check(s.body == b"Hey Bob, are you there?", "body without the CRLF before the end-line")
    check(s.headers["message-id"] == "87652491" and s.byte_range == (1, 25, 25), "headers")
    check(list(s.headers)[:2] == ["To-Path", "From-Path"], "header order kept")
    check(r.status == 200 and r.comment == "OK" and r.body is None, "response")
    check(rep.report_status == ("000", 200, "OK"), "REPORT status")
    # one byte at a time, and every two-way split
    p = FrameParser()
    got = []
    for i in range(len(_GOLDEN)):
        got += p.feed(_GOLDEN[i:i + 1])
    check([f.raw for f in got] == [f.raw for f in frames], "byte-by-byte feed")
    for cut in range(1, len(_GOLDEN)):
        p = FrameParser()
        got = p.feed(_GOLDEN[:cut]) + p.feed(_GOLDEN[cut:])
        if [f.raw for f in got] != [f.raw for f in frames]:
            check(False, f"split at {cut}")
            break
    else:
        check(True, f"all {len(_GOLDEN) - 1} two-way splits")
    # our serializer writes exactly that SEND again
    f = make_request("SEND", s.to_path, s.from_path,
                     [("Message-ID", "87652491"), ("Byte-Range", "1-25/25")],
                     body=b"Hey Bob, are you there?", content_type="text/plain",
                     transaction_id="a786hjs2")
    check(f.serialize() == _GOLDEN[:len(f.serialize())], "serializer matches the RFC layout")
    # content that contains something like an end-line, and an interrupted '+' chunk
    tricky = (b"MSRP tr1ck SEND\r\nTo-Path: msrp://a:1/x;tcp\r\nFrom-Path: msrp://b:2/y;tcp\r\n"
              b"Message-ID: m\r\nByte-Range: 1-*/*\r\nContent-Type: text/plain\r\n\r\n"
              b"a\r\n-------tr1ckX\r\n-------tr1c\r\n-------tr1ck+\r\n")
    t = parse_frames(tricky)[0]
    check(t.body == b"a\r\n-------tr1ckX\r\n-------tr1c" and t.flag == "+", "end-line lookalikes")
    check(t.byte_range == (1, None, None), "Byte-Range with '*'")
    for bad in (b"HTTP/1.1 200 OK\r\n\r\n", b"MSRP ab SEND\r\n-------ab$\r\n",
                b"MSRP abcd SEND\r\nTo-Path: x\r\n-------abce$\r\n"):
        try:
            parse_frames(bad)
            check(False, f"garbage accepted: {bad!r}")
        except MsrpParseError:
            check(True, f"garbage rejected: {bad[:20]!r}")


def _selftest_session(check, tls, cert=None, key=None, big=5 * 1024 * 1024):
    kind = "TLS" if tls else "TCP"
    srv = EchoServer(tls=tls, certfile=cert, keyfile=key).start()
    c = MsrpClient(tls=tls)
    offer = msrp_sdp_offer("127.0.0.1", c.local_port, c.local_uri, tls=tls)
    info = parse_msrp_sdp(offer)
    check(info["path"] == [c.local_uri] and info["setup"] == "active" and
          info["proto"] == ("TCP/TLS/MSRP" if tls else "TCP/MSRP"), f"{kind}: SDP offer parses")
    try:
        c.connect([srv.uri])
        # plain message
        r = c.send_message("Hello, echo")
        check(r.ok, f"{kind}: 200 for a plain message {r}")
        m = c.receive_message(5)
        check(m.text == "Hello, echo" and m.content_type == "text/plain", f"{kind}: echo back")
        check(m.to_path == [c.local_uri] and m.from_path == [srv.uri], f"{kind}: echo paths")
        resp = r.responses[r.transaction_ids[0]]
        check(resp.to_path == [c.local_uri] and resp.from_path == [srv.uri],
              f"{kind}: response To-Path/From-Path")
        # CPIM
        cp = cpim_wrap("Alice <sip:alice@example.com>", ["sip:bob@example.com"], "hi Bob",
                       ns=[("MyFeatures", "mid:MessageFeatures@id.foo.com")],
                       extra_headers=[("MyFeatures.WishList", "Green")],
                       content_type="text/plain;charset=utf-8")
        r = c.send_message(cp, content_type="message/cpim")
        m = c.receive_message(5)
        hdrs, chdrs, body = m.cpim()
        check(r.ok and body == b"hi Bob" and cpim_header(hdrs, "From") ==
              "Alice <sip:alice@example.com>" and cpim_header(hdrs, "to") ==
              "<sip:bob@example.com>" and chdrs["content-type"] == "text/plain;charset=utf-8"
              and cpim_header(hdrs, "MyFeatures.WishList") == "Green" and
              cpim_header(hdrs, "DateTime"), f"{kind}: CPIM round trip")
        # REPORT both ways
        r = c.send_message("report me", success_report="yes")
        rep = c.expect_report(r.message_id, 5, status=200)
        check(rep.byte_range == (1, 9, 9) and rep.to_path == [c.local_uri],
              f"{kind}: REPORT from the far end")
        m = c.receive_message(5)      # the echo asked for a report too: ours goes back
        conn = srv.connections[-1]
        srep = conn.expect_report(m.message_id, 5, status=200)
        check(srep.byte_range == (1, 9, 9) and srep.to_path == [srv.uri],
              f"{kind}: REPORT generated by the client")
        # Failure-Report: no -> no response, nothing to wait for
        r = c.send_message("quiet", failure_report="no")
        check(r.responses == {} and c.receive_message(5).text == "quiet",
              f"{kind}: Failure-Report no")
        check(c.next_frame(0.3, match=lambda f: f.is_response and
                           f.transaction_id == r.transaction_ids[0]) is None,
              f"{kind}: no response to a Failure-Report: no SEND")
        # 5 MB in 2 KB chunks
        blob = os.urandom(big)
        sha = hashlib.sha1(blob).hexdigest()
        t0 = time.time()
        r = c.send_message(blob, content_type="application/octet-stream", chunk_size=2048)
        t_send = time.time() - t0
        m = c.receive_message(60)
        t_all = time.time() - t0
        check(r.ok and len(r.transaction_ids) == (big + 2047) // 2048,
              f"{kind}: {len(r.transaction_ids)} chunks acknowledged one by one")
        check(srv.received[-1].sha1 == sha and m.sha1 == sha and len(m.frames) ==
              len(r.transaction_ids), f"{kind}: {big} bytes intact both ways (sha1)")
        print(f"    {kind}: {big / 1e6:.1f} MB in 2 KB chunks, wait for each 200: "
              f"sent in {t_send:.2f}s, echo back complete after {t_all:.2f}s")
        t0 = time.time()
        r = c.send_message(blob, content_type="application/octet-stream", chunk_size=2048,
                           wait="all", timeout=30)
        m = c.receive_message(60)
        check(r.ok and m.sha1 == sha, f"{kind}: pipelined 5 MB (wait='all') "
              f"{time.time() - t0:.2f}s round trip")
        # split frames: the client writes one SEND in pieces, the server writes one in pieces
        f = make_request("SEND", [srv.uri], [c.local_uri],
                         [("Message-ID", "split1"), ("Byte-Range", "1-11/11")],
                         body=b"split frame", content_type="text/plain")
        raw = f.serialize()
        for piece in (raw[:7], raw[7:60], raw[60:-9], raw[-9:-2], raw[-2:]):
            c.send_raw(piece)
            time.sleep(0.02)
        check(c.wait_response(f.transaction_id, 5).status == 200, f"{kind}: split SEND answered")
        c.receive_message(5)
        g = make_request("SEND", [c.local_uri], [srv.uri],
                         [("Message-ID", "split2"), ("Byte-Range", "1-9/9")],
                         body=b"from echo", content_type="text/plain")
        raw = g.serialize()
        for piece in (raw[:3], raw[3:50], raw[50:-5], raw[-5:]):
            conn.send_raw(piece)
            time.sleep(0.02)
        m = c.receive_message(5)
        check(m.message_id == "split2" and m.text == "from echo", f"{kind}: split read")
        check(conn.wait_response(g.transaction_id).status == 200, f"{kind}: auto 200 sent")
        # several frames in one write
        many = [make_request("SEND", [srv.uri], [c.local_uri],
                             [("Message-ID", f"many{i}"), ("Byte-Range", "1-1/1")],
                             body=str(i), content_type="text/plain") for i in range(3)]
        c.send_raw(b"".join(x.serialize() for x in many))
        check(all(c.wait_response(x.transaction_id).status == 200 for x in many),
              f"{kind}: three frames in one write answered")
        got = sorted(c.receive_message(5).text for _ in range(3))
        check(got == ["0", "1", "2"], f"{kind}: three echoes")
        # aborted message
        n_before = len(srv.received)
        r = c.send_chunks([b"part one ", b"part two"], flags=["+", "#"], total=100)
        check(r.ok, f"{kind}: both chunks of the aborted message answered")
        srv.wait_received(n_before + 1)
        check(srv.received[-1].aborted and srv.received[-1].body == b"part one part two",
              f"{kind}: far end saw an aborted message")
        m = c.receive_message(5, include_aborted=True)
        check(m.aborted and m.body == b"part one part two", f"{kind}: aborted echo received")
        r = c.send_message("after abort")
        check(r.ok and c.receive_message(5).text == "after abort", f"{kind}: session goes on")
        # interrupted chunk with '*' end, then the rest
        r = c.send_chunks([b"abc", b"def"], end_star=True)
        check(r.ok and c.receive_message(5).text == "abcdef", f"{kind}: Byte-Range n-*/total")
        check(c.error is None and not c.peer_closed, f"{kind}: no errors on the client")
        # abrupt reset: the far end sees ECONNRESET / EOF
        c.reset()
        check(conn.wait_closed(5) and conn.peer_closed and conn.peer_reset,
              f"{kind}: RST seen by the far end as a reset")
    finally:
        c.close()
        srv.stop()
    # MsrpClient.connect as a constructor, and a peer that closes
    srv = EchoServer(tls=tls, certfile=cert, keyfile=key).start()
    try:
        c = MsrpClient.connect(srv.uri, tls=tls)
        check(c.send_message("x").ok and c.receive_message(5).text == "x",
              f"{kind}: MsrpClient.connect(path, tls=...)")
        # the far end must have read our 200 for its echo: closing a socket with unread
        # input makes Linux send a RST instead of a FIN
        check(srv.connections[-1].next_frame(5, status=200) is not None,
              f"{kind}: far end got our 200 for its echo")
        srv.connections[-1].close()
        check(c.wait_closed(5) and c.peer_closed and not c.peer_reset,
              f"{kind}: graceful close by the far end seen (not a reset)")
        # reconnect: a new connection from a new port (another loopback address), same URI
        c.reconnect(source_ip="127.0.0.2")
        check(c.send_message("again").ok and c.receive_message(5).text == "again" and
              len(srv.connections) == 2, f"{kind}: reconnect keeps the session")
        far = srv.connections[-1]
        check(far.next_frame(5, method="SEND", match=lambda f: f.body is None) is not None,
              f"{kind}: the new connection bound by an empty SEND")
        # a message the far end sends twice (same Message-ID) is delivered once
        twice = make_request("SEND", [c.local_uri], [srv.uri],
                             [("Message-ID", "dup1"), ("Byte-Range", "1-4/4")],
                             body=b"once", content_type="text/plain")
        far.send_frame(twice)
        far.send_frame(make_request("SEND", [c.local_uri], [srv.uri],
                                    [("Message-ID", "dup1"), ("Byte-Range", "1-4/4")],
                                    body=b"once", content_type="text/plain"))
        check(c.receive_message(5).message_id == "dup1", f"{kind}: first copy delivered")
        answered = far.next_frame(5, status=200) and far.next_frame(5, status=200)
        # the I/O thread answers a chunk before it looks at its Message-ID: wait for the count
        deadline = time.time() + 5
        while c.duplicates < 1 and time.time() < deadline:
            time.sleep(0.01)
        check(answered and c.duplicates == 1,
              f"{kind}: second copy answered 200 and dropped as a duplicate")
        c.reset()
        check(far.wait_closed(5), f"{kind}: reset after a reconnect")
    finally:
        srv.stop()


def selftest():
    failures = []

    def check(cond, what):
        print(("  ok   " if cond else "  FAIL ") + what)
        if not cond:
            failures.append(what)
    print("golden frames / parser")
    _selftest_golden(check)
    print("MSRP over TCP")
    _selftest_session(check, tls=False)
    if shutil.which("openssl"):
        d = tempfile.mkdtemp(prefix="msrp-selftest-")
        try:
            cert, key = make_self_signed_cert(d)
            print("MSRP over TLS (throwaway self-signed certificate)")
            _selftest_session(check, tls=True, cert=cert, key=key)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    else:
        check(False, "openssl CLI missing: TLS not tested (scripts/deps installs it)")
    print("FAILED: " + "; ".join(failures) if failures else "all MSRP self-tests passed")
    return not failures


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="MSRP test endpoint")
    ap.add_argument("--selftest", action="store_true", help="run the built-in self-test")
    ap.add_argument("--send", metavar="TEXT", help="send TEXT to --path and print what comes back")
    ap.add_argument("--path", help="the peer's a=path (msrp[s]://host:port/session;tcp)")
    ap.add_argument("--tls", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        sys.exit(0 if selftest() else 1)
    if a.send and a.path:
        with MsrpClient.connect(a.path, tls=a.tls) as cl:
            print(cl.send_message(a.send))
            try:
                print(cl.receive_message(3).text)
            except MsrpTimeout:
                print("(nothing came back)")
        sys.exit(0)
    ap.print_help()
