"""MultiBranchResNet / MultiBranchCSPNeXt initialise every branch as the plain backbone
initialises itself: ResNet's zero_init_residual (done in ResNet.init_weights, not by its
init_cfg) reaches the branches' own stages, so branch t with the trunk starts as the plain
model it exports to."""
from __future__ import annotations

import pytest
import torch

RESNET = dict(depth=18, base_channels=16, out_indices=(3, ))
CSPNEXT = dict(arch='P5', expand_ratio=0.5, deepen_factor=0.167, widen_factor=0.375,
               out_indices=(4, ), channel_attention=True)


def _deterministic(key: str) -> bool:
    """Tensors the plain init sets to constants (norm layers), not random draws."""
    return any(p in key for p in ('bn', 'norm', 'downsample.1', '.bn.'))


@pytest.mark.parametrize('zero_init_residual', [True, False])
def test_every_resnet_branch_initialises_as_the_plain_resnet(zero_init_residual):
    from mmpose.models.backbones import ResNet

    from okdhp_mm.models.backbones import MultiBranchResNet

    torch.manual_seed(0)
    model = MultiBranchResNet(num_branches=3, shared_stages=3,
                              zero_init_residual=zero_init_residual, **RESNET)
    model.init_weights()
    plain = ResNet(zero_init_residual=zero_init_residual, **RESNET)
    plain.init_weights()
    reference = plain.state_dict()
    for t in range(3):
        state = model.export_branch(t)[1]
        assert state.keys() == reference.keys()
        for k, v in reference.items():
            if _deterministic(k) and v.is_floating_point():
                assert torch.equal(state[k], v), (t, k)
        last_norms = [state[f'layer4.{b}.bn2.weight'] for b in range(2)]
        assert all(bool((w == 0).all()) is zero_init_residual for w in last_norms), t
    # The branches are drawn independently: alike only in their constants.
    w = [model.branches[t]['layer4'][0].conv1.weight for t in range(3)]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])


def test_cspnext_branches_initialise_as_the_plain_cspnext():
    from mmpose.models.backbones import CSPNeXt

    from okdhp_mm.models.backbones import MultiBranchCSPNeXt

    torch.manual_seed(0)
    model = MultiBranchCSPNeXt(num_branches=2, shared_stages=3, **CSPNEXT)
    model.init_weights()
    plain = CSPNeXt(**CSPNEXT)
    plain.init_weights()
    for t in range(2):
        state = model.export_branch(t)[1]
        assert state.keys() == plain.state_dict().keys()
        for k, v in plain.state_dict().items():
            assert state[k].shape == v.shape, k
            if _deterministic(k) and v.is_floating_point():
                assert torch.equal(state[k], v), (t, k)
