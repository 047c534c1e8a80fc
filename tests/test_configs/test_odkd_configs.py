"""ODKD configs: the documented architecture, teachers, losses and schedule."""
from __future__ import annotations

import torch
from mmengine.config import Config

from helpers.distill import count_teacher_runs, heatmap_kd_loss_from_scratch
from helpers.paths import REPO

ODKD = REPO / 'configs/odkd'
COCO = ODKD / 'coco/odkd_hrnet-w32-w48mask_hrnet-w16_8xb64-210e_coco-256x192.py'
SYN = ODKD / 'synthetic/odkd_res18-res34mask_res18-16_1xb32-20e_synthetic-128x96.py'


def test_coco_odkd_config():
    from mmpose.registry import MODELS

    cfg = Config.fromfile(COCO)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    extra = cfg.model.student.backbone.extra
    assert [extra[f'stage{i}'].num_channels for i in (2, 3, 4)] == [
        (16, 32), (16, 32, 64), (16, 32, 64, 128)]
    assert cfg.model.student.head.in_channels == 16
    assert type(model.teachers['senior'].head).__name__ == 'MaskAwareHeatmapHead'
    assert model.teachers['primary'].backbone.extra['stage4']['num_channels'] == (
        32, 64, 128, 256)
    assert model.teachers['senior'].backbone.extra['stage4']['num_channels'] == (
        48, 96, 192, 384)
    assert model._teacher_sources == dict(primary='head.final_layer',
                                          senior='head.masked_output')
    assert model._loss_teacher == dict(loss_primary='primary', loss_senior='senior')
    hook = [h for h in cfg.custom_hooks if h.type == 'OrderlyTeacherHook'][0]
    assert hook.switch_epoch == 105 and cfg.train_cfg.max_epochs == 210
    student_cfg, state = model.export_student()
    assert student_cfg['type'] == 'TopdownPoseEstimator'
    assert student_cfg['head']['type'] == 'HeatmapHead'
    # The exported weights are exactly the plain student's: no teacher keys, no prefix.
    with torch.device('meta'):
        plain = MODELS.build(student_cfg)
    plain.load_state_dict(state, strict=True, assign=True)
    assert set(state) == set(plain.state_dict())
    assert not any(k.startswith(('student.', 'teacher')) for k in state)
    senior = Config.fromfile(ODKD / 'coco/td-hm-mask_hrnet-w48_8xb32-20e_coco-256x192.py')
    types = [t['type'] for t in senior.train_dataloader.dataset.pipeline]
    assert types.index('TopdownGenerateMask') > types.index('TopdownAffine')
    # A short mask fine-tune from MMPose's W48, validated with the mask IoU on gt boxes.
    assert senior.train_cfg.max_epochs == 20 and senior.load_from.endswith('.pth')
    assert [e['type'] for e in senior.val_evaluator] == ['CocoMetric', 'MaskIoUMetric']
    val_types = [t['type'] for t in senior.val_dataloader.dataset.pipeline]
    assert 'TopdownGenerateMask' in val_types and senior.val_dataloader.dataset.bbox_file is None
    och = Config.fromfile(ODKD / 'ochuman/td-hm_hrnet-w16_ochuman-256x192.py')
    assert och.test_dataloader.dataset.type == 'OCHumanDataset'


def test_synthetic_senior_pipeline_runs_on_real_samples(samples):
    from mmengine.dataset import pseudo_collate
    from mmpose.datasets import CocoDataset
    from mmpose.registry import MODELS

    cfg = Config.fromfile(SYN)
    senior_cfg = Config.fromfile(ODKD / 'synthetic/td-hm-mask_res18_1xb32-20e_synthetic-128x96.py')
    ds = CocoDataset(ann_file='test_coco.json', data_root=str(samples / 'coco') + '/',
                     data_prefix=dict(img=''), data_mode='topdown',
                     pipeline=senior_cfg.train_dataloader.dataset.pipeline)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    batch = pseudo_collate([ds[i] for i in range(2)])
    data = model.data_preprocessor(batch, training=True)
    assert data['data_samples'][0].gt_fields.person_mask.shape == (1, 32, 24)
    senior = model.teachers['senior']
    senior.train()
    losses = senior.loss(data['inputs'], data['data_samples'])
    assert losses['loss_mask'] > 0
    senior.eval()
    runs = count_teacher_runs(model)
    out = model.loss(data['inputs'], data['data_samples'])
    assert out['loss_senior'].item() == 0 and out['loss_primary'].item() > 0
    # The switched-off senior teacher did not run; the primary loss is the configured
    # ODKDHeatmapLoss of the student's and the primary teacher's heatmaps.
    assert runs == {'primary': 1, 'senior': 0}
    kd = {k: v for k, v in cfg.model.distill_losses.loss_primary.items() if k != 'teacher_name'}
    torch.testing.assert_close(out['loss_primary'].detach(), heatmap_kd_loss_from_scratch(
        model, 'primary', kd, data['inputs'], data['data_samples']))
    # After OrderlyTeacherHook's switch (weights the other way) the senior runs and counts.
    model.distill_losses['loss_primary'].loss_weight = 0.
    model.distill_losses['loss_senior'].loss_weight = 1.
    runs.update(primary=0, senior=0)
    out = model.loss(data['inputs'], data['data_samples'])
    assert runs == {'primary': 0, 'senior': 1}
    assert out['loss_primary'].item() == 0 and out['loss_senior'].item() > 0
