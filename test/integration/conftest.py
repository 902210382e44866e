"""Shared harness for integration tests: a real sylkserver process on free loopback ports.

Each test gets its own server (fixture `server_factory`), its own temp dir with a generated
config, and stops it by pid. SYLK_BUILD_DIR names the build directory (default: build).
"""
import os
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SYLK_BUILD_DIR", os.path.join(ROOT, "build"))
SERVER_BIN = os.path.join(BUILD, "core", "sylkserver")
PLUGINS_DIR = os.path.join(BUILD, "plugins")


def free_port(kinds=("udp", "tcp"), even=False):
    """A port free for every socket kind in `kinds` on 127.0.0.1."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if even and port % 2:
            continue
        ok = True
        for kind in kinds:
            t = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
            probe = socket.socket(socket.AF_INET, t)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                probe.close()
        if ok:
            return port
    raise RuntimeError("no free port")


def free_port_range(count=100):
    """A start port such that [start, start+count) is probably free (UDP)."""
    for _ in range(50):
        start = free_port(kinds=("udp",), even=True)
        if start + count > 65000:
            continue
        socks = []
        try:
            for p in range(start, start + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return start
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


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
                 extra_args=()):
        self.workdir = str(workdir)
        self.sip_port = free_port()
        self.rtp_start = free_port_range(100)
        self.plugins_dir = plugins_dir
        self.extra_args = list(extra_args)
        base = {
            "server": {"default_application": "conference", "application_map": "echo:echo",
                       "log_level": "debug", "spool_dir": os.path.join(self.workdir, "spool")},
            "sip": {"local_ip": "127.0.0.1", "udp_port": self.sip_port, "tcp_port": self.sip_port},
            "rtp": {"port_range": f"{self.rtp_start}:{self.rtp_start + 99}"},
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
        args = [SERVER_BIN, "--config", self.config_path]
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
