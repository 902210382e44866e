"""conference_audio — the audio half of test/bench/conference (see its docstring): the server
and its helpers, the sipp participants, the RTP player's windows, the runs in real time, the
burst of joins beside running rooms, and their printouts. Imported by test/bench/conference."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SYLK_BUILD_DIR", os.path.join(ROOT, "build"))
SERVER_BIN = os.path.join(BUILD, "core", "sylkserver")
PLUGINS_DIR = os.path.join(BUILD, "plugins")
PLAYER_BIN = os.path.join(BUILD, "test", "bench", "rtp_player")
MIXER_BIN = os.path.join(BUILD, "test", "bench", "mixer")

CODECS = {"PCMU": ("pcmu", 0, "PCMU/8000"), "G722": ("g722", 9, "G722/8000"),
          "opus": ("opus", 96, "opus/48000/2")}
PTIME = 0.020
SETTLE = 6.0         # after the last join: join prompts and SIP transaction timers are over
JOIN_WAIT = 10.0     # after the last INVITE: all joined by then, or the run is not real time
MAX_GAP = 0.200      # a participant waiting this long for a packet: not real time
MIN_SHARE = 0.99     # of the due packets
RATE = 200           # calls per second sipp starts
BURST_SETTLE = 3.0   # after the first participants joined, before the window "before"
BURST_STAY = 3.5     # s a participant of the burst stays after its ACK
BURST_MAX_GAP = 0.060  # the burst's goal: no participant already there waits this long


def free_port(kinds=(socket.SOCK_DGRAM, socket.SOCK_STREAM)):
    """A port that binds on 127.0.0.1 for each socket type in `kinds`."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def free_udp_range(count, avoid=()):
    """The start of `count` consecutive UDP ports that are free now, outside `avoid` ranges
    ((start, count) pairs)."""
    for start in range(20000, 60000 - count, 1000):
        if any(start < a + n and a < start + count for a, n in avoid):
            continue
        try:
            for p in range(start, start + count):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return start
    raise RuntimeError("no free UDP port range")


def stop(proc, timeout=15):
    """SIGTERM by pid, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def cpu_seconds(pid, tid=None):
    """User + system CPU time of a process (all its threads), or of one of its threads."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """CPU seconds all processes of the machine have used so far (/proc/stat: not idle)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """{(thread id, name): CPU seconds} of every thread of a process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                out[(tid, f.read().strip())] = cpu_seconds(pid, tid)
        except OSError:  # it ended meanwhile
            pass
    return out


def web_section(workdir):
    """"[web] port = 0" (no web server: two servers at once would both want its default port)
    when this build of the server knows the [web] section, else nothing."""
    probe = os.path.join(workdir, "probe.ini")
    with open(probe, "w") as f:
        f.write("[server]\ndefault_application = conference\n\n[web]\nport = 0\n")
    out = subprocess.run([SERVER_BIN, "--config", probe, "--check-config",
                          "--plugins-dir", PLUGINS_DIR], capture_output=True, timeout=30)
    return "\n[web]\nport = 0\n" if out.returncode == 0 else ""


class Server:
    """One sylkserver with the conference plugin as the default application."""

    web = ""  # web_section(), once

    def __init__(self, workdir, name, rtp_ports=0, msrp_tls=True, media_threads=1):
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "spool"))
        self.sip = free_port()
        self.msrp = free_port(kinds=(socket.SOCK_STREAM,))
        rtp = free_udp_range(max(rtp_ports, 20), avoid=[(self.sip, 1), (self.msrp, 1)])
        self.rtp_range = (rtp, max(rtp_ports, 20))
        self.config = os.path.join(self.dir, "sylkserver.ini")
        with open(self.config, "w") as f:
            f.write("[server]\ndefault_application = conference\nlog_level = info\n"
                    f"spool_dir = {self.dir}/spool\n\n"
                    f"[sip]\nlocal_ip = 127.0.0.1\nudp_port = {self.sip}\ntcp_port = {self.sip}\n\n"
                    f"[rtp]\nport_range = {rtp}:{rtp + max(rtp_ports, 20) - 1}\n"
                    f"media_threads = {media_threads}\n\n"
                    f"[msrp]\nport = {self.msrp}\nuse_tls = {'yes' if msrp_tls else 'no'}\n"
                    + Server.web)
        self.log_path = os.path.join(self.dir, "sylkserver.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([SERVER_BIN, "--config", self.config,
                                          "--plugins-dir", PLUGINS_DIR],
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.wait_log("sylkserver ready", 1, 15)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, count, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log().count(text) >= count:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"sylkserver exited ({self.proc.returncode}) waiting for "
                                   f"{text!r}; log {self.log_path}")
            time.sleep(0.05)
        raise RuntimeError(f"{count} x {text!r} not logged within {timeout}s "
                           f"({self.log().count(text)} seen); log {self.log_path}")

    def problems(self):
        """Warnings and errors the server logged."""
        return [line for line in self.log().splitlines()
                if re.search(r" (WARNING|ERROR|CRITICAL) ", line)]

    def stop(self):
        code = stop(self.proc)
        if code != 0:
            print(f"  sylkserver exited with {code}; log {self.log_path}", file=sys.stderr)
        return code


# ------------------------------------------------------------------------------- audio ---

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- One conference participant: INVITE to the room of its injection line (field0) with a
     {codec} offer on the RTP player's port {port}, logs the port of the answer (the player
     sends there), ACK, pauses {pause_ms} ms, BYE. -->
<scenario name="conference participant">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:p[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:p[call_number]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {port} RTP/AVP {pt}
      a=rtpmap:{pt} {rtpmap}
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="msg" check_it="true" assign_to="m,port"/>
      <log message="answer port [$port] ([$m])"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:p[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      [routes]
      Contact: <sip:p[call_number]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:p[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Contact: <sip:p[call_number]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


class Player:
    """build/test/bench/rtp_player: sends every participant's stream, counts what comes back."""

    def __init__(self, codec, port, run_dir):
        name, pt, _ = CODECS[codec]
        self.err = open(os.path.join(run_dir, "player.log"), "wb")
        self.proc = subprocess.Popen([PLAYER_BIN, name, str(pt), str(port), "127.0.0.1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"rtp_player did not start; see {run_dir}/player.log")
        self.count = 0

    def add(self, ports):
        for p in ports:
            self.proc.stdin.write(f"add {p}\n")
        self.proc.stdin.flush()
        self.count += len(ports)

    def start_window(self, first=None):
        """A window over the first `first` participants added (None: all so far)."""
        self.proc.stdin.write("start\n" if first is None else f"start {first}\n")
        self.proc.stdin.flush()

    def end_window(self):
        """{"share": of all due packets, "worst": the lowest participant's share, "gap": the
        longest gap in seconds}"""
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("rtp_player ended")
            m = re.match(r"^window participants=\d+ received=\d+ due=\S+ share=(\S+) "
                         r"worst=(\S+) gap_ms=(\S+)$", line)
            if m:
                return {"share": float(m.group(1)), "worst": float(m.group(2)),
                        "gap": float(m.group(3)) / 1000}

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            stop(self.proc)
        self.err.close()


def answer_ports(path, seen):
    """Ports the sipp log file names after the lines already `seen` (a count)."""
    try:
        with open(path) as f:
            lines = re.findall(r"answer port (\d+)", f.read())
    except FileNotFoundError:
        return []
    return [int(p) for p in lines[seen:]]


def port_counters(log):
    """Sums of the per-port counters the server logs when each RTP port closes."""
    keys = ("in", "out", "dropped", "decoded", "concealed")
    sums = dict.fromkeys(keys, 0)
    pattern = (r"RTP port \d+ closed: (\d+) packets in, (\d+) out, (\d+) dropped, .*? "
               r"(\d+) frames decoded, (\d+) concealed")
    n = 0
    for m in re.finditer(pattern, log):
        n += 1
        for k, v in zip(keys, m.groups()):
            sums[k] += int(v)
    sums["ports"] = n
    return sums


class Window:
    """A measured window: the server's CPU (all threads, its media threads, its main thread),
    sipp's, the player's and other processes', per wall second, and what the first `first`
    participants of the player (all: None) received."""

    def __init__(self, server, sipp, player, first=None):
        self.pids = (server.proc.pid, sipp.pid, player.proc.pid)
        self.player = player
        player.start_window(first)
        self.t0 = time.monotonic()
        self.before = self.snapshot()

    def snapshot(self):
        pid, sipp, player = self.pids
        return (cpu_seconds(pid), cpu_seconds(sipp), cpu_seconds(player),
                sum(os.times()[:2]), machine_busy(), thread_cpu(pid))

    def end(self):
        (cpu1, sipp1, player1, self1, busy1, threads1) = self.snapshot()
        (cpu0, sipp0, player0, self0, busy0, threads0) = self.before
        wall = time.monotonic() - self.t0
        got = self.player.end_window()
        used = {k: (threads1[k] - threads0[k]) / wall for k in threads0 if k in threads1}
        media = sorted(((name, v) for (_, name), v in used.items()
                        if name.startswith("sylk-media")))
        return dict(got, cpu=(cpu1 - cpu0) / wall, seconds=wall,
                    media=sum(v for _, v in media), media_threads=[v for _, v in media],
                    main=sum(v for (tid, _), v in used.items() if tid == str(self.pids[0])),
                    sipp=(sipp1 - sipp0) / wall, player=(player1 - player0) / wall,
                    self=(self1 - self0) / wall,
                    others=max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (sipp1 - sipp0)
                               - (player1 - player0) - (self1 - self0)) / wall,
                    busy=(busy1 - busy0) / wall, load=os.getloadavg()[0])


def measure(server, sipp, player, seconds):
    """One window of `seconds` over all the participants (see Window)."""
    w = Window(server, sipp, player)
    time.sleep(seconds)
    return w.end()


def start_sipp(server, run_dir, tag, codec, port, rooms, pause_ms):
    """One sipp process: a call per entry of `rooms` (the room of each, in order) at RATE calls
    per second, each offering `codec` on the player's `port` and hanging up `pause_ms` after its
    ACK. Returns (process, the log its answer ports go to, its statistics file)."""
    _, pt, rtpmap = CODECS[codec]
    n = len(rooms)
    scenario = os.path.join(run_dir, f"participant{tag}.xml")
    with open(scenario, "w") as f:
        f.write(SCENARIO.format(codec=codec, pt=pt, rtpmap=rtpmap, port=port,
                                pause_ms=pause_ms))
    inf = os.path.join(run_dir, f"rooms{tag}.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n" + "".join(f"{room}\n" for room in rooms))
    stat = os.path.join(run_dir, f"stat{tag}.csv")
    answers = os.path.join(run_dir, f"answers{tag}.log")
    cmd = ["sipp", f"127.0.0.1:{server.sip}", "-sf", scenario, "-inf", inf,
           "-i", "127.0.0.1", "-p", str(free_port(kinds=(socket.SOCK_DGRAM,))),
           "-m", str(n), "-l", str(n), "-r", str(RATE), "-rp", "1000", "-nostdin",
           "-timeout", f"{pause_ms // 1000 + 30}s", "-timeout_error", "-trace_stat",
           "-stf", stat, "-fd", "1", "-trace_logs", "-log_file", answers,
           "-trace_err", "-error_file", os.path.join(run_dir, f"errors{tag}.log")]
    with open(os.path.join(run_dir, f"sipp{tag}.log"), "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=run_dir)
    return proc, answers, stat


def feed(player, sipp, answers, n, deadline, label, run_dir):
    """Hands the player each answer port of `sipp` as it appears, until `n` or the deadline:
    each participant starts talking as its call is answered."""
    added = 0
    while added < n and time.monotonic() < deadline:
        if sipp.poll() is not None:
            raise RuntimeError(f"sipp ({label}) ended early; see {run_dir}")
        ports = answer_ports(answers, added)
        player.add(ports)
        added += len(ports)
        time.sleep(0.02)
    return added


def wait_joined(server, count, deadline):
    """How many participants joined with audio by the deadline (all `count`, or fewer)."""
    try:
        server.wait_log("joined with audio", count, max(deadline - time.monotonic(), 1))
        return count
    except RuntimeError:
        if server.proc.poll() is not None:
            raise
        return server.log().count("joined with audio")


def sipp_calls(stat):
    """(successful, failed) calls of a sipp statistics file."""
    with open(stat) as f:
        rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    col = {c: i for i, c in enumerate(rows[0])}
    return int(rows[-1][col["SuccessfulCall(C)"]]), int(rows[-1][col["FailedCall(C)"]])


def audio_run(workdir, codec, n, args, threads=1):
    """n participants in rooms of args.room_size, all sending `codec`: returns a dict."""
    label = f"{codec}-{n}-t{threads}"
    rooms = (n + args.room_size - 1) // args.room_size
    ramp = n / RATE
    pause_ms = int((ramp + JOIN_WAIT + SETTLE + args.seconds + 3) * 1000)  # joins may be slow
    run_dir = os.path.join(workdir, label)
    os.makedirs(run_dir)
    # spare pairs: other programs on the machine may hold ports of the range
    server = Server(workdir, f"server-{label}", rtp_ports=2 * n + 400, media_threads=threads)
    port = free_udp_range(2, avoid=[server.rtp_range])
    sipp = player = None
    try:
        player = Player(codec, port, run_dir)
        sipp, answers, stat = start_sipp(server, run_dir, "", codec, port,
                                         [f"room{i // args.room_size}" for i in range(n)],
                                         pause_ms)
        # a server too busy to let everyone join in time (a saturated media thread) makes the
        # run not real time
        deadline = time.monotonic() + ramp + JOIN_WAIT
        feed(player, sipp, answers, n, deadline, label, run_dir)
        joined = wait_joined(server, n, deadline)
        time.sleep(SETTLE)
        window = measure(server, sipp, player, args.seconds)
        try:
            sipp.wait(pause_ms / 1000 + 40)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"sipp ({label}) did not finish; see {run_dir}")
        server.wait_log("RTP port", n, 10)  # every port closed and counted
    finally:
        if sipp:
            stop(sipp)
        if player:
            player.close()
        server.stop()
    ok, failed = sipp_calls(stat)
    return dict(window, codec=codec, n=n, rooms=rooms, ok=ok, failed=failed, joined=joined,
                threads=threads,
                held=(window["worst"] >= MIN_SHARE and window["gap"] < MAX_GAP and failed == 0
                      and joined == n),
                counters=port_counters(server.log()), problems=server.problems())


def burst_run(workdir, args):
    """args.burst PCMU participants talking in rooms of args.room_size, then as many joins at
    RATE calls per second into new rooms, which leave BURST_STAY s later: what the participants
    already there received before the burst, during the joins and during the leaves."""
    n, size, codec = args.burst, args.room_size, "PCMU"
    label = f"burst-{n}"
    ramp = n / RATE
    run_dir = os.path.join(workdir, label)
    os.makedirs(run_dir)
    server = Server(workdir, f"server-{label}", rtp_ports=4 * n + 20)
    port = free_udp_range(2, avoid=[server.rtp_range])
    stay_ms = int((ramp + JOIN_WAIT + BURST_SETTLE + args.burst_seconds + BURST_STAY + ramp
                   + JOIN_WAIT + 5) * 1000)
    sipp = burst = player = None
    windows = {}
    try:
        player = Player(codec, port, run_dir)
        sipp, answers, stat = start_sipp(server, run_dir, "-stay", codec, port,
                                         [f"room{i // size}" for i in range(n)], stay_ms)
        deadline = time.monotonic() + ramp + JOIN_WAIT
        feed(player, sipp, answers, n, deadline, label, run_dir)
        joined = wait_joined(server, n, deadline)
        if joined < n or player.count < n:
            raise RuntimeError(f"{label}: only {joined} of the first {n} joined in time; see "
                               f"{run_dir}")
        time.sleep(BURST_SETTLE)
        windows["before"] = measure(server, sipp, player, args.burst_seconds)
        w = Window(server, sipp, player, n)
        t0 = time.monotonic()
        burst, burst_answers, burst_stat = start_sipp(
            server, run_dir, "-burst", codec, port, [f"burst{i // size}" for i in range(n)],
            int(BURST_STAY * 1000))
        feed(player, burst, burst_answers, n, t0 + ramp + BURST_STAY, label, run_dir)
        burst_joined = wait_joined(server, 2 * n, t0 + ramp + BURST_STAY) - n
        time.sleep(max(0.0, t0 + BURST_STAY - time.monotonic()))
        windows["joins"] = w.end()
        w = Window(server, sipp, player, n)
        try:
            burst.wait(ramp + BURST_STAY + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"sipp ({label}, the burst) did not finish; see {run_dir}")
        time.sleep(1.0)
        windows["leaves"] = w.end()
        stop(sipp)
    finally:
        for proc in (sipp, burst):
            if proc:
                stop(proc)
        if player:
            player.close()
        server.stop()
    ok, failed = sipp_calls(burst_stat)
    return dict(n=n, rooms=(n + size - 1) // size, windows=windows, joined=burst_joined, ok=ok,
                failed=failed, problems=server.problems())


def print_burst(r, size):
    print(f"  PCMU {r['n']} participants talking ({r['rooms']} rooms x {size}), then {r['n']} "
          f"joins at {RATE}/s into {r['rooms']} new rooms ({r['joined']} joined in time, "
          f"{r['ok']} calls ok, {r['failed']} failed), which leave {BURST_STAY:g} s later:")
    for name, w in r["windows"].items():
        held = w["worst"] >= MIN_SHARE and w["gap"] < BURST_MAX_GAP
        print(f"    {name:6} ({w['seconds']:.1f} s): the {r['n']} already there received "
              f"{100 * w['share']:.2f}% of due RTP (the lowest {100 * w['worst']:.1f}%), longest "
              f"gap {1000 * w['gap']:.0f} ms{'' if held else ' (goal: >= 99%, gap < 60 ms)'}; "
              f"server {w['cpu']:.3f} CPU s/s (media thread {w['media']:.3f}, main "
              f"{w['main']:.3f}); the machine {w['busy']:.2f} cores busy, load average "
              f"{w['load']:.2f}")
    for line in r["problems"][:5]:
        print(f"       server: {line}")


def mixer_figures():
    """Runs build/test/bench/mixer: {codec: (bound, room 10 all talk)} participants per core."""
    out = subprocess.run([MIXER_BIN], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"mixer bench failed ({out.returncode}): {out.stderr[-2000:]}")
    figures = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^mixer (\S+)\s+bound\s+([0-9.]+) \| .*room 10 all talk\s+([0-9.]+)", line)
        if m:
            figures[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return figures


def print_audio(r, size):
    c = r["counters"]
    cores = os.cpu_count()
    saturated = " (saturated)" if r["busy"] > 0.9 * cores else ""
    print(f"  {r['codec']:4} {r['n']:4} participants ({r['rooms']} rooms x {size}): server "
          f"{r['cpu']:.3f} CPU s/s (media thread{'s' if r['threads'] > 1 else ''} "
          f"{' + '.join(f'{v:.3f}' for v in r['media_threads'])}, main {r['main']:.3f}) = "
          f"{r['n'] / r['cpu'] if r['cpu'] else 0:.0f} per core")
    print(f"       received {100 * r['share']:.1f}% of due RTP (the lowest participant "
          f"{100 * r['worst']:.1f}%), longest gap {1000 * r['gap']:.0f} ms: "
          f"{'real time' if r['held'] else 'NOT REAL TIME'}; calls {r['ok']} ok, "
          f"{r['failed']} failed, {r['joined']} joined in time; CPU s/s of sipp {r['sipp']:.2f}, the player "
          f"{r['player']:.2f}, this script {r['self']:.2f}, other processes {r['others']:.2f}; "
          f"the machine {r['busy']:.2f} of {cores} cores busy{saturated}, load average "
          f"{r['load']:.2f}")
    print(f"       server's RTP ports over the calls: {c['in']} packets in, {c['out']} out "
          f"({100 * c['out'] / max(c['in'], 1):.1f}%), {c['dropped']} dropped, "
          f"{c['decoded']} decoded, {c['concealed']} concealed")
    for line in r["problems"][:5]:
        print(f"       server: {line}")
