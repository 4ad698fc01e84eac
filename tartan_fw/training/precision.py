"""Mixed precision: which dtype the forward and backward passes compute in, on any device.

bf16 autocast runs matrix products in bfloat16 while the parameters, their gradients (so the flat
gradient buffer the weighters read), the optimiser state and the losses stay fp32: autocast casts
each op's inputs, never a tensor it does not produce, and every loss is taken on ``logits.float()``.
bf16 keeps fp32's exponent range, so no loss scaling is needed (unlike fp16).

On the CPU, bf16 pays only where the processor computes it natively (AVX512-BF16 or AMX); elsewhere
oneDNN emulates it at about fp32's cost with bf16's rounding, so ``auto`` keeps fp32 there.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Literal, Optional

import torch

Precision = Literal["auto", "bf16", "fp32"]


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX, as torch reports them (the private probes are absent from older torch: no)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def resolve_precision(setting: Precision, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of ``setting`` on ``device``; None computes in fp32.

    ``auto``: bf16 on CUDA (every GPU this project targets has bf16 tensor cores) and on CPUs with
    native bf16; fp32 elsewhere. ``bf16`` forces it (emulated where not native).
    """
    if setting == "fp32":
        return None
    if setting == "bf16" or device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: Optional[torch.dtype]) -> Any:
    """The context the forward passes run in."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def precision_name(dtype: Optional[torch.dtype]) -> str:
    """How ``metrics.json`` and the log name the precision a run computed in."""
    return "fp32" if dtype is None else "bf16"
