"""Regenerate the front page's headline numbers with one command.

    python tools/regen_headline.py                 # run the headline benchmark, write the report, rewrite README
    python tools/regen_headline.py --from-json reports/2026-12-06-bench/results.json   # rewrite only

It runs ``python -m chord bench`` with :data:`HEADLINE_ARGS` into ``reports/<date>-bench/``
(``results.json``, ``report.md``), writes the dated report ``reports/<date>-bench.md`` (command,
machine, full tables), and rewrites the block between ``<!-- headline:start ... -->`` and
``<!-- headline:end -->`` in README.md (and any docs/*.md holding the markers): the headline rows
of :data:`ROWS`, headed by the date, the machine, its load average and the commit, with the exact
command and a link to the full report. Text outside the markers is never touched. Run it on a
quiet machine: the header prints the load average, so a reader can tell.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
from pathlib import Path

from chord.bench import report, results

ROOT = Path(__file__).resolve().parents[1]
HEADLINE_ARGS = ["--peer", "ggml", "--stat", "min", "--no-plots"]
BEGIN = "<!-- headline:start"
END = "<!-- headline:end -->"

_K = {"K": 4096, "N": 4096, "threads": 1}
#: (label, suite, impl, params the record must have, reference impl, reference label)
ROWS = [
    (
        "`mp_linear`, M = 1, 4096 × 4096, 3.0 average bits",
        "kernels",
        "chord",
        dict(_K, M=1, mix="mix3", path="exact"),
        "torch_fp32",
        "",
    ),
    ("`mp_linear` `act_bits=8`, same", "kernels", "chord", dict(_K, M=1, mix="mix3", path="act8"), "torch_fp32", ""),
    (
        "`mp_linear`, M = 16, 4096 × 4096, 3.0 bits",
        "kernels",
        "chord",
        dict(_K, M=16, mix="mix3", path="exact"),
        "torch_fp32",
        "",
    ),
    (
        "item scoring + top-10, 1 × 64 vs 100,000 items, uniform 4-bit",
        "scoring",
        "chord_topk",
        {"B": 1, "rows": 100000, "dim": 64, "threads": 1, "mix": "u4", "op": "topk"},
        "torch_fp32_topk",
        " (`F.linear` + `torch.topk`)",
    ),
    (
        "SASRec forward + scoring of 100,000 items, batch 1, backbone + tables at 3.0 bits (eager modules)",
        "e2e",
        "chord_model",
        {"model": "sasrec", "threads": 1, "mix": "mix3", "scope": "backbone+items", "path": "exact"},
        "fp32_model",
        " (fp32 model)",
    ),
]


def _find(doc: dict, suite: str, impl: str, params: dict):
    for r in doc.get("benchmarks", []):
        ex = r.get("extra_info", {})
        if (
            ex.get("suite") == suite
            and ex.get("impl") == impl
            and all(str(r.get("params", {}).get(k)) == str(v) for k, v in params.items())
        ):
            return r
    return None


def block(doc: dict, command: str, report_link: str, reports_link: str = "reports/") -> str:
    """The markdown between the markers: provenance, the headline rows, the command, the link."""
    mi, ci, c = doc.get("machine_info", {}), doc.get("commit_info", {}), doc.get("chord", {})
    cpu = mi.get("cpu", {})
    when = str(doc.get("datetime", ""))[:10] or _dt.date.today().isoformat()
    la = (mi.get("load_average") or [float("nan")])[0]
    stat = c.get("stat", "median")
    lines = [
        f"Measured {when} on {cpu.get('brand_raw', '?')} ({mi.get('cpu_count', '?')} CPUs; chord kernels: "
        f"{report.kernels_line(mi)}; torch {mi.get('torch', '?')}), load average {la:.2f} at the start, commit "
        f"`{str(ci.get('id', '?'))[:10]}`{' (dirty)' if ci.get('dirty') else ''}; 1 thread, {stat} over rounds, "
        "speedup over the reference in the same run:",
        "",
        "| what | chord | speedup |",
        "|---|---:|---:|",
    ]
    for label, suite, impl, params, ref, ref_label in ROWS:
        r = _find(doc, suite, impl, params)
        if r is None:
            lines.append(f"| {label} | not measured | — |")
            continue
        ratio = r["extra_info"].get("ratios", {}).get(ref)
        lines.append(
            f"| {label} | {r['stats'][stat] * 1e3:.3g} ms | " + (f"{ratio:.2g}×{ref_label}" if ratio else "—") + " |"
        )
    if c.get("errors"):
        lines += ["", f"**{len(c['errors'])} implementation(s) computed wrong answers in this run** (see the report)."]
    lines += [
        "",
        f"Command: `{command}` ([full table]({report_link})). The fused rerank runtime is measured by "
        f"`scripts/fused_rerank.py` on trained checkpoints ([reports/]({reports_link})).",
    ]
    return "\n".join(lines)


def rewrite(path: Path, text: str) -> bool:
    """Replace what lies between the markers of ``path`` with ``text``; False when it has none."""
    src = path.read_text()
    i = src.find(BEGIN)
    if i < 0:
        return False
    j = src.find("-->", i)
    k = src.find(END, j)
    if j < 0 or k < 0:
        raise ValueError(f"{path}: {BEGIN!r} without a matching {END!r}")
    path.write_text(f"{src[: j + 3]}\n{text}\n{src[k:]}")
    return True


def write_report(doc: dict, out: Path, command: str) -> Path:
    """The dated report beside the results folder: what was run, where, and every table."""
    md = out.parent / f"{out.name}.md"
    md.write_text(
        f"# Benchmark, {str(doc.get('datetime', ''))[:10]}\n\nCommand (from the repository root; "
        f"`tools/regen_headline.py` runs it and rewrites the README's headline block):\n\n```bash\n"
        f"{command}\n```\n\nResults: [`{out.name}/results.json`]({out.name}/results.json) (usable as a "
        f"`--compare` baseline).\n\n{report.markdown(doc)}"
    )
    return md


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from-json", metavar="RESULTS", help="rewrite from this chord bench results file (no run)")
    p.add_argument("--out", metavar="DIR", help="results folder (default reports/<today>-bench)")
    p.add_argument("--files", nargs="+", type=Path, help="files to rewrite (default README.md and docs/*.md)")
    args = p.parse_args(argv)
    if args.from_json:
        json_path = Path(args.from_json)
        out = json_path.parent
    else:
        out = Path(args.out or ROOT / "reports" / f"{_dt.date.today().isoformat()}-bench")
        cmd = [sys.executable, "-m", "chord", "bench", *HEADLINE_ARGS, "--out", str(out)]
        print("running: " + " ".join(cmd[1:]), file=sys.stderr)
        r = subprocess.run(cmd, cwd=ROOT)
        if r.returncode:
            print(f"regen_headline: the benchmark failed (exit {r.returncode}); nothing rewritten", file=sys.stderr)
            return r.returncode
        json_path = out / "results.json"
    doc = results.load(json_path)

    def rel(q: Path) -> str:
        q = q.resolve()
        return str(q.relative_to(ROOT)) if q.is_relative_to(ROOT) else str(q)

    command = "python -m chord bench " + " ".join(HEADLINE_ARGS) + f" --out {rel(out)}"
    md = write_report(doc, out, command)
    files = args.files or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    # links are relative to the file that holds the block (README.md at the root, docs/*.md one down)
    done = [
        f
        for f in files
        if f.exists()
        and rewrite(
            f,
            block(
                doc,
                command,
                os.path.relpath(md.resolve(), f.resolve().parent),
                os.path.relpath((ROOT / "reports").resolve(), f.resolve().parent) + "/",
            ),
        )
    ]
    if not done:
        print(f"regen_headline: no file among {[str(f) for f in files]} has the {BEGIN!r} marker", file=sys.stderr)
        return 1
    print(f"wrote {rel(md)}; rewrote the headline block in " + ", ".join(rel(f) for f in done), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
