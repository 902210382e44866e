"""Files shared in a conference room (RFC 5547 over MSRP) with our own MSRP client
(test/peers/msrp_client.py): uploads (1 KB, 5 MB) checked by size and SHA-1 before they are
published, announced in the chat and listed in conference-info (agp-conf resources, schema
valid); pulls by late joiners, byte for byte; a hash mismatch is never listed; limits and
unsafe names; a kill -9 in the middle of an upload and a restart list only complete files;
push_file_transfer offers each new file to the other participants."""
import hashlib
import os
import signal
import time

import pytest

import conference_info
from msrp_client import EchoServer, MsrpClient, answer_path, make_self_signed_cert, \
    msrp_sdp_offer, parse_msrp_sdp
from sip_client import SipUA
from test_conference import Member, next_notify, nickname, subscribe, validate


def selector(data, name, ctype="application/octet-stream", digest_of=None):
    digest = hashlib.sha1(digest_of if digest_of is not None else data).hexdigest().upper()
    pairs = ":".join(digest[i:i + 2] for i in range(0, 40, 2))
    return f'a=file-selector:name:"{name}" type:{ctype} size:{len(data)} hash:sha-1:{pairs}', pairs


class FileSession:
    """One file-transfer INVITE to the room: a push (sendonly) or a pull (recvonly)."""

    def __init__(self, server, user, room, line, direction):
        self.ua = SipUA(("127.0.0.1", server.sip_port), user=user)
        self.client = MsrpClient(tls=True)
        offer = msrp_sdp_offer("127.0.0.1", self.client.local_port, self.client.sdp_path,
                               accept_types=("*",), extra_lines=[line, f"a={direction}"])
        self.dialog = self.ua.invite(f"sip:{room}@127.0.0.1:{server.sip_port}", sdp=offer)
        self.response = self.dialog.response
        if self.response.status == 200:
            self.dialog.ack()
            self.client.connect(answer_path(self.response.body))

    def close(self):
        self.client.close()
        self.ua.close()


@pytest.fixture
def files_server(server_factory, tmp_path):
    def make(**options):
        conf = {"files_dir": str(tmp_path / "files")}
        conf.update(options)
        return server_factory(plugin_configs={"conference": {"conference": conf}}).start()
    return make


def files_of(doc):
    """[(name, hash, size, sender, status)] a sipsimple-based client (Blink) reads in a
    conference-info document (schema-validated), each file checked the way Blink uses it: its
    sender is a SIP URI or name-addr, its hash a FileSelector hash."""
    out = []
    for f in conference_info.parse(doc).files:
        f.sender_uri()
        f.selector_hash()
        out.append((f.name, f.hash, f.size, f.sender, f.status))
    return out


def upload(server, user, room, data, name, **kw):
    line, pairs = selector(data, name, **kw)
    up = FileSession(server, user, room, line, "sendonly")
    assert up.response.status == 200, up.response.text
    assert "recvonly" in parse_msrp_sdp(up.response.body)["attrs"]
    sent = up.client.send_message(data, content_type="application/octet-stream",
                                  chunk_size=16384, wait="all", timeout=30)
    assert sent.ok, sent
    return up, pairs


def test_upload_listed_and_pulled(files_server, tmp_path):
    server = files_server()
    alice, bob = Member(server, "alice", "files1"), Member(server, "bob", "files1")
    watcher = None
    try:
        assert alice.join().status == 200 and bob.join().status == 200
        watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
        doc = subscribe(watcher, server, "files1")
        assert files_of(doc) == []
        small, big = os.urandom(1024), os.urandom(5 << 20)
        # as Blink reads it: attributes, the hash as "sha1:" and upper-case pairs, the sender
        # as the URI, or "Display <URI>" once the sender has a name in the room
        for data, name, who in ((small, "notes.txt", "alice@127.0.0.1"),
                                (big, "video.bin", "Alice Liddell")):
            if who == "Alice Liddell":
                assert nickname(alice, who) == 200
                validate(next_notify(watcher).body)
            up, pairs = upload(server, "alice", "files1", data, name)
            size_text = "1.0 kB" if data is small else "5.2 MB"
            bob.expect_notice(f"{who} has uploaded file {name} ({size_text})", timeout=20)
            doc = validate(next_notify(watcher, timeout=10).body)
            sender = "sip:alice@127.0.0.1" if data is small else \
                "Alice Liddell <sip:alice@127.0.0.1>"
            assert (name, f"sha1:{pairs}", len(data), sender, "OK") in files_of(doc), \
                files_of(doc)
            stored = tmp_path / "files" / "files1@127.0.0.1" / "files" / name
            assert stored.read_bytes() == data
            up.close()
        # a late joiner pulls the big one by its hash, and the small one by name and size
        for data, name, by_hash in ((big, "video.bin", True), (small, "notes.txt", False)):
            line, pairs = selector(data, name)
            if not by_hash:
                line = line.split(" hash:")[0]
            down = FileSession(server, "carol", "files1", line, "recvonly")
            try:
                assert down.response.status == 200, down.response.text
                assert "sendonly" in parse_msrp_sdp(down.response.body)["attrs"]
                down.client.send_empty()
                got = down.client.receive_message(timeout=30)
                assert hashlib.sha1(got.body).digest() == hashlib.sha1(data).digest()
                assert len(got.body) == len(data)
            finally:
                down.close()
        # nothing stored under that name and hash: 404
        line, _ = selector(b"other", "missing.txt")
        down = FileSession(server, "carol", "files1", line, "recvonly")
        assert down.response.status == 404, down.response.text
        down.close()
        assert server.alive()
    finally:
        if watcher:
            watcher.close()
        alice.close()
        bob.close()


def test_mismatch_limits_names_and_no_room(files_server, tmp_path):
    server = files_server(max_file_size_mb=2, room_quota_mb=3)
    alice = Member(server, "alice", "files2")
    watcher = None
    try:
        assert alice.join().status == 200
        watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
        subscribe(watcher, server, "files2")
        files = tmp_path / "files" / "files2@127.0.0.1" / "files"
        # the data does not have the SHA-1 offered: discarded, never listed
        data = os.urandom(4096)
        up, _ = upload(server, "alice", "files2", data, "liar.bin", digest_of=b"something else")
        server.wait_log("upload of liar.bin from sip:alice@127.0.0.1 discarded: not the SHA-1")
        up.close()
        assert not (files / "liar.bin").exists()
        assert [p.name for p in files.iterdir() if not p.name.startswith(".meta")] == []
        # over max_file_size, or over what is left of the room's quota: refused before a byte
        line, _ = selector(b"x" * (2 << 20 | 1), "big.bin")
        too_big = FileSession(server, "alice", "files2", line, "sendonly")
        assert too_big.response.status == 488 and "Too Large" in too_big.response.reason
        too_big.close()
        ok1, _ = upload(server, "alice", "files2", os.urandom(2 << 20), "one.bin")
        ok1.close()
        alice.expect_notice("has uploaded file one.bin", timeout=20)
        line, _ = selector(b"y" * (1 << 20 | 1), "two.bin")
        over = FileSession(server, "alice", "files2", line, "sendonly")
        assert over.response.status == 488 and "Quota" in over.response.reason, \
            over.response.text
        over.close()
        # a name with path components is stored as its last part, inside the room's folder
        up, _ = upload(server, "alice", "files2", b"hello", "../../../etc/evil.txt")
        alice.expect_notice("has uploaded file evil.txt", timeout=10)
        up.close()
        assert (files / "evil.txt").read_bytes() == b"hello"
        assert not (tmp_path / "etc").exists()
        up, _ = upload(server, "alice", "files2", b"again", "evil.txt")
        alice.expect_notice("has uploaded file evil (2).txt", timeout=10)
        up.close()
        # a room that does not exist takes no files
        line, _ = selector(b"z", "z.bin")
        nowhere = FileSession(server, "alice", "noroom", line, "sendonly")
        assert nowhere.response.status == 404
        nowhere.close()
        assert server.alive()
    finally:
        if watcher:
            watcher.close()
        alice.close()


def test_kill_mid_upload_then_restart(files_server, tmp_path):
    """kill -9 in the middle of an upload: after the restart, the room (re-created) lists the
    file completed before, not the partial one, and the partial data is gone from disk."""
    server = files_server()
    alice = Member(server, "alice", "files3")
    assert alice.join().status == 200
    done, _ = upload(server, "alice", "files3", b"complete file", "done.txt")
    alice.expect_notice("has uploaded file done.txt", timeout=10)
    done.close()
    data = os.urandom(4 << 20)
    line, _ = selector(data, "partial.bin")
    up = FileSession(server, "alice", "files3", line, "sendonly")
    assert up.response.status == 200
    half = [data[i:i + 16384] for i in range(0, 2 << 20, 16384)]
    up.client.send_chunks(half, content_type="application/octet-stream", total=len(data),
                          flags=["+"] * len(half))
    files = tmp_path / "files" / "files3@127.0.0.1" / "files"
    def partial():
        return [p for p in files.iterdir() if p.name.startswith(".upload-")
                and p.stat().st_size >= 1 << 20]
    deadline = time.time() + 10
    while time.time() < deadline and not partial():
        time.sleep(0.05)
    assert partial(), list(files.iterdir())  # a megabyte or more on disk when it dies
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    up.close()
    alice.close()
    server.start()
    carol = Member(server, "carol", "files3")
    watcher = None
    try:
        assert carol.join().status == 200
        watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
        doc = subscribe(watcher, server, "files3")
        assert [f[0] for f in files_of(doc)] == ["done.txt"], files_of(doc)
        assert sorted(p.name for p in files.iterdir()) == [".meta", "done.txt"]
    finally:
        if watcher:
            watcher.close()
        carol.close()


def test_push_file_transfer(server_factory, tmp_path):
    """push_file_transfer: a new file is offered by INVITE to the other participant, which
    receives it byte for byte over the connection the room makes to its MSRP listener."""
    server = server_factory(plugin_configs={"conference": {"conference": {
        "files_dir": str(tmp_path / "files"), "push_file_transfer": "true"}}}).start()
    cert, key = make_self_signed_cert(str(tmp_path))
    listener = EchoServer(tls=True, certfile=cert, keyfile=key, echo=False).start()
    alice, bob = Member(server, "alice", "files4"), Member(server, "bob", "files4")
    try:
        assert alice.join().status == 200 and bob.join().status == 200
        data = os.urandom(100000)
        up, pairs = upload(server, "alice", "files4", data, "shared.bin")
        invite = bob.ua.wait_request("INVITE", timeout=10)
        offer = parse_msrp_sdp(invite.body)
        assert "sendonly" in offer["attrs"] and f"hash:sha-1:{pairs}" in invite.text, invite.text
        assert "isfocus" in invite.get("Contact")
        wanted = [f"a={a}" for a in offer["attrs"] if a.startswith("file-selector")]
        answer = msrp_sdp_offer("127.0.0.1", listener.port, listener.uri, setup="passive",
                                accept_types=("*",), extra_lines=wanted + ["a=recvonly"])
        bob.ua.respond(invite, 200, body=answer, content_type="application/sdp",
                       headers=[("Contact", f"<sip:bob@127.0.0.1:{bob.ua.port}>")])
        assert listener.wait_received(1, timeout=20)
        assert listener.received[0].body == data
        up.close()
    finally:
        listener.stop()
        alice.close()
        bob.close()


def test_files_default_to_the_spool(server):
    """Without files_dir, a room's files go to <spool_dir>/conference/<room>/files."""
    alice = Member(server, "alice", "files5")
    try:
        assert alice.join().status == 200
        up, _ = upload(server, "alice", "files5", b"in the spool", "spool.txt")
        alice.expect_notice("has uploaded file spool.txt", timeout=10)
        up.close()
        stored = os.path.join(server.config["server"]["spool_dir"], "conference",
                              "files5@127.0.0.1", "files", "spool.txt")
        with open(stored, "rb") as f:
            assert f.read() == b"in the spool"
    finally:
        alice.close()


def test_files_removed_with_the_room_without_keep_files(files_server, tmp_path):
    """keep_files = false: the room's files (data, metadata, folder) go when the room ends, and
    a room started again under the same name lists none."""
    server = files_server(keep_files="false")
    alice = Member(server, "alice", "files6")
    assert alice.join().status == 200
    up, _ = upload(server, "alice", "files6", b"short-lived", "gone.txt")
    alice.expect_notice("has uploaded file gone.txt", timeout=10)
    up.close()
    room_dir = tmp_path / "files" / "files6@127.0.0.1"
    assert (room_dir / "files" / "gone.txt").read_bytes() == b"short-lived"
    alice.leave()
    server.wait_log("room sip:files6@127.0.0.1 ended")
    assert not room_dir.exists(), list(room_dir.rglob("*"))
    bob = Member(server, "bob", "files6")
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    try:
        assert bob.join().status == 200
        assert files_of(subscribe(watcher, server, "files6")) == []
    finally:
        watcher.close()
        bob.close()


def empty_dirs(top):
    """Directories under `top` (not itself) that hold nothing."""
    return sorted(str(d) for d in top.rglob("*") if d.is_dir() and not any(d.iterdir()))


@pytest.mark.parametrize("keep", [True, False])
def test_spool_only_for_rooms_with_files(files_server, tmp_path, keep):
    """A room makes its folder on its first upload, not when it starts; when it ends, what is
    left empty goes (an upload cut by the end of the room included) and a folder that holds
    kept files stays (keep_files). No empty folder is ever left behind."""
    server = files_server(keep_files="true" if keep else "false")
    top = tmp_path / "files"
    members = []

    def member(user, room):
        members.append(Member(server, user, room))
        return members[-1]
    try:
        spool_rooms(server, top, keep, member)
    finally:
        for m in members:
            m.close()


def spool_rooms(server, top, keep, member):
    # a room without files: nothing on disk, while it lives or after
    chat = member("alice", "spool1")
    assert chat.join().status == 200
    chat.expect_notice("You are the first participant")
    assert not (top / "spool1@127.0.0.1").exists()
    chat.leave()
    server.wait_log("room sip:spool1@127.0.0.1 ended")
    # a room that ends during an upload, after a complete one
    alice = member("alice", "spool2")
    assert alice.join().status == 200
    done, _ = upload(server, "alice", "spool2", b"complete", "done.txt")
    alice.expect_notice("has uploaded file done.txt", timeout=10)
    done.close()
    data = os.urandom(1 << 20)
    line, _ = selector(data, "cut.bin")
    cut = FileSession(server, "alice", "spool2", line, "sendonly")
    assert cut.response.status == 200
    half = [data[i:i + 16384] for i in range(0, 1 << 19, 16384)]
    cut.client.send_chunks(half, content_type="application/octet-stream", total=len(data),
                           flags=["+"] * len(half))
    files = top / "spool2@127.0.0.1" / "files"
    deadline = time.time() + 10
    while time.time() < deadline and not any(p.name.startswith(".upload-")
                                             for p in files.iterdir()):
        time.sleep(0.05)
    alice.leave()
    server.wait_log("room sip:spool2@127.0.0.1 ended")
    cut.close()
    if keep:
        assert sorted(str(p.relative_to(top)) for p in top.rglob("*")) == [
            "spool2@127.0.0.1", "spool2@127.0.0.1/files", "spool2@127.0.0.1/files/.meta",
            "spool2@127.0.0.1/files/.meta/done.txt.ini", "spool2@127.0.0.1/files/done.txt"]
    else:
        assert not (top / "spool2@127.0.0.1").exists(), list(top.rglob("*"))
    # an upload that fails its check leaves nothing either
    bob = member("bob", "spool3")
    assert bob.join().status == 200
    liar, _ = upload(server, "bob", "spool3", b"1234", "liar.bin", digest_of=b"other")
    server.wait_log("upload of liar.bin from sip:bob@127.0.0.1 discarded")
    liar.close()
    bob.leave()
    server.wait_log("room sip:spool3@127.0.0.1 ended")
    assert not (top / "spool3@127.0.0.1").exists(), list(top.rglob("*"))
    assert empty_dirs(top) == []
    # kept files are listed again when the room comes back, after a restart too
    assert server.stop() == 0
    server.start()
    carol = member("carol", "spool2")
    watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
    try:
        assert carol.join().status == 200
        listed = [f[0] for f in files_of(subscribe(watcher, server, "spool2"))]
        assert listed == (["done.txt"] if keep else [])
    finally:
        watcher.close()
