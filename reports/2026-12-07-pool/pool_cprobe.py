"""Beside one busy core: t=1 vs t=2 of chord.pack 4096^2 mix3 and its pieces (numpy finite check,
plan_buckets, the C++ quantize_pack alone: qpack; with its outputs preallocated: qpre; on 4 KiB
pages: q4k), alternating thread counts call by call (chord.bench.timing.per_call_threads);
CASES=a,b selects. Ran with reports/2026-12-07-pool/pool_hi.sh (busy machine)."""

import os

import torch

import chord
from chord import host_memory
from chord.backends import cpu as cpu_backend
from chord.backends.cpu import _cpu, _nthreads
from chord.bench import contend, timing
from chord.bench.config import mix_codes, parse_mix
from chord.functional import _all_finite
from chord.mixed_weight import plan_buckets

reps = int(os.environ.get("REPS", "15"))
N = K = 4096
g = torch.Generator().manual_seed(0)
ws = [torch.randn(N, K, generator=g) for _ in range(4)]
codes = mix_codes(parse_mix("mix3")[1], N, seed=0)
cb = chord.Codebook.default()
perm, buckets = plan_buckets(codes, cb)

qw = host_memory.empty_uint8(_cpu.packed_bytes(buckets, N, K))
qw.fill_(0)
sc = torch.empty(N)
ze = torch.empty(N)


def qpre(i):
    _cpu.quantize_pack(ws[i % 4].numpy(), perm.numpy(), buckets, "sym", qw.numpy(), sc.numpy(), ze.numpy(), _nthreads())


def q4k(i):
    old = host_memory.hugepages_available
    host_memory.hugepages_available = lambda: False
    try:
        return cpu_backend.quantize_pack(ws[i % 4], perm, buckets, "sym")
    finally:
        host_memory.hugepages_available = old


fns = {
    "qpre": qpre,
    "q4k": q4k,
    "pack": lambda i: chord.pack(ws[i % 4], codes),
    "qpack": lambda i: cpu_backend.quantize_pack(ws[i % 4], perm, buckets, "sym"),
    "finite": lambda i: _all_finite(ws[i % 4]),
    "plan": lambda i: plan_buckets(codes, cb),
}
sel = os.environ.get("CASES")
if sel:
    fns = {k: v for k, v in fns.items() if k in sel.split(",")}
with contend.busy_processes(int(os.environ.get("BUSY", "1"))), torch.inference_mode():
    res = {name: timing.per_call_threads(fn, reps) for name, fn in fns.items()}
for name in fns:
    print(timing.threads_row(name, res[name]), flush=True)
print("load", os.getloadavg())
