"""Tests of PixelKLDivLoss (OKDHP pixel-wise KL, official JointsKLDLoss semantics), also for
saturated logits (closed forms, float64 reference) and under bf16 autocast on the CPU."""
import math

import numpy as np
import pytest
import torch

from mmpose.registry import MODELS

from helpers.builders import SATURATED, peaked
from helpers.references import kl_ref64
from okdhp_mm.models.losses.pixel_kl_loss import PixelKLDivLoss


def reference_loss(pred, target, weights=None, temperature=1.0, loss_weight=1.0):
    """Independent float64 numpy/loop implementation of the official JointsKLDLoss."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    B, K, H, W = pred.shape
    total = 0.0
    for b in range(B):
        for k in range(K):
            v = 1.0 if weights is None else float(weights[b, k])
            x = v * pred[b, k].reshape(-1) / temperature
            y = v * target[b, k].reshape(-1) / temperature
            log_q = x - x.max() - math.log(np.exp(x - x.max()).sum())
            log_p = y - y.max() - math.log(np.exp(y - y.max()).sum())
            p = np.exp(log_p)
            total += float((p * (log_p - log_q)).sum())
    return loss_weight * temperature**2 * total / (B * H * W)


def test_hand_computed_1x1x2x2():
    # target logits all 0 -> P = (1/4, 1/4, 1/4, 1/4)
    # pred logits (0, 0, 0, ln 5) -> Q = (1/8, 1/8, 1/8, 5/8)
    # KL(P||Q) = 1/4 * (3 ln(0.25/0.125) + ln(0.25/0.625)) = (3 ln 2 + ln 0.4) / 4
    # normalised by B*H*W = 1*2*2 = 4.
    pred = torch.tensor([[[[0.0, 0.0], [0.0, math.log(5.0)]]]])
    target = torch.zeros(1, 1, 2, 2)
    expected = (3 * math.log(2.0) + math.log(0.4)) / 4 / 4
    assert expected == pytest.approx(0.0726971, abs=1e-6)
    loss = PixelKLDivLoss()(pred, target, torch.ones(1, 1))
    assert loss.dim() == 0 and loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # loss_weight is a plain multiplier
    loss3 = PixelKLDivLoss(loss_weight=3.0)(pred, target, torch.ones(1, 1))
    assert loss3.item() == pytest.approx(3 * expected, rel=1e-6)
    # direction: KL(target || pred), not KL(pred || target)
    reverse = (1 / 8 * 3 * math.log(0.125 / 0.25) + 5 / 8 * math.log(0.625 / 0.25)) / 4
    assert PixelKLDivLoss()(target, pred).item() == pytest.approx(reverse, rel=1e-6)
    assert abs(reverse - expected) > 1e-3


@pytest.mark.parametrize('temperature', [1.0, 2.0, 0.5])
@pytest.mark.parametrize('weight_kind', ['none', 'binary', 'fractional'])
def test_matches_reference_on_random_maps(temperature, weight_kind):
    g = torch.Generator().manual_seed(0)
    B, K, H, W = 3, 4, 6, 5
    pred = torch.randn(B, K, H, W, generator=g) * 3
    target = torch.randn(B, K, H, W, generator=g) * 3
    if weight_kind == 'none':
        weights = None
    elif weight_kind == 'binary':
        weights = (torch.rand(B, K, generator=g) > 0.3).float()
    else:
        weights = torch.rand(B, K, generator=g) * 2
    loss = PixelKLDivLoss(temperature=temperature, loss_weight=0.7)(pred, target, weights)
    ref = reference_loss(pred.numpy(), target.numpy(),
                         None if weights is None else weights.numpy(), temperature, 0.7)
    assert loss.item() == pytest.approx(ref, rel=1e-5, abs=1e-7)


def test_kl_of_identical_maps_is_zero():
    x = torch.randn(2, 5, 8, 8) * 4
    w = torch.rand(2, 5)
    for t in (1.0, 3.0):
        assert PixelKLDivLoss(temperature=t)(x, x.clone(), w).abs().item() < 1e-6
    # also large constant offsets per map (softmax is shift invariant)
    assert PixelKLDivLoss()(x, x + 7.0).abs().item() < 1e-5


def test_masking_zero_weight():
    g = torch.Generator().manual_seed(1)
    B, K, H, W = 2, 3, 4, 4
    pred = torch.randn(B, K, H, W, generator=g, requires_grad=True)
    target = torch.randn(B, K, H, W, generator=g, requires_grad=True)
    w = torch.ones(B, K)
    w[0, 1] = 0.0
    w[1, 2] = 0.0
    loss_fn = PixelKLDivLoss()
    loss = loss_fn(pred, target, w)

    # same as summing the per-joint KL of the visible joints only, normaliser still B*H*W
    per_joint = torch.zeros(B, K)
    for b in range(B):
        for k in range(K):
            per_joint[b, k] = loss_fn(pred[b:b + 1, k:k + 1], target[b:b + 1, k:k + 1]) * H * W
    expected = (per_joint * w).sum() / (B * H * W)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

    # changing a masked joint's maps does not change the loss
    pred2 = pred.detach().clone()
    target2 = target.detach().clone()
    pred2[0, 1] = torch.randn(H, W) * 100
    target2[1, 2] = torch.randn(H, W) * 100
    assert loss_fn(pred2, target2, w).item() == pytest.approx(loss.item(), rel=1e-6)

    # masked joints get exactly zero gradient, visible ones not
    loss.backward()
    assert torch.all(pred.grad[0, 1] == 0) and torch.all(target.grad[0, 1] == 0)
    assert torch.all(pred.grad[1, 2] == 0) and torch.all(target.grad[1, 2] == 0)
    assert pred.grad[0, 0].abs().sum() > 0 and target.grad[0, 0].abs().sum() > 0


def test_use_target_weight_false_and_none_weights():
    x, y = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    w = torch.zeros(2, 3)
    unmasked = PixelKLDivLoss()(x, y, torch.ones(2, 3))
    assert PixelKLDivLoss(use_target_weight=False)(x, y, w).item() == \
        pytest.approx(unmasked.item(), rel=1e-6)
    assert PixelKLDivLoss()(x, y).item() == pytest.approx(unmasked.item(), rel=1e-6)
    # (B, K, 1) / (B, K, 1, 1) shaped weights are accepted
    w2 = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    base = PixelKLDivLoss()(x, y, w2)
    assert PixelKLDivLoss()(x, y, w2[..., None, None]).item() == pytest.approx(base.item())


def test_all_zero_weights_returns_zero_with_finite_grads():
    pred = (torch.randn(2, 3, 8, 8) * 1e4).requires_grad_()
    target = (torch.randn(2, 3, 8, 8) * 1e4).requires_grad_()
    loss = PixelKLDivLoss(temperature=2.0)(pred, target, torch.zeros(2, 3))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(pred.grad).all() and torch.isfinite(target.grad).all()
    assert pred.grad.abs().sum() == 0 and target.grad.abs().sum() == 0


def test_temperature_scaling():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(2, 3, 5, 5, generator=g) * 5, torch.randn(2, 3, 5, 5, generator=g) * 5
    w = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    T = 4.0
    loss_t = PixelKLDivLoss(temperature=T)(x, y, w)
    # L_T(x, y) = T^2 * L_1(x / T, y / T)
    expected = T**2 * PixelKLDivLoss()(x / T, y / T, w)
    assert loss_t.item() == pytest.approx(expected.item(), rel=1e-5)
    assert abs(loss_t.item() - PixelKLDivLoss()(x, y, w).item()) > 1e-3
    with pytest.raises(ValueError, match='temperature'):
        PixelKLDivLoss(temperature=0.0)


@pytest.mark.parametrize('detach', [False, True])
def test_detach_target_gradient(detach):
    pred = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = PixelKLDivLoss(detach_target=detach)(pred, target, torch.ones(2, 3))
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    if detach:
        assert target.grad is None
    else:
        assert target.grad is not None and target.grad.abs().sum() > 0


def test_gradient_matches_autograd_of_reference_formula():
    pred = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    w = torch.tensor([[1.0, 0.5], [2.0, 1.0]])
    loss = PixelKLDivLoss(temperature=1.5)(pred, target, w)
    (g,) = torch.autograd.grad(loss, pred)
    # analytic: dL/dx = T^2/(BHW) * (Q - P) * v / T
    v = w.double()[..., None, None]
    q = torch.softmax((v * pred / 1.5).flatten(2), -1).view_as(pred)
    p = torch.softmax((v * target / 1.5).flatten(2), -1).view_as(pred)
    expected = 1.5**2 / (2 * 9) * (q - p) * v / 1.5
    torch.testing.assert_close(g.double(), expected.detach(), rtol=1e-5, atol=1e-7)


def test_bf16_autocast_cpu_finite_and_close_to_fp32():
    g = torch.Generator().manual_seed(3)
    conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    feat = torch.randn(2, 4, 16, 16, generator=g)
    target = torch.randn(2, 4, 16, 16, generator=g) * 2
    w = torch.tensor([[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0]])
    loss_fn = PixelKLDivLoss(temperature=2.0)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pred_bf16 = conv(feat)
        assert pred_bf16.dtype == torch.bfloat16
        loss_bf16 = loss_fn(pred_bf16, target.bfloat16(), w)
    assert loss_bf16.dtype == torch.float32
    loss_bf16.backward()
    assert torch.isfinite(loss_bf16)
    assert all(torch.isfinite(p.grad).all() for p in conv.parameters())
    loss_fp32 = loss_fn(conv(feat), target, w)
    # bf16 has ~3 significant digits; the loss itself is computed in float32
    assert loss_bf16.item() == pytest.approx(loss_fp32.item(), rel=3e-2)
    # on identical (bf16-rounded) inputs the result equals the float32 computation
    exact = loss_fn(pred_bf16.detach().float(), target.bfloat16().float(), w)
    assert loss_bf16.item() == pytest.approx(exact.item(), rel=1e-6)


def test_fp16_inputs_finite():
    x = (torch.randn(2, 3, 8, 8) * 50).half().requires_grad_()
    y = (torch.randn(2, 3, 8, 8) * 50).half()
    loss = PixelKLDivLoss()(x, y, torch.ones(2, 3))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    ref = reference_loss(x.detach().float().numpy(), y.float().numpy())
    assert loss.item() == pytest.approx(ref, rel=1e-4)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16])
def test_saturated_logits(dtype):
    B, K, H, W = 2, 2, 8, 8
    pred = torch.zeros(B, K, H, W)
    target = torch.zeros(B, K, H, W)
    pred[..., 1, 1] = 1e4  # student peak
    target[..., 5, 6] = 1e4  # teacher peak elsewhere -> KL ~ 1e4 per joint
    target[1, 1, 1, 1] = 1e4  # one joint where both peak at the same pixel too
    pred = pred.to(dtype).requires_grad_()
    target = target.to(dtype).requires_grad_()
    loss = PixelKLDivLoss()(pred, target, torch.ones(B, K))
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(pred.grad).all() and torch.isfinite(target.grad).all()
    ref = reference_loss(pred.detach().float().numpy(), target.detach().float().numpy())
    assert loss.item() == pytest.approx(ref, rel=1e-4)
    # 3 joints: P one-hot away from Q's peak -> KL = peak; joint (1, 1): P = (1/2, 1/2) on
    # both peaks -> KL = 1/2 (log 1/2 + peak) + 1/2 log 1/2 = peak / 2 - log 2
    peak = pred.detach()[0, 0, 1, 1].float().item()  # 1e4 rounded to dtype
    expected = (3 * peak + peak / 2 - math.log(2)) / (B * H * W)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_shape_errors_and_registry():
    loss_fn = MODELS.build(dict(type='PixelKLDivLoss', temperature=2.0, detach_target=True,
                                loss_weight=2.0))
    assert isinstance(loss_fn, PixelKLDivLoss)
    assert loss_fn.temperature == 2.0 and loss_fn.detach_target and loss_fn.loss_weight == 2.0
    with pytest.raises(ValueError, match='same shape'):
        loss_fn(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r'\(B, K\) = \(1, 2\)'):
        loss_fn(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.ones(1, 3))


# ------------------------------------------------------------------------- saturated, autocast
@pytest.mark.usefixtures('one_thread', 'torch_seed0')
@pytest.mark.parametrize('temperature', [1.0, 2.0])
@pytest.mark.parametrize('mode', ['fp32', 'bf16_inputs', 'autocast', 'autocast_bf16_inputs'])
@pytest.mark.parametrize('background', [0.0, -SATURATED], ids=['peak+1e4', 'background-1e4'])
def test_pixel_kl_saturated_equals_closed_form(temperature, mode, background):
    """One-pixel peaks at different places: KL = peak height / T * T^2 per visible keypoint
    (terms of order exp(-1e4) vanish); softmax is shift-invariant, so a -1e4 background
    with a 0 peak is the same distribution."""
    B, K, H, W = 2, 3, 8, 8
    peak = SATURATED + background
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


@pytest.mark.usefixtures('one_thread', 'torch_seed0')
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
