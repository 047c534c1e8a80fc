"""A CSPNeXt (RTMPose's backbone) shared up to a stage, with per-branch later stages.

The stem and stages ``1..shared_stages`` run once; every branch then runs its own copy of
the remaining stages. Branch ``t`` with the trunk is exactly MMPose's ``CSPNeXt`` of the same
arguments (same modules, same names), so it exports to plain MMPose. ``shared_stages=4`` (the
whole backbone shared) is the plain ``CSPNeXt`` itself; use it directly with
``MultiBranchRTMCCHead`` then.
"""
from __future__ import annotations

import copy
from typing import Optional, Tuple

from mmpose.models.backbones import CSPNeXt
from mmpose.registry import MODELS
from torch import Tensor, nn

from .multi_branch_base import MultiBranchBackbone, MultiBranchFeatures

__all__ = ['MultiBranchCSPNeXt']


@MODELS.register_module()
class MultiBranchCSPNeXt(MultiBranchBackbone):
    """CSPNeXt with a shared trunk (stem + ``shared_stages`` stages) and per-branch stages.

    Args:
        num_branches (int): number of branches (>= 2).
        shared_stages (int): stages in the trunk, 0..3 (the stem is always shared).
        **cspnext: arguments of MMPose's ``CSPNeXt`` (``arch``, ``deepen_factor``,
            ``widen_factor``, ``out_indices``, ``init_cfg``, ...), the same for every branch.

    ``forward`` returns :class:`MultiBranchFeatures`: the FAU reads the trunk's output; branch
    ``t`` gives the ``out_indices`` features of the plain ``CSPNeXt``.
    """

    def __init__(self, num_branches: int = 3, shared_stages: int = 3, **cspnext):
        plain = dict(type='CSPNeXt', **cspnext)
        super().__init__(init_cfg=None)
        num_stages = len(CSPNeXt.arch_settings[cspnext.get('arch', 'P5')])
        if not isinstance(num_branches, int) or num_branches < 2:
            raise ValueError(f'num_branches={num_branches!r}: OKDHP needs at least 2 branches')
        if not 0 <= shared_stages < num_stages:
            raise ValueError(f'shared_stages={shared_stages}: give 0..{num_stages - 1} (with '
                             f'all {num_stages} stages shared use the plain CSPNeXt)')
        out_indices = tuple(cspnext.get('out_indices', (2, 3, 4)))
        if min(out_indices) <= shared_stages:
            raise ValueError(f'out_indices={out_indices}: the branches output only stages after '
                             f'the trunk (> shared_stages={shared_stages})')
        self.plain_cfg, self.shared_stages = plain, int(shared_stages)
        # The multi-branch base speaks of stacks: n0 trunk stages, then n_t per branch.
        self.num_shared_stacks = self.shared_stages
        self.branch_stacks = (num_stages - self.shared_stages, ) * num_branches
        self.out_indices = out_indices
        trunk = CSPNeXt(**copy.deepcopy(cspnext))
        self.stem = trunk.stem
        self.shared = nn.ModuleDict({f'stage{i}': getattr(trunk, f'stage{i}')
                                     for i in range(1, self.shared_stages + 1)})
        # MMEngine's init_cfg of each CSPNeXt reaches its stages through this module's own.
        self.init_cfg = copy.deepcopy(trunk.init_cfg)
        branches = []
        for _ in range(num_branches):
            own = CSPNeXt(**copy.deepcopy(cspnext))
            branches.append(nn.ModuleDict({f'stage{i}': getattr(own, f'stage{i}')
                                           for i in range(self.shared_stages + 1,
                                                          num_stages + 1)}))
        self.branches = nn.ModuleList(branches)

    @property
    def fau_channels(self) -> int:
        """Channels of the trunk's output (the FAU's input)."""
        last = list(self.shared.values())[-1] if self.shared else self.stem
        convs = [m for m in last.modules() if isinstance(m, nn.Conv2d)]
        return int(convs[-1].out_channels)

    def branch_config(self, index: int) -> dict:
        super().branch_config(index)  # checks the index
        return copy.deepcopy(self.plain_cfg)

    def forward(self, x: Tensor) -> MultiBranchFeatures:
        x = self.stem(x)
        for stage in self.shared.values():
            x = stage(x)
        trunk = x

        def branch(t: int) -> Tuple[Tensor, ...]:
            outs, y = [], trunk
            for name, stage in self.branches[t].items():
                y = stage(y)
                if int(name[len('stage'):]) in self.out_indices:
                    outs.append(y)
            return tuple(outs)

        return MultiBranchFeatures(shared=[], fau_input=trunk, num_branches=self.num_branches,
                                   compute_branch=branch)

    def plain_key(self, key: str, index: int) -> Optional[str]:
        # stem.* -> stem.*; shared.stage{i}.* -> stage{i}.*; branches.t.stage{j}.* -> stage{j}.*
        part, rest = key.split('.', 1)
        if part in ('stem', ):
            return key
        if part == 'shared':
            return rest
        t, rest = rest.split('.', 1)
        return rest if int(t) == index else None
