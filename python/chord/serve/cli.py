"""``chord serve``: the strategy service on uvicorn (needs the ``serve`` extra).

Default model: the demo's checkpoint (``chord demo --checkpoint ckpt/demo``); ``--checkpoint DIR`` for
another; ``--random`` for an untrained planner of a backbone's shape (load tests, benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

from chord.cli_args import add_threads_argument

from .defaults import (
    MAX_BATCH,
    MAX_BODY,
    MAX_QUEUE_MS,
    MAX_WAIT_MS,
    QUEUE,
    RANDOM_BLOCKS,
    RANDOM_DIM,
    RANDOM_MODEL,
    RANDOM_NUM_ITEMS,
)
from .service_loader import DEMO_CHECKPOINT
from .workers import METRICS_DIR_ENV, reuseport_supported, supervise, uvicorn_settings

#: the server settings ``python -m chord.serve.loadgen --spawn`` passes on to ``chord serve``
TUNING = ("seed", "threads", "http", "max_wait_ms", "queue", "max_queue_ms", "max_inflight", "shared_socket")


def add_tuning_arguments(p: argparse.ArgumentParser, sweep: bool = False) -> None:
    """The server settings a load test varies (``TUNING``), shared by ``chord serve`` and the
    load generator, which passes them on (``tuning_argv``); sweep: ``--max-inflight`` takes
    several values (the load generator runs one configuration per value)."""
    p.add_argument("--seed", type=int, default=0, help="seed of the --random planner")
    add_threads_argument(
        p,
        default=1,
        why="per worker; default 1: a batch's ops are too small to split well, and the event loop needs a core "
        "too; scale with --workers",
    )
    p.add_argument(
        "--http",
        choices=["auto", "h11", "httptools"],
        default="auto",
        help="uvicorn's HTTP parser (auto: httptools when installed, the serve extra installs it)",
    )
    p.add_argument(
        "--max-wait-ms",
        type=float,
        default=MAX_WAIT_MS,
        help="a batch's longest wait for company (chord.serve.batcher)",
    )
    p.add_argument("--queue", type=int, default=QUEUE, help="most requests waiting; past it: 503 + Retry-After")
    p.add_argument(
        "--max-queue-ms",
        type=float,
        default=MAX_QUEUE_MS,
        help="shed (503) when the predicted queue wait is over this (0: only --queue sheds)",
    )
    p.add_argument(
        "--max-inflight",
        type=int,
        default=None,
        nargs="+" if sweep else None,
        help="most strategy requests a worker answers at a time; past it: 503 + Retry-After before the body "
        "is read (default: --max-batch, one forward's worth; 0: no limit)",
    )
    p.add_argument(
        "--shared-socket",
        action="store_true",
        help="with --workers > 1: uvicorn's own workers on one shared socket instead of one SO_REUSEPORT "
        "socket per worker (the Linux default; chord.serve.workers says why)",
    )


def tuning_argv(args) -> list[str]:
    """``chord serve`` options repeating the ``TUNING`` settings of ``args``."""
    out = []
    for name in TUNING:
        v = getattr(args, name)
        if v is None:  # the server's default
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(v, bool):
            out += [flag] if v else []
        else:
            out += [flag, str(v)]
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", default=None, help=f"CHORD checkpoint directory (default: the demo's, {DEMO_CHECKPOINT})"
    )
    p.add_argument("--random", action="store_true", help="serve an untrained, seeded planner (no checkpoint)")
    p.add_argument("--model", choices=["sasrec", "caser"], default=RANDOM_MODEL, help="backbone shape for --random")
    p.add_argument("--num-items", type=int, default=RANDOM_NUM_ITEMS, help="item count for --random (ML-100K's)")
    p.add_argument("--dim", type=int, default=RANDOM_DIM, help="SASRec width for --random")
    p.add_argument("--blocks", type=int, default=RANDOM_BLOCKS, help="SASRec blocks for --random")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (stateless replicas)")
    p.add_argument("--max-batch", type=int, default=MAX_BATCH, help="most requests per planner forward")
    add_tuning_arguments(p)
    p.add_argument("--max-body", type=int, default=MAX_BODY, help="largest request body, bytes (past it: 413)")
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
    if args.max_inflight is not None and args.max_inflight < 0:
        print(f"chord serve: --max-inflight: expected >= 0 (0: no limit), got {args.max_inflight}", file=sys.stderr)
        return 2
    threads = args.threads
    # workers read these when they import torch and numpy: pools sized for every core in each of N
    # workers would oversubscribe the cores (the worker also calls torch.set_num_threads)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
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
            "max_inflight": args.max_inflight,
            "max_body": args.max_body,
        }
    )
    if args.workers > 1 and not args.shared_socket and reuseport_supported():
        # the supervisor replaces this process (same pid): it needs no torch, and this process has
        # imported all of chord and torch (memory that would stay resident for the server's lifetime)
        return supervise(args.workers, args.host, args.port, http=args.http, graceful_s=args.graceful_s)
    # one worker, or uvicorn's workers: they share the metrics directory all the same
    metrics_dir = tempfile.mkdtemp(prefix="chord-serve-metrics-") if args.workers > 1 else None
    if metrics_dir:
        os.environ[METRICS_DIR_ENV] = metrics_dir
    try:
        uvicorn.run(
            host=args.host, port=args.port, workers=args.workers, **uvicorn_settings(args.http, args.graceful_s)
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
