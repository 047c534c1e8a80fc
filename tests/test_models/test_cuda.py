"""GPU readiness: every model family and every loss of ours on CUDA matches the CPU, a CUDA
training step never synchronises with the host, and the benchmark runs on CUDA with CUDA
events and CUDA memory statistics.

All tests are marked ``cuda`` and skipped without a GPU (``pytest -m cuda`` runs only them).
Tolerances: TF32 is switched off so that the GPU computes in full float32; losses agree to
1e-4 relative, gradients to 1e-3 of their largest magnitude (cuDNN and the CPU sum in
different orders).
"""
from __future__ import annotations

import copy

import pytest
import torch

from helpers.families import FAMILIES, batch, build

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')]
CUDA = torch.device('cuda')


@pytest.fixture(autouse=True)
def _full_fp32():
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _assert_grads_close(cpu_params, cuda_params):
    assert len(cpu_params) == len(cuda_params)
    for (name, a), (_, b) in zip(cpu_params, cuda_params):
        if a.grad is None:
            assert b.grad is None, name
            continue
        scale = max(a.grad.abs().max().item(), 1e-12)
        err = (a.grad - b.grad.cpu()).abs().max().item()
        assert err <= 1e-3 * scale, f'{name}: max |cpu - cuda| grad {err:.3g} (scale {scale:.3g})'


@pytest.mark.parametrize('family', list(FAMILIES))
def test_forward_backward_on_cuda_matches_cpu(family):
    model, codec = build(family)
    gpu = copy.deepcopy(model).to(CUDA)
    inputs, samples = batch(codec)
    gpu_inputs, gpu_samples = batch(codec, device=CUDA)
    losses = model.loss(inputs, samples)
    gpu_losses = gpu.loss(gpu_inputs, gpu_samples)
    assert set(losses) == set(gpu_losses)
    for key, value in losses.items():
        torch.testing.assert_close(gpu_losses[key].cpu(), value, rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f'{key}: {m}')
    model.parse_losses(losses)[0].backward()
    gpu.parse_losses(gpu_losses)[0].backward()
    _assert_grads_close(list(model.named_parameters()), list(gpu.named_parameters()))
    # Inference outputs (BN in eval mode) of every branch and the ensemble agree too.
    model.eval()
    gpu.eval()
    which = list(range(model.head.num_branches)) + ['ensemble']
    with torch.no_grad():
        cpu_out = model.head.final_outputs(model.extract_feat(inputs), which)
        gpu_out = gpu.head.final_outputs(gpu.extract_feat(gpu_inputs), which)
    for w in which:
        for a, b in _pairs(cpu_out[w], gpu_out[w]):
            scale = max(a.abs().max().item(), 1e-12)
            assert (a - b.cpu()).abs().max().item() <= 1e-4 * scale, w


def _pairs(a, b):
    """Tensor pairs of two outputs (a heatmap, or SimCC's (x, y))."""
    a = (a, ) if isinstance(a, torch.Tensor) else tuple(a)
    b = (b, ) if isinstance(b, torch.Tensor) else tuple(b)
    assert len(a) == len(b)
    return list(zip(a, b))


def _loss_cases():
    from mmpose.registry import MODELS

    g = torch.Generator().manual_seed(0)
    maps = torch.randn(2, 17, 16, 12, generator=g)
    teacher = torch.rand(2, 17, 16, 12, generator=g)
    weights = (torch.rand(2, 17, generator=g) > 0.2).float()
    simcc = (torch.randn(2, 17, 192, generator=g), torch.randn(2, 17, 256, generator=g))
    simcc_t = (torch.randn(2, 17, 192, generator=g), torch.randn(2, 17, 256, generator=g))
    return {
        'PixelKLDivLoss': (MODELS.build(dict(type='PixelKLDivLoss', use_target_weight=True)),
                           (maps, teacher, weights)),
        'HHDLoss': (MODELS.build(dict(type='HHDLoss', loss_weight=0.5)),
                    (maps, teacher, weights)),
        'ODKDHeatmapLoss': (MODELS.build(dict(type='ODKDHeatmapLoss')),
                            (maps, teacher, weights)),
        'SimCCKLDivLoss': (MODELS.build(dict(type='SimCCKLDivLoss', use_target_weight=True)),
                           (simcc, simcc_t, weights)),
    }


def _to(x, device, grad=False):
    if isinstance(x, tuple):
        return tuple(_to(t, device, grad) for t in x)
    x = x.detach().to(device)
    return x.requires_grad_(True) if grad else x


@pytest.mark.parametrize('name', ['PixelKLDivLoss', 'HHDLoss', 'ODKDHeatmapLoss',
                                  'SimCCKLDivLoss'])
def test_every_loss_of_ours_on_cuda_matches_cpu(name):
    loss_fn, (pred, target, weights) = _loss_cases()[name]
    results = {}
    for device in ('cpu', CUDA):
        p = _to(pred, device, grad=True)
        value = loss_fn.to(device)(p, _to(target, device), weights.to(device))
        value.backward()
        grads = [t.grad.cpu() for t in (p if isinstance(p, tuple) else (p, ))]
        results[str(device)] = (value.detach().cpu(), grads)
    (v_cpu, g_cpu), (v_gpu, g_gpu) = results['cpu'], results[str(CUDA)]
    torch.testing.assert_close(v_gpu, v_cpu, rtol=1e-4, atol=1e-6)
    for a, b in zip(g_cpu, g_gpu):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-3 * a.abs().max().item())


@pytest.mark.parametrize('family', list(FAMILIES))
def test_a_cuda_training_step_never_synchronises(family):
    """``torch.cuda.set_sync_debug_mode('error')`` raises at any synchronising call (an
    ``.item()``, a host-to-device copy of host data, a ``nonzero`` ...) inside the step:
    forward loss, ``parse_losses``, backward and Adam step (the data preprocessor's copy of
    the batch to the GPU happens before)."""
    from mmengine.optim import OptimWrapper

    model, codec = build(family)
    model.to(CUDA)
    inputs, samples = batch(codec, device=CUDA)
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    for step in range(2):  # the second step: Adam's state exists
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode('error')
        try:
            loss, log_vars = model.parse_losses(model(inputs, samples, mode='loss'))
            wrapper.update_params(loss)
        finally:
            torch.cuda.set_sync_debug_mode('default')
    assert torch.isfinite(loss).item()
