"""Shared harness for integration tests: a real sylkserver process on free loopback ports.

Each test gets its own server (fixture `server_factory`), its own temp dir with a generated
config, and stops it by pid. SYLK_BUILD_DIR names the build directory (default: build).
"""
import os
import random
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SYLK_BUILD_DIR", os.path.join(ROOT, "build"))
SERVER_BIN = os.path.join(BUILD, "core", "sylkserver")
PLUGINS_DIR = os.path.join(BUILD, "plugins")


def _zones():
    """Test ports come from below the kernel's ephemeral range, which outgoing connections and
    bind(port 0) take from (a free port from there was taken by an outgoing connection before
    its server bound it: "Address already in use"): single ports from [20000, ephemeral), port
    ranges (RTP) from [10000, 20000)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    return {"single": (20000, max(ephemeral_low, 25000)), "range": (10000, 20000)}


# Each zone is handed out in turn from a cursor that wraps around: a port (or range) comes
# back only after the whole zone went round, long after the servers that had it stopped.
_ZONES = _zones()
_cursor = {zone: random.randrange(low, high) for zone, (low, high) in _ZONES.items()}


def _bindable(port, kinds):
    for kind in kinds:
        probe = socket.socket(socket.AF_INET,
                              socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            probe.close()
    return True


def free_ports(count, kinds=("udp", "tcp"), even=False):
    """The first of `count` consecutive ports free for every socket kind in `kinds` on
    127.0.0.1, next in turn in its zone (see _zones): a server's SIP and MSRP ports, both free
    when probed, still differ."""
    zone = "single" if count <= 2 else "range"
    low, high = _ZONES[zone]
    for _ in range((high - low) // count + 1):
        start = _cursor[zone]
        if even:
            start += start % 2
        if start + count > high:
            start = low
        # Three ports of room after a single port or pair: what its user may bind beside it
        # without asking (RTCP at RTP + 1, sipp's media at -mp + 2, baresip's SIP/TLS at + 1).
        _cursor[zone] = start + count + (3 if zone == "single" else 0)
        if all(_bindable(p, kinds) for p in range(start, start + count)):
            return start
    raise RuntimeError(f"no {count} free consecutive ports")


def free_port(kinds=("udp", "tcp"), even=False):
    """A port free for every socket kind in `kinds` (see free_ports)."""
    return free_ports(1, kinds, even)


def free_port_pair():
    """A port p with p and p + 1 free for UDP and TCP: for baresip, whose SIP/TLS transport
    binds its sip_listen port + 1."""
    return free_ports(2)


def free_port_range(count=100):
    """A start port such that [start, start+count) is free (UDP)."""
    return free_ports(count, kinds=("udp",), even=True)


def write_ini(path, sections):
    with open(path, "w") as f:
        for name, values in sections.items():
            f.write(f"[{name}]\n")
            for k, v in values.items():
                if isinstance(v, bool):
                    v = "true" if v else "false"
                f.write(f"{k} = {v}\n")
            f.write("\n")


class Server:
    """One sylkserver process. `config` is {section: {key: value}} merged over the defaults."""

    def __init__(self, workdir, config=None, plugin_configs=None, plugins_dir=PLUGINS_DIR,
                 extra_args=(), wrapper=()):
        """`wrapper`: a command the server is exec'ed by (same pid), e.g. a private mount
        namespace with its own /etc/resolv.conf (test/peers/dns_server.py)."""
        self.workdir = str(workdir)
        self.wrapper = list(wrapper)
        self.sip_port = free_port()
        self.rtp_start = free_port_range(100)
        self.msrp_port = free_port(kinds=("tcp",))
        self.web_port = free_port(kinds=("tcp",))
        self.plugins_dir = plugins_dir
        self.extra_args = list(extra_args)
        base = {
            "server": {"default_application": "conference", "application_map": "echo:echo",
                       "log_level": "debug", "spool_dir": os.path.join(self.workdir, "spool")},
            "sip": {"local_ip": "127.0.0.1", "udp_port": self.sip_port, "tcp_port": self.sip_port},
            "rtp": {"port_range": f"{self.rtp_start}:{self.rtp_start + 99}"},
            "msrp": {"port": self.msrp_port},
            "web": {"port": self.web_port},
        }
        for section, values in (config or {}).items():
            base.setdefault(section, {}).update(values)
        self.config = base
        self.config_path = os.path.join(self.workdir, "sylkserver.ini")
        write_ini(self.config_path, base)
        for name, sections in (plugin_configs or {}).items():
            write_ini(os.path.join(self.workdir, f"{name}.ini"), sections)
        self.log_path = os.path.join(self.workdir, "sylkserver.log")
        self.proc = None

    @property
    def uri_host(self):
        return f"127.0.0.1:{self.sip_port}"

    def start(self, wait=True, timeout=15):
        self.logf = open(self.log_path, "ab")
        args = self.wrapper + [SERVER_BIN, "--config", self.config_path]
        if self.plugins_dir:
            args += ["--plugins-dir", self.plugins_dir]
        self.proc = subprocess.Popen(args + self.extra_args, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        if wait:
            self.wait_log("sylkserver ready", timeout)
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}) waiting for "
                                     f"{text!r}:\n{self.log()[-4000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout}s:\n{self.log()[-4000:]}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, wait for a clean exit; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop within %ss" % timeout)
        self.logf.close()
        return self.proc.returncode


@pytest.fixture
def ua_factory():
    """SipUA instances (test/peers/sip_client.py) for a server, closed after the test."""
    from sip_client import SipUA
    uas = []

    def make(server):
        ua = SipUA(("127.0.0.1", server.sip_port))
        uas.append(ua)
        return ua
    yield make
    for ua in uas:
        ua.close()


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(**kwargs):
        d = tmp_path / f"server{len(servers)}"
        d.mkdir()
        s = Server(d, **kwargs)
        servers.append(s)
        return s

    yield make
    for s in servers:
        if s.alive():
            code = s.stop()
            assert code == 0, f"server exit code {code}:\n{s.log()[-3000:]}"


@pytest.fixture
def server(server_factory):
    """A started server with the default loopback config and the built plugins."""
    return server_factory().start()


# --------------------------------------------------------------------------------------------
# Real peers (sipp, baresip) and the Python test peers in test/peers/.
# --------------------------------------------------------------------------------------------
import sys  # noqa: E402

SIPP_BIN = "/usr/bin/sipp"
SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
PEERS_DIR = os.path.join(ROOT, "test", "peers")
if PEERS_DIR not in sys.path:
    sys.path.insert(0, PEERS_DIR)


class SippResult:
    """What one sipp run left behind: exit code, stdout/stderr, error log, message trace and
    the last row of its statistics CSV (e.g. stats['SuccessfulCall(C)'])."""

    def __init__(self, args, rc, out, workdir, name):
        self.args = args
        self.rc = rc
        self.out = out
        self.errors = _read(os.path.join(workdir, f"{name}_errors.log"))
        self.messages = _read(os.path.join(workdir, f"{name}_messages.log"))
        self.stats = {}
        stats = _read(os.path.join(workdir, f"{name}_stats.csv"))
        rows = [r for r in stats.splitlines() if r.strip()]
        if len(rows) >= 2:
            head = rows[0].rstrip(";").split(";")
            last = rows[-1].rstrip(";").split(";")
            self.stats = dict(zip(head, last))

    def count(self, key):
        try:
            return int(self.stats.get(key, "0"))
        except ValueError:
            return 0

    @property
    def successful(self):
        return self.count("SuccessfulCall(C)")

    @property
    def failed(self):
        return self.count("FailedCall(C)")

    def describe(self):
        return (f"sipp exit code {self.rc}\ncommand: {' '.join(self.args)}\n"
                f"stats: successful={self.successful} failed={self.failed}\n"
                f"--- output (tail)\n{self.out[-2500:]}\n--- errors (tail)\n{self.errors[-3000:]}"
                f"\n--- messages (tail)\n{self.messages[-5000:]}")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Sipp:
    """Runs sipp scenarios from test/integration/sipp against 127.0.0.1; every background
    process is stopped by pid at test end (fixture `sipp`)."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.procs = []
        self.n = 0

    def _args(self, scenario, target_port, service, transport, keys, calls, rate, limit,
              duration_ms, timeout, recv_timeout_ms, local_port, extra, name, ruri_host,
              remote=True):
        path = scenario if os.path.isabs(scenario) else os.path.join(SIPP_DIR, scenario)
        assert os.path.exists(path), path
        all_keys = {"ruri_host": ruri_host or f"127.0.0.1:{target_port}",
                    "extra_hdr": "X-Test: none"}
        all_keys.update(keys or {})
        args = [SIPP_BIN, "-sf", path]
        if remote:
            args.append(f"127.0.0.1:{target_port}")
        # -ci/-cp: sipp's UDP control socket would otherwise bind 0.0.0.0:8888
        args += ["-i", "127.0.0.1", "-mi", "127.0.0.1",
                 "-ci", "127.0.0.1", "-cp", str(free_port(kinds=("udp",))),
                 "-p", str(local_port or free_port()),
                 "-mp", str(free_port(kinds=("udp",), even=True)),
                 "-t", transport, "-nostdin", "-m", str(calls),
                 "-timeout", f"{timeout}s", "-timeout_error",
                 "-trace_err", "-error_file", os.path.join(self.workdir, f"{name}_errors.log"),
                 "-trace_msg", "-message_file", os.path.join(self.workdir, f"{name}_messages.log"),
                 "-trace_stat", "-stf", os.path.join(self.workdir, f"{name}_stats.csv"),
                 "-fd", "1", "-d", str(duration_ms)]
        if service is not None:
            args += ["-s", service]
        if rate:
            args += ["-r", str(rate)]
        if limit:
            args += ["-l", str(limit)]
        if recv_timeout_ms:
            args += ["-recv_timeout", str(recv_timeout_ms)]
        for k, v in all_keys.items():
            args += ["-key", k, str(v)]
        return args + list(extra)

    def run(self, scenario, target_port, service="echo", transport="u1", keys=None, calls=1,
            rate=None, limit=None, duration_ms=0, timeout=20, recv_timeout_ms=6000,
            local_port=None, extra=(), ruri_host=None):
        """Run a scenario to completion; returns a SippResult (check .rc == 0)."""
        self.n += 1
        name = f"sipp{self.n}_{os.path.splitext(os.path.basename(scenario))[0]}"
        args = self._args(scenario, target_port, service, transport, keys, calls, rate, limit,
                          duration_ms, timeout, recv_timeout_ms, local_port, extra, name,
                          ruri_host)
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=self.workdir)
        self.procs.append(p)
        try:
            out, _ = p.communicate(timeout=timeout + 15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        return SippResult(args, p.returncode, out.decode("utf-8", "replace"), self.workdir, name)

    def start_uas(self, scenario, local_port, calls=1, timeout=20, keys=None, extra=()):
        """Start a UAS scenario listening on local_port in the background; finish() it later."""
        self.n += 1
        name = f"sipp{self.n}_{os.path.splitext(os.path.basename(scenario))[0]}"
        args = self._args(scenario, None, None, "u1", keys, calls, None, None, 0, timeout, 0,
                          local_port, extra, name, "127.0.0.1", remote=False)
        outpath = os.path.join(self.workdir, f"{name}.out")
        out = open(outpath, "wb")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=self.workdir)
        out.close()
        self.procs.append(p)
        _wait_udp_bound(local_port, p)

        def finish(wait=timeout + 5):
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            return SippResult(args, p.returncode, _read(outpath), self.workdir, name)
        return finish

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def _wait_udp_bound(port, proc, timeout=5):
    """Wait until something is bound to UDP 127.0.0.1:port (the peer is listening)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        finally:
            s.close()
        if proc.poll() is not None:
            raise AssertionError(f"peer exited with {proc.returncode} before binding {port}")
        time.sleep(0.05)
    raise AssertionError(f"nothing bound UDP port {port} within {timeout}s")


@pytest.fixture
def sipp(tmp_path):
    d = tmp_path / "sipp"
    d.mkdir()
    runner = Sipp(d)
    yield runner
    runner.stop_all()


def assert_sipp_ok(result, calls=1):
    """sipp exit code 0 and every call counted successful."""
    assert result.rc == 0, result.describe()
    if result.stats:
        assert result.successful == calls and result.failed == 0, result.describe()

