"""Mixed-precision helpers shared by the losses."""
from __future__ import annotations

import contextlib

import torch

__all__ = ['autocast_disabled']


def autocast_disabled(device_type: str):
    """Context that switches autocast off for ``device_type`` (no-op where unsupported).

    The distillation losses compute in float32 under AMP: softmax/log-softmax over thousands
    of pixels and squared differences of small maps lose too much in fp16/bf16.
    """
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except (RuntimeError, ValueError):  # device type without autocast support
        return contextlib.nullcontext()
