"""MultiBranchHourglassNet: every branch is a plain MMPose hourglass; branches share the trunk."""
from __future__ import annotations

import pytest
import torch
from mmpose.models.backbones import HourglassNet
from mmpose.registry import MODELS

from helpers.builders import TINY_HG, randomize_weights

pytestmark = pytest.mark.usefixtures('torch_seed0')


@pytest.mark.parametrize('n0, branch_stacks', [(1, (1, 1, 1)), (1, (1, 2, 3))])
def test_each_branch_is_exactly_a_plain_mmpose_hourglass(n0, branch_stacks):
    net = MODELS.build(dict(type='MultiBranchHourglassNet', num_shared_stacks=n0,
                            branch_stacks=branch_stacks, **TINY_HG))
    randomize_weights(net).eval()
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
    per_branch = [sum(p.numel() for p in b.parameters()) for b in net.branches]
    assert per_branch[0] == per_branch[1] > 0
    # No parameter registered twice (``parameters()`` itself would hide a duplicate), and no
    # two parameters share memory.
    every = [p for _, p in net.named_parameters(remove_duplicate=False)]
    assert len({id(p) for p in every}) == len(every)
    assert len({p.data_ptr() for p in every}) == len(every)
    assert not {id(p) for p in net.branches[0].parameters()} & {
        id(p) for p in net.branches[1].parameters()}


def test_bad_hourglass_layouts_fail_at_build():
    with pytest.raises(ValueError, match='num_shared_stacks=0'):
        MODELS.build(dict(type='MultiBranchHourglassNet', num_shared_stacks=0, **TINY_HG))
    with pytest.raises(ValueError, match=r'branch_stacks=\(2, 0\)'):
        MODELS.build(dict(type='MultiBranchHourglassNet', branch_stacks=(2, 0), **TINY_HG))
