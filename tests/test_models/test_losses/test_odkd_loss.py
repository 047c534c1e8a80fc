"""ODKD: binarisation of teacher heatmaps and ODKDHeatmapLoss on hand-made maps."""
from __future__ import annotations

import pytest
import torch

from helpers.builders import heatmap_samples, tiny_teacher
from helpers.distill import count_teacher_runs, heatmap_kd_loss_from_scratch
from okdhp_mm.models.losses.odkd_loss import ODKDHeatmapLoss, binarize_heatmaps

M = torch.tensor([[0.0, 0.2, 0.0],
                  [0.3, 0.8, 0.4],
                  [0.0, 0.5, 0.1]])


def test_binarize_relative_hard_and_keep():
    hm = torch.stack([M, 2 * M, torch.zeros(3, 3)])[None]  # (1, 3, 3, 3)
    hard = binarize_heatmaps(hm, 0.5)  # threshold = 0.4 (map 0), 0.8 (map 1)
    exp = torch.tensor([[0., 0., 0.], [0., 1., 1.], [0., 1., 0.]])
    assert torch.equal(hard[0, 0], exp) and torch.equal(hard[0, 1], exp)  # scale invariant
    assert torch.equal(hard[0, 2], torch.zeros(3, 3))  # empty map stays empty
    keep = binarize_heatmaps(hm, 0.5, mode='keep')
    assert torch.allclose(keep[0, 0], M * exp)
    absolute = binarize_heatmaps(hm, 0.45, relative=False)
    assert torch.equal(absolute[0, 0], torch.tensor([[0., 0., 0.], [0., 1., 0.], [0., 1., 0.]]))
    neg = binarize_heatmaps(-M[None, None], 0.5)
    assert torch.equal(neg, torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError):
        binarize_heatmaps(hm, mode='soft')


def test_loss_exact_values_weights_mask_and_alpha():
    t = M[None, None].repeat(1, 2, 1, 1)           # (1, 2, 3, 3)
    s = torch.zeros(1, 2, 3, 3, requires_grad=True)
    loss = ODKDHeatmapLoss(loss_weight=2.0)
    # binarised target has 3 ones per map: mean = 6 / 18, x2
    assert torch.isclose(loss(s, t), torch.tensor(2 * 6 / 18))
    w = torch.tensor([[1., 0.]])
    assert torch.isclose(loss(s, t, target_weights=w), torch.tensor(2 * 3 / 18))
    # teacher mask (option a): only the centre column survives -> then binarised
    mask = torch.tensor([[0., 1., 0.]] * 3)[None, None]
    tgt = loss.target(t, teacher_mask=mask)
    assert torch.equal(tgt[0, 0], torch.tensor([[0., 0., 0.], [0., 1., 0.], [0., 1., 0.]]))
    # raw KD (no binarisation) and target mixing with the GT
    raw = ODKDHeatmapLoss(binarize=False)
    assert torch.isclose(raw(s, t), (M ** 2).mean())
    mix = ODKDHeatmapLoss(alpha=0.25)
    gt = torch.ones(1, 2, 3, 3)
    exp = 0.25 * gt + 0.75 * binarize_heatmaps(t)
    assert torch.allclose(mix.target(t, gt_heatmaps=gt), exp)
    loss(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


ODKD_KD = dict(type='ODKDHeatmapLoss')


def test_loss_as_distiller_entry():
    """A zero-weight loss is reported as 0 without running its teacher; the active one equals
    ODKDHeatmapLoss on the student's and the primary teacher's maps; switched the other way
    (as OrderlyTeacherHook does), the senior teacher runs and its loss counts."""
    from mmpose.registry import MODELS

    student = tiny_teacher(hm=(16, 16))
    student['backbone'].update(stem_channels=8, base_channels=8)
    student['head']['in_channels'] = 64
    model = MODELS.build(dict(
        type='TeacherStudentDistiller', student=student,
        teachers=dict(primary=dict(model=tiny_teacher()), senior=dict(model=tiny_teacher())),
        distill_losses=dict(
            loss_primary=dict(ODKD_KD, teacher_name='primary', loss_weight=1.),
            loss_senior=dict(ODKD_KD, teacher_name='senior', loss_weight=0.))))
    x, samples = torch.randn(2, 3, 64, 64), heatmap_samples(input_size=(64, 64))
    runs = count_teacher_runs(model)
    losses = model.loss(x, samples)
    assert losses['loss_senior'].item() == 0 and losses['loss_primary'].item() > 0
    assert runs == {'primary': 1, 'senior': 0}
    expected = heatmap_kd_loss_from_scratch(model, 'primary', ODKD_KD, x, samples)
    torch.testing.assert_close(losses['loss_primary'].detach(), expected)

    model.distill_losses['loss_primary'].loss_weight = 0.
    model.distill_losses['loss_senior'].loss_weight = 1.
    runs.update(primary=0, senior=0)
    losses = model.loss(x, samples)
    assert runs == {'primary': 0, 'senior': 1}
    assert losses['loss_primary'].item() == 0 and losses['loss_senior'].item() > 0
    expected = heatmap_kd_loss_from_scratch(model, 'senior', ODKD_KD, x, samples)
    torch.testing.assert_close(losses['loss_senior'].detach(), expected)
