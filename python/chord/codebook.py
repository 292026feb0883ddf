"""Codebook: what each 2-bit per-channel code means on this device.

The cloud sends one code in 0..3 per output channel; the codebook maps a code to a bit-width
(0 = pruned). A device may remap widths before packing ("decode according to its own resource
budget", docs/method.md §5), e.g. a weak device maps 8 -> 4 bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: bit-widths the packed format and every kernel support (divisors of 8, plus 0 = pruned)
SUPPORTED_BITS = (0, 1, 2, 4, 8)
#: quantization schemes: symmetric round-to-nearest (docs/method.md default) or asymmetric (zero point)
SCHEMES = ("sym", "asym")
NUM_CODES = 4


@dataclass(frozen=True)
class Codebook:
    """code -> bits, plus the quantization scheme. Immutable and hashable."""

    bits: tuple[int, ...] = (0, 2, 4, 8)
    scheme: str = "sym"

    def __post_init__(self):
        bits = tuple(self.bits)
        if len(bits) != NUM_CODES:
            raise ValueError(
                f"Codebook.bits: expected {NUM_CODES} entries (one per 2-bit code), got {len(bits)}: {bits}"
            )
        for c, b in enumerate(bits):
            if not isinstance(b, int) or isinstance(b, bool) or b not in SUPPORTED_BITS:
                raise ValueError(f"Codebook.bits[{c}]: expected one of {SUPPORTED_BITS}, got {b!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"Codebook.scheme: expected one of {SCHEMES}, got {self.scheme!r}")
        object.__setattr__(self, "bits", bits)

    @staticmethod
    def default() -> Codebook:
        """{0: pruned, 1: 2-bit, 2: 4-bit, 3: 8-bit}, symmetric (docs/method.md)."""
        return Codebook()

    def __getitem__(self, code: int) -> int:
        return self.bits[code]

    def remap(self, mapping: Mapping[int, int]) -> Codebook:
        """A device-side budget remap of widths, e.g. ``{8: 4}`` on a weak device."""
        for src, dst in mapping.items():
            if src not in SUPPORTED_BITS or dst not in SUPPORTED_BITS:
                raise ValueError(f"Codebook.remap: widths must be in {SUPPORTED_BITS}, got {src}->{dst}")
        return Codebook(tuple(mapping.get(b, b) for b in self.bits), self.scheme)

    def to_dict(self) -> dict:
        return {"bits": list(self.bits), "scheme": self.scheme}

    @staticmethod
    def from_dict(d: Mapping) -> Codebook:
        try:
            return Codebook(tuple(int(b) for b in d["bits"]), str(d["scheme"]))
        except (KeyError, TypeError) as e:
            raise ValueError(f"Codebook.from_dict: malformed codebook {d!r}") from e
