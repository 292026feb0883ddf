"""pytest setup for the whole suite (shared helpers are in tests/helpers.py)."""

from __future__ import annotations

import os

# Triton reads TRITON_INTERPRET when its modules are first imported (jit decoration, and
# triton.language's own jit helpers such as tl.cdiv), and torch may import triton early (opcheck,
# torch.compile). So the CPU interpreter is chosen here, before anything imports torch.
if os.environ.get("CHORD_TRITON_TEST_DEVICE", "cpu") == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402

import chord  # noqa: E402,F401  (registers ops)

IN_CI = os.environ.get("CI") == "true"

# Cost markers by location (docs/development.md, "Tests"): a test in these places gets the
# marker without a decorator, so the fast developer loop
#   python -m pytest -q -m "not slow and not perf and not triton and not ddp"
# stays fast as tests are added. Paths are relative to tests/.
_BY_PATH = {
    "chord_kernels/": "triton",
    "bench/test_gates.py": "perf",
    "bench/test_cli.py": "perf",
    "system/test_chord_trainer_ddp.py": "ddp",
}
#: single tests over ~10 s on a busy 2-core machine (`--durations`, 2026-12-06); node ids relative
#: to tests/, prefix match
SLOW = (
    "train/test_trainer.py::test_one_epoch_smoke_train_on_real_slice",
    "train/test_trainer.py::test_loss_decreases_and_early_stopping_on_learnable_toy",
    "train/test_trainer.py::test_train_and_eval_cli",
    "experiments/test_runner.py::test_quick_grid_writes_results_and_resumes",
    "backends/test_cpu_mp_linear.py::test_fuzz_against_float64_reference",
    "test_demo.py",
    "test_ci_skips.py",
)


def pytest_collection_modifyitems(config, items):
    root = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        rel = os.path.relpath(str(item.path), root).replace(os.sep, "/")
        nodeid = rel + "::" + item.name
        for prefix, marker in _BY_PATH.items():
            if rel.startswith(prefix):
                item.add_marker(getattr(pytest.mark, marker))
        if nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "optional(reason): may skip under CI=true too (a GPU, an optional "
        "extra, an opt-in run); every other skip is a failure there",
    )


# Under CI=true no test skips silently: a skip -- skipif, importorskip, pytest.skip, at module level
# or in a test -- becomes a failure unless the test is marked ``optional`` (what CI is not expected
# to have). Outside CI a skip stays a skip, with its reason (pytest -rs lists them).
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail") and item.get_closest_marker("optional") is None:
        _fail_skip(rep)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped:
        _fail_skip(rep)


def _fail_skip(rep) -> None:
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    rep.outcome = "failed"
    rep.longrepr = f"skipped under CI=true, where a missing extension or tool is a failure: {reason}"
