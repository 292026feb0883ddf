"""Markdown tables of a results document: one table per suite, one row per timed case, with
median, spread, effective bandwidth, roofline fraction and same-run speedups."""

from __future__ import annotations

import statistics

from .results import REF_IMPLS

SHORT = {
    "torch_fp32": "fp32",
    "torch_fp16": "fp16",
    "torch_dynamic_int8": "dyn-int8",
    "aten_int8pack_mm": "int8pack",
    "aten_int4pack_mm": "int4pack",
    "torch_copy": "copy",
    "reference_pack": "ref-pack",
    "torch_quantize_per_channel": "qpc-int8",
    "fp32_model": "fp32",
    "torch_fp32_topk": "fp32+topk",
}
#: params shown in the "variant" column (the rest are in the group heading)
VARIANT_KEYS = ("mix", "path", "op", "scope", "k", "pages")


def _variant(rec: dict) -> str:
    p = rec["params"]
    return " ".join(str(p[k]) for k in VARIANT_KEYS if k in p) or "-"


def row_label(rec: dict) -> str:
    """What a row is, for the run's text log: its impl and its variant (the same words as the
    tables' "impl" and "variant" columns: the e2e suite times four ``chord_model`` rows per case,
    told apart only by their mix, path and scope)."""
    v = _variant(rec)
    return rec["extra_info"]["impl"] if v == "-" else f"{rec['extra_info']['impl']} {v}"


#: what each e2e ``scope`` quantizes (the legend under the e2e tables)
E2E_SCOPES = {
    "backbone": "the backbone's Linear/Conv2d layers swapped by `chord.quantize_`, the scores read the fp32 item table",
    "backbone+items": "the backbone and the item table swapped, the scores read the packed table",
}


def e2e_legend() -> str:
    """The e2e suite's terms: what each row times and what each scope and path means."""
    scopes = "; ".join(f"*{k}*: {v}" for k, v in E2E_SCOPES.items())
    return (
        "Each e2e row times one forward of the model and the scores of every item for it. "
        f"{scopes}. *exact*: fp32 activations (act_bits=0); *act8*: per-row dynamic int8 activations (act_bits=8)."
    )


def _fmt(v, spec: str, none: str = "") -> str:
    return none if v is None else format(v, spec)


def suite_table(records: list[dict], suite: str, stat: str = "median") -> str:
    recs = [r for r in records if r["extra_info"]["suite"] == suite]
    if not recs:
        return ""
    bases: list[str] = []
    for r in recs:
        if r["extra_info"]["role"] == "baseline" and r["extra_info"]["impl"] not in bases:
            bases.append(r["extra_info"]["impl"])
    head = ["case", "impl", "variant", "median ms", "IQR ms", "min ms", f"GB/s ({stat})", "roofline", "read roof"] + [
        f"× {SHORT.get(b, b)}" for b in bases
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in recs:
        ex, st = r["extra_info"], r["stats"]
        case = r["group"].split(" ", 1)[1] if " " in r["group"] else r["group"]
        impl = f"**{ex['impl']}**" if ex["role"] == "chord" else SHORT.get(ex["impl"], ex["impl"])
        rf, rr = ex.get("roofline_fraction"), ex.get("read_roofline_fraction")
        cells = [
            case,
            impl,
            _variant(r),
            f"{st['median'] * 1e3:.3f}",
            f"{st['iqr'] * 1e3:.3f}",
            f"{st['min'] * 1e3:.3f}",
            _fmt(ex.get("GBps"), ".1f"),
            "" if rf is None else f"{rf:.0%}",
            "" if rr is None else f"{rr:.0%}",
        ]
        ratios = ex.get("ratios") or {}
        cells += [_fmt(ratios.get(b), ".2f") for b in bases]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def adjacent_roof_table(records: list[dict], stat: str = "median", tolerance: float | None = None) -> str:
    """The memory-bound rows (those with a read roof taken beside them: kernels M=1), one per
    implementation: time, GB/s, the roof before / after the rounds, the row's fraction of it and of
    the run-level roof, and whether the host's memory mode changed while the row was timed (roofs
    more than ``tolerance`` apart, ``host_mode_changed``). Groups whose roofs span more than the
    tolerance (``group_mode_changed``: ratios between their rows may compare two modes) are listed
    under the table."""
    recs = [r for r in records if "read_GBps_adjacent" in r["extra_info"]]
    if not recs:
        return ""
    lines = [
        f"| case | impl | variant | {stat} ms | GB/s | roof before / after GB/s | of the roof beside it "
        "| of the run's roof | host mode |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    mixed: dict[str, dict] = {}
    over = False
    for r in recs:
        ex = r["extra_info"]
        adj = ex["read_GBps_adjacent"]
        case = r["group"].split(" ", 1)[1] if " " in r["group"] else r["group"]
        if ex.get("group_mode_changed"):
            mixed[case] = ex["read_GBps_group"]
        frac, run_frac = ex.get("read_roofline_fraction_adjacent"), ex.get("read_roofline_fraction")
        cells = [
            case,
            f"**{ex['impl']}**" if ex["role"] == "chord" else SHORT.get(ex["impl"], ex["impl"]),
            _variant(r),
            f"{r['stats'][stat] * 1e3:.3f}",
            _fmt(ex.get("GBps"), ".1f"),
            f"{adj['before']:.1f} / {adj['after']:.1f}",
            "" if frac is None else f"{frac:.0%}" + (" †" if frac > 1 else ""),
            "" if run_frac is None else f"{run_frac:.0%}",
            "**changed**" if ex.get("host_mode_changed") else "steady",
        ]
        over = over or (frac or 0) > 1
        lines.append("| " + " | ".join(cells) + " |")
    if over:
        lines += [
            "",
            "† above 100 %: the row read faster than the best read of the probes beside it, whose short "
            "windows missed the best the machine gave (on a busy machine: a thread descheduled through a probe).",
        ]
    tol = "" if tolerance is None else f" by more than {tolerance:.0%}"
    if mixed:
        lines += [
            "",
            f"Groups whose roofs differ{tol} (not all rows timed in one host mode; ratios between "
            "them may compare two modes): "
            + "; ".join(f"{c} ({g['min']:.1f}–{g['max']:.1f} GB/s)" for c, g in mixed.items())
            + ".",
        ]
    return "\n".join(lines)


def _column(rec: dict) -> str:
    ex = rec["extra_info"]
    name = SHORT.get(ex["impl"], ex["impl"]) if ex["role"] != "chord" else ex["impl"]
    v = _variant(rec)
    return name if v == "-" else f"{name} {v}"


def summary_table(records: list[dict], suite: str, stat: str = "median") -> str:
    """One row per case (group), one column per implementation x variant: median ms and, for
    everything but the reference, the speedup over the suite's reference in the same run."""
    recs = [r for r in records if r["extra_info"]["suite"] == suite]
    if not recs:
        return ""
    cols: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    for r in recs:
        c = _column(r)
        if c not in cols:
            cols.append(c)
        ex = r["extra_info"]
        rel = ex.get("rel_to_ref")
        cell = f"{r['stats'][stat] * 1e3:.3g}"
        if rel and ex.get("ref_impl") and ex["impl"] != ex["ref_impl"]:
            cell += f" ({1 / rel:.2g}×)"
        rows.setdefault(r["group"].split(" ", 1)[-1], {})[c] = cell
    lines = ["| case | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for case, cells in rows.items():
        lines.append(f"| {case} | " + " | ".join(cells.get(c, "") for c in cols) + " |")
    return "\n".join(lines)


#: a contended 2-thread row slower than this times the 1-thread row misses issue 13's line
CONTENDED_LIMIT = 1.2


def thread_ratio_table(records: list[dict]) -> str:
    """Each row timed at 1 thread and at more: the many-thread / 1-thread ratio of the min and of
    the median (bold above :data:`CONTENDED_LIMIT`), the paired ratio of interleaved rows
    (:func:`paired_ratio`), and of the many-thread calls' pool jobs
    (``csrc/common/parallel.h``): the share run on the caller alone (a straggler pause), the share
    of the others where a worker ran a task, and the caller's mean wait for workers' tasks per
    shared job. For ``--contend`` runs: the question there is whether more threads ever cost more
    time."""
    by: dict[tuple, dict[int, dict]] = {}
    for r in records:
        ex = r["extra_info"]
        t = ex.get("threads") or r["params"].get("threads")
        case = " ".join(w for w in r["group"].split(" ") if not w.startswith("t="))
        by.setdefault((case, ex["impl"], _variant(r)), {})[int(t)] = r
    lines = [
        "| case | impl | variant | threads | 1-thread min / median ms | min / median ms | ratio min | ratio median "
        "| ratio paired | pool jobs alone | worker helped | caller wait µs/job |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (case, impl, variant), ts in by.items():
        if 1 not in ts:
            continue
        one = ts[1]["stats"]
        for t in sorted(k for k in ts if k > 1):
            r = ts[t]
            st, pool = r["stats"], r["extra_info"].get("pool") or {}
            ratios = [st[k] / one[k] for k in ("min", "median")]
            jobs = pool.get("alone", 0) + pool.get("shared", 0)
            name = f"**{impl}**" if r["extra_info"]["role"] == "chord" else SHORT.get(impl, impl)
            cells = [
                case,
                name,
                variant,
                str(t),
                f"{one['min'] * 1e3:.3g} / {one['median'] * 1e3:.3g}",
                f"{st['min'] * 1e3:.3g} / {st['median'] * 1e3:.3g}",
                *(f"**{x:.2f}**" if x > CONTENDED_LIMIT else f"{x:.2f}" for x in ratios),
                _paired_cell(ts[1], r),
                f"{pool.get('alone', 0) / jobs:.0%}" if jobs else "",
                f"{pool['helped'] / pool['shared']:.0%}" if pool.get("shared") and "helped" in pool else "",
                f"{pool['wait_us'] / pool['shared']:.0f}" if pool.get("shared") and "wait_us" in pool else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _threads_timing_line(c: dict, threads: list[int]) -> str:
    """How the run timed its thread counts against each other (what a ratio between them means)."""
    counts = ", ".join(map(str, threads)) or "?"
    if c.get("interleaved_threads"):
        return (
            f"Thread counts {counts}: timed **interleaved**, one implementation at a time, its counts' rounds "
            "alternating (a b, b a, a b, ...; the same number of rounds each), so both rows of a ratio saw the "
            "same stretch of the machine."
        )
    return (
        f"Thread counts {counts}: timed one after the other (every row at one count, then every row at the "
        "next), seconds apart: a ratio between them also carries what the machine did in between."
    )


def paired_ratio(one: dict, many: dict) -> float | None:
    """Median over rounds of many-thread round i / 1-thread round i, for two records timed
    interleaved (``timing.measure_interleaved``: round i of each count ran back to back, so each
    pair saw the same moment of the machine); None for records timed row after row, or without
    their per-round samples. Where a busy machine leaves few fast rounds, the ratio of the two mins
    rests on one or two of them; this one rests on every pair."""
    a, b = one["stats"].get("data"), many["stats"].get("data")
    if not (one["extra_info"].get("interleaved_threads") and many["extra_info"].get("interleaved_threads")):
        return None
    if not a or not b or len(a) != len(b):
        return None
    return statistics.median(y / x for x, y in zip(a, b) if x > 0)


def _paired_cell(one: dict, many: dict) -> str:
    x = paired_ratio(one, many)
    if x is None:
        return ""
    return f"**{x:.2f}**" if x > CONTENDED_LIMIT else f"{x:.2f}"


def recs_page(doc: dict) -> str | None:
    """The page kind the adjacent probes of ``doc`` read (``"2m"`` / ``"4k"``), None without any."""
    for r in doc.get("benchmarks", []):
        adj = r.get("extra_info", {}).get("read_GBps_adjacent")
        if adj:
            return adj.get("page")
    return None


def _page_name(page: str | None) -> str:
    return {"4k": "4 KiB", "2m": "2 MiB"}.get(page, page) if page else "?"


def _stream_line(v: dict) -> str:
    """The probe's best figure per page size, e.g. "4 KiB 24.1, 2 MiB 31.9"."""
    best: dict[str, float] = {}
    for k, g in v.get("read_stream_GBps", {}).items():
        page = k.split("/")[0]
        best[page] = max(best.get(page, 0.0), g)
    return ", ".join(f"{_page_name(p)} {g:.1f}" for p, g in best.items()) or "no probe"


def markdown(doc: dict) -> str:
    """The whole report: machine line, bandwidth line, a table per suite, what was unavailable."""
    mi, ci, c = doc.get("machine_info", {}), doc.get("commit_info", {}), doc.get("chord", {})
    cpu = mi.get("cpu", {})
    out = [
        f"Machine: {cpu.get('brand_raw', '?')} ({mi.get('cpu_count', '?')} CPUs, flags "
        f"{' '.join(cpu.get('flags', [])) or '?'}), L3 {mi.get('caches', {}).get('L3', 0) >> 20} MiB; "
        f"torch {mi.get('torch', '?')}; chord kernels: {kernels_line(mi)}; commit {str(ci.get('id', '?'))[:10]}"
        f"{' (dirty)' if ci.get('dirty') else ''}"
    ]
    la = mi.get("load_average")
    if la:
        busy = " (busy machine: expect noise)" if mi.get("cpu_count") and la[0] > 0.5 * mi["cpu_count"] else ""
        out.append(f"Load average at start: {la[0]:.2f}{busy}")
    busy = c.get("contend")
    if busy:
        share = busy.get("cpu_share")
        out.append(
            f"**Contended run**: {busy['processes']} busy-loop process(es) (`{busy['command']}`) pinned to "
            f"CPU(s) {', '.join(map(str, busy['cpus']))} for the whole run"
            + (f" (each got {', '.join(f'{x:.2f}' for x in share)} of its CPU)." if share else ".")
        )
    if busy or c.get("interleaved_threads"):
        out.append(_threads_timing_line(c, [int(t) for t in c.get("config", {}).get("threads", [])]))
    bw = c.get("bandwidth", {})
    if bw:
        mb = next(iter(bw.values())).get("buffer_bytes", 0) >> 20
        out.append(
            f"Copy bandwidth ({mb} MB `copy_`, best of 20, read+write traffic): "
            + ", ".join(
                f"{v['copy_GBps']:.1f} GB/s @ {t} thread{'s' if t != '1' else ''}" for t, v in sorted(bw.items())
            )
        )
        if all(v.get("read_GBps") for v in bw.values()):
            out.append(
                f"Read-only bandwidth ({mb} MB, best of 20; the read roof: the best of torch `sum` and the C++ "
                "streaming-read probe on 4 KiB / 2 MiB pages): "
                + ", ".join(
                    f"{v['read_GBps']:.1f} GB/s @ {t} thread{'s' if t != '1' else ''}"
                    + (f" (`sum` {v['read_sum_GBps']:.1f}; {_stream_line(v)})" if v.get("read_sum_GBps") else "")
                    for t, v in sorted(bw.items())
                )
            )
    stat = c.get("stat", "median")
    out.append(
        f"`× b` = {stat}(b) / {stat}(row) over rounds, same run (higher is faster); roofline = GB/s of the "
        "bytes the call must read over the copy bandwidth at the same thread count; read roof = the same over the "
        "read-only bandwidth (the roof of a GEMV, which only reads its weight)."
    )

    for suite in ("kernels", "scoring", "adaptation", "e2e"):
        t = summary_table(doc.get("benchmarks", []), suite, stat)
        if t:
            out += [
                "",
                f"### {suite}: {stat} ms (speedup over {SHORT.get(REF_IMPLS[suite], REF_IMPLS[suite])}, same run)",
                "",
                t,
            ]
            if suite == "e2e":
                out += ["", e2e_legend()]
    cfg = c.get("config", {})
    t = adjacent_roof_table(doc.get("benchmarks", []), stat, cfg.get("roof_tolerance"))
    if t:
        out += [
            "",
            "### Memory-bound rows against the read roof taken beside them",
            "",
            f"Each row's rounds were bracketed by {cfg.get('roof_probe_s', '?')} s of the streaming-read "
            "probe at the row's thread count, reading chord's largest packed weight's bytes per read on "
            f"{_page_name(recs_page(doc))} pages; the roof is the larger of the two, and the host mode "
            f"changed where they differ by more than {_fmt(cfg.get('roof_tolerance'), '.0%', '?')} "
            "(the run's roof above is measured once, before the cases).",
            "",
            t,
        ]
    if busy:
        t = thread_ratio_table(doc.get("benchmarks", []))
        if t:
            how = (
                "interleaved rounds; ratio paired: the median over rounds of round i at t threads / round i at 1"
                if c.get("interleaved_threads")
                else "rows timed one after the other"
            )
            out += ["", f"### More threads against 1 beside the busy loop (limit {CONTENDED_LIMIT}×; {how})", "", t]
    for suite in ("kernels", "scoring", "adaptation", "e2e"):
        t = suite_table(doc.get("benchmarks", []), suite, stat)
        if t:
            out += ["", f"### {suite}: details", "", t]
    errs = c.get("errors", [])
    if errs:
        out += ["", "**ERRORS: wrong answers, no time reported** (`chord.bench.checks`):"]
        out += [f"- {e['suite']} / {e['group']} / {e['impl']}: {e['reason']}" for e in errs]
    fell = sorted(
        {
            (r["extra_info"].get("suite"), r["extra_info"].get("impl"), k, v)
            for r in doc.get("benchmarks", [])
            for k, v in r.get("extra_info", {}).get("fallback", {}).items()
        }
    )
    if fell:
        out += ["", "Served by the pure-torch reference, not a kernel (timed as such):"]
        out += [f"- {s} / {i}: {k} ({v})" for s, i, k, v in fell]
    un = c.get("unavailable", [])
    if un:
        out += ["", "Unavailable here:"]
        seen = set()
        for u in un:
            key = (u["suite"], u["impl"], u["reason"])
            if key not in seen:
                seen.add(key)
                out.append(f"- {u['suite']} / {u['impl']}: {u['reason']}")
    return "\n".join(out) + "\n"


def kernels_line(mi: dict) -> str:
    k = mi.get("chord_kernels", {})
    if not k.get("cpp_extension"):
        return "pure-torch reference (C++ extension missing)"
    ops = k.get("cpp_ops")
    return f"C++ {k.get('isa') or ''}".strip() + (f" ({', '.join(ops)})" if ops is not None else "")
