"""The total OKDHP loss equals the released objective (reference okdhp.md section 3.3).

L = sum_k 0.5 MSE(h_k, y) + lambda_ens 0.5 MSE(h_ens, y) + lambda_kd w(e) sum_k KL(ens || h_k)

over every stack output k (2 shared + 3 x 2 branch stacks), with the released JointsMSELoss
(0.5 x the mean over batch and pixels of (w h - w y)^2, averaged over joints) and JointsKLDLoss
(softmax over pixels of the weight-multiplied maps, summed over joints and pixels, divided by
B H W), computed here in float64 from the model's own outputs.
"""
from __future__ import annotations

import math

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

K, HM = 5, (8, 8)


def _gt_loss():
    return dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.5)


def _model():
    codec = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=HM, sigma=1)
    stage = dict(type='CPMHead', in_channels=K, out_channels=K, deconv_out_channels=None,
                 final_layer=None, loss=_gt_loss())
    return MODELS.build(dict(
        type='MultiBranchPoseEstimator',
        backbone=dict(type='MultiBranchStackedHourglassNet', num_shared_stacks=2,
                      branch_stacks=(2, 2, 2), num_keypoints=K, num_feats=16, depth=2),
        head=dict(type='MultiBranchHead', num_branches=3,
                  shared_head=dict(stage, num_stages=2),
                  branches=dict(stage, num_stages=2, decoder=codec),
                  fau=dict(type='FeatureAggregationUnit', in_channels=16, mode='official'),
                  ensemble_loss=_gt_loss(),
                  kd_loss=dict(type='PixelKLDivLoss', use_target_weight=True, loss_weight=2.0),
                  kd_ramp_epochs=90),
        test_cfg=dict(branch=0)))


def joints_mse(h, y, w):
    """Released JointsMSELoss(use_target_weight=True)."""
    b, k = h.shape[:2]
    per_joint = [0.5 * ((h[:, j] * w[:, j, None, None] - y[:, j] * w[:, j, None, None]) ** 2
                        ).mean() for j in range(k)]
    return sum(per_joint) / k


def joints_kld(h, ens, w):
    """Released JointsKLDLoss: KL(softmax(w ens) || softmax(w h)) over pixels, / (B H W)."""
    b, k, height, width = h.shape
    total = 0.
    for n in range(b):
        for j in range(k):
            p = torch.softmax(ens[n, j].flatten() * w[n, j], 0)
            q = torch.log_softmax(h[n, j].flatten() * w[n, j], 0)
            total = total + (p * (p.log() - q)).sum()
    return total / (b * height * width)


@pytest.mark.parametrize('epoch', [0, 45, 120])
def test_total_loss_is_the_released_objective(epoch):
    torch.manual_seed(epoch)
    model = _model().train()
    x = torch.randn(2, 3, 32, 32)
    samples = []
    for _ in range(2):
        s = PoseDataSample()
        s.gt_fields = PixelData(heatmaps=torch.rand(K, *HM))
        s.gt_instance_labels = InstanceData(keypoint_weights=(torch.rand(1, K) > 0.3).float())
        samples.append(s)
    hub = MessageHub.get_current_instance()
    hub.update_info('epoch', epoch)
    try:
        losses = model.loss(x, samples)
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        with torch.no_grad():
            outs = model.head.forward(model.extract_feat(x))
    finally:
        hub.update_info('epoch', 0)
    y = torch.stack([s.gt_fields.heatmaps for s in samples]).double()
    w = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples]).double()
    stacks = [m.double() for name in ('shared', 'branch0', 'branch1', 'branch2')
              for m in outs[name]]
    assert len(stacks) == 8  # 2 shared + 3 x 2 branch stacks, each supervised once
    ens = outs['ensemble'][0].double()
    ramp = math.exp(-5 * (1 - min(epoch, 90) / 90) ** 2)
    released = (sum(joints_mse(h, y, w) for h in stacks) + 1.0 * joints_mse(ens, y, w) +
                2.0 * ramp * sum(joints_kld(h, ens, w) for h in stacks))
    assert losses['kd_weight'].item() == pytest.approx(ramp, rel=1e-6)  # a float32 log value
    assert total.item() == pytest.approx(released.item(), abs=1e-6, rel=1e-5)
    # The KD share is real at the end of the ramp: it is part of what matched.
    if epoch >= 90:
        kd = sum(v for k, v in losses.items() if k.startswith('loss_kd'))
        assert kd.item() > 0
