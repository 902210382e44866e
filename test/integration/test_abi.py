"""Plugin ABI checks: the loader refuses incompatible plugins with a clear log line, unloads one
whose init fails, keeps serving the others, and still runs a plugin built against the frozen
SDK 1.0 headers (test/abi/sdk-1.0); a plugin built against the current headers sees the 1.7
members through SYLK_HOST_HAS (and not in a table claiming the 1.6 size) and calls one; the
same for the 1.8 members against a table claiming the 1.7 size, and for the 1.9 members (metrics
collectors) against a table claiming the 1.8 size, with the plugin's samples in a scrape.

The test plugins are built by the main build from test/abi/abi_plugin.c into build/test/abi/;
the SIP side is test/peers/sip_client.py.
"""
import os
import re
import shutil

import pytest

from conftest import BUILD, PLUGINS_DIR
from sip_client import SipUA, parse_sdp, sdp_offer  # test/peers, put on sys.path by conftest

ABI_DIR = os.path.join(BUILD, "test", "abi")
ECHO_SO = os.path.join(PLUGINS_DIR, "echo", "echo.so")

BAD_PLUGINS = ["abi_newer_minor", "abi_other_major", "abi_small_struct", "abi_no_entry"]


@pytest.fixture
def abi_server(server_factory, tmp_path):
    """A server whose plugins dir has echo (in a sub-directory, as the build lays it out), every
    test plugin, and a map sending user 'v10' to abi_v1_0 and 'initfail' to abi_init_fails."""
    plugins = tmp_path / "plugins"
    (plugins / "echo").mkdir(parents=True)
    shutil.copy(ECHO_SO, plugins / "echo" / "echo.so")
    for name in BAD_PLUGINS + ["abi_init_fails", "abi_v1_0", "abi_v1_7", "abi_v1_8", "abi_v1_9"]:
        src = os.path.join(ABI_DIR, name + ".so")
        assert os.path.exists(src), f"{src} not built (test/abi/meson.build)"
        shutil.copy(src, plugins / (name + ".so"))
    srv = server_factory(plugins_dir=str(plugins), config={"server": {
        "application_map": "echo:echo,v10:abi_v1_0,initfail:abi_init_fails,"
                           "newer:abi_newer_minor,v17:abi_v1_7,v18:abi_v1_8,v19:abi_v1_9"},
        "web": {"metrics": "yes"}})
    srv.start()
    srv.plugins_path = str(plugins)
    return srv


def log_line(log, needle):
    """The first log line containing `needle`, or None."""
    for line in log.splitlines():
        if needle in line:
            return line
    return None


def message_status(server, user, text="hi"):
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        return ua.request("MESSAGE", f"sip:{user}@{server.uri_host}", body=text,
                          content_type="text/plain").status
    finally:
        ua.close()


def _server_abi_minor():
    header = os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "include", "sylk",
                          "plugin.h")
    with open(header) as f:
        return int(re.search(r"#define SYLK_ABI_MINOR (\d+)", f.read()).group(1))


def test_incompatible_plugins_are_skipped_with_reason(abi_server):
    log = abi_server.log()
    minor = _server_abi_minor()
    expect = {
        # name: regexes the skipped line must match (besides naming the file)
        "abi_newer_minor": [r"ABI", rf"\b1\.{minor + 1}\b", rf"\b1\.{minor}\b"],
        "abi_other_major": [r"ABI", r"\b2\b", r"\b1\b"],
        "abi_small_struct": [r"(?i)size"],
        "abi_no_entry": [r"sylk_plugin_entry"],
    }
    for name, patterns in expect.items():
        path = os.path.join(abi_server.plugins_path, name + ".so")
        line = log_line(log, f"plugin {path} skipped:")
        assert line, f"no 'plugin {path} skipped:' line in the log:\n{log[-4000:]}"
        reason = line.split("skipped:", 1)[1]
        for pattern in patterns:
            assert re.search(pattern, reason), f"reason of {name} lacks {pattern!r}: {line}"
        assert not re.search(rf"plugin {name} \S+ loaded", log), f"{name} was loaded:\n{log}"


def test_init_failure_unloads_plugin(abi_server):
    log = abi_server.log()
    assert "plugin abi_init_fails init failed" in log, log[-4000:]
    # The plugin's own explanation went through host->log before it failed.
    assert "refusing to start (test plugin)" in log, log[-4000:]
    # Its name no longer routes: the map entry points at a plugin that is not loaded.
    assert message_status(abi_server, "initfail") == 404
    # The metrics collector it registered before failing went with it: never scraped.
    from test_metrics import scrape
    assert "plugin abi_init_fails: its metrics collectors removed (init failed)" in log
    assert not [s for s in scrape(abi_server) if "abi_init_fails" in str(s)]


def test_compatible_plugins_still_serve(abi_server):
    log = abi_server.log()
    assert re.search(r"plugin echo \S+ loaded from \S*echo\.so", log), log[-4000:]
    assert re.search(r"plugin abi_v1_0 0\.1 loaded from \S*abi_v1_0\.so", log), log[-4000:]
    uri = f"sip:echo@{abi_server.uri_host}"
    ua = SipUA(("127.0.0.1", abi_server.sip_port))
    try:
        resp = ua.request("OPTIONS", uri)
        assert resp.status == 200, str(resp)
        resp = ua.request("MESSAGE", uri, body="ping", content_type="text/plain")
        assert resp.status == 200, str(resp)
        call = ua.invite(uri, sdp_offer(ua.port + 2))
        assert call.response.status == 200, str(call.response)
        media = parse_sdp(call.response.body)["media"]
        assert media and media[0]["type"] == "audio" and media[0]["port"] > 0, str(call.response)
        call.ack()
        assert call.bye().status == 200
    finally:
        ua.close()
    assert abi_server.alive()


def test_plugin_built_against_sdk_1_0_works(abi_server):
    assert message_status(abi_server, "v10", "are you there") == 200
    ua = SipUA(("127.0.0.1", abi_server.sip_port))
    try:
        call = ua.invite(f"sip:v10@{abi_server.uri_host}", sdp_offer(ua.port + 2))
        assert call.response.status == 603, str(call.response)
        assert call.response.reason == "Decline (abi_v1_0)", str(call.response)
    finally:
        ua.close()
    assert "running on host ABI 1." in abi_server.log()


def test_sdk_1_7_members_through_sylk_host_has(abi_server):
    """SYLK_HOST_HAS is true for each 1.7 member of the server's table and false for each in a
    copy whose struct_size is 1.6's (where spool_dir, the last 1.6 member, stays true); the
    plugin answers a MESSAGE from a 1.7 function's callback (resolve of an IP literal)."""
    assert "SYLK_HOST_HAS 1.7 members: 1111111; in a 1.6 table: 0000000 (spool_dir 1)" in \
        abi_server.log(), abi_server.log()[-3000:]
    ua = SipUA(("127.0.0.1", abi_server.sip_port))
    try:
        resp = ua.request("MESSAGE", f"sip:v17@{abi_server.uri_host}", body="x",
                          content_type="text/plain")
        assert (resp.status, resp.reason) == (200, "Resolved 192.0.2.1:5269"), str(resp)
    finally:
        ua.close()


def test_sdk_1_8_members_through_sylk_host_has(abi_server):
    """SYLK_HOST_HAS is true for each 1.8 member of the server's table and false for each in a
    copy whose struct_size is 1.7's (where unsubscribe, the last 1.7 member, stays true); the
    plugin reaches two 1.8 functions, which refuse bad arguments as host.h says."""
    assert "SYLK_HOST_HAS 1.8 members: 111111111; in a 1.7 table: 000000000 (unsubscribe 1)" in \
        abi_server.log(), abi_server.log()[-3000:]
    ua = SipUA(("127.0.0.1", abi_server.sip_port))
    try:
        resp = ua.request("MESSAGE", f"sip:v18@{abi_server.uri_host}", body="x",
                          content_type="text/plain")
        assert (resp.status, resp.reason) == (200, "nickname -22 refer null endpoint -22 -22 null"), str(resp)
    finally:
        ua.close()


def test_sdk_1_9_metrics_collector(abi_server):
    """SYLK_HOST_HAS is true for each 1.9 member and false in a table claiming the 1.8 size; the
    plugin's collector is called on each scrape and its sample is named after the plugin with
    its label value escaped (promtool accepts the scrape); bad writes are refused as host.h
    says; metrics_collector_add(NULL) gives NULL; the collector the plugin left is removed
    (and logged) at exit."""
    from test_metrics import scrape, value
    log = abi_server.log()
    assert "SYLK_HOST_HAS 1.9 members: 111; in a 1.8 table: 000 (media_endpoint_ice_connect 1)" \
        in log, log[-3000:]
    for n in (1, 2):
        samples = scrape(abi_server)
        assert value(samples, "sylk_abi_v1_9_checks_total", note='quote\\" back\\\\slash') == n
    abi_server.wait_log("metric_write refusals: -22 -22 -17")
    ua = SipUA(("127.0.0.1", abi_server.sip_port))
    try:
        resp = ua.request("MESSAGE", f"sip:v19@{abi_server.uri_host}", body="x",
                          content_type="text/plain")
        assert (resp.status, resp.reason) == (200, "collector null"), str(resp)
    finally:
        ua.close()
    assert abi_server.stop() == 0
    assert "plugin abi_v1_9 left a metrics collector registered: removed" in abi_server.log()


def test_skipped_plugin_does_not_route(abi_server):
    """A map entry naming a refused plugin behaves as if no such application exists."""
    assert message_status(abi_server, "newer") == 404
