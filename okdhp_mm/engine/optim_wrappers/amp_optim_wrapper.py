"""``--amp`` on a CPU-only machine: bf16 autocast instead of MMEngine's CUDA-only assertion.

``mim train mmpose CONFIG --amp`` (MMPose's ``tools/train.py``) sets
``optim_wrapper.type='AmpOptimWrapper'``, and MMEngine's ``AmpOptimWrapper`` asserts that a GPU
(or NPU, MLU, MUSA) is present. okdhp_mm registers, under the same name in MMPose's registry,
a subclass that is MMEngine's wrapper wherever MMEngine supports one (fp16 + dynamic loss
scaling on CUDA) and on a CPU-only machine trains under ``torch.autocast('cpu', bfloat16)``
without a loss scaler (bf16 has fp32's exponent range: nothing underflows that scaling would
save). Our distillation losses compute in float32 under either.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS
from torch import nn

__all__ = ['CPUAwareAmpOptimWrapper']


def _accelerator_present() -> bool:
    return is_cuda_available() or is_npu_available() or is_mlu_available() or \
        is_musa_available()


@OPTIM_WRAPPERS.register_module(name='AmpOptimWrapper', force=True)
class CPUAwareAmpOptimWrapper(AmpOptimWrapper):
    """MMEngine's ``AmpOptimWrapper``; on a CPU-only machine, bf16 autocast, no loss scaling.

    Args: as MMEngine's (``loss_scale`` is ignored on CPU; ``dtype`` must then be None or
    ``'bfloat16'``: CPU autocast has no float16).
    """

    def __init__(self, loss_scale='dynamic', dtype=None, use_fsdp: bool = False, **kwargs):
        self.on_cpu = not _accelerator_present()
        if not self.on_cpu:
            super().__init__(loss_scale=loss_scale, dtype=dtype, use_fsdp=use_fsdp, **kwargs)
            return
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(f'AmpOptimWrapper(dtype={dtype!r}) on a CPU-only machine: CPU '
                             "autocast runs bfloat16 only; leave dtype unset or use 'bfloat16'")
        OptimWrapper.__init__(self, **kwargs)
        self.cast_dtype = torch.bfloat16
        self.loss_scaler = None
        self._scale_update_param = None

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.on_cpu:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.on_cpu:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        return OptimWrapper.state_dict(self) if self.on_cpu else super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        if self.on_cpu:
            state_dict = {k: v for k, v in state_dict.items() if k != 'loss_scaler'}
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        if not self.on_cpu:
            with super().optim_context(model):
                yield
            return
        with OptimWrapper.optim_context(self, model), \
                torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            yield
