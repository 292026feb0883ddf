"""A/B of ``chord bench --suites e2e``: the Python package of a base revision against this tree's,
runs alternated (base, new, base, new, ...) so a busy machine's drift falls on both; both sides
use this tree's C++ extension (the change measured here is Python only). Prints, per row, the
min over runs of each side's min ms, and each side's speedup over its own fp32 row.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-e2e-2/ab_bench.py --base REV \\
        [--runs 3] [--threads 1,2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def base_tree(rev: str, dest: Path) -> Path:
    """``python/`` of ``rev`` extracted under ``dest`` (git archive: no worktree, no build)."""
    tar = dest / "python.tar"
    with open(tar, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "python"], stdout=f, check=True)
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
    return dest / "python"


def run_bench(pythonpath: Path, out: Path, threads: str) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{pythonpath}{os.pathsep}{ROOT}")
    cmd = [sys.executable, "-m", "chord", "bench", "--suites", "e2e", "--threads", threads]
    cmd += ["--stat", "min", "--no-plots", "--out", str(out)]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.log", "w") as log:
        subprocess.run(cmd, env=env, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return json.loads((out / "results.json").read_text())


def rows(doc: dict) -> dict[tuple[str, str], float]:
    """(group, variant) -> min ms."""
    out = {}
    for b in doc["benchmarks"]:
        p, x = b["params"], b["extra_info"]
        variant = "fp32" if x["role"] == "baseline" else f"{p['mix']} {p['path']} {p['scope']}"
        out[b["group"], variant] = b["stats"]["min"] * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision whose python/ is the A side")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", type=Path, default=None, help="keep every run's results here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sides = {"base": base_tree(a.base, tmp), "new": ROOT / "python"}
        best: dict[str, dict] = {s: {} for s in sides}
        loads = []
        for i in range(a.runs):
            for side, path in sides.items():
                loads.append(os.getloadavg()[0])
                out = (a.out or tmp) / f"{side}_{i}"
                for key, ms in rows(run_bench(path, out, a.threads)).items():
                    best[side][key] = min(best[side].get(key, float("inf")), ms)
    print(f"base {a.base} vs this tree, {a.runs} runs each, alternated; load average at the starts: "
          f"{min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    print("(fp32 runs the same code on both sides: its new / base is the noise of this run)")
    print("\n| case | variant | base min ms (x fp32) | new min ms (x fp32) | new / base |")
    print("|---|---|---:|---:|---:|")
    for group, variant in best["new"]:
        b, n = best["base"].get((group, variant)), best["new"][group, variant]
        fb, fn = best["base"].get((group, "fp32")), best["new"][group, "fp32"]
        if b is None:
            continue
        print(f"| {group} | {variant} | {b:.3f} ({fb / b:.2f}x) | {n:.3f} ({fn / n:.2f}x) | {n / b:.3f} |")


if __name__ == "__main__":
    main()
