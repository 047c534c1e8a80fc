"""The released stacked hourglass: sizes pinned to the reference count, arithmetic, errors."""
from __future__ import annotations

import pytest
import torch
from mmpose.registry import MODELS
from torch import nn

from okdhp_mm.models.backbones import MultiBranchStackedHourglassNet, StackedHourglassNet


def conv_macs(model: nn.Module, input_size=(256, 256)) -> int:
    """Multiply-adds of every convolution (no bias additions), counted on the meta device."""
    total = 0

    def hook(mod, args, out):
        nonlocal total
        total += (mod.in_channels // mod.groups) * mod.out_channels * \
            mod.kernel_size[0] * mod.kernel_size[1] * out.shape[-2] * out.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, *input_size, device='meta'))
    for h in handles:
        h.remove()
    return total


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# (stacks, parameters from pytorch-pose's layer definitions, reference M params, G MACs)
SIZES = [(2, 6_730_912, 6.73, 9.0), (4, 13_018_816, 13.02, 15.4), (8, 25_594_624, 25.59, 28.1)]


@pytest.mark.parametrize('stacks, exact, params_m, gmacs', SIZES)
def test_size_is_the_papers(stacks, exact, params_m, gmacs):
    with torch.device('meta'):
        net = StackedHourglassNet(num_stacks=stacks, num_keypoints=16)
    assert num_params(net) == exact
    assert num_params(net) / 1e6 == pytest.approx(params_m, rel=5e-3)
    assert conv_macs(net) / 1e9 == pytest.approx(gmacs, rel=5e-3)


def test_every_stack_outputs_heatmaps_and_feeds_them_back():
    torch.manual_seed(0)
    net = StackedHourglassNet(num_stacks=3, num_keypoints=5, num_feats=16, depth=2).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        outs = net(x)
        assert [tuple(o.shape) for o in outs] == [(2, 5, 16, 12)] * 3
        # By hand: stem, then x <- x + fc_(y) + score_(score) between stacks.
        feat = net.stem(x)
        for i, stack in enumerate(net.stacks):
            y = stack.fc(stack.res(stack.hourglass(feat)))
            score = stack.score(y)
            torch.testing.assert_close(score, outs[i], rtol=0, atol=0)
            if i < 2:
                feat = feat + stack.fc_(y) + stack.score_(score)
    assert net.stacks[-1].fc_ is None and net.stacks[-1].score_ is None
    assert all(s.fc_ is not None for s in net.stacks[:-1])


def test_bottleneck_is_pre_activation_with_projection_shortcut():
    from okdhp_mm.models.backbones.stacked_hourglass import PreActBottleneck

    torch.manual_seed(0)
    block = PreActBottleneck(8, 8).eval()  # 8 -> 16 channels: 1x1 projection shortcut
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        out = block.conv1(torch.relu(block.bn1(x)))
        out = block.conv2(torch.relu(block.bn2(out)))
        out = block.conv3(torch.relu(block.bn3(out)))
        torch.testing.assert_close(block(x), out + block.downsample(x))
    assert PreActBottleneck(16, 8).downsample is None


@pytest.mark.parametrize('kwargs, bad', [(dict(num_stacks=0), 'num_stacks=0'),
                                         (dict(num_feats=255), 'num_feats=255'),
                                         (dict(depth=-1), 'depth=-1')])
def test_bad_arguments_name_the_value(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        StackedHourglassNet(**kwargs)


def test_multi_branch_training_network_is_the_papers():
    """MPII 2 + 3x2 with the official FAU: 30.92 M parameters, 5.46 M of them the FAU."""
    with torch.device('meta'):
        net = MultiBranchStackedHourglassNet(2, (2, 2, 2), num_keypoints=16)
        fau = MODELS.build(dict(type='FeatureAggregationUnit', in_channels=256, mode='official',
                                num_branches=3, num_keypoints=16))
    assert net.fau_channels == 256 and net.num_branches == 3
    assert (num_params(net) + num_params(fau)) / 1e6 == pytest.approx(30.92, rel=1e-2)
    assert num_params(fau) / 1e6 == pytest.approx(5.46, rel=1e-2)


@pytest.mark.parametrize('n0, branch_stacks, index', [(1, (1, 2, 3), 2), (2, (1, 1), 0)])
def test_each_branch_is_exactly_a_stacked_hourglass(n0, branch_stacks, index):
    torch.manual_seed(0)
    small = dict(num_keypoints=4, num_feats=16, depth=2)
    net = MultiBranchStackedHourglassNet(n0, branch_stacks, **small).eval()
    cfg, state = net.export_branch(index)
    assert cfg == dict(type='StackedHourglassNet', num_stacks=n0 + branch_stacks[index], **small,
                       num_blocks=1)
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = net(x)
        expected = list(plain(x))
        got = feats.shared + feats.branch(index)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert feats.fau_input.shape == (2, 16, 8, 8)  # the stem feature
