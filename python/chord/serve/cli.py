"""``chord serve``: the strategy service on uvicorn (needs the ``serve`` extra).

Default model: the demo's checkpoint (``chord demo --checkpoint ckpt/demo``); ``--checkpoint DIR`` for
another; ``--random`` for an untrained planner of a backbone's shape (load tests, benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .model import DEMO_CHECKPOINT


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", default=None, help=f"CHORD checkpoint directory (default: the demo's, {DEMO_CHECKPOINT})"
    )
    p.add_argument("--random", action="store_true", help="serve an untrained, seeded planner (no checkpoint)")
    p.add_argument("--model", choices=["sasrec", "caser"], default="sasrec", help="backbone shape for --random")
    p.add_argument("--num-items", type=int, default=1682, help="item count for --random (ML-100K: 1682)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --random planner")
    p.add_argument("--dim", type=int, default=64, help="SASRec width for --random")
    p.add_argument("--blocks", type=int, default=2, help="SASRec blocks for --random")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (stateless replicas)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per worker (default 1: a batch's ops are too small to split well, and the "
        "event loop needs a core too; scale with --workers)",
    )
    p.add_argument(
        "--http",
        choices=["auto", "h11", "httptools"],
        default="auto",
        help="uvicorn's HTTP parser (auto: httptools when installed, the serve extra installs it)",
    )
    p.add_argument("--max-batch", type=int, default=64, help="most requests per planner forward")
    p.add_argument("--max-wait-ms", type=float, default=2.0, help="how long a batch waits to fill")
    p.add_argument("--queue", type=int, default=1024, help="most requests waiting; past it: 503 + Retry-After")
    p.add_argument(
        "--max-queue-ms",
        type=float,
        default=200.0,
        help="shed (503) when the predicted queue wait is over this (0: only --queue sheds)",
    )
    p.add_argument("--max-body", type=int, default=64 * 1024, help="largest request body, bytes (past it: 413)")
    p.add_argument("--graceful-s", type=float, default=10.0, help="shutdown: seconds to finish in-flight requests")


def run(args) -> int:
    try:
        import uvicorn
    except ImportError:
        print("chord serve: needs FastAPI and uvicorn: pip install 'chord[serve]'", file=sys.stderr)
        return 2
    from .app import CONFIG_ENV

    if args.workers < 1:
        print(f"chord serve: --workers: expected >= 1, got {args.workers}", file=sys.stderr)
        return 2
    checkpoint = args.checkpoint or str(DEMO_CHECKPOINT)
    if not args.random and not os.path.isfile(os.path.join(checkpoint, "chord.json")):
        print(
            f"chord serve: no CHORD checkpoint in {checkpoint}. Make the demo's with `chord demo --checkpoint "
            f"{DEMO_CHECKPOINT}` (a few minutes), pass --checkpoint DIR, or serve an untrained planner with "
            "--random.",
            file=sys.stderr,
        )
        return 2
    if args.threads < 1:
        print(f"chord serve: --threads: expected >= 1, got {args.threads}", file=sys.stderr)
        return 2
    threads = args.threads
    os.environ[CONFIG_ENV] = json.dumps(
        {
            "checkpoint": checkpoint,
            "random": args.random,
            "model": args.model,
            "num_items": args.num_items,
            "seed": args.seed,
            "dim": args.dim,
            "blocks": args.blocks,
            "threads": threads,
            "max_batch": args.max_batch,
            "max_wait_ms": args.max_wait_ms,
            "queue": args.queue,
            "max_queue_ms": args.max_queue_ms,
            "max_body": args.max_body,
        }
    )
    uvicorn.run(
        "chord.serve.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=args.http,
        timeout_graceful_shutdown=args.graceful_s,
        log_level="warning",
        access_log=False,
    )
    return 0
