"""sylkserver in its deployment position: behind Kamailio 5.6 as registrar and proxy, run with
the reference configuration etc/kamailio/kamailio.cfg (test/peers/kamailio_proxy.py passes the
addresses, domains and TLS files as defines). Users register with Kamailio, not with us; the
server's own requests go out through its [sip] outbound_proxy, the same Kamailio. The server
has an address of its own (127.0.0.3), as on a host of its own.

- two baresip users join a room through the proxy and hear each other (mix-minus); a REFER
  (RFC 4579) to the room makes the server dial a third registered baresip user out through the
  proxy (Kamailio looks the user up in its location table), who then hears both;
- a file uploaded to a room is pushed to a participant registered with Kamailio, through it;
  a MESSAGE to echo goes through the proxy and the echo comes back through it to the
  registered user; the proxy is no open relay (403); with trusted_peers naming only the
  proxy, a request sent straight to the server from 127.0.0.2 gets 403 and a log line;
- WITH_AUTH: Digest challenges for users (401/407), none for the server's own requests;
- SIP over TLS end to end: users on TLS to Kamailio, Kamailio to the server on TLS
  ([sip] tls_port, certificates from a throwaway CA made with openssl, each side checking the
  other's), a user on UDP in the same room, a dial-out to a user registered over TLS, the
  room's BYE back over TLS; a proxy certificate from another CA is refused by the server;
- the shipped configuration passes `kamailio -c` as it is and with every option."""
import hashlib
import math
import os
import re
import subprocess
import time

import pytest

import rtp_tone
from conftest import free_port, free_port_pair, free_port_range
from baresip_peer import Baresip, read_wav
from kamailio_proxy import KamailioProxy
from msrp_client import EchoServer, MsrpClient, answer_path, make_self_signed_cert, \
    msrp_sdp_offer, parse_msrp_sdp
from sip_client import SipUA
from test_conference_files import selector

DOMAIN = "sip.test"
# the server has an address of its own, as on a host of its own: Kamailio tells its requests
# from the users' by source address (SYLK_IP in kamailio.cfg)
SYLK_IP = "127.0.0.3"
CONF = "conference.sip.test"


class Deployment:
    """Kamailio on 127.0.0.1 in front of one sylkserver, each knowing the other's ports."""

    def __init__(self, server_factory, workdir, tls=False, config=None, plugin_configs=None,
                 proxy_ca_trusted=True, users=None):
        self.workdir = str(workdir)
        self.proxy_port = free_port()
        self.ca = self.certs = None
        sylk = {"sip": {"local_ip": SYLK_IP,
                        "outbound_proxy": f"sip:127.0.0.1:{self.proxy_port};lr"}}
        proxy_args = {"users": users}
        if tls:
            self.proxy_tls_port = free_port(kinds=("tcp",))
            self.sylk_tls_port = free_port(kinds=("tcp",))
            self.ca, self.certs = make_ca(self.workdir, ("kamailio", "sylkserver"))
            if not proxy_ca_trusted:   # Kamailio's certificate from a CA the server does not know
                _, other = make_ca(os.path.join(self.workdir, "other-ca"), ("kamailio",))
                self.certs["kamailio"] = other["kamailio"]
            sylk["sip"].update({
                "tls_port": self.sylk_tls_port,
                "tls_certificate": self.certs["sylkserver"]["pem"],
                "tls_ca": self.ca,
                "outbound_proxy": f"sip:127.0.0.1:{self.proxy_tls_port};transport=tls;lr"})
            proxy_args.update(tls=True, tls_port=self.proxy_tls_port,
                              cert=self.certs["kamailio"]["crt"],
                              key=self.certs["kamailio"]["key"], ca=self.ca, verify=True,
                              sylk_tls_uri=f"sip:{SYLK_IP}:{self.sylk_tls_port};transport=tls")
        for section, values in (config or {}).items():
            sylk.setdefault(section, {}).update(values)
        self.server = server_factory(config=sylk, plugin_configs=plugin_configs)
        self.proxy = KamailioProxy(os.path.join(self.workdir, "kamailio"),
                                   sylk_uri=f"sip:{SYLK_IP}:{self.server.sip_port}",
                                   sylk_ip=SYLK_IP,
                                   sip_domain=DOMAIN, conf_domain=CONF, port=self.proxy_port,
                                   **proxy_args)
        self.baresips = []
        self.uas = []

    def start(self):
        self.proxy.start()
        self.server.start()
        return self

    def baresip(self, user, tone, tls=False, codecs="PCMU"):
        """A baresip user registered with Kamailio (UDP, or TLS to Kamailio's TLS port)."""
        port = free_port_pair()
        if tls:
            aor = f"sip:{user}@{DOMAIN};transport=tls"
            outbound = f"sip:127.0.0.1:{self.proxy_tls_port};transport=tls"
            extra = [f"sip_cafile {self.ca}"]
        else:
            aor, outbound, extra = f"sip:{user}@{DOMAIN}", f"sip:127.0.0.1:{self.proxy_port}", []
        b = Baresip(os.path.join(self.workdir, f"baresip-{user}"), sip_port=port,
                    rtp_start=free_port_range(100), ctrl_port=free_port(kinds=("tcp",)),
                    codecs=codecs, user=user, tone_freq=tone, tone_seconds=20, aor=aor, regint=60,
                    extra_account_params=f';outbound="{outbound}"', extra_config=extra)
        self.baresips.append(b)
        b.start()
        # REGISTER_OK may come before ctrl_tcp is connected: baresip's log says it too
        deadline = time.time() + 10
        while f"{user}@{DOMAIN}: {{0/" not in b.log() or " 200 OK " not in b.log():
            assert time.time() < deadline, f"{user} did not register\n{b.log()[-2000:]}"
            time.sleep(0.05)
        return b

    def ua(self, user, register=True, local_ip="127.0.0.1"):
        """Our SIP UA as user@DOMAIN, sending everything to Kamailio; registered there."""
        ua = SipUA(("127.0.0.1", self.proxy_port), user=user, local_ip=local_ip)
        ua.aor = f"sip:{user}@{DOMAIN}"
        self.uas.append(ua)
        if register:
            r = ua.request("REGISTER", f"sip:{DOMAIN}", to_uri=ua.aor,
                           extra=[("Expires", "60")])
            assert r.status == 200 and ua.contact in r.get("Contact", ""), r.text
        return ua

    def stop(self):
        for b in self.baresips:
            b.stop()
        for ua in self.uas:
            ua.close()
        self.proxy.stop()


@pytest.fixture
def deploy(server_factory, tmp_path):
    made = []

    def make(**kw):
        d = Deployment(server_factory, tmp_path / f"deploy{len(made)}", **kw)
        made.append(d)
        return d.start()
    yield make
    for d in made:
        d.stop()


def make_ca(workdir, names):
    """A throwaway CA and, per name, a certificate for IP 127.0.0.1 it signed: paths of
    {name: {"key", "crt", "pem" (key + certificate)}} and the CA certificate."""
    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=workdir)
    os.makedirs(workdir, exist_ok=True)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    out = {}
    for name in names:
        ext = os.path.join(workdir, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,IP:127.0.0.3,DNS:localhost\n")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", f"{name}.crt")
        paths = {k: os.path.join(workdir, f"{name}.{k}") for k in ("key", "crt", "pem")}
        with open(paths["pem"], "w") as f:
            f.write(open(paths["key"]).read() + open(paths["crt"]).read())
        out[name] = paths
    return os.path.join(workdir, "ca.crt"), out


def level(rate, samples, freq):
    return 2 * math.sqrt(rtp_tone.goertzel_power(samples, rate, freq)) / len(samples)


def assert_hears(b, own, others, seconds=2.0):
    """b's recording, its last `seconds` before the hang-up: the others' tones, not its own."""
    rate, samples = read_wav(b.decoded_dumps()[-1])
    tail = list(samples[-int((seconds + 0.5) * rate):-rate // 2])
    heard = [level(rate, tail, f) for f in others]
    mine = level(rate, tail, own)
    assert min(heard) > 500, f"{b.aor} hears too little of {others}: {heard}"
    assert mine < min(heard) / 10, f"{b.aor} hears itself: {mine} vs {heard}"


def drain_notifies(ua, until="SIP/2.0 2", timeout=10):
    frags = []
    while not frags or not frags[-1].startswith(until):
        n = ua.wait_request("NOTIFY", timeout=timeout)
        ua.respond(n, 200)
        if n.body:
            frags.append(n.body.decode().strip())
    return frags


def test_room_through_proxy_and_refer_dialout(deploy):
    """alice and bob (baresip, registered with Kamailio) call the room through it and hear each
    other; dave REFERs the room to carol@sip.test, whom the server calls through Kamailio
    (which finds her in its location table): her phone rings, answers, and she hears both."""
    d = deploy()
    tones = {"alice": 400.0, "bob": 700.0, "carol": 1100.0}
    alice, bob, carol = (d.baresip(u, f) for u, f in tones.items())
    room = f"sip:party@{CONF}"
    for b in (alice, bob):
        assert b.command("dial", room).get("ok")
        b.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    d.proxy.wait_log(f"INVITE {room} from 127.0.0.1:{alice.sip_port} (udp) -> sylkserver")

    dave = d.ua("dave", register=False)
    r = dave.request("REFER", room, extra=[("Refer-To", f"<sip:carol@{DOMAIN}>")])
    assert r.status == 202, r.text
    assert any("127.0.0.1:%d" % d.proxy.port in v for v in r.get_all("Record-Route")), r.text
    call = carol.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    assert call["direction"] == "incoming" and call["peeruri"] == room, call
    assert call["peerdisplayname"] == "Conference Call", call
    # the server sent the INVITE to its outbound proxy (over TCP when it is larger than UDP
    # allows, RFC 3261 18.1.1), Kamailio to carol's registered contact
    assert re.search(rf"INVITE sip:carol@{DOMAIN} from {SYLK_IP}:\d+ \((udp|tcp)\) -> "
                     rf"user sip:carol[^@ ]*@127\.0\.0\.1:{carol.sip_port}\b",
                     d.proxy.log()), d.proxy.log()[-3000:]
    frags = drain_notifies(dave)
    assert frags[0].startswith("SIP/2.0 100") and frags[-1].startswith("SIP/2.0 200"), frags
    time.sleep(3.0)
    for b in (alice, bob, carol):
        b.command("hangup")
        b.wait_event("CALL_CLOSED", timeout=5)
        b.stop()
    d.server.wait_log(f"room {room} ended")
    for b in (alice, bob, carol):
        own = tones[b.aor.split(":")[1].split("@")[0]]
        assert_hears(b, own, [f for f in tones.values() if f != own])


def test_file_push_echo_and_trusted_peers(deploy, tmp_path):
    """Through Kamailio, with trusted_peers naming only it: a file alice uploads is pushed to
    bob at his registered contact through the proxy; erin's MESSAGE to echo comes back to her
    through the proxy; a request sent straight to the server from 127.0.0.2 gets 403, logged."""
    d = deploy(config={"server": {"trusted_peers": "127.0.0.1/32"}},
               plugin_configs={"conference": {"conference": {
                   "files_dir": str(tmp_path / "files"), "push_file_transfer": "true"}}})
    kamailio = ("127.0.0.1", d.proxy.port)
    room = f"sip:files@{CONF}"
    cert, key = make_self_signed_cert(str(tmp_path))
    listener = EchoServer(tls=True, certfile=cert, keyfile=key, echo=False).start()
    clients = []
    try:
        def join(ua, lines=(), accept=("message/cpim",)):
            c = MsrpClient(tls=True)
            clients.append(c)
            offer = msrp_sdp_offer("127.0.0.1", c.local_port, c.sdp_path, accept_types=accept,
                                   extra_lines=list(lines))
            dlg = ua.invite(room, sdp=offer)
            assert dlg.response.status == 200, dlg.response.text
            dlg.ack()
            c.connect(answer_path(dlg.response.body))
            return dlg, c

        alice, bob = d.ua("alice"), d.ua("bob")
        join(alice)
        bob_dialog, bob_chat = join(bob)
        bob_chat.send_empty()
        data = os.urandom(50000)
        line, pairs = selector(data, "pushed.bin")
        _, up = join(d.ua("alice", register=False), [line, "a=sendonly"], accept=("*",))
        assert up.send_message(data, content_type="application/octet-stream",
                               chunk_size=16384, wait="all", timeout=20).ok
        invite = bob.wait_request("INVITE", timeout=10)
        assert invite.source == kamailio, (invite.source, invite.text)
        assert f"127.0.0.1:{d.proxy.port}" in invite.get_all("Via")[0], invite.text
        assert invite.get_all("Record-Route"), invite.text
        assert f"hash:sha-1:{pairs}" in invite.text and "sendonly" in \
            parse_msrp_sdp(invite.body)["attrs"], invite.text
        assert re.search(rf"INVITE {bob.contact} from {SYLK_IP}:\d+ \((udp|tcp)\) -> as "
                         "addressed", d.proxy.log()), d.proxy.log()[-3000:]
        wanted = [f"a={a}" for a in parse_msrp_sdp(invite.body)["attrs"]
                  if a.startswith("file-selector")]
        answer = msrp_sdp_offer("127.0.0.1", listener.port, listener.uri, setup="passive",
                                accept_types=("*",), extra_lines=wanted + ["a=recvonly"])
        bob.respond(invite, 200, body=answer, content_type="application/sdp",
                    headers=[("Contact", f"<{bob.contact}>")])
        assert listener.wait_received(1, timeout=20)
        assert listener.received[0].body == data

        erin = d.ua("erin")
        r = erin.request("MESSAGE", f"sip:echo@{DOMAIN}", body="ping through kamailio",
                         content_type="text/plain")
        assert r.status == 200, r.text
        echoed = erin.wait_request("MESSAGE", timeout=10)
        erin.respond(echoed, 200)
        assert b">> ping through kamailio" in echoed.body, echoed.text
        assert echoed.source == kamailio and echoed.uri.startswith(erin.contact), echoed.text
        assert f"sip:echo@{DOMAIN}" in echoed.get("From"), echoed.text
        d.proxy.wait_log(f"MESSAGE sip:erin@{DOMAIN} from {SYLK_IP}:{d.server.sip_port} (udp) "
                         f"-> user {erin.contact}")

        # the proxy is no open relay: from elsewhere to elsewhere is refused
        stranger = d.ua("stranger", register=False)
        r = stranger.request("MESSAGE", "sip:someone@far.test", body="relay me",
                             content_type="text/plain", from_uri="sip:stranger@far.test")
        assert r.status == 403 and r.reason == "Relaying Denied", r.text
        # nor for a From that claims our domain: without authentication it proves nothing
        r = stranger.request("MESSAGE", "sip:someone@far.test", body="relay me too",
                             content_type="text/plain", from_uri=f"sip:spoofed@{DOMAIN}")
        assert r.status == 403 and r.reason == "Relaying Denied", r.text

        mallory = SipUA((SYLK_IP, d.server.sip_port), local_ip="127.0.0.2", user="mallory")
        d.uas.append(mallory)
        r = mallory.request("MESSAGE", f"sip:echo@{DOMAIN}", body="straight in",
                            content_type="text/plain")
        assert r.status == 403, r.text
        d.server.wait_log(f"(127.0.0.2:{mallory.port}): 403 Forbidden: source address not in "
                          f"trusted_peers")
        assert "straight in" not in d.proxy.log()
    finally:
        listener.stop()
        for c in clients:
            c.close()


def digest(challenge, method, uri, user, password):
    """An RFC 2617 Authorization value (no qop) answering a WWW-/Proxy-Authenticate value."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm, nonce = params["realm"], params["nonce"]

    def md5(text):
        return hashlib.md5(text.encode()).hexdigest()
    response = md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'{method}:{uri}')}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{response}", algorithm=MD5')


def test_auth(deploy):
    """WITH_AUTH: Kamailio challenges a user's REGISTER (401) and MESSAGE (407), accepts them
    with the password, refuses a wrong one; the server's own request (the echo) is not
    challenged and reaches the user."""
    d = deploy(users={"erin": "s3cret"})
    erin = d.ua("erin", register=False)
    r = erin.request("REGISTER", f"sip:{DOMAIN}", to_uri=erin.aor, extra=[("Expires", "60")])
    assert r.status == 401 and r.get("WWW-Authenticate", "").startswith("Digest"), r.text
    wrong = digest(r.get("WWW-Authenticate"), "REGISTER", f"sip:{DOMAIN}", "erin", "guess")
    r = erin.request("REGISTER", f"sip:{DOMAIN}", to_uri=erin.aor,
                     extra=[("Expires", "60"), ("Authorization", wrong)])
    assert r.status == 401, r.text
    good = digest(r.get("WWW-Authenticate"), "REGISTER", f"sip:{DOMAIN}", "erin", "s3cret")
    r = erin.request("REGISTER", f"sip:{DOMAIN}", to_uri=erin.aor,
                     extra=[("Expires", "60"), ("Authorization", good)])
    assert r.status == 200 and erin.contact in r.get("Contact", ""), r.text

    echo = f"sip:echo@{DOMAIN}"
    r = erin.request("MESSAGE", echo, body="who goes there", content_type="text/plain")
    assert r.status == 407 and r.get("Proxy-Authenticate", "").startswith("Digest"), r.text
    creds = digest(r.get("Proxy-Authenticate"), "MESSAGE", echo, "erin", "s3cret")
    r = erin.request("MESSAGE", echo, body="who goes there", content_type="text/plain",
                     extra=[("Proxy-Authorization", creds)])
    assert r.status == 200, r.text
    echoed = erin.wait_request("MESSAGE", timeout=10)
    erin.respond(echoed, 200)
    assert b">> who goes there" in echoed.body, echoed.text


def test_tls_end_to_end(deploy):
    """alice on TLS to Kamailio, Kamailio to the server on TLS (its tls_port, certificates of a
    throwaway CA, each side checking the other's), bob on UDP: in one room; carol, registered
    over TLS, is dialled out on a REFER (the server's INVITE over TLS to Kamailio, on to carol
    over the connection she registered on); all hear each other; the room's BYE reaches alice
    over TLS through Kamailio."""
    d = deploy(tls=True)
    tones = {"alice": 500.0, "bob": 900.0, "carol": 1300.0}
    alice = d.baresip("alice", tones["alice"], tls=True)
    bob = d.baresip("bob", tones["bob"])
    carol = d.baresip("carol", tones["carol"], tls=True)
    room = f"sip:secure@{CONF}"
    for b in (alice, bob):
        assert b.command("dial", room).get("ok")
        b.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    d.proxy.wait_log(f"INVITE {room} from 127.0.0.1:")
    log = d.proxy.log()
    assert "(tls) -> sylkserver sip:%s:%d;transport=tls" % (SYLK_IP, d.sylk_tls_port) in log, log
    assert "(udp) -> sylkserver sip:%s:%d;transport=tls" % (SYLK_IP, d.sylk_tls_port) in log, log

    dave = d.ua("dave", register=False)
    r = dave.request("REFER", room, extra=[("Refer-To", f"<sip:carol@{DOMAIN}>")])
    assert r.status == 202, r.text
    call = carol.wait_event("CALL_ESTABLISHED", timeout=10, stop_on=("CALL_CLOSED",))
    assert call["direction"] == "incoming" and call["peeruri"] == room, call
    assert re.search(rf"INVITE sip:carol@{DOMAIN} from {SYLK_IP}:\d+ \(tls\) -> user "
                     rf"sip:carol[^@ ]*@127\.0\.0\.1:{carol.sip_port + 1};transport=tls via "
                     rf"sip:127\.0\.0\.1:\d+;transport=tls", d.proxy.log()), \
        d.proxy.log()[-3000:]
    frags = drain_notifies(dave)   # over TLS to Kamailio, UDP from it
    assert frags[-1].startswith("SIP/2.0 200"), frags
    time.sleep(3.0)
    # the room removes alice on a REFER method=BYE: its BYE goes over TLS to Kamailio, which
    # reaches alice on her TLS connection
    r = dave.request("REFER", room, extra=[("Refer-To", f"<sip:alice@{DOMAIN};method=BYE>")])
    assert r.status == 202, r.text
    frags = drain_notifies(dave)
    assert frags[-1].startswith("SIP/2.0 200"), frags
    alice.wait_event("CALL_CLOSED", timeout=10)   # before her 20 s tone ends
    d.server.wait_log("ended: 200 BYE sent")
    for b in (bob, carol):   # their BYEs: UDP and TLS to Kamailio, TLS on to the server
        b.command("hangup")
        b.wait_event("CALL_CLOSED", timeout=5)
    for b in (alice, bob, carol):
        b.stop()
    d.server.wait_log(f"room {room} ended")
    assert "ERROR" not in d.proxy.log(), d.proxy.log()[-3000:]
    for b in (alice, bob, carol):
        own = tones[b.aor.split(":")[1].split("@")[0]]
        assert_hears(b, own, [f for f in tones.values() if f != own])


def test_tls_proxy_certificate_checked(deploy):
    """With tls_ca set, the server checks the certificate of the proxy it connects to: a
    Kamailio whose certificate another CA signed gets requests from users to the server (the
    server's certificate is good), but the server's own requests (here the echo of a MESSAGE)
    never reach it: the server ends the TLS handshake ("unable to get local issuer")."""
    d = deploy(tls=True, proxy_ca_trusted=False)
    erin = d.ua("erin")
    r = erin.request("MESSAGE", f"sip:echo@{DOMAIN}", body="unverified", content_type="text/plain")
    assert r.status == 200, r.text
    d.server.wait_log("err 20:unable to get local issuer certificate")
    assert "MESSAGE sip:erin@" not in d.proxy.log()
    # sofia-sip closes the connection without failing the request queued on it, which then
    # waits for its timer F (32 s) and holds a clean shutdown that long: stop the server here
    d.server.proc.kill()
    d.server.proc.wait()
    d.server.logf.close()


@pytest.mark.parametrize("defines", [
    [],
    ["-A", "WITH_TLS", "-A", "WITH_AUTH", "-A", 'SYLK_URI_TLS="sip:127.0.0.1:5071;transport=tls"',
     "-A", "TLS_VERIFY=1", "-A", 'TLS_CONFIG="/etc/kamailio/tls.cfg"'],
])
def test_config_checks(defines, tmp_path):
    """etc/kamailio/kamailio.cfg as shipped (its defaults) and with every option passes
    `kamailio -c`."""
    from kamailio_process import KAMAILIO
    from kamailio_proxy import CONFIG
    r = subprocess.run([KAMAILIO, "-c", "-f", CONFIG, "-Y", str(tmp_path)] + defines,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "config file ok" in r.stdout + r.stderr, r.stdout + r.stderr
    listening = r.stdout + r.stderr
    assert ("tls: 127.0.0.1" in listening) == ("WITH_TLS" in defines), listening
