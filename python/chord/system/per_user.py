"""Run an unchanged backbone with a different weight per user for some of its layers.

CHORD trains through the mixed-precision forward: every user in a batch has its own quantized
copy of each planned layer. ``torch.func.vmap`` over ``functional_call`` would replay the whole
model per user; instead the planned ``nn.Linear`` / ``nn.Conv2d`` modules are temporarily given
a batched forward (``bmm`` for Linear, a grouped convolution for Conv2d) while every other op of
the model (attention, norms, pooling) runs once on the whole batch, exactly as the model defines
it. The model's own code and parameters are not modified; leaving the context restores the
original forwards.

Contract: a planned module's input has the users along dim 0 (``[B, ...]``), or batch-major
rows ``[B * n, ...]`` (Linear only). ``tests/system/test_per_user.py`` checks the result against
``torch.func.functional_call`` run one user at a time.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


def _linear_forward(weight: torch.Tensor):
    """weight [B, out, in] -> a forward for an nn.Linear taking x [B, ..., in] (or [B*n, in])."""

    def forward(self, x):
        B, out, k = weight.shape
        xs = x.reshape(B, -1, k)
        y = torch.bmm(xs, weight.transpose(1, 2))
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], out)

    return forward


def _conv2d_forward(weight: torch.Tensor):
    """weight [B, out, in/g, kh, kw] -> a forward for an nn.Conv2d taking x [B, in, H, W]."""

    def forward(self, x):
        B = weight.shape[0]
        if x.dim() != 4 or x.shape[0] != B:
            raise ValueError(
                f"per-user conv2d {self.__class__.__name__}: expected input [B={B}, C, H, W], got {list(x.shape)}"
            )
        if self.padding_mode != "zeros":
            raise NotImplementedError(f"per-user conv2d: padding_mode {self.padding_mode!r} is not supported")
        out = weight.shape[1]
        xs = x.reshape(1, B * x.shape[1], *x.shape[2:])
        ws = weight.reshape(B * out, *weight.shape[2:])
        bias = self.bias.repeat(B) if self.bias is not None else None
        y = F.conv2d(xs, ws, bias, self.stride, self.padding, self.dilation, self.groups * B)
        return y.reshape(B, out, *y.shape[2:])

    return forward


@contextlib.contextmanager
def per_user_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> Iterator[None]:
    """Inside the context, module ``name`` of ``model`` uses ``weights[name]`` (float
    [B, *module.weight.shape], one weight per user of the batch) instead of its own."""
    patched = []
    try:
        for name, w in weights.items():
            mod = model.get_submodule(name)
            if tuple(w.shape[1:]) != tuple(mod.weight.shape):
                raise ValueError(
                    f"weights[{name!r}]: expected shape [B, {', '.join(map(str, mod.weight.shape))}], "
                    f"got {list(w.shape)}"
                )
            if isinstance(mod, nn.Linear):
                fwd = _linear_forward(w)
            elif isinstance(mod, nn.Conv2d):
                fwd = _conv2d_forward(w)
            else:
                raise TypeError(f"weights[{name!r}]: module is {type(mod).__name__}; expected nn.Linear or nn.Conv2d")
            mod.forward = types.MethodType(fwd, mod)
            patched.append(mod)
        yield model
    finally:
        for mod in patched:
            del mod.forward  # the instance attribute hid the class's forward
