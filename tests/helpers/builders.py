"""Tiny OKDHP models and real-data batches shared by the tests."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

MEAN_STD = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
# A small hourglass: MMPose's stem always gives 256 channels at 1/4 resolution.
TINY_HG = dict(downsample_times=2, stage_channels=(256, 128, 128), stage_blocks=(1, 1, 1),
               feat_channel=64)


def codec(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0) -> dict:
    return dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size,
                sigma=sigma)


def tiny_hourglass_okdhp(n0: int = 1, branch_stacks: Sequence[int] = (1, 1, 1), K: int = 17,
                         fau_mode: str = 'light', flip_test: bool = False) -> dict:
    c = codec()
    return dict(
        type='MultiBranchPoseEstimator',
        data_preprocessor=MEAN_STD,
        backbone=dict(type='MultiBranchHourglassNet', num_shared_stacks=n0,
                      branch_stacks=tuple(branch_stacks), **TINY_HG),
        head=dict(
            type='MultiBranchHead',
            shared_head=dict(type='CPMHead', in_channels=64, out_channels=K, num_stages=n0,
                             deconv_out_channels=None),
            branches=[dict(type='CPMHead', in_channels=64, out_channels=K, num_stages=s,
                           deconv_out_channels=None, decoder=c) for s in branch_stacks],
            fau=dict(type='FeatureAggregationUnit', in_channels=256, mode=fau_mode)),
        test_cfg=dict(flip_test=flip_test, flip_mode='heatmap', shift_heatmap=True, branch=0))


def tiny_mobile_okdhp(num_branches: int = 3, K: int = 17, flip_test: bool = False) -> dict:
    """Shared ResNet-18 encoder, one deconvolution decoder (HeatmapHead) per branch."""
    c = codec(input_size=(64, 64), heatmap_size=(16, 16))
    return dict(
        type='MultiBranchPoseEstimator',
        data_preprocessor=MEAN_STD,
        backbone=dict(type='ResNet', depth=18),
        head=dict(
            type='MultiBranchHead',
            branches=dict(type='HeatmapHead', in_channels=512, out_channels=K,
                          deconv_out_channels=(32, 32, 32), deconv_kernel_sizes=(4, 4, 4),
                          decoder=c),
            num_branches=num_branches,
            fau=dict(type='FeatureAggregationUnit', in_channels=512, mode='light')),
        test_cfg=dict(flip_test=flip_test, flip_mode='heatmap', shift_heatmap=True, branch=0))


def coco_batch(samples: Path, model, input_size=(64, 64), heatmap_size=(16, 16),
               train: bool = True, n: int = 4):
    """A preprocessed batch of real COCO sample instances for ``model``."""
    from mmengine.dataset import pseudo_collate
    from mmpose.datasets import CocoDataset

    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=input_size)]
    if train:
        pipeline.append(dict(type='GenerateTarget',
                             encoder=codec(input_size=input_size, heatmap_size=heatmap_size)))
    pipeline.append(dict(type='PackPoseInputs'))
    ds = CocoDataset(ann_file='test_coco.json', data_root=str(samples / 'coco') + '/',
                     data_prefix=dict(img=''), data_mode='topdown', pipeline=pipeline,
                     test_mode=not train)
    batch = pseudo_collate([ds[i] for i in range(n)])
    return model.data_preprocessor(copy.deepcopy(batch), training=train)
