"""MMPose's DWPoseDistiller through the export contract: its student's keys without the
``student.`` prefix (as MMPose's pth_transfer.py), its config from ``student_cfg``; the second
stage is refused by name. The end-to-end check against pth_transfer.py itself is in
tests/e2e/test_student_deployment.py."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from helpers.paths import REPO

DWPOSE = REPO / ('configs/dwpose/synthetic/'
                 'dwpose_rtmpose-s-s16_rtmpose-t-s16_1xb32-20e_synthetic-128x96.py')


def _build(**model):
    from okdhp_mm.utils.config import build_model_from_config

    cfg = Config.fromfile(DWPOSE)
    cfg.model.update(model)
    return cfg, build_model_from_config(cfg)


def test_first_stage_exports_the_student_weights_and_config():
    from okdhp_mm.export.mmpose_distillers import mmpose_distiller_student

    cfg, distiller = _build()
    view = mmpose_distiller_student(distiller, cfg)
    student_cfg, state = view.export_student(0)
    assert view.num_students == 1
    assert student_cfg['type'] == 'TopdownPoseEstimator'
    assert student_cfg['head']['in_channels'] == 192  # RTMPose-t at stride 16, not the teacher
    assert state.keys() == distiller.student.state_dict().keys()
    for k, v in distiller.student.state_dict().items():
        assert torch.equal(state[k], v), k


def test_other_models_are_not_mmpose_distillers():
    from okdhp_mm.export.mmpose_distillers import mmpose_distiller_student

    cfg = Config.fromfile(REPO / 'configs/baseline/synthetic/'
                          'rtmpose-t-s16_1xb32-20e_synthetic-128x96.py')
    assert mmpose_distiller_student(torch.nn.Linear(2, 2), cfg) is None


def test_second_stage_is_refused():
    from okdhp_mm.export import ExportError
    from okdhp_mm.export.mmpose_distillers import mmpose_distiller_student

    cfg, distiller = _build(two_dis=True)
    with pytest.raises(ExportError, match='two_dis=True'):
        mmpose_distiller_student(distiller, cfg)
