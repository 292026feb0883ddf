"""chord.mp_linear at M = 1, act8, mix3 8192², built as the bench builds it (chord.pack,
clone_packed rotation over >= 256 MiB): a time line. Windows of WIN seconds alternate 1 and 2
threads, each followed by WIN / 2 s of the pure read probe (_cpu.read_stream: the weight's bytes
per call, rotated over 256 MiB of 2 MiB pages, the same thread count). Per window: min / median of
single chord calls (chord.bench.timing.per_call_for), the read probe's min, the pool's counters,
the guest's steal time, and per thread (the caller first) tid:CPU it last ran on:utime ticks at the
window's start -> end. The first line gives this process's AnonHugePages (are the rotated weights on
2 MiB pages?).

    PYTHONPATH=<tree>/python:<tree> python py_timeline.py SECONDS [WIN] [K]
"""

import os
import sys
import threading
import time

import torch

import chord
import chord_kernels._cpu as cpu
from chord import host_memory
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn
from chord.bench.timing import per_call_for


def anon_huge_mib() -> int:
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("AnonHugePages"):
            return int(line.split()[1]) >> 10
    return -1


def steal() -> int:
    return int(open("/proc/stat").readline().split()[8])


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    win = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    K = int(sys.argv[3]) if len(sys.argv) > 3 else 8192
    w = seeded_randn(K, K, seed=0, device="cpu")
    x = seeded_randn(1, K, seed=1, device="cpu")
    _, mix = parse_mix("mix3")
    mw = chord.pack(w, mix_codes(mix, K, seed=0))
    n = max(2, -(-(256 << 20) // mw.nbytes))
    mws = clone_packed(mw, n)
    print(f"K={K} sets={n} nbytes={mw.nbytes >> 20} MiB AnonHugePages {anon_huge_mib()} MiB", flush=True)
    main_tid = str(threading.get_native_id())

    def cpus() -> str:  # per thread (main first): tid:CPU last ran on:utime ticks (/proc/.../stat)
        out = []
        for t in sorted(os.listdir("/proc/self/task"), key=lambda t: t != main_tid):
            f = open(f"/proc/self/task/{t}/stat").read().rsplit(")", 1)[1].split()
            if t == main_tid or int(f[11]) > 10:
                out.append(f"{t}:{f[36]}:{f[11]}")
        return " ".join(out)

    # the pure read probe beside it: the same bytes per call (the weight's size), rotated over 256 MiB
    rbuf = host_memory.empty_uint8(256 << 20)
    rbuf.fill_(1)
    ra, rn = rbuf.numpy(), mw.nbytes

    def read_window(t: int) -> float:
        best, j = float("inf"), 0
        wend = time.perf_counter() + win / 2
        while time.perf_counter() < wend:
            lo = (j % ((256 << 20) // rn)) * rn
            t0 = time.perf_counter()
            cpu.read_stream(ra[lo : lo + rn], t, 4096, False, 1)
            best = min(best, time.perf_counter() - t0)
            j += 1
        return 1e3 * best

    end = time.perf_counter() + seconds
    i = wi = 0
    while time.perf_counter() < end:
        t = 1 + wi % 2
        torch.set_num_threads(t)
        c0 = cpus()
        p0, s0 = cpu.pool_stats(), steal()
        ts = per_call_for(lambda j: chord.mp_linear(x, mws[j % n], act_bits=8), win, start=i)
        i += len(ts)
        p1 = cpu.pool_stats()
        rd = read_window(t)
        d = {k: p1[k] - p0[k] for k in p1}
        print(
            f"{wi:4d} t={t} calls={len(ts):5d} min {1e3 * ts[0]:.3f} med {1e3 * ts[len(ts) // 2]:.3f} ms"
            f" | read probe min {rd:.3f} ms | pool {d} steal {steal() - s0} threads(tid:cpu:utime) {c0} -> {cpus()}",
            flush=True,
        )
        wi += 1


if __name__ == "__main__":
    main()
