"""MultiBranchPoseEstimator: predicting with branch k equals branch k exported as a plain MMPose
model; the FAU's input width is checked against the feature it reads when building."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmpose.registry import MODELS

from helpers.builders import (coco_batch, randomize_weights, tiny_hourglass_okdhp,
                              tiny_mobile_okdhp, tiny_resnet_okdhp)

pytestmark = pytest.mark.usefixtures('torch_seed0')


# ---------------------------------------------------------------- predict and export
def _plain_student(model, index):
    cfg, state = model.export_student(index)
    student = MODELS.build(cfg)
    student.load_state_dict(state, strict=True)
    return student.eval()


@pytest.mark.parametrize('builder', ['hourglass', 'mobile'])
@pytest.mark.parametrize('flip_test', [False, True])
def test_predict_with_branch_k_equals_the_exported_plain_model(samples, builder, flip_test):
    cfg = (tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 2, 3), flip_test=flip_test)
           if builder == 'hourglass' else tiny_mobile_okdhp(flip_test=flip_test))
    model = randomize_weights(MODELS.build(cfg)).eval()
    batch = coco_batch(samples, model, train=False)
    for k in range(3):
        model.test_cfg['branch'] = k
        student = _plain_student(model, k)
        assert type(student).__name__ == 'TopdownPoseEstimator'
        with torch.no_grad():
            ours = model(**coco_batch(samples, model, train=False), mode='predict')
            theirs = student(**coco_batch(samples, student, train=False), mode='predict')
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.pred_instances.keypoints, b.pred_instances.keypoints,
                                       atol=1e-4, rtol=0)
            np.testing.assert_allclose(a.pred_instances.keypoint_scores,
                                       b.pred_instances.keypoint_scores, atol=1e-6, rtol=0)
    del batch


# ---------------------------------------------------------------- FAU channels
def test_fau_channels_must_match_the_feature_it_reads():
    cfg = tiny_mobile_okdhp()
    cfg['head']['fau']['in_channels'] = 256  # ResNet-18 gives 512
    with pytest.raises(ValueError, match='in_channels=256 .* in_channels=512'):
        MODELS.build(cfg)


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
