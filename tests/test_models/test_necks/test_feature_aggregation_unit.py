"""Tests of the OKDHP Feature Aggregation Unit."""
import re

import pytest
import torch

from mmpose.registry import MODELS
from okdhp_mm.models.necks.feature_aggregation_unit import FeatureAggregationUnit

MODES = ['official', 'light', 'paper']
C, T, K = 16, 3, 4


def build(mode, **kwargs):
    cfg = dict(type='FeatureAggregationUnit', in_channels=C, num_branches=T, num_keypoints=K,
               mode=mode)
    if mode == 'light':
        cfg.setdefault('reduce_channels', 8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def inputs(B=2, H=8, W=8, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    feature = torch.randn(B, C, 16, 16, generator=g)
    heatmaps = [torch.randn(B, K, H, W, generator=g).requires_grad_(requires_grad)
                for _ in range(T)]
    return feature, heatmaps


@pytest.mark.parametrize('mode', MODES)
def test_builds_through_registry_and_shapes(mode):
    fau = build(mode)
    assert isinstance(fau, FeatureAggregationUnit) and fau.mode == mode
    feature, heatmaps = inputs()
    ensemble, weights = fau(feature, heatmaps)
    assert ensemble.shape == (2, K, 8, 8)
    assert weights.shape == (2, T, K)
    assert weights.dtype == torch.float32


@pytest.mark.parametrize('mode', MODES)
def test_ensemble_is_weighted_sum_and_weights_sum_to_one(mode):
    fau = build(mode).eval()
    feature, heatmaps = inputs(seed=1)
    ensemble, weights = fau(feature, heatmaps)
    assert (weights > 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2, K))
    expected = torch.zeros_like(heatmaps[0])
    for b in range(2):
        for t in range(T):
            for k in range(K):
                expected[b, k] += weights[b, t, k] * heatmaps[t][b, k]
    torch.testing.assert_close(ensemble, expected)
    # weights-only API gives the same weights; they depend on the feature, not the heatmaps
    torch.testing.assert_close(fau.compute_weights(feature), weights)
    _, weights2 = fau(feature, [h * 3 + 1 for h in heatmaps])
    torch.testing.assert_close(weights2, weights)
    # a stacked (B, T, K, H, W) tensor is accepted too
    ens_stacked, _ = fau(feature, torch.stack(heatmaps, dim=1))
    torch.testing.assert_close(ens_stacked, ensemble)
    # static aggregate with explicit weights
    w = torch.softmax(torch.randn(2, T, K), dim=1)
    torch.testing.assert_close(
        FeatureAggregationUnit.aggregate(heatmaps, w),
        sum(w[:, t, :, None, None] * heatmaps[t] for t in range(T)))


@pytest.mark.parametrize('mode', MODES)
def test_gradients_reach_every_branch_and_parameters(mode):
    fau = build(mode).train()
    feature, heatmaps = inputs(seed=2, requires_grad=True)
    feature.requires_grad_(True)
    ensemble, weights = fau(feature, heatmaps)
    probe = torch.randn_like(ensemble)
    (ensemble * probe).sum().backward()
    # every branch's final heatmap (incl. branch 0, which the released code skipped) gets grad
    for t, hm in enumerate(heatmaps):
        assert hm.grad is not None and hm.grad.abs().sum() > 0, f'branch {t} got no gradient'
    assert feature.grad is not None and feature.grad.abs().sum() > 0
    for name, p in fau.named_parameters():
        assert p.grad is not None, f'{name} got no gradient'
        assert torch.isfinite(p.grad).all(), name
        # a conv bias directly followed by train-mode BN has an (analytically) zero gradient
        if not (mode == 'official' and re.fullmatch(r'convs\.\d+\.0\.bias', name)):
            assert p.grad.abs().sum() > 0, f'{name} got zero gradient'


def test_official_structure_matches_released_fau():
    fau = FeatureAggregationUnit(256, 3, 16)
    keys = set(fau.state_dict())
    # parameter names of the released module (convs.i = Conv2d, BN, ReLU; fc; fcs.t)
    for i, k in enumerate((3, 5, 7)):
        conv = fau.convs[i][0]
        assert conv.kernel_size == (k, k) and conv.padding == (k // 2, k // 2)
        assert conv.bias is not None and conv.in_channels == conv.out_channels == 256
        assert {f'convs.{i}.0.weight', f'convs.{i}.0.bias', f'convs.{i}.1.weight',
                f'convs.{i}.1.running_mean'} <= keys
    assert fau.fc.in_features == 256 and fau.fc.out_features == 64
    assert all(fc.in_features == 64 and fc.out_features == 16 for fc in fau.fcs)
    assert fau.reduce is None and fau.pool_conv is None
    n_params = sum(p.numel() for p in fau.parameters())
    assert n_params == 5_461_360  # okdhp.md 1.8: 5.46 M


def test_paper_mode_batch_one_trains_and_paths():
    fau = build('paper')
    assert len(fau.convs) == 3 and fau.pool_conv is not None
    assert fau.fc.in_features == 4 * C and fau.fc.out_features == T * K
    feature, heatmaps = inputs(B=1)
    ensemble, weights = fau.train()(feature, heatmaps)
    ensemble.sum().backward()
    assert weights.shape == (1, T, K)
    no_pool = build('paper', with_pool_path=False)
    assert no_pool.pool_conv is None and no_pool.fc.in_features == 3 * C
    no_pool(*inputs())


def test_light_mode_is_depthwise_and_reduced():
    fau = FeatureAggregationUnit(256, 3, 16, mode='light')
    assert fau.reduce_channels == 64
    assert fau.reduce[0].out_channels == 64
    for conv_path in fau.convs:
        assert conv_path[0].groups == 64
    n_params = sum(p.numel() for p in fau.parameters())
    assert n_params < 0.02 * 5_461_360


def test_flops_light_well_under_official():
    from mmengine.analysis import FlopAnalyzer
    feature = torch.randn(1, 256, 16, 16)
    heatmaps = [torch.randn(1, 16, 16, 16) for _ in range(3)]
    flops = {}
    for mode in MODES:
        fau = FeatureAggregationUnit(256, 3, 16, mode=mode).eval()
        flops[mode] = FlopAnalyzer(fau, (feature, heatmaps)).total()
    # official: 256*256*(9+25+49) MACs per pixel for the three convs
    assert flops['official'] >= 256 * 256 * 83 * 16 * 16
    assert flops['light'] < 0.05 * flops['official']
    assert flops['paper'] > flops['official']


def test_bf16_autocast_cpu():
    fau = build('official')
    feature, heatmaps = inputs()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        ensemble, weights = fau(feature, [h.bfloat16() for h in heatmaps])
    assert weights.dtype == torch.float32
    assert torch.isfinite(ensemble).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(2, K))


def test_error_messages():
    fau = build('official')
    feature, heatmaps = inputs()
    with pytest.raises(ValueError, match=r'got 2 branch heatmaps but num_branches=3'):
        fau(feature, heatmaps[:2])
    with pytest.raises(ValueError, match=r'got 4 branch heatmaps but num_branches=3'):
        fau(feature, heatmaps + heatmaps[:1])
    bad_k = heatmaps[:2] + [torch.zeros(2, K + 1, 8, 8)]
    with pytest.raises(ValueError,
                       match=rf'branch_heatmaps\[2\] has {K + 1} keypoint channels .* '
                       rf'num_keypoints={K}'):
        fau(feature, bad_k)
    with pytest.raises(ValueError, match=rf'feature has 8 channels .* in_channels={C}'):
        fau(torch.zeros(2, 8, 16, 16), heatmaps)
    with pytest.raises(ValueError, match=rf'feature has 8 channels .* in_channels={C}'):
        fau.compute_weights(torch.zeros(2, 8, 16, 16))
    with pytest.raises(ValueError, match=r'4-D tensor'):
        fau(torch.zeros(2, C, 16), heatmaps)
    with pytest.raises(ValueError, match=r'branch_heatmaps\[1\] has shape'):
        fau(feature, [heatmaps[0], torch.zeros(2, K, 4, 4), heatmaps[2]])
    with pytest.raises(ValueError, match=r'batch size 1 does not match'):
        fau(feature[:1], heatmaps)
    with pytest.raises(TypeError, match='list of num_branches=3'):
        fau(feature, {'a': heatmaps[0]})
    with pytest.raises(ValueError, match='mode must be one of'):
        build('sk')
    with pytest.raises(ValueError, match='kernel_sizes'):
        build('official', kernel_sizes=(3, 4))
