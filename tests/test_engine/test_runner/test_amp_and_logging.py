"""What MMPose users expect of training: --amp (bf16 on this CPU), --auto-scale-lr in every
recipe, and every KD term as its own scalar in TensorBoard."""
from __future__ import annotations

import glob
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from helpers.paths import REPO, TINY_OKDHP
from helpers.training import okdhp_overrides, train_in_process, write_config

pytestmark = pytest.mark.usefixtures('one_thread')

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py')
                 if not p.name.startswith('_') and '_base_' not in p.parts)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(REPO / 'configs')))
def test_every_recipe_can_scale_its_learning_rate(path):
    """`--auto-scale-lr` needs the batch size the learning rate was tuned for."""
    cfg = Config.fromfile(path)
    assert isinstance(cfg.auto_scale_lr.base_batch_size, int), path


def _amp_run(tmp_path, samples, base, extra=None):
    overrides = okdhp_overrides(samples)
    overrides['optim_wrapper'] = dict(type='AmpOptimWrapper', loss_scale='dynamic')
    overrides.update(extra or {})
    cfg = write_config(tmp_path / 'amp.py', overrides, base=base)
    return train_in_process(cfg, tmp_path / 'work', train_cfg=dict(max_epochs=2))


def test_okdhp_trains_under_bf16_autocast_on_cpu(tmp_path, samples):
    """The optim wrapper `--amp` selects: bf16 autocast here (MMEngine's asserts a GPU)."""
    runner = _amp_run(tmp_path, samples, TINY_OKDHP)
    assert type(runner.optim_wrapper).__name__ == 'CPUAwareAmpOptimWrapper'
    assert runner.optim_wrapper.cast_dtype == torch.bfloat16
    hub = runner.message_hub
    for key in ('loss', 'loss_gt_b0', 'loss_kd_b0', 'loss_gt_ens', 'loss_kd_shared'):
        values = hub.get_scalar(f'train/{key}').data[0]
        assert len(values) == 6 and all(math.isfinite(v) for v in values), key  # 2 x 3 iters


def test_distillers_train_under_bf16_autocast_on_cpu(tmp_path, samples):
    """HHD and ODKD KD losses compute in float32 inside bf16 autocast: finite, one step."""
    from mmpose.registry import MODELS

    from helpers.builders import heatmap_samples, tiny_teacher

    for loss in (dict(type='HHDLoss', crop_size=(4, 4)),
                 dict(type='ODKDHeatmapLoss', loss_weight=1.0)):
        model = MODELS.build(dict(type='TeacherStudentDistiller', student=tiny_teacher(),
                                  teacher=tiny_teacher(), distill_losses=dict(loss_kd=loss)))
        model.init_weights()
        x, samples_ = torch.randn(2, 3, 64, 64), heatmap_samples()
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model.loss(x, samples_)
        assert losses['loss_kd'].dtype == torch.float32, loss['type']
        assert all(math.isfinite(float(v)) for k, v in losses.items() if 'loss' in k)


def test_tensorboard_gets_every_kd_term(tmp_path, samples):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = okdhp_overrides(samples)
    overrides['visualizer'] = dict(type='PoseLocalVisualizer', vis_backends=[
        dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
    cfg = write_config(tmp_path / 'tb.py', overrides)
    train_in_process(cfg, tmp_path / 'work', train_cfg=dict(max_epochs=1))
    events = glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' / '**' / 'events.out.*'),
                       recursive=True)
    assert events, list(Path(tmp_path / 'work').rglob('*'))
    acc = EventAccumulator(str(Path(events[0]).parent))
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    expected = {'loss', 'loss_gt_shared', 'loss_kd_shared', 'loss_gt_ens', 'kd_weight'} | {
        f'{k}_b{t}' for t in range(3) for k in ('loss_gt', 'loss_kd', 'acc_pose')}
    assert expected <= tags, sorted(expected - tags)
