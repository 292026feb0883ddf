import statistics
import sys

import torch

import chord
from chord.bench import contend
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.bench.timing import per_call


def cases():
    w = torch.randn(4096, 4096)
    codes = mix_codes(NAMED_MIXES["mix3"], 4096)
    mw = chord.pack(w, codes)
    x1 = torch.randn(1, 4096)
    x16 = torch.randn(16, 4096)
    tbl = chord.pack(torch.randn(100000, 64), mix_codes(NAMED_MIXES["mix3"], 100000))
    u = torch.randn(1, 64)
    w2 = torch.randn(1024, 1024)
    c2 = mix_codes(NAMED_MIXES["mix3"], 1024)
    return {
        "mp_linear M=1 4096² act8": lambda: chord.mp_linear(x1, mw, act_bits=8),
        "mp_linear M=16 4096² exact": lambda: chord.mp_linear(x16, mw),
        "mp_topk 100k×64 k=10": lambda: chord.mp_topk(u, tbl, 10),
        "pack 1024²": lambda: chord.pack(w2, c2),
        "pack 4096²": lambda: chord.pack(w, codes),
    }


def t(fn, reps):
    out = per_call(lambda i: fn(), reps, warmup=2)
    return min(out), statistics.median(out)


def report(cases, reps_of, n_busy: int, set_threads: bool = True) -> None:
    """Min and median ms of each case ``f(threads)`` at 1 and 2 threads beside ``n_busy`` busy
    processes (``reps_of(name)`` single calls each; ``set_threads``: torch's thread count is set first)."""
    with torch.inference_mode(), contend.busy_processes(n_busy) as busy:
        print("contend:", busy)
        for name, f in cases.items():
            row = []
            for th in (1, 2):
                if set_threads:
                    torch.set_num_threads(th)
                row.append(t(lambda: f(th), reps_of(name)))
            print(
                f"{name:30s} t1 min {row[0][0] * 1e3:8.3f} med {row[0][1] * 1e3:8.3f} | t2 min {row[1][0] * 1e3:8.3f} med {row[1][1] * 1e3:8.3f} | med t2/t1 {row[1][1] / row[0][1]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    torch.manual_seed(0)
    report(
        {name: (lambda fn: lambda th: fn())(fn) for name, fn in cases().items()},
        lambda name: 30 if "4096² " in name and "pack" in name else 60,
        int(sys.argv[1]) if len(sys.argv) > 1 else 1,
    )
