"""The ``--compare`` gate's second look: re-measure a case that regressed before failing it.

Two cores serve a CI job and whatever else the host runs; a core taken for a few seconds makes
the rows timed in those seconds slower against a reference timed before or after them, and a
case can read as a regression once and never again (issue 13: ~2.2x against the same-run
torch fp32 reference, one case each time, a different one in each of two runs at one commit).
A regression from the code repeats; such a one does not. So, after a run made by
``chord bench --compare``, the group of every case that regressed (every implementation of
that shape and thread count, its same-run reference among them: a ratio needs both from the
same minutes) is timed again by the runner on just those groups, under the run's own config,
and the re-measured group replaces the first in the document the gate judges (the results
JSON holds the document judged, so ``--results`` on it gives the same verdict). The first
records and both verdicts stay under ``chord.rechecks``.

Each case that regresses gets up to ``n`` re-measures of its group; it fails the gate when
it is still regressed once they are spent. Missing cases and errors are not re-measured: a
kernel that raised, a reference that could not run or a wrong answer is no noise. With
``strict`` an inconclusive case (which then fails) is re-measured as a regressed one is.
Like the ``--rerun`` of Swift's benchmark driver, which times again the subset that changed
before reporting it, this only spends time on what already looks wrong.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from . import compare as cmp

#: remeasure(groups, suites) -> a results document holding (at least) the records of those groups
Remeasure = Callable[[list[str], list[str]], dict]


def suspects(comparisons: list[cmp.Comparison], strict: bool) -> list[cmp.Comparison]:
    """The cases a re-measure may clear: regressed ones (and with ``strict`` inconclusive ones),
    never missing cases or errors."""
    want = {cmp.REGRESSED} | ({cmp.INCONCLUSIVE} if strict else set())
    return [c for c in comparisons if c.status in want]


def merge(doc: dict, new: dict, groups: list[str]) -> tuple[dict, list[dict], set[str]]:
    """``doc`` with every record of ``groups`` (and of any other group ``new`` re-timed: an
    interleaved case is timed at each thread count) replaced by ``new``'s, in place of the
    first; the unavailable entries and errors of those groups are ``new``'s too. Returns the
    merged document, the records it replaced and the groups it replaced."""
    redone = set(groups) | {r["group"] for r in new["benchmarks"]}
    fresh: dict[str, list[dict]] = {}
    for r in new["benchmarks"]:
        fresh.setdefault(r["group"], []).append(r)
    out = copy.copy(doc)
    out["chord"] = dict(doc["chord"])
    benches, replaced, placed = [], [], set()
    for r in doc["benchmarks"]:
        g = r["group"]
        if g not in redone:
            benches.append(r)
            continue
        replaced.append(r)
        if g not in placed:
            benches += fresh.get(g, [])
            placed.add(g)
    benches += [r for g, rs in fresh.items() if g not in placed for r in rs]
    out["benchmarks"] = benches
    nc = new.get("chord", {})
    for key in ("unavailable", "errors"):
        kept = [e for e in doc["chord"].get(key, []) if e["group"] not in redone]
        out["chord"][key] = kept + [e for e in nc.get(key, []) if e["group"] in redone]
    return out, replaced, redone


def _verdict(c: cmp.Comparison | None) -> dict:
    if c is None:
        return {"status": None}
    return {"status": c.status, "change": c.change, "ci": list(c.ci) if c.ci else None, "reason": c.reason}


def settle(
    doc: dict,
    base: dict,
    threshold: float,
    remeasure: Remeasure,
    n: int = 1,
    strict: bool = False,
    log: Callable[[str], None] | None = None,
) -> tuple[dict, list[cmp.Comparison]]:
    """Compare ``doc`` with ``base`` and re-measure (module docstring) until no case that
    regressed has a re-measure left. Returns the document the gate judges (``doc`` itself when
    nothing was re-measured; else a merged copy whose ``chord.rechecks`` lists each round:
    the groups, the cases re-measured with their verdict before and after, the records
    replaced, the seconds it took) and its comparisons."""
    log = log or (lambda s: None)
    comps = cmp.compare(doc, base, threshold)
    used: Counter[str] = Counter()
    rounds: list[dict] = []
    while True:
        todo = [c for c in suspects(comps, strict) if used[c.name] < n]
        if not todo:
            break
        case_of = {r["name"]: r for r in doc["benchmarks"]}
        groups = sorted({case_of[c.name]["group"] for c in todo})
        suites = list(dict.fromkeys(case_of[c.name]["extra_info"]["suite"] for c in todo))
        log(
            f"re-measuring {len(groups)} group(s) for {len(todo)} case(s) that "
            + ("regressed" if all(c.status == cmp.REGRESSED for c in todo) else "regressed or were inconclusive")
            + ": "
            + "; ".join(groups)
        )
        t0 = time.perf_counter()
        new = remeasure(groups, suites)
        elapsed = time.perf_counter() - t0
        merged, replaced, redone = merge(doc, new, groups)
        after = cmp.compare(merged, base, threshold)
        group_of = {r["name"]: r["group"] for d in (doc, merged) for r in d["benchmarks"]}
        prev, by, asked = {c.name: c for c in comps}, {c.name: c for c in after}, {c.name for c in todo}
        rounds.append(
            {
                "round": len(rounds) + 1,
                "groups": sorted(redone),
                "elapsed_s": elapsed,
                # every case of the re-measured groups; "asked": it is why they were re-measured
                "cases": [
                    {"name": nm, "asked": nm in asked, "before": _verdict(prev.get(nm)), "after": _verdict(by.get(nm))}
                    for nm in sorted(set(prev) | set(by))
                    if group_of.get(nm) in redone
                ],
                "replaced": replaced,
            }
        )
        used.update(c.name for c in todo)
        doc, comps = merged, after
    if rounds:
        doc["chord"] = dict(doc["chord"], rechecks=rounds)
    return doc, comps


def histories(doc: dict) -> dict[str, list[str]]:
    """case name -> its statuses over its measurements, from its first regression on (the
    measurement that made it a suspect, then each re-measure of its group), for every case a
    recheck was asked for; from ``chord.rechecks``."""
    seen: dict[str, list[str]] = {}
    asked: set[str] = set()
    for rnd in doc.get("chord", {}).get("rechecks", []):
        for c in rnd["cases"]:
            h = seen.setdefault(c["name"], [c["before"]["status"] or cmp.MISSING])
            h.append(c["after"]["status"] or cmp.MISSING)
            if c["asked"]:
                asked.add(c["name"])
    out = {}
    for name in asked:
        h = seen[name]
        k = next(i for i, st in enumerate(h) if st in (cmp.REGRESSED, cmp.INCONCLUSIVE))
        out[name] = h[k:]
    return out


_TIMES = {2: "twice", 3: "three times"}


def outcome(history: list[str], failing: tuple[str, ...] = (cmp.REGRESSED,)) -> str:
    """One case's recheck in words, from :func:`histories`: "regressed, not reproduced on
    re-measure: ok", "regressed twice", ... (``failing``: the statuses that fail the gate
    among regressed / inconclusive)."""
    first, last = history[0], history[-1]
    if all(st == first for st in history):
        return f"{first} {_TIMES.get(len(history), f'{len(history)} times')}"
    if last in failing or last in (cmp.MISSING, cmp.ERROR):
        return f"{first}, then {last} on re-measure"
    return f"{first}, not reproduced on re-measure: {last}"


def summary(doc: dict, strict: bool = False) -> str:
    """What the rechecks did, for the gate's printout ('' when nothing was re-measured)."""
    rounds = doc.get("chord", {}).get("rechecks", [])
    if not rounds:
        return ""
    hist = histories(doc)
    secs = sum(r["elapsed_s"] for r in rounds)
    failing = (cmp.REGRESSED, cmp.INCONCLUSIVE) if strict else (cmp.REGRESSED,)
    lines = [
        f"rechecked {len(hist)} case(s) that "
        + ("regressed or were inconclusive" if strict else "regressed")
        + f": their groups re-measured ({len(rounds)} round(s), {secs:.1f} s); the verdict above is on "
        "the re-measured rows (the first ones: chord.rechecks in the results)"
    ]
    for name, h in sorted(hist.items(), key=lambda kv: (kv[1][-1] not in failing, kv[0])):
        lines.append(f"  {name}: {outcome(h, failing)} ({' -> '.join(h)})")
    return "\n".join(lines)


def runner_remeasure(cfg, first: dict, log: Callable[[str], None] | None = None) -> Remeasure:
    """The re-measure of a real run: ``chord.bench.runner.run`` under ``cfg`` (the first run's
    config: its threads, policy, contention, interleaving) on the groups asked for, only the
    suites holding them run, with the first run's bandwidths (``first``'s ``chord.bandwidth``)."""

    def remeasure(groups: list[str], suites: list[str]) -> dict:
        from . import runner  # noqa: PLC0415 - torch and the suites, only when a case regressed

        sub = replace(cfg, suites=tuple(s for s in cfg.suites if s in suites))
        return runner.run(sub, log=log, groups=groups, bandwidth=first["chord"]["bandwidth"])

    return remeasure
