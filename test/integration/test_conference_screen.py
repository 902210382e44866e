"""Screen sharing in a conference room, as Blink does it: a participant sends JPEG images over
the chat (CPIM, application/blink-screensharing, raw or base64); the server's web endpoint
serves the latest one at an unguessable URL published in conference-info
(agp-conf:screen_image_url) and in a chat notice; sharing ends after the timeout or when the
sharer leaves, and the URL then answers 404. A headless Chromium (test/peers/browser.py)
shows the viewer page with the image and follows a new one within 3 s. JPEGs are made here
with Debian's python3-pil."""
import base64
import io
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

import conference_info
from test_conference import Member, next_notify, subscribe, validate
from sip_client import SipUA

SHARING = "application/blink-screensharing"


def jpeg(color, size=(320, 240)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def share(member, body):
    return member.say(body, content_type=SHARING)


def http_get(url, method="GET"):
    """(status, headers, body) of a request; 4xx and 5xx too."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def screen_url_of(doc, user):
    """The user's agp-conf:screen_image_url as a sipsimple-based client reads it."""
    u = conference_info.parse(doc).user(f"sip:{user}@127.0.0.1")
    return u.screen_image_url if u else None


@pytest.fixture
def screen_server(server_factory):
    def make(**options):
        conf = {"screen_sharing_timeout": 3}
        conf.update(options)
        return server_factory(plugin_configs={"conference": {"conference": conf}}).start()
    return make


def test_share_serve_swap_and_time_out(screen_server, tmp_path):
    server = screen_server(save_screen_images="true", files_dir=str(tmp_path / "files"))
    saved = tmp_path / "files" / "screen1@127.0.0.1" / "screens" / "alice@127.0.0.1.jpg"
    alice, bob = Member(server, "alice", "screen1"), Member(server, "bob", "screen1")
    watcher = None
    try:
        assert alice.join().status == 200 and bob.join().status == 200
        watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
        subscribe(watcher, server, "screen1")
        red = jpeg((255, 0, 0))
        assert share(alice, red).ok
        headers, _ = bob.expect_notice("alice@127.0.0.1 is sharing the screen at http")
        doc = validate(next_notify(watcher).body)
        url = screen_url_of(doc, "alice")
        web = f"http://127.0.0.1:{server.config['web']['port']}/screen/"
        assert url and url.startswith(web) and url.endswith("/"), url
        assert len(url[len(web):-1]) >= 32  # 128 bits of token or more
        status, h, page = http_get(url)
        assert status == 200 and h["Content-Type"].startswith("text/html"), (status, h)
        assert b"<img" in page
        # Blink for macOS opens the URL with "?fit=1" appended (or "&fit=1" after a query)
        status, h, page = http_get(url + "?fit=1")
        assert status == 200 and b"<img" in page, status
        status, h, body = http_get(url + "image")
        assert status == 200 and body == red
        assert h["Content-Type"] == "image/jpeg"
        assert "no-cache" in h["Cache-Control"]
        # the next image (base64 this time) replaces it, with no NOTIFY
        blue = jpeg((0, 0, 255))
        assert share(alice, base64.b64encode(blue)).ok
        deadline = time.time() + 3
        while http_get(url + "image")[2] != blue and time.time() < deadline:
            time.sleep(0.05)
        assert http_get(url + "image")[2] == blue
        assert saved.read_bytes() == blue  # save_screen_images: the latest one on disk too
        assert watcher.wait(lambda m: m.is_request and m.method == "NOTIFY", 0.5) is None
        # no image for screen_sharing_timeout (3 s): the sharing ends
        doc = validate(next_notify(watcher, timeout=8).body)
        assert screen_url_of(doc, "alice") is None
        bob.expect_notice("alice@127.0.0.1 stopped sharing the screen")
        assert http_get(url + "image")[0] == 404
        assert http_get(url)[0] == 404
        assert not saved.exists()
        assert server.alive()
    finally:
        if watcher:
            watcher.close()
        alice.close()
        bob.close()


def test_bad_images_refused_and_sharer_leaving(screen_server):
    server = screen_server(max_screen_image_kb=64)
    alice, bob = Member(server, "alice", "screen2"), Member(server, "bob", "screen2")
    try:
        assert alice.join().status == 200 and bob.join().status == 200
        png = io.BytesIO()
        Image.new("RGB", (32, 32), (0, 255, 0)).save(png, "PNG")
        for bad in (png.getvalue(), b"\xff\xd8\xff not really a jpeg", b"hello",
                    base64.b64encode(b"GIF89a...")):
            r = share(alice, bad)
            assert r.statuses == [415], (bad[:16], r)
        noisy = Image.effect_noise((400, 400), 100).convert("RGB")
        big = io.BytesIO()
        noisy.save(big, "JPEG", quality=100)
        assert len(big.getvalue()) > 64 * 1024
        assert share(alice, big.getvalue()).statuses == [413]
        assert bob.nothing("is sharing the screen", wait=0.5)
        assert "shares the screen" not in server.log()
        # a good one, then alice leaves: the sharing ends with her
        assert share(alice, jpeg((0, 255, 0))).ok
        bob.expect_notice("is sharing the screen at")
        url = next(line for line in server.log().splitlines()
                   if "shares the screen at" in line).rsplit(" ", 1)[1]
        assert http_get(url + "image")[0] == 200
        alice.leave()
        bob.expect_notice("alice@127.0.0.1 stopped sharing the screen")
        assert http_get(url + "image")[0] == 404
        assert server.alive()
    finally:
        alice.close()
        bob.close()


def test_viewer_page_in_chromium(screen_server):
    """The viewer page in headless Chromium shows the shared image (a known colour fills the
    middle of the page), and shows the next image within 3 s of its arrival."""
    from browser import Browser
    server = screen_server(screen_sharing_timeout=30)
    alice = Member(server, "alice", "screen3")
    try:
        assert alice.join().status == 200
        assert share(alice, jpeg((255, 0, 0), size=(640, 480))).ok
        url = None
        deadline = time.time() + 5
        while not url and time.time() < deadline:
            url = next((line.rsplit(" ", 1)[1] for line in server.log().splitlines()
                        if "shares the screen at" in line), None)
            time.sleep(0.05)
        with Browser() as browser:
            page = browser.open(url)

            def colour_in_middle():
                shot = Image.open(io.BytesIO(browser.screenshot(page))).convert("RGB")
                w, h = shot.size
                return shot.getpixel((w // 2, h // 2))

            def near(c, want):
                return all(abs(a - b) < 40 for a, b in zip(c, want))
            deadline = time.time() + 5
            while not near(colour_in_middle(), (255, 0, 0)) and time.time() < deadline:
                time.sleep(0.2)
            assert near(colour_in_middle(), (255, 0, 0)), colour_in_middle()
            assert share(alice, jpeg((0, 200, 0), size=(640, 480))).ok
            pushed = time.time()
            while not near(colour_in_middle(), (0, 200, 0)) and time.time() - pushed < 3:
                time.sleep(0.1)
            assert near(colour_in_middle(), (0, 200, 0)), colour_in_middle()
    finally:
        alice.close()


def test_web_security_with_a_live_screen(screen_server):
    """While a screen is shared: traversal paths, the token with one character changed,
    methods other than GET and HEAD, and 10000 random tokens get 404 or 405, never a file or
    the image; the real URL still serves the image afterwards."""
    import http.client
    import random
    server = screen_server(screen_sharing_timeout=60)
    alice = Member(server, "alice", "screen4")
    try:
        assert alice.join().status == 200
        image = jpeg((10, 20, 30))
        assert share(alice, image).ok
        alice.expect_notice("is sharing the screen at")
        url = next(line for line in server.log().splitlines()
                   if "shares the screen at" in line).rsplit(" ", 1)[1]
        base = url.split("/screen/")[0]
        token = url.split("/screen/")[1].strip("/")
        flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
        for path in (f"/screen/{flipped}/image", f"/screen/{token}/../../etc/passwd",
                     f"/screen/{token}/..%2f..%2fetc%2fpasswd", f"/screen/{token}%2fimage",
                     f"/screen/{token.upper()}/image", f"/screen/{token}/image/",
                     f"/screen/{token}/image%00", "/screen/", "/screen", "/etc/passwd",
                     "/..%2f..%2fetc%2fpasswd", f"/screen/{token[:16]}/image"):
            status, _, body = http_get(base + path)
            assert status == 404 and image not in body and b"root:" not in body, (path, status)
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            status, h, _ = http_get(url + "image", method=method)
            assert status == 405, (method, status)
        host, port = base.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        found = 0
        for _ in range(10000):
            probe = "%032x" % random.getrandbits(128)
            conn.request("GET", f"/screen/{probe}/image")
            r = conn.getresponse()
            r.read()
            found += r.status != 404
        conn.close()
        assert found == 0
        status, _, body = http_get(url + "image")
        assert status == 200 and body == image
        assert server.alive()
    finally:
        alice.close()


def test_one_character_bodies_refused(screen_server, monkeypatch):
    """A screen-sharing body of one base64 character ("A", "=", a space: what the fuzzer
    found) gets 415 like any other non-JPEG, GLib's decoder never sees it (the server runs with
    G_DEBUG=fatal-criticals: a GLib CRITICAL would abort it), and the room goes on."""
    monkeypatch.setenv("G_DEBUG", "fatal-criticals")
    server = screen_server()
    alice, bob = Member(server, "alice", "screen5"), Member(server, "bob", "screen5")
    try:
        assert alice.join().status == 200 and bob.join().status == 200
        for body in (b"A", b"=", b" ", b"AAAA", b"A==="):
            r = share(alice, body)
            assert r.statuses == [415], (body, r)
        assert alice.say("still sharing words").ok
        bob.expect("still sharing words")
        assert share(alice, jpeg((1, 2, 3))).ok
        bob.expect_notice("is sharing the screen at")
        assert server.alive()
        assert "CRITICAL" not in server.log()
    finally:
        alice.close()
        bob.close()
