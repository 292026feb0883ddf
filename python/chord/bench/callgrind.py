"""The deterministic CI regression gate: instruction counts of the C++ kernels under callgrind.

Wall-clock time on a shared 2-core machine swings by 2x; instruction counts of a fixed input
do not move at all unless the code (or the compiler) changes. ``tests/bench/gate/callgrind_driver.cpp``
links the kernel sources of ``csrc/`` directly (every ``csrc/**/*.cpp`` outside ``csrc/bindings/``,
the pybind11 layer), runs fixed small cases once each with callgrind collecting only around the kernel
call, and dumps one counter file per case. The ISA is pinned per run (``scalar`` and, where
the CPU has it, ``avx2``), never left to run-time dispatch, and OpenMP is compiled out.

The counts are compared with ``tests/bench/gate/callgrind.json`` (committed; the gate's inputs live with its tests): a case whose
count grew by more than the threshold (default 5 %) fails. Counts depend on the compiler, so
the baseline records it and the gate says so when it differs. After an intentional kernel
change, regenerate the baseline with::

    chord bench --callgrind --update-baseline
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SCHEMA = "chord.callgrind/1"
DEFAULT_THRESHOLD = 0.05
CXXFLAGS = ["-O3", "-std=c++17", "-DNDEBUG"]


class CallgrindUnavailable(RuntimeError):
    """valgrind, a compiler or the source tree is missing."""


#: the regression gate's inputs (callgrind driver and baseline, CI grid and ratio baseline),
#: relative to the checkout: owned by the gate's tests
GATE_DIR = Path("tests") / "bench" / "gate"


def repo_root() -> Path:
    """The source checkout holding csrc/ and the gate's inputs (an editable install finds it)."""
    here = Path(__file__).resolve()
    for d in here.parents:
        if (d / "csrc").is_dir() and (d / GATE_DIR / "callgrind_driver.cpp").is_file():
            return d
    raise CallgrindUnavailable(
        "the callgrind gate needs a source checkout (csrc/ and tests/bench/gate/); install with pip install -e ."
    )


def baseline_path(root: Path | None = None) -> Path:
    return (root or repo_root()) / GATE_DIR / "callgrind.json"


def kernel_sources(root: Path) -> list[Path]:
    """Every kernel source under csrc/: all folders but csrc/bindings/ (the pybind11 layer) and
    csrc/capi/ (the C API of the Python-free runtime, no kernels)."""
    csrc = root / "csrc"
    return [p for p in sorted(csrc.rglob("*.cpp")) if p.relative_to(csrc).parts[0] not in ("bindings", "capi")]


def compiler() -> tuple[str, str]:
    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        raise CallgrindUnavailable(f"C++ compiler {cxx!r} not found")
    ver = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()
    return cxx, (ver[0].strip() if ver else "unknown")


def valgrind_version() -> str:
    if shutil.which("valgrind") is None:
        raise CallgrindUnavailable("valgrind not found (apt-get install valgrind)")
    return subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()


def build(root: Path | None = None, cache_dir: Path | None = None) -> Path:
    """Compile the driver + kernels (cached by a hash of sources, flags and compiler)."""
    root = root or repo_root()
    cxx, cver = compiler()
    srcs = [root / GATE_DIR / "callgrind_driver.cpp"] + kernel_sources(root)
    h = hashlib.sha256(" ".join(CXXFLAGS + [cver]).encode())
    headers = [*(root / "csrc").rglob("*.h"), *(root / "csrc").rglob("*.inc"), *(root / GATE_DIR).glob("*.h")]
    for p in srcs + sorted(headers):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    cache_dir = cache_dir or root / "bench_out" / "callgrind"
    exe = cache_dir / f"driver-{h.hexdigest()[:16]}"
    if exe.exists():
        return exe
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_suffix(f".tmp{os.getpid()}")  # two runs building at once do not share it
    with tempfile.TemporaryDirectory(dir=cache_dir) as objdir:
        # one translation unit per compiler process, CHORD_BUILD_JOBS at a time (setup.py's
        # knob): the objects a single `c++ *.cpp -o exe` call makes, but that call compiles one
        # file after another and leaves the other cores idle
        objs = [str(Path(objdir) / f"{i}.o") for i in range(len(srcs))]
        jobs = max(1, int(os.environ.get("CHORD_BUILD_JOBS") or 2))
        cmds = [[cxx, *CXXFLAGS, f"-I{root / 'csrc'}", "-c", str(s), "-o", o] for s, o in zip(srcs, objs)]
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(_compile, cmds))  # re-raises the first failure
        _compile([cxx, *CXXFLAGS, *objs, "-o", str(tmp)])
    tmp.replace(exe)
    for old in sorted(cache_dir.glob("driver-*"), key=lambda p: p.stat().st_mtime)[:-3]:
        old.unlink(missing_ok=True)  # keep the three newest builds
    return exe


def _compile(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        if "valgrind/callgrind.h" in r.stderr:
            raise CallgrindUnavailable("valgrind/callgrind.h not found (install valgrind's headers)")
        raise RuntimeError(f"building the callgrind driver failed:\n{' '.join(cmd)}\n{r.stderr[-3000:]}")


def host_isas() -> list[str]:
    """ISAs to count here: scalar always, avx2 when the CPU has AVX2+FMA+F16C."""
    flags = ""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pass
    have = all(re.search(rf"\b{f}\b", flags) for f in ("avx2", "fma", "f16c"))
    return ["scalar", "avx2"] if have else ["scalar"]


_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (.+)$", re.M)
_SUMMARY = re.compile(r"^(?:summary|totals): (\d+)", re.M)


def parse_dumps(files: list[Path]) -> dict[str, int]:
    """{case name: Ir} from callgrind dump files (one per CALLGRIND_DUMP_STATS_AT)."""
    out = {}
    for f in files:
        text = f.read_text(errors="replace")
        t, s = _TRIGGER.search(text), _SUMMARY.search(text)
        if t and s:
            out[t.group(1).strip()] = int(s.group(1))
    return out


def count(exe: Path, isa: str) -> dict[str, int]:
    """Run the driver for one ISA under callgrind: {case: instructions executed}."""
    valgrind_version()
    with tempfile.TemporaryDirectory() as d:
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={d}/cg.%p", str(exe), isa]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if r.returncode:
            raise RuntimeError(f"callgrind run failed ({isa}, exit {r.returncode}):\n{r.stderr[-3000:]}")
        counts = parse_dumps(sorted(Path(d).glob("cg.*.*")))
    if not counts:
        raise RuntimeError(f"callgrind produced no per-case dumps for {isa}")
    return counts


def measure(isas: list[str] | None = None, root: Path | None = None) -> dict:
    root = root or repo_root()
    exe = build(root)
    isas = list(isas or host_isas())
    _, cver = compiler()
    return {
        "schema": SCHEMA,
        "compiler": cver,
        "valgrind": valgrind_version(),
        "cxxflags": CXXFLAGS,
        "counts": {isa: count(exe, isa) for isa in isas},
    }


@dataclass
class CountChange:
    isa: str
    case: str
    base: int | None
    new: int | None
    status: str  # regressed | improved | ok | new | missing

    @property
    def change(self) -> float | None:
        return None if not self.base or self.new is None else self.new / self.base - 1

    def describe(self) -> str:
        if self.change is None:
            return f"{self.status:<10} {self.isa:<6} {self.case}"
        return f"{self.status:<10} {self.isa:<6} {self.case}: {self.base:,} -> {self.new:,} Ir ({self.change:+.2%})"


def compare_counts(new: dict, base: dict, threshold: float) -> list[CountChange]:
    out = []
    for isa, counts in new["counts"].items():
        bc = base.get("counts", {}).get(isa, {})
        for case, n in counts.items():
            if case not in bc:
                out.append(CountChange(isa, case, None, n, "new"))
                continue
            ch = n / bc[case] - 1
            st = "regressed" if ch > threshold else "improved" if ch < -threshold else "ok"
            out.append(CountChange(isa, case, bc[case], n, st))
        out += [CountChange(isa, c, b, None, "missing") for c, b in bc.items() if c not in counts]
    return out


def main(update: bool = False, isas=None, threshold: float | None = None, out=sys.stdout) -> int:
    """``chord bench --callgrind``: 0 pass, 1 regression, 2 unavailable/error."""
    try:
        root = repo_root()
        new = measure(list(isas) if isas else None, root)
    except (CallgrindUnavailable, RuntimeError) as e:
        print(f"chord bench --callgrind: {e}", file=sys.stderr)
        return 2
    path = baseline_path(root)
    if update:
        base = json.loads(path.read_text()) if path.exists() else {}
        new["threshold"] = base.get("threshold", DEFAULT_THRESHOLD)
        new["regenerate"] = "chord bench --callgrind --update-baseline"
        merged = dict(base.get("counts", {}))
        merged.update(new["counts"])  # keep ISAs this machine cannot run
        new["counts"] = merged
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path}: " + ", ".join(f"{isa} {len(c)} cases" for isa, c in merged.items()), file=out)
        return 0
    if not path.exists():
        print(f"chord bench --callgrind: no baseline at {path}; create it with --update-baseline", file=sys.stderr)
        return 2
    base = json.loads(path.read_text())
    thr = threshold if threshold is not None else float(base.get("threshold", DEFAULT_THRESHOLD))
    changes = compare_counts(new, base, thr)
    note = (
        ""
        if base.get("compiler") == new["compiler"]
        else (f" (baseline compiler {base.get('compiler')!r}, now {new['compiler']!r}: counts shift across compilers)")
    )
    print(f"callgrind instruction counts vs {path.name} (threshold {thr:.0%}){note}:", file=out)
    order = {"regressed": 0, "missing": 1, "improved": 2, "new": 3, "ok": 4}
    for c in sorted(changes, key=lambda c: (order[c.status], c.isa, c.case)):
        print("  " + c.describe(), file=out)
    bad = [c for c in changes if c.status in ("regressed", "missing")]
    if bad:
        print(
            f"REGRESSION: {len(bad)} case(s): "
            + ", ".join(f"{c.isa}:{c.case}" for c in bad)
            + "\n(intentional? regenerate with: chord bench --callgrind --update-baseline)",
            file=out,
        )
        return 1
    if any(c.status == "improved" for c in changes):
        print(
            "some cases improved beyond the threshold: regenerate the baseline to lock the gain in "
            "(chord bench --callgrind --update-baseline)",
            file=out,
        )
    return 0
