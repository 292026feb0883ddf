"""C++ chord::quantize_pack: bit-identical to the pure-torch reference (qweight bytes and the
bit patterns of scales/zeros), scalar == AVX2, thread-count independent, validated inputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chord import format as fmt
from chord.backends import reference
from chord.backends.cpu import supported_isas
from chord.codebook import SUPPORTED_BITS, Codebook
from chord.mixed_weight import plan_buckets

_cpu = pytest.importorskip("chord_kernels._cpu")
if not hasattr(_cpu, "quantize_pack"):
    pytest.skip("extension built without quantize_pack", allow_module_level=True)

ISAS = supported_isas()  # every ISA this CPU runs (csrc/common/isa.h), scalar first


def run_cpp(w, perm, buckets, scheme, isa="auto", nthreads=2):
    """Call the kernel on poisoned outputs (so unwritten bytes fail the comparison)."""
    N, K = w.shape
    qw = torch.full((fmt.total_bytes(buckets, K),), 0xA5, dtype=torch.uint8)
    sc = torch.full((N,), float("nan"))
    ze = torch.full((N,), float("nan"))
    _cpu.quantize_pack(
        w.contiguous().numpy(),
        perm.to(torch.int32).numpy(),
        list(buckets),
        scheme,
        qw.numpy(),
        sc.numpy(),
        ze.numpy(),
        nthreads,
        isa,
    )
    return qw, sc, ze


def assert_bit_identical(got, want):
    qw, sc, ze = got
    rqw, rsc, rze = want
    assert torch.equal(qw, rqw), f"qweight differs at {torch.nonzero(qw != rqw).flatten()[:8].tolist()}"
    assert torch.equal(sc.view(torch.int32), rsc.view(torch.int32)), "scales differ (bitwise)"
    assert torch.equal(ze.view(torch.int32), rze.view(torch.int32)), "zeros differ (bitwise)"


def make_weight(N, K, g, style):
    """Random weights plus the rows that stress the arithmetic: exact .5 quotients (tie
    rounding), all-zero rows, constant rows, -0.0, denormals, huge and tiny magnitudes."""
    w = torch.randn(N, K, generator=g) * torch.logspace(-3, 3, N)[torch.randperm(N, generator=g)][:, None]
    if style == "ties":  # w / s lands on k + 0.5 for many elements (s = 1 for 4-bit sym rows with max 7)
        w = torch.randint(-14, 15, (N, K), generator=g).float() / 2
        w[:, 0] = 7.0
    elif style == "special":
        for r in range(0, N, 5):
            kind = r // 5 % 5
            if kind == 0:
                w[r] = 0.0
            elif kind == 1:
                w[r] = -2.5
            elif kind == 2:
                w[r] = torch.where(torch.rand(K, generator=g) < 0.5, torch.tensor(-0.0), torch.tensor(0.0))
                w[r, 0] = 1.0
            elif kind == 3:
                w[r] *= 1e-40  # denormals
            else:
                w[r] = w[r].abs() + 3.0  # positive constant-ish row (asym zero point clamps to 0)
    return w


@st.composite
def cases(draw):
    N = draw(st.integers(1, 600))
    K = draw(st.integers(1, 1100))
    bits = tuple(draw(st.sampled_from(SUPPORTED_BITS)) for _ in range(4))
    scheme = draw(st.sampled_from(["sym", "asym"]))
    style = draw(st.sampled_from(["randn", "ties", "special"]))
    seed = draw(st.integers(0, 2**31 - 1))
    return N, K, bits, scheme, style, seed


@given(cases())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bit_identical_to_reference_fuzzed(case):
    N, K, bits, scheme, style, seed = case
    g = torch.Generator().manual_seed(seed)
    w = make_weight(N, K, g, style)
    codes = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    perm, buckets = plan_buckets(codes, Codebook(bits, scheme))
    want = reference.quantize_pack(w, perm, buckets, scheme)
    for isa in ISAS:
        assert_bit_identical(run_cpp(w, perm, buckets, scheme, isa), want)


@pytest.mark.parametrize("scheme", ["sym", "asym"])
@pytest.mark.parametrize("bits", SUPPORTED_BITS)
@pytest.mark.parametrize("K", [1, 15, 16, 17, 64, 127, 128, 129, 1000])
def test_single_bucket_every_width(bits, scheme, K):
    g = torch.Generator().manual_seed(bits * 1000 + K)
    N = 37
    w = make_weight(N, K, g, "special")
    perm, buckets = plan_buckets(torch.zeros(N, dtype=torch.uint8), Codebook((bits,) * 4, scheme))
    assert buckets == [bits, N]
    want = reference.quantize_pack(w, perm, buckets, scheme)
    for isa in ISAS:
        assert_bit_identical(run_cpp(w, perm, buckets, scheme, isa), want)


def test_all_pruned_and_op_entry():
    w = torch.randn(9, 33)
    perm, buckets = plan_buckets(torch.zeros(9, dtype=torch.uint8), Codebook.default())
    qw, sc, ze = torch.ops.chord.quantize_pack(w, perm, buckets, "sym")
    assert qw.numel() == 0 and torch.equal(sc, torch.zeros(9)) and torch.equal(ze, torch.zeros(9))


def test_op_matches_reference_and_accepts_other_float_dtypes():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(300, 257, generator=g, dtype=torch.float64)
    codes = torch.randint(0, 4, (300,), generator=g, dtype=torch.uint8)
    perm, buckets = plan_buckets(codes, Codebook.default())
    for dt in (torch.float64, torch.float16, torch.bfloat16):
        got = torch.ops.chord.quantize_pack(w.to(dt), perm, buckets, "sym")
        assert_bit_identical(got, reference.quantize_pack(w.to(dt), perm, buckets, "sym"))


@pytest.mark.parametrize("isa", ISAS)
def test_deterministic_across_threads_and_runs(isa):
    g = torch.Generator().manual_seed(5)
    w = torch.randn(513, 700, generator=g)
    codes = torch.randint(0, 4, (513,), generator=g, dtype=torch.uint8)
    for scheme in ("sym", "asym"):
        perm, buckets = plan_buckets(codes, Codebook((1, 2, 4, 8), scheme))
        one = run_cpp(w, perm, buckets, scheme, isa, nthreads=1)
        for nt in (2, 2, 3):
            assert_bit_identical(run_cpp(w, perm, buckets, scheme, isa, nthreads=nt), one)


def test_concurrent_python_threads_match_serial():
    from concurrent.futures import ThreadPoolExecutor

    g = torch.Generator().manual_seed(6)
    ws = [torch.randn(400, 300, generator=g) for _ in range(4)]
    codes = torch.randint(0, 4, (400,), generator=g, dtype=torch.uint8)
    perm, buckets = plan_buckets(codes, Codebook.default())
    serial = [run_cpp(w, perm, buckets, "sym") for w in ws]
    with ThreadPoolExecutor(4) as ex:
        par = list(ex.map(lambda w: run_cpp(w, perm, buckets, "sym"), ws))
    for a, b in zip(par, serial):
        assert_bit_identical(a, b)


def test_opcheck():
    g = torch.Generator().manual_seed(7)
    w = torch.randn(40, 70, generator=g)
    codes = torch.randint(0, 4, (40,), generator=g, dtype=torch.uint8)
    for scheme in ("sym", "asym"):
        perm, buckets = plan_buckets(codes, Codebook((0, 1, 4, 8), scheme))
        torch.library.opcheck(torch.ops.chord.quantize_pack, (w, perm, buckets, scheme))


# -- validation in C++ (std::invalid_argument -> ValueError naming the argument) -------------
def _args(N=6, K=20):
    w = torch.randn(N, K)
    perm, buckets = plan_buckets(torch.tensor([3, 2, 1, 0, 1, 2], dtype=torch.uint8)[:N], Codebook.default())
    qw = torch.empty(fmt.total_bytes(buckets, K), dtype=torch.uint8)
    return dict(
        weight=w.numpy(),
        perm=perm.numpy(),
        buckets=buckets,
        scheme="sym",
        qweight=qw.numpy(),
        scales=torch.empty(N).numpy(),
        zeros=torch.empty(N).numpy(),
    )


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.update(weight=a["weight"].astype("float64")), r"weight: expected dtype float32, got float64"),
        (lambda a: a.update(weight=a["weight"][:, ::2]), r"weight: expected a C-contiguous array"),
        (lambda a: a.update(weight=a["weight"].reshape(-1)), r"weight: expected a 2-D array"),
        (lambda a: a.update(perm=a["perm"].astype("int64")), r"perm: expected dtype int32"),
        (lambda a: a.update(perm=a["perm"][:5]), r"perm \(one entry per weight row\): expected 6 entries, got 5"),
        (lambda a: a["perm"].__setitem__(0, 6), r"perm\[0\] = 6 is out of range \[0, 6\)"),
        (lambda a: a["perm"].__setitem__(1, a["perm"][0]), r"perm is not a permutation"),
        (
            lambda a: a.update(buckets=a["buckets"][:-1]),
            r"buckets: expected a flat \[bits, rows, \.\.\.\] list, got odd length",
        ),
        (lambda a: a.update(buckets=[3, 6]), r"buckets\[0\]: expected a width in \{8, 4, 2, 1, 0\}, got 3"),
        (lambda a: a.update(buckets=[8, 6, 2, -1]), r"buckets\[3\]: expected a row count >= 0, got -1"),
        (lambda a: a.update(buckets=[8, 5]), r"buckets: rows sum to 5, expected N = 6"),
        (
            lambda a: a.update(qweight=a["qweight"][:-1]),
            r"qweight: the bucket table needs \d+ bytes, the output holds \d+",
        ),
        (lambda a: a.update(scales=a["scales"][:3]), r"scales: expected 6 entries, got 3"),
        (lambda a: a.update(scheme="nf4"), r"scheme: expected 'sym' or 'asym', got 'nf4'"),
        (lambda a: a["weight"].__setitem__((2, 5), float("nan")), r"weight contains NaN \(at row 2, col 5\)"),
        (lambda a: a["weight"].__setitem__((3, 0), float("-inf")), r"weight contains Inf \(at row 3, col 0\)"),
    ],
)
def test_cpp_rejects_bad_arguments(change, match):
    a = _args()
    change(a)
    with pytest.raises(ValueError, match=match):
        _cpu.quantize_pack(**a, nthreads=2)


def test_cpp_rejects_read_only_output_and_bad_isa():
    a = _args()
    a["qweight"].setflags(write=False)
    with pytest.raises(ValueError, match="qweight: output array is read-only"):
        _cpu.quantize_pack(**a)
    with pytest.raises(
        ValueError, match="chord::quantize_pack: isa: expected one of auto, scalar, avx2, .*, got 'sse'"
    ):
        _cpu.quantize_pack(**_args(), isa="sse")


def test_nan_in_pruned_row_is_still_rejected():
    a = _args()
    pruned = int(a["perm"][-1])  # the last packed row is the pruned one (code 0)
    a["weight"][pruned, 3] = float("nan")
    with pytest.raises(ValueError, match=f"NaN \\(at row {pruned}, col 3\\)"):
        _cpu.quantize_pack(**a)
