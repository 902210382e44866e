"""The conference plugin with our own RFC 4975 client (test/peers/msrp_client.py) and SIP UA
(test/peers/sip_client.py): a room made by the first INVITE, chat relayed in CPIM (public to
all, private to one, history replayed to a late joiner, server notices, nicknames with 425 on a
collision, is-composing relayed), refusals (spoofed From 403, unknown addressee 404, types
415), the access policy (403), and RFC 4575 conference-info NOTIFYs, each validated against the
RFC's schema with xmllint, with versions that grow as people come and go."""
import math
import os
import re
import socket
import subprocess
import xml.etree.ElementTree as ET

import pytest

import conference_info
from conftest import ROOT
from msrp_client import MsrpClient, answer_path, cpim_parse, cpim_wrap, msrp_sdp_offer
from sip_client import SipUA, parse_sdp, sdp_offer

SCHEMA = os.path.join(ROOT, "test", "data", "conference", "conference-info.xsd")
NS = {"ci": "urn:ietf:params:xml:ns:conference-info"}
COMPOSING = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
             '<state>active</state><refresh>60</refresh></isComposing>')


class Member:
    """One participant: a SIP UA with its own user name and an MSRP client in the room."""

    def __init__(self, server, user, room="room1"):
        self.server = server
        self.ua = SipUA(("127.0.0.1", server.sip_port), user=user)
        self.user = user
        self.uri = f"sip:{user}@127.0.0.1"
        self.room = f"sip:{room}@127.0.0.1"
        self.msrp = MsrpClient(tls=True)
        self.dialog = None

    def join(self, from_uri=None, accept_types=("message/cpim",), audio_port=None, extra=()):
        offer = msrp_sdp_offer("127.0.0.1", self.msrp.local_port, self.msrp.sdp_path,
                               accept_types=accept_types)
        if audio_port:
            offer = sdp_offer(audio_port) + b"m=message" + offer.split(b"m=message", 1)[1]
        self.offer = offer
        self.dialog = self.ua.invite(f"{self.room}:{self.server.sip_port}", sdp=offer,
                                     from_uri=from_uri, extra=extra)
        if self.dialog.response.status != 200:
            return self.dialog.response
        self.dialog.ack()
        self.msrp.connect(answer_path(self.dialog.response.body))
        self.msrp.send_empty()
        return self.dialog.response

    def say(self, text, to=None, from_uri=None, content_type="text/plain"):
        body = cpim_wrap(from_uri or self.uri, to or self.room, text, content_type=content_type)
        return self.msrp.send_message(body, content_type="message/cpim")

    def expect(self, text, timeout=5):
        """The next chat message whose payload is `text` -> (cpim headers dict, body)."""
        def match(m):
            try:
                return cpim_parse(m.body)[2] == text.encode()
            except Exception:
                return False
        m = self.msrp.receive_message(timeout=timeout, match=match)
        headers, content, body = cpim_parse(m.body)
        return dict(headers), content

    def expect_notice(self, words, timeout=5):
        def match(m):
            try:
                headers, _, body = cpim_parse(m.body)
            except Exception:
                return False
            return words in body.decode("utf-8", "replace") and \
                dict(headers).get("agp.Message-Type") == "status"
        m = self.msrp.receive_message(timeout=timeout, match=match)
        headers, content, _ = cpim_parse(m.body)
        return dict(headers), content

    def nothing(self, text, wait=0.5):
        try:
            self.expect(text, timeout=wait)
        except AssertionError:
            return True
        return False

    def leave(self):
        if self.dialog and self.dialog.response.status == 200:
            self.dialog.bye()
        self.close()

    def close(self):
        self.msrp.close()
        self.ua.close()


@pytest.fixture
def members(server):
    made = []

    def make(user, room="room1"):
        m = Member(server, user, room)
        made.append(m)
        return m
    yield make
    for m in made:
        m.close()


def nickname(member, name):
    """NICKNAME (RFC 7701) on the member's MSRP session: the response status."""
    from msrp_client import make_request
    f = member.msrp.send_frame(make_request("NICKNAME", member.msrp.to_path,
                                            [member.msrp.local_uri],
                                            [("Use-Nickname", f'"{name}"')]))
    return member.msrp.wait_response(f.transaction_id).status


def test_chat_room(server, members):
    alice, bob, carol = members("alice"), members("bob"), members("carol")
    assert alice.join().status == 200
    headers, _ = alice.expect_notice("You are the first participant")
    assert headers["From"] == '"Conference Room" <sip:room1@127.0.0.1>', headers
    assert alice.say("before you came").ok

    assert bob.join().status == 200
    bob.expect_notice("1 other participant is present")
    old, _ = bob.expect("before you came")  # the history, with the original sender
    assert "sip:alice@127.0.0.1" in old["From"] and "DateTime" in old
    alice.expect_notice("bob@127.0.0.1 has joined the room with chat")
    assert carol.join().status == 200
    carol.expect("before you came")

    assert alice.say("hello everyone").ok
    for m in (bob, carol):
        headers, content = m.expect("hello everyone")
        assert headers["From"] == '"alice@127.0.0.1" <sip:alice@127.0.0.1>', headers
        assert headers["To"] == "<sip:room1@127.0.0.1>", headers
        assert content["Content-Type"] == "text/plain"
    assert alice.nothing("hello everyone")  # not echoed to its sender

    assert alice.say("just for bob", to="sip:bob@127.0.0.1").ok
    headers, _ = bob.expect("just for bob")
    assert headers["To"] == "<sip:bob@127.0.0.1>"
    assert carol.nothing("just for bob")

    assert alice.say("to nobody", to="sip:dave@127.0.0.1").statuses == [404]
    assert alice.say("as carol", from_uri="sip:carol@127.0.0.1").statuses == [403]
    assert alice.say("binary", content_type="application/octet-stream").statuses == [415]
    plain = alice.msrp.send_message(b"not wrapped", content_type="text/plain")
    assert plain.statuses == [415]
    assert bob.nothing("as carol") and bob.nothing("not wrapped")

    assert nickname(alice, "Wonder") == 200
    bob.expect_notice("alice@127.0.0.1 is now known as Wonder")
    assert nickname(bob, "Wonder") == 425
    assert alice.say("with a nickname").ok
    headers, _ = carol.expect("with a nickname")
    assert headers["From"] == '"Wonder" <sip:alice@127.0.0.1>', headers

    composing = cpim_wrap(alice.uri, alice.room, COMPOSING,
                          content_type="application/im-iscomposing+xml")
    assert alice.msrp.send_message(composing, content_type="message/cpim").ok
    for m in (bob, carol):
        typing = m.msrp.receive_message(
            timeout=5, match=lambda x: b"isComposing" in x.body)
        headers, content, body = cpim_parse(typing.body)
        assert b"<state>active</state>" in body and "alice@127.0.0.1" in dict(headers)["From"]

    carol.leave()
    bob.expect_notice("carol@127.0.0.1 has left the room after")
    assert server.alive()


def test_chat_needs_cpim(server, members):
    dave = members("dave")
    assert dave.join(accept_types=("text/plain",)).status == 488


def validate(body):
    path = os.path.join(os.environ.get("PYTEST_TMP", "/tmp"), f"ci-{os.getpid()}.xml")
    with open(path, "wb") as f:
        f.write(body)
    r = subprocess.run(["xmllint", "--noout", "--schema", SCHEMA, path], capture_output=True,
                       text=True)
    os.unlink(path)
    assert r.returncode == 0, r.stderr + body.decode()
    return ET.fromstring(body)


def users_of(doc):
    return sorted(u.get("entity") for u in doc.findall("ci:users/ci:user", NS))


def next_notify(ua, timeout=5):
    n = ua.wait_request("NOTIFY", timeout=timeout)
    ua.respond(n, 200)
    return n


def subscribe(watcher, server, room, expires=120):
    """The watcher (a SipUA) subscribes to the room's conference-info: the first NOTIFY's
    document, schema-validated."""
    uri = f"sip:{room}@127.0.0.1:{server.sip_port}"
    r = watcher.transaction(watcher.new_request("SUBSCRIBE", uri, extra=[
        ("Event", "conference"), ("Expires", str(expires))]))
    assert r.status in (200, 202), r.text
    return validate(next_notify(watcher).body)


def test_conference_info(server, members):
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    try:
        room = f"sip:room2@127.0.0.1:{server.sip_port}"
        sub = [("Event", "conference"), ("Expires", "60"),
               ("Accept", "application/conference-info+xml")]
        assert watcher.request("SUBSCRIBE", room, extra=sub).status == 480  # not started

        alice = members("alice", room="room2")
        assert alice.join(extra=[("Subject", "Quarterly <review> & plans")]).status == 200
        req = watcher.new_request("SUBSCRIBE", room, extra=sub)
        assert watcher.transaction(req).status in (200, 202)
        first = next_notify(watcher)
        assert first.get("Content-Type") == "application/conference-info+xml"
        doc = validate(first.body)
        assert doc.get("entity") == "sip:room2@127.0.0.1" and doc.get("state") == "full"
        # what Blink reads of it, and the focus URI in conf-uris as SylkServer has it
        read = conference_info.parse(first.body)
        assert [(u.entity, u.display_text, u.media_types()) for u in read.users] == \
            [("sip:alice@127.0.0.1", "alice@127.0.0.1", ["message"])]
        assert read.users[0].endpoints[0].status == "connected"
        assert read.conf_uris == ["sip:room2@127.0.0.1"]
        assert users_of(doc) == ["sip:alice@127.0.0.1"]
        # the Subject of the INVITE that started the room, escaped in the XML
        assert doc.find("ci:conference-description/ci:subject", NS).text == \
            "Quarterly <review> & plans"
        media = doc.findall("ci:users/ci:user/ci:endpoint/ci:media/ci:type", NS)
        assert [m.text for m in media] == ["message"]
        versions = [int(doc.get("version"))]

        bob = members("bob", room="room2")
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        assert bob.join(audio_port=rtp.getsockname()[1]).status == 200
        doc = validate(next_notify(watcher).body)
        versions.append(int(doc.get("version")))
        assert users_of(doc) == ["sip:alice@127.0.0.1", "sip:bob@127.0.0.1"]
        assert doc.find("ci:conference-state/ci:user-count", NS).text == "2"
        bob_ep = "ci:users/ci:user[@entity='sip:bob@127.0.0.1']/ci:endpoint"
        assert sorted(m.text for m in doc.findall(bob_ep + "/ci:media/ci:type", NS)) == \
            ["audio", "message"]
        assert doc.find(bob_ep + "/ci:status", NS).text == "connected"

        from test_dialogs import reinvite
        held = reinvite(bob.dialog, bob.offer.replace(b"a=sendrecv", b"a=sendonly", 1))
        assert held.status == 200, held.text
        bob.dialog.ack()
        doc = validate(next_notify(watcher).body)
        versions.append(int(doc.get("version")))
        assert doc.find(bob_ep + "/ci:status", NS).text == "on-hold"
        rtp.close()

        bob.leave()
        doc = validate(next_notify(watcher).body)
        versions.append(int(doc.get("version")))
        assert users_of(doc) == ["sip:alice@127.0.0.1"]
        assert versions == sorted(versions) and len(set(versions)) == 4, versions

        alice.leave()  # the room ends: the subscription with it
        last = next_notify(watcher)
        assert "terminated" in last.get("Subscription-State"), last.text
        if last.body:  # a document in the final NOTIFY is a new one: a higher version
            assert int(validate(last.body).get("version")) > versions[-1], last.text
        assert server.alive()
    finally:
        watcher.close()


def test_access_policy(server_factory, members):
    server = server_factory(plugin_configs={"conference": {
        "conference": {"access_policy": "allow,deny", "allow": "all",
                       "deny": "evil.example.com"},
        "vip@127.0.0.1": {"access_policy": "allow,deny", "allow": "alice@127.0.0.1"}}}).start()
    eve = Member(server, "eve")
    bob = Member(server, "bob", room="vip")
    alice = Member(server, "alice", room="vip")
    try:
        assert eve.join(from_uri="sip:eve@evil.example.com").status == 403
        assert bob.join().status == 403
        assert alice.join().status == 200
        watcher = SipUA(("127.0.0.1", server.sip_port), user="bob")
        try:
            r = watcher.request("SUBSCRIBE", f"sip:vip@127.0.0.1:{server.sip_port}",
                                extra=[("Event", "conference"), ("Expires", "60")])
            assert r.status == 403
        finally:
            watcher.close()
        alice.leave()
    finally:
        for m in (eve, bob, alice):
            m.close()


def test_audio_room_mix_minus(server, ua_factory):
    """Three audio participants in PCMU, G.722 and opus join one room: each hears the other
    two tones in its own codec, and not its own."""
    import time
    from test_mixer import Participant, talk_together
    ua = ua_factory(server)
    freqs = (500, 900, 1300)
    parts = [Participant(ua, server, "room9", c) for c in ("PCMU", "G722", "opus")]
    deadline = time.time() + 5
    while server.log().count("joined with audio") < 3 and time.time() < deadline:
        time.sleep(0.05)
    talk_together(parts, freqs)
    for p, own in zip(parts, freqs):
        others = [p.level(f) for f in freqs if f != own]
        assert min(others) > 1500, f"{p.codec} hears too little of the others: {others}"
        assert p.level(own) < min(others) / 20, f"{p.codec} hears itself: {p.level(own)}"
    for p in parts:
        p.close()
    server.wait_log("room sip:room9@127.0.0.1 ended")


def test_refer_invite_and_bye(server, members, tmp_path):
    """RFC 4579: a participant REFERs the room to a target (method INVITE): 202, the room calls
    the target with audio and chat as "Conference Call" with Referred-By, sipfrag NOTIFYs
    report 100 then 200, the target shows up in conference-info; method BYE ends its session.
    In-dialog REFER 403, another method 488, a REFER to a room that does not exist 404."""
    from msrp_client import EchoServer, make_self_signed_cert, parse_msrp_sdp
    alice = members("alice", room="room5")
    assert alice.join().status == 200
    room = f"sip:room5@127.0.0.1:{server.sip_port}"
    target = SipUA(("127.0.0.1", server.sip_port), user="target")
    cert, key = make_self_signed_cert(str(tmp_path))
    listener = EchoServer(tls=True, certfile=cert, keyfile=key, echo=False).start()
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    try:
        to = f"<sip:target@127.0.0.1:{target.port}>"
        r = alice.ua.request("REFER", room, extra=[("Refer-To", to)])
        assert r.status == 202, r.text
        invite = target.wait_request("INVITE", timeout=10)
        assert "Conference Call" in invite.get("From") and "room5@127.0.0.1" in invite.get("From")
        assert "sip:alice@127.0.0.1" in invite.get("Referred-By"), invite.text
        # RFC 4579 section 3: the focus says so in its Contact, at our address
        assert invite.get("Contact") == f"<sip:room5@127.0.0.1:{server.sip_port}>;isfocus", \
            invite.get("Contact")
        offer = parse_msrp_sdp(invite.body)
        assert offer and offer["setup"] == "actpass", invite.text
        # RFC 7701: the room's own call says its chat takes nicknames, as its answers do
        assert b"a=chatroom:nickname private-messages" in invite.body, invite.text
        answer = sdp_offer(rtp.getsockname()[1]) + b"m=message" + msrp_sdp_offer(
            "127.0.0.1", listener.port, listener.uri, setup="passive",
            accept_types=("message/cpim",)).split(b"m=message", 1)[1]
        target.respond(invite, 180)
        target.respond(invite, 200, body=answer, content_type="application/sdp",
                       headers=[("Contact", f"<sip:target@127.0.0.1:{target.port}>")],
                       to_tag="tgt1")
        frags = []
        while not frags or not frags[-1].startswith("SIP/2.0 2"):
            n = alice.ua.wait_request("NOTIFY", timeout=10)
            alice.ua.respond(n, 200)
            if n.body:
                frags.append(n.body.decode().strip())
        assert frags[0].startswith("SIP/2.0 100") and frags[-1].startswith("SIP/2.0 200"), frags
        alice.expect_notice("target@127.0.0.1 has joined the room with audio and chat")
        assert listener.wait_received(1, timeout=10)  # its welcome, over the room's connection
        assert b"Welcome to the conference" in listener.received[0].body

        r = alice.ua.request("REFER", room,
                             extra=[("Refer-To", "<sip:target@127.0.0.1;method=BYE>")])
        assert r.status == 202
        bye = target.wait_request("BYE", timeout=10)
        target.respond(bye, 200)
        alice.expect_notice("target@127.0.0.1 has left the room")

        assert alice.ua.request("REFER", room, extra=[
            ("Refer-To", "<sip:x@127.0.0.1;method=OPTIONS>")]).status == 488
        assert alice.dialog.request("REFER", extra=[("Refer-To", to)]).status == 403
        nowhere = f"sip:noroom@127.0.0.1:{server.sip_port}"
        assert alice.ua.request("REFER", nowhere, extra=[("Refer-To", to)]).status == 404
        assert alice.ua.request("REFER", room).status == 400  # no Refer-To
        assert server.alive()
    finally:
        listener.stop()
        rtp.close()
        target.close()


def test_join_prompts(server, ua_factory):
    """An audio newcomer alone hears two falling tones (2200, 1800 Hz); one who finds others
    hears 1800 Hz beeps kept apart by 2400 Hz ticks, and no 2200 Hz."""
    from test_mixer import Participant
    ua = ua_factory(server)
    first = Participant(ua, server, "room6", "PCMU")
    first.talk(300, seconds=1.5, amplitude=500)
    assert first.level(2200) > 500 and first.level(1800) > 500, \
        (first.level(2200), first.level(1800))
    assert first.level(2400) < first.level(1800) / 10
    second = Participant(ua, server, "room6", "G722")
    second.talk(300, seconds=1.5, amplitude=500)
    # one 150 ms beep and a 60 ms tick in 1.5 s of listening
    assert second.level(1800) > 100 and second.level(2400) > 40, \
        (second.level(1800), second.level(2400))
    assert second.level(2200) < second.level(1800) / 10
    first.close()
    second.close()


def test_bad_chat_input_leaves_room_intact(server, members):
    """Garbage in CPIM gets 400, a message over the 16 MiB limit 413; the room goes on."""
    alice, bob = members("alice", room="room7"), members("bob", room="room7")
    assert alice.join().status == 200 and bob.join().status == 200
    garbage = alice.msrp.send_message(b"this is not\r\na CPIM message", content_type="message/cpim")
    assert garbage.statuses == [400], garbage
    big = alice.msrp.send_chunks([b"x" * 2048], content_type="message/cpim",
                                 total=17 * 1024 * 1024, flags=["+"])
    assert big.statuses == [413], big
    assert alice.say("still here").ok
    bob.expect("still here")
    assert server.alive()


def test_sipp_room_and_watcher(server, sipp):
    """sipp as the participants and the watcher: one joins room4 with audio, sipp SUBSCRIBEs
    and gets a NOTIFY listing it, a second one joins and the next NOTIFY lists both; the
    watcher unsubscribes and gets its final NOTIFY; both calls end with BYE."""
    import threading
    import time
    from conftest import assert_sipp_ok
    results = {}

    def join(user, pause_ms):
        results[user] = sipp.run("conference_join.xml", server.sip_port, service="room4",
                                 keys={"user": user}, duration_ms=pause_ms, timeout=30)
    first = threading.Thread(target=join, args=("anna", 6000))
    first.start()
    deadline = time.time() + 10
    while "sip:anna@127.0.0.1 joined" not in server.log() and time.time() < deadline:
        time.sleep(0.05)
    second = threading.Timer(1.0, join, args=("boris", 1000))
    second.start()
    watcher = sipp.run("conference_subscribe.xml", server.sip_port, service="room4",
                       timeout=30)
    second.join()
    first.join()
    assert_sipp_ok(watcher)
    assert_sipp_ok(results["anna"])
    assert_sipp_ok(results["boris"])
    server.wait_log("room sip:room4@127.0.0.1 ended")


def test_focus_contact(server, members):
    """The 200 to a participant's INVITE has Contact <sip:room@server>;isfocus (RFC 4579)."""
    alice = members("alice", room="room12")
    r = alice.join()
    assert r.status == 200
    assert r.get("Contact") == f"<sip:room12@127.0.0.1:{server.sip_port}>;isfocus", r.text
    alice.leave()


def with_audio(offer, port, enabled=True):
    """`offer` (audio-less) with an m=audio line for `port` appended."""
    audio = sdp_offer(port).split(b"m=audio", 1)[1]
    if not enabled:
        audio = b" 0" + audio.split(b" ", 2)[2]
    return offer + b"m=audio" + audio


def disable(offer, kind):
    """`offer` with the m= line of `kind` (b"message", b"audio") at port 0."""
    head, tail = offer.split(b"m=" + kind + b" ", 1)
    return head + b"m=" + kind + b" 0 " + tail.split(b" ", 1)[1]


def media_of(doc, user):
    ep = f"ci:users/ci:user[@entity='sip:{user}@127.0.0.1']/ci:endpoint"
    return sorted(m.text for m in doc.findall(ep + "/ci:media/ci:type", NS))


def test_reinvite_adds_and_removes_media(server, members):
    """A chat-only participant adds audio by re-INVITE: it is mixed (it and an audio participant
    hear each other), the room is told and conference-info lists both media; it then drops
    chat (port 0), and the other drops audio: notices and NOTIFYs follow each change."""
    from test_dialogs import reinvite
    from test_mixer import Participant  # noqa: F401 (codec table)
    import threading
    import rtp_tone
    alice, bob = members("alice", room="room11"), members("bob", room="room11")
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    a_rtp, b_rtp = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    try:
        for sock in (a_rtp, b_rtp):
            sock.bind(("127.0.0.1", 0))
        assert alice.join().status == 200
        assert bob.join(audio_port=b_rtp.getsockname()[1]).status == 200
        doc = subscribe(watcher, server, "room11")
        assert media_of(doc, "alice") == ["message"], media_of(doc, "alice")

        offer = with_audio(alice.offer, a_rtp.getsockname()[1])
        r = reinvite(alice.dialog, offer)
        assert r.status == 200, r.text
        alice.dialog.ack()
        answer = parse_sdp(r.text)["media"]
        assert [m["type"] for m in answer] == ["message", "audio"] and answer[1]["port"], answer
        bob.expect_notice("alice@127.0.0.1 has added audio")
        doc = validate(next_notify(watcher).body)
        assert media_of(doc, "alice") == ["audio", "message"]

        b_media = parse_sdp(bob.dialog.response.text)["media"][0]
        reports = {}

        def talk(name, sock, media, freq):
            reports[name] = rtp_tone.run(media["c"], media["port"], "PCMU", 0, freq, 2.5,
                                         sock=sock, keep_audio=True)
        threads = [threading.Thread(target=talk, args=("alice", a_rtp, answer[1], 500)),
                   threading.Thread(target=talk, args=("bob", b_rtp, b_media, 900))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        def level(report, freq):
            audio = report["audio"]
            return 2 * math.sqrt(rtp_tone.goertzel_power(audio, report["rate"], freq)) / len(audio)
        assert level(reports["bob"], 500) > 1500, level(reports["bob"], 500)
        assert level(reports["alice"], 900) > 1500, level(reports["alice"], 900)

        offer = disable(offer, b"message")
        r = reinvite(alice.dialog, offer)
        assert r.status == 200, r.text
        alice.dialog.ack()
        bob.expect_notice("alice@127.0.0.1 has removed chat")
        doc = validate(next_notify(watcher).body)
        assert media_of(doc, "alice") == ["audio"]

        r = reinvite(bob.dialog, disable(bob.offer, b"audio"))
        assert r.status == 200, r.text
        bob.dialog.ack()
        doc = validate(next_notify(watcher).body)
        assert media_of(doc, "bob") == ["message"]
        server.wait_log("bob@127.0.0.1 removed audio")
        bob.leave()
        alice.leave()
        assert server.alive()
    finally:
        watcher.close()
        a_rtp.close()
        b_rtp.close()


def test_music_on_hold(server_factory, ua_factory, tmp_path):
    """music_on_hold: whoever is alone with audio hears the file, looping, after the join
    prompt; it stops when a second participant joins."""
    from test_mixer import Participant, talk_together, write_wav
    moh = tmp_path / "moh.wav"
    write_wav(moh, 700, 1.0)
    server = server_factory(plugin_configs={"conference": {
        "conference": {"music_on_hold": str(moh)}}}).start()
    ua = ua_factory(server)
    first = Participant(ua, server, "room10", "PCMU")
    first.talk(300, seconds=4.0, amplitude=500)
    # 0.4 s + 0.65 s of prompt, then the 1 s file: the last 1.5 s is its second round or more
    assert first.level(700, start=2.0) > 1000, first.level(700, start=2.0)
    second = Participant(ua, server, "room10", "G722")
    talk_together([first, second], (500, 900), seconds=3.0)
    assert first.level(900, start=1.0) > 1000
    assert first.level(700, start=1.0) < first.level(900, start=1.0) / 20, \
        (first.level(700, start=1.0), first.level(900, start=1.0))
    first.close()
    second.close()


def test_music_on_hold_missing_file_refused(server_factory):
    """A music_on_hold file that does not exist is a configuration error, found when the
    plugin's file is loaded (as --check-config does): the server does not start, and its log
    names conference.ini, the line and the key."""
    server = server_factory(plugin_configs={"conference": {
        "conference": {"music_on_hold": "/nonexistent/moh.wav"}}})
    server.start(wait=False)
    assert server.proc.wait(15) != 0
    server.logf.close()
    log = server.log()
    assert re.search(r"conference\.ini:\d+: \[conference\] music_on_hold: .*/nonexistent/moh\.wav",
                     log), log[-2000:]
    assert "sylkserver ready" not in log


def test_refer_dials_sipp_target(server, members, sipp):
    """RFC 4579 with sipp as the target: a participant REFERs the room to a sipp UAS; the
    room's INVITE (checked by the scenario: "Conference Call", Referred-By, isfocus, audio and
    chat offered) rings and is answered with audio; the conference-info watcher sees the
    target dialing-out, alerting, then connected with audio; REFER method=BYE removes it, and
    the next NOTIFY lists alice alone."""
    from conftest import assert_sipp_ok, free_port
    alice = members("alice", room="room14")
    assert alice.join().status == 200
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    uas_port = free_port()
    finish = sipp.start_uas("conference_refer_target.xml", uas_port, timeout=40)
    try:
        room = f"sip:room14@127.0.0.1:{server.sip_port}"
        assert users_of(subscribe(watcher, server, "room14")) == ["sip:alice@127.0.0.1"]
        target = f"<sip:target@127.0.0.1:{uas_port}>"
        assert alice.ua.request("REFER", room, extra=[("Refer-To", target)]).status == 202
        target_ep = "ci:users/ci:user[@entity='sip:target@127.0.0.1']/ci:endpoint"
        states = []
        while not states or states[-1] != "connected":
            doc = validate(next_notify(watcher, timeout=10).body)
            status = doc.find(target_ep + "/ci:status", NS)
            if status is not None and (not states or states[-1] != status.text):
                states.append(status.text)
        assert states == ["dialing-out", "alerting", "connected"], states
        assert media_of(doc, "target") == ["audio"]
        # RFC 4575 5.6.3: the room called the target, alice called the room
        read = conference_info.parse(doc)
        joined = {u.entity: u.endpoints[0].joining_method for u in read.users}
        assert joined == {"sip:alice@127.0.0.1": "dialed-in",
                          "sip:target@127.0.0.1": "dialed-out"}, joined
        alice.expect_notice("target@127.0.0.1 has joined the room with audio")

        bye = f"<sip:target@127.0.0.1:{uas_port};method=BYE>"
        assert alice.ua.request("REFER", room, extra=[("Refer-To", bye)]).status == 202
        doc = validate(next_notify(watcher, timeout=10).body)
        assert users_of(doc) == ["sip:alice@127.0.0.1"]
        assert_sipp_ok(finish())
        alice.leave()
    finally:
        watcher.close()


def test_subscription_expires(server, members):
    """A conference-info subscription that is not refreshed ends at its expiry with a final
    NOTIFY (terminated), and the room sends it nothing more."""
    import time
    alice = members("alice", room="room15")
    assert alice.join().status == 200
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    try:
        room = f"sip:room15@127.0.0.1:{server.sip_port}"
        sub = [("Event", "conference"), ("Expires", "3")]
        r = watcher.transaction(watcher.new_request("SUBSCRIBE", room, extra=sub))
        assert r.status in (200, 202), r.text
        first = next_notify(watcher)
        assert "active" in first.get("Subscription-State"), first.text
        started = time.time()
        last = next_notify(watcher, timeout=10)
        assert last.get("Subscription-State") == "terminated;reason=timeout", last.text
        assert not last.body, last.text  # never the previous document again
        assert 2 <= time.time() - started <= 6
        bob = members("bob", room="room15")
        assert bob.join().status == 200
        alice.expect_notice("bob@127.0.0.1 has joined")
        assert watcher.wait(lambda m: m.is_request and m.method == "NOTIFY", 1.0) is None
    finally:
        watcher.close()


def test_nickname_in_conference_info(server, members):
    """A nickname set, changed and cleared is the user's display-text in the next NOTIFY."""
    alice = members("alice", room="room16")
    assert alice.join().status == 200
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    user = "ci:users/ci:user[@entity='sip:alice@127.0.0.1']/ci:display-text"
    try:
        assert subscribe(watcher, server, "room16").find(user, NS).text == "alice@127.0.0.1"
        for name, shown in (("Wonder", "Wonder"), ("Alice <&> Co", "Alice <&> Co"),
                            ("", "alice@127.0.0.1")):
            assert nickname(alice, name) == 200
            doc = validate(next_notify(watcher).body)
            assert doc.find(user, NS).text == shown
    finally:
        watcher.close()


def test_versions_per_subscriber(server, members):
    """RFC 4575 section 5.1: versions are scoped within a subscription, start at 0 and rise by one with
    every document sent to it: the first NOTIFY, each change, a refresh's NOTIFY and the final
    NOTIFY of an un-SUBSCRIBE each carry a new document with the next version (sofia-sip used
    to re-send the previous document under its old version for a refresh and an un-SUBSCRIBE).
    Two subscribers, each in its own order."""
    from conference_info import Watcher
    alice = members("alice", room="room17")
    assert alice.join().status == 200
    uas = [SipUA(("127.0.0.1", server.sip_port), user=f"watcher{i}") for i in (1, 2)]
    try:
        first, second = (Watcher(ua, server, "room17") for ua in uas)
        last = {first: -1, second: -1}  # versions start at 0

        def document(w, state="active"):
            n = w.notify()
            assert state in n.get("Subscription-State"), n.text
            assert n.body, n.text
            version = int(validate(n.body).get("version"))
            assert version == last[w] + 1, (w.ua.user, last[w], n.text)
            last[w] = version

        first.subscribe()
        document(first)
        assert first.resubscribe(60).status == 200  # a refresh
        document(first)
        second.subscribe()
        document(second)
        bob = members("bob", room="room17")
        assert bob.join().status == 200
        document(first)
        document(second)
        assert second.resubscribe(60).status == 200
        document(second)
        assert first.resubscribe(0).status == 200  # unsubscribe: its final NOTIFY
        document(first, state="terminated")
        bob.leave()
        document(second)
        assert uas[0].wait(lambda m: m.is_request and m.method == "NOTIFY", 0.5) is None
        alice.leave()  # the room ends: its final NOTIFY carries no document
        n = second.notify()
        assert "terminated" in n.get("Subscription-State"), n.text
        assert not n.body, n.text
        assert uas[1].wait(lambda m: m.is_request and m.method == "NOTIFY", 0.5) is None
    finally:
        for ua in uas:
            ua.close()


def test_subscription_fetch(server, members):
    """SUBSCRIBE with Expires: 0 fetches the state (RFC 6665 section 4.4.3): 200 with Expires 0,
    then one NOTIFY, terminated, carrying the document; nothing after it."""
    alice = members("alice", room="room18")
    assert alice.join().status == 200
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    try:
        room = f"sip:room18@127.0.0.1:{server.sip_port}"
        sub = [("Event", "conference"), ("Expires", "0")]
        r = watcher.transaction(watcher.new_request("SUBSCRIBE", room, extra=sub))
        assert r.status == 200 and r.get("Expires") == "0", r.text
        n = next_notify(watcher)
        assert n.get("Subscription-State").startswith("terminated"), n.text
        doc = validate(n.body)
        assert doc.get("version") == "0" and users_of(doc) == ["sip:alice@127.0.0.1"]
        assert watcher.wait(lambda m: m.is_request and m.method == "NOTIFY", 1.0) is None
    finally:
        watcher.close()