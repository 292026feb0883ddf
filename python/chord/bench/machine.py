"""Machine facts recorded with every benchmark run, and the memory bandwidth measured in the
same run (the roofline every effective-GB/s figure is compared against).

``machine_info`` / ``commit_info`` follow pytest-benchmark's JSON keys (so its tools read our
files) and add what matters for kernels: CPU flags, cache sizes, thread count, library versions.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from functools import lru_cache
from pathlib import Path

import torch

from chord.backends import cpu as cpu_backend

from . import read_roof, rotation

#: CPU flags that decide which kernel path runs (kept short: the full list is noise in reports)
KERNEL_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "neon",
    "asimd",
    "sve",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


@lru_cache(maxsize=1)
def cpu_model_and_flags() -> tuple[str, tuple[str, ...]]:
    """(model name, all CPU flags) from /proc/cpuinfo; falls back to ``platform``."""
    text = _read("/proc/cpuinfo") or ""
    model = re.search(r"^(?:model name|Model|cpu model)\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    return (
        (model.group(1).strip() if model else platform.processor() or platform.machine()),
        tuple(flags.group(1).split()) if flags else (),
    )


def _parse_size(s: str | None) -> int | None:
    if not s:
        return None
    m = re.match(r"^\s*([\d.]+)\s*([KMG]?)(?:i?B)?", s)
    if not m:
        return None
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)])


@lru_cache(maxsize=1)
def cache_sizes() -> dict[str, int]:
    """{'L1d': bytes, 'L2': bytes, 'L3': bytes} for one core, from /sys (lscpu as fallback).
    L3 is the size of the cache the *whole* run shares, which is what rotation must defeat."""
    out: dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")) if base.exists() else []:
        level, typ = _read(str(idx / "level")), _read(str(idx / "type"))
        size = _parse_size(_read(str(idx / "size")))
        if level and size:
            key = f"L{level}" + ("d" if typ == "Data" else "i" if typ == "Instruction" else "")
            out[key] = size
    if "L3" not in out:
        try:
            text = subprocess.run(["lscpu", "-B"], capture_output=True, text=True, timeout=5).stdout
            m = re.search(r"^L3 cache:\s*(\d+)", text, re.M)
            if m:
                out["L3"] = int(m.group(1))
        except (OSError, subprocess.SubprocessError):
            pass
    return out


def last_level_cache_bytes() -> int:
    """Largest cache in bytes (32 MiB assumed when nothing can be read: a large modern L3)."""
    sizes = cache_sizes()
    return max(sizes.values()) if sizes else 32 << 20


def _git(*args: str) -> str | None:
    try:
        r = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, cwd=Path(__file__).resolve().parent
        )
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def commit_info() -> dict:
    """pytest-benchmark's ``commit_info`` keys: id, time, author_time, dirty, project, branch."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {
            "id": "unversioned",
            "time": None,
            "author_time": None,
            "dirty": False,
            "project": "chord",
            "branch": "(unknown)",
        }
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    return {
        "id": commit,
        "time": _git("show", "-s", "--pretty=format:%cI"),
        "author_time": _git("show", "-s", "--pretty=format:%aI"),
        "dirty": bool(status),
        "project": "chord",
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD") or "(unknown)",
    }


def _version(mod: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:  # noqa: BLE001 - any packaging failure means "unknown"
        return None


def kernel_backend() -> dict:
    """Which chord CPU kernels are live: the C++ extension (and its ISA) or the reference."""
    info = {"cpp_extension": False, "isa": None}
    try:
        info["cpp_extension"] = bool(getattr(cpu_backend, "HAVE_CPP", False))
        ext = getattr(cpu_backend, "_cpu", None)
        # which ops the extension implements (the rest fall back to the pure-torch reference)
        info["cpp_ops"] = sorted(n for n in ("mp_linear", "quantize_pack", "mp_topk") if hasattr(ext, n))
        if ext is not None:  # the ISA every kernel family's "auto" resolves to here (csrc/common/isa.h)
            info["isa"] = cpu_backend.resolve_isa("auto")
            info["isas"] = cpu_backend.supported_isas()
    except Exception as e:  # noqa: BLE001 - facts must never break a run
        info["error"] = repr(e)
    info["isa_override"] = os.environ.get("CHORD_CPU_ISA")
    return info


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: a busy shared machine explains noisy, slow numbers."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info(device: str = "cpu") -> dict:
    """pytest-benchmark's ``machine_info`` keys plus chord's (cpu flags, caches, versions)."""
    model, flags = cpu_model_and_flags()
    info = {
        "node": platform.node(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "python_compiler": platform.python_compiler(),
        "python_implementation": platform.python_implementation(),
        "python_implementation_version": platform.python_version(),
        "python_version": platform.python_version(),
        "python_build": list(platform.python_build()),
        "release": platform.release(),
        "system": platform.system(),
        "cpu": {
            "brand_raw": model,
            "arch": platform.machine(),
            "count": os.cpu_count(),
            "flags": [f for f in KERNEL_FLAGS if f in flags],
            "all_flags_count": len(flags),
        },
        "caches": cache_sizes(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "triton": _version("triton"),
        "numpy": _version("numpy"),
        "chord": _version("chord"),
        "chord_kernels": kernel_backend(),
        "device": device,
        "load_average": load_average(),
    }
    if device == "cuda" and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info["gpu"] = {
            "name": p.name,
            "memory_bytes": p.total_memory,
            "capability": f"{p.major}.{p.minor}",
            "cuda": torch.version.cuda,
        }
    return info


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def copy_bandwidth(
    nbytes: int | None = None, repeats: int = 20, device: str = "cpu", chunk_bytes: int = 8 << 20
) -> dict:
    """Memory bandwidth of a large ``copy_`` and of a read-only ``sum`` at the current torch
    thread count, over ``nbytes`` (default: the kernels suite's rotation target,
    ``rotation.kernel_target_bytes`` of this machine's last-level cache: with 4 x this host's L3
    part of the reads came from it, reports/2026-12-07-roof-3.md).

    Returns ``{"copy_GBps", "read_GBps", "read_sum_GBps", "read_stream_GBps", "buffer_bytes"}``.
    ``copy_GBps`` counts read + write traffic (STREAM convention: 2 x bytes / time): the
    sustained traffic the memory system delivers. ``read_sum_GBps`` is a read-only torch ``sum``
    over the same buffer (bytes / time); ``read_stream_GBps`` the C++ streaming-read probe's
    variants on 4 KiB and 2 MiB pages (``read_roof``). ``read_GBps``, the roof of a GEMV (which
    only reads its weight), is the best of all of them. Each is the best of ``repeats`` passes
    (interference only ever slows memory traffic). On the CPU a pass is timed per
    ``chunk_bytes`` slice and the best time of every slice is summed: a slice takes well under a
    scheduler time slice, so on a shared machine a pass that other processes preempted does
    not hide the machine's bandwidth, and every slice still comes from DRAM (the rest of the
    buffer, many times the last-level cache, evicted it since the previous pass).
    """
    if nbytes is None:
        nbytes = rotation.kernel_target_bytes(last_level_cache_bytes())
    n = int(nbytes) // 4
    nbytes = 4 * n  # whole fp32 elements
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # fault the pages in
    c = n if device != "cpu" else max(1, min(n, chunk_bytes // 4))
    spans = [(i, min(n, i + c)) for i in range(0, n, c)]
    best_copy = [float("inf")] * len(spans)
    best_read = [float("inf")] * len(spans)
    for _ in range(repeats):
        for j, (a, b) in enumerate(spans):
            _sync(device)
            t0 = time.perf_counter()
            dst[a:b].copy_(src[a:b])
            _sync(device)
            best_copy[j] = min(best_copy[j], time.perf_counter() - t0)
        for j, (a, b) in enumerate(spans):
            _sync(device)
            t0 = time.perf_counter()
            src[a:b].sum()
            _sync(device)
            best_read[j] = min(best_read[j], time.perf_counter() - t0)
    del src, dst
    read_sum = nbytes / sum(best_read) / 1e9
    stream = read_roof.stream_read(nbytes, torch.get_num_threads(), repeats, chunk_bytes) if device == "cpu" else {}
    return {
        "copy_GBps": 2 * nbytes / sum(best_copy) / 1e9,
        "read_GBps": max([read_sum, *stream.values()]),
        "read_sum_GBps": read_sum,
        "read_stream_GBps": stream,
        "buffer_bytes": nbytes,
    }
