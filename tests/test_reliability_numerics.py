"""Numerics of our losses under bf16 autocast on the CPU and with saturated logits.

``PixelKLDivLoss``, ``HHDLoss`` and the ``MultiBranchHead`` total are finite and correct:
against closed forms / float64 references for very peaked maps (peaks of 1e4, also as
-1e4 backgrounds), and against fp32 under ``torch.autocast('cpu', dtype=torch.bfloat16)``.
"""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmpose.registry import MODELS

from okdhp_builders import coco_batch, tiny_hourglass_okdhp, tiny_mobile_okdhp
from okdhp_mm.models.losses.hhd_loss import HHDLoss
from okdhp_mm.models.losses.pixel_kl_loss import PixelKLDivLoss
from test_hhd_loss import ref_loss as hhd_ref_loss
from test_reliability_common import one_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures('one_thread')

A = 1e4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def kd_epoch():
    """KD weight 1 (epoch past the ramp) for the duration of a test."""
    hub = MessageHub.get_current_instance()
    before = hub.get_info('epoch', 0)
    hub.update_info('epoch', 1000)
    yield
    hub.update_info('epoch', before)


def peaked(B, K, H, W, peak=A, background=0.0, seed=0, avoid=None):
    """Maps equal to `background` with one pixel `peak` per (b, k), at random places (none at
    the places ``avoid`` (B, K) gives)."""
    g = torch.Generator().manual_seed(seed)
    maps = torch.full((B, K, H * W), background)
    idx = torch.randint(0, H * W, (B, K), generator=g)
    if avoid is not None:
        idx = (avoid + 1 + torch.randint(0, H * W - 1, (B, K), generator=g)) % (H * W)
    maps.scatter_(2, idx[..., None], peak)
    return maps.reshape(B, K, H, W), idx


def kl_ref64(pred, target, weights=None, temperature=1.0, loss_weight=1.0):
    """Float64 KL(softmax(w*y/T) || softmax(w*x/T)) summed, / (B*H*W), * T^2."""
    B, K = pred.shape[:2]
    x, y = pred.double().flatten(2), target.double().flatten(2)
    if weights is not None:
        w = weights.double().reshape(B, K, 1)
        x, y = x * w, y * w
    x, y = x / temperature, y / temperature
    log_q, log_p = x.log_softmax(-1), y.log_softmax(-1)
    kl = (log_p.exp() * (log_p - log_q)).sum()
    return kl / (B * x.shape[-1]) * temperature**2 * loss_weight


# ------------------------------------------------------------------------------ PixelKLDivLoss
@pytest.mark.parametrize('temperature', [1.0, 2.0])
@pytest.mark.parametrize('mode', ['fp32', 'bf16_inputs', 'autocast', 'autocast_bf16_inputs'])
@pytest.mark.parametrize('background', [0.0, -A], ids=['peak+1e4', 'background-1e4'])
def test_pixel_kl_saturated_equals_closed_form(temperature, mode, background):
    """One-pixel peaks at different places: KL = peak height / T * T^2 per visible keypoint
    (terms of order exp(-1e4) vanish); softmax is shift-invariant, so a -1e4 background
    with a 0 peak is the same distribution."""
    B, K, H, W = 2, 3, 8, 8
    peak = A + background
    pred, p_idx = peaked(B, K, H, W, peak, background, seed=1)
    target, t_idx = peaked(B, K, H, W, peak, background, seed=2, avoid=p_idx)
    assert (p_idx != t_idx).all()
    weights = torch.ones(B, K)
    weights[1, 2] = 0.0  # this keypoint must contribute exactly 0
    if 'bf16_inputs' in mode:
        pred, target = pred.bfloat16(), target.bfloat16()
    # the peak height as the inputs hold it (1e4 rounds to 9984 in bf16)
    height = float(pred.float().amax() - pred.float().amin())
    pred.requires_grad_()
    loss_fn = PixelKLDivLoss(temperature=temperature, loss_weight=2.0)
    if 'autocast' in mode:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            loss = loss_fn(pred, target, weights)
    else:
        loss = loss_fn(pred, target, weights)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    n_visible = int(weights.sum())
    expected = 2.0 * n_visible * (height / temperature) * temperature**2 / (B * H * W)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert loss.item() == pytest.approx(kl_ref64(pred.detach(), target, weights, temperature,
                                                 2.0).item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[1, 2].abs().max() == 0  # weight-0 keypoint: no gradient


def test_pixel_kl_bf16_autocast_matches_fp32_on_a_real_producer():
    """bf16 logits from a conv under autocast: the loss (computed in fp32) equals the fp32
    loss of the same bf16-rounded values, and is close to the all-fp32 loss."""
    conv = torch.nn.Conv2d(8, 5, 1)
    feat, target = torch.randn(2, 8, 16, 16) * 3, torch.randn(2, 5, 16, 16) * 3
    weights = torch.tensor([[1., 1., 0., 1., 1.], [1., 0., 1., 1., 1.]])
    loss_fn = PixelKLDivLoss()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pred16 = conv(feat)
        assert pred16.dtype == torch.bfloat16
        loss16 = loss_fn(pred16, target, weights)
    same_values = loss_fn(pred16.float(), target, weights)
    fp32 = loss_fn(conv(feat), target, weights)
    assert torch.isfinite(loss16)
    assert loss16.item() == pytest.approx(same_values.item(), rel=1e-6)
    assert loss16.item() == pytest.approx(fp32.item(), rel=2e-2)


# ------------------------------------------------------------------------------ HHDLoss
@pytest.mark.parametrize('mode', ['fp32', 'autocast_bf16_inputs'])
@pytest.mark.parametrize('student_background', [0.0, -A], ids=['s_peak+1e4', 's_bg-1e4'])
def test_hhd_loss_saturated_matches_float64_reference(mode, student_background):
    """Saturated student logits: c = sum(exp(S)) overflows to inf (1e4 peaks; the crop centre
    falls back to the teacher peak) or sits near 1 (-1e4 background, 0 peak; the closed form
    or its fallback). Either way the loss is finite and equals the float64 reference."""
    B, K, H, W = 2, 4, 16, 16
    student, _ = peaked(B, K, H, W, A + student_background, student_background, seed=3)
    student = student + 0.5 * torch.randn(B, K, H, W)  # not a pure one-hot
    teacher, _ = peaked(B, K, H, W, A, 0.0, seed=4)
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


# ------------------------------------------------------------------------------ MultiBranchHead
def _builders():
    return [pytest.param(lambda: (tiny_mobile_okdhp(), (64, 64), (16, 16)), id='mobile'),
            pytest.param(lambda: (tiny_hourglass_okdhp(), (32, 32), (8, 8)), id='hourglass')]


@pytest.mark.parametrize('make', _builders())
def test_head_total_under_bf16_autocast_matches_fp32(make, samples, kd_epoch):
    cfg, size, hm = make()
    model = MODELS.build(cfg)
    model.train()
    batch = coco_batch(samples, model, input_size=size, heatmap_size=hm, n=4)
    fp32 = model(**copy.copy(batch), mode='loss')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        bf16 = model(**copy.copy(batch), mode='loss')
    total = sum(v for k, v in bf16.items() if k.startswith('loss'))
    assert total.dtype == torch.float32
    for key, value in fp32.items():
        if key.startswith('loss'):
            assert torch.isfinite(bf16[key]), key
            assert bf16[key].item() == pytest.approx(value.item(), rel=2e-2), key
    assert bf16['loss_kd_b0'].item() > 1e-4  # the KD terms are not trivially 0
    total.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def _ref_head_losses(maps, ens, gt, weights, kd_w):
    """Float64 reference of every loss term, from the same heatmaps and ensemble."""
    w = weights.double()[:, :, None, None]
    mse = {t: ((m.double() - gt.double())**2 * w).mean() for t, m in enumerate(maps)}
    ref = {}
    for t, m in enumerate(maps):
        ref[f'loss_gt_b{t}'] = mse[t]
        ref[f'loss_kd_b{t}'] = kd_w * kl_ref64(m, ens, weights, loss_weight=2.0)
    ref['loss_gt_ens'] = ((ens.double() - gt.double())**2 * w).mean()
    return ref


@pytest.mark.parametrize('dtype', [
    torch.float32,
    torch.bfloat16])
def test_head_total_with_saturated_heatmaps_matches_float64_reference(dtype, samples, kd_epoch,
                                                                     monkeypatch):
    """Branch heatmaps with 1e4 peaks (and a -1e4 background for one branch) injected into
    MultiBranchHead.loss: every term and the total match a float64 computation; the
    gradients reaching the heatmaps are finite."""
    model = MODELS.build(tiny_mobile_okdhp())
    model.train()
    head = model.head
    batch = coco_batch(samples, model, n=4)
    feats = model.extract_feat(batch['inputs'])
    B, K, H, W = 4, 17, 16, 16
    maps = []
    for t in range(3):
        background = -A if t == 2 else 0.0
        m, _ = peaked(B, K, H, W, A + background, background, seed=10 + t)
        maps.append(m.to(dtype).requires_grad_())
    monkeypatch.setattr(head, 'branch_outputs', lambda feats, t: [maps[t]])
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        losses = head.loss(feats, batch['data_samples'])
        ens, _ = head.ensemble(feats, maps)
    gt = torch.stack([d.gt_fields.heatmaps for d in batch['data_samples']])
    weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch['data_samples']])
    assert (weights == 0).any() and (weights > 0).any()
    ref = _ref_head_losses(maps, ens.detach(), gt, weights, losses['kd_weight'].item())
    for key, expected in ref.items():
        assert torch.isfinite(losses[key]), key
        assert losses[key].item() == pytest.approx(expected.item(), rel=1e-5), key
    assert losses['loss_kd_b0'].item() > 1.0  # saturated: the KD terms are large, not inf
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert total.item() == pytest.approx(sum(v.item() for v in ref.values()), rel=1e-5)
    total.backward()
    for m in maps:
        assert torch.isfinite(m.grad).all()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in head.fau.parameters())
