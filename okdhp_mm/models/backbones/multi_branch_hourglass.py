"""OKDHP's multi-branch stacked hourglass, built from MMPose's ``HourglassNet`` parts.

Stem + ``num_shared_stacks`` shared stacks, then one branch per entry of ``branch_stacks``,
each continuing with its own stacks. Branch ``t`` is exactly the plain MMPose model
``HourglassNet(num_stacks=num_shared_stacks + branch_stacks[t])`` (same modules, same order),
so :meth:`export_branch` can hand back its config and state dict under the plain names.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from mmpose.models.backbones import HourglassNet
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils import check_branch_index


class MultiBranchFeatures:
    """Backbone output whose branch features are computed on first use.

    ``predict`` with one branch then costs the trunk plus that branch only.

    Attributes:
        shared (list[Tensor]): the shared stacks' output features (every one supervised).
        fau_input (Tensor): the feature the Feature Aggregation Unit reads (the stem).
        num_branches (int): number of branches.
    """

    def __init__(self, shared: List[Tensor], fau_input: Tensor, num_branches: int,
                 compute_branch: Callable[[int], List[Tensor]]):
        self.shared = shared
        self.fau_input = fau_input
        self.num_branches = num_branches
        self._compute_branch = compute_branch
        self._cache: Dict[int, List[Tensor]] = {}

    def branch(self, index: int) -> List[Tensor]:
        """Output features of every stack of branch ``index`` (computed once)."""
        index = check_branch_index(index, self.num_branches)
        if index not in self._cache:
            self._cache[index] = self._compute_branch(index)
        return self._cache[index]


class _StackSequence(nn.Module):
    """A run of hourglass stacks with MMPose's inter-stack transitions.

    Holds the modules of stacks ``i`` (``hourglass_modules``, ``out_convs``) and of the
    transitions after them (``conv1x1s``, ``remap_convs``, ``inters``); ``transitions`` says
    how many of the stacks are followed by one.
    """

    def __init__(self, plain: HourglassNet, stacks: Sequence[int], transitions: Sequence[int]):
        super().__init__()
        self.hourglass_modules = nn.ModuleList([plain.hourglass_modules[i] for i in stacks])
        self.out_convs = nn.ModuleList([plain.out_convs[i] for i in stacks])
        self.conv1x1s = nn.ModuleList([plain.conv1x1s[i] for i in transitions])
        self.remap_convs = nn.ModuleList([plain.remap_convs[i] for i in transitions])
        self.inters = nn.ModuleList([plain.inters[i] for i in transitions])
        self.relu = nn.ReLU(inplace=True)

    def forward(self, inter_feat: Tensor) -> Tuple[List[Tensor], Tensor]:
        """Same arithmetic as ``HourglassNet.forward``; returns (stack outputs, next input)."""
        out_feats = []
        for ind, (hourglass, out_conv) in enumerate(zip(self.hourglass_modules, self.out_convs)):
            out_feat = out_conv(hourglass(inter_feat))
            out_feats.append(out_feat)
            if ind < len(self.conv1x1s):
                inter_feat = self.conv1x1s[ind](inter_feat) + self.remap_convs[ind](out_feat)
                inter_feat = self.inters[ind](self.relu(inter_feat))
        return out_feats, inter_feat


@MODELS.register_module()
class MultiBranchHourglassNet(BaseModule):
    """Stacked hourglass with a shared trunk and several branches (OKDHP).

    Args:
        num_shared_stacks (int): stacks shared by every branch (the paper's n0 = half the
            target stack count). At least 1.
        branch_stacks (Sequence[int]): stacks of each branch (n_t). ``(2, 2, 2)`` is the
            balanced 2 + 3x2 network, ``(2, 4, 6)`` the unbalanced one.
        downsample_times, stage_channels, stage_blocks, feat_channel, norm_cfg: as in
            MMPose's ``HourglassNet``. The paper's stacks are depth 4, 256 channels, one
            block per level: ``downsample_times=4, stage_channels=(256,) * 5,
            stage_blocks=(1,) * 5``.
        init_cfg: as in ``HourglassNet``.

    ``forward`` returns a :class:`MultiBranchFeatures`; ``MultiBranchHead`` consumes it.
    """

    def __init__(self,
                 num_shared_stacks: int = 2,
                 branch_stacks: Sequence[int] = (2, 2, 2),
                 downsample_times: int = 4,
                 stage_channels: Sequence[int] = (256, 256, 256, 256, 256),
                 stage_blocks: Sequence[int] = (1, 1, 1, 1, 1),
                 feat_channel: int = 256,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[list] = [
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
                 ]):
        super().__init__(init_cfg=init_cfg)
        if int(num_shared_stacks) < 1:
            raise ValueError(f'num_shared_stacks={num_shared_stacks}: at least one stack must '
                             'be shared (the FAU and the exported students need the stem)')
        if len(branch_stacks) < 1 or any(int(n) < 1 for n in branch_stacks):
            raise ValueError(f'branch_stacks={tuple(branch_stacks)}: give one positive stack '
                             'count per branch, e.g. (2, 2, 2) or (2, 4, 6)')
        if stage_channels[0] != 256:
            raise ValueError(f'stage_channels[0]={stage_channels[0]}: MMPose\'s HourglassNet '
                             'stem always outputs 256 channels, so it must be 256')
        self.num_shared_stacks = int(num_shared_stacks)
        self.branch_stacks = tuple(int(n) for n in branch_stacks)
        self.plain_cfg = dict(type='HourglassNet', downsample_times=downsample_times,
                              stage_channels=tuple(stage_channels),
                              stage_blocks=tuple(stage_blocks), feat_channel=feat_channel,
                              norm_cfg=norm_cfg)
        n0 = self.num_shared_stacks
        trunk: Optional[HourglassNet] = None
        branches = []
        for n_t in self.branch_stacks:
            plain = self._build_plain(n0 + n_t)
            if trunk is None:
                trunk = plain
            # Stacks n0..n0+n_t-1 of this branch's plain network, transitions between them.
            branches.append(_StackSequence(plain, range(n0, n0 + n_t), range(n0, n0 + n_t - 1)))
        self.stem = trunk.stem
        # Every shared stack, the last included, is followed by a transition: the branches
        # all start from it (as in the released share_less network).
        self.shared = _StackSequence(trunk, range(n0), range(n0))
        self.branches = nn.ModuleList(branches)

    @property
    def num_branches(self) -> int:
        return len(self.branch_stacks)

    def _build_plain(self, num_stacks: int) -> HourglassNet:
        cfg = dict(self.plain_cfg, num_stacks=num_stacks)
        cfg.pop('type')
        return HourglassNet(**cfg)

    def forward(self, x: Tensor) -> MultiBranchFeatures:
        stem_feat = self.stem(x)
        shared_feats, branch_input = self.shared(stem_feat)
        return MultiBranchFeatures(
            shared=shared_feats, fau_input=stem_feat, num_branches=self.num_branches,
            compute_branch=lambda t: self.branches[t](branch_input)[0])

    # ------------------------------------------------------------------ export
    def _plain_key_map(self, index: int) -> Dict[str, str]:
        """Plain ``HourglassNet`` state-dict key -> key in this module, for branch ``index``."""
        n0 = self.num_shared_stacks
        mapping = {}
        for key in self.state_dict().keys():
            part, rest = key.split('.', 1)
            if part == 'stem':
                mapping[key] = key
            elif part == 'shared':
                mapping[self._plain_name(rest, 0)] = key
            elif part == 'branches':
                t, rest = rest.split('.', 1)
                if int(t) == index:
                    mapping[self._plain_name(rest, n0)] = key
        return mapping

    @staticmethod
    def _plain_name(rest: str, offset: int) -> str:
        # `hourglass_modules.1.x` in a _StackSequence is `hourglass_modules.{1+offset}.x` in
        # HourglassNet; `inters.j` lives in a ResLayer (an nn.Sequential) with the same index.
        group, idx, tail = rest.split('.', 2)
        return f'{group}.{int(idx) + offset}.{tail}'

    def export_branch(self, index: int) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """Config and state dict of branch ``index`` as a plain MMPose ``HourglassNet``."""
        index = check_branch_index(index, self.num_branches)
        cfg = dict(self.plain_cfg, num_stacks=self.num_shared_stacks + self.branch_stacks[index])
        plain_keys = self._build_plain(cfg['num_stacks']).state_dict().keys()
        mapping = self._plain_key_map(index)
        own = self.state_dict()
        state = OrderedDict()
        for key in plain_keys:
            if key not in mapping:
                raise KeyError(f'plain HourglassNet key {key!r} has no counterpart in branch '
                               f'{index}: the multi-branch layout no longer matches MMPose\'s')
            state[key] = own[mapping[key]].detach().clone()
        return cfg, state


__all__ = ['MultiBranchHourglassNet', 'MultiBranchFeatures']
