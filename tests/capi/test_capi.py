"""The Python-free runtime (csrc/capi/chord.h): its top-10 equals the Python fused runtime's for
the same model file, strategy and user -- on x86 (ASan/UBSan build) and under qemu-aarch64;
and its C boundary survives fuzzed model files and strategies.

Native builds go through tools/arm/ci.sh (CMake). Outside CI a missing toolchain skips with the
reason; under CI=true it is a failure.
"""

from __future__ import annotations

import copy
import subprocess
from functools import cache
from pathlib import Path

import pytest
import torch

import chord
from chord import DeviceModel, Strategy, model_fingerprint, quantizable_layers
from chord.export import export_model
from chord.models import Caser, SASRec
from tests.capi.native import CI_SH, ci

# (arch, embeddings, act_bits): every runner, packed and fp32 tables, both activation modes
CASES = [("sasrec", False, 0), ("sasrec", True, 8), ("caser", True, 0), ("caser", False, 8)]


def _model(arch: str):
    torch.manual_seed(7)
    if arch == "sasrec":
        return SASRec(120, dim=32, blocks=2, heads=2, max_len=12, dropout=0.0).eval()
    return Caser(120, dim=24, L=5, n_v=3, n_h=4, num_users=9, dropout=0.0).eval()


@pytest.fixture(scope="session")
def case_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("capi-cases")


def _case(tmp: Path, arch: str, embeddings: bool, act_bits: int):
    """Model file + strategy bytes + (history, user) + the Python runtime's top-10: made once per
    session and case, shared by the x86 run, both qemu CPUs and the fuzzer."""
    return _make_case(tmp, arch, embeddings, act_bits)


@cache
def _make_case(tmp: Path, arch: str, embeddings: bool, act_bits: int):
    tmp = tmp / f"{arch}-{int(embeddings)}-{act_bits}"
    tmp.mkdir()
    model = _model(arch)
    path = tmp / f"{arch}-{int(embeddings)}.chord"
    export_model(model, path, embeddings=embeddings)
    layers = quantizable_layers(model, embeddings=embeddings)
    strat = Strategy.random(layers, 3.0, seed=3).to_bytes(model_fingerprint(model))
    spath = tmp / f"{arch}-{int(embeddings)}.strategy"
    spath.write_bytes(strat)
    dm = DeviceModel(copy.deepcopy(model), embeddings=embeddings, act_bits=act_bits)
    dm.apply(strat)
    fused = chord.runtime.compile(dm.model)
    g = torch.Generator().manual_seed(11)
    hist = torch.randint(1, 121, (9,), generator=g)
    user = 4 if arch == "caser" else -1
    kw = {"users": torch.tensor([user])} if arch == "caser" else {}
    scores, ids = fused.topk(hist.view(1, -1), 10, **kw)
    return path, spath, hist.tolist(), user, ids[0].tolist(), scores[0].tolist()


def _run_example(cmd_prefix, build: Path, path, spath, hist, user, act_bits):
    args = [*cmd_prefix, str(build / "chord_rerank"), str(path), str(spath), *map(str, hist), "--user", str(user)]
    if act_bits:
        args += ["--act-bits", str(act_bits)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.strip().splitlines()]
    return [int(a) for a, _ in rows], [float(b) for _, b in rows]


@pytest.mark.parametrize("arch,embeddings,act_bits", CASES)
def test_c_example_top10_equals_python_runtime_x86(x86_build, case_dir, arch, embeddings, act_bits):
    path, spath, hist, user, ids, scores = _case(case_dir, arch, embeddings, act_bits)
    got_ids, got_scores = _run_example([], x86_build, path, spath, hist, user, act_bits)
    assert got_ids == ids
    torch.testing.assert_close(torch.tensor(got_scores), torch.tensor(scores), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cpu", ["max", "cortex-a53"])
@pytest.mark.parametrize("arch,embeddings,act_bits", CASES)
def test_c_example_top10_equals_python_runtime_aarch64(a64_build, case_dir, cpu, arch, embeddings, act_bits):
    path, spath, hist, user, ids, scores = _case(case_dir, arch, embeddings, act_bits)
    got_ids, got_scores = _run_example(["bash", str(CI_SH), "qemu", cpu], a64_build, path, spath, hist, user, act_bits)
    assert got_ids == ids
    torch.testing.assert_close(torch.tensor(got_scores), torch.tensor(scores), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["sasrec", "caser"])
def test_c_boundary_fuzzed_under_asan(x86_build, case_dir, arch):
    """A few thousand mutated model files and strategies, plus API misuse: every call returns a
    status and a message, never crashes (ASan/UBSan abort on a bad access), and a failed
    strategy leaves the model's results unchanged."""
    path, spath, *_ = _case(case_dir, arch, True, 0)
    r = subprocess.run(
        [str(x86_build / "chord_fuzz_capi"), str(path), str(spath), "3000", "60", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-5000:])
    counts = dict(line.rsplit(None, 1) for line in r.stdout.splitlines()[1:] if line.strip())
    iters = int(r.stdout.split()[1])
    assert iters >= 500, r.stdout  # bounded by time: at least this many under the sanitizers
    # both kinds of failure and success were reached (the mutations are not all rejected early)
    assert any(k.startswith("open CHORD_E_FORMAT") for k in counts), r.stdout
    assert any(k.startswith("apply CHORD_E_STRATEGY") for k in counts), r.stdout
    assert any(k.startswith("open CHORD_OK") for k in counts), r.stdout


@pytest.mark.parametrize("cpu,flag", [("max", "--require-dotprod"), ("cortex-a53", "--forbid-dotprod")])
def test_aarch64_kernels_match_scalar_under_qemu(a64_build, cpu, flag):
    """tools/arm/kernel_test.cpp under emulation, with and without the dot-product extension,
    random shapes (odd K, K = 1, every width, bucket mixes, all pruned, rounding ties):
    mp_linear act8 bit-identical to scalar and fp32 within the float64 reference's bound;
    quantize_pack (rows and the op), the embedding lookup and mp_topk (its int8 scan's dots,
    and ids + scores through the op) bit-identical to scalar, every ISA of the CPU pinned."""
    r = ci("qemu", cpu, a64_build / "chord_kernel_test", 1, 400, flag, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failures 0" in r.stdout
    checks = int(r.stdout.split("checks ")[1].split(",")[0])
    assert checks > 10000, r.stdout  # the driver ran its cases, not an early exit


def test_x86_kernels_match_scalar(x86_build):
    """The same driver on x86 (ASan/UBSan): quantize_pack, the embedding lookup, mp_topk and
    mp_linear with every ISA of this CPU pinned against scalar."""
    r = subprocess.run([str(x86_build / "chord_kernel_test"), "3", "80"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    assert "failures 0" in r.stdout


def test_packer_bytes_identical_on_x86_and_aarch64(x86_build, a64_build):
    """A strategy made in the cloud adapts the same bytes on any device: the digest of
    quantize_pack's output on fixed layers (every width, both schemes, rounding ties, odd K) is
    the same from the x86 packer (this CPU's best ISA) and the AArch64 one with and without dotprod."""
    x86 = subprocess.run([str(x86_build / "chord_kernel_test"), "--pack-digest"], capture_output=True, text=True)
    assert x86.returncode == 0, x86.stderr
    digests = {x86.stdout.split()[2]}
    for cpu in ("max", "cortex-a53"):
        r = ci("qemu", cpu, a64_build / "chord_kernel_test", "--pack-digest", timeout=300)
        assert r.returncode == 0, r.stderr
        assert "isa neon" in r.stdout, r.stdout  # the NEON packer ran, not the scalar one
        digests.add(r.stdout.split()[2])
    assert len(digests) == 1, digests
