"""The SDK as a third party uses it: install the server (headers + sylkserver-sdk.pc) into a
staging dir, build a copy of examples/hello with meson against that SDK only, and load the
resulting hello.so into a running server.

Staging: `meson install --destdir STAGE` keeps the configured prefix inside the .pc file, so
pkg-config is pointed at STAGE's pkgconfig dir alone (PKG_CONFIG_LIBDIR, no PKG_CONFIG_PATH)
with PKG_CONFIG_SYSROOT_DIR=STAGE, which maps the -I and plugindir paths into STAGE.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT
from sip_client import SipUA, sdp_offer  # test/peers, put on sys.path by conftest

EXAMPLE_SRC = os.path.join(ROOT, "examples", "hello")


def run(cmd, env=None, cwd=None):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}"
    return proc.stdout


@pytest.fixture(scope="module")
def hello_so(tmp_path_factory):
    """hello.so built out of tree against the staged SDK; returns its path."""
    tmp = tmp_path_factory.mktemp("sdk")
    stage = tmp / "stage"
    run(["meson", "install", "-C", BUILD, "--destdir", str(stage), "--no-rebuild", "--quiet"])
    pcs = [os.path.join(d, f) for d, _, files in os.walk(stage) for f in files
           if f == "sylkserver-sdk.pc"]
    assert len(pcs) == 1, f"sylkserver-sdk.pc installed {len(pcs)} times: {pcs}"
    headers = [os.path.join(d, f) for d, _, files in os.walk(stage) for f in files
               if os.path.basename(d) == "sylk" and f.endswith(".h")]
    assert {os.path.basename(h) for h in headers} >= {"sylk.h", "plugin.h", "host.h", "types.h"}

    env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
    env.update(PKG_CONFIG_LIBDIR=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=str(stage))
    # A copy, so no relative path can reach back into the source tree.
    src = tmp / "hello-src"
    shutil.copytree(EXAMPLE_SRC, src)
    build = tmp / "hello-build"
    run(["meson", "setup", str(build), str(src), "--werror"], env=env)
    run(["ninja", "-C", str(build)], env=env)

    with open(build / "compile_commands.json") as f:
        commands = " ".join(c["command"] for c in json.load(f))
    assert f"-I{stage}" in commands, commands
    assert os.path.join(ROOT, "sdk") not in commands, commands

    plugindir = run(["pkg-config", "--variable=plugindir", "sylkserver-sdk"], env=env).strip()
    assert plugindir.startswith(str(stage)), plugindir
    return str(build / "hello.so")


def exported_symbols(path):
    out = run(["nm", "-D", "--defined-only", path])
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_hello_exports_only_the_entry(hello_so):
    assert exported_symbols(hello_so) == {"sylk_plugin_entry"}


@pytest.fixture
def hello_server(server_factory, hello_so, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(hello_so, plugins / "hello.so")
    srv = server_factory(plugins_dir=str(plugins),
                         config={"server": {"application_map": "hello:hello"}})
    srv.start()
    srv.hello_path = str(plugins / "hello.so")
    return srv


def test_hello_is_loaded(hello_server):
    log = hello_server.log()
    assert re.search(rf"plugin hello 1\.0 loaded from {re.escape(hello_server.hello_path)}",
                     log), log[-4000:]
    assert "hello plugin ready" in log, log[-4000:]


def uri_of(name_addr):
    m = re.search(r"<([^>]+)>", name_addr)
    return (m.group(1) if m else name_addr.split(";")[0]).strip()


def send_message(ua, server, display=None, text="hi"):
    """MESSAGE to sip:hello@server from ua, with an optional From display name."""
    req = ua.new_request("MESSAGE", f"sip:hello@{server.uri_host}", body=text,
                         content_type="text/plain")
    if display:
        req.headers = [(n, f'"{display}" {v}' if n == "From" else v) for n, v in req.headers]
    return ua.transaction(req)


def greeting(ua):
    """The MESSAGE the plugin sends back, answered with 200."""
    req = ua.wait_request("MESSAGE", timeout=5)
    ua.respond(req, 200)
    return req


@pytest.mark.parametrize("display", ["Alice", None])
def test_hello_greets_message_sender(hello_server, display):
    ua = SipUA(("127.0.0.1", hello_server.sip_port), user="alice")
    try:
        resp = send_message(ua, hello_server, display)
        assert resp.status == 200, str(resp)
        req = greeting(ua)
        name = display if display else ua.aor
        assert req.text == f"Hello, {name}!", str(req)
        assert req.get("Content-Type", "").startswith("text/plain"), str(req)
        assert uri_of(req.get("From")) == f"sip:hello@{hello_server.uri_host}", str(req)
        assert uri_of(req.get("To")) == ua.aor, str(req)
        if display:
            assert req.get("To").startswith(f'"{display}"'), str(req)
    finally:
        ua.close()


def test_hello_greeting_from_config(server_factory, hello_so, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(hello_so, plugins / "hello.so")
    srv = server_factory(plugins_dir=str(plugins),
                         config={"server": {"application_map": "hello:hello"}},
                         plugin_configs={"hello": {"hello": {"greeting": "Howdy"}}}).start()
    ua = SipUA(("127.0.0.1", srv.sip_port), user="bob")
    try:
        assert send_message(ua, srv, "Bob").status == 200
        assert greeting(ua).text == "Howdy, Bob!"
    finally:
        ua.close()


def test_hello_rejects_calls_busy(hello_server):
    ua = SipUA(("127.0.0.1", hello_server.sip_port), user="carol")
    try:
        call = ua.invite(f"sip:hello@{hello_server.uri_host}", sdp_offer(ua.port + 2))
        assert call.response.status == 486, str(call.response)
        assert call.response.reason == "Busy Here (hello plugin)", str(call.response)
    finally:
        ua.close()
    assert hello_server.alive()
