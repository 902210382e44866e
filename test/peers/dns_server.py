"""A private DNS server for name-resolution tests: Debian's dnsmasq (package dnsmasq-base) on a
random 127.x.y.z address, port 53, answering only what the test gives it, and a wrapper that
runs a process in its own mount namespace where /etc/resolv.conf names that server.

    dns = DnsServer(workdir, srv=[("_xmpp-server._tcp.two.test", "a.two.test", 5269, 10, 0)],
                    hosts=[("a.two.test", "127.0.0.11")], local="test", silent=["slow.test"])
    dns.start()
    server = Server(..., wrapper=dns.wrapper())   # same pid as the server; needs root
    ...
    dns.stop()

- `srv`: (name, target, port, priority, weight); target None gives the "." target (the
  service is decidedly not available there).
- `hosts`: (name, address, ...) A and AAAA records (dnsmasq --host-record).
- `local`: a domain answered from these records only: other names in it get NXDOMAIN.
- `silent`: domains forwarded to a UDP socket that never answers (a DNS server that is down).

The resolv.conf has `options timeout:30 attempts:1`, so the resolver library itself waits
longer than the server's own bound on a resolution. Everything listens on loopback only.
"""
import os
import random
import socket
import subprocess
import time

DNSMASQ = "/usr/sbin/dnsmasq"


class DnsServer:
    def __init__(self, workdir, srv=(), hosts=(), local=None, silent=()):
        self.workdir = str(workdir)
        self.srv = list(srv)
        self.hosts = list(hosts)
        self.local = local
        self.silent = list(silent)
        self.address = None
        self.proc = None
        self.sink = None  # the socket that never answers
        self.resolv_conf = os.path.join(self.workdir, "resolv.conf")
        self.log_path = os.path.join(self.workdir, "dnsmasq.log")

    def _args(self):
        args = [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                f"--listen-address={self.address}", "--port=53", "--conf-file=/dev/null",
                "--pid-file=", "--user=root", "--log-queries", "--log-facility=-",
                "--cache-size=0"]
        if self.local:
            args.append(f"--local=/{self.local}/")
        for name, target, port, priority, weight in self.srv:
            args.append(f"--srv-host={name}" if target is None else
                        f"--srv-host={name},{target},{port},{priority},{weight}")
        for record in self.hosts:
            args.append("--host-record=" + ",".join(record))
        if self.silent:
            self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sink.bind(("127.0.0.1", 0))
            port = self.sink.getsockname()[1]
            for domain in self.silent:
                args.append(f"--server=/{domain}/127.0.0.1#{port}")
        return args

    def start(self, timeout=5):
        assert os.geteuid() == 0, "a private /etc/resolv.conf needs root (mount namespace)"
        for _ in range(50):
            self.address = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}." \
                           f"{random.randint(1, 254)}"
            if _udp_free(self.address, 53):
                break
        with open(self.resolv_conf, "w") as f:
            f.write(f"nameserver {self.address}\noptions timeout:30 attempts:1\n")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self._args(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        while _udp_free(self.address, 53):
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"dnsmasq did not start on {self.address}:53:\n"
                                     f"{self.log()}")
            time.sleep(0.05)
        return self

    def wrapper(self):
        """The command prefix for a process that must use this server: a private mount
        namespace (unshare -m, private propagation) with resolv.conf bound over
        /etc/resolv.conf, then exec (the pid stays the wrapped process's)."""
        return ["unshare", "-m", "sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv_conf]

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.sink:
            self.sink.close()
            self.sink = None


def _udp_free(address, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        s.close()
