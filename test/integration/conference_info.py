"""conference-info documents read the way a sipsimple-based client (Blink) reads them, and a
watcher that subscribes, refreshes and unsubscribes.

The reader follows python3-sipsimple's payload definitions (sipsimple/payloads/conference.py
and the XMLElement machinery in sipsimple/payloads/__init__.py), written again here from what
they define:
- a required attribute missing, or a value its type refuses, makes that element invalid; an
  invalid child is dropped and the rest of the document is kept ("partially valid documents");
- agp-conf:file (urn:ag-projects:xml:ns:conference-info) carries name, hash, size (an int),
  sender and status as ATTRIBUTES, all required, under conference-description/agp-conf:
  resources/agp-conf:files;
- agp-conf:screen_image_url is a string element inside a user;
- enumerated values (endpoint status, joining-method, media type and status, state) are the
  ones sipsimple accepts; version is an integer.
Then what Blink does with a file: SIPURI.parse(file.sender) (pjsip's parser: a URI, or a
name-addr with or without a display name) and FileSelector(hash=file.hash), whose hash must be
"sha1:" or "sha-1:" and 20 upper-case hex pairs.
"""
import re
import xml.etree.ElementTree as ET

CI = "urn:ietf:params:xml:ns:conference-info"
AGP = "urn:ag-projects:xml:ns:conference-info"

ENDPOINT_STATUS = {"connected", "disconnected", "on-hold", "muted-via-focus", "pending",
                   "alerting", "dialing-in", "dialing-out", "disconnecting"}
JOINING_METHOD = {"dialed-in", "dialed-out", "focus-owner"}
MEDIA_TYPE = {"audio", "video", "text", "message"}
MEDIA_STATUS = {"sendrecv", "sendonly", "recvonly", "inactive"}
STATE = {"full", "partial", "deleted"}
SHA1 = re.compile(r"^sha-1(:[0-9A-F]{2}){20}$")


class Invalid(ValueError):
    """What sipsimple's ValidationError is: the element is dropped."""


def _q(ns, tag):
    return f"{{{ns}}}{tag}"


def _text(el, tag, ns=CI, allowed=None):
    """A string child's value, or None when absent or refused (dropped, as sipsimple does)."""
    child = el.find(_q(ns, tag))
    if child is None:
        return None
    value = child.text or ""
    if allowed is not None and value not in allowed:
        return None
    return value


def _required(el, name):
    value = el.get(name)
    if value is None:
        raise Invalid(f"required attribute {name} of {el.tag} missing")
    return value


def _items(parent, tag, parse, ns=CI):
    out = []
    for child in parent.findall(_q(ns, tag)):
        try:
            out.append(parse(child))
        except Invalid:
            pass  # sipsimple drops an invalid list item
    return out


class File:
    def __init__(self, el):
        self.name = _required(el, "name")
        self.hash = _required(el, "hash")
        try:
            self.size = int(_required(el, "size"))
        except ValueError:
            raise Invalid("size")
        self.sender = _required(el, "sender")
        self.status = _required(el, "status")

    def selector_hash(self):
        """FileSelectorHash(self.hash) as sipsimple makes it, or ValueError."""
        value = self.hash
        if value.startswith("sha1:"):
            value = "sha-1" + value[len("sha1"):]
        if not SHA1.match(value):
            raise ValueError(f"invalid hash value {self.hash!r}")
        return value

    def sender_uri(self):
        """What SIPURI.parse(self.sender) gets (pjsip_parse_uri: a SIP URI, or a name-addr
        with a quoted or plain display name), or ValueError."""
        s = self.sender.strip()
        if s.startswith('"'):
            m = re.match(r'^"((?:[^"\\]|\\.)*)"\s*<([^<>]+)>$', s)
        elif "<" in s and ":" not in s.split("<", 1)[0]:
            m = re.match(r"^([^<\r\n]*)<([^<>]+)>$", s)
        else:
            m = re.match(r"^()(sips?:[^\s<>\"]+)$", s)
        if not m or not re.match(r"^sips?:[^@\s]+@[^@\s]+$", m.group(2)):
            raise ValueError(f"not a valid SIP URI: {self.sender!r}")
        return m.group(2)


class Media:
    def __init__(self, el):
        self.id = _required(el, "id")
        self.type = _text(el, "type", allowed=MEDIA_TYPE)
        self.status = _text(el, "status", allowed=MEDIA_STATUS)


class Endpoint:
    def __init__(self, el):
        self.entity = _required(el, "entity")
        self.display_text = _text(el, "display-text")
        self.status = _text(el, "status", allowed=ENDPOINT_STATUS)
        self.joining_method = _text(el, "joining-method", allowed=JOINING_METHOD)
        info = el.find(_q(CI, "joining-info"))
        self.joined_at = _text(info, "when") if info is not None else None
        self.media = _items(el, "media", Media)


class User:
    def __init__(self, el):
        self.entity = _required(el, "entity")
        self.display_text = _text(el, "display-text")
        self.screen_image_url = _text(el, "screen_image_url", ns=AGP)
        self.endpoints = _items(el, "endpoint", Endpoint)

    def media_types(self):
        return sorted(m.type for e in self.endpoints for m in e.media)


class ConferenceInfo:
    def __init__(self, body):
        root = body if isinstance(body, ET.Element) else ET.fromstring(body)
        if root.tag != _q(CI, "conference-info"):
            raise Invalid(root.tag)
        self.entity = _required(root, "entity")
        self.state = root.get("state", "full")
        if self.state not in STATE:
            raise Invalid(self.state)
        self.version = int(root.get("version")) if root.get("version") is not None else None
        desc = root.find(_q(CI, "conference-description"))
        users = root.find(_q(CI, "users"))
        if self.state == "full" and (desc is None or users is None):
            raise Invalid("a full document needs conference-description and users")
        self.display_text = _text(desc, "display-text")
        self.subject = _text(desc, "subject")
        # read for our own checks: sipsimple maps every "entry" to one class and loses these
        self.conf_uris = [e.findtext(_q(CI, "uri")) for e in
                          desc.findall(f"{_q(CI, 'conf-uris')}/{_q(CI, 'entry')}")]
        files = desc.find(f"{_q(AGP, 'resources')}/{_q(AGP, 'files')}")
        self.files = _items(files, "file", File, ns=AGP) if files is not None else []
        state = root.find(_q(CI, "conference-state"))
        self.user_count = int(_text(state, "user-count")) if state is not None else None
        self.users = _items(users, "user", User)

    def user(self, entity):
        return next((u for u in self.users if u.entity == entity), None)


def parse(body):
    """A document (bytes, or a parsed ElementTree root) as Blink reads it."""
    return ConferenceInfo(body)


class Watcher:
    """A conference-info subscription from a SipUA: subscribe, refresh, unsubscribe, and the
    NOTIFYs that follow (each answered 200)."""

    def __init__(self, ua, server, room, expires=120):
        self.ua = ua
        self.uri = f"sip:{room}@127.0.0.1:{server.sip_port}"
        self.expires = expires
        self.dialog = None
        self.seen = set()  # CSeq of the NOTIFYs answered

    def subscribe(self):
        from sip_client import Dialog
        req = self.ua.new_request("SUBSCRIBE", self.uri, extra=[
            ("Event", "conference"), ("Expires", str(self.expires)),
            ("Accept", "application/conference-info+xml")])
        r = self.ua.transaction(req)
        assert r.status in (200, 202), r.text
        d = Dialog(self.ua, self.uri, req.get("Call-ID"), req.tag("From"), self.ua.aor,
                   self.uri, 1)
        d.remote_tag = r.tag("To")
        d.remote_target = r.contact_uri() or self.uri
        d.route_set = list(reversed(r.get_all("Record-Route")))
        self.dialog = d
        return r

    def resubscribe(self, expires):
        """A refresh (expires > 0) or an unsubscribe (0) in the subscription's dialog."""
        return self.dialog.request("SUBSCRIBE", extra=[
            ("Event", "conference"), ("Expires", str(expires)),
            ("Accept", "application/conference-info+xml")])

    def notify(self, timeout=5):
        """The next NOTIFY, answered; a retransmission of one seen (its 200 was late) is
        answered again and skipped, as a transaction layer would."""
        import time
        deadline = time.time() + timeout
        while True:
            n = self.ua.wait_request("NOTIFY", timeout=max(deadline - time.time(), 0.01))
            self.ua.respond(n, 200)
            if n.get("CSeq") not in self.seen:
                self.seen.add(n.get("CSeq"))
                return n
