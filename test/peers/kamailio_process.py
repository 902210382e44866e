#!/usr/bin/env python3
"""What every private Kamailio of the tests shares (standard library only): finding its
modules, free loopback ports, running it in the foreground in a session of its own, waiting
until its ports accept connections, its log, kamcmd on its ctl socket, and stopping it with
its children by pid.

The peers built on it: kamailio_relay.py (MSRP relay), kamailio_proxy.py (the reference
registrar + proxy, etc/kamailio/kamailio.cfg), kamailio_cluster.py (the dispatcher in front of
several nodes, etc/kamailio/cluster.cfg).
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import time

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"


def modules_dir(needed="tm.so"):
    """The directory of Kamailio's modules that has `needed`."""
    for d in sorted(glob.glob("/usr/lib/*/kamailio/modules")) + ["/usr/lib/kamailio/modules"]:
        if os.path.exists(os.path.join(d, needed)):
            return d
    raise RuntimeError(f"kamailio module {needed} not found (apt-get install kamailio)")


def free_port(ip="127.0.0.1", udp=True):
    """A TCP port free on ip (and free for UDP as well, with udp=True)."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ip, 0))
        port = s.getsockname()[1]
        s.close()
        if not udp:
            return port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free port")


class KamailioProcess:
    """A Kamailio started by `_spawn`; subclasses write its configuration."""

    def __init__(self, logfile):
        self.logfile = logfile
        self.proc = None
        self._log = None

    def _spawn(self, args, ip, ports, timeout=10, ready=lambda: True):
        """Runs `kamailio ARGS -DD -E` (its output in logfile) and waits until each of `ports`
        on `ip` accepts a TCP connection and `ready()` is true."""
        self._log = open(self.logfile, "wb")
        self.proc = subprocess.Popen([KAMAILIO] + list(args) + ["-DD", "-E"],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        waiting = list(ports)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited with {self.proc.returncode}:\n{self.log()}")
            if not waiting and ready():
                return
            try:
                if waiting:
                    socket.create_connection((ip, waiting[0]), timeout=0.5).close()
                    waiting.pop(0)
                    continue
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"kamailio did not start (waiting for {waiting}):\n{self.log()}")

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
        raise AssertionError(f"{text!r} not in kamailio's log within {timeout}s:\n"
                             f"{self.log()[-4000:]}")

    @staticmethod
    def check(args):
        """kamailio -c ARGS: the configuration parses (RuntimeError with the output if not)."""
        r = subprocess.run([KAMAILIO, "-c"] + list(args), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"kamailio -c failed:\n{r.stdout}\n{r.stderr}")
        return r

    @staticmethod
    def kamcmd_at(ctl, *cmd, timeout=5):
        """kamcmd CMD on the ctl socket `ctl` (a path); its output, or RuntimeError."""
        r = subprocess.run([KAMCMD, "-s", f"unix:{ctl}"] + list(cmd),
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"kamcmd {' '.join(cmd)}: {r.stdout}{r.stderr}")
        return r.stdout

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _group_alive(self):
        """Any non-zombie process left in Kamailio's process group?"""
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
        if anything is left 2 s after it exited or `timeout` passed. Returns the exit code."""
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
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
