#!/usr/bin/env python3
"""Send PCMU RTP frames to host:port from our own UDP socket and report which came back
byte-identical (an RTP echo test peer; standard library only).

Each frame is 20 ms of a 440 Hz sine (G.711 mu-law, 160 bytes of payload, payload type 0),
with a 12-byte RTP header (RFC 3550): version 2, sequence numbers and timestamps increasing,
a fixed SSRC. The frames are different from each other (the sine phase moves on, the header
changes), so an echo that returns a stale or altered packet does not count.

    python3 rtp_sender.py 127.0.0.1 50000 --count 50
prints a JSON report: {"sent": 50, "identical": 50, "altered": 0, "unexpected": 0, ...}
"""
import argparse
import json
import math
import os
import select
import socket
import struct
import time

BIAS = 0x84
CLIP = 32635


def linear_to_ulaw(sample):
    """ITU-T G.711 mu-law encoding of one 16-bit signed linear sample."""
    sign = 0x80 if sample < 0 else 0
    if sample < 0:
        sample = -sample
    if sample > CLIP:
        sample = CLIP
    sample += BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not (sample & mask):
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_to_linear(byte):
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = ((mantissa << 3) + BIAS) << exponent
    sample -= BIAS
    return -sample if sign else sample


def sine_ulaw(n_samples, freq=440.0, rate=8000, amplitude=12000, start=0):
    return bytes(linear_to_ulaw(int(amplitude * math.sin(2 * math.pi * freq * (start + i) / rate)))
                 for i in range(n_samples))


def rtp_packet(seq, ts, ssrc, payload, pt=0, marker=False):
    b0 = 0x80
    b1 = (0x80 if marker else 0) | (pt & 0x7F)
    return struct.pack("!BBHII", b0, b1, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def parse_rtp(data):
    if len(data) < 12:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    return {"version": b0 >> 6, "pt": b1 & 0x7F, "marker": bool(b1 & 0x80), "seq": seq,
            "ts": ts, "ssrc": ssrc, "payload": data[12:]}


def make_frames(count, pt=0, ssrc=None, ptime_samples=160):
    ssrc = ssrc if ssrc is not None else struct.unpack("!I", os.urandom(4))[0]
    seq0 = struct.unpack("!H", os.urandom(2))[0]
    ts0 = struct.unpack("!I", os.urandom(4))[0]
    frames = []
    for i in range(count):
        payload = sine_ulaw(ptime_samples, start=i * ptime_samples)
        frames.append(rtp_packet(seq0 + i, ts0 + i * ptime_samples, ssrc, payload, pt,
                                 marker=(i == 0)))
    return frames


def send_and_collect(host, port, count=50, sock=None, ptime=0.02, linger=1.0, pt=0):
    """Send `count` frames every `ptime` seconds to (host, port) and collect what comes back
    until `linger` seconds after the last one. Returns a report dict."""
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    frames = make_frames(count, pt=pt)
    pending = {f: i for i, f in enumerate(frames)}
    identical, altered, unexpected, from_other = set(), 0, 0, 0
    dest = (host, port)
    start = time.monotonic()
    i = 0
    end = None
    try:
        while True:
            now = time.monotonic()
            if i < count and now >= start + i * ptime:
                sock.sendto(frames[i], dest)
                i += 1
                if i == count:
                    end = time.monotonic() + linger
                continue
            if end is not None and now >= end:
                break
            if end is not None and len(identical) == count:
                break
            next_due = start + i * ptime if i < count else end
            r, _, _ = select.select([sock], [], [], max(0.0, min(next_due - now, 0.02)))
            if not r:
                continue
            while True:
                try:
                    data, addr = sock.recvfrom(4096)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    continue
                if addr != dest:
                    from_other += 1
                if data in pending:
                    identical.add(pending[data])
                else:
                    p = parse_rtp(data)
                    if p and any(f[2:4] == data[2:4] for f in frames):
                        altered += 1
                    else:
                        unexpected += 1
    finally:
        if own:
            sock.close()
    return {"sent": count, "identical": len(identical), "altered": altered,
            "unexpected": unexpected, "from_other_address": from_other,
            "missing": sorted(set(range(count)) - identical)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--local-port", type=int, default=0)
    ap.add_argument("--linger", type=float, default=1.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.local_port))
    try:
        rep = send_and_collect(a.host, a.port, a.count, sock=s, linger=a.linger)
    finally:
        s.close()
    print(json.dumps(rep))
    return 0 if rep["identical"] == rep["sent"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
