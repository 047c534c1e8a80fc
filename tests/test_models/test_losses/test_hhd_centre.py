"""HHD's student crop centre: the released closed form against Gu et al.'s full form."""
from __future__ import annotations

import math

import pytest
import torch

from okdhp_mm.models.losses import HHDLoss
from okdhp_mm.models.losses.hhd_loss import gu_centre, unbiased_centre


def _peaked(h, w, u, v, peak, background=0.0):
    s = torch.full((1, 1, h, w), background)
    s[0, 0, v, u] = peak
    return s


def test_gu_full_form_by_hand_on_a_flat_student_map():
    """C = (HW - 1) e^0 + e^1; x_s = (C - HW) / C x_r + HW W / (2C), truncated."""
    h, w, u, v = 32, 24, 3, 5
    s = _peaked(h, w, u, v, 1.0)
    c = (h * w - 1) + math.e
    x = math.trunc((c - h * w) / c * u + h * w * w / (2 * c))
    y = math.trunc((c - h * w) / c * v + h * w * h / (2 * c))
    gu_u, gu_v = gu_centre(s, torch.tensor([[u]]), torch.tensor([[v]]))
    assert (gu_u.item(), gu_v.item()) == (x, y) == (11, 15)
    # The released form keeps the teacher peak here: c / (c - 1) (p - 1 / 2c) ~ p.
    rel_u, rel_v = unbiased_centre(s, torch.tensor([[u]]), torch.tensor([[v]]))
    assert (rel_u.item(), rel_v.item()) == (u, v)


def test_both_forms_agree_on_a_sharp_student_map():
    s = _peaked(32, 24, 3, 5, 12.0)  # C = 767 + e^12 >> HW
    for centre in (gu_centre, unbiased_centre):
        cu, cv = centre(s, torch.tensor([[3]]), torch.tensor([[5]]))
        assert (cu.item(), cv.item()) == (3, 5)


def test_gu_centre_is_clamped_and_falls_back_on_bad_sums():
    s = _peaked(8, 8, 0, 0, 0.0, background=-1e4)  # C ~ 1: pulled far past the centre
    cu, cv = gu_centre(s, torch.tensor([[0]]), torch.tensor([[0]]))
    assert 0 <= cu.item() <= 7 and 0 <= cv.item() <= 7
    nan = torch.full((1, 1, 8, 8), float('nan'))
    cu, cv = gu_centre(nan, torch.tensor([[2]]), torch.tensor([[6]]))
    assert (cu.item(), cv.item()) == (2, 6)


def test_loss_uses_the_chosen_centre_and_differs_where_the_centres_do():
    torch.manual_seed(0)
    teacher = torch.zeros(1, 1, 32, 24)
    teacher[0, 0, 5, 3] = 1.0
    student = torch.rand(1, 1, 32, 24) * 0.1  # flat: the Gu centre moves towards the middle
    released = HHDLoss(crop_size=(4, 4))(student, teacher)
    gu = HHDLoss(crop_size=(4, 4), centre='gu')(student, teacher)
    assert gu.item() != pytest.approx(released.item())
    sharp = student.clone()
    sharp[0, 0, 5, 3] = 20.0
    assert HHDLoss(crop_size=(4, 4), centre='gu')(sharp, teacher).item() == pytest.approx(
        HHDLoss(crop_size=(4, 4))(sharp, teacher).item())
    with pytest.raises(ValueError, match="centre must be one of .*'gu'"):
        HHDLoss(centre='nearest')
