"""Tiny OKDHP models of every family, for the performance tests beside this file
(``test_perf_*.py`` import :data:`FAMILIES` and :func:`build` from here).

Families: the hourglass on MMPose's parts (``MultiBranchHourglassNet``), the released stacked
hourglass (``MultiBranchStackedHourglassNet``), a shared encoder with one decoder per branch,
and RTMPose (``MultiBranchRTMCCHead``, the synthetic RTMPose-t config) on a shared CSPNeXt
and on a ``MultiBranchCSPNeXt`` with per-branch stages. Each is small enough for a CPU
training step in well under a second.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import pytest
import torch

from helpers.builders import MEAN_STD, codec, tiny_hourglass_okdhp, tiny_resnet_okdhp
from helpers.paths import REPO

K = 17
RTMPOSE_CFG = REPO / 'configs/okdhp/synthetic/okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py'


def _hourglass_mmpose() -> Tuple[dict, dict]:
    return tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 1, 1), K=K), codec()


def _stacked_hourglass() -> Tuple[dict, dict]:
    c = codec()
    stage = dict(type='CPMHead', in_channels=K, out_channels=K, deconv_out_channels=None,
                 final_layer=None, num_stages=1)
    return dict(
        type='MultiBranchPoseEstimator', data_preprocessor=MEAN_STD,
        backbone=dict(type='MultiBranchStackedHourglassNet', num_shared_stacks=1,
                      branch_stacks=(1, 1, 1), num_keypoints=K, num_feats=16, depth=2),
        head=dict(type='MultiBranchHead', num_branches=3, shared_head=stage,
                  branches=dict(stage, decoder=c),
                  fau=dict(type='FeatureAggregationUnit', in_channels=16, mode='light')),
        test_cfg=dict(flip_test=False, branch=0)), c


def _shared_encoder() -> Tuple[dict, dict]:
    model = tiny_resnet_okdhp(input_size=(64, 64), heatmap_size=(16, 16))
    model.pop('_delete_')
    return model, codec()


def _rtmpose(shared_stages=None) -> Tuple[dict, dict]:
    """The synthetic RTMPose-t OKDHP config (a shared CSPNeXt-t, three RTMCCHeads), or the
    same with the last stages per branch (``MultiBranchCSPNeXt``)."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(RTMPOSE_CFG))
    model = cfg.model.to_dict()
    model['test_cfg'] = dict(flip_test=False, branch=0)
    if shared_stages is not None:
        from okdhp_mm.models.backbones import MultiBranchCSPNeXt

        args = {k: v for k, v in model['backbone'].items() if k not in ('type', '_scope_')}
        model['backbone'] = dict(type='MultiBranchCSPNeXt', num_branches=3,
                                 shared_stages=shared_stages, **args)
        with torch.device('meta'):  # only its widths
            trunk = MultiBranchCSPNeXt(num_branches=3, shared_stages=shared_stages, **args)
        model['head']['fau']['in_channels'] = trunk.fau_channels
    # The branch heads' codec (the config's merged top-level `codec` keeps the base's
    # heatmap_size, which SimCCLabel does not take).
    return model, dict(model['head']['branches']['decoder'])


FAMILIES: Dict[str, Callable[[], Tuple[dict, dict]]] = {
    'hourglass_mmpose': _hourglass_mmpose,
    'stacked_hourglass': _stacked_hourglass,
    'shared_encoder': _shared_encoder,
    'rtmpose': _rtmpose,
    'rtmpose_multi_branch_cspnext': lambda: _rtmpose(shared_stages=2),
}


def build(family: str, seed: int = 0):
    """``(model in train mode, codec config)`` of a family, weights from ``seed``."""
    from mmpose.registry import MODELS

    cfg, c = FAMILIES[family]()
    torch.manual_seed(seed)
    return MODELS.build(cfg).train(), c


def batch(family_codec: dict, n: int = 2, device='cpu'):
    """A training batch ``(inputs, data_samples)`` with targets of the family's codec."""
    from okdhp_mm.analysis.benchmark.inputs import make_batch

    return make_batch(n, tuple(family_codec['input_size']), K, device=device, seed=3,
                      codec=family_codec)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_every_family_trains_on_its_codec_targets(family):
    model, c = build(family)
    inputs, samples = batch(c)
    losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert all(p.grad is not None for p in model.head.fau.parameters() if p.requires_grad)
