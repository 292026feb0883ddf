"""torchao as a CPU peer (optional extra ``[torchao]``, PyPI ``torchao``): the successor of the
deprecated ``torch.ao.quantization.quantize_dynamic`` that the ``torch_dynamic_int8`` baseline
still uses.

``torchao.quantization.quantize_`` is applied to an ``nn.Linear`` holding the same fp32 weight,
once per rotated weight set, with

* ``torchao_int8_dyn``: ``Int8DynamicActivationInt8WeightConfig()`` (int8 per-channel
  weights, activations quantized per token at every call), fp32 activations;
* ``torchao_int4_wo``: ``Int4WeightOnlyConfig(group_size=128)`` (int4 weights, bf16
  activations).

Whichever config does not run on this CPU / torch build is reported ``unavailable`` with
torchao's own reason (e.g. an int4 packing format that needs CUDA or another package), never
silently replaced by another kernel.
"""

from __future__ import annotations

import warnings

import torch

from .baselines import Prepared, Unavailable, import_peer, importable

#: peer implementation name -> (config name, activation dtype, weight bytes per element)
CONFIGS = {
    "torchao_int8_dyn": ("Int8DynamicActivationInt8WeightConfig", torch.float32, 1.0),
    "torchao_int4_wo": ("Int4WeightOnlyConfig", torch.bfloat16, 0.53),
}
INT4_GROUP = 128


def _torchao():
    return import_peer("torchao.quantization", "torchao", "torchao")


def available() -> bool:
    return importable(_torchao)


def _config(tq, kind: str):
    name = CONFIGS[kind][0]
    cls = getattr(tq, name, None)
    if cls is None:
        raise Unavailable(f"torchao.quantization.{name} missing in this torchao")
    return cls(group_size=INT4_GROUP) if kind == "torchao_int4_wo" else cls()


def torchao_linear(kind: str, w: torch.Tensor, x: torch.Tensor, n_sets: int) -> Prepared:
    """Prepared ``quantize_``-d ``nn.Linear`` of x [M, K] by w [N, K] -> [M, N] under ``kind``."""
    if kind not in CONFIGS:
        raise ValueError(f"kind: expected one of {sorted(CONFIGS)}, got {kind!r}")
    tq = _torchao()
    _, act_dtype, bpw = CONFIGS[kind]
    N, K = w.shape
    if kind == "torchao_int4_wo" and K % INT4_GROUP:
        raise Unavailable(f"{kind} needs K % {INT4_GROUP} == 0, got K={K}")
    xa = x.detach().to(act_dtype)
    mods = []
    for _ in range(n_sets):
        lin = torch.nn.Linear(K, N, bias=False, dtype=act_dtype, device=w.device)
        with torch.no_grad():
            lin.weight.copy_(w)
        lin.requires_grad_(False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tq.quantize_(lin, _config(tq, kind))
                lin(xa)  # the first call proves the config has a kernel here
        except Unavailable:
            raise
        except Exception as e:  # noqa: BLE001 - torchao's own reason why it cannot run here
            msg = str(e).splitlines()[0] if str(e) else ""
            raise Unavailable(f"{CONFIGS[kind][0]} does not run here ({type(e).__name__}: {msg})") from e
        mods.append(lin)
    n = len(mods)
    return Prepared(
        lambda i: mods[i % n](xa), int(N * K * bpw), n, f"torchao {CONFIGS[kind][0]} ({str(act_dtype)[6:]} act)"
    )
