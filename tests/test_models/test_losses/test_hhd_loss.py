"""Tests of HHDLoss against a literal, loop-based transcription of the released algorithm
(helpers.references.hhd_ref_loss), also for saturated logits and under bf16 autocast."""
import math

import pytest
import torch

from helpers.builders import SATURATED, peaked
from helpers.references import hhd_ref_crop, hhd_ref_loss
from okdhp_mm.models.losses.hhd_loss import HHDLoss, hhd_crop, unbiased_centre


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def border_peaks(H, W):
    """Peak positions biased to corners / borders, plus a few interior ones."""
    return [(0, 0), (W - 1, 0), (0, H - 1), (W - 1, H - 1), (1, H // 2), (W - 2, 2),
            (W // 2, 0), (3, H - 1), (W - 1, H // 3), (2, 1), (W // 2, H // 2), (W - 4, H - 3)]


def gaussian(H, W, x, y, sigma=2.0):
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing='ij')
    return torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2))


def make_maps(B, K, H, W, seed=0):
    """Teacher: Gaussians (random sigma) at border/corner peaks plus noise.
    Student: logits with a shifted bump and noise (so the crops differ)."""
    g = torch.Generator().manual_seed(seed)
    peaks = border_peaks(H, W)
    T = torch.empty(B, K, H, W)
    S = torch.empty(B, K, H, W)
    for n in range(B):
        for k in range(K):
            x, y = peaks[(n * K + k) % len(peaks)]
            sig = 1.0 + 2.0 * float(torch.rand((), generator=g))
            T[n, k] = gaussian(H, W, x, y, sig) + 0.05 * torch.rand(H, W, generator=g)
            dx, dy = (torch.randint(-2, 3, (2,), generator=g)).tolist()
            S[n, k] = (3.0 * gaussian(H, W, x + dx, y + dy, 2.0)
                       + 0.5 * torch.randn(H, W, generator=g) - 1.0)
    return S, T


def out_of_map(u, v, crop, H, W):
    """Does the (h, w) window centred at (u, v) stick out of the map?"""
    h, w = crop
    return u - w // 2 < 0 or v - h // 2 < 0 or u - w // 2 + w > W or v - h // 2 + h > H


def close(a, b, tol=1e-6):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------
# Crop / mirror rule
# --------------------------------------------------------------------------------------------
def index_map(H, W):
    """map[r, c] = 1000 * r + c + 1 (no zero, every value identifies its source pixel)."""
    r = torch.arange(H, dtype=torch.float32)[:, None]
    c = torch.arange(W, dtype=torch.float32)[None, :]
    return 1000 * r + c + 1


def crop_one(m, crop, u, v):
    return hhd_crop(m[None, None], torch.tensor([[u]]), torch.tensor([[v]]), crop)[0, 0]


def decode(win):
    """window of index_map values -> (rows, cols) of the source pixels."""
    return ((win - 1) // 1000).long(), ((win - 1) % 1000).long()


def test_mirror_examples_from_released_description():
    m = index_map(64, 64)
    # u=0: -1<-0, -2<-1, -3<-2, -4<-3 ; rows v-4..v+3 inside the map.
    rows, cols = decode(crop_one(m, (8, 8), 0, 30))
    assert cols[0].tolist() == [3, 2, 1, 0, 0, 1, 2, 3]
    assert rows[:, 0].tolist() == list(range(26, 34))
    # u=63: window columns 59..66, 64<-61, 65<-60, 66<-59 (reflection about 62.5).
    rows, cols = decode(crop_one(m, (8, 8), 63, 30))
    assert cols[0].tolist() == [59, 60, 61, 62, 63, 61, 60, 59]
    # interior: no mirroring, rows v-4..v+3, columns u-4..u+3.
    rows, cols = decode(crop_one(m, (8, 8), 20, 30))
    assert cols[0].tolist() == list(range(16, 24)) and rows[:, 0].tolist() == list(range(26, 34))
    # bottom-right corner: rows and columns mirrored independently (point reflection).
    # v=62: rows 58..65, 64<-59, 65<-58 (reflection about v - 0.5 = 61.5).
    rows, cols = decode(crop_one(m, (8, 8), 63, 62))
    assert rows[:, 0].tolist() == [58, 59, 60, 61, 62, 63, 59, 58]
    assert cols[-1].tolist() == [59, 60, 61, 62, 63, 61, 60, 59]
    # u=1: reflection about 0.5: -1<-2, -2<-3, -3<-4.
    _, cols = decode(crop_one(m, (8, 8), 1, 30))
    assert cols[0].tolist() == [4, 3, 2, 0, 1, 2, 3, 4]


def test_mirror_odd_convention():
    m = index_map(10, 9)
    # odd windows are centred on the peak and mirrored about it: x <- 2u - x.
    _, cols = decode(crop_one(m, (5, 5), 0, 5))
    assert cols[0].tolist() == [2, 1, 0, 1, 2]
    _, cols = decode(crop_one(m, (5, 5), 8, 5))
    assert cols[0].tolist() == [6, 7, 8, 7, 6]     # every out-of-map position is mirrored
    rows, _ = decode(crop_one(m, (3, 3), 4, 9))
    assert rows[:, 0].tolist() == [8, 9, 8]


@pytest.mark.parametrize('H,W,crops', [
    (64, 48, [(8, 8), (4, 4), (6, 4), (5, 5), (3, 7)]),
    (8, 6, [(8, 6), (4, 4), (5, 5), (3, 2), (1, 1), (7, 6)]),
    (7, 5, [(7, 5), (6, 4), (2, 3)]),
])
def test_crop_matches_reference_at_every_centre(H, W, crops):
    m = torch.randn(H, W, generator=torch.Generator().manual_seed(H * W))
    vv, uu = torch.meshgrid(torch.arange(H), torch.arange(W), indexing='ij')
    u, v = uu.reshape(1, -1), vv.reshape(1, -1)
    maps = m.expand(1, H * W, H, W)
    n_mirrored = 0
    for crop in crops:
        got = hhd_crop(maps, u, v, crop)[0]
        for i in range(H * W):
            ui, vi = int(u[0, i]), int(v[0, i])
            ref = hhd_ref_crop(m, crop, ui, vi)
            assert torch.equal(got[i], ref), (crop, ui, vi)
            n_mirrored += out_of_map(ui, vi, crop, H, W)
    assert n_mirrored > 0   # the border cases were really exercised


@pytest.mark.parametrize('crop', [(8, 8), (6, 10), (7, 9)])
def test_crop_larger_than_map_reproduces_released_order(crop):
    """Window out of the map on both sides (only reachable through hhd_crop; HHDLoss refuses a
    crop larger than the map): left filled from the (partly zero) right, then right from the
    filled left; sources in the zero padding stay 0."""
    H, W = 5, 6
    m = torch.rand(H, W, generator=torch.Generator().manual_seed(3)) + 1.0
    vv, uu = torch.meshgrid(torch.arange(H), torch.arange(W), indexing='ij')
    u, v = uu.reshape(1, -1), vv.reshape(1, -1)
    got = hhd_crop(m.expand(1, H * W, H, W), u, v, crop)[0]
    n_zero = 0
    for i in range(H * W):
        ref = hhd_ref_crop(m, crop, int(u[0, i]), int(v[0, i]))
        assert torch.equal(got[i], ref), (crop, int(u[0, i]), int(v[0, i]))
        n_zero += int((ref == 0).any())
    assert n_zero > 0


# --------------------------------------------------------------------------------------------
# Loss vs reference
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize('H,W', [(64, 64), (64, 48)])
@pytest.mark.parametrize('crop', [(8, 8), (4, 4), (6, 4), (5, 5)])
def test_loss_matches_reference(H, W, crop):
    S, T = make_maps(3, 5, H, W, seed=H + W + crop[0] * 10 + crop[1])
    S1 = S.clone().requires_grad_(True)
    S2 = S.clone().requires_grad_(True)
    loss = HHDLoss(crop_size=crop)(S1, T)
    ref, centres = hhd_ref_loss(S2, T, crop)
    close(loss, ref)
    assert loss.item() > 1e-3
    # the peaks really sit on borders, so the mirror expansion was exercised
    assert sum(out_of_map(tx, ty, crop, H, W) for (tx, ty), _ in centres) >= 5
    loss.backward()
    ref.backward()
    close(S1.grad, S2.grad, 1e-6)


def test_loss_small_maps_and_odd_crops():
    for (H, W), crops in {(8, 6): [(8, 6), (4, 4), (5, 5), (3, 2)],
                          (12, 9): [(12, 9), (5, 7)]}.items():
        S, T = make_maps(2, 4, H, W, seed=H * W)
        for crop in crops:
            close(HHDLoss(crop_size=crop)(S, T), hhd_ref_loss(S, T, crop)[0])


@pytest.mark.parametrize('norm_s,norm_t', [('softmax', 'softmax'), ('l1', 'l1'),
                                           ('none', 'none'), ('softmax', 'l2'),
                                           ('l2', 'l1')])
def test_norm_options_match_reference(norm_s, norm_t):
    S, T = make_maps(2, 3, 64, 48, seed=7)
    if norm_s == norm_t:
        loss = HHDLoss(norm=norm_s)(S, T)
    else:
        loss = HHDLoss(norm='l2', student_norm=norm_s, teacher_norm=norm_t)(S, T)
    ref = hhd_ref_loss(S, T, (8, 8), norm_s, norm_t)[0]
    close(loss, ref)
    # the option really changed something
    assert not torch.allclose(loss, hhd_ref_loss(S, T, (8, 8))[0], rtol=1e-3, atol=0)


def test_loss_weight_and_batch_division():
    S, T = make_maps(4, 2, 16, 16, seed=5)
    base = HHDLoss(loss_weight=1.0)(S, T)
    close(HHDLoss(loss_weight=0.5)(S, T), 0.5 * base)
    # duplicating the batch keeps the loss (division by B, sum over K)
    close(HHDLoss(loss_weight=1.0)(torch.cat([S, S]), torch.cat([T, T])), base)
    # doubling K doubles it
    close(HHDLoss(loss_weight=1.0)(torch.cat([S, S], 1), torch.cat([T, T], 1)), 2 * base)


# --------------------------------------------------------------------------------------------
# Unbiased centre
# --------------------------------------------------------------------------------------------
def logits_with_c(H, W, c):
    """Logits whose exp-sum is ~c: background -60 (exp ~ 1e-26), one pixel log(c)."""
    s = torch.full((H, W), -60.0)
    s[H // 2, W // 3] = math.log(c)
    return s


def test_unbiased_centre_closed_form_values():
    H, W = 64, 48
    cs = [2.5, 2.5, 2.5, 1.2, 5000.0, 1e-3]
    pu = torch.tensor([[10, 40, 0, 0, 30, 17]])
    pv = torch.tensor([[3, 60, 0, 20, 0, 9]])
    S = torch.stack([logits_with_c(H, W, c) for c in cs])[None]
    u, v = unbiased_centre(S, pu, pv)
    # c=2.5: 5/3 * (p - 0.2): 10 -> 16, 3 -> 4; 40 -> 66 -> clamp 47, 60 -> 99.7 -> clamp 63;
    # 0 -> -0.33 -> trunc 0. c=1.2: 6 * (p - 1/2.4): 0 -> -2.5 -> -2 -> clamp 0; 20 -> 117.5
    # -> clamp 63. c=5000: unchanged. c<1: fallback to the teacher peak.
    assert u.tolist() == [[16, 47, 0, 0, 30, 17]]
    assert v.tolist() == [[4, 63, 0, 63, 0, 9]]


def test_unbiased_centre_beta():
    H, W = 32, 32
    s = torch.full((1, 1, H, W), -30.0)
    s[0, 0, 5, 5] = 0.5 * math.log(3.0)
    # beta=2: c = 3 -> 1.5 * (p - 1/6): 10 -> 14.75 -> 14, 4 -> 5.75 -> 5
    u, v = unbiased_centre(s, torch.tensor([[10]]), torch.tensor([[4]]), beta=2.0)
    assert (u.item(), v.item()) == (14, 5)
    # beta=1 (released): c = sqrt(3) -> 2.366 * (p - 0.2887): 10 -> 22.98 -> 22, 4 -> 8.78 -> 8
    u, v = unbiased_centre(s, torch.tensor([[10]]), torch.tensor([[4]]))
    assert (u.item(), v.item()) == (22, 8)
    S, T = make_maps(2, 3, 32, 32, seed=1)
    S[0, 0] = s[0, 0]
    close(HHDLoss(beta=2.0)(S, T), hhd_ref_loss(S, T, beta=2.0)[0])


def test_small_c_moves_and_clamps_centre_and_matches_reference():
    H, W = 64, 48
    S, T = make_maps(2, 4, H, W, seed=11)
    # n=0: very negative background, c in (1, 3]: the centre moves (and may leave the map).
    # c=2.5 @(10,21) -> (16,34); c=1.7 @(30,40) -> (72,96) clamped (47,63);
    # c=3 @(40,10) -> (59,14) clamped (47,14); c=1.05 @(5,50) -> (95,1049) clamped (47,63).
    g = torch.Generator().manual_seed(0)
    for k, (c, x, y) in enumerate([(2.5, 10, 21), (1.7, 30, 40), (3.0, 40, 10),
                                   (1.05, 5, 50)]):
        T[0, k] = gaussian(H, W, x, y, 1.5) + 0.05 * torch.rand(H, W, generator=g)
        S[0, k] = logits_with_c(H, W, c) + 0.01 * torch.randn(H, W, generator=g)
    S.requires_grad_(True)
    loss = HHDLoss()(S, T)
    ref, centres = hhd_ref_loss(S, T)
    close(loss, ref)
    assert [s for _, s in centres[:4]] == [(16, 34), (47, 63), (47, 14), (47, 63)]
    assert all(t == s for t, s in centres[4:])   # c large: student window = teacher peak
    assert torch.isfinite(loss)


def test_degenerate_c_falls_back_to_teacher_peak():
    H, W = 32, 24
    S, T = make_maps(1, 3, H, W, seed=2)
    S[0, 0] = -80.0 + 0.1 * torch.rand(H, W)          # c ~ 1e-31 <= 1
    S[0, 1, 3, 3] = 200.0                              # exp overflows: c = inf
    loss = HHDLoss()(S, T)
    assert torch.isfinite(loss)
    ref, centres = hhd_ref_loss(S, T)
    close(loss, ref)
    assert centres[0][0] == centres[0][1] and centres[1][0] == centres[1][1]
    # the guard, directly
    u, v = unbiased_centre(S, torch.tensor([[5, 6, 7]]), torch.tensor([[8, 9, 10]]))
    assert u[0, :2].tolist() == [5, 6] and v[0, :2].tolist() == [8, 9]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------
def test_identical_after_normalisation_gives_zero():
    S, T = make_maps(2, 3, 64, 48, seed=4)
    T = T.abs()
    assert HHDLoss()(3.0 * T, T).item() == pytest.approx(0.0, abs=1e-10)
    assert HHDLoss(norm='l1')(0.25 * T, T).item() == pytest.approx(0.0, abs=1e-10)
    assert HHDLoss(norm='softmax')(T, T).item() == 0.0
    assert HHDLoss()(S, T).item() > 1e-3      # not trivially zero


def test_gradient_only_to_student_and_finite():
    S, T = make_maps(2, 3, 64, 48, seed=9)
    S.requires_grad_(True)
    T.requires_grad_(True)
    loss = HHDLoss()(S, T)
    loss.backward()
    assert T.grad is None
    assert torch.isfinite(S.grad).all() and S.grad.abs().sum() > 0


def test_autocast_bf16():
    S, T = make_maps(2, 3, 64, 48, seed=13)
    # precondition for comparing with fp32: bf16 rounding keeps the teacher peaks
    assert torch.equal(T.flatten(2).argmax(-1), T.bfloat16().flatten(2).argmax(-1))
    crit = HHDLoss()
    fp32 = crit(S, T)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        same = crit(S, T)
        # a real bf16 producer: a 1x1 conv under autocast
        conv = torch.nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            conv.weight.copy_(torch.eye(3)[:, :, None, None])
            conv.bias.zero_()
        s_bf16 = conv(S)
        assert s_bf16.dtype == torch.bfloat16
        out = crit(s_bf16, T.bfloat16())
    assert same.dtype == torch.float32 and out.dtype == torch.float32
    close(same, fp32)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, fp32, rtol=2e-2, atol=1e-3)
    close(out, crit(S.bfloat16().float(), T.bfloat16().float()))
    out.backward()
    assert torch.isfinite(conv.weight.grad).all() and conv.weight.grad.abs().sum() > 0


def test_use_target_weight():
    S, T = make_maps(3, 4, 32, 32, seed=21)
    w = torch.tensor([[1.0, 0.0, 0.5, 1.0], [0.0, 0.0, 1.0, 2.0], [1.0, 1.0, 1.0, 0.0]])
    crit = HHDLoss(use_target_weight=True)
    S1 = S.clone().requires_grad_(True)
    loss = crit(S1, T, w)
    close(loss, hhd_ref_loss(S, T, weights=w)[0])
    close(crit(S, T, w[..., None]), loss)
    close(crit(S, T, torch.ones(3, 4)), HHDLoss()(S, T))
    assert not torch.allclose(loss, HHDLoss()(S, T))
    # masked joints do not matter and receive no gradient
    S2 = S.clone()
    S2[0, 1] = torch.randn(32, 32)
    close(crit(S2, T, w), loss)
    loss.backward()
    assert S1.grad[0, 1].abs().max() == 0 and S1.grad[0, 0].abs().max() > 0
    # use_target_weight=False ignores weights (released behaviour: every joint distilled)
    close(HHDLoss()(S, T, w), HHDLoss()(S, T))


def test_errors():
    S = torch.randn(2, 3, 8, 6)
    with pytest.raises(ValueError, match=r'\(2, 3, 8, 6\).*\(2, 3, 8, 5\)'):
        HHDLoss(crop_size=(4, 4))(S, torch.randn(2, 3, 8, 5))
    with pytest.raises(ValueError, match=r'\(2, 3, 8, 6\).*\(2, 4, 8, 6\)'):
        HHDLoss(crop_size=(4, 4))(S, torch.randn(2, 4, 8, 6))
    with pytest.raises(ValueError, match=r'\(10, 6\).*\(8, 6\)'):
        HHDLoss(crop_size=(10, 6))(S, S)
    with pytest.raises(ValueError, match=r'\(8, 7\).*\(8, 6\)'):
        HHDLoss(crop_size=(8, 7))(S, S)
    with pytest.raises(ValueError, match=r'\(3, 8, 6\)'):
        HHDLoss(crop_size=(4, 4))(S[0], S[0])
    with pytest.raises(ValueError, match='kl'):
        HHDLoss(norm='kl')
    with pytest.raises(ValueError, match='bogus'):
        HHDLoss(teacher_norm='bogus')
    with pytest.raises(ValueError, match='crop_size'):
        HHDLoss(crop_size=(0, 4))
    with pytest.raises(ValueError, match='crop_size'):
        HHDLoss(crop_size=(4, 4, 4))
    with pytest.raises(ValueError, match='target_weights is None'):
        HHDLoss(crop_size=4, use_target_weight=True)(S, S)
    with pytest.raises(ValueError, match=r'\(3, 2\).*\(2, 3\)'):
        HHDLoss(crop_size=4, use_target_weight=True)(S, S, torch.ones(3, 2))


def test_no_host_sync_runs_on_meta_tensors():
    """Any .item()/int(tensor)/data-dependent branch raises on meta tensors."""
    S = torch.randn(4, 17, 64, 48, device='meta', requires_grad=True)
    T = torch.randn(4, 17, 64, 48, device='meta')
    w = torch.ones(4, 17, device='meta')
    loss = HHDLoss(use_target_weight=True)(S, T, w)
    assert loss.shape == () and loss.device.type == 'meta'


def test_registry_build_defaults():
    from mmpose.registry import MODELS
    crit = MODELS.build(dict(type='HHDLoss'))
    assert isinstance(crit, HHDLoss)
    assert crit.crop_size == (8, 8) and crit.loss_weight == 0.5
    assert crit.student_norm == crit.teacher_norm == 'l2' and not crit.use_target_weight
    assert crit.beta == 1.0
    built = MODELS.build(dict(type='HHDLoss', crop_size=[8, 8]))
    assert built.crop_size == (8, 8)


# --------------------------------------------------------------------------------------------
# Saturated logits, bf16 autocast
# --------------------------------------------------------------------------------------------
@pytest.mark.usefixtures('one_thread', 'torch_seed0')
@pytest.mark.parametrize('mode', ['fp32', 'autocast_bf16_inputs'])
@pytest.mark.parametrize('student_background', [0.0, -SATURATED], ids=['s_peak+1e4', 's_bg-1e4'])
def test_hhd_loss_saturated_matches_float64_reference(mode, student_background):
    """Saturated student logits: c = sum(exp(S)) overflows to inf (1e4 peaks; the crop centre
    falls back to the teacher peak) or sits near 1 (-1e4 background, 0 peak; the closed form
    or its fallback). Either way the loss is finite and equals the float64 reference."""
    B, K, H, W = 2, 4, 16, 16
    student, _ = peaked(B, K, H, W, SATURATED + student_background, student_background, seed=3)
    student = student + 0.5 * torch.randn(B, K, H, W)  # not a pure one-hot
    teacher, _ = peaked(B, K, H, W, SATURATED, 0.0, seed=4)
    teacher = teacher + torch.rand(B, K, H, W)
    if 'bf16' in mode:
        student, teacher = student.bfloat16(), teacher.bfloat16()
    student.requires_grad_()
    loss_fn = HHDLoss(crop_size=(8, 8), loss_weight=0.5)
    if 'autocast' in mode:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            loss = loss_fn(student, teacher)
    else:
        loss = loss_fn(student, teacher)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    ref, centres = hhd_ref_loss(student.detach().double(), teacher.double())
    if student_background == 0.0:  # exp(1e4) = inf: the documented fallback to the peak
        assert all(t == s for t, s in centres)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-7)
    loss.backward()
    assert torch.isfinite(student.grad).all()
