"""KDGradientRatioHook / kd_gt_ratio: how hard distillation pulls at the student's outputs."""
import pytest
import torch
from mmengine.logging import MessageHub

from helpers.families import build, packed
from okdhp_mm.engine.hooks import kd_gt_ratio


def test_kd_gt_ratio_is_linear_in_the_kd_weight_and_zero_without_kd(one_thread):
    """The gradient-norm ratio at branch 0's output: KD terms scale it linearly, and with the
    KD weight at 0 (``okdhp_nokd``) nothing distils."""
    MessageHub.get_current_instance().update_info('epoch', 100)  # past the ramp
    ratios = []
    for weight in (1.0, 2.0, 0.0):
        model, codec = build('shared_encoder', seed=0)
        model.head.kd_loss.loss_weight = weight
        before = {k: v.clone() for k, v in model.state_dict().items()}
        ratios.append(kd_gt_ratio(model, [packed(codec)] * 2, num=2))
        after = model.state_dict()  # BatchNorm statistics included: left as they were
        assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert ratios[0] > 0 and ratios[1] == pytest.approx(2 * ratios[0], rel=1e-4)
    assert ratios[2] == 0.0
