"""Atomic weight swaps for a model that serves while it adapts.

``quantize_`` and ``DeviceModel.apply`` build every new packed weight first and then swap them
all in under the model's :class:`ModelLock` (exclusive); each forward of the model -- a call of
the root module -- holds the lock shared. So a forward running concurrently with an adaptation
computes with all the old weights or all the new ones, never a mix, and never sees a module
half-swapped. Forwards do not block each other (the C++ kernels release the GIL).

The same root hooks make ``load_state_dict`` all-or-nothing: every entry is checked against
the model (shapes, missing/unexpected keys under ``strict``, each packed weight against its
module) before anything is copied; and ``model.load_state_dict`` copies under the lock
(exclusive), so a concurrent forward computes with the state before or after the load.

Scope: the lock is taken by calls of the root module (``model(x)``, ``DeviceModel(x)``) of a
model that can re-pack (``DeviceModel``, or ``quantize_(..., keep_float=True)``: a model
quantized without its float weights cannot be re-quantized, so it gets no lock and pays nothing
per forward). Calling a swapped submodule directly while another thread re-packs it is not
covered.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from .modules import SWAPS

_ATTR = "_chord_model_lock"
_SWAPPED = tuple(SWAPS.values())


class ModelLock:
    """Readers (forwards): shared and re-entrant per thread. Writer (a swap): exclusive; it
    waits for running forwards and holds new ones back (no writer starvation). Copies and
    pickles come back as a fresh, unlocked lock."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting = 0
        self._local = threading.local()

    def __reduce__(self):
        return ModelLock, ()

    def __deepcopy__(self, memo) -> ModelLock:
        return ModelLock()

    def acquire_read(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            return
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1
        self._local.depth = 1

    def release_read(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if not depth:
            return
        self._local.depth = depth - 1
        if depth == 1:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            raise RuntimeError("chord: a model's weights cannot be swapped from inside its own forward")
        with self._cond:
            self._waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _forward_enter(module: nn.Module, args) -> None:
    if torch.compiler.is_compiling():
        return
    lock = module.__dict__.get(_ATTR)
    if lock is not None:
        lock.acquire_read()


def _forward_exit(module: nn.Module, args, output) -> None:
    if torch.compiler.is_compiling():
        return
    lock = module.__dict__.get(_ATTR)
    if lock is not None:
        lock.release_read()


#: the forward hooks of the lock (the fused runtime, which skips hooks, accepts these)
LOCK_HOOKS = (_forward_enter, _forward_exit)


def _load_pre_hook(
    module: nn.Module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
) -> None:
    check_state_dict(module, state_dict, prefix, strict)


def check_state_dict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], prefix: str = "", strict: bool = True
) -> None:
    """Raise RuntimeError (naming the entry) unless ``model.load_state_dict(state_dict, strict)``
    can load every entry: shapes equal, no missing or unexpected keys under ``strict``, and
    every packed weight a valid packing of its module's bit mix."""
    own = {prefix + k: v for k, v in model.state_dict(keep_vars=True).items()}
    problems = []
    for k, v in own.items():
        if k not in state_dict:
            if strict:
                problems.append(f"missing key {k!r}")
            continue
        got = state_dict[k]
        if not isinstance(got, torch.Tensor):
            problems.append(f"{k!r}: expected a tensor, got {type(got).__name__}")
        elif isinstance(v, torch.Tensor) and tuple(got.shape) != tuple(v.shape):
            problems.append(f"{k!r}: shape {list(got.shape)} does not match the model's {list(v.shape)}")
    if strict:
        problems += [f"unexpected key {k!r}" for k in state_dict if k.startswith(prefix) and k not in own]
    for name, mod in model.named_modules(prefix=prefix.rstrip(".")):
        if isinstance(mod, _SWAPPED):
            why = mod.check_state(state_dict, name + "." if name else "")
            if why:
                problems.append(why)
    if problems:
        raise RuntimeError(
            f"load_state_dict of {type(model).__name__}: nothing loaded; "
            + "; ".join(problems[:8])
            + ("; ..." if len(problems) > 8 else "")
        )


def _locked_load_state_dict(model: nn.Module, *args, **kwargs):
    """``model.load_state_dict(...)`` under the model's lock (exclusive) when it has one. A
    wrapper rather than a pre/post hook pair: an exception between the two hooks would leave
    the lock held and every later forward blocked; ``with`` releases it on any exit."""
    load = type(model).load_state_dict  # the class's own (a subclass override included)
    lock = model.__dict__.get(_ATTR)
    if lock is None:
        return load(model, *args, **kwargs)
    with lock.write():
        return load(model, *args, **kwargs)


def guard_loads(model: nn.Module) -> None:
    """Make ``model.load_state_dict`` check every entry before it copies any, and copy under
    the model's lock once it has one (once per model). The wrapper is an instance attribute (a
    partial of a module-level function: it deep-copies and pickles with the model)."""
    if not model.__dict__.get("_chord_guarded_loads"):
        model.register_load_state_dict_pre_hook(_load_pre_hook)
        model.__dict__["load_state_dict"] = functools.partial(_locked_load_state_dict, model)
        model.__dict__["_chord_guarded_loads"] = True


def lock_of(model: nn.Module) -> ModelLock | None:
    """The model's lock if it has one (no lock is installed)."""
    return model.__dict__.get(_ATTR)


def has_lock(model: nn.Module) -> bool:
    return _ATTR in model.__dict__


def model_lock(model: nn.Module) -> ModelLock:
    """The model's lock, installed on first use with its root forward hooks (a shared lock per
    forward costs every call, reports/2026-12-06-op-layer-fast-path/README.md, so only models
    that re-pack -- ``DeviceModel``, ``quantize_(..., keep_float=True)`` -- get one)."""
    lock = model.__dict__.get(_ATTR)
    if lock is None:
        lock = ModelLock()
        model.__dict__[_ATTR] = lock
        model.register_forward_pre_hook(_forward_enter)
        model.register_forward_hook(_forward_exit, always_call=True)
    return lock
