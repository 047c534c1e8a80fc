"""HHD configs: every documented one is there, parses and builds (no network) with the
documented architecture, schedule, teacher checkpoint and HHD loss settings."""
from __future__ import annotations

import copy
import glob

import pytest

from helpers.paths import REPO, SYN_HHD
from okdhp_mm.models.distillers import TeacherStudentDistiller
from okdhp_mm.models.losses.hhd_loss import HHDLoss

HHD_CONFIGS = sorted(glob.glob(str(REPO / 'configs/hhd/**/*.py'), recursive=True))

URLS = {
    'mpii': 'https://download.openmmlab.com/mmpose/top_down/hrnet/'
            'hrnet_w48_mpii_256x256-92cab7bd_20200812.pth',
    'coco': 'https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/'
            'td-hm_hrnet-w48_8xb32-210e_coco-256x192-0e67c616_20220913.pth',
}


def test_every_hhd_config_is_there():
    names = {p.split('/configs/hhd/')[1] for p in HHD_CONFIGS}
    for ds, size in (('mpii', '256x256'), ('coco', '256x192')):
        for arch, bs in (('litehrnet-18', '1xb64'), ('litehrnet-30', '1xb32'),
                         ('mobilenetv2', '1xb64')):
            assert f'{ds}/td-dsnt_{arch}_{bs}-210e_{ds}-{size}.py' in names
            assert f'{ds}/hhd_hrnet-w48_{arch}-dsnt_{bs}-210e_{ds}-{size}.py' in names
    assert 'synthetic/' + SYN_HHD.name in names


@pytest.mark.parametrize('path', HHD_CONFIGS, ids=lambda p: p.split('/configs/hhd/')[1])
def test_config_parses_and_builds(path):
    """Every config parses and builds without touching the network (no init_weights)."""
    from mmengine.config import Config
    from mmpose.registry import MODELS

    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(imports=['okdhp_mm'], allow_failed_imports=False)
    model = MODELS.build(copy.deepcopy(cfg.model))
    student = model.student if isinstance(model, TeacherStudentDistiller) else model
    head = student.head
    assert type(head).__name__ == 'DSNTHead' and head.beta == 10
    assert cfg.codec.type == 'IntegralRegressionLabel'
    assert tuple(head.decoder.keypoint_codec.input_size) == tuple(cfg.codec.input_size)
    if '/synthetic/' in path:
        return
    ds = 'mpii' if '/mpii/' in path else 'coco'
    assert head.num_joints == (16 if ds == 'mpii' else 17)
    assert (cfg.optim_wrapper.optimizer.type, cfg.optim_wrapper.optimizer.lr) == ('Adam', 5e-4)
    warm, steps = cfg.param_scheduler
    assert (warm.type, warm.end, warm.start_factor, warm.by_epoch) == \
        ('LinearLR', 500, 0.001, False)
    assert (steps.type, list(steps.milestones), steps.gamma) == ('MultiStepLR', [170, 200], 0.1)
    assert cfg.train_cfg.max_epochs == 210
    assert cfg.train_dataloader.batch_size == (32 if 'litehrnet-30' in path else 64)
    if 'litehrnet' in path:
        assert head.simplebaseline_head is None and head.final_layer.in_channels == 40
        assert tuple(head.heatmap_size) == ((64, 64) if ds == 'mpii' else (48, 64))
        extra = cfg.model.get('student', cfg.model).backbone.extra
        assert extra.with_head is True
        assert tuple(extra.stages_spec.num_modules) == \
            ((3, 8, 3) if 'litehrnet-30' in path else (2, 4, 2))
    if isinstance(model, TeacherStudentDistiller):
        assert model.teacher_checkpoints == {'teacher': URLS[ds]}
        assert type(model.teacher.backbone).__name__ == 'HRNet'
        assert model.teacher.head.final_layer.in_channels == 48  # HRNet-W48, raw 1x1 conv
        loss = model.distill_losses['loss_hhd']
        assert isinstance(loss, HHDLoss)
        assert (loss.crop_size, loss.student_norm, loss.teacher_norm, loss.loss_weight) == \
            ((8, 8), 'l2', 'l2', 0.5)
        assert model._teacher_sources == {'teacher': 'head.final_layer'}
        assert all(not p.requires_grad for p in model.teacher.parameters())
