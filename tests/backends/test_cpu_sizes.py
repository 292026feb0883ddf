"""Size arithmetic in the C++ kernels is checked (csrc/common/format.h): bucket tables whose row
counts or byte sizes would wrap int64, and activation buffers whose size would wrap, are clear
errors, never crashes (issue 16's C++ reproducers, each in a fresh interpreter because the
failure mode was SIGSEGV)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from chord.backends import cpu as cpu_backend

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu


def run_fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "buckets",
    [[8, 2**62] * 3 + [8, 2**62 + 4], [0, 2**63 - 1, 0, 2**63 - 1, 8, 6]],
    ids=["sum_wraps_to_N", "two_max_rows_wrap"],
)
def test_quantize_pack_wrapping_bucket_rows_is_a_value_error(buckets):
    r = run_fresh(f"""
        import torch, chord
        try:
            torch.ops.chord.quantize_pack(torch.randn(4, 64), torch.arange(4, dtype=torch.int32), {buckets}, "sym")
        except ValueError as e:
            print("ValueError:", e)
    """)
    assert r.returncode == 0, f"crashed (exit {r.returncode}): {r.stderr[-1500:]}"
    assert "ValueError:" in r.stdout and "buckets" in r.stdout, r.stdout + r.stderr[-1500:]


def test_all_pruned_huge_k_stride0_mp_linear_is_an_error_or_zero():
    r = run_fresh("""
        import torch, chord
        from chord import MixedWeight
        mw = MixedWeight(torch.empty(0, dtype=torch.uint8), torch.zeros(2), torch.zeros(2),
                         torch.arange(2, dtype=torch.int32), torch.zeros(2, dtype=torch.uint8), [0, 2], (2, 2**62))
        try:
            mw.validate()   # the op layer bounds K (<= 2**31 - 1): a FormatError here is a clear error too
        except chord.FormatError as e:
            print("ERROR", type(e).__name__, e)
        try:
            y = chord.mp_linear(torch.zeros(1, 1).expand(1, 2**62), mw)
            print("RESULT", bool((y == 0).all()))
        except (ValueError, OverflowError, MemoryError, RuntimeError) as e:
            print("ERROR", type(e).__name__, e)
    """)
    assert r.returncode == 0, f"crashed (exit {r.returncode}): {r.stderr[-1500:]}"
    assert "RESULT True" in r.stdout or "ERROR" in r.stdout, r.stdout + r.stderr[-1500:]


def test_binding_checks_activation_buffer_size():
    # the C++ side alone (no op layer in front): stride-0 x of K = 2^61 - 1 (numpy's largest float32
    # view) against an all-pruned weight: M x padded K x 4 bytes passes 2^63
    K = 2**61 - 1
    x = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.float32), shape=(1, K), strides=(0, 0))
    y = np.empty((1, 2), dtype=np.float32)
    with pytest.raises(
        OverflowError, match="x: (M x padded K|activation buffer bytes|padded K): size arithmetic overflows"
    ):
        _cpu.mp_linear(
            x,
            0,
            np.empty(0, np.uint8),
            np.zeros(2, np.float32),
            np.zeros(2, np.float32),
            np.arange(2, dtype=np.int32),
            [0, 2],
            K,
            None,
            0,
            y,
            1,
            "auto",
            "direct",
        )


@pytest.mark.parametrize(
    "buckets, N, K, exc, match",
    [
        ([8, 2**61, 8, 2**61], 2**62, 1024, OverflowError, "bytes of the 8-bit bucket"),
        ([8, 3], 3, 2**63 - 4, OverflowError, "row bytes of K"),
        ([8, 2**62] * 3 + [8, 2**62 + 4], 4, 64, ValueError, "rows sum to more than N = 4"),
    ],
)
def test_packed_bytes_checks(buckets, N, K, exc, match):
    with pytest.raises(exc, match=match):
        _cpu.packed_bytes(buckets, N, K)


def test_mp_topk_and_embedding_bucket_tables_are_checked():
    a = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="rows sum to more than N"):
        _cpu.mp_topk(
            np.zeros((1, 64), np.float32),
            np.empty(0, np.uint8),
            a,
            a,
            np.arange(4, dtype=np.int32),
            [0, 2**63 - 1, 0, 2**63 - 1, 8, 6],
            64,
            1,
            None,
            0,
            np.empty((1, 1), np.float32),
            np.empty((1, 1), np.int64),
            1,
        )
    # an embedding bucket whose rows x row bytes would wrap past the table
    with pytest.raises(ValueError, match="overruns qweight"):
        _cpu.embedding_lookup(
            np.zeros(1, np.int64),
            np.zeros(64, np.uint8),
            np.full(1, 8, np.int64),
            np.zeros(1, np.int64),
            np.ones(1, np.float32),
            np.zeros(1, np.float32),
            [[8, 0, 2**62]],
            64,
            np.empty((1, 64), np.float32),
        )
