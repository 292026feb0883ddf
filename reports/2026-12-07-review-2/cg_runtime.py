"""One process for valgrind --tool=callgrind --collect-atstart=no
--toggle-collect='chord::runtime::<Arch>Runner::represent(*' (run_cg.sh): CALLS represent calls,
one thread, of a fused runner with layouts kept (KEEP=1) or laid out per call (KEEP=0). Every call
is counted: the kept runner's first call builds its layouts. ARCH: sasrec64 | sasrec128 | caser.
  python cg_runtime.py KEEP ARCH B CALLS"""

import sys

import torch

import chord
import chord.runtime as rt
from chord.backends import cpu as cpu_backend
from chord.models import Caser, SASRec
from chord.quantize.layers import quantizable_layers

keep, arch, B, calls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
torch.manual_seed(0)
if arch.startswith("sasrec"):
    m = SASRec(1000, dim=int(arch[6:] or 64), blocks=2, heads=2, max_len=50).eval()
    L = 50
else:
    m = Caser(1000, dim=50, L=5, n_v=4, n_h=16, num_users=100, dropout=0.0).eval()
    L = 5
g = torch.Generator().manual_seed(3)
chord.quantize_(
    m,
    {n: torch.randint(0, 4, (i.channels,), generator=g).to(torch.uint8) for n, i in quantizable_layers(m).items()},
    act_bits=8,
)
spec = rt.model_spec(m)
cls = cpu_backend._cpu.SASRecRunner if isinstance(m, SASRec) else cpu_backend._cpu.CaserRunner
r = cls(spec, "auto", keep_layouts=bool(keep))
seqs = torch.randint(1, 1001, (B, L), generator=torch.Generator().manual_seed(1)).numpy()
out = torch.empty(B, m.dim).numpy()
users = (torch.arange(B) % 100).numpy()
for _ in range(calls):
    if isinstance(m, SASRec):
        r.represent(seqs, out, 1)
    else:
        r.represent(seqs, users, out, 1)
print("checksum", float(out.astype("float64").sum()), "cache_bytes", r.cache_bytes)
