"""fork() after chord ran its threaded kernels: the child gets a fresh thread pool (no OpenMP,
csrc/common/parallel.h re-creates the pool after fork) and every kernel works there, even when
the parent forked while another thread was inside a kernel. Run in a subprocess with a timeout,
because the failure mode is a hang."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chord.backends import cpu as cpu_backend

pytestmark = [
    pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built"),
    pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork"),
]

SETUP = r"""
import os, sys, threading
import torch
import chord
from chord import format as fmt
from chord_kernels import _cpu
torch.set_num_threads(2)
g = torch.Generator().manual_seed(0)
w = torch.randn(512, 256, generator=g)
codes = torch.randint(0, 4, (512,), dtype=torch.uint8, generator=g)
x = torch.randn(8, 256, generator=g)
cand = torch.randint(0, 512, (8, 1024), generator=g)

def run_all():
    # the public API (threads: torch.get_num_threads())
    mw = chord.pack(w, codes)                          # quantize_pack: 2 threads (N*K = 2 * 65536)
    y = chord.mp_linear(x, mw)                         # mp_linear: 2 threads
    ids = chord.mp_topk(x, mw, 5, candidates=cand)[1]  # mp_topk, candidate path: 2 threads
    # the kernels with 2 threads whatever torch is set to (the child runs torch with 1, as
    # DataLoader workers do: torch's own OpenMP pool does not survive fork)
    qw = torch.empty(fmt.total_bytes(mw.buckets, 256), dtype=torch.uint8)
    sc, ze = torch.empty(512), torch.empty(512)
    _cpu.quantize_pack(w.numpy(), mw.perm.numpy(), list(mw.buckets), "sym", qw.numpy(), sc.numpy(), ze.numpy(), 2)
    y2 = torch.empty(8, 512)
    _cpu.mp_linear(x.numpy(), 0, mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(),
                   list(mw.buckets), 256, None, 0, y2.numpy(), 2)
    v3, i3 = torch.empty(8, 5), torch.empty(8, 5, dtype=torch.int64)
    _cpu.mp_topk(x.numpy(), mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(),
                 list(mw.buckets), 256, 5, cand.numpy(), 0, v3.numpy(), i3.numpy(), 2)
    return mw.qweight, y, ids, qw, y2, i3

def child_check(expected):
    import signal
    signal.alarm(60)  # a hung child dies instead of lingering
    try:
        torch.set_num_threads(1)
        ok = all(torch.equal(a, b) for a, b in zip(run_all(), expected))
        os._exit(0 if ok else 3)
    except BaseException as e:  # noqa: BLE001
        print("child:", repr(e), file=sys.stderr)
        os._exit(4)

def fork_and_wait(expected):
    pid = os.fork()
    if pid == 0:
        child_check(expected)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)

expected = run_all()
"""

AFTER_CALLS = (
    SETUP
    + r"""
sys.exit(fork_and_wait(expected))
"""
)

WHILE_RUNNING = (
    SETUP
    + r"""
stop = threading.Event()
def spin():
    while not stop.is_set():
        run_all()
t = threading.Thread(target=spin)
t.start()
codes_ = [fork_and_wait(expected) for _ in range(6)]
stop.set()
t.join()
sys.exit(max(codes_))
"""
)


@pytest.mark.parametrize("script", [AFTER_CALLS, WHILE_RUNNING], ids=["after_calls", "while_another_thread_runs"])
def test_child_after_fork_runs_every_threaded_kernel(script):
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"exit {r.returncode} (3: wrong result in the child, 4: error)\n{r.stderr[-2000:]}"
