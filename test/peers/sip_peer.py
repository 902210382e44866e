#!/usr/bin/env python3
"""A SIP endpoint that answers in a background thread (RFC 3261 over UDP, RFC 6665 for
SUBSCRIBE/NOTIFY), standard library only; messages parsed by sip_client.py.

It stands where the server's `[sip] outbound_proxy` points, so every request the server sends
out reaches it, and it sends requests of its own to the server:

    peer = SipPeer(server=("127.0.0.1", sip_port)).start()
    # as the far side of the server's requests
    peer.message_rule = lambda req: 200          # default; 404 for a user that does not exist
    m = peer.messages.get(timeout=10)            # a MESSAGE it answered (sip_client.SipMessage)
    peer.subscribe_rule = lambda req: (200, 60)  # a presence notifier: status, Expires granted
    sub = peer.subscriptions.get(timeout=10)     # a Notifier for each new SUBSCRIBE dialog
    sub.notify(pidf_body)                        # NOTIFY active; returns the final response
    sub.terminate("rejected")                    # NOTIFY terminated;reason=rejected
    sub.events.get(timeout=10)                   # ("refresh", expires) / ("unsubscribe", 0)
                                                 # / ("after-end", expires) once terminated
    peer.invite_rule = lambda req: (200, sdp)    # an INVITE's answer: status and SDP body (a
    inv = peer.invites.get(timeout=10)           # 2xx gets our Contact); every INVITE lands in
    bye = peer.byes.get(timeout=10)              # `invites`, every BYE (answered 200) in `byes`
    peer.refer_rule = lambda req: 202            # a REFER's answer (RFC 3515); 2xx makes the
    ref = peer.referrals.get(timeout=10)         # implicit subscription, a Notifier with Event
    ref.notify(b"SIP/2.0 100 Trying\r\n", content_type="message/sipfrag")   # refer;
    ref.terminate("noresource", body=b"SIP/2.0 200 OK\r\n")                # refusals
                                                 # come as ("refused", req)
    # as a client of the server
    r = peer.request("MESSAGE", "sip:juliet@xmpp.test", from_uri="sip:alice@sip.test", body=...)
    w = peer.subscribe("sip:juliet@xmpp.test", from_uri="sip:alice@sip.test", expires=60)
    w.response.status, w.notifies.get(timeout=10), w.unsubscribe()
    peer.stop()

The thread owns the socket: it answers requests (a retransmitted request gets the same response
again), matches responses to the transactions waiting for them and retransmits those (timer E,
T1 = 500 ms). A NOTIFY it sends as notifier right after accepting a SUBSCRIBE goes without
waiting. Every wait has a timeout.
"""
import queue
import re
import socket
import threading
import time

from sip_client import SipMessage, new_branch, parse, rand_token, serialize

T1 = 0.5
REASONS = {200: "OK", 202: "Accepted", 403: "Forbidden", 404: "Not Found",
           480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
           486: "Busy Here", 489: "Bad Event", 500: "Server Internal Error",
           503: "Service Unavailable", 603: "Decline"}


def header_uri(value):
    m = re.search(r"<([^>]+)>", value or "")
    return m.group(1) if m else (value or "").split(";")[0].strip()


def user_of(uri):
    m = re.match(r"sips?:([^@;>]+)@", uri or "")
    return m.group(1) if m else None


class Transaction:
    def __init__(self, msg, dest, wait):
        self.msg = msg
        self.data = serialize(msg)
        self.dest = dest
        self.branch = msg.branch()
        self.method = msg.method
        self.done = threading.Event()
        self.response = None
        self.interval = T1
        self.next_tx = time.time() + T1
        self.deadline = time.time() + 32 * T1
        self.wait = wait


class Notifier:
    """A SUBSCRIBE dialog the peer accepted, as notifier. The subscriber's requests (refresh,
    un-SUBSCRIBE) are answered by the peer's thread and reported in `events`."""

    def __init__(self, peer, req, expires):
        self.peer = peer
        self.request = req          # the initial SUBSCRIBE
        self.call_id = req.get("Call-ID")
        self.local_tag = rand_token(8)
        self.remote_tag = req.tag("From")
        self.local = req.get("To")  # without our tag
        self.remote = req.get("From")
        self.target = req.contact_uri()
        self.route = list(req.get_all("Record-Route"))
        self.event = req.get("Event")
        self.expires = expires
        self.cseq = 0
        self.state = "active"
        self.events = queue.Queue()
        self.notify_responses = queue.Queue()
        self.body = None
        self.content_type = "application/pidf+xml"

    def _notify_msg(self, state, body, content_type):
        self.cseq += 1
        m = SipMessage()
        m.method = "NOTIFY"
        m.uri = self.target
        m.headers = [("Via", self.peer.via(new_branch())), ("Max-Forwards", "70"),
                     ("From", f"{self.local};tag={self.local_tag}"),
                     ("To", self.remote), ("Call-ID", self.call_id),
                     ("CSeq", f"{self.cseq} NOTIFY"),
                     ("Contact", f"<{self.peer.contact}>"), ("Event", self.event),
                     ("Subscription-State", state)]
        for r in self.route:
            m.headers.append(("Route", r))
        if body:
            m.headers.append(("Content-Type", content_type))
            m.body = body if isinstance(body, bytes) else body.encode()
        return m

    def _state_header(self, state=None, reason=None):
        if self.state == "terminated":
            return f"terminated;reason={reason}" if reason else "terminated"
        return f"{self.state};expires={self.expires}"

    def notify(self, body=None, content_type="application/pidf+xml", wait=True, timeout=10):
        """NOTIFY with the current state (active) and this body (kept for refreshes)."""
        if body is not None:
            self.body, self.content_type = body, content_type
        m = self._notify_msg(self._state_header(), self.body, self.content_type)
        return self.peer.send_request(m, self.target_addr(), wait=wait, timeout=timeout)

    def terminate(self, reason=None, body=None, wait=True, timeout=10):
        """NOTIFY terminated (with a reason): the subscription is over."""
        self.state = "terminated"
        m = self._notify_msg(self._state_header(reason=reason), body, self.content_type)
        return self.peer.send_request(m, self.target_addr(), wait=wait, timeout=timeout)

    def target_addr(self):
        m = re.match(r"sips?:(?:[^@]*@)?([^:;>]+)(?::(\d+))?", self.target or "")
        if m and m.group(2):
            return (m.group(1), int(m.group(2)))
        return self.request.source


class Watch:
    """A SUBSCRIBE the peer sent as subscriber: its final response and the NOTIFYs of its
    dialog (answered 200 by the peer's thread)."""

    def __init__(self, peer, req):
        self.peer = peer
        self.request = req
        self.call_id = req.get("Call-ID")
        self.local_tag = req.tag("From")
        self.from_value = req.get("From")
        self.to_value = req.get("To")
        self.remote_tag = None
        self.target = req.uri
        self.cseq = 1
        self.response = None
        self.notifies = queue.Queue()

    def _in_dialog(self, expires):
        self.cseq += 1
        m = SipMessage()
        m.method = "SUBSCRIBE"
        m.uri = self.target
        to = self.to_value + (f";tag={self.remote_tag}" if self.remote_tag else "")
        m.headers = [("Via", self.peer.via(new_branch())), ("Max-Forwards", "70"),
                     ("From", self.from_value), ("To", to), ("Call-ID", self.call_id),
                     ("CSeq", f"{self.cseq} SUBSCRIBE"), ("Contact", f"<{self.peer.contact}>"),
                     ("Event", self.request.get("Event")), ("Expires", str(expires)),
                     ("Accept", "application/pidf+xml")]
        return m

    def refresh(self, expires, timeout=10):
        return self.peer.send_request(self._in_dialog(expires), timeout=timeout)

    def unsubscribe(self, timeout=10):
        return self.refresh(0, timeout)

    def next_notify(self, timeout=10):
        try:
            return self.notifies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no NOTIFY within {timeout}s\n{self.peer.trace()}")


class SipPeer:
    def __init__(self, server=None, port=0, user="peer"):
        self.server = tuple(server) if server else None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.local_ip, self.port = self.sock.getsockname()
        self.contact = f"sip:{user}@{self.local_ip}:{self.port}"
        self.uri = f"sip:{self.local_ip}:{self.port}"
        self.lock = threading.Lock()
        self.transactions = {}      # branch -> Transaction
        self.answered = {}          # (call-id, cseq, branch) -> serialized response
        self.notifiers = {}         # call-id -> Notifier
        self.watches = {}           # call-id -> Watch
        self.messages = queue.Queue()
        self.subscriptions = queue.Queue()
        self.referrals = queue.Queue()
        self.invites = queue.Queue()
        self.ringing = {}           # (call-id, branch) -> an INVITE answered 1xx only
        self.byes = queue.Queue()
        self.requests = queue.Queue()  # every request received, answered or not (diagnostics)
        self.log = []
        self.message_rule = lambda req: 200
        self.subscribe_rule = lambda req: (200, 60)
        self.refer_rule = lambda req: 202
        self.invite_rule = lambda req: (480, None)
        self.first_notify = lambda notifier: notifier.notify(wait=False)
        self.running = False
        self.thread = None

    # -- life ----------------------------------------------------------------------------
    def start(self):
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.running = False
        if self.thread:
            self.thread.join(5)
        self.sock.close()

    def via(self, branch):
        return f"SIP/2.0/UDP {self.local_ip}:{self.port};rport;branch={branch}"

    def trace(self, last=30):
        with self.lock:
            entries = self.log[-last:]
        return "\n".join(f"{d} {a}\n{m}" for d, a, m in entries)

    def _send(self, data, dest, what):
        with self.lock:
            self.log.append((">>", dest, what))
        self.sock.sendto(data, dest)

    # -- the thread ----------------------------------------------------------------------
    def _run(self):
        self.sock.settimeout(0.05)
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                data = None
            except OSError:
                return
            if data:
                try:
                    msg = parse(data)
                except ValueError:
                    continue
                msg.source = addr
                with self.lock:
                    self.log.append(("<<", addr, msg))
                if msg.is_request:
                    self._on_request(msg)
                else:
                    self._on_response(msg)
            self._retransmit()

    def _retransmit(self):
        now = time.time()
        with self.lock:
            items = list(self.transactions.values())
        for t in items:
            if t.done.is_set():
                continue
            if now > t.deadline:
                with self.lock:
                    self.transactions.pop(t.branch, None)
                t.done.set()
            elif now >= t.next_tx:
                self.sock.sendto(t.data, t.dest)
                t.interval = min(t.interval * 2, 4.0)
                t.next_tx = now + t.interval

    def _on_response(self, msg):
        if msg.status < 200:
            return
        with self.lock:
            t = self.transactions.pop(msg.branch(), None)
        if t is None:
            return
        t.response = msg
        t.done.set()
        if t.method == "SUBSCRIBE":
            w = self.watches.get(msg.get("Call-ID"))
            if w is not None and w.remote_tag is None and msg.status < 300:
                w.remote_tag = msg.tag("To")
                w.target = msg.contact_uri() or w.target
        if t.method == "NOTIFY":
            n = self.notifiers.get(msg.get("Call-ID"))
            if n is not None:
                n.notify_responses.put(msg)

    def respond(self, req, status, reason=None, headers=(), to_tag=None, body=None):
        m = SipMessage()
        m.status = status
        m.reason = reason or REASONS.get(status, "Status")
        for v in req.get_all("Via"):
            if ";rport" in v and "rport=" not in v:
                v = v.replace(";rport", f";received={req.source[0]};rport={req.source[1]}", 1)
            m.headers.append(("Via", v))
        m.headers.append(("From", req.get("From")))
        to = req.get("To")
        if req.tag("To") is None and status > 100:
            to = f"{to};tag={to_tag or rand_token(8)}"
        m.headers.append(("To", to))
        m.headers += [("Call-ID", req.get("Call-ID")), ("CSeq", req.get("CSeq"))]
        m.headers.extend(headers)
        if body:
            m.body = body if isinstance(body, bytes) else body.encode()
        data = serialize(m)
        with self.lock:
            self.answered[(req.get("Call-ID"), req.get("CSeq"), req.branch())] = data
        self._send(data, req.source, m)
        return m

    def _on_request(self, req):
        key = (req.get("Call-ID"), req.get("CSeq"), req.branch())
        with self.lock:
            again = self.answered.get(key)
        if again is not None:
            self.sock.sendto(again, req.source)  # a retransmission: the same answer
            return
        self.requests.put(req)
        if req.method == "MESSAGE":
            status = self.message_rule(req)
            self.respond(req, status)
            self.messages.put(req)
        elif req.method == "SUBSCRIBE":
            self._on_subscribe(req)
        elif req.method == "REFER" and not req.tag("To"):
            self._on_refer(req)
        elif req.method == "NOTIFY":
            w = self.watches.get(req.get("Call-ID"))
            self.respond(req, 200 if w else 481)
            if w:
                if w.remote_tag is None:
                    w.remote_tag = req.tag("From")
                w.notifies.put(req)
        elif req.method == "INVITE" and not req.tag("To"):
            self._on_invite(req)
        elif req.method == "BYE":
            self.respond(req, 200)
            self.byes.put(req)
        elif req.method == "ACK":
            pass
        elif req.method == "CANCEL":  # RFC 3261 9.2: 200 to the CANCEL, 487 to the INVITE
            self.respond(req, 200)
            invite = self.ringing.pop((req.get("Call-ID"), req.branch()), None)
            if invite is not None:
                self.respond(invite, 487, "Request Terminated")
        else:
            self.respond(req, 200)

    def _on_subscribe(self, req):
        expires = int(req.get("Expires", "3600").strip() or 0)
        n = self.notifiers.get(req.get("Call-ID"))
        if n is not None and req.tag("To"):
            if n.state == "terminated":
                n.events.put(("after-end", expires))  # a subscriber that did not stop
                self.respond(req, 481)
                return
            n.expires = min(expires, n.expires) if expires else 0
            self.respond(req, 200, headers=[("Expires", str(n.expires))], to_tag=n.local_tag)
            if expires == 0:
                n.events.put(("unsubscribe", 0))
                n.terminate("timeout", body=n.body, wait=False)
            else:
                n.events.put(("refresh", n.expires))
                n.notify(wait=False)
            return
        if req.tag("To"):
            self.respond(req, 481)
            return
        status, granted = self.subscribe_rule(req)
        if expires == 0:  # an un-SUBSCRIBE outside any dialog we know
            self.respond(req, 200, headers=[("Expires", "0")])
            self.subscriptions.put(("unknown-unsubscribe", req))
            return
        if status >= 300:
            self.respond(req, status)
            self.subscriptions.put(("refused", req))
            return
        n = Notifier(self, req, min(granted, expires))
        self.notifiers[n.call_id] = n
        self.respond(req, status, headers=[("Expires", str(n.expires)),
                                           ("Contact", f"<{self.contact}>")],
                     to_tag=n.local_tag)
        self.subscriptions.put(n)
        self.first_notify(n)

    def _on_invite(self, req):
        """An initial INVITE: invite_rule's status and SDP (a 2xx carries our Contact)."""
        status, sdp = self.invite_rule(req)
        headers = []
        if status < 300:  # a 1xx without SDP (ringing, no final answer) has no Content-Type
            headers = [("Contact", f"<{self.contact}>")]
            if sdp is not None:
                headers.append(("Content-Type", "application/sdp"))
        m = self.respond(req, status, headers=headers, body=sdp if status < 300 else None)
        if status < 200:
            self.ringing[(req.get("Call-ID"), req.branch())] = req
        self.invites.put((req, m))

    def _on_refer(self, req):
        """An out-of-dialog REFER: refer_rule's status; a 2xx starts the implicit "refer"
        subscription (RFC 3515 section 2.4.4), whose NOTIFYs the test sends."""
        status = self.refer_rule(req)
        if status >= 300:
            self.respond(req, status)
            self.referrals.put(("refused", req))
            return
        n = Notifier(self, req, 60)
        n.event = "refer"
        n.content_type = "message/sipfrag"
        self.notifiers[n.call_id] = n
        self.respond(req, status, headers=[("Contact", f"<{self.contact}>")], to_tag=n.local_tag)
        self.referrals.put(n)

    # -- client side ---------------------------------------------------------------------
    def send_request(self, msg, dest=None, wait=True, timeout=10):
        """Sends a request (retransmitted until its final response). With wait: the final
        response, or AssertionError after timeout."""
        t = Transaction(msg, dest or self.server, wait)
        with self.lock:
            self.transactions[t.branch] = t
        self._send(t.data, t.dest, msg)
        if not wait:
            return t
        if not t.done.wait(timeout) or t.response is None:
            raise AssertionError(f"no final response to {msg.method} within {timeout}s\n"
                                 f"{self.trace()}")
        return t.response

    def new_request(self, method, uri, from_uri, to_uri=None, body=b"", content_type=None,
                    extra=()):
        m = SipMessage()
        m.method = method
        m.uri = uri
        m.headers = [("Via", self.via(new_branch())), ("Max-Forwards", "70"),
                     ("From", f"<{from_uri}>;tag={rand_token(8)}"),
                     ("To", f"<{to_uri or uri}>"),
                     ("Call-ID", f"{rand_token(16)}@{self.local_ip}"),
                     ("CSeq", f"1 {method}"), ("Contact", f"<{self.contact}>"),
                     ("User-Agent", "sylk-test-peer")]
        m.headers.extend(extra)
        if body:
            m.headers.append(("Content-Type", content_type or "text/plain"))
            m.body = body if isinstance(body, bytes) else body.encode()
        return m

    def request(self, method, uri, from_uri, timeout=10, **kw):
        """An out-of-dialog request to the server; its final response."""
        return self.send_request(self.new_request(method, uri, from_uri, **kw), timeout=timeout)

    def subscribe(self, uri, from_uri, event="presence", expires=60, timeout=10, extra=()):
        """SUBSCRIBE to the server; a Watch with .response (NOTIFYs arrive in .notifies)."""
        m = self.new_request("SUBSCRIBE", uri, from_uri,
                             extra=[("Event", event), ("Expires", str(expires)),
                                    ("Accept", "application/pidf+xml")] + list(extra))
        w = Watch(self, m)
        self.watches[w.call_id] = w
        w.response = self.send_request(m, timeout=timeout)
        if w.response.status < 300:
            w.remote_tag = w.remote_tag or w.response.tag("To")
            w.target = w.response.contact_uri() or w.target
        return w
