"""Load generator for ``chord serve``: a concurrency sweep with answer checking.

``python -m chord.serve.loadgen --spawn --workers 1 2 --concurrency 1 4 16 64 256 --seconds 5``
starts ``chord serve --random`` (seeded: the expected answer of every request is computed here,
in process, and every response is compared with it) once per configuration (workers x max
batch, one after the other in the same run), waits until every worker answers, runs each
concurrency level for ``--seconds`` over keep-alive connections (asyncio streams on uvloop, no
client library: the client shares the machine with the server and should cost little), and
reports strategies/s, p50/p99 latency, status counts, wrong answers, the server's batch sizes
(from ``/metrics``, all workers), CPU (server process tree, and the client's own, in cores busy)
and memory (RSS). ``--url`` measures a running server instead (it must serve ``--random`` with
the same seed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from urllib.parse import urlparse

import torch

from . import defaults
from .cli import add_tuning_arguments, tuning_argv
from .client import retry_after_wait, strategy_request_body
from .counters import bucket_quantile_ms
from .results import write_results
from .service_loader import random_service


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _cpu_rss(pid: int) -> tuple[float, float, dict[int, float]]:
    """(CPU seconds, RSS MiB) of the process tree under pid (Linux /proc), and the CPU seconds of
    each process in it (how evenly the workers share the load)."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    rss, each = 0.0, {}
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            each[p] = (int(fields[11]) + int(fields[12])) / tick
            rss += int(fields[21]) * page / 2**20
        except OSError:
            pass
    return sum(each.values()), rss, each


def _metrics(base: str) -> dict:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        return json.loads(r.read())


#: status key of a 503 that came without a usable Retry-After (counted as an error: the issue asks
#: for 503 + Retry-After)
NO_RETRY_AFTER = "503 without Retry-After"


def _retry_after(head: bytes) -> float | None:
    """What the device client waits after this 503 (``retry_after_wait``; None without the header)."""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"retry-after:"):
            return retry_after_wait(line.split(b":", 1)[1])
    return None


async def _worker(host, port, bodies, expected, stop_at, lat, status, wrong, idx0, retry_wait=None, shed_lat=None):
    reader, writer = await asyncio.open_connection(host, port)
    i = idx0
    try:
        while time.perf_counter() < stop_at:
            k = i % len(bodies)
            i += 1
            body = bodies[k]
            t = time.perf_counter()
            writer.write(
                b"POST /v1/strategy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            code = int(head.split(b" ", 2)[1])
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            data = await reader.readexactly(n)
            wait = _retry_after(head) if code == 503 else None
            status[NO_RETRY_AFTER if code == 503 and wait is None else code] += 1
            if code == 200:
                lat.append(time.perf_counter() - t)
                if data != expected[k]:
                    wrong.append(k)
            elif code == 503:
                shed_lat.append(time.perf_counter() - t)
                # as the device client does (chord.serve.client): wait what Retry-After says,
                # capped and jittered; --ignore-retry-after hammers instead (1 ms). Never past the
                # level's end: a shed client holds no request, and sleeping on would stretch the
                # level's wall time (the divisor of its throughput and CPU) by up to 1.5 s with
                # nothing served (reports/2026-12-07-serve-4.md)
                pause = retry_wait if retry_wait is not None else wait or 0.001
                await asyncio.sleep(max(0.0, min(pause, stop_at - time.perf_counter())))
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _level(host, port, conc, seconds, bodies, expected, retry_wait=None):
    lat, status, wrong, shed_lat = [], Counter(), [], []
    stop_at = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(
        *[
            _worker(host, port, bodies, expected, stop_at, lat, status, wrong, j * 7, retry_wait, shed_lat)
            for j in range(conc)
        ]
    )
    return lat, status, wrong, shed_lat, time.perf_counter() - t0


def _run(coro):
    """asyncio.run on uvloop when it is installed (the serve extra has it): the client shares the
    cores with the server, and uvloop's loop costs it less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3


def sweep(
    base: str, server_pid: int | None, conc_levels, seconds: float, ref, n_inputs: int = 256, retry_wait=None
) -> list[dict]:
    """retry_wait: seconds a client waits after a 503 (None: the Retry-After it got, as the device
    client does)."""
    u = urlparse(base)
    fp = ref.fingerprint
    g = torch.Generator().manual_seed(1234)
    emb = torch.randn(n_inputs, 64, generator=g)
    budgets = (torch.rand(n_inputs, generator=g) * 6 + 1).tolist()
    bodies = [strategy_request_body(emb[i], budgets[i], fp) for i in range(n_inputs)]
    expected = [ref.respond(emb[i : i + 1], budgets[i])[0] for i in range(n_inputs)]
    rows = []
    for conc in conc_levels:
        m0 = _metrics(base)
        c0 = _cpu_rss(server_pid) if server_pid else (0.0, 0.0, {})
        own0 = time.process_time()
        lat, status, wrong, shed_lat, wall = _run(
            _level(u.hostname, u.port, conc, seconds, bodies, expected, retry_wait)
        )
        own = time.process_time() - own0
        c1 = _cpu_rss(server_pid) if server_pid else (0.0, 0.0, {})
        m1 = _metrics(base)
        bs = Counter({int(k): v for k, v in m1["batch_size"].items()})
        bs.subtract({int(k): v for k, v in m0["batch_size"].items()})
        bs = {k: v for k, v in sorted(bs.items()) if v > 0}
        # the server's own latency histogram over this level (answered requests, from the moment the
        # handler took each one): set beside the client's p99, the gap is time before the handler
        hist = [b - a for a, b in zip(m0["latency_ms"]["buckets"].values(), m1["latency_ms"]["buckets"].values())]
        nb = sum(bs.values())
        rows.append(
            {
                "concurrency": conc,
                "seconds": wall,
                "ok": status.get(200, 0),
                "strategies_per_s": status.get(200, 0) / wall,
                "p50_ms": _pct(lat, 0.5),
                "p99_ms": _pct(lat, 0.99),
                "server_p99_le_ms": bucket_quantile_ms(hist, 0.99),
                "status": {str(k): v for k, v in sorted(status.items(), key=lambda kv: str(kv[0]))},
                # how fast a shed request learns it was shed
                "p99_503_ms": _pct(shed_lat, 0.99),
                "wrong": len(wrong),
                "batch_size": {str(k): v for k, v in bs.items()},
                "mean_batch": (sum(k * v for k, v in bs.items()) / nb) if nb else None,
                "server_cpu_cores": (c1[0] - c0[0]) / wall if server_pid else None,
                "server_rss_mib": c1[1] if server_pid else None,
                "client_cpu_cores": own / wall,
                # per server process, busiest first (with several workers: the supervisor is ~0)
                "process_cpu_cores": sorted(((c1[2][p] - c0[2].get(p, 0.0)) / wall for p in c1[2]), reverse=True),
                "server_workers": m1.get("workers"),
            }
        )
        r = rows[-1]
        # server CPU per answered strategy, 503s and all: on a shared machine the steadier figure
        # (it does not count the time other jobs hold the cores)
        r["cpu_ms_per_strategy"] = (c1[0] - c0[0]) * 1e3 / r["ok"] if server_pid and r["ok"] else None
        print(
            f"  c={conc:4d}  {r['strategies_per_s']:8.1f} strategies/s  p50 {r['p50_ms'] or 0:7.2f} ms  "
            f"p99 {r['p99_ms'] or 0:7.2f} ms (server <= {r['server_p99_le_ms'] or 0:g})  mean batch {r['mean_batch'] or 0:5.1f}  "
            f"cpu {r['server_cpu_cores'] or 0:4.2f} cores "
            f"({'+'.join(f'{c:.2f}' for c in r['process_cpu_cores'] if c >= 0.005) or '-'}; "
            f"client {r['client_cpu_cores']:4.2f})  "
            f"rss {r['server_rss_mib'] or 0:6.0f} MiB  "
            f"status {r['status']}  wrong {r['wrong']}",
            flush=True,
        )
    return rows


#: under overload the accepted requests' p99 may be at most this many times the knee's (the issue's
#: target), and their throughput at least this fraction of the knee's (shedding must not collapse it)
OVERLOAD_P99_RATIO, OVERLOAD_THROUGHPUT_RATIO = 2.0, 0.9


def overload_check(base, pid, rows, knee_c: int, factor: float, seconds: float, ref, retry_wait=None) -> dict:
    """Run at ``factor`` x the knee's concurrency: the only error allowed is 503, no answer may be
    wrong, the accepted requests' p99 must stay within OVERLOAD_P99_RATIO x the knee level's and
    their throughput at OVERLOAD_THROUGHPUT_RATIO of it or more."""
    conc = int(round(knee_c * factor))
    print(f"  overload: concurrency {conc} = {factor:g} x the knee", flush=True)
    row = sweep(base, pid, [conc], seconds, ref, retry_wait=retry_wait)[0]
    at_knee = next(r for r in rows if r["concurrency"] == knee_c)
    errors = {k: v for k, v in row["status"].items() if k not in ("200", "503")}
    p99_ratio = row["p99_ms"] / at_knee["p99_ms"] if row["p99_ms"] and at_knee["p99_ms"] else None
    x_ratio = row["strategies_per_s"] / at_knee["strategies_per_s"] if at_knee["strategies_per_s"] else None
    cpu = (at_knee.get("cpu_ms_per_strategy"), row.get("cpu_ms_per_strategy"))
    out = {
        "concurrency": conc,
        "row": row,
        "knee_p99_ms": at_knee["p99_ms"],
        "knee_strategies_per_s": at_knee["strategies_per_s"],
        "p99_ratio": p99_ratio,
        "throughput_ratio": x_ratio,
        # server CPU per answered strategy, overload over knee (shared machine: compare this)
        "cpu_per_strategy_ratio": cpu[1] / cpu[0] if all(cpu) else None,
        "errors_other_than_503": errors,
        "passed": not errors
        and row["wrong"] == 0
        and p99_ratio is not None
        and p99_ratio <= OVERLOAD_P99_RATIO
        and x_ratio is not None
        and x_ratio >= OVERLOAD_THROUGHPUT_RATIO,
    }
    print(
        f"  overload check: errors other than 503 {errors or 'none'}, wrong {row['wrong']}, accepted p99 "
        f"{row['p99_ms'] or 0:.1f} ms = {p99_ratio or 0:.2f} x the knee's (<= {OVERLOAD_P99_RATIO:g}), "
        f"throughput {x_ratio or 0:.2f} x the knee's (>= {OVERLOAD_THROUGHPUT_RATIO:g}), "
        f"503 p99 {row['p99_503_ms'] or 0:.1f} ms, server CPU per strategy {out['cpu_per_strategy_ratio'] or 0:.2f} x "
        f"the knee's ({'pass' if out['passed'] else 'FAIL'})",
        flush=True,
    )
    return out


def soak_run(base, pid, conc: int, seconds: float, ref, step: float = 10.0, retry_wait=None) -> dict:
    """Hold concurrency ``conc`` for ``seconds`` in ``step``-second levels; the server's RSS after
    each. Growth = last - first sample (the first after one step of warm-up)."""
    print(f"  soak: concurrency {conc} for {seconds:g} s, RSS every {step:g} s", flush=True)
    rows = sweep(base, pid, [conc] * max(1, int(seconds // step)), step, ref, retry_wait=retry_wait)
    rss = [r["server_rss_mib"] for r in rows]
    out = {
        "concurrency": conc,
        "seconds": seconds,
        "rss_mib": rss,
        "growth_mib": (rss[-1] - rss[0]) if pid else None,
        "requests": sum(sum(r["status"].values()) for r in rows),
        "ok": sum(r["ok"] for r in rows),
        "wrong": sum(r["wrong"] for r in rows),
        "errors_other_than_503": sum(v for r in rows for k, v in r["status"].items() if k not in ("200", "503")),
    }
    print(
        f"  soak: RSS {rss[0]:.0f} -> {rss[-1]:.0f} MiB (max {max(rss):.0f}), {out['ok']} answered, "
        f"{out['wrong']} wrong, {out['errors_other_than_503']} errors other than 503",
        flush=True,
    )
    return out


def knee(rows: list[dict]) -> int | None:
    """The concurrency where throughput stops growing in proportion and latency starts to: on the
    curve up to its best throughput, with concurrency and throughput each scaled to [0, 1], the
    level furthest above the straight line from the first level to the best one (the Kneedle
    criterion, Satopae et al. 2011). The best level itself when no level lies above that line
    (throughput grew ever faster up to it), the first when it is the best. Rows in sweep order."""
    if not rows:
        return None
    xs = [r["strategies_per_s"] for r in rows]
    b = max(range(len(rows)), key=xs.__getitem__)
    c0, cb, x0, xb = rows[0]["concurrency"], rows[b]["concurrency"], xs[0], xs[b]
    above = [
        ((xs[i] - x0) / (xb - x0) - (rows[i]["concurrency"] - c0) / (cb - c0), i)
        for i in range(1, b)
        if cb > c0 and xb > x0
    ]
    d, i = max(above, default=(0.0, b))
    return rows[i if d > 0 else b]["concurrency"]


def knee_within(rows: list[dict], within: float = 0.9) -> int | None:
    """The earlier rule, kept for comparison: the lowest concurrency reaching ``within`` of the
    best throughput. With 4x steps the best level is usually the most saturated one and the level
    before it often just misses 90 %, so this picks a level well past the bend (its p99 already
    inflated by queueing), which makes "2x the knee's p99" a loose bound."""
    best = max((r["strategies_per_s"] for r in rows), default=0)
    return next((r["concurrency"] for r in rows if best and r["strategies_per_s"] >= within * best), None)


def _health_pid(port: int) -> int | None:
    """The pid of the worker that answers /healthz on a fresh connection (None: nobody answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return json.loads(r.read())["pid"]
    except OSError:
        return None


def _spawn(port: int, args, workers: int, max_batch: int) -> subprocess.Popen:
    """``chord serve --random`` in its own process group, once every one of its workers answers
    (with one socket per worker a connection to a worker still loading would wait for it)."""
    cmd = [sys.executable, "-m", "chord", "serve", "--random", "--model", "sasrec", "--port", str(port)]
    cmd += ["--workers", str(workers), "--max-batch", str(max_batch), *tuning_argv(args)]
    # its own process group: stopping it stops every worker, whatever happens here
    proc = subprocess.Popen(cmd, start_new_session=True)
    seen, deadline = set(), time.monotonic() + 180
    while len(seen) < workers and time.monotonic() < deadline:
        pid = _health_pid(port)
        if pid is not None:
            seen.add(pid)
        elif proc.poll() is not None:
            raise SystemExit(f"chord serve exited {proc.returncode}")
        else:
            time.sleep(0.2)
    if len(seen) < workers:
        _stop(proc)
        raise SystemExit(f"chord serve: {len(seen)} of {workers} workers answered within 180 s")
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (supervisor and workers), SIGKILL it after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _configuration(args, ref, workers: int, mb: int) -> dict:
    """One server configuration: start it (or use --url), sweep, overload and soak, stop it."""
    proc = None
    if args.url:
        base, pid = args.url.rstrip("/"), None
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = _spawn(port, args, workers, mb)
        base, pid = f"http://127.0.0.1:{port}", proc.pid
    mi = args.max_inflight
    print(
        f"workers={workers} max_batch={mb} max_wait_ms={args.max_wait_ms} "
        f"max_inflight={'max batch' if mi is None else mi or 'no limit'} ({base})",
        flush=True,
    )
    try:
        rw = 0.001 if args.ignore_retry_after else None
        rows = sweep(base, pid, args.concurrency, args.seconds, ref, retry_wait=rw)
        k = args.knee_concurrency or knee(rows)
        print(
            f"  knee at concurrency {k} ({'given' if args.knee_concurrency else 'where throughput bends'}; "
            f"the lowest within 90% of the best: {knee_within(rows)})",
            flush=True,
        )
        if k not in {r["concurrency"] for r in rows}:
            raise SystemExit(f"--knee-concurrency: expected one of the swept levels {args.concurrency}, got {k}")
        over = soak = None
        if args.overload_factor and k:
            over = overload_check(base, pid, rows, k, args.overload_factor, args.seconds, ref, retry_wait=rw)
        if args.soak_seconds:
            over_c = int(round(k * args.overload_factor)) if args.overload_factor and k else None
            soak = soak_run(
                base, pid, args.soak_concurrency or over_c or k or 64, args.soak_seconds, ref, retry_wait=rw
            )
    finally:
        if proc is not None:
            _stop(proc)
    return {
        "workers": workers,
        "sockets": "one" if workers == 1 else "shared" if args.shared_socket else "one per worker (SO_REUSEPORT)",
        "max_batch": mb,
        "max_wait_ms": args.max_wait_ms,
        "queue": args.queue,
        "max_queue_ms": args.max_queue_ms,
        "threads": args.threads,
        "retry_after": "ignored (1 ms)" if args.ignore_retry_after else "honoured",
        "knee_concurrency": k,
        "knee_rule": "given" if args.knee_concurrency else "kneedle",
        "knee_within_90pct": knee_within(rows),
        "max_inflight": args.max_inflight,
        "rows": rows,
        "overload": over,
        "soak": soak,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m chord.serve.loadgen", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=None, help="a running `chord serve --random` (default: --spawn one)")
    p.add_argument("--spawn", action="store_true", help="start chord serve --random for each configuration")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="server worker processes; one sweep per value (same run)"
    )
    p.add_argument(
        "--max-batch", type=int, nargs="+", default=[defaults.MAX_BATCH], help="one sweep per value (1 = no batching)"
    )
    add_tuning_arguments(p, sweep=True)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    p.add_argument("--seconds", type=float, default=5.0, help="per concurrency level")
    p.add_argument(
        "--overload-factor",
        type=float,
        default=0,
        help="after the sweep, run --seconds at this many times the knee's concurrency and check: "
        "no error but 503, accepted p99 <= 2x the knee's (0: skip)",
    )
    p.add_argument(
        "--knee-concurrency",
        type=int,
        default=0,
        help="take this swept level as the knee instead of finding it (0: find it, see knee())",
    )
    p.add_argument(
        "--soak-seconds", type=float, default=0, help="then hold a load this long, sampling the server's RSS (0: skip)"
    )
    p.add_argument(
        "--soak-concurrency", type=int, default=0, help="the soak's concurrency (0: the overload's, else the knee's)"
    )
    p.add_argument(
        "--ignore-retry-after",
        action="store_true",
        help="after a 503 a client retries in 1 ms instead of waiting Retry-After (as chord.serve.client does)",
    )
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ref = random_service(seed=args.seed)
    results = []
    for workers in args.workers:
        for mb in args.max_batch:
            for mi in args.max_inflight or [None]:
                results.append(
                    _configuration(argparse.Namespace(**{**vars(args), "max_inflight": mi}), ref, workers, mb)
                )
    if args.out:
        write_results(args.out, "python -m chord.serve.loadgen", argv, results=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
