"""``chord bench``: benchmark kernels and models, write JSON + Markdown + plots, gate regressions.

chord bench                                   # default grid (~5 min on a busy 2-core machine)
chord bench --suites kernels --shapes 1x4096x4096 --mixes mix3,u4 --threads 1,2
chord bench --suites kernels,scoring,adaptation --threads 1,2 --contend   # one core taken by a busy loop
chord bench --grid benchmarks/grids/full.toml --peer ggml
chord bench --compare base.json --max-regression 10%          # run, then gate against base.json
chord bench --compare base.json --recheck 2                   # re-measure a regressed case's group up to 2x
chord bench --results new.json --compare base.json            # gate two existing files
chord bench --callgrind [--update-baseline]                   # deterministic instruction-count gate
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from .config import SUITES, BenchConfig, load_toml
from .timing import TimingPolicy


def _csv(s: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in s.split(",") if v.strip())


def _ints(s: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in _csv(s))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None


def _count(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0, got {s!r}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = __doc__
    g = p.add_argument_group("what to run")
    g.add_argument("--grid", metavar="TOML", help="grid file (suites, shapes, mixes, threads...); flags override it")
    g.add_argument("--suites", type=_csv, help=f"comma list of {','.join(SUITES)} (default: all)")
    g.add_argument("--shapes", type=_csv, help="kernels: MxKxN list, e.g. 1x4096x4096,16x4096x4096")
    g.add_argument(
        "--mixes", type=_csv, help="bit mixes: mix3 (75%% 2b/12.5%% 4b/12.5%% 8b), u2, u4, u8 or 2:0.5,8:0.5"
    )
    g.add_argument("--paths", type=_csv, help="activation paths: exact (fp32), act8 (act_bits=8)")
    g.add_argument(
        "--baselines",
        type=_csv,
        help="kernels baselines (default: torch_fp32,torch_dynamic_int8,aten_int8pack_mm,aten_int4pack_mm)",
    )
    g.add_argument(
        "--peer",
        action="append",
        default=None,
        metavar="NAME",
        help="external peer: ggml (llama.cpp Q2_K/Q4_K/Q8_0 via the [peer] extra) or torchao "
        "(int8 dynamic / int4 weight-only via the [torchao] extra); repeatable",
    )
    g.add_argument(
        "--peer-pages",
        type=_csv,
        help="ggml peer weights: own (ggml's allocation, as llama.cpp mallocs), 2m (2 MiB pages, as chord "
        "places its packed weights: like for like); default own,2m",
    )
    g.add_argument("--threads", type=_ints, help="thread counts, e.g. 1,2 (default: 1,2)")
    g.add_argument("--device", choices=("cpu", "cuda"), help="device (default cpu)")
    g.add_argument("--scoring-rows", type=int, help="scoring: item table rows (default 100000)")
    g.add_argument("--scoring-dim", type=int, help="scoring: embedding dim (default 64)")
    g.add_argument("--topk", type=int, help="scoring: k of top-k (0: scores only; default 10)")
    g.add_argument("--adapt-shapes", type=_csv, help="adaptation: KxN weight shapes (default 4096x4096)")
    g.add_argument("--models", type=_csv, help="e2e: models (default sasrec,caser)")
    g.add_argument("--seed", type=int)
    g.add_argument(
        "--contend",
        type=int,
        nargs="?",
        const=1,
        metavar="N",
        help="run beside N busy-loop processes (default 1), each pinned to one CPU: a thread "
        "count that cannot get every core it asks for (recorded in the results)",
    )
    g.add_argument(
        "--interleave-threads",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time each implementation's thread counts round by round, alternating (t1, t2, t2, t1, ...), "
        "so both rows of a ratio see the same minutes of the machine (default: on with --contend, else off)",
    )
    t = p.add_argument_group("timing")
    t.add_argument(
        "--stat",
        choices=("median", "min"),
        help="statistic for ratios, GB/s and the summary "
        "(default median; min resists preemption on a busy shared machine)",
    )
    t.add_argument("--quick", action="store_true", help="few rounds per case (smoke tests, not for numbers)")
    t.add_argument(
        "--max-time", type=float, help=f"max seconds sampling one case (default {DEFAULT_POLICY.max_time_s:g})"
    )
    t.add_argument("--min-rounds", type=int, help=f"min rounds per case (default {DEFAULT_POLICY.min_rounds})")
    t.add_argument(
        "--roof-probe",
        type=float,
        metavar="S",
        help="seconds of the read-roof probe right before and after each memory-bound case "
        f"(kernels M=1; default {BenchConfig.roof_probe_s:g}, 0: off)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="output directory (default bench_out/<timestamp>)")
    o.add_argument("--json", metavar="PATH", help="results JSON path (default DIR/results.json)")
    o.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    c = p.add_argument_group("regression gate")
    c.add_argument(
        "--compare", metavar="BASELINE.json", help="compare with a baseline results file; exit 1 on regression"
    )
    c.add_argument("--results", metavar="NEW.json", help="with --compare: compare this file instead of running")
    c.add_argument(
        "--max-regression", default="10%", help="threshold on time relative to the same-run reference (default 10%%)"
    )
    c.add_argument(
        "--strict",
        action="store_true",
        help="also fail on inconclusive cases (change above the threshold, CI straddling it)",
    )
    c.add_argument(
        "--recheck",
        type=_count,
        metavar="N",
        help="before failing, re-measure the group of each case that regressed (with --strict: or was "
        "inconclusive), its same-run reference included, up to N times; it fails only if it regresses "
        f"every time (default {DEFAULT_RECHECKS}, 0: off; runs made by this command, not --results)",
    )
    k = p.add_argument_group("deterministic instruction-count gate (valgrind)")
    k.add_argument(
        "--callgrind",
        action="store_true",
        help="run the C++ kernels under callgrind and compare with the committed baseline",
    )
    k.add_argument("--update-baseline", action="store_true", help="with --callgrind: rewrite the committed baseline")
    k.add_argument("--isa", type=_csv, help="with --callgrind: ISAs to count (default: scalar and avx2 when available)")


#: re-measures of a regressed case's group before the gate fails it (``--recheck``; chord.bench.recheck)
DEFAULT_RECHECKS = 1

#: the default run: every suite, with time bounds per case so the whole run stays in minutes
DEFAULT_POLICY = TimingPolicy(warmup=2, min_rounds=7, max_rounds=300, min_time_s=0.1, max_time_s=0.5, rel_ci=0.02)


def build_config(args) -> BenchConfig:
    cfg = BenchConfig(policy=DEFAULT_POLICY)
    if args.grid:
        cfg = load_toml(args.grid, cfg)
    over = {
        "suites": args.suites,
        "shapes": args.shapes,
        "mixes": args.mixes,
        "paths": args.paths,
        "baselines": args.baselines,
        "threads": args.threads,
        "device": args.device,
        "scoring_rows": args.scoring_rows,
        "scoring_dim": args.scoring_dim,
        "topk": args.topk,
        "adaptation_shapes": args.adapt_shapes,
        "e2e_models": args.models,
        "seed": args.seed,
        "peers": tuple(args.peer) if args.peer else None,
        "peer_pages": args.peer_pages,
        "stat": args.stat,
        "contend": args.contend,
        "interleave_threads": args.interleave_threads,
        "roof_probe_s": args.roof_probe,
    }
    cfg = replace(cfg, **{k: v for k, v in over.items() if v is not None})
    if cfg.device == "cuda" and args.baselines is None and not args.grid:
        cfg = replace(cfg, baselines=("torch_fp32", "torch_fp16"))  # the CPU-only ones cannot run
    pol = TimingPolicy.quick() if args.quick else cfg.policy
    if args.max_time is not None:
        pol = replace(pol, max_time_s=args.max_time)
    if args.min_rounds is not None:
        pol = replace(pol, min_rounds=args.min_rounds)
    return replace(cfg, policy=pol).validate()


def _gate(comps: list, new_doc: dict, base_doc: dict, base_path: str, thr: float, args) -> int:
    from . import compare, recheck  # noqa: PLC0415

    print(compare.summary(comps, thr))
    # what this command re-measured; a --results file's rechecks were judged against its run's baseline
    rechecked = "" if args.results else recheck.summary(new_doc, args.strict)
    if rechecked:
        print("\n" + rechecked)
    elif new_doc.get("chord", {}).get("rechecks"):
        print(f"\nnote: {args.results} holds rows re-measured by the run that made it (chord.rechecks)")
    differs = compare.machine_differences(new_doc, base_doc)
    if differs:  # a ratio moved by the hardware is no code regression: say so beside the verdict
        print(
            "\nnote: the baseline was measured on another CPU (" + "; ".join(differs) + "): compute-bound and "
            "memory-bound cases shift against each other between CPUs. Before reading a change as a regression, "
            f"regenerate the baseline here at the base commit: chord bench --grid <grid> --json {base_path}"
        )
    rc = compare.gate(comps, args.strict)
    if rc:
        again = " (on every re-measure too)" if rechecked else ""
        for status, what in (
            (compare.ERROR, "computed a wrong answer"),
            (compare.MISSING, "missing from the new run"),
            (compare.REGRESSED, f"exceed {thr:.0%}{again}"),
            (compare.INCONCLUSIVE, f"may exceed {thr:.0%} (--strict){again}"),
        ):
            bad = [c.name for c in comps if c.status == status]
            if bad and (status != compare.INCONCLUSIVE or args.strict):
                print(f"\nGATE FAILED: {len(bad)} case(s) {what}: " + ", ".join(bad), file=sys.stderr)
    return rc


def run(args) -> int:
    try:
        if args.callgrind:
            from . import callgrind  # noqa: PLC0415

            return callgrind.main(update=args.update_baseline, isas=args.isa, threshold=None)
        if args.update_baseline:
            raise ValueError("--update-baseline: only with --callgrind")
        if args.recheck is not None and not args.compare:
            raise ValueError("--recheck: only with --compare BASELINE.json")
        if args.results:
            if not args.compare:
                raise ValueError("--results: only with --compare BASELINE.json")
            if args.recheck:
                raise ValueError("--recheck: a --results file cannot be re-measured (run without --results)")
            from . import compare, results  # noqa: PLC0415

            new_doc, base_doc = results.load(args.results), results.load(args.compare)
            thr = compare.parse_threshold(args.max_regression)
            return _gate(compare.compare(new_doc, base_doc, thr), new_doc, base_doc, args.compare, thr, args)
        if args.compare:  # fail fast on a bad baseline file, before a long run
            from . import compare, results  # noqa: PLC0415

            base_doc = results.load(args.compare)
            thr = compare.parse_threshold(args.max_regression)
        cfg = build_config(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"chord bench: error: {e}", file=sys.stderr)
        return 2
    from . import plots, recheck, report, results, runner  # noqa: PLC0415

    out = Path(args.out or Path("bench_out") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    doc = runner.run(cfg)
    json_path = results.save(doc, args.json or out / "results.json")
    if args.compare:
        # before the report and plots, so they show the rows the gate judges
        n = DEFAULT_RECHECKS if args.recheck is None else args.recheck
        log = lambda s: print(s, file=sys.stderr, flush=True)
        doc, comps = recheck.settle(
            doc, base_doc, thr, recheck.runner_remeasure(cfg, doc, log), n=n, strict=args.strict, log=log
        )
        if doc["chord"].get("rechecks"):
            results.save(doc, json_path)
    md = report.markdown(doc)
    if doc["chord"].get("rechecks"):
        redone = sorted({g for r in doc["chord"]["rechecks"] for g in r["groups"]})
        md += (
            "\n### Re-measured by the --compare gate\n\nA case regressed in the first run: its group was timed "
            "again and the tables above show the re-measure (the first rows and both verdicts are under "
            "`chord.rechecks` in results.json): " + "; ".join(redone) + ".\n"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(md)
    print(md)
    made = [] if args.no_plots else plots.write_all(doc, out)
    print(
        f"wrote {json_path}, {out / 'report.md'}"
        + "".join(f", {p}" for p in made)
        + f" ({doc['chord']['elapsed_s']:.0f} s)",
        file=sys.stderr,
    )
    if args.compare:
        return _gate(comps, doc, base_doc, args.compare, thr, args)
    errors = doc["chord"].get("errors", [])
    for e in errors:
        print(f"chord bench: ERROR: {e['impl']} in {e['group']}: {e['reason']}", file=sys.stderr)
    return 1 if errors else 0
