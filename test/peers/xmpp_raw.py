"""Raw XMPP streams for the gateway's tests, written from RFC 6120, XEP-0220 and XEP-0114
(standard library only): what a real server would not send (bad XML, unverified domains, bad
addresses) and fake peers whose timing the test controls.

    s = RawStream.connect(port)                      # a TCP connection to the gateway
    s.send(header("evil.test", "sip.test"))          # our stream header
    h = s.read_header(); f = s.next()                # its header (attributes), its features
    s.stream_error()                                 # -> 'not-well-formed', ... (then closed)

    peer = FakeServer("evil.test").start()           # the authoritative server of evil.test:
    s = peer.open_stream(gw_port, "sip.test")        #   answers the gateway's db:verify and
    peer.dialback(s) -> 'valid'                      #   db:result on the streams it accepts,
    peer.stanzas.get(timeout=10)                     #   keeps the stanzas that come on them

    comp = FakeComponentServer("sip.test", "secret").start()  # an XEP-0114 server

Elements are xml.etree elements with their namespaces ({jabber:server}message).
"""
import hashlib
import hmac
import queue
import secrets
import socket
import threading
import time
import xml.etree.ElementTree as ET

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_SERVER = "jabber:server"
NS_COMPONENT = "jabber:component:accept"
NS_DB = "jabber:server:dialback"
NS_DB_FEATURE = "urn:xmpp:features:dialback"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"


def q(ns, name):
    return f"{{{ns}}}{name}"


def header(frm, to, ns=NS_SERVER, db=True, version="1.0", sid=None):
    attrs = f"xmlns='{ns}' xmlns:stream='{NS_STREAMS}'"
    if db:
        attrs += f" xmlns:db='{NS_DB}'"
    for name, value in (("from", frm), ("to", to), ("id", sid), ("version", version)):
        if value is not None:
            attrs += f" {name}='{value}'"
    return f"<?xml version='1.0'?><stream:stream {attrs}>"


def dialback_key(secret, receiving, originating, stream_id):
    """XEP-0185: hex(HMAC-SHA256(hex(SHA256(secret)), 'receiving originating id'))."""
    k = hashlib.sha256(secret.encode()).hexdigest().encode()
    return hmac.new(k, f"{receiving} {originating} {stream_id}".encode(),
                    hashlib.sha256).hexdigest()


def stanza_error_condition(el):
    err = None
    for child in el:
        if child.tag.endswith("}error"):
            err = child
    for child in err if err is not None else []:
        if child.tag.startswith(f"{{{NS_STANZA_ERR}}}") and not child.tag.endswith("}text"):
            return child.tag.split("}")[1]
    return None


class Closed(Exception):
    pass


class RawStream:
    """One XMPP stream over a socket, read element by element (depth-1 children)."""

    def __init__(self, sock):
        self.sock = sock
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.header = None
        self.ready = []  # complete elements not yet taken
        self.eof = False
        self.peer_closed = False  # its </stream:stream>
        self.lock = threading.Lock()

    @classmethod
    def connect(cls, port, host="127.0.0.1", timeout=10):
        return cls(socket.create_connection((host, port), timeout=timeout))

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        with self.lock:
            self.sock.sendall(data)

    def send_element(self, el):
        self.send(ET.tostring(el, encoding="unicode"))

    def restart(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.header = None

    def _pump(self, deadline):
        if self.eof:
            raise Closed("connection closed")
        self.sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("nothing from the peer in time")
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise Closed("connection closed")
        self.parser.feed(data)
        for event, el in self.parser.read_events():
            if event == "start":
                if self.depth == 0:
                    self.header = dict(el.attrib)
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.ready.append(el)
                elif self.depth == 0:
                    self.peer_closed = True

    def read_header(self, timeout=10):
        deadline = time.time() + timeout
        while self.header is None:
            self._pump(deadline)
        return self.header

    def next(self, timeout=10):
        """The next element; Closed when the connection ends first, TimeoutError."""
        deadline = time.time() + timeout
        while not self.ready:
            if self.peer_closed and not self.ready:
                raise Closed("stream closed")
            self._pump(deadline)
        return self.ready.pop(0)

    def next_of(self, tag, timeout=10):
        """The next element with this tag, skipping others."""
        deadline = time.time() + timeout
        while True:
            el = self.next(max(0.05, deadline - time.time()))
            if el.tag == tag:
                return el

    def stream_error(self, timeout=10):
        """Reads up to the stream error: its condition; then checks the stream ends."""
        el = self.next_of(q(NS_STREAMS, "error"), timeout)
        cond = next((c.tag.split("}")[1] for c in el if c.tag.startswith(f"{{{NS_STREAM_ERR}}}")
                     and not c.tag.endswith("}text")), None)
        return cond

    def wait_closed(self, timeout=10):
        """True once the peer closed the stream or the connection (elements are dropped)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self._pump(deadline)
            except Closed:
                return True
            except TimeoutError:
                return False
            if self.peer_closed:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class FakeServer:
    """A fake XMPP server of `domain` (no TLS): it opens streams to the gateway itself and
    accepts the gateway's streams, on which it is the authoritative server for its own keys
    (db:verify answered from the keys it handed out, unless marked bad) and the receiving one
    for the gateway's db:result (answered valid without checking). Stanzas that come on
    accepted streams land in `stanzas`."""

    def __init__(self, domain="evil.test"):
        self.domain = domain
        self.issued = {}  # stream id -> key we sent on it
        self.refuse = set()  # keys to call invalid
        self.stanzas = queue.Queue()
        self.verify_requests = queue.Queue()
        self.accepted = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.streams = []
        self.stopping = False
        self.stall = threading.Event()  # set: streams it accepted stop reading once authenticated

    def start(self):
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def _accept_loop(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(RawStream(sock),), daemon=True).start()

    def _serve(self, s):
        """A stream the gateway opened to us: header, features, dialback, stanzas."""
        self.streams.append(s)
        try:
            h = s.read_header()
            s.send(header(self.domain, h.get("from"), sid=secrets.token_hex(8)))
            s.send(f"<stream:features><dialback xmlns='{NS_DB_FEATURE}'/></stream:features>")
            while True:
                el = s.next(timeout=120)
                if el.tag == q(NS_DB, "verify"):
                    self.verify_requests.put(el)
                    key, sid = el.text or "", el.get("id")
                    ok = self.issued.get(sid) == key and key not in self.refuse
                    s.send(f"<db:verify from='{el.get('to')}' to='{el.get('from')}' "
                           f"id='{sid}' type='{'valid' if ok else 'invalid'}'/>")
                elif el.tag == q(NS_DB, "result"):
                    s.send(f"<db:result from='{el.get('to')}' to='{el.get('from')}' "
                           f"type='valid'/>")
                    if self.stall.is_set():
                        return  # a peer that no longer reads (the socket stays open)
                else:
                    self.stanzas.put(el)
        except (Closed, TimeoutError, OSError):
            pass

    def open_stream(self, port, to="sip.test", frm=None):
        """A stream to the gateway (plain TCP): header sent, its header and features read."""
        s = RawStream.connect(port)
        s.send(header(frm or self.domain, to))
        s.read_header()
        s.features = s.next()
        return s

    def dialback(self, s, key=None, frm=None, to="sip.test", timeout=20):
        """db:result on s (our own key, or `key`); returns the gateway's verdict."""
        sid = s.header.get("id")
        if key is None:
            key = secrets.token_hex(32)
            self.issued[sid] = key
        s.send(f"<db:result from='{frm or self.domain}' to='{to}'>{key}</db:result>")
        el = s.next_of(q(NS_DB, "result"), timeout)
        return el.get("type")

    def stop(self):
        self.stopping = True
        self.listener.close()
        for s in self.streams:
            s.close()


class FakeComponentServer:
    """An XMPP server's component port (XEP-0114) for one component: it checks the handshake
    with `secret`, then hands the test each connection (`connections`, a queue of RawStream)
    to drive: send stanzas, read what the component writes, close it."""

    def __init__(self, name, secret, rcvbuf=None):
        """rcvbuf: a small receive buffer for the connections (a server that reads slowly)."""
        self.name = name
        self.secret = secret
        self.connections = queue.Queue()
        self.handshakes = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]

    def start(self):
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def _accept_loop(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(RawStream(sock),), daemon=True).start()

    def _serve(self, s):
        try:
            h = s.read_header()
            sid = secrets.token_hex(8)
            s.send(f"<?xml version='1.0'?><stream:stream xmlns:stream='{NS_STREAMS}' "
                   f"xmlns='{NS_COMPONENT}' from='{h.get('to')}' id='{sid}'>")
            el = s.next(timeout=20)
            want = hashlib.sha1((sid + self.secret).encode()).hexdigest()
            if el.tag != q(NS_COMPONENT, "handshake") or (el.text or "").lower() != want:
                s.send(f"<stream:error><not-authorized xmlns='{NS_STREAM_ERR}'/></stream:error>"
                       "</stream:stream>")
                s.close()
                return
            self.handshakes += 1
            s.send("<handshake/>")
            self.connections.put(s)
        except (Closed, TimeoutError, OSError):
            s.close()

    def stop(self):
        self.listener.close()
