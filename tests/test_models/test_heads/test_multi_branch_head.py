"""MultiBranchHead: KD ramp, per-branch losses and gradients, FAU ensemble, predict (flip
test, every output, one branch only), branch and keypoint-count checks, totals under bf16
autocast and with saturated heatmaps."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmpose.registry import MODELS

from helpers.builders import (SATURATED, coco_batch, peaked, randomize_weights,
                              tiny_hourglass_okdhp, tiny_mobile_okdhp)
from helpers.references import kl_ref64
from okdhp_mm.models.heads.multi_branch_base import kd_ramp_weight

pytestmark = pytest.mark.usefixtures('torch_seed0')


@pytest.fixture
def kd_epoch():
    """KD weight 1 (epoch past the ramp) for the duration of a test."""
    hub = MessageHub.get_current_instance()
    before = hub.get_info('epoch', 0)
    hub.update_info('epoch', 1000)
    yield
    hub.update_info('epoch', before)


# ---------------------------------------------------------------- ramp
@pytest.mark.parametrize('epoch, expected', [(0, math.exp(-5)), (45, math.exp(-1.25)),
                                             (90, 1.0), (120, 1.0)])
def test_kd_ramp_matches_released_schedule(epoch, expected):
    assert kd_ramp_weight(epoch, 90) == pytest.approx(expected, rel=1e-12)


def test_head_reads_the_epoch_from_the_message_hub():
    model = MODELS.build(tiny_mobile_okdhp())
    hub = MessageHub.get_current_instance()
    for epoch, expected in [(0, 0.006737947), (45, 0.286504797), (90, 1.0)]:
        hub.update_info('epoch', epoch)
        assert model.head.current_kd_weight() == pytest.approx(expected, rel=1e-6)
    hub.update_info('epoch', 0)


# ---------------------------------------------------------------- losses and gradients
def test_losses_are_logged_per_branch_and_gradients_reach_every_final_head(samples):
    model = MODELS.build(tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 2, 1)))
    model.train()
    MessageHub.get_current_instance().update_info('epoch', 90)
    batch = coco_batch(samples, model)
    losses = model(**batch, mode='loss')
    for key in ['loss_gt_shared', 'loss_kd_shared', 'loss_gt_ens', 'kd_weight'] + [
            f'{k}_b{t}' for t in range(3) for k in ('loss_gt', 'loss_kd', 'acc_pose')]:
        assert key in losses, key
    assert losses['kd_weight'].item() == pytest.approx(1.0)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for t, head in enumerate(model.head.branch_heads):
        final = head.multi_final_layers[-1].weight.grad
        assert final is not None and final.abs().sum() > 0, f'branch {t} final head got no grad'
    for p in model.head.fau.parameters():
        assert p.grad is not None
    MessageHub.get_current_instance().update_info('epoch', 0)


@pytest.mark.parametrize('detach_ensemble', [False, True])
def test_kd_terms_alone_reach_the_fau_unless_the_ensemble_is_detached(samples, kd_epoch,
                                                                    detach_ensemble):
    """The KD terms distil each branch (and the shared stack) towards the FAU ensemble. As in
    the released code the ensemble target is not detached, so the KD terms alone train the FAU
    too; ``detach_ensemble=True`` stops exactly that. Either way they reach every branch's
    final layer."""
    cfg = tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 2, 1))
    cfg['head']['detach_ensemble'] = detach_ensemble
    model = MODELS.build(cfg)
    model.train()
    losses = model(**coco_batch(samples, model), mode='loss')
    kd = sorted(k for k in losses if k.startswith('loss_kd_'))
    assert kd == ['loss_kd_b0', 'loss_kd_b1', 'loss_kd_b2', 'loss_kd_shared']
    assert losses['kd_weight'].item() == pytest.approx(1.0)
    sum(losses[k] for k in kd).backward()
    for t, head in enumerate(model.head.branch_heads):
        final = head.multi_final_layers[-1].weight.grad
        assert final is not None and final.abs().sum() > 0, f'branch {t} final head got no grad'
    fau = dict(model.head.fau.named_parameters())
    if detach_ensemble:
        assert all(p.grad is None or not p.grad.any() for p in fau.values()), [
            n for n, p in fau.items() if p.grad is not None and p.grad.any()]
    else:
        for name, p in fau.items():
            assert p.grad is not None and p.grad.abs().sum() > 0, f'FAU {name} got no KD grad'


def test_ensemble_uses_every_branch_final_heatmap(samples):
    """ens = Σ_t a_t m_t over the *final* maps (the released code mixed in an intermediate)."""
    model = randomize_weights(MODELS.build(tiny_hourglass_okdhp(n0=1, branch_stacks=(2, 2, 2))))
    model.eval()
    batch = coco_batch(samples, model)
    with torch.no_grad():
        feats = model.extract_feat(batch['inputs'])
        outputs = model.head.forward(feats)
        finals = [outputs[f'branch{t}'][-1] for t in range(3)]
        weights = model.head.fau.compute_weights(feats.fau_input)  # (B, T, K)
    torch.testing.assert_close(weights.sum(1), torch.ones_like(weights.sum(1)))
    manual = sum(weights[:, t, :, None, None] * finals[t] for t in range(3))
    torch.testing.assert_close(outputs['ensemble'][0], manual)
    assert len(outputs['shared']) == 1 and all(len(outputs[f'branch{t}']) == 2 for t in range(3))


def test_kd_term_follows_the_ramp(samples):
    model = MODELS.build(tiny_mobile_okdhp())
    model.train()
    batch = coco_batch(samples, model)
    hub = MessageHub.get_current_instance()
    values = {}
    for epoch in (0, 90):
        hub.update_info('epoch', epoch)
        torch.manual_seed(0)
        with torch.no_grad():
            values[epoch] = model(**batch, mode='loss')
    hub.update_info('epoch', 0)
    for t in range(3):
        ratio = values[0][f'loss_kd_b{t}'] / values[90][f'loss_kd_b{t}']
        assert ratio.item() == pytest.approx(math.exp(-5), rel=1e-4)
        torch.testing.assert_close(values[0][f'loss_gt_b{t}'], values[90][f'loss_gt_b{t}'])


def test_batch_without_any_visible_keypoint_gives_zero_finite_losses(samples):
    """All keypoint weights 0 (no visible keypoint, or all outside the crop)."""
    model = MODELS.build(tiny_hourglass_okdhp())
    model.train()
    batch = coco_batch(samples, model, input_size=(32, 32), heatmap_size=(8, 8), n=2)
    for sample in batch['data_samples']:
        sample.gt_instance_labels.keypoint_weights = torch.zeros_like(
            sample.gt_instance_labels.keypoint_weights)
    hub = MessageHub.get_current_instance()
    epoch = hub.get_info('epoch', 0)
    hub.update_info('epoch', 90)
    try:
        losses = model(**copy.copy(batch), mode='loss')
    finally:
        hub.update_info('epoch', epoch)
    for key, value in losses.items():
        assert torch.isfinite(value).all(), key
        if key.startswith('loss'):
            assert value.item() == 0.0, key
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


# ---------------------------------------------------------------- predict
def test_flip_test_averages_with_the_flipped_and_shifted_heatmaps(samples):
    """Flip test = mean of the heatmap and MMPose's flip_heatmaps of the mirrored input."""
    from mmpose.models.utils.tta import flip_heatmaps

    model = randomize_weights(MODELS.build(tiny_mobile_okdhp(flip_test=True))).eval()
    batch = coco_batch(samples, model, train=False, n=2)
    model.test_cfg.update(branch=1, output_heatmaps=True)
    with torch.no_grad():
        out = model(**batch, mode='predict')
        x = batch['inputs']
        h = model.head.branch_outputs(model.extract_feat(x), 1)[-1]
        hf = model.head.branch_outputs(model.extract_feat(x.flip(-1)), 1)[-1]
    flip_idx = batch['data_samples'][0].metainfo['flip_indices']
    expected = 0.5 * (h + flip_heatmaps(hf, flip_indices=flip_idx, shift_heatmap=True))
    for i, sample in enumerate(out):
        torch.testing.assert_close(sample.pred_fields.heatmaps, expected[i])
    # and it differs from the plain forward, so the flip path really ran
    assert not torch.allclose(expected, h)


def test_output_all_matches_each_single_output(samples):
    model = randomize_weights(MODELS.build(tiny_mobile_okdhp())).eval()
    model.test_cfg.update(output_all=True, branch=2)
    with torch.no_grad():
        allout = model(**coco_batch(samples, model, train=False), mode='predict')
    ok = np.stack([s.pred_instances.output_keypoints for s in allout])
    assert ok.shape == (4, 1, 4, 17, 2)  # samples, instances, outputs (3 + ensemble), K, xy
    np.testing.assert_array_equal(ok[:, :, 2], np.stack([s.pred_instances.keypoints
                                                         for s in allout]))
    model.test_cfg.update(output_all=False)
    for choice, o in [(0, 0), ('ensemble', 3)]:
        model.test_cfg['branch'] = choice
        with torch.no_grad():
            single = model(**coco_batch(samples, model, train=False), mode='predict')
        np.testing.assert_allclose(
            ok[:, :, o], np.stack([s.pred_instances.keypoints for s in single]), atol=1e-5)


def test_predicting_one_branch_computes_only_that_branch(samples, monkeypatch):
    model = MODELS.build(tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 1, 1))).eval()
    model.test_cfg['branch'] = 1
    calls = []
    for t in (0, 2):
        monkeypatch.setattr(model.backbone.branches[t], 'forward',
                            lambda *a, t=t: calls.append(t))
    monkeypatch.setattr(model.head.fau, 'forward', lambda *a: calls.append('fau'))
    with torch.no_grad():
        model(**coco_batch(samples, model, train=False, n=1), mode='predict')
    assert calls == []


# ---------------------------------------------------------------- configuration errors
def test_bad_branch_choice_names_the_value(samples):
    model = MODELS.build(tiny_mobile_okdhp()).eval()
    model.test_cfg['branch'] = 3
    with pytest.raises(ValueError, match=r"branch=3 .* 0\.\.2 or 'ensemble'"):
        model(**coco_batch(samples, model, train=False, n=1), mode='predict')
    with pytest.raises(ValueError, match=r'branch=5 is not a branch of this model '
                                         r'\(3 branches\): use 0\.\.2$'):
        model.export_student(5)


@pytest.mark.parametrize('branch, shown', [(3, '3'), (-1, '-1'), ('ens', "'ens'"),
                                           ('7', '7')])
def test_branch_out_of_range_fails_at_build(branch, shown):
    cfg = tiny_mobile_okdhp()
    cfg['test_cfg']['branch'] = branch
    with pytest.raises(ValueError, match=rf"test_cfg\.branch={shown} is not a branch of "
                                         r"this model \(3 branches\): use 0\.\.2 or 'ensemble'"):
        MODELS.build(cfg)


@pytest.mark.parametrize('branch', [0, 2, '1', 'ensemble'])
def test_valid_branch_choices_build(branch):
    cfg = tiny_mobile_okdhp()
    cfg['test_cfg']['branch'] = branch
    MODELS.build(cfg)


def test_branches_with_different_keypoints_are_refused():
    cfg = tiny_mobile_okdhp()
    branch = cfg['head'].pop('branches')
    cfg['head'].pop('num_branches')
    cfg['head']['branches'] = [branch, dict(branch, out_channels=16), branch]
    with pytest.raises(ValueError, match=r'different keypoint counts \[17, 16, 17\]'):
        MODELS.build(cfg)


def test_shared_hourglass_head_with_other_keypoint_count_is_refused():
    cfg = tiny_hourglass_okdhp()
    cfg['head']['shared_head']['out_channels'] = 16
    with pytest.raises(ValueError, match=r'different keypoint counts \[17, 17, 17, 16\] '
                                         r'\(out_channels, last one the shared head'):
        MODELS.build(cfg)


def test_init_weights_reaches_every_branch_head():
    """Each branch head gets its own init_cfg (MMPose heads: Normal std 0.001), like a plain
    model."""
    model = MODELS.build(tiny_mobile_okdhp())
    model.init_weights()
    for head in model.head.branch_heads:
        std = head.final_layer.weight.std().item()
        assert std == pytest.approx(0.001, rel=0.2), std


# ---------------------------------------------------------------- numerics
def _builders():
    return [pytest.param(lambda: (tiny_mobile_okdhp(), (64, 64), (16, 16)), id='mobile'),
            pytest.param(lambda: (tiny_hourglass_okdhp(), (32, 32), (8, 8)), id='hourglass')]


@pytest.mark.usefixtures('one_thread')
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
    # MultiBranchHead's default ensemble loss carries the released JointsMSELoss's 0.5.
    ref['loss_gt_ens'] = 0.5 * ((ens.double() - gt.double())**2 * w).mean()
    return ref


@pytest.mark.usefixtures('one_thread')
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
        background = -SATURATED if t == 2 else 0.0
        m, _ = peaked(B, K, H, W, SATURATED + background, background, seed=10 + t)
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
