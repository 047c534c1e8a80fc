"""ODKD's senior-teacher mask: fallback where it removes a peak, the class-balanced mask loss,
its IoU (training log and MaskIoUMetric), and the empty-target guard of the KD loss."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from okdhp_mm.evaluation import MaskIoUMetric
from okdhp_mm.models.heads.mask_aware_head import MaskAwareHeatmapHead, MaskedHeatmaps, mask_iou
from okdhp_mm.models.losses import ODKDHeatmapLoss


def test_masked_heatmaps_fall_back_where_the_mask_removes_the_peak():
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, 1, 1] = 1.0   # inside the mask
    maps[0, 1, 3, 3] = 1.0   # outside it: the mask would erase this keypoint
    logits = torch.full((1, 1, 4, 4), -10.0)
    logits[0, 0, :2, :2] = 10.0
    masked = MaskedHeatmaps('hard')
    out = masked(maps, logits)
    torch.testing.assert_close(out[0, 0], maps[0, 0])          # kept, masked (unchanged)
    torch.testing.assert_close(out[0, 1], maps[0, 1])          # fell back: the raw map
    assert masked.log_vars()['mask_fallback'].item() == pytest.approx(0.5)
    plain = MaskedHeatmaps('hard', fallback='none')(maps, logits)
    assert plain[0, 1].abs().sum() == 0                        # the old behaviour: erased
    with pytest.raises(ValueError, match="mask_fallback must be 'unmasked' or 'none'"):
        MaskedHeatmaps(fallback='drop')


def test_mask_loss_is_class_balanced_bce_plus_dice():
    head = MaskAwareHeatmapHead(in_channels=8, out_channels=3, deconv_out_channels=None)
    logits = torch.randn(2, 1, 6, 5)
    target = (torch.rand(2, 1, 6, 5) > 0.8).float()
    pos = target.sum()
    pos_weight = ((target.numel() - pos) / pos).clamp(1, 100)
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
    p, t = torch.sigmoid(logits).flatten(1), target.flatten(1)
    dice = (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()
    assert head.mask_loss(logits, target).item() == pytest.approx((bce + dice).item(), rel=1e-6)
    plain = MaskAwareHeatmapHead(in_channels=8, out_channels=3, deconv_out_channels=None,
                                 mask_pos_weight=None, mask_dice_weight=0.)
    assert plain.mask_loss(logits, target).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, target).item(), rel=1e-6)


def test_mask_iou_by_hand_and_metric():
    pred = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    target = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    pred[0, 0, :2, :2] = True            # 4 pixels
    target[0, 0, :2, :3] = True          # 6 pixels: IoU 4/6; sample 1: both empty -> 1
    assert mask_iou(pred, target).item() == pytest.approx((4 / 6 + 1) / 2)
    metric = MaskIoUMetric()
    metric.process(None, [dict(pred_fields=dict(person_mask=pred[0].float() * 0.9),
                               gt_fields=dict(person_mask=target[0].float())),
                          dict(pred_fields=dict(person_mask=torch.zeros(1, 4, 4)),
                               gt_fields=dict(person_mask=target[0].float()))])
    out = metric.compute_metrics(metric.results)
    assert out['IoU'] == pytest.approx((4 / 6 + 0) / 2) and out['empty_share'] == 0.5
    with pytest.raises(KeyError, match='output_mask=True'):
        metric.process(None, [dict(gt_fields=dict(person_mask=target[0]))])


def test_kd_loss_leaves_empty_targets_out_and_reports_their_share():
    s = torch.rand(1, 2, 4, 4)
    t = torch.zeros(1, 2, 4, 4)
    t[0, 0, 2, 2] = 1.0                  # keypoint 1 has no teacher peak at all
    loss = ODKDHeatmapLoss()
    expected = ((s[0, 0] - (t[0, 0] >= 0.5).float()) ** 2).sum() / s.numel()
    assert loss(s, t).item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.log_vars()['empty_targets'].item() == pytest.approx(0.5)
    assert math.isfinite(loss(s, torch.zeros_like(t)).item())


def test_metric_on_numpy_fields():
    metric = MaskIoUMetric(threshold=0.5)
    ones = np.ones((1, 2, 2), np.float32)
    metric.process(None, [dict(pred_fields=dict(person_mask=ones),
                               gt_fields=dict(person_mask=ones))])
    assert metric.compute_metrics(metric.results)['IoU'] == 1.0
