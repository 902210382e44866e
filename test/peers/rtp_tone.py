#!/usr/bin/env python3
"""Send a sine tone as RTP in a given codec and analyse the audio that comes back (an RTP
echo test peer; standard library and ctypes only).

From its own UDP socket the peer sends `seconds` of a `freq` Hz sine to host:port, encoded
in one of the codecs below. It sends one 20 ms packet every 20 ms (paced with
time.monotonic): version 2 RTP, a random SSRC, random initial sequence number and timestamp,
the marker bit on the first packet. It collects every datagram that comes back on the same
socket until 1.0 s after the last packet was sent, parses the RTP headers (RFC 3550: CSRCs,
header extension, padding), keeps the packets whose payload type is the one it sent with,
sorts them by extended sequence number per SSRC (handling wraparound), decodes them with a
fresh decoder per SSRC (a gap in the sequence is filled with concealment or silence) and
analyses the decoded audio after its first 0.5 s:

  dominant_hz       the strongest of the candidate frequencies 100 Hz .. min(rate/2 - 100,
                    4000 Hz) in 10 Hz steps (Goertzel, Hann-windowed 0.1 s blocks), refined
                    by parabolic interpolation;
  rms               the RMS level of the decoded audio (a sine of amplitude A has A/sqrt(2));
  freq_power_ratio  the power of the sent frequency (the best Goertzel bin within +-20 Hz)
                    as a fraction of the total signal energy: close to 1 for a clean sine,
                    close to 0 for noise or silence.

Codecs (`--codec`):
  PCMU, PCMA   G.711 mu-law / A-law in pure Python; 8 kHz, 160 bytes per packet
  G722         libspandsp.so.2 at 64 kbit/s; 16 kHz audio, 160 bytes per packet, RTP clock
               8000 (RFC 3551), so the timestamp advances by 160 per packet
  speex8       libspeex.so.1 narrowband (quality 8); 160 samples per packet at 8 kHz
  speex16      libspeex.so.1 wideband (quality 8); 320 samples per packet at 16 kHz
  opus         libopus.so.0, 48 kHz mono (OPUS_APPLICATION_VOIP), 960 samples per packet

CLI:
    python3 rtp_tone.py 127.0.0.1 50000 --codec opus --pt 111 --freq 700 --seconds 3
prints a JSON report, e.g.
    {"codec": "opus", "sent": 150, "received": 150, "dominant_hz": 700.0, "rms": 5650.2,
     "freq_power_ratio": 0.99, "received_ssrcs": [...], "payload_types": [111],
     "decode_errors": 0, ...}
and exits 0 when the tone came back (dominant_hz within 20 Hz of --freq and
freq_power_ratio > 0.5), 1 otherwise (2 when a codec library cannot be loaded).

Report keys: sent (packets), received (unique RTP packets with our payload type, the ones
decoded), dominant_hz, rms, freq_power_ratio, received_ssrcs, payload_types (every PT seen),
pt_counts ({"PT": packets}), other_pt_packets, decode_errors (payloads the decoder
rejected), lost (holes in the received sequence numbers), duplicates, rtcp (RFC 5761
multiplexed RTCP), invalid (not RTP), datagrams (everything received), from_other_address,
send_errors, decoded_seconds, analysed_seconds, rate (decoded audio rate), sent_ssrc,
sent_rms (amplitude / sqrt(2)), local_port, codec, pt, freq, srtp_auth_failures (datagrams
dropped because they failed SRTP/SRTCP authentication or the replay check; 0 without SRTP).

SRTP (module use only): run(..., srtp=(send_ctx, recv_ctx)) with two srtp.Context objects
(srtp.py next to this file, one per direction) protects every packet sent with send_ctx and
unprotects every datagram received with recv_ctx before it is parsed (RTCP, second byte
192..223, with unprotect_rtcp); what fails is counted in srtp_auth_failures and ignored.

libspeex prints "notification: ..." lines on stderr when it is fed a corrupt payload; that
is the library talking, the corrupt payloads are counted in decode_errors.

Module:
    import rtp_tone
    report = rtp_tone.run("127.0.0.1", 50000, "PCMA", 8, 1100, 3, sock=my_bound_udp_socket)
    report = rtp_tone.run(ip, port, "PCMU", 0, 700, 2, sock=s, srtp=(send_ctx, recv_ctx))
    rtp_tone.dominant_frequency(samples, 8000)  # -> Hz
"""
import argparse
import ctypes
import itertools
import json
import math
import os
import select
import socket
import struct
import sys
import time

PTIME = 0.02            # seconds of audio per RTP packet
LINGER = 1.0            # keep receiving this long after the last packet was sent
SKIP_SECONDS = 0.5      # received audio ignored at the start (codec / jitter start-up)
BLOCK_SECONDS = 0.1     # Goertzel block length: 10 Hz resolution, matches the 10 Hz grid
MAX_ANALYSIS_SAMPLES = 16000  # samples fed to the Goertzel filters (bounds the CPU time)
MAX_GAP_PACKETS = 50    # a longer hole in the sequence numbers is not filled
TONE_TOLERANCE_HZ = 20


# --------------------------------------------------------------------------- G.711

def linear_to_ulaw(sample):
    """ITU-T G.711 mu-law encoding of one 16-bit signed linear sample."""
    sample >>= 2                      # 14-bit range
    if sample < 0:
        mask = 0x7F
        sample = -sample
    else:
        mask = 0xFF
    sample = min(sample, 8159) + 0x21
    seg = 0
    while seg < 8 and sample > ((0x40 << seg) - 1):
        seg += 1
    if seg == 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((sample >> (seg + 1)) & 0x0F)) ^ mask


def ulaw_to_linear(byte):
    """ITU-T G.711 mu-law decoding of one byte to a 16-bit signed linear sample."""
    byte = ~byte & 0xFF
    exponent = (byte >> 4) & 0x07
    sample = ((((byte & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return -sample if byte & 0x80 else sample


def linear_to_alaw(sample):
    """ITU-T G.711 A-law encoding of one 16-bit signed linear sample."""
    sample >>= 3                      # 13-bit magnitude range
    if sample >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        sample = -sample - 1
    if sample > 0xFFF:
        return 0x7F ^ mask
    seg = 0
    while sample > ((0x20 << seg) - 1):
        seg += 1
    aval = seg << 4
    aval |= (sample >> 1) & 0x0F if seg < 2 else (sample >> seg) & 0x0F
    return aval ^ mask


def alaw_to_linear(byte):
    """ITU-T G.711 A-law decoding of one byte to a 16-bit signed linear sample."""
    byte ^= 0x55
    t = (byte & 0x0F) << 4
    seg = (byte & 0x70) >> 4
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if byte & 0x80 else -t


_ULAW_DECODE = [ulaw_to_linear(b) for b in range(256)]
_ALAW_DECODE = [alaw_to_linear(b) for b in range(256)]


# --------------------------------------------------------------------------- codecs

def _load(soname):
    """ctypes.CDLL for a shared library, with a readable error when it is missing."""
    try:
        return ctypes.CDLL(soname)
    except OSError as e:
        raise RuntimeError(f"cannot load {soname}: {e}") from None


def _int16_buffer(samples):
    """A ctypes int16 array holding `samples` (clipped to the int16 range)."""
    return (ctypes.c_int16 * len(samples))(*(max(-32768, min(32767, int(s))) for s in samples))


class Codec:
    """Base class: audio `rate`, `frame` samples per 20 ms packet, RTP timestamp step."""
    rate = 8000
    frame = 160
    ts_step = 160

    def encode(self, samples):
        """Encode one frame of int samples to an RTP payload (bytes)."""
        raise NotImplementedError

    def decoder(self):
        """A fresh decoder: an object with decode(payload) -> list of samples (raises
        ValueError on a corrupt payload) and conceal(n) -> list of n samples for a loss."""
        return self

    def decode(self, payload):
        raise NotImplementedError

    def conceal(self, n):
        """Samples standing in for a lost packet of n samples (silence by default)."""
        return [0] * n


class PCMU(Codec):
    def encode(self, samples):
        return bytes(linear_to_ulaw(int(s)) for s in samples)

    def decode(self, payload):
        return [_ULAW_DECODE[b] for b in payload]


class PCMA(Codec):
    def encode(self, samples):
        return bytes(linear_to_alaw(int(s)) for s in samples)

    def decode(self, payload):
        return [_ALAW_DECODE[b] for b in payload]


class G722(Codec):
    """G.722 at 64 kbit/s through spandsp; 16 kHz audio, RTP clock 8000 (RFC 3551)."""
    rate = 16000
    frame = 320
    ts_step = 160

    def __init__(self):
        lib = self.lib = _load("libspandsp.so.2")
        lib.g722_encode_init.restype = ctypes.c_void_p
        lib.g722_encode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.g722_decode_init.restype = ctypes.c_void_p
        lib.g722_decode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.g722_encode.restype = ctypes.c_int
        lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                    ctypes.c_int]
        lib.g722_decode.restype = ctypes.c_int
        lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.c_int]
        self.enc = lib.g722_encode_init(None, 64000, 0)
        self.dec = None
        if not self.enc:
            raise RuntimeError("g722_encode_init failed")

    def encode(self, samples):
        out = ctypes.create_string_buffer(len(samples))
        n = self.lib.g722_encode(self.enc, out, _int16_buffer(samples), len(samples))
        return out.raw[:n]

    def decoder(self):
        d = G722.__new__(G722)
        d.lib, d.enc = self.lib, None
        d.dec = self.lib.g722_decode_init(None, 64000, 0)
        if not d.dec:
            raise RuntimeError("g722_decode_init failed")
        return d

    def decode(self, payload):
        out = (ctypes.c_int16 * (2 * len(payload)))()
        n = self.lib.g722_decode(self.dec, out, payload, len(payload))
        return out[:n]


class _SpeexBits(ctypes.Structure):
    """Opaque room for a SpeexBits struct (only libspeex touches its fields)."""
    _fields_ = [("opaque", ctypes.c_char * 256)]


class Speex(Codec):
    """Speex narrowband (mode 0, 8 kHz) or wideband (mode 1, 16 kHz), one frame a packet."""
    SPEEX_SET_ENH = 0
    SPEEX_GET_FRAME_SIZE = 3
    SPEEX_SET_QUALITY = 4

    def __init__(self, mode_id, quality=8):
        lib = self.lib = _load("libspeex.so.1")
        vp, bits_p = ctypes.c_void_p, ctypes.POINTER(_SpeexBits)
        lib.speex_lib_get_mode.restype = vp
        lib.speex_lib_get_mode.argtypes = [ctypes.c_int]
        for name in ("speex_encoder_init", "speex_decoder_init"):
            getattr(lib, name).restype = vp
            getattr(lib, name).argtypes = [vp]
        for name in ("speex_encoder_ctl", "speex_decoder_ctl"):
            getattr(lib, name).restype = ctypes.c_int
            getattr(lib, name).argtypes = [vp, ctypes.c_int, vp]
        lib.speex_bits_init.argtypes = [bits_p]
        lib.speex_bits_reset.argtypes = [bits_p]
        lib.speex_bits_remaining.argtypes = [bits_p]
        lib.speex_bits_remaining.restype = ctypes.c_int
        lib.speex_bits_write.argtypes = [bits_p, ctypes.c_char_p, ctypes.c_int]
        lib.speex_bits_write.restype = ctypes.c_int
        lib.speex_bits_read_from.argtypes = [bits_p, ctypes.c_char_p, ctypes.c_int]
        lib.speex_encode_int.argtypes = [vp, vp, bits_p]
        lib.speex_encode_int.restype = ctypes.c_int
        lib.speex_decode_int.argtypes = [vp, bits_p, vp]
        lib.speex_decode_int.restype = ctypes.c_int
        self.mode = lib.speex_lib_get_mode(mode_id)
        self.enc = lib.speex_encoder_init(self.mode)
        if not self.enc:
            raise RuntimeError("speex_encoder_init failed")
        q = ctypes.c_int(quality)
        lib.speex_encoder_ctl(self.enc, self.SPEEX_SET_QUALITY, ctypes.byref(q))
        size = ctypes.c_int(0)
        lib.speex_encoder_ctl(self.enc, self.SPEEX_GET_FRAME_SIZE, ctypes.byref(size))
        self.frame = self.ts_step = size.value
        self.rate = 8000 if mode_id == 0 else 16000
        self.bits = _SpeexBits()
        lib.speex_bits_init(ctypes.byref(self.bits))
        self.dec = None

    def encode(self, samples):
        lib = self.lib
        lib.speex_bits_reset(ctypes.byref(self.bits))
        lib.speex_encode_int(self.enc, _int16_buffer(samples), ctypes.byref(self.bits))
        out = ctypes.create_string_buffer(1024)
        n = lib.speex_bits_write(ctypes.byref(self.bits), out, len(out))
        return out.raw[:n]

    def decoder(self):
        d = Speex.__new__(Speex)
        d.lib, d.mode, d.enc = self.lib, self.mode, None
        d.frame, d.ts_step, d.rate = self.frame, self.ts_step, self.rate
        d.dec = self.lib.speex_decoder_init(self.mode)
        if not d.dec:
            raise RuntimeError("speex_decoder_init failed")
        enh = ctypes.c_int(1)
        self.lib.speex_decoder_ctl(d.dec, self.SPEEX_SET_ENH, ctypes.byref(enh))
        d.bits = _SpeexBits()
        self.lib.speex_bits_init(ctypes.byref(d.bits))
        return d

    def decode(self, payload):
        """All frames in the payload (normally one)."""
        lib, bits = self.lib, ctypes.byref(self.bits)
        lib.speex_bits_read_from(bits, payload, len(payload))
        out, buf = [], (ctypes.c_int16 * self.frame)()
        for _ in range(16):
            if lib.speex_bits_remaining(bits) < 5:
                break
            r = lib.speex_decode_int(self.dec, bits, buf)
            if r == -1:           # terminator: end of the frames in this payload
                break
            if r < 0 or lib.speex_bits_remaining(bits) < 0:
                raise ValueError("corrupt speex payload")
            out.extend(buf)
        if not out:
            raise ValueError("no speex frame in payload")
        return out

    def conceal(self, n):
        """Speex packet-loss concealment (decode with no bits)."""
        buf, out = (ctypes.c_int16 * self.frame)(), []
        while len(out) < n:
            self.lib.speex_decode_int(self.dec, None, buf)
            out.extend(buf)
        return out[:n]


class Opus(Codec):
    """Opus, 48 kHz mono, 20 ms frames (the SDP's opus/48000/2 allows a mono payload)."""
    rate = 48000
    frame = 960
    ts_step = 960
    OPUS_APPLICATION_VOIP = 2048
    MAX_FRAME = 5760        # 120 ms at 48 kHz, the largest Opus packet duration

    def __init__(self):
        lib = self.lib = _load("libopus.so.0")
        vp, ip = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)
        lib.opus_encoder_create.restype = vp
        lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ip]
        lib.opus_decoder_create.restype = vp
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ip]
        lib.opus_encode.restype = ctypes.c_int32
        lib.opus_encode.argtypes = [vp, vp, ctypes.c_int, ctypes.c_char_p, ctypes.c_int32]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [vp, ctypes.c_char_p, ctypes.c_int32, vp, ctypes.c_int,
                                    ctypes.c_int]
        err = ctypes.c_int(0)
        self.enc = lib.opus_encoder_create(48000, 1, self.OPUS_APPLICATION_VOIP,
                                           ctypes.byref(err))
        if not self.enc or err.value != 0:
            raise RuntimeError(f"opus_encoder_create failed ({err.value})")
        self.dec = None

    def encode(self, samples):
        out = ctypes.create_string_buffer(1275)
        n = self.lib.opus_encode(self.enc, _int16_buffer(samples), len(samples), out, 1275)
        if n < 0:
            raise RuntimeError(f"opus_encode failed ({n})")
        return out.raw[:n]

    def decoder(self):
        d = Opus.__new__(Opus)
        d.lib, d.enc = self.lib, None
        err = ctypes.c_int(0)
        d.dec = self.lib.opus_decoder_create(48000, 1, ctypes.byref(err))
        if not d.dec or err.value != 0:
            raise RuntimeError(f"opus_decoder_create failed ({err.value})")
        return d

    def decode(self, payload):
        buf = (ctypes.c_int16 * self.MAX_FRAME)()
        n = self.lib.opus_decode(self.dec, payload, len(payload), buf, self.MAX_FRAME, 0)
        if n < 0:
            raise ValueError(f"opus_decode failed ({n})")
        return buf[:n]

    def conceal(self, n):
        """Opus packet-loss concealment (decode a NULL packet)."""
        out = []
        while len(out) < n:
            want = max(120, min(self.MAX_FRAME, (n - len(out)) // 120 * 120))  # 2.5 ms units
            buf = (ctypes.c_int16 * want)()
            got = self.lib.opus_decode(self.dec, None, 0, buf, want, 0)
            if got <= 0:
                out.extend([0] * (n - len(out)))
                break
            out.extend(buf[:got])
        return out[:n]


CODECS = {
    "pcmu": PCMU,
    "pcma": PCMA,
    "g722": G722,
    "speex8": lambda: Speex(0),
    "speex16": lambda: Speex(1),
    "opus": Opus,
}
CODEC_NAMES = ["PCMU", "PCMA", "G722", "speex8", "speex16", "opus"]


def make_codec(name):
    """A codec object for one of CODEC_NAMES (case-insensitive)."""
    try:
        factory = CODECS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown codec {name!r} (one of {', '.join(CODEC_NAMES)})") from None
    return factory()


# --------------------------------------------------------------------------- RTP

def rtp_packet(seq, ts, ssrc, payload, pt, marker=False):
    """A 12-byte RTP header (version 2, no CSRC, no extension) followed by the payload."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | (pt & 0x7F), seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + payload


def is_rtcp(data):
    """True for an RTCP packet multiplexed on the RTP port (RFC 5761: PT 192..223)."""
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


def parse_rtp(data):
    """Parse an RTP packet (RFC 3550): dict with pt, marker, seq, ts, ssrc, payload, or None
    when it is not a well-formed version-2 packet. Skips CSRCs, the extension and padding."""
    if len(data) < 12:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    if b0 >> 6 != 2:
        return None
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < offset + 4:
            return None
        ext_words = struct.unpack("!H", data[offset + 2:offset + 4])[0]
        offset += 4 + 4 * ext_words
    end = len(data)
    if b0 & 0x20:
        pad = data[-1]
        if pad == 0:
            return None
        end -= pad
    if end < offset:
        return None
    return {"pt": b1 & 0x7F, "marker": bool(b1 & 0x80), "seq": seq, "ts": ts, "ssrc": ssrc,
            "payload": bytes(data[offset:end])}


def order_by_sequence(packets):
    """Packets of one SSRC in arrival order -> (sorted unique packets, each with an 'ext'
    extended sequence number, duplicates dropped count). Wraparound is unwrapped relative to
    the previous arrival."""
    ext = last = None
    for p in packets:
        if last is None:
            ext = p["seq"]
        else:
            ext += ((p["seq"] - last + 0x8000) & 0xFFFF) - 0x8000
        last = p["seq"]
        p["ext"] = ext
    seen, out = set(), []
    for p in sorted(packets, key=lambda q: q["ext"]):
        if p["ext"] not in seen:
            seen.add(p["ext"])
            out.append(p)
    return out, len(packets) - len(out)


# --------------------------------------------------------------------------- analysis

def goertzel_power(samples, rate, freq):
    """|X(freq)|^2 of samples (a plain list of numbers) by the Goertzel recurrence."""
    c = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + c * s1 - s2, s1
    return s1 * s1 + s2 * s2 - c * s1 * s2


def default_candidates(rate):
    """100 Hz .. min(rate/2 - 100, 4000) Hz in 10 Hz steps."""
    top = int(min(rate / 2 - 100, 4000))
    return list(range(100, top + 1, 10))


def _decimate(samples, rate):
    """Reduce 48 kHz (or other rates above 16 kHz) to 16 kHz: moving-average low-pass over
    two output periods and pick every k-th sample. Lower rates are returned unchanged."""
    k = rate // 16000 if rate > 16000 else 1
    if k <= 1:
        return list(samples), rate
    width = 2 * k
    acc = [0] + list(itertools.accumulate(samples))
    out = [(acc[i + width] - acc[i]) / width for i in range(0, len(samples) - width + 1, k)]
    return out, rate / k


def _blocks(samples, rate):
    """Hann-windowed 0.1 s blocks spread evenly over the audio, at most
    MAX_ANALYSIS_SAMPLES samples in all; returns (blocks, window)."""
    n = max(16, int(rate * BLOCK_SECONDS))
    if len(samples) < n:
        n = len(samples)
    if n < 16:
        return [], []
    window = [0.5 - 0.5 * math.cos(2 * math.pi * (i + 0.5) / n) for i in range(n)]
    available = len(samples) // n
    count = max(1, min(available, MAX_ANALYSIS_SAMPLES // n))
    step = (len(samples) - n) / (count - 1) if count > 1 else 0
    starts = [int(round(j * step)) for j in range(count)]
    return [[samples[s + i] * window[i] for i in range(n)] for s in starts], window


def _spectrum(blocks, rate, freqs):
    """Goertzel power summed over blocks, for each frequency in freqs."""
    return [sum(goertzel_power(b, rate, f) for b in blocks) for f in freqs]


def _refine(freqs, powers, i):
    """Parabolic interpolation (on log power) around the peak at index i of a uniform grid."""
    if 0 < i < len(freqs) - 1 and powers[i - 1] > 0 and powers[i + 1] > 0 and powers[i] > 0:
        a, b, c = (math.log(powers[j]) for j in (i - 1, i, i + 1))
        den = a - 2 * b + c
        if den < 0:
            shift = 0.5 * (a - c) / den
            if -0.5 <= shift <= 0.5:
                return freqs[i] + shift * (freqs[i + 1] - freqs[i])
    return float(freqs[i])


def analyse(samples, rate, freq=None, candidates=None):
    """Dict with dominant_hz, rms, freq_power_ratio (for `freq`, if given) and
    analysed_seconds of the audio `samples` at `rate` Hz."""
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    report = {"dominant_hz": 0.0, "rms": round(rms, 1), "freq_power_ratio": 0.0,
              "analysed_seconds": 0.0}
    cands = list(candidates) if candidates else default_candidates(rate)
    data, arate = _decimate(samples, rate)
    blocks, window = _blocks(data, arate)
    if not blocks or rms == 0.0:
        return report
    report["analysed_seconds"] = round(len(blocks) * len(window) / arate, 3)
    powers = _spectrum(blocks, arate, cands)
    best = max(range(len(cands)), key=powers.__getitem__)
    report["dominant_hz"] = round(_refine(cands, powers, best), 1)
    if freq is not None:
        # A sine of amplitude A gives |X|^2 = (A/2 * sum(w))^2 and energy A^2/2 * sum(w^2):
        # scale so that the ratio of a clean sine at a bin centre is 1.
        sum_w, sum_w2 = sum(window), sum(w * w for w in window)
        energy = sum(x * x for b in blocks for x in b)
        near = [f for f in cands if abs(f - freq) <= TONE_TOLERANCE_HZ]
        tone = max([powers[cands.index(f)] for f in near]
                   + _spectrum(blocks, arate, [freq]))
        if energy > 0:
            ratio = 2.0 * tone * sum_w2 / (sum_w * sum_w * energy)
            report["freq_power_ratio"] = round(min(1.0, ratio), 3)
    return report


def dominant_frequency(samples, rate, candidates=None):
    """The dominant frequency (Hz) of samples at `rate` among `candidates` (default: 100 Hz ..
    min(rate/2 - 100, 4000) in 10 Hz steps); 0.0 for silence or too little audio."""
    return analyse(samples, rate, candidates=candidates)["dominant_hz"]


# --------------------------------------------------------------------------- send/receive

def sine(n, freq, rate, amplitude, start=0):
    """n samples of amplitude * sin(2 pi freq t), starting at sample index `start`."""
    w = 2 * math.pi * freq / rate
    return [int(round(amplitude * math.sin(w * (start + i)))) for i in range(n)]


def run(host, port, codec, pt, freq, seconds, sock=None, amplitude=8000, keep_audio=False,
        srtp=None, ssrc=None):
    """Send `seconds` of a `freq` Hz tone in `codec` with payload type `pt` to (host, port),
    collect what comes back until LINGER s after the last packet, decode it and return the
    report dict (see the module docstring). Uses `sock` (a bound UDP socket) if given,
    otherwise binds 127.0.0.1:0. With keep_audio the report also has "audio": the decoded
    samples after the first SKIP_SECONDS (at report["rate"]), for the caller's own analysis.
    amplitude 0 sends silence. srtp=(send_ctx, recv_ctx), two srtp.Context objects: SRTP
    both ways (see the module docstring). ssrc: the SSRC to send with (default random)."""
    enc = make_codec(codec)
    count = max(1, int(round(seconds / PTIME)))
    if ssrc is None:
        ssrc = struct.unpack("!I", os.urandom(4))[0]
    seq0 = struct.unpack("!H", os.urandom(2))[0]
    ts0 = struct.unpack("!I", os.urandom(4))[0]
    packets = [rtp_packet(seq0 + i, ts0 + i * enc.ts_step, ssrc,
                          enc.encode(sine(enc.frame, freq, enc.rate, amplitude,
                                          i * enc.frame)), pt, marker=(i == 0))
               for i in range(count)]
    send_ctx, recv_ctx = srtp if srtp is not None else (None, None)
    if send_ctx is not None:
        packets = [send_ctx.protect(p) for p in packets]

    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
    dest = (socket.gethostbyname(host), port)
    received, other_pt = {}, {}
    counters = {"datagrams": 0, "rtcp": 0, "invalid": 0, "from_other_address": 0,
                "send_errors": 0, "srtp_auth_failures": 0}
    local_port = sock.getsockname()[1]
    blocking = sock.getblocking()
    sock.setblocking(False)
    sent = 0
    try:
        start = time.monotonic()
        end = None
        while True:
            now = time.monotonic()
            if sent < count and now >= start + sent * PTIME:
                try:
                    sock.sendto(packets[sent], dest)
                except OSError:
                    counters["send_errors"] += 1
                sent += 1
                if sent == count:
                    end = time.monotonic() + LINGER
                continue
            if end is not None and now >= end:
                break
            due = start + sent * PTIME if sent < count else end
            r, _, _ = select.select([sock], [], [], max(0.0, due - now))
            if r:
                _drain(sock, dest, pt, received, other_pt, counters, recv_ctx)
    finally:
        if own:
            sock.close()
        else:
            sock.setblocking(blocking)

    audio, info = _decode_streams(enc, received)
    skip = int(SKIP_SECONDS * enc.rate)
    result = analyse(audio[skip:], enc.rate, freq)
    pt_counts = dict(other_pt)
    if info["received"]:
        pt_counts[pt] = sum(len(v) for v in received.values())
    report = {"codec": codec, "pt": pt, "freq": freq, "sent": sent,
              "received": info["received"], "dominant_hz": result["dominant_hz"],
              "rms": result["rms"], "freq_power_ratio": result["freq_power_ratio"],
              "received_ssrcs": sorted(received), "payload_types": sorted(pt_counts),
              "pt_counts": {str(k): v for k, v in sorted(pt_counts.items())},
              "decode_errors": info["decode_errors"], "duplicates": info["duplicates"],
              "lost": info["lost"], "other_pt_packets": sum(other_pt.values()),
              "rtcp": counters["rtcp"], "invalid": counters["invalid"],
              "datagrams": counters["datagrams"],
              "from_other_address": counters["from_other_address"],
              "send_errors": counters["send_errors"],
              "srtp_auth_failures": counters["srtp_auth_failures"],
              "decoded_seconds": round(len(audio) / enc.rate, 3),
              "analysed_seconds": result["analysed_seconds"], "rate": enc.rate,
              "sent_ssrc": ssrc, "sent_rms": round(amplitude / math.sqrt(2), 1),
              "local_port": local_port}
    if keep_audio:
        report["audio"] = audio[skip:]
    return report


def _drain(sock, dest, pt, received, other_pt, counters, recv_ctx=None):
    """Read every pending datagram; sort RTP packets with our PT into received[ssrc].
    With recv_ctx (an srtp.Context) each one is unprotected first."""
    # the AuthError class of the module the context comes from (no import of srtp here)
    auth_error = None
    if recv_ctx is not None:
        auth_error = sys.modules[type(recv_ctx).__module__].AuthError
    while True:
        try:
            data, addr = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionRefusedError:
            continue
        counters["datagrams"] += 1
        if addr != dest:
            counters["from_other_address"] += 1
        if recv_ctx is not None:
            try:
                data = (recv_ctx.unprotect_rtcp if is_rtcp(data) else recv_ctx.unprotect)(data)
            except auth_error:
                counters["srtp_auth_failures"] += 1
                continue
        if is_rtcp(data):
            counters["rtcp"] += 1
            continue
        p = parse_rtp(data)
        if p is None:
            counters["invalid"] += 1
        elif p["pt"] != pt:
            other_pt[p["pt"]] = other_pt.get(p["pt"], 0) + 1
        else:
            p["arrival"] = counters["datagrams"]
            received.setdefault(p["ssrc"], []).append(p)


def _decode_streams(codec, received):
    """Decode each SSRC's packets in sequence order with a fresh decoder, the streams in the
    order their first packets arrived; returns (samples, counters)."""
    audio = []
    info = {"received": 0, "decode_errors": 0, "duplicates": 0, "lost": 0}
    order = sorted(received, key=lambda s: received[s][0]["arrival"])
    for ssrc in order:
        packets, dups = order_by_sequence(received[ssrc])
        info["duplicates"] += dups
        info["received"] += len(packets)
        dec = codec.decoder()
        last_ext, last_len = None, codec.frame
        for p in packets:
            if last_ext is not None:
                gap = p["ext"] - last_ext - 1
                info["lost"] += gap
                if 0 < gap <= MAX_GAP_PACKETS:
                    audio.extend(dec.conceal(gap * last_len))
            last_ext = p["ext"]
            try:
                samples = dec.decode(p["payload"])
            except ValueError:
                info["decode_errors"] += 1
                samples = dec.conceal(last_len)
            if samples:
                last_len = len(samples)
            audio.extend(samples)
    return audio, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--codec", required=True, type=str,
                    help="one of " + ", ".join(CODEC_NAMES) + " (case-insensitive)")
    ap.add_argument("--pt", type=int, required=True, help="RTP payload type to send with")
    ap.add_argument("--freq", type=float, default=700.0, help="tone frequency, Hz")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long to send")
    ap.add_argument("--local-port", type=int, default=0, help="bind 127.0.0.1:PORT")
    ap.add_argument("--amplitude", type=int, default=8000, help="sine amplitude (int16)")
    a = ap.parse_args(argv)
    if a.codec.lower() not in CODECS:
        ap.error(f"--codec must be one of {', '.join(CODEC_NAMES)}")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.local_port))
    try:
        rep = run(a.host, a.port, a.codec, a.pt, a.freq, a.seconds, sock=s,
                  amplitude=a.amplitude)
    except RuntimeError as e:
        print(json.dumps({"codec": a.codec, "error": str(e)}))
        return 2
    finally:
        s.close()
    print(json.dumps(rep))
    ok = (rep["received"] > 0 and abs(rep["dominant_hz"] - a.freq) <= TONE_TOLERANCE_HZ
          and rep["freq_power_ratio"] > 0.5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
