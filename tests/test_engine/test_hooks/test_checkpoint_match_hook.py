"""Bad configurations fail before training, with a message naming the value and the fix.

Covered: a ``test_cfg.branch`` the model does not have, branches (or the shared hourglass
head) predicting different keypoint counts, an FAU built for another feature width than the
one it reads, a missing teacher checkpoint, and checkpoints of another architecture given to
the teacher, to ``export_student`` and to ``load_from`` (with ``CheckpointMatchHook``).
"""
from __future__ import annotations

import copy

import pytest
import torch
from mmpose.registry import MODELS

from okdhp_builders import tiny_hourglass_okdhp, tiny_mobile_okdhp
from test_reliability_common import (MEAN_STD, int_codec, okdhp_overrides, tiny_distiller_cfg,
                                     tiny_resnet_okdhp, train_in_process, write_config)
from test_reliability_common import one_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures('one_thread')


# ------------------------------------------------------------------------- test_cfg.branch
@pytest.mark.parametrize('branch, shown', [(3, '3'), (-1, '-1'), ('ens', "'ens'"),
                                           ('7', '7')])
def test_branch_out_of_range_fails_at_build(branch, shown):
    cfg = tiny_mobile_okdhp()
    cfg['test_cfg']['branch'] = branch
    with pytest.raises(ValueError, match=rf"test_cfg\.branch={shown} is not a branch of "
                                         r"this model \(3 branches\): use 0\.\.2 or 'ensemble'"):
        MODELS.build(cfg)


@pytest.mark.parametrize('branch', [0, 2, '1', 'ensemble'])
def test_valid_branch_choices_build(branch):
    cfg = tiny_mobile_okdhp()
    cfg['test_cfg']['branch'] = branch
    MODELS.build(cfg)


# ------------------------------------------------------------------------- keypoint counts
def test_shared_hourglass_head_with_other_keypoint_count_is_refused():
    cfg = tiny_hourglass_okdhp()
    cfg['head']['shared_head']['out_channels'] = 16
    with pytest.raises(ValueError, match=r'different keypoint counts \[17, 17, 17, 16\] '
                                         r'\(out_channels, last one the shared head'):
        MODELS.build(cfg)


# ------------------------------------------------------------------------- FAU channels
def test_fau_channels_of_a_shared_encoder_model_are_checked_at_build():
    cfg = tiny_mobile_okdhp()
    cfg['head']['fau']['in_channels'] = 256  # ResNet-18 (and the branch heads) give 512
    with pytest.raises(ValueError, match=r'head\.fau\.in_channels=256 but the FAU reads '
                                         r'.*512 channels.*in_channels=512'):
        MODELS.build(cfg)


def test_fau_channels_of_a_hourglass_model_are_checked_at_build():
    cfg = tiny_hourglass_okdhp()
    cfg['head']['fau']['in_channels'] = 64  # the FAU reads the 256-channel stem feature
    with pytest.raises(ValueError, match=r'head\.fau\.in_channels=64 but the FAU reads the '
                                         r'hourglass stem feature.*256 channels.*'
                                         r'in_channels=256'):
        MODELS.build(cfg)


def test_matching_fau_channels_still_build():
    for cfg in (tiny_mobile_okdhp(), tiny_hourglass_okdhp(), tiny_resnet_okdhp()):
        cfg.pop('_delete_', None)
        MODELS.build(cfg)


# ------------------------------------------------------------------------- teacher checkpoints
def _tiny_distiller(**kw):
    cfg = tiny_distiller_cfg()
    cfg.pop('_delete_')
    cfg.update(kw)
    return cfg


def test_missing_teacher_checkpoint_stops_the_runner_before_training(tmp_path, samples):
    missing = tmp_path / 'nowhere' / 'teacher.pth'
    size, hm = (32, 32), (8, 8)
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=size),
                dict(type='GenerateTarget', encoder=int_codec(size, hm)),
                dict(type='PackPoseInputs')]
    over = okdhp_overrides(samples, pipeline=pipeline)
    over['model'] = dict(_delete_=True, **_tiny_distiller(teacher_checkpoint=str(missing)))
    cfg = write_config(tmp_path / 'distil.py', over, recorder=dict(out_dir=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match=r"teacher 'teacher' checkpoint '.*nowhere/"
                                                r"teacher\.pth' does not exist"):
        train_in_process(cfg, tmp_path / 'work')
    assert not (tmp_path / 'run_rank0.pt').exists()  # not a single iteration ran


def test_student_checkpoint_given_as_teacher_checkpoint_is_refused(tmp_path):
    student = MODELS.build(tiny_distiller_cfg()['student'])
    torch.save({'state_dict': student.state_dict(), 'meta': {}}, tmp_path / 'student.pth')
    model = MODELS.build(_tiny_distiller(teacher_checkpoint=str(tmp_path / 'student.pth')))
    with pytest.raises(RuntimeError, match=r"student\.pth' does not fit"):
        model.init_weights()


# ------------------------------------------------------------------------- another architecture
def test_export_refuses_a_checkpoint_of_another_architecture(tmp_path, repo):
    """The tiny hourglass config with a (shared-encoder) ResNet OKDHP checkpoint."""
    from okdhp_mm.export import ExportError, export_student

    other = MODELS.build(tiny_mobile_okdhp())
    torch.save({'state_dict': other.state_dict(), 'meta': {}}, tmp_path / 'other.pth')
    cfg = (repo / 'configs/okdhp/coco_samples' /
           'okdhp_hourglass-tiny-1s-3x1b_1xb4-2e_coco-samples-64x64.py')
    with pytest.raises(ExportError, match=r"other\.pth' does not match config .*okdhp_hourglass"
                                          r".*missing keys: .*unexpected keys: .*pass the "
                                          r'checkpoint trained with this config'):
        export_student(str(cfg), str(tmp_path / 'other.pth'), str(tmp_path / 'out'), branch=0)
    assert not (tmp_path / 'out').exists()


def _plain_resnet_checkpoint(path):
    """A plain MMPose SimpleBaseline of the same tiny ResNet: its backbone keys fit an OKDHP
    model with that encoder, its head keys do not -- the silent half-load case."""
    cfg = dict(type='TopdownPoseEstimator', data_preprocessor=MEAN_STD,
               backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
               head=dict(type='HeatmapHead', in_channels=128, out_channels=17,
                         deconv_out_channels=(16, 16, 16), deconv_kernel_sizes=(4, 4, 4)))
    torch.save({'state_dict': MODELS.build(cfg).state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture
def okdhp_cfg(tmp_path, samples):
    over = okdhp_overrides(samples)
    over.update(model=tiny_resnet_okdhp(), train_cfg=dict(max_epochs=1))
    return over


def test_load_from_another_architecture_only_warns_in_mmengine(tmp_path, okdhp_cfg, capsys):
    """Why CheckpointMatchHook exists: MMEngine loads load_from non-strictly, prints the
    mismatch and trains on with randomly initialised heads."""
    ckpt = _plain_resnet_checkpoint(tmp_path / 'plain.pth')
    cfg = write_config(tmp_path / 'okdhp.py', okdhp_cfg, recorder=dict(out_dir=str(tmp_path)))
    train_in_process(cfg, tmp_path / 'work', load_from=str(ckpt))
    out = capsys.readouterr()
    assert 'The model and loaded state dict do not match exactly' in out.out + out.err
    assert 'missing keys in source state_dict: head.branch_heads.0' in out.out + out.err
    assert (tmp_path / 'run_rank0.pt').exists()  # and it trained


def test_checkpoint_match_hook_stops_load_from_of_another_architecture(tmp_path, okdhp_cfg):
    ckpt = _plain_resnet_checkpoint(tmp_path / 'plain.pth')
    okdhp_cfg['custom_hooks'] = [dict(type='CheckpointMatchHook')]
    cfg = write_config(tmp_path / 'okdhp.py', okdhp_cfg, recorder=dict(out_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=r"load_from='.*plain\.pth' is a checkpoint of another "
                                         r"architecture than this config's "
                                         r'MultiBranchPoseEstimator \(\d+ of the model\'s \d+ '
                                         r'keys fit; missing keys: head\.'):
        train_in_process(cfg, tmp_path / 'work', load_from=str(ckpt))
    assert not (tmp_path / 'run_rank0.pt').exists()


def test_checkpoint_match_hook_accepts_the_right_checkpoint(tmp_path, okdhp_cfg):
    from mmengine.config import Config

    over = copy.deepcopy(okdhp_cfg)
    over['custom_hooks'] = [dict(type='CheckpointMatchHook')]
    cfg = write_config(tmp_path / 'okdhp.py', over, recorder=dict(out_dir=str(tmp_path)))
    model = MODELS.build(Config.fromfile(str(cfg), import_custom_modules=False).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'same.pth')
    train_in_process(cfg, tmp_path / 'work', load_from=str(tmp_path / 'same.pth'))
    assert (tmp_path / 'run_rank0.pt').exists()
