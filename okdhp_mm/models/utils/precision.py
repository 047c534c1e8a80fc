"""Mixed-precision helpers shared by the losses."""
from __future__ import annotations

import contextlib

import torch

__all__ = ['autocast_disabled', 'bf16_autocast_active', 'bf16_autocast_disabled']


def autocast_disabled(device_type: str):
    """Context that switches autocast off for ``device_type`` (no-op where unsupported).

    The distillation losses compute in float32 under AMP: softmax/log-softmax over thousands
    of pixels and squared differences of small maps lose too much in fp16/bf16.
    """
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except (RuntimeError, ValueError):  # device type without autocast support
        return contextlib.nullcontext()


def bf16_autocast_active(device_type: str) -> bool:
    """Whether autocast runs in bfloat16 on ``device_type`` (CPU ``--amp``) right now."""
    try:
        return torch.is_autocast_enabled(device_type) and \
            torch.get_autocast_dtype(device_type) == torch.bfloat16
    except (RuntimeError, TypeError, AttributeError):  # older torch / unknown device type
        return False


def bf16_autocast_disabled(device_type: str):
    """Autocast off when it runs in bfloat16 on ``device_type``, else nothing changes.

    MMPose's heads compute their logged accuracy through numpy (``to_numpy``), and numpy has
    no bfloat16: under ``--amp`` on a CPU (bf16 autocast) a plain MMPose head's ``loss`` fails.
    Heads run in float32 there instead; fp16 autocast (CUDA) is left as it is.
    """
    return autocast_disabled(device_type) if bf16_autocast_active(device_type) else \
        contextlib.nullcontext()
