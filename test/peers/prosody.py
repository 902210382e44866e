"""A private prosody 0.12 (Debian `prosody`) for the XMPP gateway's tests.

    p = Prosody(workdir, domain="xmpp.test", components={"sip.test": "s3cret"})
    p.register("alice", "alicepw")          # prosodyctl, before or after start
    p.start()                               # waits until its ports listen
    ... p.c2s_port, p.s2s_port, p.component_port, p.log(), p.wait_log("...complete")
    p.restart()                             # same ports, same data
    p.stop()                                # SIGTERM by pid

Everything is the instance's own: config, data dir, log (debug level), pid file, certificates
(a self-signed one per host, made with openssl), ports on 127.0.0.1. `s2s=False` turns
server-to-server off (component-only tests). `require_encryption` is prosody's
s2s_require_encryption (default true, as prosody's); `tls=False` gives prosody no certificate,
so it offers no STARTTLS at all. `wrapper` runs prosody under another command that keeps its
pid (test/peers/dns_server.py: a private /etc/resolv.conf, so that prosody finds the gateway
through DNS SRV records of the test's own DNS server). `dns_jitter=False` loads a module of the
instance's own that turns off the random delay (up to 1 s per query, 2 s per retry) prosody's
legacy resolver puts before each DNS query: an unknown domain (SRV _xmpps-server, SRV
_xmpp-server, then A and AAAA) otherwise takes up to 3 s, at random, to fail. `offline=False`
turns off the offline message storage prosody loads by itself: a message to a user without an
online resource then gets an error (service-unavailable) instead of waiting for his next login.
`log_level` ("debug" by default) is the least level written to the log.

Never run `prosody --version` on 0.12: it starts the system instance.
"""
import os
import signal
import socket
import subprocess
import time

PROSODY = "/usr/bin/prosody"
PROSODYCTL = "/usr/bin/prosodyctl"


# net.dns (prosody's resolver without lua-unbound) delays each query by math.random() * jitter
# seconds; its resolvers share one class table, where the defaults live.
NOJITTER_MODULE = """\
local class = getmetatable(require "net.dns".resolver());
class.jitter, class.retry_jitter = false, false;
module:log("info", "DNS query jitter off");
"""


def _free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _listening(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def make_certificate(directory, host):
    """A self-signed certificate and key for host: (crt, key) paths."""
    crt = os.path.join(directory, f"{host}.crt")
    key = os.path.join(directory, f"{host}.key")
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                        "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                        "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
    return crt, key


class Prosody:
    def __init__(self, workdir, domain="xmpp.test", components=None, s2s=True,
                 require_encryption=True, tls=True, wrapper=(), ports=None, extra="",
                 dns_jitter=True, offline=True, log_level="debug"):
        self.dir = os.path.join(str(workdir), f"prosody-{domain}")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "certs"), exist_ok=True)
        self.domain = domain
        self.components = dict(components or {})
        self.s2s = s2s
        self.require_encryption = require_encryption
        self.tls = tls
        self.wrapper = list(wrapper)
        self.extra = extra
        self.dns_jitter = dns_jitter
        self.offline = offline
        self.log_level = log_level
        ports = ports or {}
        self.c2s_port = ports.get("c2s") or _free_tcp_port()
        self.s2s_port = ports.get("s2s") or _free_tcp_port()
        self.component_port = ports.get("component") or _free_tcp_port()
        self.config_path = os.path.join(self.dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.dir, "prosody.log")
        self.pid_path = os.path.join(self.dir, "prosody.pid")
        self.proc = None
        self.write_config()

    def write_config(self):
        lua = lambda b: "true" if b else "false"  # noqa: E731
        modules = ["roster", "saslauth", "disco", "ping", "presence", "version", "posix"]
        if self.s2s:
            modules.append("dialback")
        if self.tls:
            modules.append("tls")
            for host in [self.domain] + list(self.components):
                make_certificate(os.path.join(self.dir, "certs"), host)
        disabled = [] if self.s2s else ["s2s"]
        if not self.offline:  # prosody loads mod_offline by itself (offline message storage)
            disabled.append("offline")
        plugin_paths = []
        if not self.dns_jitter:
            plugin_paths.append(self.dir)
            modules.append("dns_nojitter")
            with open(os.path.join(self.dir, "mod_dns_nojitter.lua"), "w") as f:
                f.write(NOJITTER_MODULE)
        lines = [
            "run_as_root = true",
            f'pidfile = "{self.pid_path}"',
            f'data_path = "{os.path.join(self.dir, "data")}"',
            f'log = {{ {self.log_level} = "{self.log_path}" }}',
            'interfaces = { "127.0.0.1" }',
            'local_interfaces = { "127.0.0.1" }',
            f"c2s_ports = {{ {self.c2s_port} }}",
            f"s2s_ports = {{ {self.s2s_port} }}" if self.s2s else "s2s_ports = { }",
            f"component_ports = {{ {self.component_port} }}",
            'component_interface = "127.0.0.1"',
            "http_ports = { }",
            "https_ports = { }",
            f'certificates = "{os.path.join(self.dir, "certs")}"',
            "plugin_paths = { " + "; ".join(f'"{d}"' for d in plugin_paths) + " }",
            "modules_enabled = { " + "; ".join(f'"{m}"' for m in modules) + " }",
            "modules_disabled = { " + "; ".join(f'"{m}"' for m in disabled) + " }",
            'authentication = "internal_plain"',
            'storage = "internal"',
            "c2s_require_encryption = false",
            "allow_unencrypted_plain_auth = true",
            f"s2s_require_encryption = {lua(self.require_encryption)}",
            "s2s_secure_auth = false",
            "s2s_timeout = 20",
            # with lua-unbound installed, resolve through /etc/resolv.conf (the test's DNS
            # server in a wrapper's mount namespace) rather than from the root servers
            "unbound = { resolvconf = true; hoststxt = false }",
            self.extra,
            f'VirtualHost "{self.domain}"',
        ]
        for name, secret in self.components.items():
            lines += [f'Component "{name}"', f'    component_secret = "{secret}"']
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def register(self, user, password):
        subprocess.run([PROSODYCTL, "--config", self.config_path, "register", user,
                        self.domain, password], check=True, capture_output=True, timeout=30)

    def start(self, timeout=20):
        self.logf = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.wrapper + [PROSODY, "--config", self.config_path, "-F"],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        ports = [self.c2s_port] + ([self.s2s_port] if self.s2s else [])
        if self.components:
            ports.append(self.component_port)
        deadline = time.time() + timeout
        while not all(_listening(p) for p in ports):
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"prosody did not start ({self.proc.poll()}):\n"
                                     f"{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        code, self.proc = self.proc.returncode, None
        return code

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=20, after=0):
        """Waits until text appears in the log past offset `after`; returns the log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            log = self.log()
            if text in log[after:]:
                return log
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not in prosody's log within {timeout}s:\n"
                             f"{self.log()[after:][-4000:]}")
