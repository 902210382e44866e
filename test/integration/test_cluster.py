"""Scale-out: Kamailio's dispatcher (etc/kamailio/cluster.cfg) in front of sylkserver nodes on
127.0.0.2-127.0.0.5, with room affinity (docs/cluster.md).

Participants are test/peers/sip_client.py user agents talking only to Kamailio on 127.0.0.1;
the node that holds a room is the host of the room's Contact (<sip:room@NODE:PORT>;isfocus)
in the 200 to an INVITE. When a node dies, the proxy's dispatcher:dst-down route ends its
rooms' dialogs: each of their participants gets a BYE from the proxy.
"""
import collections
import re

import pytest
from conftest import free_port, free_port_range, write_ini

from kamailio_cluster import KamailioCluster
from sip_client import SipUA, sdp_offer
from sip_peer import SipPeer

DOMAIN = "conference.test"
NODE_IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
NEW_NODE_IP = "127.0.0.5"
ROOMS = 30


def start_node(server_factory, ip, proxy_port):
    """A node on its own address: its own config, spool (the server's work dir), web URL; RTP
    ports for up to 100 calls (a node may hold most of the test's rooms)."""
    rtp = free_port_range(200)
    s = server_factory(config={
        "sip": {"local_ip": ip, "outbound_proxy": f"sip:127.0.0.1:{proxy_port};lr"},
        "server": {"trusted_peers": "127.0.0.1"},
        "rtp": {"media_threads": 1, "timeout": 0, "port_range": f"{rtp}:{rtp + 199}"},
    })
    s.config["web"]["public_url"] = f"http://{ip}:{s.web_port}"
    s.config["web"]["local_ip"] = ip
    write_ini(s.config_path, s.config)
    s.start()
    s.uri = f"sip:{ip}:{s.sip_port}"
    return s


def node_of(response):
    """host:port of the room's Contact in a 2xx, as the node's dispatcher URI."""
    m = re.search(r"<sip:[^@>]+@([^;>]+)", response.get("Contact", ""))
    assert m, f"no room Contact in\n{response}"
    return f"sip:{m.group(1)}"


class Participant:
    def __init__(self, proxy, room, name, rtp_port):
        self.ua = SipUA(proxy, user=name)
        self.room = room
        self.dialog = self.ua.invite(f"sip:{room}@{DOMAIN}", sdp=sdp_offer(rtp_port))
        assert self.dialog.response.status == 200, self.ua.trace()[-3000:]
        assert self.dialog.response.get_all("Record-Route"), "the proxy record-routes"
        self.dialog.ack()
        self.node = node_of(self.dialog.response)


@pytest.fixture
def cluster(server_factory, tmp_path):
    proxy_port = free_port()
    nodes = [start_node(server_factory, ip, proxy_port) for ip in NODE_IPS]
    kc = KamailioCluster(tmp_path / "kamailio", DOMAIN, [n.uri for n in nodes],
                         port=proxy_port, ping_interval=1, probing_threshold=2,
                         fr_timer_ms=2000)
    kc.start()
    uas = []
    yield kc, nodes, uas
    for ua in uas:
        ua.close()
    kc.stop()


def join(kc, uas, room, who, port):
    p = Participant(kc.address, room, who, port)
    uas.append(p.ua)
    return p


def test_rooms_spread_stick_to_their_node_survive_a_node_loss_and_reach_a_new_node(
        cluster, server_factory):
    kc, nodes, uas = cluster
    port = iter(range(41000, 42000, 2))
    by_uri = {n.uri: n for n in nodes}

    # 30 rooms, two participants each: both land on the node holding the room
    rooms = {}
    for i in range(ROOMS):
        a = join(kc, uas, f"room{i}", "alice", next(port))
        b = join(kc, uas, f"room{i}", "bob", next(port))
        assert a.node == b.node and a.node in by_uri, (a.node, b.node)
        rooms[f"room{i}"] = (a, b)
    spread = collections.Counter(a.node for a, _ in rooms.values())
    print("rooms per node:", {u: spread[u] for u in by_uri})
    assert all(spread[u] > 0 for u in by_uri), spread
    # the proxy remembers each live room's node
    assert kc.rooms() == {f"{r}@{DOMAIN}": a.node for r, (a, _) in rooms.items()}

    # a SUBSCRIBE (conference event) and a REFER (RFC 4579) to a live room land on its node:
    # one room per node
    watcher = SipUA(kc.address, user="watcher")
    uas.append(watcher)
    for uri in by_uri:
        room = next(r for r, (a, _) in rooms.items() if a.node == uri)
        r = watcher.request("SUBSCRIBE", f"sip:{room}@{DOMAIN}",
                            extra=[("Event", "conference"), ("Expires", "30"),
                                   ("Accept", "application/conference-info+xml")])
        assert r.status == 200 and node_of_contact(r) == uri, str(r)
        r = watcher.request("REFER", f"sip:{room}@{DOMAIN}",
                            extra=[("Refer-To", "<sip:nobody@127.0.0.1;method=BYE>")])
        assert r.status == 202 and node_of_contact(r) == uri, str(r)

    # a dial-out (REFER method=INVITE): the node's INVITE goes out through the proxy
    # (outbound_proxy), is record-routed and relayed to its Request-URI, and counts as one of
    # the room's dialogs
    callee = SipPeer(user="frank").start()
    try:
        callee.invite_rule = lambda req: (200, sdp_offer(43000))
        room, (a, _) = next(iter(rooms.items()))
        r = watcher.request("REFER", f"sip:{room}@{DOMAIN}",
                            extra=[("Refer-To", f"<{callee.contact}>")])
        assert r.status == 202, str(r)
        inv, _ = callee.invites.get(timeout=10)
        assert f"sip:{room}@{DOMAIN}" in inv.get("From") and inv.source[0] == "127.0.0.1"
        assert inv.get_all("Record-Route"), str(inv)
        kc.wait_log(f"cluster: room {room}@{DOMAIN} on {a.node}: 3 dialog(s)")
    finally:
        callee.stop()

    # kill -9 one node: its participants get a BYE from the proxy once probing marked it down
    dead = nodes[1]
    dead.proc.kill()
    dead.proc.wait()
    kc.wait_log(f"cluster: node {dead.uri} down: its rooms forgotten", timeout=10)
    # new rooms go only to live nodes, and so do the dead node's rooms, started afresh
    alive = {n.uri for n in nodes if n is not dead}
    after_down = collections.Counter()
    dead_rooms = [r for r, (a, _) in rooms.items() if a.node == dead.uri]
    for room in dead_rooms:
        after_down[join(kc, uas, room, "again", next(port)).node] += 1
    for i in range(10):
        after_down[join(kc, uas, f"late{i}", "carol", next(port)).node] += 1
    print("new rooms per node after the loss:", dict(after_down))
    assert set(after_down) <= alive, after_down
    for room in dead_rooms:
        for p in rooms[room]:
            bye = p.ua.wait_request("BYE", timeout=5)
            assert bye.get("Call-ID") == p.dialog.call_id
            p.ua.respond(bye, 200)
    # rooms on the other nodes are untouched: in-dialog OPTIONS answered by their node
    live = {r: ab for r, ab in rooms.items() if ab[0].node != dead.uri}
    for room, (a, b) in live.items():
        for p in (a, b):
            r = p.dialog.request("OPTIONS")
            assert r.status == 200, f"{room}: {r}"
            assert not any(m.is_request and m.method == "BYE" for m in p.ua.pending)

    # a 4th node, added to the dispatcher list at run time
    fourth = start_node(server_factory, NEW_NODE_IP, kc.port)
    kc.set_nodes([n.uri for n in nodes] + [fourth.uri])
    states = kc.dispatcher_states()
    assert states.get(fourth.uri, "").startswith("A"), states
    # live rooms stay where they are: a newcomer to each lands on the room's node
    daves = []
    for room, (a, _) in live.items():
        p = join(kc, uas, room, "dave", next(port))
        assert p.node == a.node, (room, p.node, a.node)
        daves.append(p)
    # and new rooms reach the new node
    after_add = collections.Counter()
    for i in range(20):
        after_add[join(kc, uas, f"new{i}", "erin", next(port)).node] += 1
    print("new rooms per node after adding", fourth.uri, dict(after_add))
    assert after_add[fourth.uri] > 0 and dead.uri not in after_add, after_add

    # a room whose participants all leave is forgotten (its last dialog ended; not room0,
    # whose dial-out to frank is still up)
    room, (a, b) = list(live.items())[-1]
    key = f"{room}@{DOMAIN}"
    assert kc.rooms()[key] == a.node
    for p in [a, b] + [d for d in daves if d.room == room]:
        assert p.dialog.bye().status == 200
    assert key not in kc.rooms()


def node_of_contact(response):
    m = re.search(r"<sip:(?:[^@>]+@)?([^;>]+)", response.get("Contact", ""))
    return f"sip:{m.group(1)}" if m else None



def test_a_full_node_passes_new_rooms_on_and_keeps_its_live_room(server_factory, tmp_path):
    """A node whose RTP ports are all in use answers 503: a new room hashed to it goes to the
    next node; its live room is not split (a newcomer gets the refusal, as a 500 from the
    proxy: RFC 3261 16.7 turns a 503 into 500)."""
    rtp = free_port_range(2)
    full = server_factory(config={
        "sip": {"local_ip": NODE_IPS[0]}, "server": {"trusted_peers": "127.0.0.1"},
        "rtp": {"media_threads": 1, "timeout": 0, "port_range": f"{rtp}:{rtp + 1}"}}).start()
    other = server_factory(config={
        "sip": {"local_ip": NODE_IPS[1]}, "server": {"trusted_peers": "127.0.0.1"},
        "rtp": {"media_threads": 1, "timeout": 0}}).start()
    full.uri = f"sip:{NODE_IPS[0]}:{full.sip_port}"
    other.uri = f"sip:{NODE_IPS[1]}:{other.sip_port}"
    kc = KamailioCluster(tmp_path / "kamailio", DOMAIN, [full.uri, other.uri],
                         ping_interval=1, probing_threshold=2, fr_timer_ms=2000).start()
    uas = []
    try:
        placed = collections.Counter()
        first_on_full = None
        for i in range(10):
            p = join(kc, uas, f"full{i}", "alice", 44000 + 2 * i)
            placed[p.node] += 1
            if p.node == full.uri and first_on_full is None:
                first_on_full = f"full{i}"
        print("rooms per node, one holding a single call:", dict(placed))
        assert placed[full.uri] == 1 and placed[other.uri] == 9, placed
        kc.wait_log("did not take it (no answer: 0)")
        ua = SipUA(kc.address, user="bob")
        uas.append(ua)
        d = ua.invite(f"sip:{first_on_full}@{DOMAIN}", sdp=sdp_offer(44100))
        assert d.response.status == 500, str(d.response)
        assert full.alive() and kc.dispatcher_states()[full.uri].startswith("A")
    finally:
        for ua in uas:
            ua.close()
        kc.stop()
