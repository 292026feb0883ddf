"""Fused native rerank (``chord.runtime``) vs torch: end-to-end latency at batch 1 and 256.

Re-runnable measurement behind README "Fused rerank runtime". For every trained SASRec or
Caser checkpoint (``--checkpoint sasrec|caser:DATASET:DIR``) and test-split histories, times the rerank =
user representation + top-10 over all items (and over 100 random candidates per user):

* torch eager fp32 (``model.score`` + ``torch.topk``, padding item masked) and the same
  function under ``torch.compile`` (an honest second baseline; compiled before timing);
* torch eager quantized (``chord.quantize_``: dense = Linear layers only, all = tables too;
  random 3.0-bit and uniform 8-bit strategies; fused ``mp_topk`` when the table is quantized);
* ``chord.runtime.compile`` of the fp32 model and of each quantized model: one native call.

Also checks that each fused runner returns the same top-10 ids as its eager model (share of
equal id lists, the padding item excluded from both; a tie or last-bit score difference can
swap neighbours).

Timings hold ``flock /tmp/chord-bench.lock``; use 1 torch thread. Example::

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python scripts/fused_rerank.py --data-dir ../shared/data \
        --checkpoint sasrec:beauty:runs/sasrec-beauty-ce --checkpoint sasrec:ml-100k:runs/sasrec-ml-100k-ce \
        --json bench_out/fused_rerank.json

Results measured with it: reports/2026-11-28-fused-rerank.md. Timing is chord.bench's (via
quantized_models.timeit).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

import chord
import chord.runtime as rt
from chord.bench.timing import run_facts
from chord.quantize import QuantizedEmbedding

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quantized_models import bench_lock, load_or_train, rerank_fn, strategies, timeit  # noqa: E402


def fused_fn(runner, seqs, users, k=10, candidates=None):
    if isinstance(runner, rt.FusedCaser):
        return lambda: runner.topk(seqs, k, candidates, users=users)
    return lambda: runner.topk(seqs, k, candidates)


def compiled_fn(model, seqs, users, k=10, candidates=None):
    """torch.compile of the fp32 rerank (forward + scores + top-k), compiled on first call."""

    @torch.compile(dynamic=False)
    def f(s, c):
        u = model(s, users=users)
        if c is not None:
            return torch.topk(model.score(u, c), k)
        sc = model.score(u)
        sc[:, 0] = float("-inf")
        return torch.topk(sc, k)

    @torch.no_grad()
    def call():
        return f(seqs, candidates)

    return call


@torch.no_grad()
def eager_ids(model, seqs, users, k=10, candidates=None):
    """The eager model's top-k ids with the padding item 0 excluded from all-item rankings (the
    fp32 rerank masks it; ``rerank_fn``'s quantized-table path does not, which matters only
    when scores tie at the top, e.g. a model whose representations collapsed to 0)."""
    ids = rerank_fn(model, seqs, users, k, candidates)()[1]
    if candidates is not None or not isinstance(model.item_emb, QuantizedEmbedding):
        return ids
    ids = model.item_emb.topk(model(seqs, users=users), k + 1)[1]
    return torch.stack([row[row != 0][:k] for row in ids])


def same_ids(a, b) -> float:
    """Share of rows whose top-k id lists are equal."""
    return float((a == b).all(dim=1).float().mean())


def measure(name, model, split, args, log):
    model.eval()
    gen = torch.Generator().manual_seed(0)
    seqs_all = split.history("test", model.max_len)
    users_all = torch.from_numpy(split.eval_users)
    quant = {}
    for scope in ("dense", "all"):
        q = copy.deepcopy(model)
        chord.quantize_(q, strategies(model, scope == "all")[1]["random-3.0"])
        quant[f"{scope}/random-3.0"] = q.eval()
        q = copy.deepcopy(model)
        chord.quantize_(q, bits=8, embeddings=scope == "all")
        quant[f"{scope}/uniform-8"] = q.eval()
    runners = {"fp32": rt.compile(model), **{k: rt.compile(q) for k, q in quant.items()}}
    res = {}
    for key, C in (("rerank_ms", None), ("rerank100_ms", 100)):
        res[key], res[key.replace("_ms", "_same_ids")] = {}, {}
        for B in (1, 256):
            idx = torch.randperm(seqs_all.shape[0], generator=gen)[:B]
            seqs, users = seqs_all[idx], users_all[idx]
            cand = None if C is None else torch.randint(1, model.num_items + 1, (B, C), generator=gen)
            fns = {"fp32 eager": rerank_fn(model, seqs, users, candidates=cand)}
            if not args.skip_compile:
                fns["fp32 torch.compile"] = compiled_fn(model, seqs, users, candidates=cand)
            for label, q in quant.items():
                fns[f"{label} eager"] = rerank_fn(q, seqs, users, candidates=cand)
            for label, r in runners.items():
                fns[f"{label} fused"] = fused_fn(r, seqs, users, candidates=cand)
            t = time.perf_counter()
            outs = {k: f() for k, f in fns.items()}  # warm-up, incl. torch.compile (outside the lock)
            log(f"[{name}] B={B} {key}: warm-up {time.perf_counter() - t:.1f}s")
            agree = {
                label: same_ids(
                    outs[f"{label} fused"][1],
                    eager_ids(model if label == "fp32" else quant[label], seqs, users, candidates=cand),
                )
                for label in runners
            }
            with bench_lock():
                torch.set_num_threads(args.threads)
                row = {k: timeit(f) * 1e3 for k, f in fns.items()}
            res[key][B] = row
            res[key.replace("_ms", "_same_ids")][B] = agree
            log(f"[{name}] {key} B={B} (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
            log(f"[{name}] same top-10 ids as eager: " + ", ".join(f"{k} {v:.3f}" for k, v in agree.items()))
    res["avg_history_len"] = float((seqs_all != 0).sum(1).float().mean())
    return res


def to_markdown(results: dict) -> str:
    out = []
    for name, r in results["models"].items():
        out += [
            f"**{name}** (`{r['checkpoint']}`, mean history length {r['avg_history_len']:.1f} of "
            f"max_len {r['max_len']})",
            "",
        ]
        for key, title in (("rerank_ms", "top-10 of all items"), ("rerank100_ms", "top-10 of 100 candidates")):
            lat = r[key]
            cols = list(next(iter(lat.values())))
            out += [
                f"| {title}: ms (speedup vs fp32 eager) | " + " | ".join(f"batch {B}" for B in lat) + " |",
                "|---|" + "---:|" * len(lat),
            ]
            for c in cols:
                out.append(
                    f"| {c} | "
                    + " | ".join(f"{lat[B][c]:.3f} ({lat[B]['fp32 eager'] / lat[B][c]:.2f}x)" for B in lat)
                    + " |"
                )
            same = r[key.replace("_ms", "_same_ids")]
            out += [
                "",
                "Fused top-10 id lists equal to the eager model's: "
                + "; ".join(f"batch {B}: " + ", ".join(f"{k} {v:.2f}" for k, v in s.items()) for B, s in same.items()),
                "",
            ]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", action="append", default=[], metavar="sasrec|caser:DATASET:DIR")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--skip-compile", action="store_true", help="no torch.compile baseline")
    p.add_argument("--json", default="bench_out/fused_rerank.json")
    p.add_argument("--from-json", default=None, help="only print the markdown of an existing results file")
    args = p.parse_args(argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    if args.from_json:
        print(to_markdown(json.loads(Path(args.from_json).read_text())))
        return 0
    torch.set_num_threads(args.threads)
    results = {
        "machine": run_facts(args.threads),
        "models": {},
    }
    for spec in args.checkpoint:
        model_name, dataset, ckpt = spec.split(":", 2)
        if model_name not in ("sasrec", "caser"):
            raise SystemExit(f"--checkpoint {spec}: the fused runtime covers sasrec and caser")
        model, meta, split = load_or_train(model_name, dataset, ckpt, args.data_dir, 10.0, log)
        name = f"{model_name}/{dataset}"
        results["models"][name] = dict(checkpoint=ckpt, max_len=model.max_len, **measure(name, model, split, args, log))
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    log(f"wrote {args.json}")
    print(to_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
