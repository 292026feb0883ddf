"""tools/mp_linear_i8_costfit.py: the act8 cost model's pure functions (the direct kernels' passes,
the monotone choice, the fit's vectorized choice) and the header rewrite. No timing."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
ISAS = ("avx512_vnni", "avx2")


def _tool():
    spec = importlib.util.spec_from_file_location("mp_linear_i8_costfit", ROOT / "tools" / "mp_linear_i8_costfit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tool = _tool()


def test_passes_follow_the_kernels_blocks():
    # avx512_vnni (dot_i8_vnni_bits): blocks of 4, a last 5 of 4- and 8-bit rows in one pass;
    # avx2 / avx_vnni: blocks of 4, 2, 1; kMBlockI8 = 32 rows per call
    vnni48 = [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]  # M = 1..13: 5 and 9 (4 + 5), 13 (4 + 4 + 5)
    vnni2 = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4]
    avx2 = [1, 1, 2, 1, 2, 2, 3, 2, 3, 3, 4, 3, 4]
    for bits in (4, 8):
        assert [tool.passes(M, bits, "avx512_vnni") for M in range(1, 14)] == vnni48
    for bits in (1, 2):
        assert [tool.passes(M, bits, "avx512_vnni") for M in range(1, 14)] == vnni2
    assert [tool.passes(M, 4, "avx2") for M in range(1, 14)] == avx2
    assert tool.passes(32, 4, "avx512_vnni") == 8 and tool.passes(37, 4, "avx512_vnni") == 9  # 32 + 5
    assert tool.passes(64, 2, "avx2") == 16


def test_the_avx2_short_row_kernel_reads_its_rows_once():
    # dot_i8_rows8_avx2 (K <= 256; one activation row, or one-block rows at up to 4): one pass,
    # one-block rows (16 bytes: K <= 64 at 2 bits) two to a register; elsewhere the 4 / 2 / 1
    # blocks on 32-byte loads, and never on avx512_vnni (its 16-row kernel is the short-row rule's)
    assert [tool.direct_work(M, 64, 2, "avx2") for M in (1, 2, 3, 4, 5)] == [
        (64.0, 1),
        (128.0, 1),
        (192.0, 1),
        (256.0, 1),
        (5 * 128.0, 2),
    ]
    assert tool.direct_work(3, 256, 2, "avx2") == (3 * 256.0, 2)  # 64-byte rows: rows8 at M = 1 only
    assert tool.direct_work(1, 256, 2, "avx2") == (256.0, 1)
    assert tool.direct_work(33, 64, 2, "avx2") == (32 * 128.0 + 64.0, 9)  # a last call of one row
    assert tool.direct_work(3, 64, 2, "avx512_vnni") == (3 * 128.0, 1)
    assert tool.direct_work(3, 257, 2, "avx2") == (3 * 384.0, 2)
    # the features: the smooth ones (beyond the scan) never count the short-row kernel
    s = tool.mix_summary(100000, 64, "mix3")
    assert tool.features(s, 3, "avx2")[1][2] < 3 * s["padded"] == tool.features(s, 3, "avx2", True)[1][2]


def summaries():
    return st.builds(
        lambda N, K, r: tool.summary(N, K, dict(zip((1, 2, 4, 8), r))),
        st.integers(1, 20000),
        st.integers(1, 65536),
        st.lists(st.integers(0, 5000), min_size=4, max_size=4).filter(any),
    )


def coefficients():
    """Positive gemm (6) and direct (5) coefficients spanning the fitted ones' magnitudes."""
    scale = st.floats(-3, 3)
    base_g = np.array([4000, 0.06, 0.15, 0.003, 0.7, 0.008])
    base_d = np.array([4000, 0.13, 0.005, 1.9, 0.05])
    return st.tuples(st.lists(scale, min_size=6, max_size=6), st.lists(scale, min_size=5, max_size=5)).map(
        lambda t: (base_g * np.exp(t[0]), base_d * np.exp(t[1]))
    )


@given(s=summaries(), gd=coefficients(), isa=st.sampled_from(ISAS))
@settings(max_examples=60, deadline=None)
def test_choice_is_monotone_in_M(s, gd, isa):
    # whatever the coefficients: the direct kernels up to some M, the GEMM from there on (the GEMM
    # tiles' and the direct passes' steps alone would make the two costs cross several times)
    Ms = [*range(1, 90), 100, 129, 500, 4096]
    seq = [tool.choose(s, M, isa, *gd) for M in Ms]
    assert seq == sorted(seq, key=lambda p: p == "panel")


@given(s=summaries(), gd=coefficients(), isa=st.sampled_from(ISAS), k=st.floats(1.5, 20))
@settings(max_examples=40, deadline=None)
def test_a_dearer_pass_never_delays_the_gemm(s, gd, isa, k):
    g, d = gd
    dearer = d.copy()
    dearer[4] *= k

    def first(dd):
        return next((M for M in range(1, 200) if tool.choose(s, M, isa, g, dd) == "panel"), 200)

    assert first(dearer) <= first(d)


def test_the_pass_term_steps_where_a_block_ends():
    # 8192^2 u4 on avx512_vnni: M = 5 reads the weight once (4 x 5), M = 6 twice (4 + 2)
    s = tool.mix_summary(8192, 8192, "u4")
    read = [tool.features(s, M, "avx512_vnni")[1][4] for M in (4, 5, 6, 9, 10)]
    one = 8192 * 4096
    assert read == [one, one, 2 * one, 2 * one, 3 * one]


def test_the_register_unpack_term_covers_the_kernels_rows():
    # FUSED_M is the library's kMFusedGemmI8: up to it the avx512_vnni GEMM unpacks in registers
    # once per 6-row tile (runpack term, no window), beyond it builds a window once (unpack term);
    # avx2 always builds windows
    header = (ROOT / "csrc" / "mp_linear" / "mp_linear_kernels.h").read_text()
    assert int(re.search(r"constexpr int64_t kMFusedGemmI8 = (\d+);", header).group(1)) == tool.FUSED_M
    s = tool.mix_summary(4096, 4096, "mix3")
    window = s["live"] * 4096
    for M in (1, 6, 7, 24, 25, tool.FUSED_M, tool.FUSED_M + 1):
        g, _ = tool.features(s, M, "avx512_vnni")
        fused = M <= tool.FUSED_M
        assert (g[1], g[5]) == ((0.0, -(-M // 6) * s["live"] * 4096) if fused else (window, 0.0)), M
        assert tool.features(s, M, "avx2")[0][1::4] == [window, 0.0]


@given(gd=coefficients(), isa=st.sampled_from(ISAS))
@settings(max_examples=15, deadline=None)
def test_the_fits_vectorized_choice_is_choose(gd, isa):
    rows = [
        dict(N=N, K=K, mix=mix, M=M)
        for N, K in ((64, 64), (4096, 4096), (8192, 256), (512, 8192))
        for mix in ("mix3", "u8")
        for M in (1, 2, 3, 4, 5, 6, 8, 9, 24, 25, 64, 65, 128, 512)
    ]
    panel = tool.Choices(rows, isa).panel(*gd)
    expect = [tool.choose(tool.mix_summary(r["N"], r["K"], r["mix"]), r["M"], isa, *gd) == "panel" for r in rows]
    assert list(panel) == expect


def test_write_header_rewrites_only_the_fitted_block(tmp_path):
    header = tmp_path / "costs.h"
    shutil.copy(tool.HEADER, header)
    before = header.read_text()
    coefs, _ = tool.read_header(header)
    g = np.array([3000, 0.05, 0.1, 0.002, 0.5, 0.006])
    d = np.array([3500, 0.1, 0.004, 1.5, 0.0123456])
    tool.write_header({"avx512_vnni": (g, d, 123)}, "planted", header)
    after = header.read_text()
    new, cross = tool.read_header(header)
    np.testing.assert_allclose(new["avx512_vnni"][0], g, rtol=1e-3)
    np.testing.assert_allclose(new["avx512_vnni"][1], d, rtol=1e-3)
    for a, b in zip(new["avx2"], coefs["avx2"]):  # the ISA not fitted is kept
        np.testing.assert_array_equal(a, b)
    assert "avx512_vnni: fitted" in after and "123 cases, planted" in after
    for isa in tool.HEADER_NAMES:  # the crossovers line is what the written coefficients choose
        assert cross[isa] == tool.crossovers(isa, *new[isa])
    outside = before.split("// BEGIN")[0], before.split("// END")[1]
    assert after.startswith(outside[0]) and after.endswith(outside[1])
    tool.write_header({}, None, header)  # idempotent when nothing is fitted
    assert header.read_text() == after


@pytest.mark.parametrize("isa", ISAS)
def test_header_crossovers_are_its_coefficients_choices(isa):
    # the header as committed: its crossovers line matches its coefficients (a hand edit of one
    # without the other fails here; tests/backends checks the library against the same line)
    coefs, cross = tool.read_header()
    assert cross[isa] == tool.crossovers(isa, *coefs[isa])
