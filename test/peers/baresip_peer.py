#!/usr/bin/env python3
"""Headless baresip 1.0.0 as a test peer (standard library only).

A private config dir (sip_listen, rtp_ports, ctrl_tcp on loopback ports the caller chose), an
aufile audio source (a WAV tone written with the wave module) and the sndfile module, which
dumps the decoded received audio to snd_path/dump-*-dec.wav. Driven through ctrl_tcp:
netstrings of JSON commands ({"command": "dial", "params": "sip:…", "token": "t1"}); events
(CALL_ESTABLISHED, CALL_CLOSED, …) stream back on the same connection.

    b = Baresip(workdir, sip_port=…, rtp_start=…, ctrl_port=…, codecs="PCMU").start()

baresip also listens for SIP over TLS on sip_port + 1: take sip_port from conftest's
free_port_pair() (both free, below the ephemeral range).
    b.command("dial", "sip:echo@127.0.0.1:5060")
    b.wait_event("CALL_ESTABLISHED")
    …
    b.stop()

For SIP MESSAGE: `aor` sets the account's address (e.g. "sip:alice@bare.test", with
`account_params=';outbound="sip:127.0.0.1:5060"'` for its outbound proxy), `contacts` fills the
contacts file (the first is the current contact, which the contact module's `message` command
writes to), `regint` (seconds, 0: none) makes it REGISTER, `extra_config` adds config lines
(e.g. "sip_cafile PATH" for SIP over TLS), `tone_seconds` is the length of the tone (the
call ends when the file does), and `cons_port` loads the cons module: `b.console()` is a TCP
connection to it, where baresip writes what it prints, received MESSAGEs included
(`peer: "text"`).
"""
import glob
import json
import math
import os
import signal
import socket
import struct
import subprocess
import time
import wave

BARESIP = "/usr/bin/baresip"
MODULES = "/usr/lib/baresip/modules"


def write_tone_wav(path, freq=440.0, seconds=6.0, rate=48000, amplitude=10000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * i
                                                                          / rate)))
                               for i in range(n)))
    return path


def read_wav(path):
    """(rate, samples) of a 16-bit mono WAV; tolerates a header not finalised yet."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with wave.open(path, "rb") as w:
            rate, width, chans = w.getframerate(), w.getsampwidth(), w.getnchannels()
            data = w.readframes(w.getnframes())
            if not data and len(raw) > 44:
                data = raw[44:]
    except (wave.Error, EOFError):
        rate, width, chans, data = 8000, 2, 1, raw[44:]
    if width != 2:
        raise ValueError(f"{path}: {width * 8}-bit samples")
    n = len(data) // 2
    samples = struct.unpack("<%dh" % n, data[:n * 2])
    if chans > 1:
        samples = samples[::chans]
    return rate, samples


def tone_analysis(rate, samples, threshold=300):
    """Loud samples, RMS and the dominant frequency (zero crossings) of the loud part."""
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    if not loud:
        return {"loud": 0, "rms": 0.0, "freq": 0.0, "seconds": len(samples) / rate}
    seg = samples[loud[0]:loud[-1] + 1]
    rms = math.sqrt(sum(s * s for s in seg) / len(seg))
    crossings = sum(1 for a, b in zip(seg, seg[1:]) if (a < 0) != (b < 0))
    freq = crossings / 2 / (len(seg) / rate)
    return {"loud": len(loud), "rms": rms, "freq": freq, "seconds": len(samples) / rate,
            "loud_seconds": len(seg) / rate}


class Baresip:
    def __init__(self, workdir, sip_port, rtp_start, ctrl_port, codecs="PCMU", user="alice",
                 tone_freq=440.0, extra_account_params="", modules=("g711", "g722"), aor=None,
                 contacts=(), cons_port=None, regint=0, extra_config=(), tone_seconds=6.0):
        self.dir = os.path.abspath(str(workdir))
        os.makedirs(self.dir, exist_ok=True)
        self.snd_dir = os.path.join(self.dir, "snd")
        os.makedirs(self.snd_dir, exist_ok=True)
        self.sip_port, self.ctrl_port = sip_port, ctrl_port
        self.aor = aor or f"sip:{user}@127.0.0.1:{sip_port}"
        self.cons_port = cons_port
        self.wav = write_tone_wav(os.path.join(self.dir, "tone48k.wav"), freq=tone_freq,
                                  seconds=tone_seconds)
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.proc = None
        self.sock = None
        self.buf = b""
        self.events = []
        self.responses = {}
        self.token = 0
        lines = [
            f"sip_listen 127.0.0.1:{sip_port}",
            "net_interface 127.0.0.1",
            "dns_server 127.0.0.1:53",     # no resolver traffic off loopback
            f"rtp_ports {rtp_start}-{rtp_start + 99}",
            "rtcp_mux no",
            "poll_method epoll",
            "audio_player alsa,null",
            "audio_alert alsa,null",
            f"audio_source aufile,{self.wav}",
            "ausrc_srate 48000",
            "auplay_srate 48000",
            "ausrc_channels 1",
            "auplay_channels 1",
            f"module_path {MODULES}",
        ]
        lines += [f"module {m}.so" for m in modules]
        lines += ["module aufile.so", "module sndfile.so",
                  "module_tmp uuid.so", "module_tmp account.so",
                  "module_app contact.so", "module_app menu.so", "module_app ctrl_tcp.so",
                  f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
                  f"snd_path {self.snd_dir}"]
        if cons_port:
            lines += ["module cons.so", f"cons_listen 127.0.0.1:{cons_port}"]
        lines += list(extra_config)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"<{self.aor}>;regint={regint};answermode=auto;audio_codecs={codecs}"
                    f"{extra_account_params}\n")
        with open(os.path.join(self.dir, "contacts"), "w") as f:
            f.write("".join(f"<{c}>\n" for c in contacts))

    # -- process ------------------------------------------------------------------------------
    def start(self, timeout=10):
        logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BARESIP, "-f", self.dir], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, cwd=self.dir)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"baresip exited {self.proc.returncode}:\n{self.log()}")
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"baresip ctrl_tcp not listening:\n{self.log()}")
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def console(self, timeout=5):
        """A TCP connection to the cons module (what baresip prints arrives on it)."""
        return socket.create_connection(("127.0.0.1", self.cons_port), timeout=timeout)

    # -- ctrl_tcp -----------------------------------------------------------------------------
    def _pump(self, timeout):
        self.sock.settimeout(max(timeout, 0.01))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            raise AssertionError(f"baresip closed ctrl_tcp\n{self.log()[-3000:]}")
        self.buf += data
        while True:
            colon = self.buf.find(b":")
            if colon < 0:
                return
            n = int(self.buf[:colon])
            if len(self.buf) < colon + 1 + n + 1:
                return
            payload = self.buf[colon + 1:colon + 1 + n]
            self.buf = self.buf[colon + 1 + n + 1:]
            msg = json.loads(payload.decode("utf-8", "replace"))
            if msg.get("event"):
                self.events.append(msg)
            elif msg.get("response"):
                self.responses[msg.get("token")] = msg

    def command(self, command, params="", timeout=5):
        self.token += 1
        token = f"t{self.token}"
        d = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(str(len(d)).encode() + b":" + d + b",")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if token in self.responses:
                return self.responses.pop(token)
            self._pump(deadline - time.time())
        raise AssertionError(f"no response to {command}\n{self.log()[-3000:]}")

    def wait_event(self, etype, timeout=10, stop_on=()):
        """The first event of type etype (consumed); raises if one of stop_on comes first."""
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("type") == etype:
                    return self.events.pop(i)
                if e.get("type") in stop_on:
                    raise AssertionError(f"{e.get('type')} ({e.get('param')}) while waiting for "
                                         f"{etype}\nevents: {self.events}\n{self.log()[-3000:]}")
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"no {etype} within {timeout}s; events: "
                                     f"{[e.get('type') for e in self.events]}\n"
                                     f"{self.log()[-3000:]}")
            self._pump(min(left, 0.2))

    def decoded_dumps(self):
        return sorted(glob.glob(os.path.join(self.snd_dir, "*-dec.wav")))
