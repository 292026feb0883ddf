"""``Strategy``: one 2-bit code per output channel of every quantizable layer, and its wire codec.

This is what the cloud sends and the device decodes (docs/method.md §4-5). The codes mean
bit-widths through a :class:`~chord.codebook.Codebook` (default 0 = pruned, 1 = 2-bit,
2 = 4-bit, 3 = 8-bit); a device may remap widths before packing (:meth:`Strategy.remap`).

Wire format (little-endian), version ``WIRE_VERSION``::

    offset  size  field
    0       4     magic  b"CHST"
    4       1     wire format version (1)
    5       1     flags: bit 0 = layer names omitted ("compact"; the receiver supplies them)
    6       4     codebook widths, one byte per code
    10      1     codebook scheme (0 = sym, 1 = asym)
    11      8     model fingerprint (:func:`model_fingerprint`)
    19      2     number of layers L
    21      ...   L x [u16 name length + UTF-8 name (absent if compact), u32 channels C_l]
    ...     ceil(2*C/8)  codes of all layers concatenated (C = sum C_l), 4 per byte, code i in
                  bits [2*(i%4), 2*(i%4)+2) of byte i//4; unused high bits must be 0
    end-4   4     CRC32 (zlib) of every preceding byte

Anything that is not exactly this -- truncated, extended, bit-flipped, another version, or
meant for another model -- raises :class:`StrategyError` (a :class:`~chord.FormatError`).
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Collection, Mapping

import numpy as np
import torch
from torch import nn

from .. import format as fmt
from ..codebook import SCHEMES, Codebook
from ..mixed_weight import FormatError, check_codes
from .layers import Layers, channel_sizes, quantizable_layers

MAGIC = b"CHST"
WIRE_VERSION = 1
FINGERPRINT_BYTES = 8
_FLAG_COMPACT = 1
_HEAD = struct.Struct("<4sBB4sB8sH")  # magic, version, flags, codebook bits, scheme, fingerprint, L
_CRC = struct.Struct("<I")


class StrategyError(FormatError):
    """Strategy bytes that are corrupt, truncated, of another version or for another model."""


def model_fingerprint(layers: Layers) -> bytes:
    """8-byte digest of a model's quantizable structure: every layer's name, channel count and
    elements per channel, in order (weights are not hashed: every device holds the same frozen
    backbone, the fingerprint only guards against decoding codes for another architecture).

    ``layers``: a model (all its Linear/Conv2d/Embedding layers, embeddings included), a
    ``{name: LayerInfo}`` mapping or a ``{name: (channels, elems)}`` mapping.
    """
    if isinstance(layers, nn.Module):
        layers = quantizable_layers(layers, embeddings=True)
    h = hashlib.blake2b(digest_size=FINGERPRINT_BYTES, person=b"chord-model-v1")
    for name, (c, k) in channel_sizes(layers).items():
        h.update(f"{name}\0{c}\0{k}\n".encode())
    return h.digest()


def _as_fingerprint(fp) -> bytes:
    if isinstance(fp, (bytes, bytearray)):
        if len(fp) != FINGERPRINT_BYTES:
            raise ValueError(f"fingerprint: expected {FINGERPRINT_BYTES} bytes, got {len(fp)}")
        return bytes(fp)
    return model_fingerprint(fp)


class Strategy:
    """Per-layer codes: ``codes[name]`` is uint8 [C_name] (CPU), values in 0..3.

    ``codebook`` maps codes to widths. Layer order is the insertion order of ``codes``
    (use :func:`chord.quantize.layers.quantizable_layers` order).
    """

    def __init__(self, codes: Mapping[str, torch.Tensor], codebook: Codebook | None = None):
        codebook = codebook or Codebook.default()
        if not isinstance(codebook, Codebook):
            raise TypeError(f"codebook: expected chord.Codebook, got {type(codebook).__name__}")
        if not isinstance(codes, Mapping):
            raise TypeError(f"codes: expected a mapping name -> uint8 tensor [C], got {type(codes).__name__}")
        self.codebook = codebook
        self.codes: dict[str, torch.Tensor] = {}
        for name, c in codes.items():
            if not isinstance(name, str) or not name.isprintable() or len(name.encode()) > 0xFFFF:
                raise ValueError(f"codes: layer name must be a printable str under 64 KiB, got {name!r}")
            n = c.numel() if isinstance(c, torch.Tensor) else -1
            if n < 1:
                raise ValueError(f"codes[{name!r}]: expected a non-empty 1-D tensor, got {c!r}")
            self.codes[name] = check_codes(c, n, codebook, name=f"codes[{name!r}]")

    # -- facts ---------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return list(self.codes)

    @property
    def channels(self) -> dict[str, int]:
        return {n: int(c.numel()) for n, c in self.codes.items()}

    @property
    def num_channels(self) -> int:
        return sum(self.channels.values())

    def bits(self, name: str) -> torch.Tensor:
        """int64 [C]: the width of each channel of layer ``name``."""
        return torch.from_numpy(self._bits_np(name))

    def _bits_np(self, name: str) -> np.ndarray:
        # numpy, single-threaded, reductions included: torch ops on a 100k-channel table would run
        # torch's OpenMP pool (slow beside a busy core; DeviceModel.apply calls avg_bits for its stats)
        return np.asarray(self.codebook.bits, dtype=np.int64)[self.codes[name].detach().cpu().numpy()]

    def _sizes(self, layers) -> dict[str, tuple[int, int]]:
        if isinstance(layers, nn.Module):  # a model: its tables may carry codes too
            layers = quantizable_layers(layers, embeddings=True)
        sizes = channel_sizes(layers)
        for name, c in self.channels.items():
            if name not in sizes:
                raise KeyError(f"layers: no layer named {name!r} (the strategy has codes for it)")
            if sizes[name][0] != c:
                raise ValueError(f"layers[{name!r}]: has {sizes[name][0]} channels, the strategy {c}")
        return sizes

    def avg_bits(self, layers: Layers) -> float:
        """Average bits per weight element over the strategy's layers, weighted by channel size
        (elements per channel). ``layers``: model, {name: LayerInfo} or {name: (C, K)}."""
        sizes = self._sizes(layers)
        num = sum(int(self._bits_np(n).sum()) * sizes[n][1] for n in self.codes)
        den = sum(c * sizes[n][1] for n, c in self.channels.items())
        return num / den

    def bytes_implied(self, layers: Layers, *, metadata: bool = True) -> int:
        """Bytes of the packed weights this strategy implies (``MixedWeight.nbytes`` summed):
        packed integers (rows padded per ``chord.format``) plus, with ``metadata``, float32
        scale + zero and int32 permutation entry per channel."""
        sizes = self._sizes(layers)
        total = 0
        for n in self.codes:
            K = sizes[n][1]
            total += sum(fmt.row_bytes(K, int(b)) for b in self._bits_np(n).tolist())
            if metadata:
                total += 12 * self.channels[n]
        return total

    @staticmethod
    def fp32_bytes(layers: Layers, names: Collection[str] | None = None) -> int:
        sizes = channel_sizes(layers)
        return sum(4 * c * k for n, (c, k) in sizes.items() if names is None or n in names)

    # -- device-side decode ----------------------------------------------------------------
    def remap(self, mapping: Mapping[int, int] | Codebook) -> Strategy:
        """The same codes under a device's remapped codebook (e.g. ``{8: 4}`` on a weak device),
        or under an explicit ``Codebook``."""
        cb = mapping if isinstance(mapping, Codebook) else self.codebook.remap(mapping)
        return Strategy(self.codes, cb)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def uniform(cls, layers: Layers, bits: int, codebook: Codebook | None = None) -> Strategy:
        """Every channel of every layer at ``bits`` (must be a width of the codebook)."""
        codebook = codebook or Codebook.default()
        if bits not in codebook.bits:
            raise ValueError(f"bits: expected one of the codebook's widths {codebook.bits}, got {bits!r}")
        code = codebook.bits.index(bits)
        return cls(
            {n: torch.full((c,), code, dtype=torch.uint8) for n, (c, _) in channel_sizes(layers).items()}, codebook
        )

    @classmethod
    def random(
        cls, layers: Layers, avg_bits: float = 3.0, *, seed: int = 0, codebook: Codebook | None = None
    ) -> Strategy:
        """Random codes meeting an average-bit budget (weighted by channel size).

        Code frequencies are the maximum-entropy distribution over the codebook's widths with
        mean ``avg_bits``; channels are ranked at random globally and cut into tiers by element
        share, so the budget holds to within one channel.
        """
        codebook = codebook or Codebook.default()
        widths = sorted(set(codebook.bits))
        if not widths[0] <= avg_bits <= widths[-1]:
            raise ValueError(
                f"avg_bits: expected within the codebook's widths [{widths[0]}, {widths[-1]}], got {avg_bits}"
            )
        probs = _maxent(widths, float(avg_bits))
        sizes = channel_sizes(layers)
        names = list(sizes)
        owner = torch.cat([torch.full((c,), i, dtype=torch.int64) for i, (c, _) in enumerate(sizes.values())])
        elems = torch.tensor([sizes[names[i]][1] for i in owner.tolist()], dtype=torch.float64)
        g = torch.Generator().manual_seed(int(seed))
        order = torch.randperm(owner.numel(), generator=g)
        share = torch.cumsum(elems[order], 0) / elems.sum()
        mids = share - elems[order] / elems.sum() / 2  # tier by a channel's midpoint share
        bounds = torch.cumsum(torch.tensor([probs[w] for w in reversed(widths)], dtype=torch.float64), 0)
        tier = torch.bucketize(mids, bounds).clamp(max=len(widths) - 1)
        width_of_tier = torch.tensor(list(reversed(widths)))
        flat = torch.empty(owner.numel(), dtype=torch.uint8)
        code_of_width = {w: codebook.bits.index(w) for w in widths}
        flat[order] = torch.tensor([code_of_width[w] for w in width_of_tier[tier].tolist()], dtype=torch.uint8)
        out, start = {}, 0
        for n, (c, _) in sizes.items():
            out[n] = flat[start : start + c].clone()
            start += c
        return cls(out, codebook)

    # -- wire codec ------------------------------------------------------------------------
    @staticmethod
    def wire_size(layers: Layers, *, names: bool = True) -> int:
        """Bytes of :meth:`to_bytes` for these layers: header + ceil(2*C/8) + CRC."""
        sizes = channel_sizes(layers)
        per = sum((2 + len(n.encode()) if names else 0) + 4 for n in sizes)
        return _HEAD.size + per + math.ceil(2 * sum(c for c, _ in sizes.values()) / 8) + _CRC.size

    def to_bytes(self, fingerprint: bytes | Layers, *, names: bool = True) -> bytes:
        """Serialize. ``fingerprint``: 8 bytes from :func:`model_fingerprint`, or the model /
        layer mapping to compute it from. ``names=False`` omits layer names (the receiver must
        pass ``layer_infos`` to :meth:`from_bytes`)."""
        fp = _as_fingerprint(fingerprint)
        if len(self.codes) > 0xFFFF:
            raise ValueError(f"codes: at most 65535 layers, got {len(self.codes)}")
        out = bytearray(
            _HEAD.pack(
                MAGIC,
                WIRE_VERSION,
                0 if names else _FLAG_COMPACT,
                bytes(self.codebook.bits),
                SCHEMES.index(self.codebook.scheme),
                fp,
                len(self.codes),
            )
        )
        for n, c in self.codes.items():
            if names:
                nb = n.encode()
                out += struct.pack("<H", len(nb)) + nb
            out += struct.pack("<I", c.numel())
        out += _pack2(torch.cat(list(self.codes.values())) if self.codes else torch.empty(0, dtype=torch.uint8))
        out += _CRC.pack(zlib.crc32(out))
        return bytes(out)

    @classmethod
    def from_bytes(
        cls, data: bytes, expected_fingerprint: bytes | Layers | None = None, layer_infos: Layers | None = None
    ) -> Strategy:
        """Decode and validate. ``expected_fingerprint`` (bytes, or a model / layer mapping):
        reject bytes made for another model. ``layer_infos`` (model or mapping): check that
        every layer exists with the same channel count (and supplies names for compact bytes).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEAD.size + _CRC.size:
            raise StrategyError(
                f"Strategy.from_bytes: truncated: {len(data)} bytes, the header alone takes {_HEAD.size + _CRC.size}"
            )
        magic, ver, flags, cb_bits, scheme, fp, L = _HEAD.unpack_from(data)
        if magic != MAGIC:
            raise StrategyError(f"Strategy.from_bytes: not a chord strategy (magic {magic!r}, expected {MAGIC!r})")
        if ver != WIRE_VERSION:
            raise StrategyError(
                f"Strategy.from_bytes: wire format version {ver} is not supported (this build reads {WIRE_VERSION})"
            )
        body, (crc,) = data[: -_CRC.size], _CRC.unpack_from(data, len(data) - _CRC.size)
        if zlib.crc32(body) != crc:
            raise StrategyError("Strategy.from_bytes: CRC32 mismatch: the bytes are corrupt or truncated")
        if flags & ~_FLAG_COMPACT:
            raise StrategyError(f"Strategy.from_bytes: unknown flags 0x{flags:02x}")
        if scheme >= len(SCHEMES):
            raise StrategyError(f"Strategy.from_bytes: unknown quantization scheme id {scheme}")
        try:
            codebook = Codebook(tuple(cb_bits), SCHEMES[scheme])
        except ValueError as e:
            raise StrategyError(f"Strategy.from_bytes: invalid codebook ({e})") from e
        compact = bool(flags & _FLAG_COMPACT)
        known = None
        if layer_infos is not None:
            known = channel_sizes(layer_infos)
            if isinstance(layer_infos, nn.Module) and len(known) != L:  # a model: maybe with its tables
                known = channel_sizes(quantizable_layers(layer_infos, embeddings=True))
        if compact and known is None:
            raise StrategyError("Strategy.from_bytes: compact bytes carry no layer names; pass layer_infos")
        if compact and len(known) != L:
            raise StrategyError(f"Strategy.from_bytes: bytes hold {L} layers, layer_infos {len(known)}")
        pos, names, chans = _HEAD.size, [], []
        known_names = list(known) if known is not None else None
        try:
            for i in range(L):
                if compact:
                    name = known_names[i]
                else:
                    (nlen,) = struct.unpack_from("<H", body, pos)
                    name = body[pos + 2 : pos + 2 + nlen].decode("utf-8")
                    if len(name.encode()) != nlen:
                        raise StrategyError("Strategy.from_bytes: truncated layer name")
                    pos += 2 + nlen
                (c,) = struct.unpack_from("<I", body, pos)
                pos += 4
                names.append(name)
                chans.append(c)
        except (struct.error, UnicodeDecodeError) as e:
            raise StrategyError(f"Strategy.from_bytes: malformed layer table ({e})") from e
        if len(set(names)) != len(names):
            raise StrategyError("Strategy.from_bytes: duplicate layer names")
        if any(c == 0 for c in chans):
            raise StrategyError("Strategy.from_bytes: a layer with 0 channels")
        C = sum(chans)
        need = math.ceil(2 * C / 8)
        if len(body) - pos != need:
            raise StrategyError(
                f"Strategy.from_bytes: expected {need} code bytes for {C} channels, got {len(body) - pos}"
            )
        flat = _unpack2(body[pos:], C)
        if flat is None:
            raise StrategyError("Strategy.from_bytes: non-zero padding bits after the last code")
        if expected_fingerprint is not None:
            want = _as_fingerprint(expected_fingerprint)
            if fp != want:
                raise StrategyError(
                    f"Strategy.from_bytes: made for another model (fingerprint {fp.hex()}, "
                    f"this model's is {want.hex()})"
                )
        codes, start = {}, 0
        for n, c in zip(names, chans):
            codes[n] = flat[start : start + c].clone()
            start += c
        try:
            s = cls(codes, codebook)
        except (ValueError, TypeError) as e:
            raise StrategyError(f"Strategy.from_bytes: {e}") from e
        if known is not None:
            try:
                s._sizes(known)
            except (KeyError, ValueError) as e:
                raise StrategyError(f"Strategy.from_bytes: does not fit this model: {e}") from e
        return s

    # -- misc ------------------------------------------------------------------------------
    def __eq__(self, other) -> bool:
        if not isinstance(other, Strategy):
            return NotImplemented
        return (
            self.codebook == other.codebook
            and list(self.codes) == list(other.codes)
            and all(torch.equal(self.codes[n], other.codes[n]) for n in self.codes)
        )

    __hash__ = None

    def __repr__(self) -> str:
        hist = torch.bincount(torch.cat(list(self.codes.values())).long(), minlength=4).tolist() if self.codes else []
        return (
            f"Strategy(layers={len(self.codes)}, channels={self.num_channels}, "
            f"codebook={self.codebook.bits}/{self.codebook.scheme}, code_counts={hist})"
        )


def _pack2(codes: torch.Tensor) -> bytes:
    c = codes.to(torch.int32)
    pad = (-c.numel()) % 4
    if pad:
        c = torch.cat([c, torch.zeros(pad, dtype=torch.int32)])
    c = c.view(-1, 4)
    b = c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)
    return b.to(torch.uint8).numpy().tobytes()


def _unpack2(data: bytes, n: int) -> torch.Tensor | None:
    if not data:
        return torch.empty(0, dtype=torch.uint8) if n == 0 else None
    b = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(torch.int32)
    c = torch.stack([(b >> s) & 3 for s in (0, 2, 4, 6)], 1).reshape(-1)
    if bool(c[n:].any()):
        return None
    return c[:n].to(torch.uint8)


def _maxent(widths: list[int], mean: float) -> dict[int, float]:
    """p(w) proportional to exp(lam * w) with sum p(w) * w = mean (bisection on lam)."""
    w = torch.tensor(widths, dtype=torch.float64)
    if mean <= w.min():
        return {x: float(x == widths[0]) for x in widths}
    if mean >= w.max():
        return {x: float(x == widths[-1]) for x in widths}
    lo, hi = -50.0, 50.0
    for _ in range(200):
        lam = (lo + hi) / 2
        p = torch.softmax(lam * w, 0)
        if float((p * w).sum()) < mean:
            lo = lam
        else:
            hi = lam
    p = torch.softmax((lo + hi) / 2 * w, 0)
    return {x: float(pi) for x, pi in zip(widths, p)}
