"""Distributed training on the CPU without starting processes: the gloo hint for a CPU-only
nccl launch, SyncBN conversion of every OKDHP BatchNorm, and why DDP needs no
find_unused_parameters (the launches themselves: tests/e2e/test_cpu_distributed_training.py)."""
from __future__ import annotations

import os

import pytest
import torch
from mmengine.config import Config

from helpers.builders import tiny_hourglass_okdhp
from helpers.paths import REPO

pytestmark = pytest.mark.usefixtures('one_thread')


def test_nccl_on_a_cpu_only_machine_names_the_gloo_fix(monkeypatch):
    import mmengine.dist.utils as dist_utils

    if torch.cuda.is_available():
        pytest.skip('CUDA is available: MMEngine\'s own launcher path is used')
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    with pytest.raises(ValueError, match=r"backend='nccl' needs CUDA GPUs.*"
                                         r"env_cfg\.dist_cfg\.backend=gloo"):
        dist_utils.init_dist('pytorch', backend='nccl')
    assert not torch.distributed.is_initialized()


def test_sync_bn_conversion_covers_every_batchnorm_of_okdhp():
    """``sync_bn='torch'`` converts the hourglass', FAU's and heads' BN layers (and back)."""
    from mmengine.model import convert_sync_batchnorm, revert_sync_batchnorm
    from mmpose.registry import MODELS
    from torch.nn.modules.batchnorm import _BatchNorm

    model = MODELS.build(tiny_hourglass_okdhp())
    n_bn = sum(isinstance(m, _BatchNorm) for m in model.modules())
    assert n_bn > 0 and any(isinstance(m, _BatchNorm) for m in model.head.fau.modules())
    synced = convert_sync_batchnorm(model, 'torch')
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules()) == n_bn
    back = revert_sync_batchnorm(synced)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in back.modules())


# ---------------------------------------------------------------------------- unused parameters
_CHEAP = ['okdhp_hourglass2-1s-3x1b', 'okdhp_mobilenetv2-3b', 'okdhp_res18-3b',
          'okdhp_shufflenetv2-3b']


_LARGE = ['okdhp_hourglass4-2s-2x4x6b-unbalanced', 'okdhp_hourglass4-2s-3x2b',
          'okdhp_hourglass8-4s-3x4b',  # the released hourglass: 31-56 M parameters
          'okdhp_hourglass2-mmpose-1s-3x1b', 'okdhp_hourglass4-mmpose-2s-2x4x6b-unbalanced',
          'okdhp_hourglass4-mmpose-2s-3x2b', 'okdhp_hourglass8-mmpose-4s-3x4b']  # 72-283 M


@pytest.mark.parametrize('name', _CHEAP + [
    pytest.param(n, marks=pytest.mark.skipif(
        not os.environ.get('OKDHP_RELIABILITY_ALL'),
        reason='large hourglass config; set OKDHP_RELIABILITY_ALL=1 to check it'))
    for n in _LARGE])
def test_okdhp_configs_leave_no_parameter_unused(name):
    """Why DDP needs no find_unused_parameters: one training loss of every OKDHP COCO config
    reaches every trainable parameter (a 64x64 input keeps it cheap)."""
    from mmengine.logging import MessageHub
    from mmengine.structures import InstanceData, PixelData
    from mmpose.registry import MODELS
    from mmpose.structures import PoseDataSample

    path = REPO / 'configs/okdhp/coco' / f'{name}_1xb16-150e_coco-256x192.py'
    model = MODELS.build(Config.fromfile(str(path)).model)
    model.train()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        hm = model.head.forward(model.extract_feat(x))['ensemble'][0].shape[1:]
    samples = []
    for _ in range(2):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(heatmaps=torch.rand(hm))
        sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, hm[0]))
        samples.append(sample)
    hub = MessageHub.get_current_instance()
    epoch = hub.get_info('epoch', 0)
    hub.update_info('epoch', 1)
    try:
        losses = model.loss(x, samples)
    finally:
        hub.update_info('epoch', epoch)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, unused
