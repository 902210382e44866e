"""Prometheus metrics on the core's web server ([web] metrics, metrics_allow): every live scrape
validated with `promtool check metrics` (Debian prometheus), and values checked against what
the test did: calls to a conference room move the INVITE/ACK/BYE and session counters by
exactly the number of calls, and the responses the server sent to them (1xx, 2xx to INVITE,
2xx to BYE) as the clients saw them; the room and participant gauges (the conference plugin's
own samples, SDK 1.9) follow the calls up and back down, RTP received counters move while a call
sends RTP, a chat message moves the MSRP counters; a scrape from an address outside
metrics_allow gets 403 and a log line; /metrics is 404 when metrics are off; bad values of the
two keys are refused by --check-config with file:line. Requests sent: a call the server ends
moves BYE, a conference subscription NOTIFY; a refused request moves the 4xx responses."""
import http.client
import re
import socket
import subprocess
import threading
import time

import pytest

import rtp_tone
from conftest import PLUGINS_DIR, SERVER_BIN, write_ini
from msrp_client import MsrpClient, answer_path, cpim_wrap, msrp_sdp_offer
from sip_client import SipUA, parse_sdp, sdp_offer

PROMTOOL = "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def fetch(port, path="/metrics", source="127.0.0.1"):
    """(status, content type, body) of a GET from `source` (the client socket bound to it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def scrape(server):
    """One scrape, checked by promtool, as {(name, frozenset of label pairs): value}."""
    status, ctype, body = fetch(server.web_port)
    assert status == 200, body
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           timeout=20)
    assert check.returncode == 0, (check.stdout + check.stderr).decode() + body.decode()
    samples = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def value(samples, name, **labels):
    """A sample's value; 0 when absent (counters only appear once they moved). A label name
    that is a Python keyword takes a trailing underscore (class_)."""
    labels = {k.rstrip("_"): v for k, v in labels.items()}
    return samples.get((name, frozenset(labels.items())), 0.0)


def metrics_server(server_factory, plugin_configs=None, config=None, **web):
    return server_factory(config={"web": {"metrics": "yes", **web}, **(config or {})},
                          plugin_configs=plugin_configs).start()


def moved(after, before, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def family(samples, name, **labels):
    """The sum of a family's samples that have `labels` (class_ for class)."""
    want = {k.rstrip("_"): v for k, v in labels.items()}.items()
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


class AudioCall:
    """A PCMU call to a room from a SIP UA of its own, with its RTP socket."""

    def __init__(self, server, user, room):
        self.ua = SipUA(("127.0.0.1", server.sip_port), user=user)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.call = self.ua.invite(f"sip:{room}@{server.uri_host}",
                                   sdp=sdp_offer(self.sock.getsockname()[1],
                                                 codecs=((0, "PCMU/8000"),)))
        assert self.call.response.status == 200, self.ua.trace()
        self.media = parse_sdp(self.call.response.text)["media"][0]
        self.call.ack()

    def talk(self, seconds):
        return rtp_tone.run(self.media["c"], self.media["port"], "PCMU", 0, 700, seconds,
                            sock=self.sock)

    def hang_up(self):
        self.call.bye()
        self.sock.close()
        self.ua.close()


def test_calls_move_counters_and_gauges(server_factory):
    server = metrics_server(server_factory)
    before = scrape(server)
    assert value(before, "sylk_build_info", version=re.search(
        r'version="([^"]+)"', fetch(server.web_port)[2].decode()).group(1)) == 1
    calls = [AudioCall(server, f"user{i}", "metricsroom") for i in range(3)]
    server.wait_log("joined with audio")
    deadline = time.time() + 5
    while server.log().count("joined with audio") < 3 and time.time() < deadline:
        time.sleep(0.05)
    report = calls[0].talk(1.0)
    t0 = time.monotonic()
    status, _, body = fetch(server.web_port)
    print(f"one scrape with 3 calls up: {1000 * (time.monotonic() - t0):.1f} ms, "
          f"{len(body)} bytes")
    up = scrape(server)
    for method in ("INVITE", "ACK"):
        assert value(up, "sylk_sip_requests_received_total", method=method) - \
            value(before, "sylk_sip_requests_received_total", method=method) == 3, method
    assert value(up, "sylk_sessions_total", plugin="conference") - \
        value(before, "sylk_sessions_total", plugin="conference") == 3
    sent = "sylk_sip_responses_sent_total"
    assert moved(up, before, sent, method="INVITE", class_="2xx") == 3
    # nua's 100 Trying and the room's 180, if it rings: each kind once per call (a provisional
    # the peer got twice was sent again for a retransmitted INVITE, which is not counted)
    provisional = sum(len({p.status for p in c.call.provisional}) for c in calls)
    assert provisional >= 3
    assert moved(up, before, sent, method="INVITE", class_="1xx") == provisional
    assert family(up, sent) - family(before, sent) == 3 + provisional
    assert family(up, "sylk_sip_requests_sent_total") == 0
    assert value(up, "sylk_sessions_open", plugin="conference") == 3
    assert value(up, "sylk_sessions_open", plugin="echo") == 0
    assert value(up, "sylk_conference_rooms") == 1
    assert value(up, "sylk_conference_participants", media="audio") == 3
    assert value(up, "sylk_conference_participants", media="chat") == 0
    received = value(up, "sylk_rtp_packets_received_total") - \
        value(before, "sylk_rtp_packets_received_total")
    print(f"RTP: the peer sent {report['sent']}, the server counted {received:.0f}")
    assert 0.8 * report["sent"] <= received <= report["sent"], (report, received)
    loads = [v for (n, _), v in up.items() if n == "sylk_media_thread_load"]
    assert loads and all(0 <= v <= 1 for v in loads), loads
    print(f"media thread load (last second): {loads}")
    assert any(n == "sylk_media_thread_ticks_total" and v > 0 for (n, _), v in up.items())
    deferred = [v for (n, _), v in up.items() if n == "sylk_media_thread_calls_deferred_total"]
    assert deferred and all(v >= 0 for v in deferred), deferred
    for c in calls:
        c.hang_up()
    server.wait_log("room sip:metricsroom@127.0.0.1 ended")
    down = scrape(server)
    assert value(down, "sylk_sip_requests_received_total", method="BYE") - \
        value(before, "sylk_sip_requests_received_total", method="BYE") == 3
    assert moved(down, up, sent, method="BYE", class_="2xx") == 3
    assert family(down, sent) - family(up, sent) == 3
    assert value(down, "sylk_sessions_open", plugin="conference") == 0
    assert value(down, "sylk_conference_rooms") == 0
    assert value(down, "sylk_conference_participants", media="audio") == 0
    # the scrapes before this one (this one is counted once it was written): before, the
    # version's, the timed one, up
    assert value(down, "sylk_web_requests_total", path="metrics", status="200") == 4


def test_chat_message_moves_msrp_counters(server_factory):
    server = metrics_server(server_factory)
    ua = SipUA(("127.0.0.1", server.sip_port), user="alice")
    msrp = MsrpClient(tls=True)
    try:
        offer = msrp_sdp_offer("127.0.0.1", msrp.local_port, msrp.sdp_path,
                               accept_types=("message/cpim",))
        dialog = ua.invite(f"sip:chatroom@{server.uri_host}", sdp=offer)
        assert dialog.response.status == 200, ua.trace()
        dialog.ack()
        msrp.connect(answer_path(dialog.response.body))
        msrp.send_empty()
        server.wait_log("joined with chat")
        msgs = "sylk_msrp_messages_total"
        deadline = time.time() + 5  # the empty SEND that opened the session, counted
        while value(before := scrape(server), msgs, direction="in", kind="request") < 1:
            assert time.time() < deadline, "the empty SEND was not counted"
            time.sleep(0.05)
        assert value(before, "sylk_msrp_connections_open") == 1
        assert value(before, "sylk_conference_participants", media="chat") == 1
        body = cpim_wrap("sip:alice@127.0.0.1", "sip:chatroom@127.0.0.1", "hello metrics")
        msrp.send_message(body, content_type="message/cpim")
        after = scrape(server)
        assert value(after, msgs, direction="in", kind="request") - \
            value(before, msgs, direction="in", kind="request") == 1  # the SEND
        assert value(after, "sylk_msrp_bytes_total", direction="in") - \
            value(before, "sylk_msrp_bytes_total", direction="in") >= len(body)
        assert value(after, msgs, direction="out", kind="response") - \
            value(before, msgs, direction="out", kind="response") == 1  # its 200
        # a conference-info subscription: a gauge and a counter for the plugin, and the 200
        # to the server's NOTIFY among the responses it received
        watcher = SipUA(("127.0.0.1", server.sip_port), user="watcher")
        try:
            r = watcher.transaction(watcher.new_request(
                "SUBSCRIBE", f"sip:chatroom@{server.uri_host}",
                extra=[("Event", "conference"), ("Expires", "60")]))
            assert r.status in (200, 202), r.text
            watcher.respond(watcher.wait_request("NOTIFY"), 200)
            deadline = time.time() + 5
            resp = "sylk_sip_responses_received_total"
            while value(subs := scrape(server), resp, method="NOTIFY", class_="2xx") < 1:
                assert time.time() < deadline, "the NOTIFY's 200 was not counted"
                time.sleep(0.05)
            assert value(subs, "sylk_subscriptions_open", plugin="conference") == 1
            assert value(subs, "sylk_subscriptions_total", plugin="conference") == 1
            assert value(subs, "sylk_sip_requests_received_total", method="SUBSCRIBE") == 1
            assert value(subs, "sylk_sip_responses_sent_total", method="SUBSCRIBE",
                         class_="2xx") == 1
            # the one NOTIFY the watcher got, sent once and answered once
            assert moved(subs, before, "sylk_sip_requests_sent_total", method="NOTIFY") == 1
            assert value(subs, resp, method="NOTIFY", class_="2xx") == 1
        finally:
            watcher.close()
        dialog.bye()
    finally:
        msrp.close()
        ua.close()


def test_server_ended_call_and_refused_request(server_factory):
    """The echo application ends a call at its length cap: one BYE sent (and its 200
    received); a MESSAGE for an application that is not loaded: one 404 sent, the only 4xx."""
    server = metrics_server(server_factory, config={"server": {"allow_app_header": "yes"}},
                            plugin_configs={"echo": {"echo": {"max_call_duration": 1}}})
    ua = SipUA(("127.0.0.1", server.sip_port), user="capped")
    try:
        before = scrape(server)
        r = ua.request("MESSAGE", f"sip:echo@{server.uri_host}", body="hi",
                       extra=[("X-Sylk-App", "nosuchapp")])
        assert r.status == 404, r.text
        refused = scrape(server)
        sent = "sylk_sip_responses_sent_total"
        assert moved(refused, before, sent, method="MESSAGE", class_="4xx") == 1
        assert family(refused, sent, class_="4xx") - family(before, sent, class_="4xx") == 1
        assert family(refused, sent) - family(before, sent) == 1

        call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp_offer(40000))
        assert call.response.status == 200, ua.trace()
        call.ack()
        bye = ua.wait_request("BYE", timeout=6)
        ua.respond(bye, 200)
        deadline = time.time() + 5
        received = "sylk_sip_responses_received_total"
        while value(ended := scrape(server), received, method="BYE", class_="2xx") < 1:
            assert time.time() < deadline, "the 200 to the server's BYE was not counted"
            time.sleep(0.05)
        requests = "sylk_sip_requests_sent_total"
        assert moved(ended, refused, requests, method="BYE") == 1
        assert family(ended, requests) - family(refused, requests) == 1
        assert moved(ended, refused, sent, method="INVITE", class_="2xx") == 1
        assert family(ended, sent, class_="4xx") == family(refused, sent, class_="4xx")
    finally:
        ua.close()


def answer_notifies(ua):
    """Answers the sipfrag NOTIFYs of a REFER up to the final one; how many came."""
    count = 0
    while True:
        n = ua.wait_request("NOTIFY", timeout=10)
        ua.respond(n, 200)
        count += 1
        if n.body and not n.body.startswith(b"SIP/2.0 1"):
            return count


def test_refer_moves_requests_sent(server_factory):
    """A participant REFERs the room to a target and then removes it (RFC 4579): the room's
    INVITE, the ACK nua sends for its 200, its BYE, and each sipfrag NOTIFY are counted once
    as sent, and nothing else; each NOTIFY sent got the one response the peer sent."""
    server = metrics_server(server_factory)
    member = AudioCall(server, "referrer", "referroom")
    server.wait_log("joined with audio")
    target = SipUA(("127.0.0.1", server.sip_port), user="target")
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    try:
        before = scrape(server)
        room = f"sip:referroom@127.0.0.1:{server.sip_port}"
        to = f"<sip:target@127.0.0.1:{target.port}>"
        assert member.ua.request("REFER", room, extra=[("Refer-To", to)]).status == 202
        invite = target.wait_request("INVITE", timeout=10)
        answer = sdp_offer(rtp.getsockname()[1]) + b"m=message 0 TCP/TLS/MSRP *\r\n"
        target.respond(invite, 200, body=answer, content_type="application/sdp",
                       headers=[("Contact", f"<sip:target@127.0.0.1:{target.port}>")],
                       to_tag="tgt1")
        target.wait_request("ACK")
        notifies = answer_notifies(member.ua)
        bye = "<sip:target@127.0.0.1;method=BYE>"
        assert member.ua.request("REFER", room, extra=[("Refer-To", bye)]).status == 202
        target.respond(target.wait_request("BYE", timeout=10), 200)
        notifies += answer_notifies(member.ua)
        received = "sylk_sip_responses_received_total"
        deadline = time.time() + 5
        while (value(after := scrape(server), received, method="NOTIFY", class_="2xx") -
               value(before, received, method="NOTIFY", class_="2xx") < notifies or
               moved(after, before, received, method="BYE", class_="2xx") < 1):
            assert time.time() < deadline, "the answers to the NOTIFYs and BYE were not counted"
            time.sleep(0.05)
        requests = "sylk_sip_requests_sent_total"
        for method, n in (("INVITE", 1), ("ACK", 1), ("BYE", 1), ("NOTIFY", notifies)):
            assert moved(after, before, requests, method=method) == n, method
        assert family(after, requests) - family(before, requests) == 3 + notifies
        print(f"REFER invite and remove: {notifies} NOTIFYs sent")
        sent = "sylk_sip_responses_sent_total"
        assert moved(after, before, sent, method="REFER", class_="2xx") == 2
        assert moved(after, before, received, method="INVITE", class_="2xx") == 1
    finally:
        rtp.close()
        target.close()
        member.hang_up()


def test_forbidden_address_gets_403(server_factory):
    server = metrics_server(server_factory, metrics_allow="127.0.0.1")
    status, _, body = fetch(server.web_port, source="127.0.0.2")
    assert status == 403 and b"sylk_" not in body
    server.wait_log("metrics refused to 127.0.0.2: not in [web] metrics_allow")
    samples = scrape(server)
    assert value(samples, "sylk_web_requests_total", path="metrics", status="403") == 1
    # the other pages stay open to everyone
    assert fetch(server.web_port, "/", source="127.0.0.2")[0] == 200


def test_cidr_allow_and_empty_list(server_factory):
    server = metrics_server(server_factory, metrics_allow="10.0.0.0/8, 127.0.0.0/30")
    assert fetch(server.web_port, source="127.0.0.2")[0] == 200
    assert fetch(server.web_port, source="127.0.0.5")[0] == 403
    closed = metrics_server(server_factory, metrics_allow="")
    assert fetch(closed.web_port)[0] == 403


def test_metrics_off_is_404(server_factory):
    default = server_factory().start()
    assert fetch(default.web_port)[0] == 404
    assert fetch(default.web_port, "/")[0] == 200
    off = server_factory(config={"web": {"metrics": "no"}}).start()
    assert fetch(off.web_port)[0] == 404


def scrapes_during_stop(server):
    """Scrapes sent while the server stops: each gets an answer (200, 503) or a closed
    connection, never a hang."""
    results = []

    def one():
        try:
            results.append(fetch(server.web_port)[0])
        except (OSError, http.client.HTTPException):
            results.append("closed")
    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    return threads, results


def test_scrapes_while_stopping(server_factory):
    server = metrics_server(server_factory)
    threads, results = scrapes_during_stop(server)
    assert server.stop() == 0
    for t in threads:
        t.join(15)
    assert len(results) == 4 and all(r in (200, 503, "closed") for r in results), results


@pytest.mark.parametrize("key,val,why", [
    ("metrics_allow", "garbage", "'garbage' is not an address or address/prefix"),
    ("metrics_allow", "127.0.0.1/33", "'127.0.0.1/33' is not an address or address/prefix"),
    ("metrics", "maybe", None),
])
def test_bad_values_rejected_with_file_and_line(tmp_path, key, val, why):
    path = tmp_path / "sylkserver.ini"
    write_ini(path, {"sip": {"local_ip": "127.0.0.1"},
                     "web": {"port": 8090, key: val}})
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--plugins-dir", PLUGINS_DIR,
                        "--check-config"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    line = f"{path}:6: [web] {key}: "
    assert line in r.stderr, r.stderr
    if why:
        assert why in r.stderr, r.stderr


def test_metrics_need_the_web_server(tmp_path):
    path = tmp_path / "sylkserver.ini"
    write_ini(path, {"sip": {"local_ip": "127.0.0.1"}, "web": {"port": 0, "metrics": "yes"}})
    r = subprocess.run([SERVER_BIN, "--config", str(path), "--plugins-dir", PLUGINS_DIR,
                        "--check-config"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert f"{path}:6: [web] metrics: needs the web server ([web] port)" in r.stderr, r.stderr
