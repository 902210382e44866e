#!/usr/bin/env python3
"""SRTP and SRTCP (RFC 3711) keyed by SDES (RFC 4568): a test peer written from the RFCs,
standard library plus OpenSSL's libcrypto through ctypes (AES-128 in counter mode only).

Suites (RFC 4568 section 6.2):
  AES_CM_128_HMAC_SHA1_80   AES-CM 128-bit encryption, HMAC-SHA1 80-bit tag on SRTP and SRTCP
  AES_CM_128_HMAC_SHA1_32   the same with a 32-bit SRTP tag; SRTCP keeps the 80-bit tag
Both use a 16-byte master key and a 14-byte master salt, a key derivation rate of 0 (the
session keys are derived once, RFC 3711 section 4.3), no MKI.

What it does:
  - key derivation (section 4.3.1/4.3.3): the AES-CM PRF, labels 0..2 for SRTP and 3..5 for
    SRTCP (cipher key, authentication key, salt);
  - AES-CM (section 4.1.1): IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), where i is
    the 48-bit SRTP packet index ROC * 2^16 + SEQ (or the 31-bit SRTCP index);
  - HMAC-SHA1 (section 4.2.1) over the authenticated portion || ROC (SRTP) or over the
    packet including E||SRTCP index (SRTCP), truncated to the tag length;
  - per SSRC state, as with the crypto context of RFC 3711 section 3.2.3 (a Context accepts
    any SSRC): the sender's ROC, incremented when SEQ wraps, and the receiver's index
    estimation (section 3.3.1, Appendix A) with the ROC / s_l / replay window updated only
    after a packet authenticated;
  - a 64-packet replay window (section 3.3.2) for SRTP and for SRTCP;
  - SRTCP (section 3.4): everything after the first 8 bytes (header + sender SSRC) encrypted,
    then the E flag and the 31-bit SRTCP index (starting at 0 per SSRC), then the tag.

One Context per direction: the sender protects with the key it put in its own a=crypto
line, the receiver unprotects with the key from the peer's line.

    import srtp
    value, key, salt = srtp.make_sdes(tag=1, suite="AES_CM_128_HMAC_SHA1_80")
    # offer "a=crypto:" + value, read the peer's a=crypto from the answer:
    tag, suite, peer_key, peer_salt = srtp.parse_sdes(answer_crypto_value)
    send = srtp.Context(key, salt, suite)
    recv = srtp.Context(peer_key, peer_salt, suite)
    wire = send.protect(rtp_packet)
    rtp_packet = recv.unprotect(wire)      # srtp.AuthError on a bad tag, ReplayError (a
                                            # subclass) on a replayed or too old packet
    wire = send.protect_rtcp(rtcp_packet); rtcp_packet = recv.unprotect_rtcp(wire)

Self-test (RFC 3711 B.2 keystream, B.3 key derivation, libsrtp's published known-answer
packets, round trips, tampering, replay, ROC across a sequence wrap, SDES lines):
    python3 srtp.py --selftest
"""
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import os
import struct
import sys

SUITES = {  # name -> SRTP tag length in bytes
    "AES_CM_128_HMAC_SHA1_80": 10,
    "AES_CM_128_HMAC_SHA1_32": 4,
}
SRTCP_TAG_LEN = 10      # RFC 4568 6.2.2: the _32 suite keeps 80-bit tags on SRTCP
KEY_LEN = 16
SALT_LEN = 14
AUTH_KEY_LEN = 20       # HMAC-SHA1 session authentication key (n_a = 160)
REPLAY_WINDOW = 64

LABEL_RTP_ENC, LABEL_RTP_AUTH, LABEL_RTP_SALT = 0, 1, 2
LABEL_RTCP_ENC, LABEL_RTCP_AUTH, LABEL_RTCP_SALT = 3, 4, 5


class AuthError(Exception):
    """A packet that cannot be accepted: bad authentication tag, too short or malformed."""


class ReplayError(AuthError):
    """A packet whose index was already received or is older than the replay window."""


# --------------------------------------------------------------------------- AES-CM

_lib = None


def _libcrypto():
    """OpenSSL's libcrypto through ctypes, loaded on first use."""
    global _lib
    if _lib is not None:
        return _lib
    names = ["libcrypto.so.3", ctypes.util.find_library("crypto"), "libcrypto.so"]
    errors = []
    for name in [n for n in names if n]:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise RuntimeError("cannot load libcrypto: " + "; ".join(errors))
    vp = ctypes.c_void_p
    lib.EVP_CIPHER_CTX_new.restype = vp
    lib.EVP_CIPHER_CTX_new.argtypes = []
    lib.EVP_CIPHER_CTX_free.restype = None
    lib.EVP_CIPHER_CTX_free.argtypes = [vp]
    lib.EVP_aes_128_ctr.restype = vp
    lib.EVP_aes_128_ctr.argtypes = []
    lib.EVP_EncryptInit_ex.restype = ctypes.c_int
    lib.EVP_EncryptInit_ex.argtypes = [vp, vp, vp, ctypes.c_char_p, ctypes.c_char_p]
    lib.EVP_EncryptUpdate.restype = ctypes.c_int
    lib.EVP_EncryptUpdate.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                      ctypes.c_char_p, ctypes.c_int]
    _lib = lib
    return lib


def aes_ctr(key, iv, data):
    """AES-128 in counter mode: data XOR the keystream E(key, iv), E(key, iv + 1), ...
    (a 128-bit big-endian counter; SRTP's IVs leave the low 16 bits zero, so the carry
    never reaches the SRTP-specific bits for packets below 2^16 blocks)."""
    if len(key) != 16 or len(iv) != 16:
        raise ValueError("AES-128-CTR needs a 16-byte key and a 16-byte IV")
    data = bytes(data)
    if not data:
        return b""
    lib = _libcrypto()
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        raise MemoryError("EVP_CIPHER_CTX_new failed")
    try:
        if lib.EVP_EncryptInit_ex(ctx, lib.EVP_aes_128_ctr(), None, bytes(key), bytes(iv)) != 1:
            raise RuntimeError("EVP_EncryptInit_ex failed")
        out = ctypes.create_string_buffer(len(data) + 16)
        outl = ctypes.c_int(0)
        if lib.EVP_EncryptUpdate(ctx, out, ctypes.byref(outl), data, len(data)) != 1:
            raise RuntimeError("EVP_EncryptUpdate failed")
        return out.raw[:outl.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


def keystream(key, iv, n):
    """The first n bytes of the AES-CM keystream for (key, iv)."""
    return aes_ctr(key, iv, bytes(n))


def srtp_iv(session_salt, ssrc, index):
    """RFC 3711 4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), 16 bytes."""
    k_s = int.from_bytes(session_salt, "big")
    return ((k_s << 16) ^ (ssrc << 64) ^ (index << 16)).to_bytes(16, "big")


def derive_key(master_key, master_salt, label, length):
    """RFC 3711 4.3.1 with key_derivation_rate 0 (r = 0): key_id = label || 0 (48 bits),
    x = key_id XOR master_salt, session key = PRF_n(k_master, x), the AES-CM keystream with
    IV = x * 2^16."""
    if len(master_key) != KEY_LEN or len(master_salt) != SALT_LEN:
        raise ValueError(f"master key must be {KEY_LEN} bytes and master salt {SALT_LEN}")
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    return keystream(master_key, (x << 16).to_bytes(16, "big"), length)


# --------------------------------------------------------------------------- helpers

def _estimate_roc(roc, s_l, seq):
    """RFC 3711 3.3.1 / Appendix A: the ROC v of a packet with sequence number seq, given
    the highest received s_l and its ROC. A guess below 0 (only possible before the ROC
    first wrapped) is taken as 0; the ROC is a 32-bit counter."""
    if s_l < 0x8000:
        v = roc - 1 if seq - s_l > 0x8000 else roc
    else:
        v = roc + 1 if s_l - 0x8000 > seq else roc
    return min(max(v, 0), 0xFFFFFFFF)


def _rtp_header_len(packet):
    """Length of the RTP header (fixed part, CSRCs, header extension); AuthError when the
    packet is not a well-formed version-2 RTP packet."""
    if len(packet) < 12:
        raise AuthError("RTP packet shorter than its 12-byte header")
    if packet[0] >> 6 != 2:
        raise AuthError("not an RTP version 2 packet")
    n = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        if len(packet) < n + 4:
            raise AuthError("RTP header extension truncated")
        n += 4 + 4 * struct.unpack("!H", packet[n + 2:n + 4])[0]
    if len(packet) < n:
        raise AuthError("RTP header truncated")
    return n


class _Window:
    """A replay window over packet indices: `highest` and a bitmask, bit k set when index
    highest - k was received (RFC 3711 3.3.2)."""
    __slots__ = ("highest", "bits")

    def __init__(self, index):
        self.highest, self.bits = index, 1

    def check(self, index):
        delta = index - self.highest
        if delta > 0:
            return
        if -delta >= REPLAY_WINDOW:
            raise ReplayError(f"index {index} older than the replay window "
                              f"(highest {self.highest})")
        if self.bits >> -delta & 1:
            raise ReplayError(f"index {index} replayed")

    def add(self, index):
        delta = index - self.highest
        if delta > 0:
            self.bits = ((self.bits << delta) | 1) & ((1 << REPLAY_WINDOW) - 1)
            self.highest = index
        else:
            self.bits |= 1 << -delta


class _RtpState:
    """Per-SSRC SRTP state: the ROC and the highest sequence number s_l (both directions),
    the replay window (receiver)."""
    __slots__ = ("roc", "s_l", "window")

    def __init__(self, seq):
        self.roc, self.s_l = 0, seq
        self.window = _Window(seq)


# --------------------------------------------------------------------------- Context

class Context:
    """One direction of an SRTP session: protect (sender) or unprotect (receiver) RTP and
    RTCP with the session keys derived from one master key and salt. State is kept per
    SSRC, so one Context can carry several streams."""

    def __init__(self, master_key, master_salt, suite="AES_CM_128_HMAC_SHA1_80"):
        if suite not in SUITES:
            raise ValueError(f"unsupported suite {suite!r} (one of {', '.join(SUITES)})")
        master_key, master_salt = bytes(master_key), bytes(master_salt)
        if len(master_key) != KEY_LEN or len(master_salt) != SALT_LEN:
            raise ValueError(f"master key must be {KEY_LEN} bytes and master salt {SALT_LEN}")
        self.suite = suite
        self.tag_len = SUITES[suite]
        self.rtcp_tag_len = SRTCP_TAG_LEN
        d = lambda label, n: derive_key(master_key, master_salt, label, n)  # noqa: E731
        self.rtp_key, self.rtp_salt = d(LABEL_RTP_ENC, KEY_LEN), d(LABEL_RTP_SALT, SALT_LEN)
        self.rtp_auth_key = d(LABEL_RTP_AUTH, AUTH_KEY_LEN)
        self.rtcp_key, self.rtcp_salt = d(LABEL_RTCP_ENC, KEY_LEN), d(LABEL_RTCP_SALT, SALT_LEN)
        self.rtcp_auth_key = d(LABEL_RTCP_AUTH, AUTH_KEY_LEN)
        self._rtp_mac = hmac.new(self.rtp_auth_key, digestmod=hashlib.sha1)
        self._rtcp_mac = hmac.new(self.rtcp_auth_key, digestmod=hashlib.sha1)
        self._tx, self._rx = {}, {}            # SSRC -> _RtpState
        self._rtcp_tx, self._rtcp_rx = {}, {}  # SSRC -> next SRTCP index / _Window

    @classmethod
    def from_sdes(cls, value):
        """A Context keyed from an a=crypto value (see parse_sdes)."""
        _, suite, key, salt = parse_sdes(value)
        return cls(key, salt, suite)

    def _rtp_tag(self, data, roc, length):
        mac = self._rtp_mac.copy()
        mac.update(data)
        mac.update(struct.pack("!I", roc))
        return mac.digest()[:length]

    def _rtcp_tag(self, data):
        mac = self._rtcp_mac.copy()
        mac.update(data)
        return mac.digest()[:SRTCP_TAG_LEN]

    # ---------------------------------------------------------------- SRTP

    def roc(self, ssrc, sender=True):
        """The current ROC of `ssrc` on the sending (or receiving) side, None if unseen."""
        st = (self._tx if sender else self._rx).get(ssrc)
        return st.roc if st else None

    def protect(self, packet):
        """RTP packet -> SRTP packet: payload encrypted, the tag appended."""
        packet = bytes(packet)
        try:
            hl = _rtp_header_len(packet)
        except AuthError as e:
            raise ValueError(str(e)) from None
        seq, ssrc = struct.unpack("!H", packet[2:4])[0], struct.unpack("!I", packet[8:12])[0]
        st = self._tx.get(ssrc)
        if st is None:
            st = self._tx[ssrc] = _RtpState(seq)
            v = 0
        else:
            v = _estimate_roc(st.roc, st.s_l, seq)
            if (v << 16) + seq > (st.roc << 16) + st.s_l:
                st.roc, st.s_l = v, seq
        index = (v << 16) + seq
        out = packet[:hl] + aes_ctr(self.rtp_key, srtp_iv(self.rtp_salt, ssrc, index),
                                    packet[hl:])
        return out + self._rtp_tag(out, v, self.tag_len)

    def unprotect(self, packet):
        """SRTP packet -> RTP packet. Raises AuthError (bad tag, malformed) or ReplayError;
        the receiver state only moves for a packet that authenticated."""
        packet = bytes(packet)
        hl = _rtp_header_len(packet)
        if len(packet) < hl + self.tag_len:
            raise AuthError("SRTP packet shorter than header + tag")
        seq, ssrc = struct.unpack("!H", packet[2:4])[0], struct.unpack("!I", packet[8:12])[0]
        st = self._rx.get(ssrc)
        v = 0 if st is None else _estimate_roc(st.roc, st.s_l, seq)
        index = (v << 16) + seq
        if st is not None:
            st.window.check(index)
        body, tag = packet[:-self.tag_len], packet[-self.tag_len:]
        if not hmac.compare_digest(self._rtp_tag(body, v, self.tag_len), tag):
            raise AuthError(f"SRTP authentication failed (SSRC {ssrc:#010x}, SEQ {seq}, "
                            f"ROC {v})")
        plain = body[:hl] + aes_ctr(self.rtp_key, srtp_iv(self.rtp_salt, ssrc, index),
                                    body[hl:])
        if st is None:
            self._rx[ssrc] = _RtpState(seq)
        else:
            if index > st.window.highest:
                st.roc, st.s_l = v, seq
            st.window.add(index)
        return plain

    # ---------------------------------------------------------------- SRTCP

    def protect_rtcp(self, packet, encrypt=True, index=None):
        """RTCP (compound) packet -> SRTCP packet: encrypted after the first 8 bytes (unless
        encrypt=False: E flag 0), E||SRTCP index and the 80-bit tag appended. The index
        counts from 0 per sender SSRC; `index` overrides it (tests)."""
        packet = bytes(packet)
        if len(packet) < 8 or packet[0] >> 6 != 2:
            raise ValueError("not an RTCP packet")
        ssrc = struct.unpack("!I", packet[4:8])[0]
        if index is None:
            index = self._rtcp_tx.get(ssrc, 0)
        index &= 0x7FFFFFFF
        self._rtcp_tx[ssrc] = (index + 1) & 0x7FFFFFFF
        body = packet[8:]
        if encrypt:
            body = aes_ctr(self.rtcp_key, srtp_iv(self.rtcp_salt, ssrc, index), body)
        out = packet[:8] + body + struct.pack("!I", (0x80000000 if encrypt else 0) | index)
        return out + self._rtcp_tag(out)

    def unprotect_rtcp(self, packet):
        """SRTCP packet -> RTCP packet. Raises AuthError or ReplayError."""
        packet = bytes(packet)
        if len(packet) < 8 + 4 + SRTCP_TAG_LEN:
            raise AuthError("SRTCP packet too short")
        if packet[0] >> 6 != 2:
            raise AuthError("not an RTCP version 2 packet")
        body, tag = packet[:-SRTCP_TAG_LEN], packet[-SRTCP_TAG_LEN:]
        if not hmac.compare_digest(self._rtcp_tag(body), tag):
            raise AuthError("SRTCP authentication failed")
        ssrc = struct.unpack("!I", packet[4:8])[0]
        e_index = struct.unpack("!I", body[-4:])[0]
        index = e_index & 0x7FFFFFFF
        window = self._rtcp_rx.get(ssrc)
        if window is not None:
            window.check(index)
        payload = body[8:-4]
        if e_index & 0x80000000:
            payload = aes_ctr(self.rtcp_key, srtp_iv(self.rtcp_salt, ssrc, index), payload)
        if window is None:
            self._rtcp_rx[ssrc] = _Window(index)
        else:
            window.add(index)
        return body[:8] + payload


# --------------------------------------------------------------------------- SDES

def parse_sdes(value):
    """An a=crypto value (RFC 4568 9.1), optionally with its "a=crypto:" or "crypto:"
    prefix: "1 AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>[|lifetime] [params]".
    Returns (tag, suite, key, salt). ValueError for an unknown suite, an MKI, a bad key."""
    v = value.strip()
    for prefix in ("a=crypto:", "crypto:"):
        if v.lower().startswith(prefix):
            v = v[len(prefix):]
            break
    parts = v.split()
    if len(parts) < 3:
        raise ValueError(f"malformed crypto attribute {value!r}")
    tag_s, suite, key_params = parts[0], parts[1], parts[2]
    if not tag_s.isdigit() or len(tag_s) > 9:
        raise ValueError(f"bad crypto tag {tag_s!r}")
    if suite not in SUITES:
        raise ValueError(f"unsupported crypto suite {suite!r}")
    first = key_params.split(";")[0]         # several key params: the first one is used
    if not first.startswith("inline:"):
        raise ValueError(f"key method is not inline: {first!r}")
    fields = first[len("inline:"):].split("|")
    for extra in fields[1:]:
        if ":" in extra:
            raise ValueError(f"MKI not supported: {first!r}")
    try:
        material = base64.b64decode(fields[0], validate=True)
    except ValueError:         # binascii.Error is a ValueError
        raise ValueError(f"bad base64 key in {first!r}") from None
    if len(material) != KEY_LEN + SALT_LEN:
        raise ValueError(f"key||salt is {len(material)} bytes, {KEY_LEN + SALT_LEN} expected")
    return int(tag_s), suite, material[:KEY_LEN], material[KEY_LEN:]


def make_sdes(tag=1, suite="AES_CM_128_HMAC_SHA1_80", key=None, salt=None):
    """A fresh a=crypto value (without the "a=crypto:" prefix) with a random master key and
    salt (os.urandom) unless given: returns (value, key, salt)."""
    if suite not in SUITES:
        raise ValueError(f"unsupported suite {suite!r}")
    key = os.urandom(KEY_LEN) if key is None else bytes(key)
    salt = os.urandom(SALT_LEN) if salt is None else bytes(salt)
    if len(key) != KEY_LEN or len(salt) != SALT_LEN:
        raise ValueError(f"master key must be {KEY_LEN} bytes and master salt {SALT_LEN}")
    inline = base64.b64encode(key + salt).decode("ascii")
    return f"{tag} {suite} inline:{inline}", key, salt


# --------------------------------------------------------------------------- self-test

def _rtp(seq, ssrc=0x11223344, payload=b"\xab" * 160, ts=None, pt=0):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF,
                       (seq * 160 if ts is None else ts) & 0xFFFFFFFF, ssrc) + payload


def _expect(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return
    raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")


def _selftest(verbose=True):
    h = bytes.fromhex
    checks = []

    def ok(name):
        checks.append(name)
        if verbose:
            print(f"ok  {name}")

    # RFC 3711 B.2: AES-CM keystream, session key / salt, SSRC 0, index 0.
    ks_key = h("2B7E151628AED2A6ABF7158809CF4F3C")
    iv = srtp_iv(h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"), 0, 0)
    assert iv == h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), iv.hex()
    ks = keystream(ks_key, iv, 0xFF02 * 16)
    for block, want in ((0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"),
                        (0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"),
                        (0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"),
                        (0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4"),
                        (0xFF00, "362B7C3C6773516318A077D7FC5073AE"),
                        (0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44")):
        got = ks[block * 16:block * 16 + 16]
        assert got == h(want), f"B.2 block {block:#06x}: {got.hex()} != {want}"
    ok("RFC 3711 B.2 AES-CM keystream (blocks 0000-0002, FEFF-FF01)")

    # RFC 3711 B.3: key derivation, key_derivation_rate 0.
    mk, ms = h("E1F97A0D3E018BE0D64FA32C06DE4139"), h("0EC675AD498AFEEBB6960B3AABE6")
    assert derive_key(mk, ms, LABEL_RTP_ENC, 16) == h("C61E7A93744F39EE10734AFE3FF7A087")
    assert derive_key(mk, ms, LABEL_RTP_SALT, 14) == h("30CBBC08863D8C85D49DB34A9AE1")
    auth = ("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
            "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
            "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2")
    assert derive_key(mk, ms, LABEL_RTP_AUTH, 94) == h(auth)
    c = Context(mk, ms)
    assert (c.rtp_key, c.rtp_salt, c.rtp_auth_key) == (
        h("C61E7A93744F39EE10734AFE3FF7A087"), h("30CBBC08863D8C85D49DB34A9AE1"),
        h("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    ok("RFC 3711 B.3 key derivation (cipher key, salt, 94 bytes of auth key)")

    # Whole packets under the B.3 master key (libsrtp's srtp_validate known answers):
    # SSRC 0xcafebabe, SEQ 0x1234, ROC 0; SRTCP with E=1, index 1.
    rtp_plain = h("800f1234decafbadcafebabe") + b"\xab" * 16
    srtp_80 = h("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb")
    assert Context(mk, ms).protect(rtp_plain) == srtp_80
    assert Context(mk, ms).unprotect(srtp_80) == rtp_plain
    srtp_32 = srtp_80[:-6]
    assert Context(mk, ms, "AES_CM_128_HMAC_SHA1_32").protect(rtp_plain) == srtp_32
    assert Context(mk, ms, "AES_CM_128_HMAC_SHA1_32").unprotect(srtp_32) == rtp_plain
    rtcp_plain = h("81c8000bcafebabe") + b"\xab" * 16
    srtcp = h("81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798")
    for suite in SUITES:
        assert Context(mk, ms, suite).protect_rtcp(rtcp_plain, index=1) == srtcp
        assert Context(mk, ms, suite).unprotect_rtcp(srtcp) == rtcp_plain
    ok("known-answer SRTP packet (_80 and _32 tags) and SRTCP packet (80-bit tag, both suites)")

    for suite, tag_len in SUITES.items():
        key, salt = os.urandom(16), os.urandom(14)
        tx, rx = Context(key, salt, suite), Context(key, salt, suite)
        # Round trip across a sequence wrap, with one reordered pair.
        seqs = list(range(65530, 65536)) + list(range(0, 6))
        plains = [_rtp(s, payload=os.urandom(160)) for s in seqs]
        wires = [tx.protect(p) for p in plains]
        assert tx.roc(0x11223344) == 1
        for w, p in zip(wires, plains):
            assert len(w) == len(p) + tag_len and w[:12] == p[:12] and w[12:-tag_len] != p[12:]
        order = list(range(len(wires)))
        order[5], order[6] = order[6], order[5]            # 65535 arrives after 0
        order[8], order[9] = order[9], order[8]            # 3 before 2
        for i in order:
            assert rx.unprotect(wires[i]) == plains[i], f"SEQ {seqs[i]}"
        assert rx.roc(0x11223344, sender=False) == 1
        ok(f"{suite}: round trip across SEQ 65535 -> 0 (ROC 0 -> 1, reordering accepted)")

        # The packet after the wrap is keyed and authenticated with ROC 1 (index 65536).
        i0 = seqs.index(0)
        body = plains[i0][:12] + aes_ctr(tx.rtp_key, srtp_iv(tx.rtp_salt, 0x11223344, 1 << 16),
                                         plains[i0][12:])
        want = body + hmac.new(tx.rtp_auth_key, body + b"\0\0\0\1",
                               hashlib.sha1).digest()[:tag_len]
        assert wires[i0] == want
        ok(f"{suite}: SEQ 0 after the wrap uses index 65536 and ROC 1 in the tag")

        # Flipped bits anywhere: AuthError, and the state does not move.
        nxt = tx.protect(_rtp(6))
        for pos in (1, 3, 11, 20, len(nxt) - 1):
            bad = bytearray(nxt)
            bad[pos] ^= 0x01
            _expect(AuthError, rx.unprotect, bytes(bad))
        assert rx.unprotect(nxt) == _rtp(6)
        _expect(AuthError, rx.unprotect, nxt[:12 + tag_len - 1])
        ok(f"{suite}: flipped bits and a truncated packet raise AuthError")

        # Replays, and packets older than the 64-packet window.
        _expect(ReplayError, rx.unprotect, nxt)
        _expect(ReplayError, rx.unprotect, wires[0])
        far = [tx.protect(_rtp(s)) for s in range(7, 80)]
        for w in far[1:]:
            rx.unprotect(w)
        _expect(ReplayError, rx.unprotect, far[0])     # index 7: 72 behind the highest (79)
        assert issubclass(ReplayError, AuthError)
        ok(f"{suite}: replayed and too old packets raise ReplayError (an AuthError)")

        # A receiver keyed differently rejects everything.
        _expect(AuthError, Context(os.urandom(16), salt, suite).unprotect, wires[0])

        # SRTCP: index from 0, E flag, 80-bit tag whatever the suite; E=0 too.
        rr = struct.pack("!BBHI", 0x81, 201, 7, 0x11223344) + os.urandom(24)
        a, b = tx.protect_rtcp(rr), tx.protect_rtcp(rr)
        assert len(a) == len(rr) + 4 + SRTCP_TAG_LEN and a[8:-14] != rr[8:]
        assert a[-14:-10] == b"\x80\0\0\0" and b[-14:-10] == b"\x80\0\0\1"
        plain_e0 = tx.protect_rtcp(rr, encrypt=False)
        assert plain_e0[8:-14] == rr[8:] and plain_e0[-14:-10] == b"\0\0\0\2"
        assert rx.unprotect_rtcp(b) == rr and rx.unprotect_rtcp(a) == rr
        assert rx.unprotect_rtcp(plain_e0) == rr
        _expect(ReplayError, rx.unprotect_rtcp, a)
        bad = bytearray(tx.protect_rtcp(rr))
        bad[10] ^= 0x80
        _expect(AuthError, rx.unprotect_rtcp, bytes(bad))
        ok(f"{suite}: SRTCP round trip (E=1 and E=0, index 0,1,2), tamper and replay rejected")

        # SDES lines.
        value, k2, s2 = make_sdes(tag=3, suite=suite)
        assert parse_sdes(value) == (3, suite, k2, s2)
        assert parse_sdes("a=crypto:" + value + "|2^31") == (3, suite, k2, s2)
        assert parse_sdes("crypto:" + value + " UNENCRYPTED_SRTCP")[2] == k2
        _expect(ValueError, parse_sdes, value + "|2^20|1:4")
        ctx = Context.from_sdes(value)
        assert Context(k2, s2, suite).unprotect(ctx.protect(_rtp(9))) == _rtp(9)
        ok(f"{suite}: make_sdes / parse_sdes (prefix, lifetime, MKI refused)")

    _expect(ValueError, parse_sdes, "1 F8_128_HMAC_SHA1_80 inline:" + "A" * 40)
    _expect(ValueError, parse_sdes, "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD")
    return checks


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        n = len(_selftest())
        print(f"srtp self-test passed ({n} checks)")
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
