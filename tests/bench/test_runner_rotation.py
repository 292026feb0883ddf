"""How much weight each benchmark case rotates through (so every call streams from memory, not
from the last-level cache), and where the ggml peer's weights live."""

from __future__ import annotations

import argparse

import pytest

from chord.bench import cli, machine, runner
from chord.bench.config import BenchConfig


@pytest.fixture
def ctx(monkeypatch):
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 32 << 20)
    return runner.RunContext(BenchConfig(), log=lambda s: None)


def test_kernels_rotate_past_the_caches(ctx):
    # 2 x a 32 MiB L3 (64 MB) left part of an M = 1 weight rotation cached: the kernels suite
    # rotates >= max(256 MiB, 4 x L3), the other suites keep 2 x L3
    assert ctx.rotation_target(kernels=True) == 256 << 20
    assert ctx.rotation_target() == 64 << 20
    mix3 = 6.34e6  # chord mix3 4096^2, bytes per call
    n = ctx.n_sets(mix3, kernels=True)
    assert n * mix3 >= 256 << 20 and (n - 1) * mix3 < 256 << 20  # the target plus at most one set
    assert ctx.n_sets(mix3) == 11  # other suites: 2 x L3, as before
    assert ctx.n_sets(1000, kernels=True) == 256 and ctx.n_sets(1000) == 32  # tiny sets: capped
    assert ctx.n_sets(1 << 30, kernels=True) == 2  # one set past the target: two still rotate
    assert ctx.doc["chord"]["kernel_rotation_target_bytes"] == 256 << 20


def test_a_large_cache_raises_the_kernel_rotation(monkeypatch):
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 256 << 20)
    c = runner.RunContext(BenchConfig(), log=lambda s: None)
    assert c.rotation_target(kernels=True) == 4 * (256 << 20)


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"peer_pages": ("own", "1g")}, "peer_pages"),
        ({"peer_pages": ()}, "peer_pages"),
        ({"kernel_rotate_mb": -1}, "kernel_rotate_mb"),
        ({"kernel_max_sets": 1}, "kernel_max_sets"),
    ],
)
def test_bad_rotation_or_pages_settings_are_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        BenchConfig(**kw).validate()


def test_peer_pages_from_the_command_line():
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    assert cli.build_config(p.parse_args([])).peer_pages == ("own", "2m")  # both by default
    assert cli.build_config(p.parse_args(["--peer-pages", "2m"])).peer_pages == ("2m",)
