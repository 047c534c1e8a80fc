"""Staged encoders (ResNet, CSPNeXt) shared up to a stage, with per-branch later stages.

OKDHP shares the first half of its hourglass stacks and gives every branch its own second
half; its authors note that heavy sharing makes the branches alike, and an ensemble of alike
branches teaches little. These backbones do the same for staged encoders: the stem and the
first ``shared_stages`` stages run once, every branch runs its own copy of the remaining
stages. Branch ``t`` with the trunk is exactly the plain MMPose backbone of the same arguments
(same modules, same names), so it exports to plain MMPose.
"""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Tuple

from mmpose.models.backbones import CSPNeXt, ResNet
from mmpose.registry import MODELS
from torch import Tensor, nn

from .multi_branch_base import MultiBranchBackbone, MultiBranchFeatures

__all__ = ['MultiBranchCSPNeXt', 'MultiBranchResNet']


class _MultiBranchStaged(MultiBranchBackbone):
    """``trunk``: the plain backbone without its later stages; ``branches[t]``: those stages.

    Subclasses name the plain class (``plain_class``), its stages (:meth:`stage_names`), how a
    stage name maps to an ``out_indices`` entry (:meth:`out_index`) and run the stem
    (:meth:`stem_forward`).
    """

    plain_class: type

    def __init__(self, num_branches: int, shared_stages: int, **plain):
        super().__init__(init_cfg=None)
        trunk = self.plain_class(**copy.deepcopy(plain))
        names = self.stage_names(trunk)
        if not isinstance(num_branches, int) or num_branches < 2:
            raise ValueError(f'num_branches={num_branches!r}: OKDHP needs at least 2 branches')
        if not 0 <= shared_stages < len(names):
            raise ValueError(f'shared_stages={shared_stages}: give 0..{len(names) - 1} (with '
                             f'all {len(names)} stages shared use the plain '
                             f'{self.plain_class.__name__})')
        self.out_indices = tuple(trunk.out_indices)
        later = names[shared_stages:]
        if not all(self.out_index(n) in self.out_indices for n in later[-1:]) or any(
                self.out_index(n) in self.out_indices for n in names[:shared_stages]):
            raise ValueError(f'out_indices={self.out_indices}: the branches output only stages '
                             f'after the trunk (> shared_stages={shared_stages}), the last '
                             'one included')
        self.plain_cfg = dict(type=self.plain_class.__name__, **plain)
        # The multi-branch base speaks of stacks: n0 trunk stages, then n_t per branch.
        self.num_shared_stacks, self.shared_stages = int(shared_stages), int(shared_stages)
        self.branch_stacks = (len(later), ) * num_branches
        branches = [nn.ModuleDict({n: getattr(self.plain_class(**copy.deepcopy(plain)), n)
                                   for n in later}) for _ in range(num_branches)]
        for n in later:
            delattr(trunk, n)
        self.trunk, self.branches = trunk, nn.ModuleList(branches)
        self._shared_names, self._later_names = names[:shared_stages], later
        # The plain backbone's own initialisation reaches the branches' stages too.
        self.init_cfg = copy.deepcopy(trunk.init_cfg)
        trunk.init_cfg = None

    def init_weights(self) -> None:
        """The trunk as the plain backbone initialises itself, then every branch's stages as a
        freshly initialised plain backbone's: ``init_cfg`` alone misses what the plain class
        does in its own ``init_weights`` (ResNet's ``zero_init_residual`` zeroes the last norm
        of every block), and a branch initialised otherwise than the plain backbone would not
        be the same network as its exported student."""
        super().init_weights()
        args = {k: v for k, v in self.plain_cfg.items() if k != 'type'}
        for stages in self.branches:
            plain = self.plain_class(**copy.deepcopy(args))
            plain.init_weights()
            stages.load_state_dict({f'{n}.{k}': v for n in stages
                                    for k, v in getattr(plain, n).state_dict().items()})

    @staticmethod
    def stage_names(plain: nn.Module) -> List[str]:
        raise NotImplementedError

    def out_index(self, stage: str) -> int:
        raise NotImplementedError

    def stem_forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def fau_channels(self) -> int:
        """Channels of the trunk's output (what the FAU reads)."""
        last = getattr(self.trunk, self._shared_names[-1]) if self._shared_names else None
        convs = [m for m in (last or self.trunk).modules() if isinstance(m, nn.Conv2d)]
        return int(convs[-1].out_channels)

    def branch_config(self, index: int) -> dict:
        super().branch_config(index)  # checks the index
        return copy.deepcopy(self.plain_cfg)

    def forward(self, x: Tensor) -> MultiBranchFeatures:
        trunk = self.stem_forward(x)
        for name in self._shared_names:
            trunk = getattr(self.trunk, name)(trunk)

        def branch(t: int) -> Tuple[Tensor, ...]:
            outs, y = [], trunk
            for name, stage in self.branches[t].items():
                y = stage(y)
                if self.out_index(name) in self.out_indices:
                    outs.append(y)
            return tuple(outs)

        return MultiBranchFeatures(shared=[], fau_input=trunk, num_branches=self.num_branches,
                                   compute_branch=branch)

    def plain_key(self, key: str, index: int) -> Optional[str]:
        # trunk.* -> *; branches.t.<stage>.* -> <stage>.*
        part, rest = key.split('.', 1)
        if part == 'trunk':
            return rest
        t, rest = rest.split('.', 1)
        return rest if int(t) == index else None


@MODELS.register_module()
class MultiBranchCSPNeXt(_MultiBranchStaged):
    """RTMPose's CSPNeXt, shared up to ``shared_stages`` (0..3) stages (see the module
    docstring); ``**cspnext``: MMPose ``CSPNeXt`` arguments."""

    plain_class = CSPNeXt

    def __init__(self, num_branches: int = 3, shared_stages: int = 3, **cspnext):
        super().__init__(num_branches, shared_stages, **cspnext)

    @staticmethod
    def stage_names(plain: nn.Module) -> List[str]:
        return [n for n in plain.layers if n != 'stem']

    def out_index(self, stage: str) -> int:
        return int(stage[len('stage'):])  # CSPNeXt.layers: ['stem', 'stage1', ...]

    def stem_forward(self, x: Tensor) -> Tensor:
        return self.trunk.stem(x)


@MODELS.register_module()
class MultiBranchResNet(_MultiBranchStaged):
    """MMPose's ResNet, shared up to ``shared_stages`` (0..3) residual layers (see the module
    docstring); ``**resnet``: MMPose ``ResNet`` arguments (``depth``, ``out_indices``, ...)."""

    plain_class = ResNet

    def __init__(self, num_branches: int = 3, shared_stages: int = 3, **resnet):
        super().__init__(num_branches, shared_stages, **resnet)

    @staticmethod
    def stage_names(plain: nn.Module) -> List[str]:
        return list(plain.res_layers)

    def out_index(self, stage: str) -> int:
        return int(stage[len('layer'):]) - 1  # ResNet.out_indices count layer1 as 0

    def stem_forward(self, x: Tensor) -> Tensor:
        t = self.trunk
        x = t.stem(x) if t.deep_stem else t.relu(t.norm1(t.conv1(x)))
        return t.maxpool(x)
