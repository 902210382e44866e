"""A headless Debian Chromium driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: the browser reads JSON commands from fd 3 and writes to fd 4, each
message ending with a NUL byte), so that tests need no websocket library and no driver.

    with Browser() as b:
        page = b.open("http://127.0.0.1:8090/screen/<token>/")
        png = b.screenshot(page)         # PNG bytes of the viewport

Chromium runs with a fresh user-data-dir and everything that would reach the network off;
it is stopped by pid.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--remote-debugging-pipe"]


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, width=800, height=600, timeout=20):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sylk-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}", "about:blank"]

        def pipe_fds():
            """In the child: the browser's fds 3 and 4 are the pipe ends it reads and
            writes (moved above 9 first, so that neither overwrites the other)."""
            import fcntl
            r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
        # close_fds would close 3 and 4 after pipe_fds ran; our other fds are close-on-exec
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, close_fds=False,
                                     preexec_fn=pipe_fds)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next_id = 0
        self._events = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        import select
        while b"\0" not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                raise BrowserError("no answer from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium went away ({self.proc.poll()})")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, **params):
        """Sends a command and returns its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def open(self, url):
        """A new tab on `url`; returns its session id once the page has loaded."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=session)
        self.call("Page.navigate", session=session, url=url)
        deadline = time.time() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session
                      for e in self._events):
            self._events.append(self._read_message(deadline))
        return session

    def screenshot(self, session):
        data = self.call("Page.captureScreenshot", session=session, format="png")["data"]
        return base64.b64decode(data)

    def evaluate(self, session, expression):
        result = self.call("Runtime.evaluate", session=session, expression=expression,
                           returnByValue=True)
        return result.get("result", {}).get("value")
