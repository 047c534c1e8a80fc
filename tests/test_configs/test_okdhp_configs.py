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
OKDHP_COCO_MPII = [p for p in CONFIGS if p.parent.name in ('coco', 'mpii')
                   and p.parent.parent.name == 'okdhp' and p.name.startswith('okdhp_')]
# The papers' recipes (hourglass and MobilePose students); the RTMPose ones (ours) keep
# RTMPose's own recipe and are checked against MMPose's RTMPose configs below.
OKDHP_PAPER = sorted(p for p in OKDHP_COCO_MPII if not p.name.startswith('okdhp_rtmpose'))
OKDHP_RTMPOSE = sorted(p for p in OKDHP_COCO_MPII if p.name.startswith('okdhp_rtmpose'))


def _build(cfg: Config):
    from mmpose.registry import MODELS

    with torch.device('meta'):  # shapes only: no memory, no init, no download
        return MODELS.build(cfg.model)


def _baseline_of(path: Path) -> Path:
    """The single-branch config beside an OKDHP config, the one its branch 0 exports as (same
    schedule and data suffix): okdhp_hourglass<N>-* -> td-hm_hourglass<N>-paper (the released
    hourglass), okdhp_hourglass<N>-mmpose-* -> td-hm_hourglass<N>-mmpose, okdhp_<encoder>-3b ->
    td-hm_<encoder>."""
    match = re.fullmatch(r'okdhp_(?P<arch>hourglass\d+(-mmpose)?|[a-z0-9]+)-[^_]+_'
                         r'(?P<tail>1xb16-150e_.+)', path.name)
    assert match, path.name
    arch = match['arch']
    if re.fullmatch(r'hourglass\d+', arch):
        arch += '-paper'

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
    # 2 data sets x (released hourglass: 3 balanced + 1 unbalanced; MMPose hourglass: the same
    # 4; 3 MobilePose) + the COCO ground-truth-box and 384x288 variants of 2 + 3x2.
    assert len(OKDHP_PAPER) == 24
    for path in OKDHP_PAPER:
        cfg = Config.fromfile(path)
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.get('weight_decay', 0)) == ('Adam', 2.5e-4, 0), path
        assert cfg.train_cfg.max_epochs == 150
        assert [s['milestones'] for s in cfg.param_scheduler] == [[90, 120]]
        assert cfg.train_dataloader.batch_size == 16
        assert cfg.model.test_cfg.flip_test and cfg.model.test_cfg.shift_heatmap
        assert cfg.model.head.kd_ramp_epochs == 90
        # lambda_kd = 2 and the released 0.5 of JointsMSELoss on every GT term (lambda_ens = 1),
        # read off the built head so that its defaults count too.
        head = _build(cfg).head
        assert head.kd_loss.loss_weight == 2.0 and head.ensemble_loss.loss_weight == 0.5
        stage_heads = list(head.branch_heads) + ([head.shared_head] if head.shared_head else [])
        for stage_head in stage_heads:
            losses = stage_head.loss_module
            for loss in (losses if isinstance(losses, torch.nn.ModuleList) else [losses]):
                assert loss.loss_weight == 0.5, path
        shift = [t for t in cfg.train_pipeline if t['type'] == 'RandomBBoxTransform'][0]
        assert (shift.shift_prob, shift.rotate_factor, shift.rotate_prob) == (0, 60, 0.6)
        size, sigma = {'mpii-256x256': ((256, 256), 2), 'coco-384x288': ((288, 384), 3)}.get(
            path.stem.split('_')[-1][-12:], ((192, 256), 2))
        assert (tuple(cfg.codec['input_size']), cfg.codec['sigma']) == (size, sigma), path
        affine = [t for t in cfg.train_dataloader.dataset.pipeline
                  if t['type'] == 'TopdownAffine'][0]
        assert tuple(affine.input_size) == size
        if 'mpii' in path.name:
            assert cfg.train_cfg.val_interval == 1  # the release validates every epoch
        assert cfg.default_hooks.checkpoint.save_best == (
            'best_branch/PCK' if 'mpii' in path.name else 'best_branch/coco/AP')
        gt_boxes = cfg.val_dataloader.dataset.get('bbox_file') is None
        assert gt_boxes == ('gt-bbox' in path.name or 'mpii' in path.name), path


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


@pytest.mark.parametrize('path', [p for p in CONFIGS if 'synthetic' in p.parts],
                         ids=lambda p: p.name)
def test_synthetic_configs_codec_is_the_one_their_head_decodes_with(path):
    """The top-level ``codec`` (what tools read) builds and matches the head's decoder: an
    RTMPose config must replace its heatmap base's codec, not merge a SimCC one into it."""
    from mmpose.registry import KEYPOINT_CODECS

    cfg = Config.fromfile(path)
    def plain(codec):  # a built config carries its registry scope
        return {k: v for k, v in dict(codec).items() if k != '_scope_'}

    KEYPOINT_CODECS.build(plain(cfg.codec))
    heads = [cfg.model.get('head')] if 'head' in cfg.model else []
    if cfg.model.type == 'TeacherStudentDistiller' and isinstance(cfg.model.student, dict):
        heads = [cfg.model.student.head]
    for head in heads:
        decoder = head.get('decoder') or head.get('branch_head', {}).get('decoder')
        if decoder is not None:
            assert plain(decoder) == plain(cfg.codec), path.name


def _rtmpose_baseline_of(path: Path) -> Path:
    """MMPose's own RTMPose config that branch 0 of an OKDHP RTMPose config exports as:
    okdhp_rtmpose-<size>[-unbalanced]-3b_<tail> -> MMPose's rtmpose-<size>_<tail>."""
    import mmpose

    match = re.fullmatch(r'okdhp_rtmpose-(?P<size>[a-z]+)(-unbalanced)?-3b_(?P<tail>.+)',
                         path.name)
    assert match, path.name
    baseline = (Path(mmpose.__file__).parent / '.mim/configs/body_2d_keypoint/rtmpose/coco' /
                f"rtmpose-{match['size']}_{match['tail']}")
    assert baseline.is_file(), baseline
    return baseline


def _unscoped(value):
    """A config value without the ``_scope_`` keys that a config's own default scope adds."""
    if isinstance(value, dict):
        return {k: _unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [_unscoped(v) for v in value]
    return value


def test_rtmpose_configs_keep_rtmposes_recipe():
    assert [p.name for p in OKDHP_RTMPOSE] == [
        'okdhp_rtmpose-s-3b_8xb256-420e_coco-256x192.py',
        'okdhp_rtmpose-t-3b_8xb256-420e_coco-256x192.py',
        'okdhp_rtmpose-t-unbalanced-3b_8xb256-420e_coco-256x192.py']
    for path in OKDHP_RTMPOSE:
        ours, theirs = Config.fromfile(path), Config.fromfile(_rtmpose_baseline_of(path))
        for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'train_pipeline', 'codec'):
            assert _unscoped(ours[key]) == _unscoped(theirs[key]), (path.name, key)
        assert ours.model.head.kd_ramp_epochs == int(0.6 * theirs.max_epochs) == 252


@pytest.mark.parametrize('path', OKDHP_RTMPOSE, ids=lambda p: p.name)
def test_each_rtmpose_branch_0_exports_as_mmposes_rtmpose(path):
    """Branch 0 of the RTMPose OKDHP network is MMPose's RTMPose: same keys, shapes, config."""
    model = _build(Config.fromfile(path))
    baseline_cfg = Config.fromfile(_rtmpose_baseline_of(path))
    baseline = _build(baseline_cfg)
    student_cfg, state = model.export_student(0)
    assert student_cfg['type'] == 'TopdownPoseEstimator'
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in baseline.state_dict().items()}
    theirs = baseline_cfg.to_dict()['model']
    # The branch's CSPNeXt exports as MMPose's own copy of it (mmpose.models.backbones, no
    # _scope_), where RTMPose's config names mmdet's: the same modules and keys.
    for part in ('backbone', 'head'):
        strip = lambda d: {k: v for k, v in d.items() if k != 'init_cfg'}  # noqa: E731
        assert _unscoped(strip(student_cfg[part])) == _unscoped(strip(theirs[part])), (
            path.name, part)
