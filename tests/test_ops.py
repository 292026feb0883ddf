"""chord.ops: the argument form every kernel, check and fake receives (``op_args``) is derived from
the schema alone, and ``as_kernel`` runs the op's checks before the implementation."""

from __future__ import annotations

import pytest
import torch

import chord
from chord import ops


def _weight(seed=0):
    g = torch.Generator().manual_seed(seed)
    mw = chord.pack(torch.randn(10, 24, generator=g), torch.randint(0, 4, (10,), generator=g, dtype=torch.uint8))
    return mw, torch.randn(3, 24, generator=g)


def test_op_args_fills_defaults_and_groups_the_packed_weight():
    mw, x = _weight()
    flat = (x, *mw.packed)
    got = ops.op_args("mp_linear", flat)  # the dispatcher leaves trailing defaults out
    assert len(got) == 4 and got[0] is x and got[2:] == (None, 0)
    assert isinstance(got[1], ops.Packed) and all(a is b for a, b in zip(got[1], mw.packed))
    assert ops.op_args("mp_linear", flat, {"act_bits": 8})[3] == 8
    topk = ops.op_args("mp_topk", (*flat, 5))
    assert topk[2:] == (5, None, 0)
    assert ops.flat_args("mp_topk", topk) == (*flat, 5, None, 0)
    args = (torch.randn(4, 8), torch.arange(4), [2, 4], "sym")  # no packed weight: as given
    assert ops.op_args("quantize_pack", args) == ops.flat_args("quantize_pack", args) == args


def test_as_kernel_checks_before_the_implementation():
    mw, x = _weight(1)
    seen = []

    def impl(x, w, bias, act_bits):
        seen.append((type(w), bias, act_bits))
        return x.new_zeros(x.shape[0], w.perm.shape[0])

    kernel = ops.as_kernel("mp_linear", impl)
    assert kernel(x, *mw.packed).shape == (3, 10)
    assert seen == [(ops.Packed, None, 0)]
    with pytest.raises(ValueError, match="chord::mp_linear: x: expected shape"):
        kernel(x[:, :5], *mw.packed)
    perm = mw.perm.clone()
    perm[0] = perm[1]
    with pytest.raises(ValueError, match="perm: not a permutation"):
        kernel(x, mw.qweight, mw.scales, mw.zeros, perm, mw.buckets, mw.K)
    assert len(seen) == 1, "a rejected call never reaches the implementation"


def test_fakes_take_the_dispatcher_arguments():
    mw, x = _weight(2)
    out = ops.fake_impl("mp_topk")(x, *mw.packed, 4)
    assert [t.shape for t in out] == [(3, 4), (3, 4)]
    assert ops.fake_impl("mp_linear")(x, *mw.packed).shape == (3, 10)
