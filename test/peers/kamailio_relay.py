#!/usr/bin/env python3
"""A private Kamailio as an RFC 4976 MSRP relay for tests (standard library only).

The config is generated from kamailio/msrp-relay.cfg.in into a temp/work dir with a free
loopback port; Kamailio runs in the foreground (-DD -E) with its own run dir and pid file and
is stopped by its pid.

    relay = KamailioRelay(workdir).start()       # -> "msrp://127.0.0.1:PORT;tcp"
    c = MsrpClient(tls=False)
    assert c.auth(relay.uri).status == 200        # c.use_path = ["msrp://127.0.0.1:PORT/<id>;tcp"]
    offer = msrp_sdp_offer("127.0.0.1", c.local_port, c.sdp_path, tls=False)
    ...  c.connect(server_path)                   # To-Path = use_path + server path
    relay.stop()

tls=True makes it an msrps relay (kamailio-tls-modules, throwaway certificate);
password="..." makes it challenge AUTH with Digest (any user name, that password).
`python3 kamailio_relay.py --selftest` runs the round trip through the relay.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from kamailio_process import KamailioProcess, free_port, modules_dir

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "kamailio", "msrp-relay.cfg.in")


class KamailioRelay(KamailioProcess):
    def __init__(self, workdir=None, port=None, tls=False, password=None, expires_max=3600,
                 certfile=None, keyfile=None):
        self.workdir = str(workdir) if workdir else tempfile.mkdtemp(prefix="kamailio-msrp-")
        self.rundir = os.path.join(self.workdir, "run")
        self.port = port
        self.tls = tls
        self.password = password
        self.expires_max = expires_max
        self.certfile, self.keyfile = certfile, keyfile
        self.cfg = os.path.join(self.workdir, "msrp-relay.cfg")
        self.pidfile = os.path.join(self.rundir, "kamailio.pid")
        super().__init__(os.path.join(self.workdir, "kamailio.log"))

    @property
    def uri(self):
        return f"{'msrps' if self.tls else 'msrp'}://127.0.0.1:{self.port};tcp"

    def write_config(self):
        os.makedirs(self.rundir, exist_ok=True)
        if self.port is None:
            self.port = free_port(udp=False)
        defines = []
        if self.tls:
            defines.append("#!define WITH_TLS")
            self._write_tls_cfg()
        if self.password is not None:
            defines.append("#!define WITH_AUTH")
        with open(TEMPLATE) as f:
            text = f.read()
        for key, value in {"DEFINES": "\n".join(defines), "PROTO": "tls" if self.tls else "tcp",
                           "PORT": str(self.port), "RUNDIR": self.rundir,
                           "MODULES": modules_dir("msrp.so"), "PASSWORD": self.password or "",
                           "EXPIRES_MAX": str(self.expires_max)}.items():
            text = text.replace(f"@{key}@", value)
        with open(self.cfg, "w") as f:
            f.write(text)
        return self.cfg

    def _write_tls_cfg(self):
        if not self.certfile:
            self.certfile = os.path.join(self.workdir, "relay-cert.pem")
            self.keyfile = os.path.join(self.workdir, "relay-key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                            "/CN=localhost", "-days", "1", "-keyout", self.keyfile,
                            "-out", self.certfile], check=True, capture_output=True)
        with open(os.path.join(self.rundir, "tls.cfg"), "w") as f:
            f.write(f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                    f"require_certificate = no\nprivate_key = {self.keyfile}\n"
                    f"certificate = {self.certfile}\n\n"
                    f"[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                    f"require_certificate = no\n")

    def check_config(self):
        self.check(["-f", self.cfg, "-Y", self.rundir])

    def start(self, timeout=10):
        """Start Kamailio; returns the relay's URI once its port accepts connections."""
        self.write_config()
        self.check_config()
        self._spawn(["-f", self.cfg, "-Y", self.rundir, "-P", self.pidfile, "-m", "64", "-M", "8"],
                    "127.0.0.1", [self.port], timeout)
        return self.uri

    def cmaplist(self):
        """kamcmd msrp.cmaplist through the private ctl socket (for debugging)."""
        try:
            return self.kamcmd_at(f"{self.rundir}/kamailio_ctl", "msrp.cmaplist")
        except (OSError, RuntimeError) as e:
            return str(e)


# ---------------------------------------------------------------------------------------------
def selftest():
    sys.path.insert(0, HERE)
    import msrp_client as mc

    failures = []

    def check(cond, what):
        print(("  ok   " if cond else "  FAIL ") + what)
        if not cond:
            failures.append(what)

    tmp = tempfile.mkdtemp(prefix="kamailio-relay-selftest-")
    cert, key = mc.make_self_signed_cert(tmp)
    try:
        for tls in (False, True):
            kind = "msrps" if tls else "msrp"
            relay = KamailioRelay(os.path.join(tmp, kind), tls=tls, certfile=cert, keyfile=key)
            srv = mc.EchoServer(tls=tls, certfile=cert, keyfile=key).start()
            c = None
            try:
                uri = relay.start()
                print(f"{kind}: relay {uri} (kamailio pid {relay.proc.pid}), far end {srv.uri}")
                c = mc.MsrpClient(tls=tls)
                r = c.auth(uri)
                check(r.status == 200 and len(c.use_path) == 1 and
                      c.use_path[0].startswith(f"{kind}://127.0.0.1:{relay.port}/"),
                      f"{kind}: AUTH -> 200, Use-Path {c.use_path}, Expires "
                      f"{r.headers.get('Expires')}")
                offer = mc.msrp_sdp_offer("127.0.0.1", c.local_port, c.sdp_path, tls=tls)
                check(mc.parse_msrp_sdp(offer)["path"] == c.use_path + [c.local_uri],
                      f"{kind}: a=path is Use-Path + our URI")
                c.connect([srv.uri])
                check(c.to_path == c.use_path + [srv.uri], f"{kind}: To-Path relay + far end")
                r = c.send_message("through the relay", success_report="yes")
                check(r.ok, f"{kind}: SEND answered 200 by the relay")
                check(srv.wait_received(1, 5) and srv.received[0].text == "through the relay",
                      f"{kind}: far end got the message")
                got = srv.received[0]
                check(got.from_path == [c.use_path[0], c.local_uri] and
                      got.to_path == [srv.uri],
                      f"{kind}: far end sees From-Path relay+client, To-Path itself")
                rep = c.expect_report(r.message_id, 5, status=200)
                check(rep.from_path == [c.use_path[0], srv.uri] and rep.to_path ==
                      [c.local_uri], f"{kind}: REPORT came back through the relay "
                      f"(From-Path relay + far end)")
                m = c.receive_message(5)
                check(m.text == "through the relay" and m.from_path == [c.use_path[0], srv.uri]
                      and m.to_path == [c.local_uri],
                      f"{kind}: echo came back through the relay (From-Path relay + far end)")
                conn = srv.connections[0]
                srep = conn.expect_report(m.message_id, 5, status=200)
                check(srep.to_path == [srv.uri],
                      f"{kind}: client's REPORT reached the far end through the relay")
                # chunked message through the relay (the relay caps frames at ~14 KB)
                import hashlib
                blob = os.urandom(512 * 1024)
                t0 = time.time()
                r = c.send_message(blob, "application/octet-stream", chunk_size=2048)
                m = c.receive_message(30)
                dt = time.time() - t0
                check(r.ok and m.sha1 == hashlib.sha1(blob).hexdigest(),
                      f"{kind}: 512 KB in 2 KB chunks both ways through the relay, "
                      f"{dt:.2f}s")
                # a session id the relay does not know -> 481. One hop only: with a second
                # hop (c's own URI) the relay would relay onwards, and kamailio may reuse
                # c's connection to it by address, so c itself answered 200 now and then.
                bogus = mc.make_request("SEND", [f"{uri.split(';')[0]}/nosuchsession;tcp"],
                                        [srv.uri],
                                        [("Message-ID", "x"), ("Byte-Range", "1-1/1")],
                                        body=b"x", content_type="text/plain")
                other = mc.MsrpClient.connect(uri, tls=tls)
                other.send_frame(bogus)
                resp = other.wait_response(bogus.transaction_id, 5)
                check(resp.status == 481, f"{kind}: unknown session -> {resp.status}")
                other.close()
                check(c.error is None and not c.peer_closed, f"{kind}: client healthy")
                if not tls:
                    cm = relay.cmaplist()
                    check(c.use_path[0].split("/")[-1].split(";")[0] in cm,
                          f"{kind}: kamcmd msrp.cmaplist lists the AUTHed session")
            except Exception as e:   # noqa: BLE001
                check(False, f"{kind}: {type(e).__name__}: {e}\n--- kamailio log tail\n"
                      f"{relay.log()[-4000:]}")
            finally:
                if c:
                    c.close()
                srv.stop()
                code = relay.stop()
                check(not relay.alive() and not relay._group_alive(),
                      f"{kind}: kamailio and its children stopped (exit code {code})")
        # Digest-challenged AUTH
        relay = KamailioRelay(os.path.join(tmp, "auth"), password="s3cret")
        try:
            uri = relay.start()
            c = mc.MsrpClient(tls=False)
            r = c.auth(uri)
            check(r.status == 401 and "Digest" in r.headers.get("WWW-Authenticate", ""),
                  "AUTH without credentials -> 401 with a Digest challenge")
            c.close()
            c = mc.MsrpClient(tls=False)
            r = c.auth(uri, credentials=("alice", "s3cret"))
            check(r.status == 200 and c.use_path, f"AUTH with Digest -> {r.status}")
            c.close()
            c = mc.MsrpClient(tls=False)
            r = c.auth(uri, credentials=("alice", "wrong"))
            check(r.status == 401, f"AUTH with a wrong password -> {r.status}")
            c.close()
        except Exception as e:   # noqa: BLE001
            check(False, f"auth: {type(e).__name__}: {e}\n{relay.log()[-3000:]}")
        finally:
            relay.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("FAILED: " + "; ".join(f.splitlines()[0] for f in failures) if failures
          else "all relay self-tests passed")
    return not failures


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="private Kamailio MSRP relay")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--port", type=int)
    a = ap.parse_args()
    if a.selftest:
        sys.exit(0 if selftest() else 1)
    r = KamailioRelay(port=a.port, tls=a.tls)
    print(r.start(), "workdir", r.workdir, "- Ctrl-C stops it")
    try:
        while r.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        r.stop()
