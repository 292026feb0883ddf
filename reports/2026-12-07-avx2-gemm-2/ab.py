"""A/B of chord act8 int8 GEMM builds: SOS=label:path.so[:switch],... (copies of chord_kernels._cpu's
.so; switch: a CHORD_GEMM_VAR value or ENV=VALUE, set before each call). One spawned worker process
per label (two builds imported into one process come back as the same module: the extension's
single-phase init is cached), called in turn round by round from this process; min wall (or
TIMER=cpu: the worker thread's CPU) time per label; EXTRA=dyn,q2k times torch dynamic int8 and
llama.cpp Q2_K (the bench's ggml peer) in this process between them. same=True: every label not
starting with x_ wrote the same output bytes.

    SOS=base:so/base.so,new:so/new.so EXTRA=dyn,q2k MS=16 THREADS=1,2 python ab.py
"""

import importlib.machinery
import importlib.util
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import zlib

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "reports", "2026-12-07-avx2-gemm"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from bench import weight  # noqa: E402  (the cost fit's seeded layers, cached)

CLOCK = time.thread_time_ns if os.environ.get("TIMER") == "cpu" else time.perf_counter_ns
SWITCHES = ("CHORD_GEMM_VAR", "CHORD_M16_OLD")


def load(label, path):
    """The extension module of the .so at path (a copy under a fresh name)."""
    d = tempfile.mkdtemp(prefix="ab_" + label)
    dst = os.path.join(d, "_cpu" + importlib.machinery.EXTENSION_SUFFIXES[0])
    shutil.copy(path, dst)
    spec = importlib.util.spec_from_file_location("_cpu", dst)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def tmin(f, budget):
    f()
    best, n, end = float("inf"), 0, time.perf_counter() + budget
    while n < 5 or (n < 2000 and time.perf_counter() < end):
        t0 = CLOCK()
        f()
        best, n = min(best, CLOCK() - t0), n + 1
    return best / 1e6


def set_switch(v):
    for k in SWITCHES:
        os.environ.pop(k, None)
    if v and "=" in v:
        k, _, val = v.partition("=")
        os.environ[k] = val
    elif v:
        os.environ["CHORD_GEMM_VAR"] = v


def serve(path, conn):
    """Worker: times mp_linear of the build at path for each request, returns (ms, crc of y)."""
    m = load("w", path)
    cache = {}
    while True:
        try:
            a = conn.recv()
        except EOFError:
            return
        key = (a["N"], a["K"], a["mix"], a["M"])
        if key not in cache:
            x = torch.randn(a["M"], a["K"], generator=torch.Generator().manual_seed(a["seed"]))
            cache[key] = (weight(a["N"], a["K"], a["mix"]), x, torch.empty(a["M"], a["N"]))
        args, x, y = cache[key]
        set_switch(a["var"])
        y.fill_(float("nan"))

        def run(args=args, x=x, y=y, a=a):
            m.mp_linear(x.numpy(), 0, *args[:5], a["K"], None, 8, y.numpy(), a["nt"], a["isa"], a["path"])

        conn.send((tmin(run, a["budget"]), zlib.crc32(y.numpy().tobytes())))


class Worker:
    def __init__(self, path):
        ctx = mp.get_context("spawn")
        self.conn, c = ctx.Pipe()
        self.p = ctx.Process(target=serve, args=(path, c), daemon=True)
        self.p.start()

    def run(self, a):
        self.conn.send(a)
        return self.conn.recv()


def main():
    sos = [(s.split(":") + [""])[:3] for s in os.environ["SOS"].split(",")]
    workers = {label: Worker(p) for label, p, _ in sos}
    switch = {label: v for label, _, v in sos}
    extra = [v for v in os.environ.get("EXTRA", "").split(",") if v]
    Ms = [int(v) for v in os.environ.get("MS", "16").split(",")]
    ths = [int(v) for v in os.environ.get("THREADS", "1,2").split(",")]
    rounds = int(os.environ.get("ROUNDS", "3"))
    budget = float(os.environ.get("BUDGET", "0.3"))
    path, isa = os.environ.get("PATH_", "panel"), os.environ.get("ISA", "avx2")
    N = K = int(os.environ.get("NK", "4096"))
    mix = os.environ.get("MIX", "mix3")
    g = torch.Generator().manual_seed(0)
    dyn = None
    if "dyn" in extra:
        lin = torch.nn.Linear(K, N)
        dyn = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, torch.qint8)
    w = torch.randn(N, K, generator=g)
    qcache = {}
    for M in Ms:
        x = torch.randn(M, K, generator=g)
        for nt in ths:
            local = {}
            if dyn is not None:
                local["dyn"] = lambda x=x: dyn(x)
            if "q2k" in extra:
                from chord.bench.peer_ggml import ggml_matmul

                q2 = ggml_matmul("ggml_q2_k", w, x, 1, nt, qcache=qcache)
                local["q2k"] = lambda q2=q2: q2.fn(0)
            req = dict(M=M, nt=nt, budget=budget, path=path, isa=isa, mix=mix, N=N, K=K, seed=M)
            best, crc = {}, {}
            torch.set_num_threads(nt)
            with torch.no_grad():
                for _ in range(rounds):
                    for label, wk in workers.items():
                        t, c = wk.run(dict(req, var=switch[label]))
                        best[label], crc[label] = min(best.get(label, 1e9), t), c
                    for k, f in local.items():
                        best[k] = min(best.get(k, 1e9), tmin(f, budget))
            same = len({v for k, v in crc.items() if not k.startswith("x_")}) == 1
            ref = next(iter(workers))
            cells = " ".join(f"{k}={v:.3f}" for k, v in best.items())
            rat = " ".join(f"{k}/{ref}={best[k] / best[ref]:.3f}" for k in workers if k != ref)
            load = os.getloadavg()[0]
            print(f"{N}x{K} {mix} M={M} t={nt} {cells} {rat} same={same} load={load:.2f} {time.strftime('%H:%M:%S')}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
