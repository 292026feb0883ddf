"""MixedWeight / pack / quantizer: error bounds, idempotence, serialization, facts, and clear
errors for bad inputs (each names the argument, what was expected and what was given)."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chord  # noqa: F401  (registers the ops)
from chord import Codebook, FormatError, MixedWeight, mp_linear, pack
from chord import format as fmt
from chord.backends.reference import dequantize_rows, quantize_rows

EPS = 2.0**-23


def rows(n, K, seed, positive=False):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, K, generator=g) * torch.logspace(-2, 2, n)[:, None]
    if positive:
        w = w.abs() + 3.0 * w.abs().amax(1, keepdim=True)  # rows that exclude 0 (asym zero < 0)
    return w


# -- quantizer error bounds ------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["sym", "asym"])
@pytest.mark.parametrize("bits", [2, 4, 8])
@given(K=st.integers(1, 300), seed=st.integers(0, 2**31 - 1), positive=st.booleans())
@settings(max_examples=15, deadline=None)
def test_error_at_most_half_a_step(bits, scheme, K, seed, positive):
    """b >= 2, sym and asym: |w - w_hat| <= scale / 2 (asym: the integer zero point makes
    u - zero = round(w / s) exactly, and the range [lo, hi] maps into [0, 2^b - 1]), plus
    float32 rounding of the quotient and of the dequantization product."""
    w = rows(20, K, seed, positive)
    u, s, z = quantize_rows(w, bits, scheme)
    w_hat = dequantize_rows(u, s, z)
    slack = 4 * EPS * (w.abs() + w_hat.abs() + s[:, None] * (z.abs()[:, None] + 2**bits))
    assert bool(((w - w_hat).abs() <= s[:, None] / 2 + slack).all())


@given(K=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=15, deadline=None)
def test_one_bit_bounds(K, seed):
    """sym 1-bit: w_hat = sign(w) * mean|w| (sign(0) = +), so |w - w_hat| = ||w| - mean|w||;
    asym 1-bit: w_hat in {lo, hi} up to rounding, the nearer one, so error <= (hi - lo) / 2."""
    w = rows(20, K, seed)
    u, s, z = quantize_rows(w, 1, "sym")
    w_hat = dequantize_rows(u, s, z)
    m = w.abs().double().mean(1, keepdim=True)
    assert torch.allclose(w_hat.double(), torch.where(w >= 0, m, -m), rtol=1e-6, atol=0)
    u, s, z = quantize_rows(w, 1, "asym")
    w_hat = dequantize_rows(u, s, z)
    lo, hi = w.amin(1, keepdim=True), w.amax(1, keepdim=True)
    slack = 8 * EPS * (w.abs() + w_hat.abs() + hi.abs() + lo.abs())
    assert bool(((w - w_hat).abs() <= (hi - lo) / 2 + slack).all())


def test_all_positive_rows_keep_their_range_asym():
    # regression: a zero point clamped to [0, 2^b - 1] collapsed [3, 4] to w_hat = 1
    w = torch.tensor([[3.0, 3.25, 3.5, 4.0]])
    u, s, z = quantize_rows(w, 4, "asym")
    assert float(z) < 0
    assert torch.allclose(dequantize_rows(u, s, z), w, atol=float(s) / 2 + 1e-6)


def test_special_rows():
    w = torch.tensor([[0.0, 0.0, 0.0], [-2.5, -2.5, -2.5], [1.5, 1.5, 1.5]])
    for scheme in ("sym", "asym"):
        for b in (2, 4, 8):
            u, s, z = quantize_rows(w, b, scheme)
            assert torch.equal(dequantize_rows(u, s, z), w), (scheme, b)  # constant rows are exact
    u, s, z = quantize_rows(w, 0)
    assert torch.equal(dequantize_rows(u, s, z), torch.zeros_like(w))


# -- pack -> dequantize -> pack --------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["sym", "asym"])
@given(N=st.integers(1, 60), K=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=15, deadline=None)
def test_repack_of_dequantized_is_idempotent(scheme, N, K, seed):
    """Re-packing w_hat with the same codes gives the same integers (qweight bytes) and the
    same w_hat up to float rounding. sym: also bit-identical scales/zeros and w_hat (the max
    element dequantizes to fl(qmax * s) and fl(fl(qmax * s) / qmax) == s). asym: scales are
    recomputed from the rounded endpoints hi - lo, so they may move by a few ulps of max(|lo|, |hi|)."""
    cb = Codebook((0, 1, 4, 8) if seed % 2 else (1, 2, 4, 8), scheme)
    w = rows(N, K, seed, positive=seed % 3 == 0)
    codes = torch.randint(0, 4, (N,), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    a = pack(w, codes, cb)
    d = a.dequantize()
    b = pack(d, codes, cb)
    assert torch.equal(a.qweight, b.qweight)
    assert torch.equal(a.perm, b.perm) and a.buckets == b.buckets
    if scheme == "sym":
        assert torch.equal(a.scales, b.scales) and torch.equal(a.zeros, b.zeros)
        assert torch.equal(b.dequantize(), d)
    else:
        tol = 64 * EPS * d.abs().amax(1, keepdim=True)
        assert bool(((b.dequantize() - d).abs() <= tol).all())


# -- serialization, facts, movement --------------------------------------------------------------
def sample_mw(N=50, K=70, seed=0, cb=None):
    g = torch.Generator().manual_seed(seed)
    return pack(torch.randn(N, K, generator=g), torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8), cb)


def assert_same_mw(a: MixedWeight, b: MixedWeight):
    for name, t in a.tensors().items():
        assert torch.equal(t.cpu(), b.tensors()[name].cpu()), name
    assert a.buckets == b.buckets and a.shape == b.shape and a.codebook == b.codebook


def test_save_load_identical(tmp_path):
    for cb in (Codebook.default(), Codebook((1, 2, 4, 8), "asym")):
        a = sample_mw(cb=cb)
        assert_same_mw(a, MixedWeight.from_bytes(a.to_bytes()))
        a.save(tmp_path / "w.safetensors")
        b = MixedWeight.load(tmp_path / "w.safetensors")
        assert_same_mw(a, b)
        assert torch.equal(a.dequantize(), b.dequantize())


def test_nbytes_and_avg_bits():
    N, K = 64, 100
    codes = torch.tensor([0, 1, 2, 3] * 16, dtype=torch.uint8)
    mw = pack(torch.randn(N, K), codes)
    assert mw.buckets == [8, 16, 4, 16, 2, 16, 0, 16]
    want_q = 16 * (fmt.row_bytes(K, 8) + fmt.row_bytes(K, 4) + fmt.row_bytes(K, 2))
    assert mw.qweight.numel() == want_q
    assert mw.nbytes == want_q + N * (4 + 4 + 4)  # + scales, zeros (fp32), perm (int32)
    assert mw.avg_bits == pytest.approx((8 + 4 + 2 + 0) / 4)
    assert torch.equal(mw.bits_per_row, torch.tensor([0, 2, 4, 8] * 16))


def test_to_device():
    mw = sample_mw()
    assert mw.to("cpu") is mw
    m = mw.to("meta")
    assert m.device.type == "meta" and m.shape == mw.shape and m.buckets == mw.buckets
    assert all(t.device.type == "meta" for t in m.tensors().values())
    if torch.cuda.is_available():
        assert torch.equal(mw.to("cuda").dequantize().cpu(), mw.dequantize())


# -- bad inputs ------------------------------------------------------------------------------
W = torch.randn(6, 20)
CODES = torch.tensor([3, 2, 1, 0, 1, 2], dtype=torch.uint8)


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((W.int(), CODES), TypeError, r"weight: expected a float dtype .*, got torch.int32"),
        ((W.numpy(), CODES), TypeError, r"weight: expected a torch.Tensor, got ndarray"),
        ((W, CODES.float()), TypeError, r"codes: expected an integer dtype \(uint8\), got torch.float32"),
        ((W, CODES.bool()), TypeError, r"codes: expected an integer dtype \(uint8\), got torch.bool"),
        ((W, [3, 2, 1, 0, 1, 2]), TypeError, r"codes: expected a torch.Tensor, got list"),
        ((W, CODES.to("meta")), ValueError, r"codes: expected device cpu or cpu, got meta"),
        ((W[0], CODES), ValueError, r"weight: expected 2-D \[N, K\], got shape \[20\]"),
        ((W[None], CODES), ValueError, r"weight: expected 2-D \[N, K\], got shape \[1, 6, 20\]"),
        ((W[:, :0], CODES), ValueError, r"weight: dimensions must be non-empty, got shape \[6, 0\]"),
        ((W[:0], CODES[:0]), ValueError, r"weight: dimensions must be non-empty, got shape \[0, 20\]"),
        ((W, torch.tensor([3, 2, 1, 0, 1, 4])), ValueError, r"codes: values must be in 0\.\.3, got range \[0, 4\]"),
        ((W, torch.tensor([3, 2, 1, 0, 1, -1])), ValueError, r"codes: values must be in 0\.\.3, got range \[-1, 3\]"),
        ((W, CODES[:5]), ValueError, r"codes: expected shape \[6\] \(one code per output channel\), got \[5\]"),
        ((W, CODES[None]), ValueError, r"codes: expected shape \[6\] \(one code per output channel\), got \[1, 6\]"),
        (
            (W.index_put((torch.tensor([2]), torch.tensor([7])), torch.tensor(float("nan"))), CODES),
            ValueError,
            r"weight: contains NaN or Inf \(first at row 2, col 7\)",
        ),
        (
            (W.index_put((torch.tensor([4]), torch.tensor([0])), torch.tensor(float("inf"))), CODES),
            ValueError,
            r"weight: contains NaN or Inf \(first at row 4, col 0\)",
        ),
        ((W, CODES, "default"), TypeError, r"codebook: expected chord.Codebook, got str"),
    ],
)
def test_pack_rejects(args, exc, match):
    with pytest.raises(exc, match=match):
        pack(*args)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 400),  # up to 400 x 700: large enough for the packer's 2 threads
    k=st.integers(1, 700),
    bad=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)), min_size=1, max_size=4
    ),
    seed=st.integers(0, 2**16),
    threads=st.sampled_from([1, 2]),
)
def test_pack_names_the_first_nonfinite(n, k, bad, seed, threads):
    # the kernel that finds it (C++ on CPU) names the first NaN/Inf in row-major order of the
    # original weight, whatever the rows' codes (pruned rows included) and the thread count
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, k, generator=g)
    for i, (fr, fc) in enumerate(bad):
        w[int(fr * n), int(fc * k)] = (float("nan"), float("inf"), float("-inf"))[i % 3]
    codes = torch.randint(0, 4, (n,), generator=g, dtype=torch.uint8)
    first = torch.nonzero(~torch.isfinite(w))[0].tolist()
    before = w.clone()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with pytest.raises(
            ValueError, match=rf"weight: contains NaN or Inf \(first at row {first[0]}, col {first[1]}\)$"
        ):
            pack(w, codes)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(w.isnan(), before.isnan()) and torch.equal(w.nan_to_num(), before.nan_to_num())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bits=(0, 2, 4)), r"Codebook.bits: expected 4 entries \(one per 2-bit code\), got 3"),
        (dict(bits=(0, 2, 3, 8)), r"Codebook.bits\[2\]: expected one of \(0, 1, 2, 4, 8\), got 3"),
        (dict(bits=(0, 2, 4, 16)), r"Codebook.bits\[3\]: expected one of .*, got 16"),
        (dict(bits=(0, 2.0, 4, 8)), r"Codebook.bits\[1\]: expected one of .*, got 2.0"),
        (dict(scheme="nf4"), r"Codebook.scheme: expected one of \('sym', 'asym'\), got 'nf4'"),
    ],
)
def test_bad_codebook(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Codebook(**kwargs)


def _blob_with(meta_change=None, tensor_change=None):
    from safetensors.torch import save

    mw = sample_mw(N=6, K=20)
    meta = mw.metadata()
    tensors = {k: v.clone() for k, v in mw.tensors().items()}
    if meta_change:
        meta_change(meta)
    if tensor_change:
        tensor_change(tensors)
    return save(tensors, metadata=meta)


@pytest.mark.parametrize(
    "blob, match",
    [
        (lambda: sample_mw().to_bytes()[:-7], r"corrupt or truncated safetensors data"),
        (lambda: b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" + bytes(40), r"corrupt or truncated"),
        (lambda: bytes(range(256)) * 3, r"corrupt or truncated"),
        (lambda: _blob_with(lambda m: m.update(format_version="999")), r"format version '999' is not supported"),
        (lambda: _blob_with(lambda m: m.update(format="other")), r"not a chord.MixedWeight \(format='other'\)"),
        (lambda: _blob_with(lambda m: m.update(shape="[6]")), r"shape must be \[N, K\], got \(6,\)"),
        (lambda: _blob_with(lambda m: m.update(shape="oops")), r"malformed metadata or missing tensor"),
        (
            lambda: _blob_with(lambda m: m.update(codebook=json.dumps({"bits": [0, 2, 4], "scheme": "sym"}))),
            r"malformed codebook|Codebook.bits",
        ),
        (lambda: _blob_with(tensor_change=lambda t: t["perm"].fill_(0)), r"perm: not a permutation of 0\.\.N-1"),
        (
            lambda: _blob_with(tensor_change=lambda t: t.update(qweight=t["qweight"][:-1].clone())),
            r"qweight: expected \d+ bytes, got \d+",
        ),
        (lambda: _blob_with(lambda m: m.update(buckets="[8, 1, 4, 1]")), r"buckets: .* does not cover 6 rows"),
        (
            lambda: _blob_with(tensor_change=lambda t: t.update(scales=t["scales"].double())),
            r"scales: expected 1-D torch.float32, got 1-D torch.float64",
        ),
        (lambda: _blob_with(tensor_change=lambda t: t.pop("zeros")), r"malformed metadata or missing tensor"),
    ],
)
def test_from_bytes_rejects(blob, match):
    with pytest.raises((FormatError, ValueError), match=match):
        MixedWeight.from_bytes(blob())


def test_from_bytes_rejects_non_bytes():
    with pytest.raises(TypeError, match="from_bytes: expected bytes, got str"):
        MixedWeight.from_bytes("abc")


MW = None


def _mw():
    global MW
    if MW is None:
        MW = sample_mw(N=6, K=20)
    return MW


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda mw: mp_linear(torch.randn(3, 21), mw),
            ValueError,
            r"x: expected shape \[\.\.\., 20\] \(K of the weight\), got \[3, 21\]",
        ),
        (
            lambda mw: mp_linear(torch.randn(3, 20).double(), mw),
            TypeError,
            r"x: expected dtype float32, float16 or bfloat16, got torch.float64",
        ),
        (lambda mw: mp_linear(torch.randint(0, 3, (3, 20)), mw), TypeError, r"x: expected dtype .*, got torch.int64"),
        (
            lambda mw: mp_linear(torch.randn(3, 20, device="meta"), mw),
            ValueError,
            r"x: expected device cpu \(the weight's\), got meta",
        ),
        (
            lambda mw: mp_linear(torch.randn(3, 20), mw, bias=torch.randn(5)),
            ValueError,
            r"bias: expected shape \[6\], got \[5\]",
        ),
        (
            lambda mw: mp_linear(torch.randn(3, 20), mw, bias=torch.ones(6, dtype=torch.int32)),
            TypeError,
            r"bias: expected a float dtype, got torch.int32",
        ),
        (
            lambda mw: mp_linear(torch.randn(3, 20), mw, act_bits=4),
            ValueError,
            r"act_bits: expected 0 \(exact activations\) or 8",
        ),
        (lambda mw: mp_linear(torch.randn(3, 20), "w"), TypeError, r"mw: expected chord.MixedWeight, got str"),
    ],
)
def test_mp_linear_rejects(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_mw())
