"""Training precision: bf16 autocast and the channels-last memory format that makes it pay off.

`train.precision`:
- auto: bf16 autocast on CUDA, fp32 on a CPU (the default; CPU results stay bit-comparable to earlier runs);
- bf16: bf16 autocast on CUDA, and on a CPU whose oneDNN has native bf16 (AVX512-BF16 or AMX) for models without
  3D convolutions; otherwise a warning and fp32 (emulated bf16 is slower than fp32; the CPU's bf16 Conv3d weight
  gradient is broken, see _cpu_bf16_refusal);
- fp32: no autocast.
Weights, optimizer moments and the loss reduction stay fp32 either way (autocast casts per op).

Under bf16 the conv weights and the images are stored channels-last (NHWC / NDHWC): oneDNN's bf16 convolutions
are fast in that layout and slow in the default one (measured by benchmarks/bench_precision.py; a 3D ResNet in
bf16 without it was 4x slower than fp32 on the reference CPU).
"""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 natively through oneDNN (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def _cpu_bf16_refusal(model: nn.Module | None) -> str:
    """Why bf16 cannot train `model` on this CPU ('' when it can)."""
    if not cpu_has_bf16():
        return "this CPU has no native bf16 (AVX512-BF16/AMX), emulated bf16 would be slower than fp32"
    if model is not None and any(isinstance(m, nn.Conv3d) for m in model.modules()):
        # oneDNN's bf16 Conv3d weight gradient is wrong (non-finite) on small feature maps, e.g. 64 channels at
        # 2 x 3 x 3 with a 3^3 kernel (torch 2.14.1 CPU): a 3D ResNet's loss turned NaN within a few steps.
        return "3D convolutions are not trained in bf16 on a CPU (oneDNN's bf16 Conv3d backward gives NaN)"
    return ""


def _layout(dim: int) -> torch.memory_format | None:
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(dim)


class Precision:
    """The autocast context and memory layout for one training run on `device`."""

    def __init__(self, precision: str, device: torch.device, model: nn.Module | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"train.precision: unknown '{precision}'; choose from {', '.join(PRECISIONS)}")
        self.device = torch.device(device)
        bf16 = precision == "bf16" or (precision == "auto" and self.device.type == "cuda")
        if bf16 and self.device.type == "cpu":
            why = _cpu_bf16_refusal(model)
            if why:
                warnings.warn(f"train.precision=bf16: {why}; training in fp32 instead", stacklevel=2)
                bf16 = False
        self.dtype: torch.dtype | None = torch.bfloat16 if bf16 else None

    @property
    def name(self) -> str:
        return "bf16" if self.dtype is not None else "fp32"

    def autocast(self) -> AbstractContextManager[Any]:
        """A fresh autocast context (or a no-op one in fp32)."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """In bf16, store every 4D / 5D (conv) weight channels-last, in place; returns `model`."""
        if self.dtype is None:
            return model
        with torch.no_grad():
            for p in model.parameters():
                fmt = _layout(p.dim())
                if fmt is not None:
                    p.data = p.data.contiguous(memory_format=fmt)
        return model

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """In bf16, the batch's image [B, C, H, W] or [B, C, D, H, W] channels-last (values unchanged)."""
        image = batch.get("image")
        fmt = _layout(image.dim()) if isinstance(image, torch.Tensor) else None
        if self.dtype is not None and fmt is not None:
            batch["image"] = image.contiguous(memory_format=fmt)
        return batch
