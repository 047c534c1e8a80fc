"""Tiny model configs, real-data batches and test tensors shared by the tests.

OKDHP: a small hourglass (shared stack + shared CPM head) and a shared-encoder ResNet with one
deconvolution decoder per branch. HHD / ODKD: a tiny heatmap teacher and DSNT (integral)
student and the ``TeacherStudentDistiller`` between them.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional, Sequence

import torch

MEAN_STD = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
# A small hourglass: MMPose's stem always gives 256 channels at 1/4 resolution.
TINY_HG = dict(downsample_times=2, stage_channels=(256, 128, 128), stage_blocks=(1, 1, 1),
               feat_channel=64)


# ------------------------------------------------------------------------------------ codecs
def codec(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0) -> dict:
    return dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size,
                sigma=sigma)


def int_codec(size=(64, 64), hm=(16, 16)) -> dict:
    return dict(type='IntegralRegressionLabel', input_size=size, heatmap_size=hm, sigma=1.0,
                normalize=True)


# ------------------------------------------------------------------------------------ OKDHP
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


def tiny_resnet_okdhp(input_size=(32, 32), heatmap_size=(8, 8), kd_ramp_epochs=3) -> dict:
    """A fast OKDHP model (shared tiny ResNet encoder, three deconvolution branches) that
    replaces the tiny config's hourglass (``_delete_``) where only the training machinery is
    under test: its checkpoints are 3 MB instead of 215 MB."""
    c = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size, sigma=1)
    return dict(
        _delete_=True, type='MultiBranchPoseEstimator', data_preprocessor=MEAN_STD,
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
        head=dict(type='MultiBranchHead',
                  branches=dict(type='HeatmapHead', in_channels=128, out_channels=17,
                                deconv_out_channels=(16, 16, 16),
                                deconv_kernel_sizes=(4, 4, 4), decoder=c),
                  num_branches=3,
                  fau=dict(type='FeatureAggregationUnit', in_channels=128, mode='light'),
                  kd_ramp_epochs=kd_ramp_epochs),
        test_cfg=dict(flip_test=False, branch=0))


# ------------------------------------------------------------------------- HHD / ODKD distiller
def tiny_teacher(K=17, size=(64, 64), hm=(16, 16), deconvs=(16, 16, 16), dp=MEAN_STD,
                 test_cfg: Optional[dict] = None) -> dict:
    """A tiny ResNet-18 SimpleBaseline (heatmap) teacher."""
    return dict(
        type='TopdownPoseEstimator', data_preprocessor=dp,
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
        head=dict(type='HeatmapHead', in_channels=128, out_channels=K,
                  deconv_out_channels=deconvs, deconv_kernel_sizes=(4, ) * len(deconvs),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=codec(size, hm)),
        test_cfg=test_cfg or dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))


def tiny_student(K=17, size=(64, 64), hm=(16, 16), test_cfg: Optional[dict] = None) -> dict:
    """A tiny ResNet-18 DSNT (integral regression) student."""
    return dict(
        type='TopdownPoseEstimator', data_preprocessor=MEAN_STD,
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        head=dict(type='DSNTHead', in_channels=64, in_featuremap_size=(size[0] // 32,
                                                                      size[1] // 32),
                  num_joints=K, beta=10., deconv_out_channels=(16, 16, 16),
                  loss=dict(type='MultipleLossWrapper', losses=[
                      dict(type='SmoothL1Loss', use_target_weight=True),
                      dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.)]),
                  decoder=int_codec(size, hm)),
        test_cfg=test_cfg or dict(flip_test=True, shift_coords=True, shift_heatmap=True))


def tiny_distiller(teacher=None, student=None, **kw):
    """A built ``TeacherStudentDistiller`` (HHD loss by default) of the tiny models."""
    from mmpose.registry import MODELS

    kw.setdefault('distill_losses', dict(loss_hhd=dict(type='HHDLoss', loss_weight=0.5)))
    if 'teachers' not in kw:
        kw['teacher'] = teacher or tiny_teacher()
    return MODELS.build(dict(type='TeacherStudentDistiller', student=student or tiny_student(),
                             **kw))


def tiny_distiller_cfg(size=(32, 32), hm=(8, 8), K=17) -> dict:
    """The tiny HHD distiller as a config ``model`` (``_delete_``: replaces the base model),
    without flip test."""
    no_flip = dict(flip_test=False)
    return dict(_delete_=True, type='TeacherStudentDistiller',
                student=tiny_student(K, size, hm, test_cfg=no_flip),
                teacher=tiny_teacher(K, size, hm, test_cfg=no_flip),
                distill_losses=dict(loss_hhd=dict(type='HHDLoss', loss_weight=0.5)))


# ----------------------------------------------------------------------- batches of real samples
def raw_coco_batch(samples: Path, encoder: Optional[dict] = None, input_size=(64, 64),
                   n: int = 4, extra: Sequence[dict] = ()):
    """Collated (not preprocessed) COCO sample instances: with targets of ``encoder`` (a
    training batch), or without (``encoder=None``: a test-mode batch). ``extra`` transforms
    run before packing."""
    from mmengine.dataset import pseudo_collate
    from mmpose.datasets import CocoDataset

    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=input_size)]
    if encoder is not None:
        pipeline.append(dict(type='GenerateTarget', encoder=encoder))
    pipeline += [*extra, dict(type='PackPoseInputs')]
    ds = CocoDataset(ann_file='test_coco.json', data_root=str(samples / 'coco') + '/',
                     data_prefix=dict(img=''), data_mode='topdown', pipeline=pipeline,
                     test_mode=encoder is None)
    return pseudo_collate([ds[i] for i in range(n)])


def coco_batch(samples: Path, model, input_size=(64, 64), heatmap_size=(16, 16),
               train: bool = True, n: int = 4):
    """A preprocessed batch of real COCO sample instances (heatmap targets) for ``model``."""
    encoder = codec(input_size=input_size, heatmap_size=heatmap_size) if train else None
    batch = raw_coco_batch(samples, encoder, input_size, n)
    return model.data_preprocessor(copy.deepcopy(batch), training=train)


# ------------------------------------------------------------------------------ weights, tensors
def randomize_weights(model):
    """Non-trivial weights and BN statistics, so equalities are not 0 == 0."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dtype.is_floating_point:
                if name.endswith('running_var'):
                    p.copy_(torch.rand(p.shape, generator=g) + 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def state_copy(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def optim_for(model):
    from mmengine.optim import OptimWrapper

    return OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))


SATURATED = 1e4  # peak height of saturated logits


def peaked(B, K, H, W, peak=SATURATED, background=0.0, seed=0, avoid=None):
    """Maps equal to `background` with one pixel `peak` per (b, k), at random places (none at
    the places ``avoid`` (B, K) gives)."""
    g = torch.Generator().manual_seed(seed)
    maps = torch.full((B, K, H * W), background)
    idx = torch.randint(0, H * W, (B, K), generator=g)
    if avoid is not None:
        idx = (avoid + 1 + torch.randint(0, H * W - 1, (B, K), generator=g)) % (H * W)
    maps.scatter_(2, idx[..., None], peak)
    return maps.reshape(B, K, H, W), idx


def heatmap_samples(n: int = 2, K: int = 17, size=(16, 16), input_size=None) -> list:
    """``n`` PoseDataSamples with random (K, H, W) heatmaps and every keypoint weighted 1."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

    samples = []
    for _ in range(n):
        d = PoseDataSample()
        d.gt_fields = PixelData(heatmaps=torch.rand(K, *size))
        d.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, K))
        if input_size is not None:
            d.set_metainfo(dict(input_size=input_size))
        samples.append(d)
    return samples
