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


def test_dwpose_distiller_pull_is_measured_at_the_student_logits_and_decays_to_zero():
    """MMPose's DWPoseDistiller (stage 1 decays its KD linearly over the schedule): measured
    at the RTMPose student's SimCC logits, > 0 at the start, exactly 0 at the last epoch."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from mmpose.testing import get_packed_inputs

    from helpers.paths import REPO

    init_default_scope('mmpose')
    cfg = Config.fromfile(str(REPO / 'configs/dwpose/synthetic/'
                              'dwpose_rtmpose-s-s16_rtmpose-t-s16_1xb32-20e_synthetic-128x96.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    batch = get_packed_inputs(2, img_shape=(128, 96), input_size=(96, 128), with_heatmap=False)
    hub = MessageHub.get_current_instance()
    ratios = []
    for epoch in (0, 16):
        hub.update_info('epoch', epoch)
        hub.update_info('max_epochs', 16)
        ratios.append(kd_gt_ratio(model, [batch], num=1))
    assert ratios[0] > 0 and ratios[1] == 0.0
