"""The fused runtime's packed layers keep the small-layer int8 path's weight layout
(``runtime::Linear::cache``, an ``mpl::WeightCache`` per layer: csrc/runtime/runtime_layers.h):
built by the first call that takes the path, read by every later one. Results must equal the
per-call layout's (``keep_layouts=False``) bit for bit, call after call; a runner rebuilt for a
changed weight must compute with the new one; nothing is built before a call or for layers that
never take the path."""

from __future__ import annotations

import pytest
import torch

import chord
import chord.runtime as rt
from chord.backends import cpu as cpu_backend
from chord.models import Caser, SASRec
from chord.quantize.layers import quantizable_layers

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu


def _sasrec(seed=0):
    torch.manual_seed(seed)
    m = SASRec(80, dim=64, blocks=2, heads=2, max_len=12, ffn_hidden=96).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.3 + (1.0 if name.endswith("norm.weight") else 0.0))
    return m


def _caser(seed=0):
    torch.manual_seed(seed)
    return Caser(80, dim=32, L=6, n_v=4, n_h=8, num_users=5, dropout=0.0).eval()


def _quantized(model, seed):
    g = torch.Generator().manual_seed(seed)
    spec = {
        name: torch.randint(0, 4, (info.channels,), generator=g).to(torch.uint8)
        for name, info in quantizable_layers(model).items()
    }
    chord.quantize_(model, spec, act_bits=8)
    return model


def _runners(model, isa="auto"):
    """(kept, per_call): the same spec, layouts kept and laid out per call."""
    spec = rt.model_spec(model)
    cls = _cpu.SASRecRunner if isinstance(model, SASRec) else _cpu.CaserRunner
    return cls(spec, isa), cls(spec, isa, keep_layouts=False), spec


def _represent(runner, model, seqs, nthreads=1):
    out = torch.full((seqs.shape[0], model.dim), float("nan"))
    if isinstance(model, SASRec):
        runner.represent(seqs.numpy(), out.numpy(), nthreads)
    else:
        users = torch.arange(seqs.shape[0]) % model.num_users
        runner.represent(seqs.numpy(), users.numpy(), out.numpy(), nthreads)
    return out


def _takes_small(layer: dict, M: int, isa: str) -> bool:
    args = (layer["qweight"], layer["scales"], layer["zeros"], layer["perm"], layer["buckets"], layer["K"])
    return _cpu.mp_linear_path(*args, M, 8, isa) == "small"


@pytest.mark.parametrize("arch", ["sasrec", "caser"])
@pytest.mark.parametrize("isa", cpu_backend.supported_isas())
def test_kept_layouts_bit_identical_to_per_call_layouts(arch, isa):
    model = _quantized(_sasrec() if arch == "sasrec" else _caser(), seed=3)
    kept, per_call, spec = _runners(model, isa)
    assert kept.cache_bytes == 0  # nothing laid out before the first call
    g = torch.Generator().manual_seed(5)
    for B, nthreads in ((8, 1), (8, 2), (1, 1), (16, 2)):
        seqs = torch.randint(1, model.num_items + 1, (B, 12 if arch == "sasrec" else model.L), generator=g)
        for _ in range(2):  # the first call may build the layouts, the second reads them
            want = _represent(per_call, model, seqs, nthreads)
            assert not torch.isnan(want).any()
            assert torch.equal(_represent(kept, model, seqs, nthreads), want)
    assert per_call.cache_bytes == 0
    # a layer that runs on every token or window: block 0's key projection (B x l rows, no
    # padding here) / the height-1 filter (B x L windows); when it takes the path, it keeps a layout
    first = spec["blocks"][0]["k_proj"] if arch == "sasrec" else spec["conv_h"][0]
    if _takes_small(first, 16 * (12 if arch == "sasrec" else model.L), isa):
        assert 0 < kept.cache_bytes <= 12 * ((128 << 10) + 4096)  # <= 128 KiB and a part table a layer
    if isa == "scalar":
        assert kept.cache_bytes == 0  # the path needs AVX2


def test_rebuilt_runner_never_meets_a_stale_layout():
    # on_stale="rebuild": a qweight written in place gives a new C++ runner (new layer caches); its
    # results are a fresh compile's, not the old layout's
    model = _quantized(_sasrec(1), seed=4)
    seqs = torch.randint(1, 81, (8, 12), generator=torch.Generator().manual_seed(6))
    r = rt.compile(model, on_stale="rebuild")
    before = r.represent(seqs)
    old = r._runner
    layer = model.blocks[0].attn.k_proj
    with torch.no_grad():
        g = torch.Generator().manual_seed(7)
        layer.qweight.copy_(torch.randint(0, 256, layer.qweight.shape, generator=g, dtype=torch.uint8))
    after = r.represent(seqs)
    assert r._runner is not old
    assert not torch.equal(after, before)
    assert torch.equal(after, rt.compile(model).represent(seqs))
