"""Tiny OKDHP models of every family (``FAMILIES``, ``build``) and batches of their codec's
targets (``batch``), for the tests that run every family: host transfers, CUDA parity, the
parts of a training step, and the family test at the end of this file's users.

Families: the hourglass on MMPose's parts (``MultiBranchHourglassNet``), the released stacked
hourglass (``MultiBranchStackedHourglassNet``), a shared encoder with one decoder per branch,
and RTMPose (``MultiBranchRTMCCHead``, the synthetic RTMPose-t config) on a shared CSPNeXt
and on a ``MultiBranchCSPNeXt`` with per-branch stages. Each is small enough for a CPU
training step in well under a second.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

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
    """The synthetic RTMPose-t OKDHP config (CSPNeXt-t shared up to stage 3, each branch its
    stage 4 and RTMCCHead), or the same sharing ``shared_stages`` stages."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(RTMPOSE_CFG))
    model = cfg.model.to_dict()
    model['test_cfg'] = dict(flip_test=False, branch=0)
    if shared_stages is not None:
        from okdhp_mm.models.backbones import MultiBranchCSPNeXt

        model['backbone']['shared_stages'] = shared_stages
        args = {k: v for k, v in model['backbone'].items() if k not in ('type', '_scope_')}
        with torch.device('meta'):  # only its widths
            trunk = MultiBranchCSPNeXt(**args)
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


def packed(family_codec: dict, n: int = 2) -> dict:
    """What a dataloader yields: uint8 images of the codec's input size and data samples with
    (random) targets of its kind, from ``mmpose.testing.get_packed_inputs``."""
    from mmpose.testing import get_packed_inputs

    w, h = family_codec['input_size']
    return get_packed_inputs(
        n, num_keypoints=K, img_shape=(h, w), input_size=(w, h),
        heatmap_size=tuple(family_codec.get('heatmap_size', (w // 4, h // 4))),
        simcc_split_ratio=family_codec.get('simcc_split_ratio', 2.0),
        with_heatmap='heatmap_size' in family_codec,
        with_simcc_label='simcc_split_ratio' in family_codec)


def batch(family_codec: dict, n: int = 2, device='cpu'):
    """A training batch ``(inputs, data_samples)`` as the data preprocessor hands it over."""
    from mmpose.registry import MODELS

    data = MODELS.build(MEAN_STD)(packed(family_codec, n), True)
    return data['inputs'].to(device), [s.to(device) for s in data['data_samples']]
