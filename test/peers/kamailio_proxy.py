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
import hashlib
import os
import tempfile
import time

from kamailio_process import KamailioProcess, free_port, modules_dir

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join(ROOT, "etc", "kamailio", "kamailio.cfg")

def q(value):
    """A string define: kamailio -A 'NAME="value"'."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KamailioProxy(KamailioProcess):
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
        super().__init__(os.path.join(self.workdir, "kamailio.log"))

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
            self.port = free_port(self.ip)
        if self.tls and self.tls_port is None:
            self.tls_port = free_port(self.ip)
        xmpp = "|".join(d.replace(".", "\\.") for d in self.xmpp_domains) or "-"
        d = {
            "SIP_DOMAIN": q(self.sip_domain),
            "CONF_DOMAIN": q(self.conf_domain),
            "XMPP_DOMAINS": q(f"^({xmpp})$"),
            "SYLK_URI": q(self.sylk_uri),
            "SYLK_IP": q(self.sylk_ip),
            "LISTEN_UDP": f"udp:{self.ip}:{self.port}",
            "LISTEN_TCP": f"tcp:{self.ip}:{self.port}",
            "MODULES_DIR": q(modules_dir("registrar.so")),
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

    def args(self):
        return ["-f", CONFIG, "-Y", self.rundir] + self.defines()

    def check_config(self):
        os.makedirs(self.rundir, exist_ok=True)
        return self.check(self.args())

    def start(self, timeout=10):
        """Start Kamailio; returns self once its TCP (and TLS) ports accept connections."""
        self.check_config()
        ports = [self.port] + ([self.tls_port] if self.tls else [])
        self._spawn(self.args() + ["-P", self.pidfile, "-m", "64", "-M", "8"], self.ip,
                    ports, timeout)
        return self


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="private Kamailio with etc/kamailio/kamailio.cfg")
    ap.add_argument("--sylk-uri", default="sip:127.0.0.2:5070")
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
