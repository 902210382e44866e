"""Configuration handling: --check-config, error reports with file and line, --version.

Errors are printed on stderr as `FILE:LINE: [section] key: why`; --check-config exits 0 or 1."""
import os
import re
import subprocess

import pytest

from conftest import PLUGINS_DIR, ROOT, SERVER_BIN, free_port

ETC = os.path.join(ROOT, "etc")


def run(*args, timeout=20):
    p = subprocess.run([SERVER_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(path):
    return run("--config", str(path), "--plugins-dir", PLUGINS_DIR, "--check-config")


def valid_lines(port=None):
    port = port or free_port()
    return ["[server]",                              # 1
            "default_application = conference",      # 2
            "application_map = echo:echo",           # 3
            "log_level = info",                      # 4
            "",                                      # 5
            "[sip]",                                 # 6
            "local_ip = 127.0.0.1",                  # 7
            f"udp_port = {port}",                    # 8
            f"tcp_port = {port}",                    # 9
            "",                                      # 10
            "[rtp]",                                 # 11
            "port_range = 50000:50100",              # 12
            "audio_codecs = G722, PCMU, PCMA",       # 13
            ""]


def write(tmp_path, lines, name="sylkserver.ini"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_error_at(stderr, path, line, key=None, section=None):
    """stderr has `FILE:LINE: …` for that file (full path or base name) naming key/section."""
    names = "|".join(re.escape(str(n)) for n in (path, os.path.basename(str(path))))
    pattern = rf"(?:{names}):{line}:[^\n]*"
    m = re.search(pattern, stderr)
    assert m, f"no '{os.path.basename(str(path))}:{line}:' error in stderr:\n{stderr}"
    if section:
        assert f"[{section}]" in m.group(0), f"section [{section}] not named: {m.group(0)!r}"
    if key:
        assert re.search(rf"\b{re.escape(key)}\b", m.group(0)), \
            f"key {key!r} not named: {m.group(0)!r}"
    return m.group(0)


def test_default_config_is_valid():
    code, out, err = check(os.path.join(ETC, "sylkserver.ini"))
    assert code == 0, f"exit {code}\nstdout:{out}\nstderr:{err}"


def test_generated_test_config_is_valid(server_factory):
    s = server_factory(plugin_configs={"echo": {"echo": {"max_call_duration": 30}}})
    code, out, err = check(s.config_path)
    assert code == 0, f"exit {code}\n{open(s.config_path).read()}\nstderr:{err}"


def test_minimal_valid_config(tmp_path):
    code, _, err = check(write(tmp_path, valid_lines()))
    assert code == 0, err


def test_unknown_key(tmp_path):
    lines = valid_lines()
    lines.insert(4, "bogus_option = 1")              # becomes line 5
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, f"exit {code}\n{err}"
    assert_error_at(err, path, 5, key="bogus_option", section="server")


def test_unknown_section(tmp_path):
    lines = valid_lines() + ["[nonsense]", "foo = bar"]   # section on line 15
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, f"exit {code}\n{err}"
    assert "nonsense" in err, err
    assert re.search(rf"(?:{re.escape(str(path))}|sylkserver\.ini):1[56]:", err), err


@pytest.mark.parametrize("line,section,key,value", [
    (8, "sip", "udp_port", "abc"),
    (8, "sip", "udp_port", "70000"),
    (4, "server", "log_level", "loud"),
    (12, "rtp", "port_range", "5:3"),
    (12, "rtp", "port_range", "50000"),
    (13, "rtp", "audio_codecs", "G722, G729"),
])
def test_bad_value(tmp_path, line, section, key, value):
    lines = valid_lines()
    assert lines[line - 1].startswith(key + " ="), lines[line - 1]
    lines[line - 1] = f"{key} = {value}"
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, f"{key} = {value}: exit {code}\n{err}"
    assert_error_at(err, path, line, key=key, section=section)


@pytest.mark.parametrize("value,ok", [("4", True), ("0", True), ("11", False), ("-1", False),
                                      ("high", False)])
def test_opus_complexity(tmp_path, value, ok):
    """[rtp] opus_complexity takes 0-10; anything else is refused at start, naming its line."""
    lines = valid_lines()
    lines.insert(13, f"opus_complexity = {value}")  # line 14, in [rtp]
    path = write(tmp_path, lines)
    code, _, err = check(path)
    if ok:
        assert code == 0, f"opus_complexity = {value}: exit {code}\n{err}"
        return
    assert code == 1, f"opus_complexity = {value}: exit {code}\n{err}"
    line = assert_error_at(err, path, 14, key="opus_complexity", section="rtp")
    assert "opus encoder complexity (0-10)" in line, line


@pytest.mark.parametrize("key,value", [
    ("allow_app_header", "maybe"),
    ("trusted_peers", "300.1.2.3"),
])
def test_bad_server_value(tmp_path, key, value):
    lines = valid_lines()
    lines.insert(4, f"{key} = {value}")              # line 5
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, f"{key} = {value}: exit {code}\n{err}"
    assert_error_at(err, path, 5, key=key)


def test_several_errors_reported_together(tmp_path):
    lines = valid_lines()
    lines[3] = "log_level = loud"                    # line 4
    lines[7] = "udp_port = abc"                      # line 8
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1
    assert_error_at(err, path, 4, key="log_level")
    assert_error_at(err, path, 8, key="udp_port")


def test_plugin_config_unknown_key(tmp_path):
    write(tmp_path, valid_lines())
    echo = write(tmp_path, ["[echo]", "max_call_duration = 60", "colour = blue"], "echo.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 1, f"exit {code}\n{err}"
    assert_error_at(err, echo, 3, key="colour")


def test_plugin_config_bad_value(tmp_path):
    write(tmp_path, valid_lines())
    echo = write(tmp_path, ["[echo]", "max_call_duration = soon"], "echo.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 1, f"exit {code}\n{err}"
    assert_error_at(err, echo, 2, key="max_call_duration")


def test_plugin_config_valid(tmp_path):
    write(tmp_path, valid_lines())
    write(tmp_path, ["[echo]", "max_call_duration = 60"], "echo.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 0, err


def test_missing_config_file(tmp_path):
    code, _, err = check(tmp_path / "does-not-exist.ini")
    assert code == 1, f"exit {code}\n{err}"
    assert "does-not-exist.ini" in err, err


def test_version():
    code, out, err = run("--version")
    assert code == 0, err
    text = out + err
    assert re.search(r"\d+\.\d+", text), f"no version number in {text!r}"
    assert "sylk" in text.lower(), text


def test_server_refuses_to_start_with_bad_config(tmp_path):
    lines = valid_lines()
    lines[7] = "udp_port = abc"
    path = write(tmp_path, lines)
    code, out, err = run("--config", str(path), "--plugins-dir", PLUGINS_DIR, timeout=10)
    assert code != 0, "server started with an invalid config"
    assert "sylkserver ready" not in out + err
    assert_error_at(err, path, 8, key="udp_port")


# ---- file:line for every kind of error: INI syntax (server and plugin files), and the values
# plugins check themselves (conference.ini, xmppgw.ini) -------------------------------------

def test_syntax_error_names_its_line(tmp_path):
    lines = valid_lines()
    lines.insert(9, "just words")                    # line 10
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, err
    m = assert_error_at(err, path, 10)
    assert "just words" in m, m


def test_unclosed_section_names_its_line(tmp_path):
    lines = valid_lines()
    lines[10] = "[rtp"                                # line 11
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, err
    assert_error_at(err, path, 11)


def test_key_before_any_section_names_line_1(tmp_path):
    path = write(tmp_path, ["log_level = info"] + valid_lines())
    code, _, err = check(path)
    assert code == 1, err
    assert_error_at(err, path, 1)


def test_plugin_syntax_error_names_its_line(tmp_path):
    write(tmp_path, valid_lines())
    conf = write(tmp_path, ["[conference]", "history_size = 20", "", "[room@example.com]]"],
                 "conference.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 1, err
    assert_error_at(err, conf, 4)


def test_conference_access_policy_checked_with_line(tmp_path):
    write(tmp_path, valid_lines())
    conf = write(tmp_path, ["[conference]", "history_size = 20", "access_policy = maybe", "",
                            "[room@example.com]", "allow = all", "access_policy = deny"],
                 "conference.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 1, err
    assert "maybe" in assert_error_at(err, conf, 3, key="access_policy", section="conference")
    assert_error_at(err, conf, 7, key="access_policy", section="room@example.com")


def test_conference_music_on_hold_checked_with_line(tmp_path):
    write(tmp_path, valid_lines())
    conf = write(tmp_path, ["[conference]", f"music_on_hold = {tmp_path}/missing.wav"],
                 "conference.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 1, err
    assert "missing.wav" in assert_error_at(err, conf, 2, key="music_on_hold")


def test_xmppgw_value_checked_with_line(tmp_path):
    write(tmp_path, valid_lines())
    gw = write(tmp_path, ["[general]", "mode = s2s", "local_port = 99999", "transport = carrier"],
               "xmppgw.ini")
    code, _, err = check(tmp_path / "sylkserver.ini")
    assert code == 1, err
    assert_error_at(err, gw, 3, key="local_port", section="general")
    assert_error_at(err, gw, 4, key="transport", section="general")


@pytest.mark.parametrize("key", ["log_file", "trace_file"])
def test_log_file_in_a_missing_directory(tmp_path, key):
    lines = valid_lines()
    lines.insert(4, f"{key} = {tmp_path}/nowhere/sylk.log")   # line 5
    path = write(tmp_path, lines)
    code, _, err = check(path)
    assert code == 1, err
    assert "nowhere" in assert_error_at(err, path, 5, key=key, section="server")
