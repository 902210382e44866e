"""XMPP clients for the gateway's tests: slixmpp (Debian python3-slixmpp 1.8) driven from
synchronous test code.

    c = XmppClient("alice@xmpp.test", "alicepw", prosody.c2s_port)   # logged in, available
                                                # (its initial presence came back to it)
    reply = c.iq("get", "sip.test", "<ping xmlns='urn:xmpp:ping'/>")  # ElementTree of the answer
    reply.get("type"), error_condition(reply)
    c.send_message("bob@sip.test", "hello")
    m = c.next_message(timeout=10)              # ElementTree (type='error' ones too) or None
    c.send_raw("<message to='bob@sip.test' type='chat'><composing xmlns='...'/></message>")
    c.send_presence(to="bob@sip.test", ptype="subscribe")   # or show/status/priority
    p = c.next_presence(timeout=10, match=lambda p: p.get("type") == "subscribe")
    c.close()

Each client owns a thread running its own asyncio loop; calls wait for their outcome with a
timeout. Plain TCP to prosody's c2s port on 127.0.0.1 (no STARTTLS, PLAIN auth allowed by the
test's prosody config). Answers and messages are returned as xml.etree elements in the
jabber:client namespace (CLIENT_NS). Every <message/> is kept (chat states and receipts without
a body too), and every <presence/> (`next_presence`). The client does not answer subscription
requests itself (slixmpp's auto_authorize off, no auto_subscribe): the test sends `subscribed`
or `unsubscribed`. It asks for its roster at login, so prosody treats it as an interested
resource (roster pushes, RFC 6121 §2.1.6).
"""
import asyncio
import copy
import queue
import threading
import time
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

CLIENT_NS = "jabber:client"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def q(name, ns=CLIENT_NS):
    return f"{{{ns}}}{name}"


def error_condition(stanza):
    """The stanza error condition of an answer ('service-unavailable'), or None."""
    err = stanza.find(q("error"))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith(f"{{{STANZAS_NS}}}") and not child.tag.endswith("}text"):
            return child.tag.split("}")[1]
    return None


class XmppClient:
    def __init__(self, jid, password, port, host="127.0.0.1", timeout=20):
        self.messages = queue.Queue()
        self.presences = queue.Queue()
        self.jid = jid
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._run(self._connect(jid, password, host, port, timeout), timeout + 5)

    def _run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self, jid, password, host, port, timeout):
        xmpp = slixmpp.ClientXMPP(jid, password)
        xmpp.register_plugin("xep_0030")
        xmpp.register_plugin("xep_0199")
        xmpp['feature_mechanisms'].unencrypted_plain = True
        started = asyncio.Event()
        failed = []
        xmpp.add_event_handler("session_start", lambda _: started.set())
        xmpp.add_event_handler("failed_auth", lambda _: (failed.append("auth"), started.set()))
        # every message (slixmpp's own events skip those without a body: chat states, receipts)
        xmpp.register_handler(Callback("all messages", MatchXPath(f"{{{CLIENT_NS}}}message"),
                                       lambda m: self.messages.put(copy.deepcopy(m.xml))))
        xmpp.add_event_handler("presence", lambda p: self.presences.put(copy.deepcopy(p.xml)))
        xmpp.roster.auto_authorize = None  # the test answers subscription requests
        xmpp.roster.auto_subscribe = False
        self.xmpp = xmpp
        xmpp.connect(address=(host, port), disable_starttls=True, force_starttls=False)
        await asyncio.wait_for(started.wait(), timeout)
        if failed:
            raise AssertionError(f"{jid}: authentication failed")
        await xmpp.get_roster(timeout=timeout)
        # available once the server has our initial presence: it comes back to us (RFC 6121
        # §4.2.2); a message to the bare JID sent before would find no available resource
        online = asyncio.Event()
        xmpp.add_event_handler("presence", lambda p: online.set()
                               if p["from"] == xmpp.boundjid else None)
        xmpp.send_presence()
        await asyncio.wait_for(online.wait(), timeout)

    def iq(self, type_, to, payload_xml, timeout=20):
        """Sends <iq type=type_ to=to>payload</iq>; returns the answer (result or error) as an
        element, or raises TimeoutError."""
        async def run():
            iq = self.xmpp.Iq()
            iq["type"] = type_
            iq["to"] = to
            iq.append(ET.fromstring(payload_xml))
            try:
                answer = await iq.send(timeout=timeout)
            except IqError as e:
                answer = e.iq
            except IqTimeout:
                raise TimeoutError(f"no answer to the iq for {to} within {timeout}s")
            return copy.deepcopy(answer.xml)
        return self._run(run(), timeout + 5)

    def ping(self, to, timeout=20):
        return self.iq("get", to, "<ping xmlns='urn:xmpp:ping'/>", timeout)

    def send_message(self, to, body, mtype="chat", mid=None):
        def send():
            m = self.xmpp.make_message(mto=to, mbody=body, mtype=mtype)
            if mid:
                m["id"] = mid
            m.send()
        self.loop.call_soon_threadsafe(send)

    def send_raw(self, xml):
        """Sends an element as written (a stanza of the test's own: chat states, receipts)."""
        self.loop.call_soon_threadsafe(self.xmpp.send_raw, xml)

    def send_presence(self, to=None, ptype=None, show=None, status=None, priority=None):
        def send():
            self.xmpp.send_presence(pto=to, ptype=ptype, pshow=show, pstatus=status,
                                    ppriority=priority)
        self.loop.call_soon_threadsafe(send)

    @staticmethod
    def _next(q_, timeout, match):
        deadline = time.time() + timeout
        while True:
            try:
                el = q_.get(timeout=max(deadline - time.time(), 0.001))
            except queue.Empty:
                return None
            if match is None or match(el):
                return el

    def next_message(self, timeout=10, match=None):
        """The next message (for which match(el) is true: others are dropped), or None."""
        return self._next(self.messages, timeout, match)

    def next_presence(self, timeout=10, match=None):
        """The next presence (for which match(el) is true: others are dropped), or None."""
        return self._next(self.presences, timeout, match)

    def close(self):
        async def bye():
            self.xmpp.disconnect(wait=1.0)
            await asyncio.sleep(0.2)
            # slixmpp leaves its filter task waiting: end it here, not at interpreter exit
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self._run(bye(), 5)
        except Exception:  # noqa: BLE001 - a client already cut off
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
