"""okdhp_mm.analysis.distill_cost.hhd_loss_share: the cost of the HHD loss in a distillation
step, without changing the model."""
from __future__ import annotations

import pytest
import torch

from helpers.builders import int_codec, raw_coco_batch, state_copy, tiny_distiller
from helpers.paths import SYN_HHD
from helpers.training import HHD_SYNTHETIC_SET, short_run_config
from okdhp_mm.analysis.distill_cost import hhd_loss_share


def test_hhd_loss_share_runs_and_leaves_the_model_unchanged(samples):
    batch = raw_coco_batch(samples, int_codec())
    model = tiny_distiller()
    before = state_copy(model.student)
    out = hhd_loss_share(model, batch, repeats=2)
    assert 0 < out['share'] < 1 and out['batch_size'] == 4
    assert out['loss_s'] > 0 and out['step_s'] > out['loss_s']
    for k, v in state_copy(model.student).items():
        if 'running' not in k and 'num_batches' not in k:
            assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_hhd_loss_share_of_a_training_step_at_batch_32(synthetic_coco):
    """Cost of the HHD loss (forward + backward) in a full distillation step of the synthetic
    tiny config at batch 32 (goal: <= 3 %)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from okdhp_mm.utils.config import build_model_from_config

    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = short_run_config(Config.fromfile(SYN_HHD), synthetic_coco(**HHD_SYNTHETIC_SET),
                           '/unused', iters=1, batch_size=32)
    model = build_model_from_config(cfg)
    share = hhd_loss_share(model, next(iter(Runner.build_dataloader(cfg.train_dataloader))),
                           repeats=2)
    print(f"\nHHD loss share at batch {share['batch_size']}: {100 * share['share']:.2f} % "
          f"(loss fwd+bwd {1e3 * share['loss_s']:.1f} ms / step {1e3 * share['step_s']:.0f} ms)")
    assert share['batch_size'] == 32
    assert share['share'] <= 0.03
