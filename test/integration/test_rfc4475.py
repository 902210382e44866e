"""RFC 4475 (SIP torture test messages): every message of sections 3.1.1, 3.1.2, 3.2, 3.3 and
3.4, byte for byte as the RFC's archive has it (test/data/rfc4475/), sent to a running server
over UDP and over TCP; after each one the server must still answer an OPTIONS.

What is rewritten before sending, and why, is in rfc4475_wire.py: the Request-URI's host:port
and the top Via's transport and sent-by (so that the message reaches us and its answer comes
back), and SDP's "IN IP4 192.0.2." (so that accepted calls send RTP to loopback only).

EXPECTED holds, per message: its RFC section, what the RFC says a receiver does, and the answers
we give over UDP and TCP (None: no answer, which is what the RFC asks for stray responses). Where
our answer is not the RFC's, `why` says why the RFC's is impossible here. Where the RFC allows
several answers, `why` says which we chose. REGISTER: this server is an endpoint, not a
registrar, and RFC 4475 3.3.7 says such endpoints reject REGISTER, 405 being appropriate.

The tests after the table take the same classes of problem beyond the RFC's examples.
"""
import re
import socket
import time

import pytest

from conftest import Server
from rfc4475_wire import (Peer, ack_and_bye, header, is_response, load, rewrite, status_of)
from sip_client import SipUA, parse_sdp, sdp_offer

REGISTRAR = "we are not a registrar: REGISTER gets 405 (RFC 4475 3.3.7 for such endpoints)"

# name: (RFC section, the RFC's answer, {transport: our answers}, why)
EXPECTED = {
    # 3.1.1 valid messages
    "wsinv": ("3.1.1.1", "well formed", {"udp": {481}, "tcp": {481}},
              "its To has a tag of a dialog we do not have: RFC 3261 12.2.2 makes a UAS answer "
              "481 rather than recreate the dialog"),
    "intmeth": ("3.1.1.2", "501", {"udp": {400}, "tcp": {None}},
                "sofia-sip frames header lines as C strings: the quoted NUL in the To display "
                "name ends that line there, so To is malformed to it (400 Bad To Header over "
                "UDP) and on a stream it never finds the end of the message (no answer; the "
                "connection idles). The method with '+' and '`', which sofia also refuses, is "
                "parsed by our layer (see test_method_with_every_token_character)"),
    "esc01": ("3.1.1.3", "well formed", {"udp": {200}, "tcp": {200}}, "a conference answers"),
    "escnull": ("3.1.1.4", "well formed", {"udp": {405}, "tcp": {405}}, REGISTRAR),
    "esc02": ("3.1.1.5", "501", {"udp": {501}, "tcp": {501}}, ""),
    "lwsdisp": ("3.1.1.6", "well formed", {"udp": {200}, "tcp": {200}}, ""),
    "longreq": ("3.1.1.7", "well formed", {"udp": {200}, "tcp": {200}}, "a conference answers"),
    "dblreq": ("3.1.1.8", "the REGISTER handled, the octets after it ignored",
               {"udp": {405}, "tcp": {405}},
               REGISTRAR + "; over TCP the octets after it are the next request on the stream, "
               "whose top Via names UDP: sofia-sip drops a request whose Via names another "
               "transport than the one it came on, so nothing more comes"),
    "semiuri": ("3.1.1.9", "well formed", {"udp": {200}, "tcp": {200}}, ""),
    "transports": ("3.1.1.10", "well formed", {"udp": {200}, "tcp": {200}}, ""),
    "mpart01": ("3.1.1.11", "well formed", {"udp": {405}, "tcp": {405}},
                "a MESSAGE to a conference room: the conference takes no MESSAGE outside a call"),
    "unreason": ("3.1.1.12", "well formed response", {"udp": {None}, "tcp": {None}},
                 "a response to nothing we sent: dropped"),
    "noreason": ("3.1.1.13", "well formed response", {"udp": {None}, "tcp": {None}},
                 "a response to nothing we sent: dropped"),
    # 3.1.2 invalid messages
    "badinv01": ("3.1.2.1", "400", {"udp": {400}, "tcp": {400}}, ""),
    "clerr": ("3.1.2.2", "400 over UDP; on a stream wait for the rest",
              {"udp": {400}, "tcp": {None}}, ""),
    "ncl": ("3.1.2.3", "an error (400); on a stream close", {"udp": {400}, "tcp": {400}}, ""),
    "scalar02": ("3.1.2.4", "400", {"udp": {400}, "tcp": {400}}, ""),
    "scalarlg": ("3.1.2.5", "response discarded", {"udp": {None}, "tcp": {None}}, ""),
    "quotbal": ("3.1.2.6", "400", {"udp": {400}, "tcp": {400}}, ""),
    "ltgtruri": ("3.1.2.7", "400", {"udp": {400}, "tcp": {400}}, ""),
    "lwsruri": ("3.1.2.8", "400", {"udp": {400}, "tcp": {400}}, ""),
    "lwsstart": ("3.1.2.9", "400, or ignore the extra SP", {"udp": {400}, "tcp": {400}},
                 "we take RFC 3261's request-line grammar as it is"),
    "trws": ("3.1.2.10", "400, or ignore the extra SP", {"udp": {400}, "tcp": {400}},
             "we take RFC 3261's request-line grammar as it is"),
    "escruri": ("3.1.2.11", "400, or ignore the escaped headers", {"udp": {400}, "tcp": {400}},
                "a SIP Request-URI has no headers (RFC 3261 19.1.1)"),
    "baddate": ("3.1.2.12", "reject, or ignore a Date it does not use",
                {"udp": {200}, "tcp": {200}}, "we use no Date: the call is answered"),
    "regbadct": ("3.1.2.13", "400 (or infer the <>)", {"udp": {400}, "tcp": {400}}, ""),
    "badaspec": ("3.1.2.14", "400, or ignore the spaces", {"udp": {200}, "tcp": {200}},
                 "sofia-sip ignores spaces inside <>; the OPTIONS is answered"),
    "baddn": ("3.1.2.15", "400", {"udp": {400}, "tcp": {None}},
              "the RFC's archive has this message without the empty line that ends its header "
              "section: a datagram ends it, on a stream it never ends (no answer possible)"),
    "badvers": ("3.1.2.16", "505", {"udp": {505}, "tcp": {505}}, ""),
    "mismatch01": ("3.1.2.17", "400", {"udp": {400}, "tcp": {400}}, ""),
    "mismatch02": ("3.1.2.18", "501 (400 acceptable)", {"udp": {400}, "tcp": {400}},
                   "sofia-sip's sanity check compares the CSeq and request methods first"),
    "bigcode": ("3.1.2.19", "response dropped", {"udp": {None}, "tcp": {None}}, ""),
    # 3.2 transaction layer
    "badbranch": ("3.2.1", "400, or RFC 2543 transaction matching", {"udp": {200}, "tcp": {200}},
                  "sofia-sip falls back to RFC 2543 matching"),
    # 3.3 application layer
    "insuf": ("3.3.1", "400", {"udp": {400}, "tcp": {400}}, ""),
    "unkscm": ("3.3.2", "416", {"udp": {416}, "tcp": {416}}, ""),
    "novelsc": ("3.3.3", "416 (or 404)", {"udp": {416}, "tcp": {416}}, ""),
    "unksm2": ("3.3.4", "a registrar 400; others as any request", {"udp": {405}, "tcp": {405}},
               REGISTRAR),
    "bext01": ("3.3.5", "420 with Unsupported", {"udp": {420}, "tcp": {420}}, ""),
    "invut": ("3.3.6", "415", {"udp": {415}, "tcp": {415}}, ""),
    "regaut01": ("3.3.7", "endpoints 405", {"udp": {405}, "tcp": {405}}, REGISTRAR),
    "multi01": ("3.3.8", "400", {"udp": {400}, "tcp": {400}}, ""),
    "mcl01": ("3.3.9", "an error (400); on a stream close", {"udp": {400}, "tcp": {400}}, ""),
    "bcast": ("3.3.10", "response discarded", {"udp": {None}, "tcp": {None}}, ""),
    "zeromf": ("3.3.11", "a UAS processes it as if Max-Forwards were positive",
               {"udp": {200}, "tcp": {200}}, ""),
    "cparam01": ("3.3.12", "a registrar 200", {"udp": {405}, "tcp": {405}}, REGISTRAR),
    "cparam02": ("3.3.13", "a registrar 200", {"udp": {405}, "tcp": {405}}, REGISTRAR),
    "regescrt": ("3.3.14", "a registrar 200", {"udp": {405}, "tcp": {405}}, REGISTRAR),
    "sdp01": ("3.3.15", "406 (or 400)", {"udp": {406}, "tcp": {406}}, ""),
    # 3.4 backward compatibility
    "inv2543": ("3.4.1", "accepted", {"udp": {200}, "tcp": {400}},
                "over TCP: no Content-Length, which RFC 3261 18.3 requires on streams; nothing "
                "says where the body ends"),
}

NO_ANSWER_WAIT = 1.5   # seconds to wait for an answer that must not come
ANSWER_WAIT = 8.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A server per transport: the same message sent over UDP, then over TCP to one server
    would be a merged request to it (RFC 3261 8.2.2.2: 482)."""
    started = {t: Server(tmp_path_factory.mktemp("rfc4475-" + t)).start() for t in ("udp", "tcp")}
    yield started
    for server in started.values():
        if server.alive():
            assert server.stop() == 0, server.log()[-3000:]


@pytest.fixture
def torture_server(servers):
    return servers["udp"]


def request_uri(sent):
    """The Request-URI token of a request as sent."""
    return [t for t in sent.split(b"\r\n", 1)[0].split(b" ") if t][1]


def finish(peer, sent, answer):
    """Ends what an INVITE's answer left open; a 2xx must be ended by a BYE the server takes."""
    if answer is None or not sent.startswith(b"INVITE"):
        return
    bye = ack_and_bye(peer, request_uri(sent), answer)
    if status_of(answer) < 300:
        assert bye == 200, "BYE after the 2xx: %r" % bye


def options_answered(server):
    """A fresh UDP peer's OPTIONS is answered 200 (the server is alive and serving)."""
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        return ua.request("OPTIONS", f"sip:echo@{server.uri_host}", timeout=5).status == 200
    finally:
        ua.close()


def send_case(server, name, transport, wait):
    peer = Peer(transport, server.sip_port)
    sent = rewrite(load(name), transport, peer.server_hostport, peer.local_hostport)
    peer.send(sent)
    status, answer, _ = peer.final_answer(wait)
    return peer, sent, status, answer


def test_every_message_is_in_the_table():
    import os
    from rfc4475_wire import DATA
    assert sorted(f[:-4] for f in os.listdir(DATA)) == sorted(EXPECTED)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rfc4475_message(servers, name, transport):
    torture_server = servers[transport]
    section, rfc, ours, why = EXPECTED[name]
    expected = ours[transport]
    wait = NO_ANSWER_WAIT if expected == {None} else ANSWER_WAIT
    peer, sent, status, answer = send_case(torture_server, name, transport, wait)
    try:
        assert status in expected, (f"{name} (RFC 4475 {section}, RFC: {rfc}) over {transport}:"
                                    f" got {status}, expected {expected} ({why})\n"
                                    f"{answer!r}")
        finish(peer, sent, answer)
        if name == "bext01":        # RFC 3261 8.2.2.3: the unknown option tags, listed
            unsupported = header(answer, "unsupported") or ""
            assert "nothingSupportsThis" in unsupported
            assert "nothingSupportsThisEither" in unsupported
        if name == "invut":         # RFC 3261 21.4.13: a 415 lists what we take
            assert "application/sdp" in (header(answer, "accept") or "")
        if name == "sdp01":
            assert "Accept" in (header(answer, "warning") or "")
        if name == "dblreq" and transport == "tcp":
            assert peer.final_answer(NO_ANSWER_WAIT)[0] is None
        if is_response(load(name)):
            time.sleep(0.2)         # let a crash, if any, happen before the next check
    finally:
        peer.close()
    assert torture_server.alive(), torture_server.log()[-3000:]
    assert options_answered(torture_server), f"no OPTIONS answer after {name}"


# ----------------------------------------------------- the same classes, beyond the RFC ---

OPTIONS = ("OPTIONS sip:echo@{host} SIP/2.0\r\nVia: SIP/2.0/{T} {me};branch=z9hG4bK{n}\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:echo@127.0.0.1>\r\n"
           "Call-ID: class-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


def send_raw(server, transport, template, **kw):
    """Sends a message built from `template` ({host}, {me}, {T}, {n} filled in); its answer."""
    peer = Peer(transport, server.sip_port)
    try:
        msg = template.format(host=peer.server_hostport.decode(), me=peer.local_hostport.decode(),
                              T=transport.upper(), n=time.time_ns(), **kw).encode()
        peer.send(msg)
        status, answer, _ = peer.final_answer(ANSWER_WAIT)
        return status, answer
    finally:
        peer.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("line,problem", [
    (" OPTIONS sip:echo@{host} SIP/2.0", "whitespace before the request line"),
    ("OPTIONS sip:echo@{host}\t SIP/2.0", "LWS inside"),
    ("OPTIONS sip:echo@{host} SIP/2.0\t", "whitespace after the SIP version"),
    ("OPTIONS sip:echo@{host};a=b?c=d SIP/2.0", "headers in the Request-URI"),
    ("OPTIONS sip:echo@{host} SIP/2", "malformed SIP version"),
])
def test_request_line_grammar(torture_server, transport, line, problem):
    template = OPTIONS.replace("OPTIONS sip:echo@{host} SIP/2.0", line, 1)
    status, answer = send_raw(torture_server, transport, template)
    assert status == 400, answer
    torture_server.wait_log(problem)
    assert options_answered(torture_server)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_via_with_empty_parts(torture_server, transport):
    """A Via sofia-sip cannot parse leaves nothing to answer to; parsed without its empty
    parts, the request is answered 400 saying why."""
    template = OPTIONS.replace(";branch=z9hG4bK{n}", ";branch=z9hG4bK{n};;,", 1)
    status, answer = send_raw(torture_server, transport, template)
    assert status == 400, answer
    assert "Via" in (header(answer, "warning") or "")
    assert options_answered(torture_server)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_method_with_every_token_character(torture_server, transport):
    """RFC 3261 token characters in a method, '+' and '`' included (sofia-sip's parser has
    neither): an unknown method, so 501 with Allow."""
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    template = OPTIONS.replace("OPTIONS sip", method + " sip", 1).replace(
        "CSeq: 1 OPTIONS", "CSeq: 1 " + method)
    status, answer = send_raw(torture_server, transport, template)
    assert status == 501, answer
    assert "INVITE" in (header(answer, "allow") or "")


def test_badvers_answer_reaches_the_sender_over_udp(tmp_path):
    """RFC 4475 3.1.2.16 with its own Via (sent-by c.example.com, no rport), only the
    Request-URI pointed at us: the 505 must go to the source address at the sent-by port (RFC
    3261 18.2.2, 'received'). Sent from 127.0.0.N:5060 so that that is where we listen. nta
    used to answer it before looking at the Via, to c.example.com itself: nothing came back.
    A server of its own: the parametrized case sent the same transaction (482 merged)."""
    import random
    torture_server = Server(tmp_path).start()
    from rfc4475_wire import _rewrite_request_line
    raw = load("badvers")
    first, crlf, rest = raw.partition(b"\r\n")
    msg = _rewrite_request_line(first, f"127.0.0.1:{torture_server.sip_port}".encode()) + crlf + rest
    assert b"Via:     SIP/7.0/UDP c.example.com;branch=" in msg  # the RFC's Via, untouched
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(20):  # a free 127.0.0.N:5060
        try:
            sock.bind((f"127.0.0.{random.randint(2, 250)}", 5060))
            break
        except OSError:
            continue
    sock.settimeout(ANSWER_WAIT)
    try:
        sock.sendto(msg, ("127.0.0.1", torture_server.sip_port))
        answer, _ = sock.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 505 "), answer
        assert b"received=" in answer, answer
        assert options_answered(torture_server)
    finally:
        sock.close()
        assert torture_server.stop() == 0


def invite(server, ua, sdp, extra=()):
    call = ua.invite(f"sip:echo@{server.uri_host}", sdp=sdp, extra=extra)
    if call.response.status == 200:
        call.ack()
        assert call.bye().status == 200
    return call.response


@pytest.mark.parametrize("accept,status", [
    ("text/nobodyKnowsThis", 406),
    ("application/sdp;q=0", 406),
    ("", 406),
    ("application/*", 200),
    ("*/*", 200),
    ("text/plain, application/sdp", 200),
])
def test_accept_of_an_invite(torture_server, accept, status):
    ua = SipUA(("127.0.0.1", torture_server.sip_port))
    try:
        resp = invite(torture_server, ua, sdp_offer(40200), extra=[("Accept", accept)])
        assert resp.status == status, resp
    finally:
        ua.close()


def test_require_of_an_unknown_extension(torture_server):
    ua = SipUA(("127.0.0.1", torture_server.sip_port))
    try:
        resp = invite(torture_server, ua, sdp_offer(40210), extra=[("Require", "100rel, foo")])
        assert resp.status == 420
        assert "100rel" in resp.get("Unsupported") and "foo" in resp.get("Unsupported")
    finally:
        ua.close()


def offer(media_lines, session_c="c=IN IP4 127.0.0.1"):
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", session_c, "t=0 0"] + media_lines
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize("sdp,warning", [
    (offer(["m=audio 70000 RTP/AVP 0"]), "65535"),
    (offer(["m=audio 4294967297 RTP/AVP 0"]), "65535"),
    (offer(["m=audio 40220 RTP/AVP 0"], "c=IN IP6 ::1"), "301 "),
    (offer(["m=audio 40220 RTP/AVP 0"], "c=IN IP4 media.example.com"), "301 "),
    (offer(["m=audio 40220 RTP/AVP 0"], "c=IN IP4 224.2.1.1/127"), "330 "),
    (offer(["m=audio 40220 RTP/AVP 0", "a=rtpmap:0 PCMU"]), "305 "),
], ids=["port-70000", "port-2**32+1", "ipv6-only", "host-name", "multicast",
        "only-a-broken-rtpmap"])
def test_unusable_offers_get_488_with_the_reason(torture_server, sdp, warning):
    ua = SipUA(("127.0.0.1", torture_server.sip_port))
    try:
        resp = invite(torture_server, ua, sdp)
        assert resp.status == 488, resp
        assert warning in (resp.get("Warning") or ""), resp.get("Warning")
    finally:
        ua.close()


def test_what_remains_usable_is_answered(torture_server):
    """A malformed rtpmap costs its payload type only, fmtp lines about payload types the m=
    line does not list are ignored, and of an IPv6 and an IPv4 stream the IPv4 one is taken
    (the IPv6 one refused with port 0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ua = SipUA(("127.0.0.1", torture_server.sip_port))
    try:
        sdp = offer([f"m=audio {port} RTP/AVP 0 8", "c=IN IP6 ::1", "a=rtpmap:0 PCMU/8000",
                     f"m=audio {port} RTP/AVP 0 8 96", "a=rtpmap:0 PCMU", "a=rtpmap:8 PCMA/8000",
                     "a=fmtp:97 foo=bar", "a=rtpmap:96 G7 22/8000"])
        call = ua.invite(f"sip:echo@{torture_server.uri_host}", sdp=sdp)
        assert call.response.status == 200, call.response
        media = parse_sdp(call.response.text)["media"]
        assert media[0]["port"] == 0
        assert media[1]["port"] != 0 and re.search(r"PCMA/8000", call.response.text)
        assert "PCMU" not in call.response.text.split("m=audio")[2]
        call.ack()
        assert call.bye().status == 200
    finally:
        ua.close()
        sock.close()
