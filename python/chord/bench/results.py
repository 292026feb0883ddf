"""Benchmark results: records, the JSON file (pytest-benchmark's layout plus a ``chord``
section), same-run ratios, and a schema check.

File layout (pytest-benchmark 5 keys first, so ``pytest-benchmark compare`` reads it)::

    {"machine_info": {...}, "commit_info": {...}, "datetime": ISO-8601, "version": "...",
     "benchmarks": [{"group", "name", "fullname", "params", "param", "options",
                     "stats": {min, max, mean, stddev, rounds, median, iqr, q1, q3, ...,
                               data, iterations},        # seconds per call
                     "extra_info": {suite, impl, role, ref_impl, rel_to_ref, ratios,
                                    bytes_read, GBps, roofline_fraction, copy_GBps,
                                    read_GBps, read_roofline_fraction,
                                    # memory-bound cases (kernels M=1), the roof taken beside them:
                                    read_GBps_adjacent: {before, after, roof, page, slice_bytes,
                                                         footprint_bytes, seconds,
                                                         at_s: [before, after]},
                                    read_roofline_fraction_adjacent, host_mode_changed,
                                    read_GBps_group: {min, max, probes}, group_mode_changed,
                                    ...}}],
     "chord": {"schema": "chord.bench/1", "config": {...}, "bandwidth": {threads: {...}},
               "unavailable": [{suite, group, impl, reason}],
               "errors": [{suite, group, impl, reason}] (wrong answers: ``chord.bench.checks``), "elapsed_s": float,
               "roof_probes": int, "roof_probe_elapsed_s": float (the probes beside memory-bound cases)}}
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

#: suite -> the baseline impl its ``rel_to_ref`` (and the --compare gate) is relative to; here, in the
#: leaf module every other bench module reads, so none of them imports the runner for it
REF_IMPLS = {"kernels": "torch_fp32", "scoring": "torch_fp32", "adaptation": "torch_copy", "e2e": "fp32_model"}

SCHEMA = "chord.bench/1"
VERSION = "chord.bench 1 (pytest-benchmark 5 compatible)"
#: roles: the thing measured, a same-run baseline (ratios are taken against these), an external peer
ROLES = ("chord", "baseline", "peer")
STAT_KEYS = (
    "min",
    "max",
    "mean",
    "stddev",
    "rounds",
    "median",
    "iqr",
    "q1",
    "q3",
    "iqr_outliers",
    "stddev_outliers",
    "outliers",
    "ld15iqr",
    "hd15iqr",
    "ops",
    "total",
    "data",
    "iterations",
)


def make_record(
    suite: str,
    group: str,
    impl: str,
    role: str,
    params: dict,
    stats: dict,
    extra: dict | None = None,
    options: dict | None = None,
) -> dict:
    """One pytest-benchmark ``benchmarks[]`` entry. ``params`` identify the case (shape, mix,
    path, threads...) and, with ``impl``, name it uniquely."""
    if role not in ROLES:
        raise ValueError(f"role: expected one of {ROLES}, got {role!r}")
    param = "-".join(f"{k}={v}" for k, v in params.items())
    name = f"{suite}[{impl}-{param}]"
    ex = {"suite": suite, "impl": impl, "role": role}
    ex.update(extra or {})
    return {
        "group": group,
        "name": name,
        "fullname": f"chord.bench::{suite}::{name}",
        "params": dict(params, impl=impl),
        "param": f"{impl}-{param}",
        "extra_info": ex,
        "options": {"timer": "perf_counter", **(options or {})},  # options name the timer actually used
        "stats": stats,
    }


def case_key(rec: dict) -> str:
    """Identity of a case across runs (machine-independent): its name."""
    return rec["name"]


def _matches(baseline: dict, rec: dict) -> bool:
    """A baseline applies to a record when every parameter it has (its impl aside) agrees:
    a per-mix baseline (e.g. the reference packer at mix3) only to cases of that mix."""
    bp, rp = baseline["params"], rec["params"]
    return all(k == "impl" or rp.get(k) == v for k, v in bp.items())


STATS = ("median", "min")


def add_ratios(records: list[dict], ref_impls: dict[str, str], stat: str = "median") -> None:
    """Fill same-run ratios in place, per group: ``ratios[b] = t(b) / t(self)`` (speedup over
    each matching baseline b in the group), ``rel_to_ref = t(self) / t(ref)`` (time relative to
    the suite's reference baseline), where t is the ``stat`` of the rounds: the median by
    default; ``min`` on a machine so busy that preemption dominates the medians of long calls."""
    if stat not in STATS:
        raise ValueError(f"stat: expected one of {STATS}, got {stat!r}")
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["group"], []).append(r)
    for recs in groups.values():
        bases = [r for r in recs if r["extra_info"]["role"] == "baseline"]
        for r in recs:
            ex = r["extra_info"]
            med = r["stats"][stat]
            base = {b["extra_info"]["impl"]: b for b in bases if b is not r and _matches(b, r)}
            ex["ratios"] = {b: br["stats"][stat] / med for b, br in base.items() if med > 0}
            ref = ref_impls.get(ex["suite"])
            ex["ref_impl"] = ref if ref in base else None
            ex["rel_to_ref"] = (med / base[ref]["stats"][stat]) if ref in base else None
            ex["ratio_stat"] = stat


def add_bandwidth(rec: dict, bytes_read: int | None, bw: dict | None, stat: str = "median") -> None:
    """Effective GB/s (bytes the call must read / ``stat`` time) and roofline fractions: GB/s
    over the same-run copy bandwidth (``roofline_fraction``) and over the read-only bandwidth
    (``read_roofline_fraction``: the roof of a GEMV, which only reads) at the same thread count."""
    ex = rec["extra_info"]
    med = rec["stats"][stat]
    ex["bytes_read"] = bytes_read
    if bytes_read and med > 0:
        ex["GBps"] = bytes_read / med / 1e9
        if bw and bw.get("copy_GBps"):
            ex["copy_GBps"] = bw["copy_GBps"]
            ex["roofline_ms"] = bytes_read / (bw["copy_GBps"] * 1e9) * 1e3
            ex["roofline_fraction"] = ex["GBps"] / bw["copy_GBps"]
        if bw and bw.get("read_GBps"):
            ex["read_GBps"] = bw["read_GBps"]
            ex["read_roofline_ms"] = bytes_read / (bw["read_GBps"] * 1e9) * 1e3
            ex["read_roofline_fraction"] = ex["GBps"] / bw["read_GBps"]


def add_adjacent_roof(rec: dict, before: dict, after: dict, tolerance: float) -> None:
    """The read roof taken beside the record's rounds (``before`` and ``after``: the probe's
    results, ``{"GBps", "page", "slice_bytes", ...}``, ``read_roof.AdjacentProbe``) and the
    record's fraction of it. The roof is the larger of the two (the best a pure reader got beside
    the case, as the run-level roof is the best of its probes); ``host_mode_changed`` when they
    differ by more than ``tolerance`` (larger / smaller - 1): the memory path changed speed while
    the case was timed, so its time may mix two modes. Call after :func:`add_bandwidth`."""
    ex = rec["extra_info"]
    b, a = float(before["GBps"]), float(after["GBps"])
    roof = max(b, a)
    ex["read_GBps_adjacent"] = {
        "before": b,
        "after": a,
        "roof": roof,
        "page": before.get("page"),
        "slice_bytes": before.get("slice_bytes"),
        "footprint_bytes": before.get("footprint_bytes"),  # what the reads cycled through
        "seconds": before.get("seconds"),
        # when the probes ended, seconds since the run began: how far apart a group's rows were timed
        "at_s": [before.get("at_s"), after.get("at_s")],
    }
    ex["host_mode_changed"] = roof > (1 + tolerance) * min(b, a)
    if ex.get("GBps") and roof > 0:
        ex["read_roofline_fraction_adjacent"] = ex["GBps"] / roof


def add_group_roofs(records: list[dict], tolerance: float) -> None:
    """Per group, the span of every read roof taken beside its records, on each of them
    (``read_GBps_group``: ``{"min", "max", "probes"}``), and ``group_mode_changed`` when that span
    exceeds ``tolerance``: the group's implementations (chord and the peers its ratios compare
    with) were not all timed in one host mode. Records without an adjacent roof are left alone."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        if "read_GBps_adjacent" in r["extra_info"]:
            groups.setdefault(r["group"], []).append(r)
    for recs in groups.values():
        probes = [v for r in recs for v in (r["extra_info"]["read_GBps_adjacent"][k] for k in ("before", "after"))]
        lo, hi = min(probes), max(probes)
        for r in recs:
            r["extra_info"]["read_GBps_group"] = {"min": lo, "max": hi, "probes": len(probes)}
            r["extra_info"]["group_mode_changed"] = hi > (1 + tolerance) * lo


def new_document(machine: dict, commit: dict, config: dict) -> dict:
    return {
        "machine_info": machine,
        "commit_info": commit,
        "benchmarks": [],
        "datetime": datetime.now(UTC).isoformat(),
        "version": VERSION,
        "chord": {"schema": SCHEMA, "config": config, "bandwidth": {}, "unavailable": [], "elapsed_s": None},
    }


def _clean(o):
    """JSON has no inf/nan: store them as None."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def save(doc: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(doc), indent=2, sort_keys=False) + "\n")
    return path


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"benchmark results file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    errors = validate(doc)
    if errors:
        raise ValueError(f"{path}: not a chord bench / pytest-benchmark results file: " + "; ".join(errors[:5]))
    return doc


def validate(doc) -> list[str]:
    """Problems with a results document (empty list: valid). Accepts plain pytest-benchmark
    files too (no ``chord`` section); checks chord's fields where present."""
    errs: list[str] = []
    if not isinstance(doc, dict):
        return [f"top level: expected an object, got {type(doc).__name__}"]
    for k in ("machine_info", "commit_info", "benchmarks", "datetime", "version"):
        if k not in doc:
            errs.append(f"missing top-level key {k!r}")
    benches = doc.get("benchmarks")
    if not isinstance(benches, list):
        return errs + ["benchmarks: expected a list"]
    names = set()
    for i, b in enumerate(benches):
        where = f"benchmarks[{i}]"
        if not isinstance(b, dict):
            errs.append(f"{where}: expected an object")
            continue
        for k in ("group", "name", "fullname", "params", "stats", "extra_info", "options"):
            if k not in b:
                errs.append(f"{where}: missing {k!r}")
        st = b.get("stats", {})
        for k in ("min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "ops", "total", "iterations"):
            if k not in st:
                errs.append(f"{where}.stats: missing {k!r}")
        if all(k in st for k in ("min", "median", "max")) and not (st["min"] <= st["median"] <= st["max"]):
            errs.append(f"{where}.stats: expected min <= median <= max")
        if b.get("name") in names:
            errs.append(f"{where}: duplicate name {b.get('name')!r}")
        names.add(b.get("name"))
        ex = b.get("extra_info", {})
        if "chord" in doc and isinstance(ex, dict):
            for k in ("suite", "impl", "role", "ratios", "rel_to_ref"):
                if k not in ex:
                    errs.append(f"{where}.extra_info: missing {k!r}")
            if ex.get("role") not in ROLES:
                errs.append(f"{where}.extra_info.role: expected one of {ROLES}, got {ex.get('role')!r}")
    if "chord" in doc:
        c = doc["chord"]
        if not isinstance(c, dict) or c.get("schema") != SCHEMA:
            errs.append(f"chord.schema: expected {SCHEMA!r}")
        elif not isinstance(c.get("unavailable"), list) or not isinstance(c.get("bandwidth"), dict):
            errs.append("chord: expected 'unavailable' list and 'bandwidth' object")
    return errs
