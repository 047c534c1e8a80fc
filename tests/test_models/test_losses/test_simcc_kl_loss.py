"""SimCCKLDivLoss against a hand-written float64 reference (invisible keypoints included)."""
from __future__ import annotations

import pytest
import torch

from okdhp_mm.models.losses import SimCCKLDivLoss


def reference(s, t, w, beta, use_weight):
    """KL(softmax(beta t) || softmax(beta s)) per keypoint over bins, x + y, weighted, summed
    over keypoints, averaged over the batch, divided by K -- in float64, loop by loop."""
    (sx, sy), (tx, ty) = s, t
    n, k = sx.shape[:2]
    total = 0.0
    for b in range(n):
        for j in range(k):
            kl = 0.0
            for sv, tv in ((sx[b, j], tx[b, j]), (sy[b, j], ty[b, j])):
                p = torch.softmax(tv.double() * beta, 0)
                q = torch.softmax(sv.double() * beta, 0)
                kl += float((p * (p.log() - q.log())).sum())
            total += kl * (float(w[b, j]) if use_weight else 1.0)
    return total / (n * k)


@pytest.mark.parametrize('use_weight', [False, True])
@pytest.mark.parametrize('beta', [1.0, 10.0])
def test_matches_the_float64_reference(beta, use_weight):
    torch.manual_seed(0)
    n, k = 3, 5
    s = (torch.randn(n, k, 24), torch.randn(n, k, 32))
    t = (torch.randn(n, k, 24), torch.randn(n, k, 32))
    w = torch.ones(n, k)
    w[0, 1] = w[2, 4] = 0.  # invisible keypoints: counted (DWPose) or dropped (weights)
    w[1, 2] = 0.5
    got = SimCCKLDivLoss(beta=beta, use_target_weight=use_weight)(s, t, w)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(reference(s, t, w, beta, use_weight), abs=1e-6, rel=1e-6)


def test_weight_identical_maps_gradient_and_errors():
    torch.manual_seed(1)
    s = tuple(torch.randn(2, 3, 8, requires_grad=True) for _ in range(2))
    loss = SimCCKLDivLoss(loss_weight=2.0)
    assert loss(s, tuple(v.detach() for v in s)).item() == pytest.approx(0.0, abs=1e-6)
    t = tuple(torch.randn(2, 3, 8, requires_grad=True) for _ in range(2))
    out = loss(s, t)
    out.backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in s + t)  # not detached
    detached = SimCCKLDivLoss(detach_target=True)
    t2 = tuple(torch.randn(2, 3, 8, requires_grad=True) for _ in range(2))
    detached(s, t2).backward()
    assert all(v.grad is None for v in t2)
    with pytest.raises(ValueError, match=r'\(N, K, bins\) pairs of the same shape'):
        loss((s[0], s[1]), (t[0], t[1][:, :, :4]))
    with pytest.raises(ValueError, match='beta must be > 0'):
        SimCCKLDivLoss(beta=0)


def test_bf16_autocast_computes_in_float32():
    torch.manual_seed(2)
    s = (torch.randn(2, 4, 16), torch.randn(2, 4, 16))
    t = (torch.randn(2, 4, 16), torch.randn(2, 4, 16))
    ref = SimCCKLDivLoss()(s, t)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = SimCCKLDivLoss()(tuple(v.bfloat16() for v in s), tuple(v.bfloat16() for v in t))
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(ref.item(), rel=5e-2)
