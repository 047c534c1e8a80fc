"""OKDHP's multi-branch stacked hourglass, built from MMPose's ``HourglassNet`` parts.

Stem + ``num_shared_stacks`` shared stacks, then one branch per entry of ``branch_stacks``,
each continuing with its own stacks. Branch ``t`` is exactly the plain MMPose model
``HourglassNet(num_stacks=num_shared_stacks + branch_stacks[t])`` (same modules, same order),
so :meth:`export_branch` can hand back its config and state dict under the plain names.
Each stack is built once, from MMPose's own modules (``HourglassModule``, ``ConvModule``,
``BasicBlock``): building a whole ``HourglassNet`` per branch would hold every branch's
unused stacks in memory while the model is built.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from mmcv.cnn import ConvModule
from mmpose.models.backbones.hourglass import HourglassModule
from mmpose.models.backbones.resnet import BasicBlock, ResLayer
from mmpose.registry import MODELS
from torch import Tensor, nn

from .multi_branch_base import MultiBranchBackbone, MultiBranchFeatures, check_branch_layout

__all__ = ['MultiBranchHourglassNet']


class _StackSequence(nn.Module):
    """A run of hourglass stacks with MMPose's inter-stack transitions.

    Holds the modules of ``num_stacks`` stacks (``hourglass_modules``, ``out_convs``) and of
    the transitions after the first ``num_transitions`` of them (``conv1x1s``, ``remap_convs``,
    ``inters``), under ``HourglassNet``'s names and layers.
    """

    def __init__(self, num_stacks: int, num_transitions: int, downsample_times: int,
                 stage_channels: Sequence[int], stage_blocks: Sequence[int], feat_channel: int,
                 norm_cfg: dict):
        super().__init__()
        cur = stage_channels[0]
        self.hourglass_modules = nn.ModuleList(
            HourglassModule(downsample_times, stage_channels, stage_blocks)
            for _ in range(num_stacks))
        self.out_convs = nn.ModuleList(
            ConvModule(cur, feat_channel, 3, padding=1, norm_cfg=norm_cfg)
            for _ in range(num_stacks))
        self.conv1x1s = nn.ModuleList(
            ConvModule(cur, cur, 1, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(num_transitions))
        self.remap_convs = nn.ModuleList(
            ConvModule(feat_channel, cur, 1, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(num_transitions))
        self.inters = nn.ModuleList(
            BasicBlock(cur, cur, norm_cfg=norm_cfg) for _ in range(num_transitions))
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
class MultiBranchHourglassNet(MultiBranchBackbone):
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
        self.num_shared_stacks, self.branch_stacks = check_branch_layout(num_shared_stacks,
                                                                         branch_stacks)
        if stage_channels[0] != 256:
            raise ValueError(f'stage_channels[0]={stage_channels[0]}: MMPose\'s HourglassNet '
                             'stem always outputs 256 channels, so it must be 256')
        self.plain_cfg = dict(type='HourglassNet', downsample_times=downsample_times,
                              stage_channels=tuple(stage_channels),
                              stage_blocks=tuple(stage_blocks), feat_channel=feat_channel,
                              norm_cfg=norm_cfg)
        parts = dict(downsample_times=downsample_times, stage_channels=tuple(stage_channels),
                     stage_blocks=tuple(stage_blocks), feat_channel=feat_channel,
                     norm_cfg=norm_cfg)
        # HourglassNet's stem, layer for layer (its state-dict names are the plain model's).
        self.stem = nn.Sequential(
            ConvModule(3, 128, 7, padding=3, stride=2, norm_cfg=norm_cfg),
            ResLayer(BasicBlock, 1, 128, 256, stride=2, norm_cfg=norm_cfg))
        # Every shared stack, the last included, is followed by a transition: the branches
        # all start from it (as in the released share_less network).
        n0 = self.num_shared_stacks
        self.shared = _StackSequence(n0, n0, **parts)
        self.branches = nn.ModuleList(_StackSequence(n_t, n_t - 1, **parts)
                                      for n_t in self.branch_stacks)

    @property
    def fau_channels(self) -> int:
        return int(self.plain_cfg['stage_channels'][0])

    def forward(self, x: Tensor) -> MultiBranchFeatures:
        stem_feat = self.stem(x)
        shared_feats, branch_input = self.shared(stem_feat)
        return MultiBranchFeatures(
            shared=shared_feats, fau_input=stem_feat, num_branches=self.num_branches,
            compute_branch=lambda t: self.branches[t](branch_input)[0])

    def plain_key(self, key: str, index: int) -> Optional[str]:
        # `hourglass_modules.1.x` of a _StackSequence is `hourglass_modules.{1 + offset}.x` in
        # HourglassNet; `inters.j` lives in a ResLayer (an nn.Sequential) with the same index.
        part, rest = key.split('.', 1)
        if part == 'stem':
            return key
        offset = 0
        if part == 'branches':
            t, rest = rest.split('.', 1)
            if int(t) != index:
                return None
            offset = self.num_shared_stacks
        group, idx, tail = rest.split('.', 2)
        return f'{group}.{int(idx) + offset}.{tail}'
