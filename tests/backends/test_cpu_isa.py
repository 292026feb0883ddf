"""The one ISA layer (csrc/common/isa.h): every kernel family resolves CHORD_CPU_ISA / isa= the
same way: a bad name or an ISA this CPU lacks is a clear error naming the variable and the
accepted values, in every family; every ISA this CPU supports can be pinned and gives the same
integer results."""

from __future__ import annotations

import os
import re
import sys

import pytest
import torch
from torch import nn

import chord
import chord.runtime as rt
from chord.backends import cpu as cpu_backend
from chord.models import Caser
from chord.quantize import QuantizedEmbedding

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu

SUPPORTED = cpu_backend.supported_isas()
NAMES = list(_cpu.isa_names()) if cpu_backend.HAVE_CPP else []
UNSUPPORTED = [n for n in NAMES if n not in SUPPORTED]
PREFERENCE = ["avx512_vnni", "avx512", "avx_vnni", "avx2", "neon_dotprod", "neon", "scalar"]


def _weight(N=24, K=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(N, K, generator=g)
    codes = torch.tensor([0, 1, 2, 3] * (N // 4), dtype=torch.uint8)
    return w, codes


def _families():
    """name -> a call that runs that family's C++ kernel under the current CHORD_CPU_ISA and
    returns something comparable (integer results where the family has them)."""
    w, codes = _weight()
    mw = chord.pack(w, codes)
    x = torch.randn(3, 64, generator=torch.Generator().manual_seed(1))
    emb = QuantizedEmbedding.from_float(
        nn.Embedding(40, 32).requires_grad_(False), torch.tensor([0, 1, 2, 3] * 10, dtype=torch.uint8)
    )
    ids = torch.tensor([3, 0, 39, 17, 17])
    torch.manual_seed(0)
    caser = Caser(30, dim=16, L=5, n_v=2, n_h=4).eval()
    seqs = torch.randint(1, 30, (2, 5))
    return {
        "mp_linear": lambda: chord.mp_linear(x, mw, act_bits=8),
        "quantize_pack": lambda: chord.pack(w, codes).qweight,
        "mp_topk": lambda: chord.mp_topk(x, mw, 5)[1],
        "embedding_lookup": lambda: emb(ids),
        "runtime": lambda: rt.compile(caser).topk(seqs, 5)[1],
    }


FAMILIES = list(_families().keys()) if cpu_backend.HAVE_CPP else []


def test_isa_names_are_the_names_the_parser_accepts():
    """isa_names comes from the parser's own table (csrc/common/isa.cpp), not a second list."""
    with pytest.raises(ValueError) as e:
        _cpu.cpu_isa("sse4")
    accepted = re.search(r"expected one of (.*), got 'sse4'", str(e.value)).group(1).split(", ")
    assert accepted == ["auto", *NAMES]


def test_names_and_support_are_consistent():
    assert SUPPORTED[0] == "scalar" and set(SUPPORTED) <= set(NAMES)
    for isa in SUPPORTED:
        assert _cpu.cpu_isa(isa) == isa
    for isa in UNSUPPORTED:
        with pytest.raises(ValueError, match=f"isa={isa}: this CPU lacks .*supported here: scalar"):
            _cpu.cpu_isa(isa)
    with pytest.raises(ValueError, match="isa: expected one of auto, scalar, avx2, avx512, avx512_vnni, avx_vnni"):
        _cpu.cpu_isa("sse4")


def test_auto_is_the_best_supported(monkeypatch):
    monkeypatch.delenv("CHORD_CPU_ISA", raising=False)
    best = next(i for i in PREFERENCE if i in SUPPORTED)
    assert _cpu.cpu_isa("auto") == best == cpu_backend.resolve_isa()
    monkeypatch.setenv("CHORD_CPU_ISA", "auto")
    assert _cpu.cpu_isa("auto") == best


@pytest.mark.optional  # a platform fact, not a missing tool
@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.exists("/proc/cpuinfo"), reason="needs /proc/cpuinfo"
)
def test_features_match_the_kernel_cpu_flags():
    with open("/proc/cpuinfo") as f:
        line = next((ln for ln in f if ln.startswith("flags")), "")
    flags = set(line.split(":", 1)[-1].split())
    if not flags:
        pytest.skip("no x86 flags line in /proc/cpuinfo")
    feats = _cpu.cpu_features()
    # the kernel lists a feature only when the OS enables its register state, as we require
    for ours, linux in [
        ("avx2", "avx2"),
        ("fma", "fma"),
        ("f16c", "f16c"),
        ("avx512f", "avx512f"),
        ("avx512bw", "avx512bw"),
        ("avx512vl", "avx512vl"),
        ("avx512dq", "avx512dq"),
        ("avx512_vnni", "avx512_vnni"),
        ("avx_vnni", "avx_vnni"),
    ]:
        assert feats[ours] == (linux in flags), ours
    assert ("avx512_vnni" in SUPPORTED) == all(
        f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx2", "fma")
    )


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("value", ["sse9", "AVX2", "avx2 "])
def test_bad_env_value_is_an_error_in_every_family(family, value, monkeypatch):
    call = _families()[family]
    monkeypatch.setenv("CHORD_CPU_ISA", value)
    with pytest.raises(ValueError, match=f"CHORD_CPU_ISA: expected one of auto, scalar, avx2, .*got '{value}'"):
        call()


@pytest.mark.parametrize("family", FAMILIES)
def test_unsupported_isa_is_an_error_in_every_family(family, monkeypatch):
    call = _families()[family]
    for isa in UNSUPPORTED:
        monkeypatch.setenv("CHORD_CPU_ISA", isa)
        with pytest.raises(ValueError, match=f"CHORD_CPU_ISA={isa}: this CPU lacks"):
            call()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_supported_isa_pins_and_agrees(family, monkeypatch):
    calls = _families()
    out = {}
    for isa in SUPPORTED:
        monkeypatch.setenv("CHORD_CPU_ISA", isa)
        assert _cpu.cpu_isa("auto") == isa
        out[isa] = calls[family]()
    # integer results (act8 mp_linear, packed bytes, top-k ids, dequantized rows): identical
    for isa in SUPPORTED[1:]:
        assert torch.equal(out[isa], out["scalar"]), (family, isa)


def test_runtime_reports_its_pinned_isa(monkeypatch):
    torch.manual_seed(0)
    caser = Caser(30, dim=16, L=5, n_v=2, n_h=4).eval()
    for isa in SUPPORTED:
        assert rt.compile(caser, isa=isa).isa == isa
        monkeypatch.setenv("CHORD_CPU_ISA", isa)
        assert rt.compile(caser).isa == isa
    monkeypatch.delenv("CHORD_CPU_ISA")
    with pytest.raises(ValueError, match="isa: expected one of"):
        rt.compile(caser, isa="sse9")
