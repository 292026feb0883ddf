"""The planner's own cost, in process: ``CloudService.respond`` per batch size, fast paths against
the plain computation (the same codes; tests/system/cloud/test_planner.py checks it), one run.

``python -m chord.serve.planner_cost --threads 1 2 --batch 1 16 64 128 --out cost.json``

For each (threads, batch size, path): the minimum over ``--repeat`` calls of the wall time and of
the process CPU time (on a busy machine the CPU time is the steadier figure: it does not count the
time other jobs hold the cores), and strategies/s from each. The plain path is the planner before
its fast paths (element scores materialized per layer, the offset bisection over all channels,
one ``Strategy.to_bytes`` per user).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from .results import write_results
from .service_loader import random_service


def _plain_respond(service, emb, budgets):
    p = service.planner
    p.fast_paths = False
    try:
        return [s.to_bytes(service.fingerprint) for s in service.strategies(emb, budgets)]
    finally:
        p.fast_paths = True


def measure(service, batch: int, repeat: int, plain: bool) -> dict:
    g = torch.Generator().manual_seed(batch)
    emb = torch.randn(batch, 64, generator=g)
    budgets = torch.rand(batch, generator=g) * 6 + 1
    fn = (lambda: _plain_respond(service, emb, budgets)) if plain else (lambda: service.respond(emb, budgets))
    fn()  # warm-up
    wall = cpu = float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return {
        "path": "plain" if plain else "fast",
        "batch": batch,
        "wall_ms": wall * 1e3,
        "cpu_ms": cpu * 1e3,
        "strategies_per_s_wall": batch / wall,
        "strategies_per_s_cpu": batch / cpu,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m chord.serve.planner_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads, one run each")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64, 128])
    p.add_argument("--repeat", type=int, default=9, help="calls per point (the minimum is kept)")
    p.add_argument("--no-plain", action="store_true", help="skip the plain computation")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)
    service = random_service(seed=0)  # the demo's SASRec shape, as chord serve --random
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch:
            for plain in [True, False] if not args.no_plain else [False]:
                r = {"threads": threads, **measure(service, batch, args.repeat, plain)}
                rows.append(r)
                print(
                    f"threads {threads}  batch {batch:4d}  {r['path']:5s}  wall {r['wall_ms']:8.2f} ms "
                    f"({r['strategies_per_s_wall']:7.0f}/s)  cpu {r['cpu_ms']:8.2f} ms ({r['strategies_per_s_cpu']:7.0f}/s)",
                    flush=True,
                )
    if args.out:
        write_results(args.out, "python -m chord.serve.planner_cost", argv, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
