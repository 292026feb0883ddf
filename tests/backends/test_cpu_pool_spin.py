"""The thread pool's idle policy from Python (csrc/common/parallel.h; the policy itself is checked
in C++ by tests/common/cpp/pool_check.cpp): ``pool_spin`` / ``set_pool_spin`` in
``chord.backends.cpu``, their refusals, ``CHORD_POOL_SPIN_US`` (read once per process; a bad value
is a ValueError naming it, from the first call that needs the pool), the cap held across
``fork()``, and ``pool_stats()["wakeups"]``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import chord
from chord.backends import cpu as cpu_backend
from tests.helpers import missing

needs_cpp = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


@pytest.fixture
def restore_cap():
    if not cpu_backend.HAVE_CPP:
        missing("needs the C++ extension")
    cap = cpu_backend.pool_spin()["cap_us"]
    yield
    cpu_backend.set_pool_spin(cap)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "CHORD_POOL_SPIN_US"}
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=e)


def _two_thread_call() -> None:
    # a 2-thread mp_linear: the pool runs it with a worker
    g = torch.Generator().manual_seed(0)
    mw = chord.pack(torch.randn(512, 256, generator=g), torch.randint(0, 4, (512,), dtype=torch.uint8, generator=g))
    nt = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        chord.mp_linear(torch.randn(8, 256, generator=g), mw)
    finally:
        torch.set_num_threads(nt)


@needs_cpp
def test_pool_spin_reports(restore_cap):
    _two_thread_call()
    sp = cpu_backend.pool_spin()
    assert set(sp) == {"cap_us", "window_us", "workers", "sleeping", "worker_cpu_us"}
    assert 0 <= sp["window_us"] <= sp["cap_us"] or sp["cap_us"] == 0 and sp["window_us"] == 0
    assert sp["workers"] >= 1 and 0 <= sp["sleeping"] <= sp["workers"]
    assert sp["worker_cpu_us"] >= 0 if sys.platform.startswith("linux") else sp["worker_cpu_us"] >= -1
    st = cpu_backend.pool_stats()
    assert "wakeups" in st and st["wakeups"] >= 0


@needs_cpp
def test_set_pool_spin(restore_cap):
    cpu_backend.set_pool_spin(250)
    assert cpu_backend.pool_spin()["cap_us"] == 250
    cpu_backend.set_pool_spin(0)
    sp = cpu_backend.pool_spin()
    assert sp["cap_us"] == 0 and sp["window_us"] == 0  # a lower cap holds at once
    _two_thread_call()
    assert cpu_backend.pool_spin()["window_us"] == 0


@needs_cpp
@pytest.mark.parametrize("bad", [-1, 1_000_001, 2**70, 1.5, True, "100", None])
def test_set_pool_spin_refuses(restore_cap, bad):
    cap = cpu_backend.pool_spin()["cap_us"]
    with pytest.raises(ValueError, match="spin_us"):
        cpu_backend.set_pool_spin(bad)
    assert cpu_backend.pool_spin()["cap_us"] == cap


@needs_cpp
@pytest.mark.parametrize("bad", [-1, 1_000_001])
def test_binding_refuses(restore_cap, bad):
    with pytest.raises(ValueError, match=r"spin_us: expected whole microseconds in \[0, 1000000\]"):
        cpu_backend._cpu.set_pool_spin(bad)


@needs_cpp
def test_env_cap():
    code = "from chord.backends import cpu; print(cpu.pool_spin()['cap_us'])"
    assert _run(code, CHORD_POOL_SPIN_US="250").stdout.split() == ["250"]
    assert _run(code, CHORD_POOL_SPIN_US="0").stdout.split() == ["0"]
    assert _run(code).stdout.split() == ["1000"]  # the default
    assert _run(code, CHORD_POOL_SPIN_US="").stdout.split() == ["1000"]
    # set_pool_spin outranks the variable
    code2 = "from chord.backends import cpu; cpu.set_pool_spin(70); print(cpu.pool_spin()['cap_us'])"
    assert _run(code2, CHORD_POOL_SPIN_US="250").stdout.split() == ["70"]


@needs_cpp
@pytest.mark.parametrize("bad", ["abc", "-5", "+5", " 5", "5us", "1.5", "1000001", "99999999999999999999"])
def test_env_cap_refused(bad):
    # the first use of the pool raises, naming the variable: pool_spin, pool_stats, a 2-thread call
    code = (
        "import torch, chord\n"
        "from chord.backends import cpu\n"
        "for f in (cpu.pool_spin, cpu.pool_stats):\n"
        "    try:\n"
        "        f()\n"
        "    except ValueError as e:\n"
        "        assert 'CHORD_POOL_SPIN_US' in str(e), e\n"
        "    else:\n"
        "        raise SystemExit(f'{f.__name__} did not raise')\n"
        "torch.set_num_threads(2)\n"
        "w = chord.pack(torch.randn(512, 256), torch.randint(0, 4, (512,), dtype=torch.uint8))\n"
        "print('ok')\n"
    )
    r = _run(code, CHORD_POOL_SPIN_US=bad)
    assert r.returncode != 0 and "CHORD_POOL_SPIN_US" in r.stderr, r.stdout + r.stderr
    assert "ValueError" in r.stderr and "ok" not in r.stdout


@needs_cpp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_cap_holds_in_forked_child():
    code = (
        "import os, torch, chord\n"
        "from chord.backends import cpu\n"
        "cpu.set_pool_spin(321)\n"
        "torch.set_num_threads(2)\n"
        "chord.pack(torch.randn(512, 256), torch.randint(0, 4, (512,), dtype=torch.uint8))\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    import signal; signal.alarm(60)\n"
        "    torch.set_num_threads(1)\n"
        "    os._exit(0 if cpu.pool_spin()['cap_us'] == 321 and cpu.pool_spin()['workers'] == 0 else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )
    r = _run(code)
    assert r.stdout.split() == ["0"], r.stdout + r.stderr
