"""A short CPU run of the synthetic OKDHP config lowers every branch's and the ensemble's loss."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub

from helpers.paths import REPO

OKDHP_SYNTHETIC = REPO / 'configs/okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py'


@pytest.mark.slow
def test_short_run_lowers_every_branch_loss(synthetic_coco):
    from mmpose.registry import DATASETS, MODELS

    synthetic_root = synthetic_coco(num_train_images=24, num_val_images=4, seed=3)
    torch.manual_seed(0)
    cfg = Config.fromfile(OKDHP_SYNTHETIC)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.update(data_root=str(synthetic_root) + '/')
    dataset = DATASETS.build(ds_cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=2e-3)
    MessageHub.get_current_instance().update_info('epoch', 12)  # ramp at full weight
    # A fixed set of 2 batches of 16 (augmented once), visited 12 times: the losses must fall.
    batches = [model.data_preprocessor(pseudo_collate([dataset[i] for i in range(s, s + 16)]),
                                       training=True) for s in (0, 16)]
    history = []
    for step in range(24):
        losses = model(**batches[step % 2], mode='loss')
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append({k: float(v) for k, v in losses.items()})
    MessageHub.get_current_instance().update_info('epoch', 0)
    for key in ['loss_gt_b0', 'loss_gt_b1', 'loss_gt_b2', 'loss_gt_ens']:
        first = np.mean([h[key] for h in history[:4]])
        last = np.mean([h[key] for h in history[-4:]])
        assert np.isfinite(last) and last < 0.85 * first, (key, first, last)
    assert all(np.isfinite(h['loss_kd_b0']) for h in history)
