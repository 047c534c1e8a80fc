"""OKDHP's multi-branch network on the released stacked hourglass (``hourglass_okd_share_less``).

Stem + ``num_shared_stacks`` shared stacks, each followed by the heatmap re-injection (the
branches all start from the last one's ``x + fc_(y) + score_(score)``), then one branch per
entry of ``branch_stacks`` with its own stacks; the FAU reads the stem feature. Branch ``t``
with the trunk is exactly ``StackedHourglassNet(num_stacks=n0 + n_t)``: 2 + 3x2 gives three
4-stack students of 13.02 M parameters; the whole training network with the official FAU has
30.92 M (the paper's 2 + 3x2 balanced network); ``branch_stacks=(2, 4, 6)`` is the unbalanced
2 + {2, 4, 6} network.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from mmpose.registry import MODELS
from torch import Tensor, nn

from .multi_branch_base import MultiBranchBackbone, MultiBranchFeatures, check_branch_layout
from .stacked_hourglass import StackedHourglassNet, hourglass_stem

__all__ = ['MultiBranchStackedHourglassNet']


def _run_stacks(stacks: nn.ModuleList, x: Tensor) -> Tuple[List[Tensor], Optional[Tensor]]:
    heatmaps = []
    for stack in stacks:
        maps, x = stack(x)
        heatmaps.append(maps)
    return heatmaps, x


@MODELS.register_module()
class MultiBranchStackedHourglassNet(MultiBranchBackbone):
    """Shared stacks + per-branch stacks of the released hourglass (see the module docstring).

    Args:
        num_shared_stacks (int): n0, stacks every branch shares (at least 1). Defaults to 2.
        branch_stacks (Sequence[int]): n_t per branch. Defaults to ``(2, 2, 2)``.
        num_keypoints, num_feats, num_blocks, depth: as in :class:`StackedHourglassNet`.
        init_cfg: as in :class:`StackedHourglassNet` (None: PyTorch's initialisation).

    ``forward`` returns :class:`MultiBranchFeatures` whose stage outputs are heatmaps: pair it
    with ``MultiBranchHead(shared_head=CPMHead(..., final_layer=None), branches=CPMHead(...,
    final_layer=None))``.
    """

    def __init__(self, num_shared_stacks: int = 2, branch_stacks: Sequence[int] = (2, 2, 2),
                 num_keypoints: int = 16, num_feats: int = 256, num_blocks: int = 1,
                 depth: int = 4, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.num_shared_stacks, self.branch_stacks = check_branch_layout(num_shared_stacks,
                                                                         branch_stacks)
        self.plain_cfg = dict(type='StackedHourglassNet', num_keypoints=num_keypoints,
                              num_feats=num_feats, num_blocks=num_blocks, depth=depth)
        # One StackedHourglassNet of a single stack checks the arguments; its stack factory
        # builds every stack (no whole network per branch is ever built).
        factory = StackedHourglassNet(num_stacks=1, num_keypoints=num_keypoints,
                                      num_feats=num_feats, num_blocks=num_blocks, depth=depth,
                                      init_cfg=None)
        self.stem = hourglass_stem(num_feats)
        self.shared = nn.ModuleList(factory.make_stack(remap=True)
                                    for _ in range(self.num_shared_stacks))
        self.branches = nn.ModuleList(
            nn.ModuleList(factory.make_stack(remap=j < n_t - 1) for j in range(n_t))
            for n_t in self.branch_stacks)

    @property
    def fau_channels(self) -> int:
        return int(self.plain_cfg['num_feats'])

    def forward(self, x: Tensor) -> MultiBranchFeatures:
        stem_feat = self.stem(x)
        shared_maps, branch_input = _run_stacks(self.shared, stem_feat)
        return MultiBranchFeatures(
            shared=shared_maps, fau_input=stem_feat, num_branches=self.num_branches,
            compute_branch=lambda t: _run_stacks(self.branches[t], branch_input)[0])

    def plain_key(self, key: str, index: int) -> Optional[str]:
        # stem.* -> stem.*; shared.i.* -> stacks.i.*; branches.t.j.* -> stacks.{n0 + j}.*
        part, rest = key.split('.', 1)
        if part == 'stem':
            return key
        if part == 'shared':
            return f'stacks.{rest}'
        t, j, tail = rest.split('.', 2)
        if int(t) != index:
            return None
        return f'stacks.{int(j) + self.num_shared_stacks}.{tail}'

