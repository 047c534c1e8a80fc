"""ResumableEpochBasedTrainLoop in the configs and in exports (its resume behaviour:
tests/e2e/test_resume_training.py)."""
from __future__ import annotations

import glob
from pathlib import Path

import pytest
import torch

from helpers.paths import REPO
from helpers.training import RESUMABLE_LOOP, RESUME_EPOCHS, resume_overrides, write_config


OKDHP_RECIPES = sorted(glob.glob(str(REPO / 'configs/okdhp/_base_/okdhp_recipe_*.py'))) + [
    str(REPO / 'configs/okdhp/coco_samples/'
        'okdhp_hourglass-tiny-1s-3x1b_1xb4-2e_coco-samples-64x64.py')]


@pytest.mark.parametrize('path', OKDHP_RECIPES, ids=lambda p: Path(p).name)
def test_okdhp_configs_train_with_the_resumable_loop(path):
    from mmengine.config import Config

    cfg = Config.fromfile(path)
    assert cfg.train_cfg.get('type') == 'ResumableEpochBasedTrainLoop'
    assert 'by_epoch' not in cfg.train_cfg


def test_exported_student_config_trains_with_mmpose_own_loop(tmp_path, samples):
    """A model trained with ResumableEpochBasedTrainLoop exports a config plain MMPose can
    train from (no okdhp_mm loop type left in train_cfg)."""
    from mmengine.config import Config
    from mmpose.registry import MODELS

    from okdhp_mm.export import export_student

    over = resume_overrides(samples, RESUMABLE_LOOP)
    cfg_path = write_config(tmp_path / 'cfg.py', over)
    model = MODELS.build(Config.fromfile(str(cfg_path)).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'model.pth')
    out = export_student(str(cfg_path), str(tmp_path / 'model.pth'), str(tmp_path / 'out'),
                         branch=0)
    exported = Config.fromfile(out['config'])
    assert exported.train_cfg.get('type') in (None, 'EpochBasedTrainLoop')
    assert exported.train_cfg.max_epochs == RESUME_EPOCHS
    assert 'ResumableEpochBasedTrainLoop' not in Path(out['config']).read_text()
