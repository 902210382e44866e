#!/usr/bin/env python3
"""A private Kamailio 5.6 registrar + proxy in front of sylkserver, for tests (standard
library only).

It runs the reference configuration itself, etc/kamailio/kamailio.cfg (not a copy of its
routing): the addresses, domains and TLS files are passed as `kamailio -A NAME=value` defines.
Kamailio runs in the foreground (-DD -E) with its own run dir, pid file and ctl socket, on
free loopback ports, and is stopped by its pid.

    proxy = KamailioProxy(workdir, sylk_uri="sip:127.0.0.1:5070", sip_domain="sip.test",
                          conf_domain="conference.sip.test").start()
    proxy.port          # UDP and TCP; proxy.tls_port with tls=True
    proxy.uri           # "sip:127.0.0.1:PORT;lr": sylkserver's [sip] outbound_proxy
    proxy.log()         # what Kamailio logged (one line per request it routed)
    proxy.stop()

tls=True listens for SIP over TLS too (kamailio-tls-modules) with cert/key/ca (PEM paths);
sylk_tls_uri="sip:127.0.0.1:P;transport=tls" relays to sylkserver over TLS instead of UDP;
verify=True checks sylkserver's certificate against `ca`.
users={"alice": "secret"} turns on WITH_AUTH (digest, credentials in a db_text subscriber
table written to the work dir).
"""
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join(ROOT, "etc", "kamailio", "kamailio.cfg")
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


def _modules_dir():
    for d in sorted(glob.glob("/usr/lib/*/kamailio/modules")) + ["/usr/lib/kamailio/modules"]:
        if os.path.exists(os.path.join(d, "registrar.so")):
            return d
    raise RuntimeError("kamailio modules not found (apt-get install kamailio)")


def _free_port(ip="127.0.0.1"):
    """A port free for both UDP and TCP on ip."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ip, 0))
        port = s.getsockname()[1]
        s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free port")


def q(value):
    """A string define: kamailio -A 'NAME="value"'."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KamailioProxy:
    def __init__(self, workdir=None, sylk_uri="sip:127.0.0.2:5070", sylk_ip="127.0.0.2",
                 sip_domain="sip.test", conf_domain="conference.sip.test",
                 xmpp_domains=("xmpp.test",), ip="127.0.0.1", port=None, tls=False,
                 tls_port=None, cert=None, key=None, ca=None, verify=False, sylk_tls_uri=None,
                 users=None, log_level=2):
        self.workdir = str(workdir) if workdir else tempfile.mkdtemp(prefix="kamailio-proxy-")
        self.rundir = os.path.join(self.workdir, "run")
        self.ip = ip
        self.port = port
        self.tls = tls
        self.tls_port = tls_port
        self.cert, self.key, self.ca, self.verify = cert, key, ca, verify
        self.sylk_uri, self.sylk_ip, self.sylk_tls_uri = sylk_uri, sylk_ip, sylk_tls_uri
        self.sip_domain, self.conf_domain = sip_domain, conf_domain
        self.xmpp_domains = list(xmpp_domains)
        self.users = dict(users) if users is not None else None
        self.log_level = log_level
        self.pidfile = os.path.join(self.rundir, "kamailio.pid")
        self.logfile = os.path.join(self.workdir, "kamailio.log")
        self.proc = None
        self._log = None

    @property
    def uri(self):
        """The proxy as a loose-routing outbound proxy (UDP)."""
        return f"sip:{self.ip}:{self.port};lr"

    @property
    def tls_uri(self):
        return f"sip:{self.ip}:{self.tls_port};transport=tls;lr"

    def defines(self):
        """The -A arguments that fit etc/kamailio/kamailio.cfg to this instance."""
        if self.port is None:
            self.port = _free_port(self.ip)
        if self.tls and self.tls_port is None:
            self.tls_port = _free_port(self.ip)
        xmpp = "|".join(d.replace(".", "\\.") for d in self.xmpp_domains) or "-"
        d = {
            "SIP_DOMAIN": q(self.sip_domain),
            "CONF_DOMAIN": q(self.conf_domain),
            "XMPP_DOMAINS": q(f"^({xmpp})$"),
            "SYLK_URI": q(self.sylk_uri),
            "SYLK_IP": q(self.sylk_ip),
            "LISTEN_UDP": f"udp:{self.ip}:{self.port}",
            "LISTEN_TCP": f"tcp:{self.ip}:{self.port}",
            "MODULES_DIR": q(_modules_dir()),
            "CTL_SOCKET": q(f"unix:{self.rundir}/kamailio_ctl"),
            "LOG_LEVEL": str(self.log_level),
        }
        args = []
        if self.users is not None:
            d["DBURL"] = q("text://" + self._write_users())
            args += ["-A", "WITH_AUTH"]
        if self.tls:
            d.update({"LISTEN_TLS": f"tls:{self.ip}:{self.tls_port}",
                      "TLS_CERT": q(self.cert), "TLS_KEY": q(self.key),
                      "TLS_CA": q(self.ca or self.cert), "TLS_VERIFY": "1" if self.verify else "0"})
            args += ["-A", "WITH_TLS"]
            if self.sylk_tls_uri:
                d["SYLK_URI_TLS"] = q(self.sylk_tls_uri)
        for k, v in d.items():
            args += ["-A", f"{k}={v}"]
        return args

    def _write_users(self):
        """db_text tables for auth_db: the subscriber table (user, domain, password)."""
        db = os.path.join(self.workdir, "dbtext")
        os.makedirs(db, exist_ok=True)
        with open(os.path.join(db, "version"), "w") as f:
            f.write("id(int,auto) table_name(string) table_version(int)\n0:subscriber:7\n")
        with open(os.path.join(db, "subscriber"), "w") as f:
            f.write("id(int,auto) username(string) domain(string) password(string) "
                    "ha1(string) ha1b(string)\n")
            for i, (user, password) in enumerate(self.users.items()):
                realm = self.sip_domain
                ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
                ha1b = hashlib.md5(f"{user}@{realm}:{realm}:{password}".encode()).hexdigest()
                f.write(f"{i + 1}:{user}:{realm}:{password}:{ha1}:{ha1b}\n")
        return db

    def command(self):
        return [KAMAILIO, "-f", CONFIG, "-Y", self.rundir] + self.defines()

    def check_config(self):
        os.makedirs(self.rundir, exist_ok=True)
        r = subprocess.run(self.command() + ["-c"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"kamailio -c failed:\n{r.stdout}\n{r.stderr}")
        return r

    def start(self, timeout=10):
        """Start Kamailio; returns self once its TCP (and TLS) ports accept connections."""
        self.check_config()
        self._log = open(self.logfile, "wb")
        self.proc = subprocess.Popen(
            self.command() + ["-DD", "-E", "-P", self.pidfile, "-m", "64", "-M", "8"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        ports = [self.port] + ([self.tls_port] if self.tls else [])
        deadline = time.time() + timeout
        while ports and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection((self.ip, ports[0]), timeout=0.5).close()
                ports.pop(0)
            except OSError:
                time.sleep(0.05)
        if ports:
            self.stop()
            raise RuntimeError(f"kamailio did not listen on {ports}:\n{self.log()}")
        return self

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in kamailio's log:\n{self.log()[-4000:]}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _group_alive(self):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":
                return True
        return False

    def stop(self, timeout=5):
        """SIGTERM to the main process (it stops its children), SIGKILL to its process group
        if anything is left after the timeout. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.time() + 2
        while self._group_alive() and time.time() < deadline:
            time.sleep(0.05)
        if self.proc.poll() is None or self._group_alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait(timeout)
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="private Kamailio with etc/kamailio/kamailio.cfg")
    ap.add_argument("--sylk-uri", default="sip:127.0.0.1:5070")
    ap.add_argument("--port", type=int)
    a = ap.parse_args()
    p = KamailioProxy(sylk_uri=a.sylk_uri, port=a.port).start()
    print(p.uri, "workdir", p.workdir, "- Ctrl-C stops it")
    try:
        while p.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        p.stop()
