"""chord_kernels.triton.mp_linear against the float64 reference from ``dequantize()``.

CI runs these on CPU through the Triton interpreter (tests/chord_kernels/conftest.py sets
TRITON_INTERPRET=1): the interpreter is slow, so shapes are small and block sizes are chosen to
still give several K steps, several tiles per bucket and partial tiles. On a GPU
(CHORD_TRITON_TEST_DEVICE=cuda) the same tests run compiled, bf16 included.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chord import Codebook, pack
from chord.backends import reference

triton = pytest.importorskip("triton")
import chord_kernels.triton as ct  # noqa: E402  (after conftest set TRITON_INTERPRET)
from tests.helpers import assert_within_fp32_bound, poison  # noqa: E402

# every activation dtype on GPU; the interpreter computes bf16 in fp32, test fp16/fp32 there
ACT_DTYPES = [torch.float32, torch.float16] + ([torch.bfloat16] if not ct.INTERPRET else [])
# relative error (Frobenius) against float64: fp32 is exact up to accumulation order
# (GEMM fp32 uses IEEE dots: torch's default matmul precision); fp16/bf16 are the output rounding
TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.5e-2}
SMALL_GEMV = dict(BLOCK_N=16, BLOCK_KB=16, num_warps=4, num_stages=2)
SMALL_GEMM = dict(BLOCK_M=16, BLOCK_N=32, BLOCK_K=64, num_warps=4, num_stages=2)
CB_1BIT = Codebook((0, 1, 2, 8))  # exercises the 1-bit branch (not in the default codebook)


def make_weight(N, K, codes=None, codebook=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(N, K, generator=g)
    if codes is None:
        codes = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    return pack(w, codes, codebook or Codebook.default())


def oracle(x, mw, bias=None, act_bits=0):
    bias = None if bias is None else bias.cpu()
    return reference.mp_linear(x.cpu(), mw.to("cpu").packed, bias, act_bits, compute_dtype=torch.float64)


def run(x, mw, bias=None, act_bits=0, **kw):
    """The kernel into a NaN-poisoned output, so unwritten elements fail."""
    out = poison(torch.empty(x.shape[0], mw.N, dtype=x.dtype, device=x.device))
    y = ct.mp_linear_packed(
        x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, act_bits, out=out, **kw
    )
    assert y.data_ptr() == out.data_ptr()
    return y


def check(y, ref, dtype):
    assert y.dtype == dtype
    assert not torch.isnan(y).any(), "unwritten (poisoned) or NaN outputs"
    y64 = y.detach().cpu().to(torch.float64)
    err = (y64 - ref).norm() / ref.norm().clamp_min(1e-30)
    assert err <= TOL[dtype], f"relative error {err:.3g} > {TOL[dtype]:g}"


def rand_x(M, K, dtype, device, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(M, K, generator=g).to(dtype).to(device)


@pytest.mark.parametrize("path", ["gemv", "gemm"])
@pytest.mark.parametrize("dtype", ACT_DTYPES)
@pytest.mark.parametrize("with_bias", [False, True])
def test_odd_shape(triton_device, path, dtype, with_bias):
    """M=3, N=70, K=100: nothing a multiple of a block; all four codes live."""
    mw = make_weight(70, 100, codes=torch.arange(70, dtype=torch.uint8) % 4).to(triton_device)
    x = rand_x(3, 100, dtype, triton_device)
    bias = torch.randn(70, device=triton_device) if with_bias else None
    check(run(x, mw, bias, path=path), oracle(x, mw, bias), dtype)


@pytest.mark.parametrize("path,config", [("gemv", SMALL_GEMV), ("gemm", SMALL_GEMM)])
def test_several_k_steps_and_tiles(triton_device, path, config):
    """K=300 in small K steps (GEMV 16 bytes: 19/10/5 steps for 8/4/2-bit rows; GEMM 64
    elements: 5 steps, partial last); BLOCK_N smaller than every bucket, so buckets span several
    tiles and end mid-tile; M=20 spans two GEMM M-blocks."""
    mw = make_weight(150, 300, seed=3).to(triton_device)
    assert all(n > 16 for _, _, n, _ in mw.bucket_spans())
    for dtype in ACT_DTYPES:
        x = rand_x(20 if path == "gemm" else 1, 300, dtype, triton_device)
        bias = torch.randn(150, device=triton_device)
        check(run(x, mw, bias, path=path, config=config), oracle(x, mw, bias), dtype)


MIXES = [c for r in range(1, 5) for c in itertools.combinations((0, 1, 2, 3), r)]


@pytest.mark.parametrize("codes_live", MIXES, ids=lambda c: "codes" + "".join(map(str, c)))
def test_every_bucket_mix(triton_device, codes_live):
    """Every non-empty subset of the four codes: single buckets, all-pruned, and mixes."""
    N, K = 45, 96
    codes = torch.tensor(codes_live, dtype=torch.uint8)[torch.arange(N) % len(codes_live)]
    mw = make_weight(N, K, codes=codes, seed=len(codes_live)).to(triton_device)
    bias = torch.randn(N, device=triton_device)
    for path, M in (("gemv", 1), ("gemm", 5)):
        x = rand_x(M, K, torch.float32, triton_device)
        ref = oracle(x, mw, bias)
        y = run(x, mw, bias, path=path)
        check(y, ref, torch.float32)
        # one launch per bucket computes each row with the same code: identical bits
        assert torch.equal(run(x, mw, bias, path=path, launch="per_bucket"), y)
        if codes_live == (0,):  # all pruned: exactly bias, and exactly 0 without it
            assert torch.equal(run(x, mw, bias, path=path).cpu(), bias.cpu().expand(M, N))
            assert torch.equal(run(x, mw, None, path=path).cpu(), torch.zeros(M, N))


@pytest.mark.parametrize("scheme", ["sym", "asym"])
@pytest.mark.parametrize("path", ["gemv", "gemm"])
def test_one_bit_and_asym(triton_device, scheme, path):
    """1-bit rows (zero point 0.5, or an arbitrary float when asymmetric) and asymmetric zeros."""
    cb = Codebook(CB_1BIT.bits, scheme)
    mw = make_weight(60, 200, codebook=cb, seed=5).to(triton_device)
    assert any(b == 1 for b, _, n, _ in mw.bucket_spans() if n)
    x = rand_x(1 if path == "gemv" else 7, 200, torch.float32, triton_device)
    bias = torch.randn(60, device=triton_device)
    check(run(x, mw, bias, path=path), oracle(x, mw, bias), torch.float32)


@pytest.mark.parametrize("path", ["gemv", "gemm"])
def test_noncontiguous_x(triton_device, path):
    """Transposed and strided activations are read through their strides (no copy)."""
    mw = make_weight(33, 80, seed=7).to(triton_device)
    M = 2 if path == "gemv" else 6  # path forced: the GEMV family takes any M
    xt = torch.randn(80, M).to(triton_device).t()  # stride (1, M)
    xs = torch.randn(M, 160).to(triton_device)[:, ::2]  # stride (160, 2)
    for x in (xt, xs):
        assert not x.is_contiguous()
        check(run(x, mw, path=path), oracle(x, mw), torch.float32)


def test_bias_dtype_and_leading_dims(triton_device):
    """bias in another float dtype; x with leading dims through the MixedWeight entry point."""
    mw = make_weight(24, 64, seed=9).to(triton_device)
    x = torch.randn(2, 3, 64).to(triton_device)
    bias = torch.randn(24).to(torch.float16).to(triton_device)
    y = ct.mp_linear(x, mw, bias)
    assert y.shape == (2, 3, 24)
    check(y.reshape(6, 24), oracle(x.reshape(6, 64), mw, bias), torch.float32)


@pytest.mark.parametrize("path", ["gemv", "gemm"])
def test_act_bits_8(triton_device, path):
    """act_bits=8: same per-row int8 activations as the reference, integer-exact dots."""
    mw = make_weight(40, 120, seed=11).to(triton_device)
    x = rand_x(1 if path == "gemv" else 9, 120, torch.float32, triton_device)
    bias = torch.randn(40, device=triton_device)
    check(run(x, mw, bias, act_bits=8, path=path), oracle(x, mw, bias, act_bits=8), torch.float32)


def test_item_scoring_shape(triton_device):
    """A scoring-like shape: K=64 (one K step), many rows, auto dispatch for M=1 and M=40."""
    mw = make_weight(1500, 64, seed=13).to(triton_device)
    for M in (1, 40):
        x = rand_x(M, 64, torch.float16, triton_device)
        check(run(x, mw), oracle(x, mw), torch.float16)


def test_deterministic(triton_device):
    """No atomics, fixed reduction order: identical bits run to run."""
    mw = make_weight(50, 130, seed=15).to(triton_device)
    for M in (1, 17):
        x = rand_x(M, 130, torch.float32, triton_device)
        assert torch.equal(run(x, mw), run(x, mw))


def test_empty_m(triton_device):
    mw = make_weight(10, 32).to(triton_device)
    y = ct.mp_linear(torch.empty(0, 32, device=triton_device), mw)
    assert y.shape == (0, 10)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    M=st.integers(1, 40),
    N=st.integers(1, 130),
    K=st.integers(1, 260),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(ACT_DTYPES),
    bias=st.booleans(),
    one_bit=st.booleans(),
)
def test_fuzz(triton_device, M, N, K, seed, dtype, bias, one_bit):
    mw = make_weight(N, K, codebook=CB_1BIT if one_bit else None, seed=seed).to(triton_device)
    x = rand_x(M, K, dtype, triton_device, seed=seed + 1)
    b = torch.randn(N, device=triton_device) if bias else None
    y, ref = run(x, mw, b), oracle(x, mw, b)
    if dtype == torch.float32:  # output by output: a relative error over them all fails when they cancel
        assert y.dtype == dtype
        assert_within_fp32_bound(y, x, mw, b, ref)  # NaN (unwritten, poisoned) fails it too
    else:
        check(y, ref, dtype)


# -- bad input ------------------------------------------------------------------------------
def test_bad_inputs_name_the_argument(triton_device):
    mw = make_weight(8, 32).to(triton_device)
    x = torch.randn(2, 32, device=triton_device)
    args = (mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K)
    with pytest.raises(TypeError, match="x: expected dtype"):
        ct.mp_linear_packed(x.to(torch.int32), *args)
    with pytest.raises(ValueError, match=r"x: expected shape \[M, 32\]"):
        ct.mp_linear_packed(torch.randn(2, 31, device=triton_device), *args)
    with pytest.raises(ValueError, match=r"x: expected shape \[M, 32\] \(K of the weight\), got \[32\]"):
        ct.mp_linear_packed(torch.randn(32, device=triton_device), *args)
    with pytest.raises(ValueError, match="qweight: expected .* bytes for these buckets and K = 32"):
        ct.mp_linear_packed(x, mw.qweight[:-1], *args[1:])
    with pytest.raises(TypeError, match="scales: expected dtype float32, got torch.float64"):
        ct.mp_linear_packed(x, mw.qweight, mw.scales.double(), *args[2:])
    with pytest.raises(TypeError, match="perm: expected dtype int32, got torch.int64"):
        ct.mp_linear_packed(x, *args[:3], mw.perm.long(), *args[4:])
    with pytest.raises(ValueError, match=r"bias: expected shape \[8\], got \[9\]"):
        ct.mp_linear_packed(x, *args, torch.randn(9, device=triton_device))
    with pytest.raises(ValueError, match="act_bits"):
        ct.mp_linear_packed(x, *args, None, 4)
    with pytest.raises(ValueError, match="path"):
        ct.mp_linear_packed(x, *args, path="gemx")
    with pytest.raises(ValueError, match="launch"):
        ct.mp_linear_packed(x, *args, launch="twice")
    with pytest.raises(ValueError, match="config: BLOCK_K=32 is below 64"):
        ct.mp_linear_packed(x, *args, path="gemm", config=dict(SMALL_GEMM, BLOCK_K=32))
    with pytest.raises(ValueError, match="config: BLOCK_KB=24 must be a positive multiple of 16"):
        ct.mp_linear_packed(x, *args, path="gemv", config=dict(SMALL_GEMV, BLOCK_KB=24))
    with pytest.raises(ValueError, match="out: expected a"):
        ct.mp_linear_packed(x, *args, out=torch.empty(2, 9, device=triton_device))
    with pytest.raises(ValueError, match="x: expected shape"):  # MixedWeight entry point
        ct.mp_linear(torch.randn(3, 31, device=triton_device), mw)


# -- the op registration ----------------------------------------------------------------------
def test_cuda_registration_is_the_triton_path(triton_device):
    """chord::mp_linear's CUDA kernel is chord.backends.cuda.mp_linear, which runs these kernels
    (checked here on the interpreter's CPU tensors, since CI has no GPU)."""
    from chord.backends import cuda as cuda_backend

    assert torch._C._dispatch_has_kernel_for_dispatch_key("chord::mp_linear", "CUDA")
    mw = make_weight(30, 70, seed=17).to(triton_device)
    x = rand_x(4, 70, torch.float16, triton_device)
    bias = torch.randn(30, device=triton_device)
    y = cuda_backend.mp_linear(x, mw.packed, bias, 0)
    check(y, oracle(x, mw, bias), torch.float16)
    if triton_device.type == "cuda":
        y_op = torch.ops.chord.mp_linear(x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, 0)
        assert torch.equal(y_op, y)


_TEST_LIB = None


def _test_op():
    """chord::mp_linear's schema and fake impl, with the Triton implementation as its kernel, in a
    test namespace: lets ``opcheck`` run on CPU tensors through the interpreter."""
    global _TEST_LIB
    if _TEST_LIB is None:
        from chord import ops
        from chord.backends import cuda as cuda_backend

        schema = str(torch.ops.chord.mp_linear.default._schema).split("(", 1)[1]
        _TEST_LIB = torch.library.Library("chord_triton_test", "DEF")  # noqa: TOR901
        _TEST_LIB.define("mp_linear(" + schema)
        kernel = ops.as_kernel("mp_linear", cuda_backend.mp_linear)
        _TEST_LIB.impl("mp_linear", kernel, "CPU")
        _TEST_LIB.impl("mp_linear", kernel, "CUDA")
        torch.library.register_fake("chord_triton_test::mp_linear", ops.fake_impl("mp_linear"), lib=_TEST_LIB)
    return torch.ops.chord_triton_test.mp_linear.default


def test_opcheck(triton_device):
    op = _test_op()
    mw = make_weight(20, 48, seed=19).to(triton_device)
    for M, dtype, bias in ((1, torch.float32, None), (5, torch.float16, torch.randn(20, device=triton_device))):
        x = rand_x(M, 48, dtype, triton_device)
        torch.library.opcheck(op, (x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, 0))
    if triton_device.type == "cuda":
        torch.library.opcheck(
            torch.ops.chord.mp_linear.default, (x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, 0)
        )
