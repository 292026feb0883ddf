"""What a benchmark run covers: suites, shape and bit-mix grids, threads, device, timing.

Grids come from the command line or a TOML file (see ``benchmarks/grids/*.toml``)::

    suites  = ["kernels", "scoring"]
    threads = [1, 2]
    [kernels]
    shapes = ["1x4096x4096", "16x4096x4096"]    # M x K x N
    mixes  = ["mix3", "u4", "2:0.5,8:0.5"]       # named, or bits:fraction lists
    paths  = ["exact", "act8"]                   # fp32 activations / act_bits=8
    [scoring]
    rows = 100000
    dim  = 64
    batch = [1]
    topk = 10
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import torch

from ..codebook import Codebook
from . import rotation
from .timing import TimingPolicy

SUITES = ("kernels", "scoring", "adaptation", "e2e")
PATHS = {"exact": 0, "act8": 8}
#: where the ggml peer's weights live: ggml's own allocation, or 2 MiB pages (chord.host_memory)
PEER_PAGES = ("own", "2m")

#: named bit mixes: {bits: fraction of output channels}
NAMED_MIXES: dict[str, dict[int, float]] = {
    "mix3": {2: 0.75, 4: 0.125, 8: 0.125},  # 3.0 average bits (the paper's default budget)
    "u2": {2: 1.0},
    "u4": {4: 1.0},
    "u8": {8: 1.0},
}


def parse_mix(spec: str) -> tuple[str, dict[int, float]]:
    """``"mix3"`` or ``"2:0.75,4:0.125,8:0.125"`` -> (label, {bits: fraction})."""
    spec = spec.strip()
    if spec in NAMED_MIXES:
        return spec, dict(NAMED_MIXES[spec])
    mix: dict[int, float] = {}
    try:
        for part in spec.split(","):
            b, f = part.split(":")
            mix[int(b)] = mix.get(int(b), 0.0) + float(f)
    except ValueError:
        raise ValueError(f"mix: expected a name {sorted(NAMED_MIXES)} or 'bits:fraction,...', got {spec!r}") from None
    allowed = {b for b in Codebook.default().bits}
    if any(b not in allowed for b in mix) or any(f < 0 for f in mix.values()):
        raise ValueError(f"mix: widths must be in {sorted(allowed)} with fractions >= 0, got {spec!r}")
    if abs(sum(mix.values()) - 1.0) > 1e-6:
        raise ValueError(f"mix: fractions must sum to 1, got {sum(mix.values())} in {spec!r}")
    return spec.replace(":", "b").replace(",", "-"), mix


def mix_codes(mix: dict[int, float], N: int, seed: int = 0, codebook: Codebook | None = None) -> torch.Tensor:
    """uint8 [N] codes realizing ``mix`` as exactly as N allows, channels shuffled (seeded):
    real strategies scatter widths across rows, and kernels must not see them sorted."""
    cb = codebook or Codebook.default()
    code_of = {b: cb.bits.index(b) for b in mix}
    widths = sorted(mix, reverse=True)
    counts = [int(round(mix[b] * N)) for b in widths]
    counts[-1] = N - sum(counts[:-1])
    codes = torch.cat([torch.full((c,), code_of[b], dtype=torch.uint8) for b, c in zip(widths, counts)])
    g = torch.Generator().manual_seed(seed)
    return codes[torch.randperm(N, generator=g)]


def avg_bits(mix: dict[int, float]) -> float:
    return sum(b * f for b, f in mix.items())


def parse_shape(spec: str, dims: int = 3) -> tuple[int, ...]:
    """``"1x4096x4096"`` (M x K x N) -> (1, 4096, 4096); ``dims=2`` for ``"KxN"``."""
    try:
        out = tuple(int(v) for v in spec.lower().split("x"))
    except ValueError:
        out = ()
    if len(out) != dims or any(v < 1 for v in out):
        want = "MxKxN" if dims == 3 else "KxN"
        raise ValueError(f"shape: expected {want} with positive integers, got {spec!r}")
    return out


@dataclass
class BenchConfig:
    suites: tuple[str, ...] = ("kernels", "scoring", "adaptation", "e2e")
    threads: tuple[int, ...] = (1, 2)
    device: str = "cpu"
    shapes: tuple[str, ...] = ("1x4096x4096", "16x4096x4096", "256x4096x4096", "1x8192x8192")
    mixes: tuple[str, ...] = ("mix3", "u4", "u8")
    paths: tuple[str, ...] = ("exact", "act8")
    baselines: tuple[str, ...] = ("torch_fp32", "torch_dynamic_int8", "aten_int8pack_mm", "aten_int4pack_mm")
    peers: tuple[str, ...] = ()
    peer_pages: tuple[str, ...] = ("own", "2m")  # ggml weights: its own allocation, 2 MiB pages
    scoring_rows: int = 100_000
    scoring_dim: int = 64
    scoring_batch: tuple[int, ...] = (1,)
    topk: int = 10
    adaptation_shapes: tuple[str, ...] = ("4096x4096",)
    e2e_models: tuple[str, ...] = ("sasrec", "caser")
    e2e_mixes: tuple[str, ...] = ("mix3",)
    e2e_batch: int = 1
    rotate_factor: float = 2.0  # rotate weight sets totalling >= factor x last-level cache
    max_sets: int = 32
    # The kernels suite (the weight-streaming GEMV / GEMM cases) rotates more: >= max(kernel_rotate_mb
    # MiB, kernel_rotate_factor x last-level cache), up to kernel_max_sets copies. 2 x L3 (64 MB)
    # left part of the weights cached on this project's 32 MiB AMD L3, flattering every M = 1
    # figure (reports/2026-12-06-gemv-roof.md, reports/2026-12-06-gemv-2.md).
    kernel_rotate_factor: float = rotation.KERNEL_FACTOR
    kernel_rotate_mb: int = rotation.KERNEL_MIN_MB
    kernel_max_sets: int = 256
    seed: int = 0
    stat: str = "median"  # statistic of the rounds ratios / GB/s use: median, or min on a busy machine
    contend: int = 0  # busy-loop processes pinned beside the run (chord.bench.contend)
    # Alternate the thread counts round by round, one implementation at a time (the runner's
    # time_case), instead of timing every row of one count and then every row of the next. None:
    # only in contended runs, where a row timed alone could land wholly in a bad stretch of the
    # busy core's scheduling and its ratio to the other count would say where the scheduler put the
    # caller, not what the threads cost.
    interleave_threads: bool | None = None
    # The read roof beside each memory-bound case (kernels M=1): seconds of the streaming-read probe
    # right before and right after its rounds (0: off), and how far the two may differ before the
    # record says the host changed memory mode while it was timed (larger / smaller - 1). This
    # host's two-stream bandwidth flips between ~70 and ~40 GB/s (reports/2026-12-07-gemv-6.md);
    # two 0.1 s windows in one mode differ by < 15 % (reports/2026-12-07-roof-2.md).
    roof_probe_s: float = 0.1
    roof_tolerance: float = 0.15
    policy: TimingPolicy = field(default_factory=TimingPolicy)

    def validate(self) -> BenchConfig:
        for s in self.suites:
            if s not in SUITES:
                raise ValueError(f"suites: expected some of {SUITES}, got {s!r}")
        for p in self.paths:
            if p not in PATHS:
                raise ValueError(f"paths: expected some of {tuple(PATHS)}, got {p!r}")
        if not self.threads or any(int(t) < 1 for t in self.threads):
            raise ValueError(f"threads: expected positive integers, got {self.threads}")
        if not self.peer_pages or any(p not in PEER_PAGES for p in self.peer_pages):
            raise ValueError(f"peer_pages: expected some of {PEER_PAGES}, got {self.peer_pages}")
        for k in ("rotate_factor", "kernel_rotate_factor", "kernel_rotate_mb"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k}: expected >= 0, got {getattr(self, k)}")
        for k in ("max_sets", "kernel_max_sets"):
            if int(getattr(self, k)) < 2:
                raise ValueError(f"{k}: expected >= 2 weight sets, got {getattr(self, k)}")
        if int(self.contend) < 0:
            raise ValueError(f"contend: expected >= 0 busy processes, got {self.contend}")
        if self.interleave_threads not in (None, True, False):
            raise ValueError(
                f"interleave_threads: expected true, false or unset (contended runs only), got {self.interleave_threads!r}"
            )
        if self.roof_probe_s < 0:
            raise ValueError(
                f"roof_probe_s: expected >= 0 seconds (0: no roof beside the cases), got {self.roof_probe_s}"
            )
        if self.roof_tolerance < 0:
            raise ValueError(f"roof_tolerance: expected >= 0 (a fraction, e.g. 0.15), got {self.roof_tolerance}")
        if self.stat not in ("median", "min"):
            raise ValueError(f"stat: expected 'median' or 'min', got {self.stat!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: 'cuda' requested but torch.cuda.is_available() is False")
        for s in self.shapes:
            parse_shape(s)
        for s in self.adaptation_shapes:
            parse_shape(s, 2)
        for m in self.mixes + self.e2e_mixes:
            parse_mix(m)
        return self

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "policy"}
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
        d["policy"] = self.policy.as_dict()
        return d


#: TOML keys per section -> BenchConfig field
_TOML_KEYS = {
    None: {
        "suites": "suites",
        "threads": "threads",
        "device": "device",
        "peers": "peers",
        "peer_pages": "peer_pages",
        "seed": "seed",
        "rotate_factor": "rotate_factor",
        "max_sets": "max_sets",
        "kernel_rotate_factor": "kernel_rotate_factor",
        "kernel_rotate_mb": "kernel_rotate_mb",
        "kernel_max_sets": "kernel_max_sets",
        "stat": "stat",
        "interleave_threads": "interleave_threads",
        "roof_probe_s": "roof_probe_s",
        "roof_tolerance": "roof_tolerance",
    },
    "kernels": {"shapes": "shapes", "mixes": "mixes", "paths": "paths", "baselines": "baselines"},
    "scoring": {"rows": "scoring_rows", "dim": "scoring_dim", "batch": "scoring_batch", "topk": "topk"},
    "adaptation": {"shapes": "adaptation_shapes"},
    "e2e": {"models": "e2e_models", "batch": "e2e_batch", "mixes": "e2e_mixes"},
    "timing": {},
}


def load_toml(path: str | Path, base: BenchConfig | None = None) -> BenchConfig:
    """A :class:`BenchConfig` from a TOML grid file (unknown keys are errors, not ignored)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    cfg = base or BenchConfig()
    updates: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in _TOML_KEYS or key is None:
                raise ValueError(f"{path}: unknown section [{key}] (expected one of {[k for k in _TOML_KEYS if k]})")
            if key == "timing":
                try:
                    updates["policy"] = replace(updates.get("policy", cfg.policy), **value)
                except TypeError as e:
                    raise ValueError(f"{path}: [timing]: {e}") from None
                continue
            for k, v in value.items():
                if k not in _TOML_KEYS[key]:
                    raise ValueError(f"{path}: unknown key {k!r} in [{key}] (expected {sorted(_TOML_KEYS[key])})")
                updates[_TOML_KEYS[key][k]] = v
        else:
            if key not in _TOML_KEYS[None]:
                raise ValueError(f"{path}: unknown key {key!r} (expected {sorted(_TOML_KEYS[None])} or a section)")
            updates[_TOML_KEYS[None][key]] = value
    updates = {k: tuple(v) if isinstance(v, list) else v for k, v in updates.items()}
    return replace(cfg, **updates).validate()
