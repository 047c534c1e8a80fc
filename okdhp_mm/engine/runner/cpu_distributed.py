"""Let MMEngine's ``pytorch`` launcher train on machines without CUDA (``gloo`` backend).

MMEngine 0.10.7 assumes one GPU per process under ``--launcher pytorch`` (``torchrun ...
tools/train.py CFG --launcher pytorch``, ``mim train ... --launcher pytorch``):

* ``init_dist`` calls ``torch.cuda.set_device(LOCAL_RANK)`` before ``init_process_group``,
  which fails on a CPU-only machine with "Found no NVIDIA driver on your system";
* ``Runner.wrap_model`` builds ``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``, which
  ``DistributedDataParallel`` refuses for a module whose parameters are on the CPU.

:func:`enable_cpu_distributed` (run when ``okdhp_mm`` is imported, i.e. through a config's
``custom_imports`` before the runner is built) changes exactly those two steps and only where
they would fail: without CUDA (and without another accelerator MMEngine knows) the process
group is initialised without ``set_device``, and DDP gets ``device_ids=None`` for a CPU module.
With CUDA nothing changes. ``nccl`` cannot run without GPUs: asking for it on a CPU-only
machine fails with a message that names the fix (``env_cfg.dist_cfg.backend='gloo'``).

Not covered: ``sync_bn='torch'`` (``torch.nn.SyncBatchNorm`` only runs on GPUs; on the CPU its
forward raises "SyncBatchNorm expected input tensor to be on GPU ...") and MMCV's SyncBN
(CUDA ops).
"""
from __future__ import annotations

import functools

import torch

__all__ = ['enable_cpu_distributed']

_ENABLED = False


def _no_accelerator() -> bool:
    """True where MMEngine's launcher would need a CUDA device it cannot have."""
    from mmengine.device import is_mlu_available, is_musa_available, is_npu_available

    return not (torch.cuda.is_available() or is_mlu_available() or is_npu_available()
                or is_musa_available())


def _on_cpu(module: torch.nn.Module) -> bool:
    devices = {p.device.type for p in module.parameters()}
    devices |= {b.device.type for b in module.buffers()}
    return devices <= {'cpu'}


def enable_cpu_distributed() -> None:
    """Patch MMEngine's pytorch launcher and DDP wrapper for CPU-only machines. Idempotent."""
    global _ENABLED
    if _ENABLED:
        return
    import torch.distributed as torch_dist
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers.distributed import MMDistributedDataParallel

    original_init = dist_utils._init_dist_pytorch

    @functools.wraps(original_init)
    def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if init_backend != 'torch' or not _no_accelerator():
            return original_init(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            raise ValueError(
                "env_cfg.dist_cfg.backend='nccl' needs CUDA GPUs and this machine has none: "
                "train on the CPU with backend='gloo' (--cfg-options "
                'env_cfg.dist_cfg.backend=gloo)')
        torch_dist.init_process_group(backend=backend, **kwargs)

    dist_utils._init_dist_pytorch = _init_dist_pytorch

    original_ddp_init = MMDistributedDataParallel.__init__

    @functools.wraps(original_ddp_init)
    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs):
        # Runner.wrap_model always passes device_ids=[LOCAL_RANK]; DDP accepts a CPU module
        # only with device_ids=None.
        if kwargs.get('device_ids') and _on_cpu(module):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        original_ddp_init(self, module, detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = __init__
    _ENABLED = True
