"""ODKD: OrderlyTeacherHook switches the distillation from the primary to the senior teacher."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from torch import nn

from helpers.paths import REPO, THREADS
from helpers.training import short_run_config
from okdhp_mm.engine.hooks.orderly_teacher_hook import OrderlyTeacherHook, orderly_fraction
from okdhp_mm.models.losses.odkd_loss import ODKDHeatmapLoss


def fake_runner(epoch=0, it=0, max_epochs=6, max_iters=60):
    model = nn.Module()
    model.distill_losses = nn.ModuleDict(dict(loss_primary=ODKDHeatmapLoss(),
                                              loss_senior=ODKDHeatmapLoss()))
    return SimpleNamespace(model=model, epoch=epoch, iter=it, max_epochs=max_epochs,
                           max_iters=max_iters, logger=logging.getLogger('odkd-test'))


def test_default_hands_over_gradually_until_the_last_epoch():
    hook = OrderlyTeacherHook(switch_epoch=3)
    runner = fake_runner(max_epochs=6)
    hook.before_train(runner)
    seen = []
    for e in range(6):
        runner.epoch = e
        hook.before_train_epoch(runner)
        ls = runner.model.distill_losses
        seen.append((ls['loss_primary'].loss_weight, ls['loss_senior'].loss_weight))
    expected = [(1., 0.)] * 3 + [(2 / 3, 1 / 3), (1 / 3, 2 / 3), (0., 1.)]
    assert [w for pair in seen for w in pair] == pytest.approx([w for p in expected for w in p])
    with pytest.raises(ValueError, match=r'transition_epochs \(-1\)'):
        OrderlyTeacherHook(switch_epoch=3, transition_epochs=-1)


def test_hard_switch_by_epoch_and_resume(caplog):
    hook = OrderlyTeacherHook(switch_epoch=3, transition_epochs=0, primary_weight=2.,
                              senior_weight=0.5)
    runner = fake_runner()
    seen = []
    with caplog.at_level(logging.INFO, logger='odkd-test'):
        hook.before_train(runner)
        for e in range(6):
            runner.epoch = e
            hook.before_train_epoch(runner)
            ls = runner.model.distill_losses
            seen.append((ls['loss_primary'].loss_weight, ls['loss_senior'].loss_weight))
    assert seen == [(2., 0.)] * 3 + [(0., .5)] * 3
    msgs = [r.getMessage() for r in caplog.records if 'OrderlyTeacherHook' in r.getMessage()]
    assert len(msgs) == 2 and 'epoch 3' in msgs[1]
    # resume at epoch 4 with a fresh hook: state comes from the epoch
    runner2 = fake_runner(epoch=4)
    OrderlyTeacherHook(switch_epoch=3, transition_epochs=0).before_train(runner2)
    assert runner2.model.distill_losses['loss_primary'].loss_weight == 0.
    assert runner2.model.distill_losses['loss_senior'].loss_weight == 1.


def test_smooth_handover_and_iter_mode():
    assert [orderly_fraction(e, 5, 2) for e in range(3, 9)] == [0, 0, 1 / 3, 2 / 3, 1, 1]
    hook = OrderlyTeacherHook(switch_epoch=10, transition_epochs=0, by_epoch=False)
    runner = fake_runner(it=9)
    hook.before_train_iter(runner, 0)
    assert runner.model.distill_losses['loss_senior'].loss_weight == 0.
    runner.iter = 10
    hook.before_train_iter(runner, 0)
    assert runner.model.distill_losses['loss_primary'].loss_weight == 0.
    with pytest.raises(KeyError):
        OrderlyTeacherHook(switch_epoch=1, senior_loss='loss_x').before_train(fake_runner())


def test_hook_in_a_tiny_runner_run(tmp_path, synthetic_coco):
    """4 iterations of the synthetic ODKD config (stand-in teachers), switch at iteration 2."""
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    torch.set_num_threads(THREADS)
    root = synthetic_coco(num_train_images=4, num_val_images=1, seed=0, image_size=(128, 128))
    cfg = Config.fromfile(REPO / 'configs/odkd/synthetic/'
                          'odkd_res18-res34mask_res18-16_1xb32-20e_synthetic-128x96.py')
    cfg = short_run_config(cfg, root, tmp_path / 'work', iters=4, batch_size=2, aug=False)
    from okdhp_mm.utils.config import load_model_config
    from mmpose.registry import MODELS
    for name, t in cfg.model.teachers.items():
        # Untrained teachers predict ~1e-9 everywhere: ODKD leaves such empty targets out of
        # the loss. A constant heatmap offset gives every keypoint a target to distil.
        teacher = MODELS.build(load_model_config(t.model))
        torch.nn.init.constant_(teacher.head.final_layer.bias, 0.5)
        torch.save({'state_dict': teacher.state_dict()}, tmp_path / f'{name}.pth')
        t.checkpoint = str(tmp_path / f'{name}.pth')
    cfg.custom_hooks = [dict(type='OrderlyTeacherHook', switch_epoch=2, transition_epochs=0,
                             by_epoch=False)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    primary = hub.get_scalar('train/loss_primary').data[0]
    senior = hub.get_scalar('train/loss_senior').data[0]
    assert np.all(primary[:2] > 0) and np.all(senior[:2] == 0)
    assert np.all(primary[2:] == 0) and np.all(senior[2:] > 0)
