"""``MixedWeight``: a weight packed per output channel at mixed bit-widths, and ``pack``.

The layout is defined in ``chord.format``; this class owns the tensors, validates them,
moves them between devices and (de)serializes them through safetensors.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field

import numpy as np
import torch

from . import format as fmt
from . import host_memory
from .codebook import Codebook
from .ops import MAX_DIM, Packed


class FormatError(ValueError):
    """Serialized or packed data that does not describe a valid ``MixedWeight``."""


@dataclass(eq=False)
class MixedWeight:
    """A [N, K] weight, each output row quantized at its own width (see ``chord.format``).

    qweight uint8 [total_bytes]; scales, zeros float32 [N] (packed row order); perm int32 [N]
    (packed row -> original row); codes uint8 [N] (original row order); buckets: flat
    ``[bits, rows, ...]``; codebook: code -> bits and scheme.
    """

    qweight: torch.Tensor
    scales: torch.Tensor
    zeros: torch.Tensor
    perm: torch.Tensor
    codes: torch.Tensor
    buckets: list[int]
    shape: tuple[int, int]
    codebook: Codebook = field(default_factory=Codebook.default)

    # -- facts -------------------------------------------------------------------------
    @property
    def N(self) -> int:
        return self.shape[0]

    @property
    def K(self) -> int:
        return self.shape[1]

    @property
    def device(self) -> torch.device:
        return self.qweight.device

    @property
    def packed(self) -> Packed:
        """The weight as the ``chord::`` ops take it (``chord.ops.Packed``)."""
        return Packed(self.qweight, self.scales, self.zeros, self.perm, self.buckets, self.K)

    def bucket_spans(self) -> list[tuple[int, int, int, int]]:
        """``[(bits, row_start, rows, byte_offset), ...]``"""
        return fmt.bucket_spans(self.buckets, self.K)

    @property
    def nbytes(self) -> int:
        """Bytes held: packed integers + per-row scale/zero + permutation (codes excluded:
        the device needs them only to pack)."""
        return sum(t.numel() * t.element_size() for t in (self.qweight, self.scales, self.zeros, self.perm))

    @property
    def avg_bits(self) -> float:
        """Average bits per weight element implied by the codes (excluding padding/scales)."""
        n_el = sum(n * b for b, _, n, _ in self.bucket_spans())
        return n_el / max(1, self.N)

    @property
    def bits_per_row(self) -> torch.Tensor:
        """int64 [N]: width of each original row."""
        lut = torch.tensor(self.codebook.bits, dtype=torch.int64)
        return lut[self.codes.cpu().long()]

    # -- meaning -----------------------------------------------------------------------
    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The float [N, K] weight this packs (the reference meaning of every kernel)."""
        from .backends.reference import dequantize_packed

        return dequantize_packed(self.packed, dtype=dtype)

    # -- movement ----------------------------------------------------------------------
    def to(self, device: torch.device | str) -> MixedWeight:
        device = torch.device(device)
        if device == self.device:
            return self
        q = self.qweight.to(device)
        return MixedWeight(
            host_memory.to_hugepages(q) if device.type == "cpu" and q.dtype == torch.uint8 else q,
            self.scales.to(device),
            self.zeros.to(device),
            self.perm.to(device),
            self.codes.to(device),
            list(self.buckets),
            self.shape,
            self.codebook,
        )

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "qweight": self.qweight,
            "scales": self.scales,
            "zeros": self.zeros,
            "perm": self.perm,
            "codes": self.codes,
        }

    def metadata(self) -> dict[str, str]:
        return {
            "format": "chord.MixedWeight",
            "format_version": str(fmt.FORMAT_VERSION),
            "shape": json.dumps(list(self.shape)),
            "buckets": json.dumps(list(self.buckets)),
            "codebook": json.dumps(self.codebook.to_dict()),
        }

    # -- serialization -----------------------------------------------------------------
    def to_bytes(self) -> bytes:
        from safetensors.torch import save

        return save({k: v.contiguous().cpu() for k, v in self.tensors().items()}, metadata=self.metadata())

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes())

    @staticmethod
    def from_bytes(data: bytes, device: torch.device | str = "cpu") -> MixedWeight:
        from safetensors import SafetensorError
        from safetensors.torch import load

        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"MixedWeight.from_bytes: expected bytes, got {type(data).__name__}")
        data = bytes(data)
        try:
            tensors = load(data)
            meta = _read_metadata(data)
        except (SafetensorError, ValueError, KeyError, OverflowError, UnicodeDecodeError) as e:
            raise FormatError(f"MixedWeight.from_bytes: corrupt or truncated safetensors data ({e})") from e
        return MixedWeight.from_parts(tensors, meta).to(device)

    @staticmethod
    def load(path: str | os.PathLike, device: torch.device | str = "cpu") -> MixedWeight:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # /dev/zero would read forever
                raise FormatError(f"MixedWeight.load: {path}: not a regular file")
            try:
                return MixedWeight.from_bytes(f.read(), device)
            except FormatError as e:
                raise FormatError(f"MixedWeight.load: {path}: {e}") from e

    @staticmethod
    def from_parts(tensors: dict, meta: dict) -> MixedWeight:
        """Rebuild from a tensor dict + string metadata, validating everything."""
        if meta.get("format") != "chord.MixedWeight":
            raise FormatError(f"MixedWeight: not a chord.MixedWeight (format={meta.get('format')!r})")
        ver = meta.get("format_version")
        if ver != str(fmt.FORMAT_VERSION):
            raise FormatError(
                f"MixedWeight: format version {ver!r} is not supported (this build reads {fmt.FORMAT_VERSION})"
            )
        try:
            shape = tuple(int(v) for v in json.loads(meta["shape"]))
            buckets = [int(v) for v in json.loads(meta["buckets"])]
            codebook = Codebook.from_dict(json.loads(meta["codebook"]))
            parts = {k: tensors[k] for k in ("qweight", "scales", "zeros", "perm", "codes")}
        except (KeyError, ValueError, TypeError) as e:
            raise FormatError(f"MixedWeight: malformed metadata or missing tensor ({e})") from e
        if len(shape) != 2:
            raise FormatError(f"MixedWeight: shape must be [N, K], got {shape}")
        mw = MixedWeight(**parts, buckets=buckets, shape=shape, codebook=codebook)
        mw.validate()
        if mw.qweight.device.type == "cpu":  # as chord.pack places it (host_memory: why)
            mw.qweight = host_memory.to_hugepages(mw.qweight)
        return mw

    def validate(self) -> None:
        """Raise FormatError unless every tensor agrees with the shape, buckets and codes."""
        if not (
            isinstance(self.shape, tuple)
            and len(self.shape) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in self.shape)
        ):
            raise FormatError(f"MixedWeight.shape: expected a tuple (N, K) of ints, got {self.shape!r}")
        N, K = self.shape
        if not (1 <= N <= MAX_DIM and 1 <= K <= MAX_DIM):
            raise FormatError(f"MixedWeight.shape: expected 1 <= N, K <= {MAX_DIM}, got {self.shape}")
        want = {
            "qweight": torch.uint8,
            "scales": torch.float32,
            "zeros": torch.float32,
            "perm": torch.int32,
            "codes": torch.uint8,
        }
        for name, dt in want.items():
            t = getattr(self, name)
            if t.dtype != dt or t.dim() != 1:
                raise FormatError(f"MixedWeight.{name}: expected 1-D {dt}, got {t.dim()}-D {t.dtype}")
        for name in ("scales", "zeros", "perm", "codes"):
            if getattr(self, name).numel() != N:
                raise FormatError(f"MixedWeight.{name}: expected {N} entries, got {getattr(self, name).numel()}")
        try:
            spans = fmt.bucket_spans(self.buckets, K)
        except ValueError as e:
            raise FormatError(f"MixedWeight.buckets: {e}") from e
        if sum(n for _, _, n, _ in spans) != N:  # widths and row counts: checked by bucket_spans
            raise FormatError(f"MixedWeight.buckets: {self.buckets} does not cover {N} rows")
        if self.qweight.numel() != fmt.total_bytes(self.buckets, K):
            raise FormatError(
                f"MixedWeight.qweight: expected {fmt.total_bytes(self.buckets, K)} bytes, got {self.qweight.numel()}"
            )
        perm = self.perm.cpu().long()
        if not torch.equal(torch.sort(perm).values, torch.arange(N)):
            raise FormatError("MixedWeight.perm: not a permutation of 0..N-1")
        codes = self.codes.cpu().long()
        if codes.numel() and int(codes.max()) >= len(self.codebook.bits):
            raise FormatError(f"MixedWeight.codes: values must be < {len(self.codebook.bits)}")
        bits = torch.tensor(self.codebook.bits)[codes]
        for b, start, n, _ in spans:
            if n and not bool((bits[perm[start : start + n]] == b).all()):
                raise FormatError(f"MixedWeight: rows of the {b}-bit bucket do not have {b}-bit codes")
        if not (torch.isfinite(self.scales).all() and torch.isfinite(self.zeros).all()):
            raise FormatError("MixedWeight: non-finite scales or zeros")

    def __repr__(self) -> str:
        mix = ", ".join(f"{b}b:{n}" for b, _, n, _ in self.bucket_spans())
        return (
            f"MixedWeight(shape={self.shape}, buckets=[{mix}], avg_bits={self.avg_bits:.3f}, "
            f"nbytes={self.nbytes}, scheme={self.codebook.scheme}, device={self.device})"
        )


def _read_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ValueError("header length out of range")
    return json.loads(data[8 : 8 + n].decode("utf-8")).get("__metadata__", {}) or {}


# ---------------------------------------------------------------------------------------
def check_codes(codes: torch.Tensor, N: int, codebook: Codebook, name: str = "codes") -> torch.Tensor:
    """Validate per-channel codes; return them as uint8 [N] on CPU."""
    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(codes).__name__}")
    if codes.dtype in (torch.bool,) or codes.dtype.is_floating_point or codes.dtype.is_complex:
        raise TypeError(f"{name}: expected an integer dtype (uint8), got {codes.dtype}")
    if codes.dim() != 1 or codes.numel() != N:
        raise ValueError(f"{name}: expected shape [{N}] (one code per output channel), got {list(codes.shape)}")
    # numpy, single-threaded (see plan_buckets)
    c = codes.detach().cpu().numpy().astype(np.int64)
    if N and (int(c.min()) < 0 or int(c.max()) >= len(codebook.bits)):
        raise ValueError(
            f"{name}: values must be in 0..{len(codebook.bits) - 1}, got range [{int(c.min())}, {int(c.max())}]"
        )
    return torch.from_numpy(c.astype(np.uint8))


def plan_buckets(codes: torch.Tensor, codebook: Codebook) -> tuple[torch.Tensor, list[int]]:
    """codes uint8 [N] -> (perm int32 [N], buckets flat list) in ``format.BUCKET_ORDER``.

    In numpy (single-threaded): torch ops on a 100k-row table run torch's OpenMP pool, which
    beside a busy core made model adaptation slower at 2 threads than at 1
    (reports/2026-12-06-one-core.md)."""
    bits = np.asarray(codebook.bits, dtype=np.int64)[codes.detach().cpu().numpy().astype(np.int64)]
    perm, buckets = [], []
    for b in fmt.BUCKET_ORDER:
        rows = np.flatnonzero(bits == b)  # ascending: stable inside the bucket
        if rows.size:
            perm.append(rows)
            buckets += [b, int(rows.size)]
    perm = np.concatenate(perm) if perm else np.empty(0, dtype=np.int64)
    return torch.from_numpy(perm.astype(np.int32)), buckets
