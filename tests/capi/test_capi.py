"""The Python-free runtime (csrc/capi/chord.h): its top-10 equals the Python fused runtime's for
the same model file, strategy and user -- on x86 (ASan/UBSan build) and under qemu-aarch64;
and its C boundary survives fuzzed model files and strategies.

Native builds go through tools/arm/ci.sh (CMake). Outside CI a missing toolchain skips with the
reason; under CI=true it is a failure.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import chord
from chord import DeviceModel, Strategy, model_fingerprint, quantizable_layers
from chord.export import export_model
from chord.models import Caser, SASRec

ROOT = Path(__file__).resolve().parents[2]
CI_SH = ROOT / "tools" / "arm" / "ci.sh"
IN_CI = os.environ.get("CI") == "true"


def _missing(why: str):
    if IN_CI:
        pytest.fail(f"CI=true: {why}")
    pytest.skip(why)


def _ci(*args, env=None, timeout=900):
    return subprocess.run(
        ["bash", str(CI_SH), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def x86_build(tmp_path_factory):
    """libchord + the example + the fuzzer for this host, under ASan/UBSan."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        _missing("cmake / c++ not found")
    d = tmp_path_factory.mktemp("capi") / "x86-asan"
    r = _ci("x86", d, env={"CHORD_SANITIZE": "1"})
    assert r.returncode == 0, r.stderr[-4000:]
    return d


@pytest.fixture(scope="session")
def a64_build(tmp_path_factory):
    r = _ci("tools")
    if r.returncode == 3:
        _missing(r.stderr.strip())
    assert r.returncode == 0, r.stderr[-4000:]
    d = tmp_path_factory.mktemp("capi") / "aarch64"
    r = _ci("aarch64", d)
    assert r.returncode == 0, r.stderr[-4000:]
    return d


# (arch, embeddings, act_bits): every runner, packed and fp32 tables, both activation modes
CASES = [("sasrec", False, 0), ("sasrec", True, 8), ("caser", True, 0), ("caser", False, 8)]


def _model(arch: str):
    torch.manual_seed(7)
    if arch == "sasrec":
        return SASRec(120, dim=32, blocks=2, heads=2, max_len=12, dropout=0.0).eval()
    return Caser(120, dim=24, L=5, n_v=3, n_h=4, num_users=9, dropout=0.0).eval()


def _case(tmp: Path, arch: str, embeddings: bool, act_bits: int):
    """Model file + strategy bytes + (history, user) + the Python runtime's top-10."""
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
def test_c_example_top10_equals_python_runtime_x86(x86_build, tmp_path, arch, embeddings, act_bits):
    path, spath, hist, user, ids, scores = _case(tmp_path, arch, embeddings, act_bits)
    got_ids, got_scores = _run_example([], x86_build, path, spath, hist, user, act_bits)
    assert got_ids == ids
    torch.testing.assert_close(torch.tensor(got_scores), torch.tensor(scores), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cpu", ["max", "cortex-a53"])
@pytest.mark.parametrize("arch,embeddings,act_bits", CASES)
def test_c_example_top10_equals_python_runtime_aarch64(a64_build, tmp_path, cpu, arch, embeddings, act_bits):
    path, spath, hist, user, ids, scores = _case(tmp_path, arch, embeddings, act_bits)
    got_ids, got_scores = _run_example(["bash", str(CI_SH), "qemu", cpu], a64_build, path, spath, hist, user, act_bits)
    assert got_ids == ids
    torch.testing.assert_close(torch.tensor(got_scores), torch.tensor(scores), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["sasrec", "caser"])
def test_c_boundary_fuzzed_under_asan(x86_build, tmp_path, arch):
    """A few thousand mutated model files and strategies, plus API misuse: every call returns a
    status and a message, never crashes (ASan/UBSan abort on a bad access), and a failed
    strategy leaves the model's results unchanged."""
    path, spath, *_ = _case(tmp_path, arch, True, 0)
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
    """tools/arm/kernel_test.cpp under emulation, with and without the dot-product extension:
    act8 bit-identical to scalar, fp32 within the float64 reference's bound, random shapes
    (odd K, K = 1, every width, bucket mixes, all pruned), through the kernels and mp_linear."""
    r = _ci("qemu", cpu, a64_build / "chord_kernel_test", 1, 400, flag, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failures 0" in r.stdout
