#!/usr/bin/env python3
"""Kamailio 5.6 as the dispatcher in front of several sylkserver nodes, for tests and benches.

Runs etc/kamailio/cluster.cfg as it is shipped, its addresses given with `kamailio -A`
defines; the dispatcher list file and the ctl socket live in the instance's own work dir.
Kamailio runs in the foreground (-DD -E), logs to workdir/kamailio.log, and is stopped by its
pid (SIGTERM, then SIGKILL to its process group).

    kc = KamailioCluster(workdir, conf_domain="conference.test",
                         nodes=["sip:127.0.0.2:5060", "sip:127.0.0.3:5060"]).start()
    # clients send to ("127.0.0.1", kc.port); rooms are sip:ROOM@conference.test
    kc.wait_log("cluster: node sip:127.0.0.3:5060 down")
    kc.set_nodes([...])            # rewrites the list file, kamcmd dispatcher.reload
    kc.dispatcher_states()         # {uri: "AP" / "IP" / ...} from kamcmd dispatcher.list
    kc.rooms()                     # {room: node URI}, the live rooms the proxy remembers
    kc.stop()
"""
import os
import re

from kamailio_process import KamailioProcess, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join(ROOT, "etc", "kamailio", "cluster.cfg")


class KamailioCluster(KamailioProcess):
    def __init__(self, workdir, conf_domain, nodes, ip="127.0.0.1", port=None, set_id=1,
                 ping_interval=1, probing_threshold=1, fr_timer_ms=1000, children=4,
                 log_level=2, shm_mb=64, extra_defines=()):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.ip = ip
        self.port = port or free_port(ip)
        self.conf_domain = conf_domain
        self.nodes = list(nodes)
        self.set_id = set_id
        self.list_file = os.path.join(self.workdir, "dispatcher.list")
        self.ctl = os.path.join(self.workdir, "kamailio_ctl")
        self.pidfile = os.path.join(self.workdir, "kamailio.pid")
        super().__init__(os.path.join(self.workdir, "kamailio.log"))
        self.defines = {
            "LISTEN_UDP": f"udp:{ip}:{self.port}", "LISTEN_TCP": f"tcp:{ip}:{self.port}",
            "CONF_DOMAIN": f'"{conf_domain}"', "DS_LIST": f'"{self.list_file}"',
            "DS_SET": str(set_id), "DS_SET_STR": f'"{set_id}"',
            "DS_PING_INTERVAL": str(ping_interval),
            "DS_PROBING_THRESHOLD": str(probing_threshold),
            "DS_PING_FROM": f'"sip:dispatcher@{ip}"', "FR_TIMER": str(fr_timer_ms),
            "CTL_SOCKET": f'"unix:{self.ctl}"', "CHILDREN": str(children),
            "LOG_LEVEL": str(log_level),
        }
        self.extra_defines = list(extra_defines)
        self.shm_mb = shm_mb

    @property
    def address(self):
        return (self.ip, self.port)

    def args(self):
        a = ["-f", CONFIG, "-Y", self.workdir]
        for k, v in self.defines.items():
            a += ["-A", f"{k}={v}"]
        for d in self.extra_defines:
            a += ["-A", d]
        return a

    def write_list(self):
        with open(self.list_file, "w") as f:
            for uri in self.nodes:
                f.write(f"{self.set_id} {uri}\n")

    def check_config(self):
        self.write_list()
        return self.check(self.args())

    def start(self, timeout=10):
        """Start Kamailio; returns self once its TCP port and its ctl socket are up."""
        self.check_config()
        self._spawn(self.args() + ["-P", self.pidfile, "-m", str(self.shm_mb), "-M", "8"],
                    self.ip, [self.port], timeout, ready=lambda: os.path.exists(self.ctl))
        return self

    def kamcmd(self, *cmd, timeout=5):
        return self.kamcmd_at(self.ctl, *cmd, timeout=timeout)

    def set_nodes(self, nodes):
        """New dispatcher list (nodes added or removed at run time), then dispatcher.reload."""
        self.nodes = list(nodes)
        self.write_list()
        return self.kamcmd("dispatcher.reload")

    def dispatcher_states(self):
        """{node URI: FLAGS} from dispatcher.list (AP = active and probed, IP = inactive)."""
        out = self.kamcmd("dispatcher.list")
        return dict(re.findall(r"URI:\s*(\S+)\s+FLAGS:\s*(\S+)", out))

    def rooms(self):
        """{room: node URI}: the proxy's htable of live rooms (kamcmd htable.dump rooms)."""
        out = self.kamcmd("htable.dump", "rooms")
        return dict(re.findall(r"name:\s*(\S+)\s+value:\s*(\S+)", out))
