"""ODKD: MaskAwareHeatmapHead (keypoints + person mask) as a senior teacher and student head."""
from __future__ import annotations

import copy

import torch

from helpers.builders import MEAN_STD, codec, raw_coco_batch, tiny_teacher
from okdhp_mm.models.heads.mask_aware_head import MaskAwareHeatmapHead

TRANSFORM = [dict(type='TopdownGenerateMask', heatmap_size=(16, 16))]


def mask_model(base=16, mode='soft'):
    return dict(
        type='TopdownPoseEstimator', data_preprocessor=MEAN_STD,
        backbone=dict(type='ResNet', depth=18, stem_channels=base, base_channels=base),
        head=dict(type='MaskAwareHeatmapHead', in_channels=base * 8, out_channels=17,
                  deconv_out_channels=(16, 16, 16), deconv_kernel_sizes=(4, 4, 4),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=codec(), mask_mode=mode),
        test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))


def masked_batch(samples, model, n=2):
    batch = raw_coco_batch(samples, codec(), n=n, extra=TRANSFORM)
    return model.data_preprocessor(copy.deepcopy(batch), training=True)


def test_head_losses_predict_and_export(samples):
    from mmpose.registry import MODELS

    torch.manual_seed(0)
    model = MODELS.build(mask_model())
    data = masked_batch(samples, model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_kpt', 'loss_mask', 'acc_pose'} <= set(losses)
    assert losses['loss_mask'] > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.head.mask_layer.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model.predict(data['inputs'], data['data_samples'])
        hm = model(data['inputs'], None, mode='tensor')
    assert preds[0].pred_instances.keypoints.shape == (1, 17, 2)
    assert hm.shape == (2, 17, 16, 16)
    # export: a plain HeatmapHead model with the same weights minus the mask layer
    cfg = mask_model()
    head_cfg, state = MaskAwareHeatmapHead.export_plain(cfg['head'], model.state_dict())
    cfg['head'] = head_cfg
    plain = MODELS.build(cfg)
    plain.load_state_dict(state, strict=True)
    plain.eval()
    with torch.no_grad():
        assert torch.allclose(plain(data['inputs'], None, mode='tensor'), hm)


def test_senior_teacher_masked_source_in_distiller(samples):
    from mmpose.registry import MODELS

    student = tiny_teacher()
    student['backbone'].update(stem_channels=8, base_channels=8)
    student['head']['in_channels'] = 64
    model = MODELS.build(dict(
        type='TeacherStudentDistiller', student=student,
        teachers=dict(primary=dict(model=tiny_teacher()),
                      senior=dict(model=mask_model(mode='hard'), source='head.masked_output')),
        distill_losses=dict(
            loss_primary=dict(type='ODKDHeatmapLoss', teacher_name='primary'),
            loss_senior=dict(type='ODKDHeatmapLoss', teacher_name='senior'))))
    data = masked_batch(samples, model)
    senior = model.teachers['senior']
    t = model.teacher_maps(data['inputs'], ['senior'])['senior']
    with torch.no_grad():
        feats = senior.extract_feat(data['inputs'])
        hm, logits = senior.head.forward_with_mask(feats)
    assert torch.allclose(t, hm * (torch.sigmoid(logits) >= 0.5))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_primary', 'loss_senior', 'loss_kpt'} <= set(losses)
