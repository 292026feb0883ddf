"""``chord demo``: CHORD end to end on the built-in ML-100K default, in a few minutes on 2 cores.

1. trains an fp32 backbone briefly (the shared backbone, then frozen: the pretrained-frozen
   variant), 2. trains the cloud hypernetworks + device profiler briefly through the per-user
   mixed-precision forward, 3. for a few users, under two device budgets, runs the real round
   trip: profile on the device -> strategy bytes from the cloud -> pack the frozen weights ->
   rerank, and 4. prints accuracy (test, full ranking and 1+99), bytes sent and latency next to
   the fp32 backbone and uniform PTQ.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, help="dataset name or path (default: the built-in ML-100K)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--model", choices=["sasrec", "caser"], default="sasrec")
    p.add_argument("--budgets", type=float, nargs=2, default=[3.0, 2.0], help="two device budgets (avg bits)")
    p.add_argument("--fp32-minutes", type=float, default=1.0, help="fp32 backbone training time")
    p.add_argument("--chord-minutes", type=float, default=1.5, help="CHORD training time")
    p.add_argument("--users", type=int, default=3, help="users shown in the device round trip")
    p.add_argument("--eval-users", type=int, default=400, help="test users evaluated (0 = all)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)


def run(args) -> int:
    from chord.system.cloud.service import CloudService
    from chord.data import DEFAULT_DATASET, LeaveOneOut, load_dataset
    from chord.system.device import Device
    from chord.eval.evaluator import Evaluator
    from chord.experiments.baselines import uniform_codes
    from chord.system import ChordConfig, ChordTrainer, CodesModel, build_system
    from chord.system.trainer import restrict_evaluator
    from chord.models import build_model
    from chord.quantize.strategy import Strategy
    from chord.train import TrainConfig, Trainer

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    ds = load_dataset(args.dataset or DEFAULT_DATASET, args.data_dir)
    split = LeaveOneOut(ds)
    print(f"dataset: {ds}")
    torch.manual_seed(args.seed)
    cfg = {"model": args.model, "num_items": ds.num_items}
    if args.model == "caser":
        cfg["num_users"] = ds.num_users
    backbone = build_model(cfg)
    quiet = lambda *_: None   # noqa: E731
    print(f"[1/4] training the fp32 {args.model} backbone for {args.fp32_minutes} min ...", flush=True)
    Trainer(TrainConfig(max_minutes=args.fp32_minutes, seed=args.seed, threads=args.threads, progress=False),
            log=quiet).fit(backbone, split)
    backbone.eval()
    ccfg = ChordConfig(budget=args.budgets[0], max_minutes=args.chord_minutes, epochs=50, instances_per_epoch=8192,
                       seed=args.seed, threads=args.threads, progress=False, loss="ce", eval_users=args.eval_users)
    system = build_system(copy.deepcopy(backbone), ccfg)
    print(f"[2/4] training CHORD (hypernetworks + profiler, frozen backbone) for {args.chord_minutes} min ...",
          flush=True)
    summ = ChordTrainer(ccfg, log=quiet).fit(system, split)
    system.eval()
    print(f"      {summ['epochs_run']} epochs, best valid NDCG@10 {summ['valid']['NDCG@10']:.4f}")

    print("[3/4] evaluating on the test split (full ranking and 1+99) ...", flush=True)
    ev = Evaluator(split, ccfg.history)
    if args.eval_users:
        restrict_evaluator(ev, args.eval_users)
    specs = system.specs
    rows = [("fp32 backbone", 32.0, ev.evaluate(backbone, "test"))]
    for b in (4, 2):
        c = uniform_codes(specs, b)
        rows.append((f"uniform PTQ {b}-bit", float(b), ev.evaluate(CodesModel(backbone, lambda s, u, c=c: c, specs),
                                                                  "test")))
    for b in args.budgets:
        system.eval_budget = b
        rows.append((f"CHORD @ {b:g} bits", b, ev.evaluate(system, "test")))

    print(f"[4/4] device round trip for {args.users} users under budgets {args.budgets} ...", flush=True)
    svc = CloudService(system.planner, system.backbone)
    st = ev._stage("test")
    negs = ev.negatives("test")
    sizes = {s.name: (s.channels, s.elems) for s in specs}
    fp32_bytes = Strategy.fp32_bytes(sizes)
    fp = copy.deepcopy(backbone).eval()
    trips = []
    for b in args.budgets:
        dev = Device(system.backbone, system.profiler, budget=b)
        for i in range(args.users):
            seq = st["seqs"][i:i + 1]
            cand = torch.cat([st["targets"][i:i + 1, None], negs[i:i + 1]], 1)
            u, budget = dev.request(seq[0])
            wire = svc.respond(u, budget)[0]
            compact = svc.strategies(u, budget)[0].to_bytes(svc.fingerprint, names=False)
            stats = dev.adapt(wire)
            user = ev.users[i:i + 1]
            dev.rerank(seq, cand, users=user)
            lat = min(dev.rerank(seq, cand, users=user)[2] for _ in range(5))
            t = []
            for _ in range(5):
                a = time.perf_counter()
                fp.score(fp(seq, users=user), cand).topk(10)
                t.append(time.perf_counter() - a)
            ids = dev.rerank(seq, cand, users=user)[0][0]
            trips.append((b, i, len(wire), len(compact), stats, lat, min(t),
                          int((ids == st["targets"][i]).nonzero().numel() and (ids == st["targets"][i]).nonzero()[0]) + 1
                          if bool((ids == st["targets"][i]).any()) else None))

    print(f"\nTest accuracy ({ds.name} leave-one-out, {ev.users.numel()} users; full ranking with history "
          "masked | 1 + 99 sampled)")
    print(f"{'method':<20} {'bits':>5} {'HR@10':>8} {'NDCG@10':>8} | {'HR@10':>8} {'NDCG@10':>8}")
    for name, bits, r in rows:
        f, s = r["full"], r["sampled"]
        print(f"{name:<20} {bits:5.1f} {f['HR@10']:8.4f} {f['NDCG@10']:8.4f} | {s['HR@10']:8.4f} {s['NDCG@10']:8.4f}")
    print(f"\nBytes sent per adaptation: fp32 weights {fp32_bytes} B ({len(specs)} layers) vs CHORD codes "
          f"(2 bits per channel, {sum(s.channels for s in specs)} channels + header)")
    print(f"{'budget':>6} {'user':>4} {'wire B':>7} {'compact B':>9} {'avg bits':>8} {'adapt ms':>9} "
          f"{'rerank ms':>9} {'fp32 ms':>8} {'target rank':>11}")
    for b, i, w, c, stats, lat, lat_fp, hit in trips:
        print(f"{b:6.1f} {i:4d} {w:7d} {c:9d} {stats.avg_bits:8.3f} {stats.total_s * 1e3:9.2f} {lat * 1e3:9.2f} "
              f"{lat_fp * 1e3:8.2f} {('top-10 #%d' % hit) if hit else '-':>11}")
    print(f"\ndemo finished in {time.perf_counter() - t_start:.0f} s")
    return 0
