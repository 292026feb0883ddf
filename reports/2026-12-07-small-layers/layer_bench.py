# ruff: noqa: E401, E402, E701, E702 (a measurement script, kept as run)
"""Per-layer and backbone timings at the e2e shapes (M = 50 rows, K,N in {64,256}):
F.linear fp32, the swapped module exact/act8, the raw binding per forced path."""

import sys

import torch

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.bench.timing import TimingPolicy, measure
from chord.quantize.modules import MixedPrecisionLinear


def best(f, n=400):
    p = TimingPolicy(min_rounds=n, max_rounds=n, min_time_s=0.0, max_time_s=float("inf"), min_round_s=0.0)
    return measure(lambda i: f(), p)["min"] * 1e6  # us


t = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(t)
_cpu = cb._cpu
print(f"t={t} isa={_cpu.cpu_isa()}  us (min)")
mix = parse_mix("mix3")[1]
print(
    f"{'M':>4} {'K':>4} {'N':>4} {'F.lin':>7} {'ex mod':>7} {'a8 mod':>7} {'ex dir':>7} {'ex pan':>7} {'a8 dir':>7} {'a8 pan':>7} auto(ex/a8)"
)
with torch.no_grad():
    for M, K, N in [(50, 64, 64), (50, 64, 256), (50, 256, 64), (1, 64, 64), (100000 // 2000, 64, 64)][:4]:
        g = torch.Generator().manual_seed(0)
        lin = torch.nn.Linear(K, N)
        codes = mix_codes(mix, N, seed=1)
        x = torch.randn(1, M, K, generator=g)
        me = MixedPrecisionLinear.from_float(lin, codes, act_bits=0)
        ma = MixedPrecisionLinear.from_float(lin, codes, act_bits=8)
        me(x)
        ma(x)
        mw = me.mw
        x2 = x[0]
        y = torch.empty(M, N)
        b = lin.bias.detach()
        args = lambda ab, path: (
            _cpu.mp_linear,
            (
                x2.numpy(),
                0,
                mw.qweight.numpy(),
                mw.scales.numpy(),
                mw.zeros.numpy(),
                mw.perm.numpy(),
                mw.buckets,
                K,
                b.numpy(),
                ab,
                y.numpy(),
                t,
                "auto",
                path,
            ),
        )

        def raw(ab, path):
            f, a = args(ab, path)
            return lambda: f(*a)

        r = [
            best(lambda: lin(x)),
            best(lambda: me(x)),
            best(lambda: ma(x)),
            best(raw(0, "direct")),
            best(raw(0, "panel")),
            best(raw(8, "direct")),
            best(raw(8, "panel")),
        ]
        pa = [
            _cpu.mp_linear_path(
                mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K, M, ab
            )
            for ab in (0, 8)
        ]
        print(f"{M:>4} {K:>4} {N:>4} " + " ".join(f"{v:7.1f}" for v in r) + f"  {pa[0]}/{pa[1]}")
    from chord.bench.suites.e2e import _quantized, build_model

    for name in ("sasrec", "caser"):
        m = build_model(name, 100000, 0)
        seqs = torch.randint(1, 100001, (1, 50))
        qe = _quantized(m, mix, False, 0, 0)
        qa = _quantized(m, mix, False, 8, 0)
        tf, te, ta = best(lambda: m(seqs), 200), best(lambda: qe(seqs), 200), best(lambda: qa(seqs), 200)
        print(
            f"{name} backbone-only forward B=1 (no scoring): fp32 {tf:.0f} us, exact {te:.0f} ({tf / te:.2f}x), act8 {ta:.0f} ({tf / ta:.2f}x)"
        )
