"""A/B of a fused-runtime forward: layouts kept (runtime::Linear::cache) against laid out per call
(keep_layouts=False: the code before the cache), same process, same spec, interleaved rounds
(a b, b a, ...). Prints min / median per call (us) of each and their ratio, and checks that the
two give the same bits.
  python ab_runtime.py [rounds]"""

import sys
import time

import torch

import chord
import chord.runtime as rt
from chord.backends import cpu as cpu_backend
from chord.models import Caser, SASRec
from chord.quantize.layers import quantizable_layers

_cpu = cpu_backend._cpu
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
torch.set_num_threads(1)


def quantized(model, seed=3):
    g = torch.Generator().manual_seed(seed)
    spec = {
        n: torch.randint(0, 4, (i.channels,), generator=g).to(torch.uint8) for n, i in quantizable_layers(model).items()
    }
    chord.quantize_(model, spec, act_bits=8)
    return model


def case(name, model, B, L, nthreads):
    spec = rt.model_spec(model)
    cls = _cpu.SASRecRunner if isinstance(model, SASRec) else _cpu.CaserRunner
    kept, per_call = cls(spec, "auto"), cls(spec, "auto", keep_layouts=False)
    seqs = torch.randint(1, model.num_items + 1, (B, L), generator=torch.Generator().manual_seed(1)).numpy()

    def mk(r):
        out = torch.empty(B, model.dim)
        o = out.numpy()
        if isinstance(model, SASRec):
            return (lambda: r.represent(seqs, o, nthreads)), out
        users = (torch.arange(B) % model.num_users).numpy()
        return (lambda: r.represent(seqs, users, o, nthreads)), out

    fa, ya = mk(per_call)
    fb, yb = mk(kept)
    fa()
    fb()
    same = torch.equal(ya, yb)
    one = time.perf_counter()
    fa()
    one = time.perf_counter() - one
    it = max(1, int(0.01 / one))
    ta, tb, ca, cb = [], [], [], []
    for r in range(rounds):
        for f, t, c in ((fa, ta, ca), (fb, tb, cb)) if r % 2 == 0 else ((fb, tb, cb), (fa, ta, ca)):
            f()
            t0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(it):
                f()
            c.append((time.thread_time() - c0) / it * 1e6)
            t.append((time.perf_counter() - t0) / it * 1e6)
    ta.sort()
    tb.sort()
    ca.sort()
    cb.sort()
    med = lambda v: v[len(v) // 2]
    print(
        f"{name:<34} per-call min {ta[0]:8.1f} med {med(ta):8.1f} | kept min {tb[0]:8.1f} med {med(tb):8.1f} us"
        f" | kept/per-call min {tb[0] / ta[0]:.3f} med {med(tb) / med(ta):.3f} | caller CPU time med {med(ca):.1f} -> {med(cb):.1f} us"
        f" ({med(cb) / med(ca):.3f}) | same={same} cache_bytes={kept.cache_bytes}"
    )


torch.manual_seed(0)
s64 = quantized(SASRec(1000, dim=64, blocks=2, heads=2, max_len=50).eval())
s128 = quantized(SASRec(1000, dim=128, blocks=2, heads=2, max_len=50).eval())
cs = quantized(Caser(1000, dim=50, L=5, n_v=4, n_h=16, num_users=100, dropout=0.0).eval())
threads = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
for nt in threads:
    case(f"sasrec d64 B=1 l=50 t={nt}", s64, 1, 50, nt)
    case(f"sasrec d64 B=16 l=50 t={nt}", s64, 16, 50, nt)
    case(f"sasrec d128 B=1 l=50 t={nt}", s128, 1, 50, nt)
    case(f"caser d50 B=16 L=5 t={nt}", cs, 16, 5, nt)
