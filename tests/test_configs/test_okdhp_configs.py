"""Every config parses and builds; every OKDHP branch is exactly its baseline's architecture."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from helpers.paths import REPO

# What a user runs: not the shared pieces under _base_/ (they are no model on their own).
CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py')
                 if not p.name.startswith('_') and '_base_' not in p.parts)
OKDHP_PAPER = sorted(p for p in CONFIGS if p.parent.name in ('coco', 'mpii')
                     and p.parent.parent.name == 'okdhp' and p.name.startswith('okdhp_'))


def _build(cfg: Config):
    from mmpose.registry import MODELS

    with torch.device('meta'):  # shapes only: no memory, no init, no download
        return MODELS.build(cfg.model)


def _baseline_of(path: Path) -> Path:
    """The single-branch config beside an OKDHP config, the one its branch 0 exports as (same
    schedule and data suffix): okdhp_hourglass<N>-* -> td-hm_hourglass<N>-paper,
    okdhp_<encoder>-3b -> td-hm_<encoder>."""
    match = re.fullmatch(r'okdhp_(?P<arch>hourglass\d+|[a-z0-9]+)-[^_]+_(?P<tail>1xb16-150e_.+)',
                         path.name)
    assert match, path.name
    arch = match['arch'] + ('-paper' if match['arch'].startswith('hourglass') else '')
    baseline = path.parent / f"td-hm_{arch}_{match['tail']}"
    assert baseline.is_file(), baseline
    return baseline


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(REPO / 'configs')))
def test_config_parses_builds_and_imports_our_package(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(imports=['okdhp_mm'], allow_failed_imports=False)
    assert cfg.default_scope == 'mmpose'
    _build(cfg)


def test_paper_configs_use_the_released_recipe():
    assert len(OKDHP_PAPER) == 14  # 2 data sets x (3 balanced + 1 unbalanced + 3 MobilePose)
    for path in OKDHP_PAPER:
        cfg = Config.fromfile(path)
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.get('weight_decay', 0)) == ('Adam', 2.5e-4, 0), path
        assert cfg.train_cfg.max_epochs == 150
        assert [s['milestones'] for s in cfg.param_scheduler] == [[90, 120]]
        assert cfg.train_dataloader.batch_size == 16
        assert cfg.codec['sigma'] == 2
        assert cfg.model.test_cfg.flip_test and cfg.model.test_cfg.shift_heatmap
        assert cfg.model.head.kd_ramp_epochs == 90
        size = (256, 256) if 'mpii' in path.name else (192, 256)
        assert tuple(cfg.codec['input_size']) == size


@pytest.mark.parametrize('path', OKDHP_PAPER, ids=lambda p: p.name)
def test_each_branch_exports_to_the_baseline_beside_it(path):
    """Branch 0 (the target) has the baseline's exact architecture: same keys and shapes."""
    cfg = Config.fromfile(path)
    model = _build(cfg)
    baseline = _build(Config.fromfile(_baseline_of(path)))
    student_cfg, state = model.export_student(0)
    assert student_cfg['type'] == 'TopdownPoseEstimator'
    expected = baseline.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in expected.items()}
    base_model = Config.fromfile(_baseline_of(path)).to_dict()['model']
    for part in ('backbone', 'head'):
        ours = {k: v for k, v in student_cfg[part].items() if k != 'init_cfg'}
        theirs = {k: v for k, v in base_model[part].items() if k != 'init_cfg'}
        # Hourglass exports spell out HourglassNet's defaults; compare what both give.
        assert {k: ours[k] for k in theirs if k in ours} == {
            k: v for k, v in theirs.items() if k in ours}
        assert ours['type'] == theirs['type']
