"""The stacked hourglass of Newell et al. (ECCV 2016) as OKDHP and FPD release it.

MMPose's ``HourglassNet`` is a different network (3x3 ``BasicBlock`` residuals of 256 channels
at every level: 69.7 M parameters for 4 stacks). The OKDHP/FPD code bases (pytorch-pose's
``hourglass.py``) use pre-activation bottlenecks of width 128 -> 256 and feed every stack's
heatmaps back into the next stack: 13.02 M parameters and 15.4 GMAC for 4 stacks at 256x256.
This module is that network, so the OKDHP paper configs train the paper's models:

* stem: 7x7/2 conv 3->64 + BN + ReLU -> Bottleneck(64->128) -> 2x2 max-pool ->
  Bottleneck(128->256) -> Bottleneck(256->256): a 256-channel feature at 1/4 resolution;
* a stack: hourglass (depth 4, one bottleneck per position, max-pool down, nearest up) ->
  bottleneck -> 1x1 conv + BN + ReLU (feature ``y``) -> 1x1 conv to K heatmaps (``score``);
* between stacks: ``x <- x + fc_(y) + score_(score)`` (heatmaps re-injected).

``forward`` returns every stack's heatmaps (intermediate supervision); pair it with MMPose's
``CPMHead(in_channels=K, out_channels=K, num_stages=S, final_layer=None,
deconv_out_channels=None)``, which then only routes the stages to the loss and the decoder.
A student built on it needs this package at inference (``custom_imports``); the export tool
says so.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils import NeedsPlugin

__all__ = ['HourglassStack', 'PreActBottleneck', 'StackedHourglassNet', 'hourglass_stem']

class PreActBottleneck(nn.Module):
    """BN-ReLU-1x1 (in->p), BN-ReLU-3x3 (p->p), BN-ReLU-1x1 (p->2p), all convs with bias,
    plus the input (through a 1x1 conv when ``in != 2p``): pytorch-pose's ``Bottleneck``."""

    expansion = 2

    def __init__(self, in_channels: int, planes: int):
        super().__init__()
        out = planes * self.expansion
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=True)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=True)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Conv2d(in_channels, out, 1, bias=True) \
            if in_channels != out else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + (self.downsample(x) if self.downsample is not None else x)


def _residuals(channels: int, num_blocks: int) -> nn.Sequential:
    return nn.Sequential(*[PreActBottleneck(channels, channels // 2) for _ in range(num_blocks)])


class Hourglass(nn.Module):
    """Recursive hourglass of ``depth`` levels on ``channels``-wide features: at each level
    an upper residual branch, max-pool, a residual, the next level (or a residual at the
    bottom), a residual, nearest 2x upsampling and the sum with the upper branch."""

    def __init__(self, channels: int, depth: int = 4, num_blocks: int = 1):
        super().__init__()
        self.depth = depth
        # levels[i]: [up, low1, low3] (+ [bottom] at the deepest level, i == 0), as released.
        self.levels = nn.ModuleList(
            nn.ModuleList([_residuals(channels, num_blocks)
                           for _ in range(4 if i == 0 else 3)]) for i in range(depth))

    def _level(self, n: int, x: Tensor) -> Tensor:
        up, low1_res, low3_res = self.levels[n - 1][:3]
        low1 = low1_res(F.max_pool2d(x, 2, stride=2))
        low2 = self._level(n - 1, low1) if n > 1 else self.levels[0][3](low1)
        return up(x) + F.interpolate(low3_res(low2), scale_factor=2)

    def forward(self, x: Tensor) -> Tensor:
        return self._level(self.depth, x)


class HourglassStack(nn.Module):
    """One stack: hourglass -> residual -> 1x1 conv+BN+ReLU (``y``) -> heatmaps; with
    ``remap``, also the transition ``x + fc_(y) + score_(heatmaps)`` into the next stack."""

    def __init__(self, channels: int, num_keypoints: int, depth: int, num_blocks: int,
                 remap: bool):
        super().__init__()
        self.hourglass = Hourglass(channels, depth, num_blocks)
        self.res = _residuals(channels, num_blocks)
        self.fc = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=True),
                                nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.score = nn.Conv2d(channels, num_keypoints, 1, bias=True)
        self.fc_ = nn.Conv2d(channels, channels, 1, bias=True) if remap else None
        self.score_ = nn.Conv2d(num_keypoints, channels, 1, bias=True) if remap else None

    def forward(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """(heatmaps, input of the next stack or None without ``remap``)."""
        y = self.fc(self.res(self.hourglass(x)))
        heatmaps = self.score(y)
        if self.fc_ is None:
            return heatmaps, None
        return heatmaps, x + self.fc_(y) + self.score_(heatmaps)


def hourglass_stem(channels: int = 256) -> nn.Sequential:
    """7x7/2 conv + BN + ReLU, bottleneck (64->128), 2x2 max-pool, bottlenecks 128->256 and
    256->``channels``: a ``channels``-wide feature at 1/4 resolution (pytorch-pose's stem)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=True), nn.BatchNorm2d(64),
        nn.ReLU(inplace=True), PreActBottleneck(64, 64), nn.MaxPool2d(2, stride=2),
        PreActBottleneck(128, 128), PreActBottleneck(256, channels // 2))


@MODELS.register_module()
class StackedHourglassNet(BaseModule, NeedsPlugin):
    """Newell's stacked hourglass as released with OKDHP/FPD (see the module docstring).

    Args:
        num_stacks (int): number of stacks (2, 4, 8 in the paper). Defaults to 4.
        num_keypoints (int): heatmap channels K (16 MPII, 17 COCO). Defaults to 16.
        num_feats (int): feature width (256 as released; must be even). Defaults to 256.
        num_blocks (int): residuals per hourglass position and after it. Defaults to 1.
        depth (int): hourglass levels (4: 64 -> 4 pixels). Defaults to 4.
        init_cfg: MMEngine init config. Defaults to None: PyTorch's own initialisation, as
            in the released code.

    ``forward(x)`` returns a tuple of ``num_stacks`` heatmaps ``(B, K, H/4, W/4)``.
    """

    def __init__(self, num_stacks: int = 4, num_keypoints: int = 16, num_feats: int = 256,
                 num_blocks: int = 1, depth: int = 4, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        for name, value in (('num_stacks', num_stacks), ('num_keypoints', num_keypoints),
                            ('num_blocks', num_blocks), ('depth', depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'StackedHourglassNet: {name}={value!r}, expected a positive '
                                 'int')
        if not isinstance(num_feats, int) or num_feats < 2 or num_feats % 2:
            raise ValueError(f'StackedHourglassNet: num_feats={num_feats!r}, expected an even '
                             'int (bottlenecks expand planes = num_feats / 2 by 2)')
        self.num_stacks, self.num_keypoints = num_stacks, num_keypoints
        self.num_feats, self.num_blocks, self.depth = num_feats, num_blocks, depth
        self.stem = hourglass_stem(num_feats)
        self.stacks = nn.ModuleList(self.make_stack(remap=i < num_stacks - 1)
                                    for i in range(num_stacks))

    def make_stack(self, remap: bool) -> HourglassStack:
        return HourglassStack(self.num_feats, self.num_keypoints, self.depth, self.num_blocks,
                              remap)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        out: List[Tensor] = []
        for stack in self.stacks:
            heatmaps, x = stack(x)
            out.append(heatmaps)
        return tuple(out)
