"""The regression gate: compare a run with a baseline run, machine-independently.

What is compared is each case's time *relative to its reference baseline measured in the same
run* (``rel = median(case) / median(ref)``, e.g. chord's M=1 kernel over torch fp32 on the
same machine, same threads): absolute times differ between machines, ratios much less.

Noise: the change ``rel_new / rel_base - 1`` gets a bootstrap confidence interval (resampling
the raw per-round samples of all four medians). A case *regresses* only when the whole
interval lies above the threshold; a point estimate above it with an interval that straddles
it is *inconclusive* (reported, rerun advised, not a failure unless ``strict``).

The gate cannot be passed by leaving a case out: a case of the baseline that is missing from the
new run -- its kernel raised and was listed unavailable, its reference could not run, or the grid
no longer has it -- fails (as in the callgrind gate), and so does every implementation the new run
recorded as an error (a wrong answer, ``chord.bench.checks``).

What this module judges is one document; ``chord bench --compare`` first re-measures the group of
a case that regressed and judges the re-measure (``chord.bench.recheck``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .results import REF_IMPLS, _matches

REGRESSED, INCONCLUSIVE, OK, IMPROVED, NEW, MISSING, ERROR = (
    "regressed",
    "inconclusive",
    "ok",
    "improved",
    "new",
    "missing",
    "error",
)
#: statuses that fail the gate (``strict`` adds INCONCLUSIVE)
FAILING = (REGRESSED, MISSING, ERROR)


@dataclass
class Comparison:
    name: str
    status: str
    change: float | None = None  # rel_new / rel_base - 1 (+0.2 = 20 % slower relative to ref)
    ci: tuple[float, float] | None = None
    rel_base: float | None = None
    rel_new: float | None = None
    ref: str | None = None
    reason: str | None = None

    def describe(self) -> str:
        if self.change is None:
            return f"{self.status:<12} {self.name}" + (f": {self.reason}" if self.reason else "")
        ci = f" [95% CI {self.ci[0]:+.1%}, {self.ci[1]:+.1%}]" if self.ci else ""
        return (
            f"{self.status:<12} {self.name}: time/{self.ref} {self.rel_base:.4f} -> {self.rel_new:.4f} "
            f"({self.change:+.1%}{ci})"
        )


def parse_threshold(s: str | float) -> float:
    """``"10%"``, ``"0.1"`` or 0.1 -> 0.1."""
    if isinstance(s, (int, float)):
        v = float(s)
    else:
        t = s.strip()
        try:
            v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
        except ValueError:
            raise ValueError(f"max-regression: expected a fraction or percentage like '10%', got {s!r}") from None
    if not 0 < v < 10:
        raise ValueError(f"max-regression: expected a value in (0, 1000%), got {s!r}")
    return v


def _ref_pairs(doc: dict, ref_impls: dict[str, str]) -> dict[str, tuple[dict, dict]]:
    """name -> (case record, its same-run reference record) for every non-baseline case."""
    groups: dict[str, list[dict]] = {}
    for r in doc.get("benchmarks", []):
        groups.setdefault(r["group"], []).append(r)
    out = {}
    for recs in groups.values():
        for r in recs:
            ex = r.get("extra_info", {})
            if ex.get("role", "chord") == "baseline":
                continue
            ref_impl = ex.get("ref_impl") or ref_impls.get(ex.get("suite"))
            refs = [
                b
                for b in recs
                if b is not r
                and b.get("extra_info", {}).get("impl") == ref_impl
                and b.get("extra_info", {}).get("role") == "baseline"
                and _matches(b, r)
            ]
            if refs:
                out[r["name"]] = (r, refs[0])
    return out


def _samples(rec: dict) -> np.ndarray:
    st = rec["stats"]
    d = st.get("data")
    return np.asarray(d if d else [st["median"]], dtype=np.float64)


def _boot_medians(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if x.size == 1:
        return np.full(n, x[0])
    idx = rng.integers(0, x.size, size=(n, x.size))
    return np.median(x[idx], axis=1)


def compare(
    new: dict,
    base: dict,
    max_regression: float = 0.10,
    ref_impls: dict[str, str] | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Comparison]:
    """Every case of ``new`` against ``base`` (see module docstring); deterministic (seeded)."""
    if ref_impls is None:
        ref_impls = REF_IMPLS
    pn, pb = _ref_pairs(new, ref_impls), _ref_pairs(base, ref_impls)
    rng = np.random.default_rng(seed)
    a = (1 - confidence) / 2
    out: list[Comparison] = []
    for name, (case, ref) in pn.items():
        if name not in pb:
            out.append(Comparison(name, NEW))
            continue
        bcase, bref = pb[name]
        rel_new = case["stats"]["median"] / ref["stats"]["median"]
        rel_base = bcase["stats"]["median"] / bref["stats"]["median"]
        change = rel_new / rel_base - 1
        boots = (_boot_medians(_samples(case), n_boot, rng) / _boot_medians(_samples(ref), n_boot, rng)) / (
            _boot_medians(_samples(bcase), n_boot, rng) / _boot_medians(_samples(bref), n_boot, rng)
        ) - 1
        lo, hi = (float(v) for v in np.quantile(boots, [a, 1 - a]))
        if lo > max_regression:
            status = REGRESSED
        elif change > max_regression:
            status = INCONCLUSIVE
        elif hi < -max_regression:
            status = IMPROVED
        else:
            status = OK
        out.append(Comparison(name, status, change, (lo, hi), rel_base, rel_new, ref["extra_info"]["impl"]))
    gone = _unavailable(new)
    out += [
        Comparison(
            name,
            MISSING,
            reason=gone.get(_group_impl(pb[name][0])) or gone.get(_group_impl(pb[name][1])) or "not in the new run",
        )
        for name in pb
        if name not in pn
    ]
    out += [
        Comparison(f"{e['suite']}: {e['group']}: {e['impl']}", ERROR, reason=e["reason"])
        for e in new.get("chord", {}).get("errors", [])
    ]
    return out


def machine_differences(new: dict, base: dict) -> list[str]:
    """What differs between the CPUs that measured ``base`` and ``new`` (model, kernel-relevant
    flags, cache sizes, core count), from their ``machine_info``; [] when they match or when
    either document does not say.

    Ratios cancel a machine's overall speed, not its balance: a compute-bound case (chord's exact
    fp32 path with its weights in cache) against a memory-bound reference (torch fp32 streaming its
    weights from DRAM) moves with the core's vector units and the memory bandwidth, at every commit
    alike (reports/2026-12-06-exact-small-shapes.md: a "regression" of the exact path that was a
    change of host). The gate prints these beside its verdict."""
    mn, mb = new.get("machine_info") or {}, base.get("machine_info") or {}
    cn, cb = mn.get("cpu") or {}, mb.get("cpu") or {}
    out = []
    for what, a, b in (
        ("CPU model", cb.get("brand_raw"), cn.get("brand_raw")),
        ("CPU count", mb.get("cpu_count"), mn.get("cpu_count")),
    ):
        if a is not None and b is not None and a != b:
            out.append(f"{what}: {a} -> {b}")
    fa, fb = cb.get("flags"), cn.get("flags")
    if fa is not None and fb is not None and set(fa) != set(fb):
        gone, added = sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa))
        out.append(
            "CPU flags:"
            + (f" without {', '.join(gone)}" if gone else "")
            + (f" with {', '.join(added)}" if added else "")
        )
    ca, cc = mb.get("caches") or {}, mn.get("caches") or {}
    for level in sorted(set(ca) & set(cc)):
        if ca[level] != cc[level]:
            out.append(f"{level} cache: {ca[level] // 1024} KiB -> {cc[level] // 1024} KiB")
    return out


def _group_impl(rec: dict) -> tuple[str, str]:
    return rec["group"], rec.get("extra_info", {}).get("impl")


def _unavailable(doc: dict) -> dict[tuple[str, str], str]:
    return {
        (u["group"], u["impl"]): f"unavailable in the new run: {u['reason']}"
        for u in doc.get("chord", {}).get("unavailable", [])
    }


def gate(comparisons: list[Comparison], strict: bool = False) -> int:
    """Exit status: 1 if any case regressed, is missing from the new run or is an error (or, with
    ``strict``, is inconclusive), else 0."""
    bad = set(FAILING) | ({INCONCLUSIVE} if strict else set())
    return int(any(c.status in bad for c in comparisons))


def summary(comparisons: list[Comparison], max_regression: float) -> str:
    order = {ERROR: 0, MISSING: 1, REGRESSED: 2, INCONCLUSIVE: 3, IMPROVED: 4, NEW: 5, OK: 6}
    lines = [c.describe() for c in sorted(comparisons, key=lambda c: (order[c.status], c.name))]
    counts = {s: sum(c.status == s for c in comparisons) for s in order}
    head = f"compare (max regression {max_regression:.0%} of time relative to the same-run reference): " + ", ".join(
        f"{v} {k}" for k, v in counts.items() if v
    )
    return "\n".join([head] + lines)
