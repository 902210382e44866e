"""SIP behaviour of sylkserver against sipp 3.6.1 (scenarios in test/integration/sipp/).

Every test starts its own server on free loopback ports; sipp runs with -timeout/-timeout_error
and -recv_timeout so nothing hangs; exit code 0 means every call of the scenario succeeded
(all expected messages arrived and every regexp check passed).
"""
import os

from conftest import PLUGINS_DIR, assert_sipp_ok, free_port, free_port_range, write_ini

# A plugin directory with echo only: the default application (conference) is then missing.
ECHO_ONLY = os.path.join(PLUGINS_DIR, "echo")


def _without_default_application(server_factory, **kwargs):
    s = server_factory(**kwargs)
    s.config["server"].pop("default_application", None)
    write_ini(s.config_path, s.config)
    return s.start()


# -- basics ------------------------------------------------------------------------------------

def test_options_udp(server, sipp):
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="echo"))


def test_options_tcp(server, sipp):
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="anyone", transport="t1"))


def test_echo_call_udp(server, sipp):
    """INVITE → 180 → 200 (SDP answer, c=127.0.0.1) → ACK → BYE → 200."""
    r = sipp.run("invite_echo.xml", server.sip_port, service="echo", duration_ms=300)
    assert_sipp_ok(r)
    assert server.alive()


def test_echo_call_tcp(server, sipp):
    r = sipp.run("invite_echo.xml", server.sip_port, service="echo", transport="t1",
                 duration_ms=300)
    assert_sipp_ok(r)


def test_echo_answer_picks_one_preferred_codec(server, sipp):
    """The answer to a PCMU/PCMA/G722 offer carries exactly one audio codec, G722 first by the
    server's preference (plus telephone-event, which was offered)."""
    r = sipp.run("invite_echo.xml", server.sip_port, service="echo")
    assert_sipp_ok(r)
    msgs = r.messages.replace("\r\n", "\n")
    i = msgs.find("SIP/2.0 200")
    assert i >= 0, r.describe()
    mline = [line for line in msgs[i:].splitlines() if line.startswith("m=audio")]
    assert mline, r.describe()
    fmts = mline[0].split()[3:]
    codecs = [f for f in fmts if f in ("0", "8", "9")]
    assert codecs == ["9"], f"answer m-line {mline[0]!r}: expected G722 (9) only"
    assert "101" in fmts, f"telephone-event was offered and must be kept: {mline[0]!r}"


# -- routing -----------------------------------------------------------------------------------

def test_unknown_user_without_default_application_404(server_factory, sipp):
    server = _without_default_application(server_factory)
    assert_sipp_ok(sipp.run("invite_404.xml", server.sip_port, service="nobody"))


def test_default_conference_not_loaded_404(server_factory, sipp):
    """default_application = conference, not loaded: 404 whose reason names conference."""
    server = server_factory(plugins_dir=ECHO_ONLY).start()
    assert_sipp_ok(sipp.run("invite_404_conference.xml", server.sip_port, service="alice"))


def test_x_sylk_app_header_selects_echo(server_factory, sipp):
    server = server_factory(config={"server": {"allow_app_header": True}}).start()
    r = sipp.run("invite_echo.xml", server.sip_port, service="alice",
                 keys={"extra_hdr": "X-Sylk-App: echo"})
    assert_sipp_ok(r)


def test_x_sylk_app_header_ignored_when_not_allowed(server_factory, sipp):
    server = server_factory(config={"server": {"allow_app_header": False}},
                            plugins_dir=ECHO_ONLY).start()
    r = sipp.run("invite_404_conference.xml", server.sip_port, service="alice",
                 keys={"extra_hdr": "X-Sylk-App: echo"})
    assert_sipp_ok(r)


def test_application_map_by_host(server_factory, sipp):
    server = server_factory(config={"server": {
        "application_map": "echo:echo, echo.example.com:echo"}}).start()
    r = sipp.run("invite_echo.xml", server.sip_port, service="room1",
                 ruri_host="echo.example.com")
    assert_sipp_ok(r)


def test_application_map_by_user_at_host(server_factory, sipp):
    server = server_factory(config={"server": {
        "application_map": "echo:echo, bob@example.com:echo"}}, plugins_dir=ECHO_ONLY).start()
    assert_sipp_ok(sipp.run("invite_echo.xml", server.sip_port, service="bob",
                            ruri_host="example.com"))
    # the same user at another host is not mapped: falls to the default (conference, absent)
    assert_sipp_ok(sipp.run("invite_404_conference.xml", server.sip_port, service="bob",
                            ruri_host="other.example.com"))


def test_domain_restriction_rejects_application(server_factory, sipp):
    """[domain example.com] applications = conference: echo is not reachable in example.com."""
    server = server_factory(config={"domain example.com": {"applications": "conference"}})
    server.start()
    assert_sipp_ok(sipp.run("invite_rejected_403_404.xml", server.sip_port, service="echo",
                            ruri_host="example.com"))
    # other domains are not restricted
    assert_sipp_ok(sipp.run("invite_echo.xml", server.sip_port, service="echo"))


def test_untrusted_source_403(server_factory, sipp):
    server = server_factory(config={"server": {"trusted_peers": "127.0.0.2"}}).start()
    assert_sipp_ok(sipp.run("invite_403.xml", server.sip_port, service="echo"))
    assert server.alive()


def test_trusted_network_accepted(server_factory, sipp):
    server = server_factory(config={"server": {"trusted_peers": "127.0.0.0/8"}}).start()
    assert_sipp_ok(sipp.run("invite_echo.xml", server.sip_port, service="echo"))


# -- offer/answer ------------------------------------------------------------------------------

def test_malformed_sdp_488_and_server_survives(server, sipp):
    assert_sipp_ok(sipp.run("invite_bad_sdp_488.xml", server.sip_port, service="echo"))
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="echo"))
    assert server.alive()


def test_only_unknown_codecs_488_with_warning(server, sipp):
    assert_sipp_ok(sipp.run("invite_unknown_codecs_488.xml", server.sip_port, service="echo"))


def test_late_offer(server, sipp):
    """INVITE without SDP → 200 with an offer; our answer goes in the ACK; then BYE."""
    assert_sipp_ok(sipp.run("late_offer.xml", server.sip_port, service="echo",
                            duration_ms=300))
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="echo"))


def test_invite_with_replaces_403(server, sipp):
    assert_sipp_ok(sipp.run("invite_replaces_403.xml", server.sip_port, service="echo"))


# -- other methods ---------------------------------------------------------------------------

def test_subscribe_unknown_event_489(server, sipp):
    assert_sipp_ok(sipp.run("subscribe_489.xml", server.sip_port, service="echo",
                            keys={"event": "foo"}))


def test_subscribe_conference_to_echo_rejected(server, sipp):
    """echo declares no event packages and handles no SUBSCRIBE: 489 or 405, never 2xx."""
    assert_sipp_ok(sipp.run("subscribe_405_489.xml", server.sip_port, service="echo",
                            keys={"event": "conference"}))


def test_refer_to_echo_405(server_factory, sipp):
    """No loaded plugin takes REFER: 405 (with conference loaded, see the README's notes)."""
    server = server_factory(plugins_dir=ECHO_ONLY).start()
    assert_sipp_ok(sipp.run("refer_405.xml", server.sip_port, service="echo"))


def test_unknown_method_405_or_501(server, sipp):
    assert_sipp_ok(sipp.run("publish_405_501.xml", server.sip_port, service="echo"))


def test_message_without_body_400(server, sipp):
    assert_sipp_ok(sipp.run("message_no_body_400.xml", server.sip_port, service="echo"))


def test_oversized_message_tcp_413_then_still_serving(server_factory, sipp):
    server = server_factory(config={"sip": {"max_message_size": 4096}}).start()
    r = sipp.run("options_too_big_413.xml", server.sip_port, service="echo", transport="t1",
                 keys={"big_body": "x" * 8000})
    assert_sipp_ok(r)
    assert server.alive()
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="echo", transport="t1"))
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="echo"))
    # a message under the limit is still fine
    assert_sipp_ok(sipp.run("invite_echo.xml", server.sip_port, service="echo"))


# -- MESSAGE echo ------------------------------------------------------------------------------

def test_message_echo(server, sipp):
    """MESSAGE → 200, then the server sends "Echo:\\n>> …" back to our From URI, where a
    second sipp (message_echo_uas.xml) checks the body and headers with regexps."""
    uas_port = free_port(kinds=("udp",))
    finish = sipp.start_uas("message_echo_uas.xml", uas_port, timeout=15)
    r = sipp.run("message_echo_uac.xml", server.sip_port, service="echo",
                 keys={"uas_port": uas_port})
    assert_sipp_ok(r)
    uas = finish()
    assert_sipp_ok(uas)


# -- load --------------------------------------------------------------------------------------

def test_200_concurrent_echo_calls(server_factory, sipp):
    """200 calls at 200 calls/s, each held 2 s, so ~200 are up together; all must succeed."""
    start = free_port_range(500)
    server = server_factory(config={"rtp": {"port_range": f"{start}:{start + 499}"},
                                    "server": {"log_level": "info"}}).start()
    r = sipp.run("invite_echo.xml", server.sip_port, service="echo", calls=200, rate=200,
                 limit=200, duration_ms=2000, timeout=60, recv_timeout_ms=15000,
                 extra=["-max_socket", "1000"])
    assert_sipp_ok(r, calls=200)
    assert r.successful == 200, r.describe()
    assert server.alive()
    assert_sipp_ok(sipp.run("options.xml", server.sip_port, service="echo"))
