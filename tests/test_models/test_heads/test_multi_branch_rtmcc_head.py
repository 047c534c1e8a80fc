"""OKDHP for RTMPose: branch losses, the FAU ensemble of SimCC logits, prediction, export."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData
from mmpose.registry import MODELS


K, SIZE = 17, (96, 128)
CODEC = dict(type='SimCCLabel', input_size=SIZE, sigma=(2.45, 2.83), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
HEAD = dict(type='RTMCCHead', in_channels=64, out_channels=K, input_size=SIZE,
            in_featuremap_size=(3, 4), simcc_split_ratio=2.0, final_layer_kernel_size=7,
            gau_cfg=dict(hidden_dims=32, s=16, expansion_factor=2, dropout_rate=0.,
                         drop_path=0., act_fn='SiLU', use_rel_bias=False, pos_enc=False),
            loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                      label_softmax=True),
            decoder=CODEC)
CSP = dict(arch='P5', expand_ratio=0.5, deepen_factor=0.167, widen_factor=0.0625,
           out_indices=(4, ), channel_attention=True, act_cfg=dict(type='SiLU'))


def _model(shared_stages=None, branches=HEAD, fau_in=64, **head):
    backbone = dict(type='CSPNeXt', **CSP) if shared_stages is None else dict(
        type='MultiBranchCSPNeXt', num_branches=3, shared_stages=shared_stages, **CSP)
    return MODELS.build(dict(
        type='MultiBranchPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0., 0., 0.],
                               std=[1., 1., 1.]),
        backbone=backbone,
        head=dict(type='MultiBranchRTMCCHead', branches=branches,
                  num_branches=3 if isinstance(branches, dict) else None,
                  fau=dict(type='FeatureAggregationUnit', in_channels=fau_in, mode='light'),
                  kd_ramp_epochs=4, **head),
        test_cfg=dict(flip_test=True, branch=0, output_all=True)))


COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def _samples(n=3):
    """Normalised random crops of SIZE with what predict reads (crop centre and scale, COCO
    flip pairs, a whole-crop box) and random SimCC targets."""
    from mmpose.structures import PoseDataSample

    w, h = SIZE
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, h, w, generator=g)
    samples = [PoseDataSample(metainfo=dict(
        input_size=SIZE, input_center=np.array([[w / 2, h / 2]], np.float32),
        input_scale=np.array([[w, h]], np.float32), flip_indices=COCO_FLIP))
        for _ in range(n)]
    for s in samples:
        s.gt_instances = InstanceData(bboxes=np.array([[0, 0, w, h]], np.float32),
                                      bbox_scores=np.ones(1, np.float32))
        s.gt_instance_labels = InstanceData(
            keypoint_x_labels=torch.rand(1, K, 192, generator=g),
            keypoint_y_labels=torch.rand(1, K, 256, generator=g),
            keypoint_weights=(torch.rand(1, K, generator=g) > 0.2).float())
    return x, samples


def test_losses_ensemble_and_kd_by_hand():
    torch.manual_seed(0)
    model = _model().train()
    x, samples = _samples()
    hub = MessageHub.get_current_instance()
    hub.update_info('epoch', 4)
    try:
        losses = model.loss(x, samples)
    finally:
        hub.update_info('epoch', 0)
    head = model.head
    with torch.no_grad():
        feats = model.extract_feat(x)
        finals = [head.branch_final(feats, t) for t in range(3)]
        w = head.fau.compute_weights(feats[-1])                       # (B, T, K)
        ens_x = sum(w[:, t, :, None] * finals[t][0] for t in range(3))
    torch.testing.assert_close(head.forward(feats)['ensemble'][0], ens_x)
    gt = tuple(torch.cat([getattr(s.gt_instance_labels, f'keypoint_{a}_labels')
                          for s in samples]) for a in 'xy')
    weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples])
    ens = head.forward(feats)['ensemble']
    for t in range(3):
        assert losses[f'loss_gt_b{t}'].item() == pytest.approx(
            head.branch_heads[t].loss_module(finals[t], gt, weights).item(), rel=1e-5)
        assert losses[f'loss_kd_b{t}'].item() == pytest.approx(
            head.kd_loss(finals[t], ens, weights).item(), rel=1e-5)  # ramp weight 1 at e = L
    assert losses['kd_weight'].item() == pytest.approx(1.0)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert all(p.grad is not None for p in head.fau.parameters())


@pytest.mark.parametrize('kd_loss_weight', [0.0, 2.5])
def test_kd_loss_weight_scales_only_the_kd_terms(kd_loss_weight):
    """lambda_kd (MMPose's KLDiscretLoss has no loss_weight): the KD terms scale with it,
    at 0 they are 0 and give the branches no gradient; the GT terms do not change."""
    hub = MessageHub.get_current_instance()
    hub.update_info('epoch', 4)  # ramp weight 1
    try:
        torch.manual_seed(0)
        plain = _model().train()
        torch.manual_seed(0)
        weighted = _model(kd_loss_weight=kd_loss_weight).train()
        x, samples = _samples()
        base, losses = plain.loss(x, samples), weighted.loss(x, samples)
    finally:
        hub.update_info('epoch', 0)
    assert losses['kd_weight'].item() == pytest.approx(kd_loss_weight)
    for t in range(3):
        assert losses[f'loss_gt_b{t}'].item() == pytest.approx(base[f'loss_gt_b{t}'].item())
        assert base[f'loss_kd_b{t}'].item() > 0
        assert losses[f'loss_kd_b{t}'].item() == pytest.approx(
            kd_loss_weight * base[f'loss_kd_b{t}'].item(), rel=1e-5, abs=1e-12)
    if kd_loss_weight == 0:
        kd = sum(v for k, v in losses.items() if k.startswith('loss_kd'))
        grads = torch.autograd.grad(kd, list(weighted.head.branch_heads[0].parameters()),
                                    allow_unused=True)
        assert all(g is None or not g.any() for g in grads)
    with pytest.raises(ValueError, match='kd_loss_weight must be >= 0'):
        _model(kd_loss_weight=-1.0)


@pytest.mark.parametrize('shared_stages, fau_in', [(None, 64), (2, 16)])
def test_branch_k_exports_to_plain_rtmpose_with_the_same_predictions(shared_stages, fau_in):
    torch.manual_seed(0)
    model = _model(shared_stages, fau_in=fau_in).eval()
    cfg, state = model.export_student(2)
    assert (cfg['type'], cfg['backbone']['type'], cfg['head']['type']) == (
        'TopdownPoseEstimator', 'CSPNeXt', 'RTMCCHead')
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(state, strict=True)
    x, samples = _samples(2)
    model.test_cfg['branch'] = 2
    with torch.no_grad():
        ours = model.predict(x, [s.clone() for s in samples])
        theirs = plain.predict(x, [s.clone() for s in samples])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.pred_instances.keypoints, b.pred_instances.keypoints,
                                   atol=1e-4)
        assert a.pred_instances.output_keypoints.shape == (1, 4, K, 2)


def test_unbalanced_branches_and_bad_layouts():
    wide = dict(HEAD, gau_cfg=dict(HEAD['gau_cfg'], hidden_dims=64))
    model = _model(branches=[HEAD, wide, wide])
    assert [h.cls_x.in_features for h in model.head.branch_heads] == [32, 64, 64]
    with pytest.raises(ValueError, match='shared_stages=4'):
        MODELS.build(dict(type='MultiBranchCSPNeXt', shared_stages=4, **CSP))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(type='MultiBranchCSPNeXt', shared_stages=2,
                          **dict(CSP, out_indices=(2, 4))))
