import sys

import torch
from probe_kernels import report  # this folder: the same rows, same timing

import chord
from chord import format as fmt
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.codebook import Codebook
from chord.mixed_weight import plan_buckets
from chord_kernels import _cpu

torch.manual_seed(0)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(1)
cases = {}
for N, K in ((1024, 1024), (4096, 4096)):
    w = torch.randn(N, K)
    codes = mix_codes(NAMED_MIXES["mix3"], N)
    perm, buckets = plan_buckets(codes, Codebook.default())
    qw = torch.empty(fmt.total_bytes(buckets, K), dtype=torch.uint8)
    sc = torch.empty(N)
    ze = torch.empty(N)
    a = (w.numpy(), perm.to(torch.int32).numpy(), buckets, "sym", qw.numpy(), sc.numpy(), ze.numpy())
    cases[f"quantize_pack kernel {N}x{K}"] = (lambda a=a: lambda th: _cpu.quantize_pack(*a, th))()
    mw = chord.pack(w, codes)
    cases[f"chord.pack {N}x{K}"] = (
        lambda w=w, codes=codes: lambda th: (torch.set_num_threads(th), chord.pack(w, codes), torch.set_num_threads(1))
    )()
report(cases, lambda name: 20 if "4096" in name else 60, n, set_threads=False)
