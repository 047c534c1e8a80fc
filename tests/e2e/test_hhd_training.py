"""HHD end to end on the synthetic set: train the heatmap teacher, checkpoint it, distil the
DSNT student from it with the runner (validation on the synthetic val split)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.paths import SYN_HHD, SYN_TEACHER, THREADS
from helpers.training import HHD_SYNTHETIC_SET, short_run_config


@pytest.mark.slow
def test_train_teacher_then_distil_on_the_synthetic_set(tmp_path, synthetic_coco):
    from mmengine.config import Config
    from mmengine.runner import Runner

    torch.set_num_threads(THREADS)
    synthetic_root = synthetic_coco(**HHD_SYNTHETIC_SET)
    # 1. A few iterations of the tiny heatmap teacher, checkpoint saved by the runner.
    t_cfg = short_run_config(Config.fromfile(SYN_TEACHER), synthetic_root, tmp_path / 'teacher',
                             iters=3, batch_size=4)
    Runner.from_cfg(t_cfg).train()
    t_ckpt = tmp_path / 'teacher' / 'iter_3.pth'
    assert t_ckpt.is_file()

    # 2. HHD from it into the tiny DSNT student (loads the teacher in init_weights).
    iters = 8
    cfg = short_run_config(Config.fromfile(SYN_HHD), synthetic_root, tmp_path / 'hhd',
                           iters=iters, batch_size=4, aug=False, val=True)
    cfg.model.teacher_checkpoint = str(t_ckpt)
    runner = Runner.from_cfg(cfg)
    runner.train()
    saved = torch.load(t_ckpt, map_location='cpu', weights_only=True)['state_dict']
    for k, v in runner.model.teacher.state_dict().items():  # loaded, then never changed
        assert torch.equal(v, saved[k]), k
    hub = runner.message_hub
    hist = {k: hub.get_scalar(f'train/{k}').data[0] for k in ('loss', 'loss_kpt', 'loss_hhd')}
    print('\n' + '\n'.join(f'{k}: {np.round(v, 4).tolist()}' for k, v in hist.items()))
    assert len(hist['loss']) == iters
    for k in ('loss', 'loss_hhd'):
        first, last = np.mean(hist[k][:3]), np.mean(hist[k][-3:])
        assert last < first, f'{k} did not decrease: {hist[k]}'
        # ... and keeps decreasing after the large first step (random logits vs teacher).
        assert last < np.mean(hist[k][1:4]), f'{k} stopped decreasing: {hist[k]}'
    assert (tmp_path / 'hhd' / f'iter_{iters}.pth').is_file()
    # The runner's validation ran on the student (COCO metric on the synthetic val split).
    assert 'val/coco/AP' in hub.log_scalars
