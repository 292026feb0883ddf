# ruff: noqa: E701, E702 (a measurement script, kept as run: formatted and imports sorted only)
import time

import torch

from chord.backends import cpu as cb


def per_call(f, n=2000, batches=30):
    best = 1e9
    for _ in range(batches):
        t0 = time.thread_time_ns()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time_ns() - t0) / n)
    return best / 1e3


x = torch.randn(1, 50, 64)
b = torch.randn(64)
T = torch.Tensor
st = torch.strided
for name, f in [
    ("noop", lambda: None),
    ("is_compiling", cb._is_compiling),
    ("type is", lambda: type(x) is T),
    ("is_cpu", lambda: x.is_cpu),
    ("layout", lambda: x.layout is st),
    ("is_neg", lambda: x.is_neg()),
    ("requires_grad", lambda: x.requires_grad),
    ("grad_enabled", cb._is_grad_enabled),
    ("tracing", cb._tracing_state),
    ("dispatch_len", cb._dispatch_stack_len),
    ("fn_mode", cb._function_mode_on),
    ("eager_ok", lambda: cb.eager_ok(x)),
    ("shape", lambda: x.shape),
    ("stride()", lambda: x.stride()),
    ("is_contiguous()", lambda: x.is_contiguous()),
    ("data_ptr", lambda: x.data_ptr()),
    ("_version", lambda: x._version),
    ("dtype", lambda: x.dtype),
    ("ndim", lambda: b.ndim),
    ("shape[0]", lambda: b.shape[0]),
    ("shape==(64,)", lambda: b.shape == (64,)),
    ("nthreads", cb._get_num_threads),
    ("new_empty", lambda: x.new_empty(1, 50, 64)),
    ("torch.empty", lambda: torch.empty(1, 50, 64)),
    ("empty_like", lambda: torch.empty_like(x)),
]:
    print(f"{name:16s} {per_call(f):.3f}")
