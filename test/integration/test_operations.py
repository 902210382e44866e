"""Operations: the log file (--log-file, [server] log_file) and SIGHUP (logrotate's move then
HUP; log_level and trace_sip read again and applied; a broken file keeps the running values;
other changes reported as needing a restart), the SIP trace (one record per message, both
directions, timestamps, addresses and transport; [server] trace_file), and the systemd unit
checked by systemd-analyze verify."""
import os
import re
import signal
import socket
import subprocess
import time

from conftest import BUILD, ROOT, SERVER_BIN, write_ini
from sip_client import SipUA, parse

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", re.M)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def wait_text(server, path, text, count=1, timeout=10):
    """Waits until `text` occurs `count` times in the file at `path`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if read(path).count(text) >= count:
            return read(path)
        if not server.alive():
            raise AssertionError(f"server exited waiting for {text!r}:\n{server.log()[-3000:]}"
                                 f"\n{read(path)[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} (x{count}) not in {path} within {timeout}s:\n"
                         f"{read(path)[-3000:]}\n{server.log()[-2000:]}")


def records(text):
    """The log's records: each starts with a timestamp at the start of a line."""
    starts = [m.start() for m in RECORD.finditer(text)] + [len(text)]
    return [text[a:b] for a, b in zip(starts, starts[1:])]


def reload(server, log_path, config=None):
    """Rewrites the config (when given), sends SIGHUP, waits for the reload's last line."""
    if config is not None:
        write_ini(server.config_path, config)
    marks = ("configuration reloaded from", "configuration reload failed")
    before = sum(read(log_path).count(m) for m in marks)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while sum(read(log_path).count(m) for m in marks) <= before:
        assert server.alive() and time.time() < deadline, read(log_path)[-3000:]
        time.sleep(0.05)
    return read(log_path)


def echo_message(server, ua, text):
    """A MESSAGE to echo and the one it sends back (logged at debug level as sent)."""
    resp = ua.request("MESSAGE", f"sip:echo@{server.uri_host}", body=text.encode(),
                      content_type="text/plain")
    assert resp.status == 200, resp
    back = ua.wait_request("MESSAGE")
    ua.respond(back, 200)
    assert text in back.body.decode()


def test_log_file_follows_logrotate(server_factory, tmp_path):
    log = tmp_path / "logs" / "sylk.log"
    log.parent.mkdir()
    server = server_factory(extra_args=["--log-file", str(log)]).start(wait=False)
    wait_text(server, log, "sylkserver ready")
    assert "sylkserver ready" not in server.log(), "records went to stderr too"
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        echo_message(server, ua, "before rotation")
        rotated = tmp_path / "logs" / "sylk.log.1"
        os.rename(log, rotated)
        echo_message(server, ua, "moved, not reopened yet")   # still written to the moved file
        server.proc.send_signal(signal.SIGHUP)
        wait_text(server, log, "log file reopened")
        echo_message(server, ua, "after rotation")
        wait_text(server, log, "configuration reloaded from")
        assert server.stop() == 0
    finally:
        ua.close()
    old, new = read(rotated), read(log)
    assert "sylkserver ready" in old and "MESSAGE to" in old and "sylkserver stopped" not in old
    assert old.count("MESSAGE to") == 2, old      # both before the HUP
    assert "log file reopened" not in old
    assert "sylkserver ready" not in new
    assert new.count("MESSAGE to") == 1 and "sylkserver stopped" in new, new
    for text in (old, new):  # whole records only
        assert all(RECORD.match(r) for r in records(text)) and text.endswith("\n")


def test_sighup_applies_log_level_and_reports_the_rest(server_factory):
    server = server_factory(config={"server": {"log_level": "info", "log_file": "sylk.log"}})
    log = os.path.join(server.workdir, "sylk.log")  # relative to the config file's directory
    server.start(wait=False)
    wait_text(server, log, "sylkserver ready")
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        echo_message(server, ua, "at info")
        assert " DEBUG " not in read(log)

        server.config["server"]["log_level"] = "debug"
        text = reload(server, log, server.config)
        assert "log_level info -> debug" in text
        assert "restart" not in text
        echo_message(server, ua, "at debug")
        wait_text(server, log, "DEBUG sylk-message: MESSAGE to")

        server.config["server"]["log_level"] = "info"
        server.config["rtp"]["timeout"] = 31
        server.config["server"]["allow_app_header"] = True
        text = reload(server, log, server.config)
        assert "log_level debug -> info" in text
        restart = [r for r in records(text) if "a restart is needed" in r]
        assert len(restart) == 1, text
        assert "[rtp] timeout" in restart[0] and "[server] allow_app_header" in restart[0]
        changed = restart[0].split("sylkserver.ini: ", 1)[1].split(" changed")[0]
        assert changed == "[rtp] timeout, [server] allow_app_header", restart[0]
        mark = len(text)
        echo_message(server, ua, "at info again")
        text = reload(server, log)   # a later event: what the MESSAGE logged is in by now
        assert " DEBUG " not in text[mark:], text[mark:]
    finally:
        ua.close()


def test_broken_config_on_sighup_keeps_running_values(server_factory):
    server = server_factory(config={"server": {"log_level": "info"}}).start()
    path = server.config_path
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        server.config["server"].update(log_level="debug", trace_sip=True)
        write_ini(path, server.config)
        with open(path) as f:
            lines = f.read().splitlines()
        lines.insert(3, "this line is not INI")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        text = reload(server, server.log_path)
        assert f"{path}:4: not a valid INI file" in text, text
        assert "keeping log_level info and trace_sip off" in text

        server.config["server"]["log_level"] = "loud"
        write_ini(path, server.config)
        with open(path) as f:
            line = f.read().splitlines().index("log_level = loud") + 1
        text = reload(server, server.log_path)
        assert re.search(rf"{re.escape(path)}:{line}: \[server\] log_level: 'loud' is not one "
                         "of", text), text
        assert text.count("keeping log_level info and trace_sip off") == 2
        mark = len(text)
        echo_message(server, ua, "still serving")
        assert ua.request("OPTIONS", f"sip:echo@{server.uri_host}").status == 200
        text = reload(server, server.log_path)   # still broken: still kept
        assert " DEBUG " not in text[mark:] and "sylk-sip-trace" not in text[mark:]
    finally:
        ua.close()


def trace_record(recs, direction, ua_port, first_line, call_id):
    """The one record holding the message with this Call-ID and start line."""
    found = [r for r in recs if f"Call-ID: {call_id}" in r and first_line in r
             and re.search(rf"{direction} \d+ bytes (from|to) udp/\[127\.0\.0\.1\]:{ua_port} "
                           r"at \d\d:\d\d:\d\d\.\d{6}", r)]
    assert len(found) == 1, (direction, first_line, recs)
    return found[0]


def check_trace_block(record, first_line):
    lines = record.rstrip("\n").split("\n")
    assert " TRACE sylk-sip-trace: " in lines[0]
    assert re.fullmatch(r" +-{20,}", lines[1]) and re.fullmatch(r" +-{20,}", lines[-1]), lines
    assert lines[2].strip() == first_line
    assert any(line.strip() == "Content-Length: 0" for line in lines)
    assert not any(RECORD.match(line) for line in lines[1:])  # one record, not fragments
    size = int(re.search(r" (\d+) bytes ", lines[0]).group(1))
    body = "\r\n".join(line[3:] for line in lines[2:-1])
    assert abs(len(body.encode()) - size) <= 2, (size, body)


def test_trace_sip_switched_by_sighup_into_trace_file(server_factory):
    server = server_factory(config={"server": {"trace_sip": False, "trace_file": "sip.trace"}})
    trace = os.path.join(server.workdir, "sip.trace")
    server.start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        assert ua.request("OPTIONS", f"sip:echo@{server.uri_host}").status == 200
        assert os.path.exists(trace) and read(trace) == ""

        server.config["server"]["trace_sip"] = True
        assert "trace_sip on" in reload(server, server.log_path, server.config)
        req = ua.new_request("OPTIONS", f"sip:echo@{server.uri_host}")
        call_id = req.get("Call-ID")
        assert ua.transaction(req).status == 200
        text = wait_text(server, trace, "SIP/2.0 200 OK")
        recs = records(text)
        check_trace_block(trace_record(recs, "recv", ua.port, f"OPTIONS sip:echo@", call_id),
                          f"OPTIONS sip:echo@{server.uri_host} SIP/2.0")
        check_trace_block(trace_record(recs, "send", ua.port, "SIP/2.0 200 OK", call_id),
                          "SIP/2.0 200 OK")
        assert "sylk-sip-trace" not in server.log(), "the trace went to the log too"

        tcp_trace_seen(server, trace)

        os.rename(trace, trace + ".1")
        reload(server, server.log_path)
        req = ua.new_request("OPTIONS", f"sip:echo@{server.uri_host}")
        assert ua.transaction(req).status == 200
        wait_text(server, trace, req.get("Call-ID"), count=2)
        assert req.get("Call-ID") not in read(trace + ".1")

        server.config["server"]["trace_sip"] = False
        assert "trace_sip off" in reload(server, server.log_path, server.config)
        req = ua.new_request("OPTIONS", f"sip:echo@{server.uri_host}")
        assert ua.transaction(req).status == 200
        reload(server, server.log_path)   # a later event
        assert req.get("Call-ID") not in read(trace)
    finally:
        ua.close()


def tcp_trace_seen(server, trace):
    """An OPTIONS over TCP is traced with its transport and the peer's address."""
    with socket.create_connection(("127.0.0.1", server.sip_port), timeout=5) as s:
        port = s.getsockname()[1]
        call_id = f"tcp-trace-{port}@127.0.0.1"
        s.sendall((f"OPTIONS sip:echo@{server.uri_host};transport=tcp SIP/2.0\r\n"
                   f"Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKtcp{port}\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\n"
                   f"To: <sip:echo@{server.uri_host}>\r\nCall-ID: {call_id}\r\n"
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        assert parse(data).status == 200
        text = wait_text(server, trace, f"Call-ID: {call_id}", count=2)
    recs = [r for r in records(text) if call_id in r]
    assert any(re.search(rf"recv \d+ bytes from tcp/\[127\.0\.0\.1\]:{port} at ", r)
               for r in recs), recs
    assert any(re.search(rf"send \d+ bytes to tcp/\[127\.0\.0\.1\]:{port} at ", r)
               for r in recs), recs


def test_trace_in_the_log_is_one_record_per_message(server_factory):
    server = server_factory(config={"server": {"trace_sip": True, "log_level": "warning"}})
    server.start()
    ua = SipUA(("127.0.0.1", server.sip_port))
    try:
        req = ua.new_request("OPTIONS", f"sip:echo@{server.uri_host}")
        assert ua.transaction(req).status == 200
        server.wait_log("SIP/2.0 200 OK")   # written at log_level warning all the same
        recs = records(server.log())
        call_id = req.get("Call-ID")
        check_trace_block(trace_record(recs, "recv", ua.port, "OPTIONS sip:echo@", call_id),
                          f"OPTIONS sip:echo@{server.uri_host} SIP/2.0")
        check_trace_block(trace_record(recs, "send", ua.port, "SIP/2.0 200 OK", call_id),
                          "SIP/2.0 200 OK")
    finally:
        ua.close()


def test_systemd_unit_verifies(tmp_path):
    """The unit, with real paths, passes systemd-analyze verify (which also needs the
    ExecStart binary to exist)."""
    with open(os.path.join(ROOT, "etc", "sylkserver.service.in")) as f:
        unit = f.read()
    unit = unit.replace("@bindir@", os.path.dirname(SERVER_BIN)).replace(
        "@sysconfdir@", os.path.join(ROOT, "etc"))
    assert "@" not in unit.replace("$MAINPID", "")
    path = tmp_path / "sylkserver.service"
    path.write_text(unit)
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr + r.stdout
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", unit, re.M)
    # what meson generated from it is the same unit with the install paths
    built = os.path.join(BUILD, "etc", "sylkserver.service")
    with open(built) as f:
        assert re.sub(r"ExecStart=\S+", "", f.read()).count("ExecReload=") == 1

    broken = tmp_path / "broken.service"
    broken.write_text(unit.replace("KillSignal=SIGTERM", "KillSignal=SIGNOPE"))
    r = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True,
                       text=True, timeout=30)
    assert "SIGNOPE" in r.stderr, "systemd-analyze verify reports nothing here"


def test_log_file_that_cannot_be_opened_stops_the_start(server_factory, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "sylk.log").mkdir()        # a directory where the file should be
    missing = locked / "sylk.log"
    server = server_factory(config={"server": {"log_file": str(missing)}}).start(wait=False)
    assert server.proc.wait(15) == 1
    text = server.log()
    assert f"cannot open {missing}" in text and "not starting" in text, text
    assert "sylkserver ready" not in text
