"""OKDHP multi-branch networks: layout, export mapping, losses, gradients, predict, flip test."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import okdhp_mm  # noqa: F401
from mmengine.logging import MessageHub
from mmpose.models.backbones import HourglassNet
from mmpose.registry import MODELS

from okdhp_builders import TINY_HG, coco_batch, tiny_hourglass_okdhp, tiny_mobile_okdhp
from okdhp_mm.models.heads.multi_branch_head import kd_ramp_weight


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomize(model):
    """Non-trivial weights and BN statistics, so equalities below are not 0 == 0."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dtype.is_floating_point:
                if name.endswith('running_var'):
                    p.copy_(torch.rand(p.shape, generator=g) + 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


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


# ---------------------------------------------------------------- backbone layout
@pytest.mark.parametrize('n0, branch_stacks', [(1, (1, 1, 1)), (1, (1, 2, 3))])
def test_each_branch_is_exactly_a_plain_mmpose_hourglass(n0, branch_stacks):
    net = MODELS.build(dict(type='MultiBranchHourglassNet', num_shared_stacks=n0,
                            branch_stacks=branch_stacks, **TINY_HG))
    _randomize(net).eval()
    x = torch.randn(2, 3, 64, 64)
    feats = net(x)
    for t, n_t in enumerate(branch_stacks):
        cfg, state = net.export_branch(t)
        assert cfg['type'] == 'HourglassNet' and cfg['num_stacks'] == n0 + n_t
        plain = HourglassNet(**{k: v for k, v in cfg.items() if k != 'type'})
        plain.load_state_dict(state, strict=True)
        plain.eval()
        expected = plain(x)
        got = feats.shared + feats.branch(t)
        assert len(got) == len(expected) == n0 + n_t
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_branches_share_the_trunk_but_not_their_stacks():
    net = MODELS.build(dict(type='MultiBranchHourglassNet', num_shared_stacks=1,
                            branch_stacks=(1, 1), **TINY_HG))
    params = {id(p) for p in net.parameters()}
    per_branch = [sum(p.numel() for p in b.parameters()) for b in net.branches]
    assert per_branch[0] == per_branch[1] > 0
    assert len(params) == len(list(net.parameters()))  # no parameter registered twice
    assert not {id(p) for p in net.branches[0].parameters()} & {
        id(p) for p in net.branches[1].parameters()}


def test_bad_hourglass_layouts_fail_at_build():
    with pytest.raises(ValueError, match='num_shared_stacks=0'):
        MODELS.build(dict(type='MultiBranchHourglassNet', num_shared_stacks=0, **TINY_HG))
    with pytest.raises(ValueError, match=r'branch_stacks=\(2, 0\)'):
        MODELS.build(dict(type='MultiBranchHourglassNet', branch_stacks=(2, 0), **TINY_HG))


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


def test_ensemble_uses_every_branch_final_heatmap(samples):
    """ens = Σ_t a_t m_t over the *final* maps (the released code mixed in an intermediate)."""
    model = _randomize(MODELS.build(tiny_hourglass_okdhp(n0=1, branch_stacks=(2, 2, 2))))
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
    model = _randomize(MODELS.build(cfg)).eval()
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


def test_flip_test_averages_with_the_flipped_and_shifted_heatmaps(samples):
    """Flip test = mean of the heatmap and MMPose's flip_heatmaps of the mirrored input."""
    from mmpose.models.utils.tta import flip_heatmaps

    model = _randomize(MODELS.build(tiny_mobile_okdhp(flip_test=True))).eval()
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
    model = _randomize(MODELS.build(tiny_mobile_okdhp())).eval()
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
    with pytest.raises(ValueError, match=r'branch=5 is not a branch of this model \(3 branches\): use 0\.\.2$'):
        model.export_student(5)


def test_branches_with_different_keypoints_are_refused():
    cfg = tiny_mobile_okdhp()
    branch = cfg['head'].pop('branches')
    cfg['head'].pop('num_branches')
    cfg['head']['branches'] = [branch, dict(branch, out_channels=16), branch]
    with pytest.raises(ValueError, match=r'different keypoint counts \[17, 16, 17\]'):
        MODELS.build(cfg)


def test_fau_channels_must_match_the_feature_it_reads():
    cfg = tiny_mobile_okdhp()
    cfg['head']['fau']['in_channels'] = 256  # ResNet-18 gives 512
    with pytest.raises(ValueError, match='in_channels=256 .* in_channels=512'):
        MODELS.build(cfg)


def test_init_weights_reaches_every_branch_head():
    """Each branch head gets its own init_cfg (MMPose heads: Normal std 0.001), like a plain model."""
    model = MODELS.build(tiny_mobile_okdhp())
    model.init_weights()
    for head in model.head.branch_heads:
        std = head.final_layer.weight.std().item()
        assert std == pytest.approx(0.001, rel=0.2), std
