"""Feature Aggregation Unit (FAU) of OKDHP (Li et al., ICCV 2021).

The FAU turns an image feature into per-sample, per-keypoint weights over the ``T`` branches
(softmax over the branch axis) and builds the ensemble ("target") heatmap as the weighted sum
of the branches' final heatmaps. This is our own implementation of the released module
(``lib/models/hourglass_okd_share_less.py`` of github.com/zhengli97/OKDHP) and of the paper's
figure; the README's "where we differ" lists the differences.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmpose.registry import MODELS

_MODES = ('official', 'light', 'paper')


@MODELS.register_module()
class FeatureAggregationUnit(BaseModule):
    """Feature Aggregation Unit: branch weights from a feature + weighted heatmap ensemble.

    ``forward(feature, branch_heatmaps)`` returns ``(ensemble, weights)`` where ``weights`` has
    shape ``(B, T, K)`` (softmax over the ``T`` branches, so it sums to 1 over ``T`` for every
    sample and keypoint) and ``ensemble = sum_t weights[:, t, :, None, None] * m_t`` with
    ``m_t`` the final heatmap ``(B, K, H, W)`` of branch ``t``. Unlike the released code (which
    fed ``out[-3:]`` and so skipped branch 0's final map) the caller passes exactly one heatmap
    per branch and every one of them enters the ensemble.

    Modes (all share the softmax-over-branches output):

    * ``'official'`` -- the released FAU: for each ``k`` in ``kernel_sizes`` a
      ``k x k`` conv ``C -> C`` (padding ``k // 2``, bias) + BN + ReLU; the paths are **summed**,
      globally average pooled, ``Linear(C, hidden)`` (``hidden = C // 4``, 256 -> 64, no
      activation, as released), then one ``Linear(hidden, K)`` per branch. Parameter names
      (``convs.i.0/1``, ``fc``, ``fcs.t``) match the official module, so official FAU weights load
      directly. Costs about 22.3 GMAC on a ``[1, 256, 64, 64]`` feature.
    * ``'light'`` -- same role and head at a small fraction of the cost: a 1x1 conv + BN + ReLU
      reduces ``C`` to ``reduce_channels`` (default 64), then each path is a depthwise ``k x k``
      conv followed by a pointwise 1x1 conv + BN + ReLU (depthwise separable); paths summed,
      pooled, ``Linear(reduce_channels, hidden)`` and per-branch ``Linear(hidden, K)``.
    * ``'paper'`` -- the paper figure: each ``k x k`` conv (+BN+ReLU) is followed by
      a 1x1 conv (+BN+ReLU); the paths are **concatenated** and globally pooled; an avg-pool path
      (global average pool -> 1x1 conv -> ReLU, no BN so that batch size 1 trains) is
      concatenated to the pooled vector; one ``Linear(4C, T*K)`` gives ``a``, split into
      ``a_1..a_T``. The figure does not show how ``a`` is normalised; we use the same softmax over
      branches as the code (inferred).

    ``reduce_channels`` can also be given for ``'official'`` and ``'paper'``: a 1x1 conv + BN +
    ReLU then reduces the feature before the (full, dense) ``k x k`` paths.

    Args:
        in_channels (int): Channels ``C`` of the input feature (256 in OKDHP: the stem feature).
        num_branches (int): Number of branches ``T``.
        num_keypoints (int): Number of keypoints ``K`` (heatmap channels).
        kernel_sizes (Sequence[int]): Odd kernel sizes of the parallel paths. Defaults to
            ``(3, 5, 7)``.
        mode (str): ``'official'``, ``'light'`` or ``'paper'``. Defaults to ``'official'``.
        reduce_channels (int, optional): Width after a 1x1 reduction of the feature. Defaults
            to None (no reduction), except for ``'light'`` where None means 64.
        hidden_channels (int, optional): Width of the squeeze FC (``'official'``/``'light'``).
            Defaults to ``max(in_channels // 4, 1)`` (64 for 256 channels, as released).
        with_pool_path (bool): ``'paper'`` only: include the avg-pool path. Defaults to True.
        norm_cfg (dict): Normalisation layer config. Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): MMEngine init config. Defaults to None
            (PyTorch default initialisation, as in the official code).
    """

    def __init__(self,
                 in_channels: int,
                 num_branches: int,
                 num_keypoints: int,
                 kernel_sizes: Sequence[int] = (3, 5, 7),
                 mode: str = 'official',
                 reduce_channels: Optional[int] = None,
                 hidden_channels: Optional[int] = None,
                 with_pool_path: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        if mode not in _MODES:
            raise ValueError(f'FeatureAggregationUnit: mode must be one of {_MODES}, '
                             f'got {mode!r}')
        for name, value in (('in_channels', in_channels), ('num_branches', num_branches),
                            ('num_keypoints', num_keypoints)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'FeatureAggregationUnit: {name} must be a positive int, '
                                 f'got {value!r}')
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if len(kernel_sizes) == 0 or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError('FeatureAggregationUnit: kernel_sizes must be a non-empty '
                             f'sequence of odd positive ints, got {kernel_sizes!r}')
        if mode == 'light' and reduce_channels is None:
            reduce_channels = 64
        if reduce_channels is not None and reduce_channels < 1:
            raise ValueError('FeatureAggregationUnit: reduce_channels must be a positive int '
                             f'or None, got {reduce_channels!r}')
        if hidden_channels is None:
            hidden_channels = max(in_channels // 4, 1)

        self.in_channels = in_channels
        self.num_branches = num_branches
        self.num_keypoints = num_keypoints
        self.kernel_sizes = kernel_sizes
        self.mode = mode
        self.reduce_channels = reduce_channels
        self.hidden_channels = hidden_channels
        self.with_pool_path = with_pool_path

        def norm(c):
            return build_norm_layer(norm_cfg, c)[1]

        if reduce_channels is not None:
            self.reduce = nn.Sequential(
                nn.Conv2d(in_channels, reduce_channels, 1, bias=False), norm(reduce_channels),
                nn.ReLU(inplace=True))
            c = reduce_channels
        else:
            self.reduce = None
            c = in_channels

        self.convs = nn.ModuleList()
        for k in kernel_sizes:
            if mode == 'official':
                path = [nn.Conv2d(c, c, k, stride=1, padding=k // 2, bias=True), norm(c),
                        nn.ReLU(inplace=True)]
            elif mode == 'light':
                path = [nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False),
                        nn.Conv2d(c, c, 1, bias=False), norm(c), nn.ReLU(inplace=True)]
            else:  # paper
                path = [nn.Conv2d(c, c, k, padding=k // 2, bias=False), norm(c),
                        nn.ReLU(inplace=True), nn.Conv2d(c, c, 1, bias=False), norm(c),
                        nn.ReLU(inplace=True)]
            self.convs.append(nn.Sequential(*path))

        if mode == 'paper':
            # avg-pool path: applied to the globally pooled (B, c, 1, 1) feature; no BN so that
            # a batch of one still trains.
            self.pool_conv = nn.Sequential(nn.Conv2d(c, c, 1, bias=True), nn.ReLU(inplace=True)) \
                if with_pool_path else None
            vec_channels = c * (len(kernel_sizes) + (1 if with_pool_path else 0))
            self.fc = nn.Linear(vec_channels, num_branches * num_keypoints)
            self.fcs = None
        else:
            self.pool_conv = None
            self.fc = nn.Linear(c, hidden_channels)  # official: no activation after it
            self.fcs = nn.ModuleList(
                nn.Linear(hidden_channels, num_keypoints) for _ in range(num_branches))

    # ------------------------------------------------------------------------------------ #
    def _check_feature(self, feature: Tensor) -> None:
        if not isinstance(feature, Tensor) or feature.dim() != 4:
            shape = tuple(feature.shape) if isinstance(feature, Tensor) else type(feature)
            raise ValueError(
                'FeatureAggregationUnit: feature must be a 4-D tensor (B, C, H, W) with '
                f'C = in_channels = {self.in_channels}, got {shape}')
        if feature.shape[1] != self.in_channels:
            raise ValueError(
                f'FeatureAggregationUnit: feature has {feature.shape[1]} channels '
                f'(shape {tuple(feature.shape)}) but in_channels={self.in_channels}; pass the '
                'feature the FAU was built for (the stem feature in OKDHP) or set '
                f'in_channels={feature.shape[1]}')

    def _check_heatmaps(self, branch_heatmaps) -> List[Tensor]:
        if isinstance(branch_heatmaps, Tensor):
            if branch_heatmaps.dim() != 5:
                raise ValueError(
                    'FeatureAggregationUnit: branch_heatmaps must be a list of '
                    f'num_branches={self.num_branches} tensors (B, K, H, W) or one stacked '
                    f'tensor (B, T, K, H, W), got a tensor of shape '
                    f'{tuple(branch_heatmaps.shape)}')
            branch_heatmaps = list(branch_heatmaps.unbind(1))
        elif not isinstance(branch_heatmaps, (list, tuple)):
            raise TypeError(
                'FeatureAggregationUnit: branch_heatmaps must be a list of '
                f'num_branches={self.num_branches} tensors (B, K, H, W), got '
                f'{type(branch_heatmaps).__name__}')
        if len(branch_heatmaps) != self.num_branches:
            raise ValueError(
                f'FeatureAggregationUnit: got {len(branch_heatmaps)} branch heatmaps but '
                f'num_branches={self.num_branches}; pass exactly one final heatmap per branch')
        ref = branch_heatmaps[0]
        for t, hm in enumerate(branch_heatmaps):
            if not isinstance(hm, Tensor) or hm.dim() != 4:
                shape = tuple(hm.shape) if isinstance(hm, Tensor) else type(hm).__name__
                raise ValueError(
                    f'FeatureAggregationUnit: branch_heatmaps[{t}] must be a 4-D tensor '
                    f'(B, K={self.num_keypoints}, H, W), got {shape}')
            if hm.shape[1] != self.num_keypoints:
                raise ValueError(
                    f'FeatureAggregationUnit: branch_heatmaps[{t}] has {hm.shape[1]} keypoint '
                    f'channels (shape {tuple(hm.shape)}) but num_keypoints='
                    f'{self.num_keypoints}')
            if hm.shape != ref.shape:
                raise ValueError(
                    f'FeatureAggregationUnit: branch_heatmaps[{t}] has shape '
                    f'{tuple(hm.shape)} but branch_heatmaps[0] has {tuple(ref.shape)}; all '
                    'branch heatmaps must have the same shape')
        return list(branch_heatmaps)

    # ------------------------------------------------------------------------------------ #
    def compute_logits(self, feature: Tensor) -> Tensor:
        """Un-normalised branch logits ``(B, T, K)`` from ``feature`` ``(B, C, H, W)``."""
        self._check_feature(feature)
        x = self.reduce(feature) if self.reduce is not None else feature
        if self.mode == 'paper':
            paths = torch.cat([conv(x) for conv in self.convs], dim=1)
            vec = [paths.mean(dim=(2, 3))]
            if self.pool_conv is not None:
                vec.append(self.pool_conv(x.mean(dim=(2, 3), keepdim=True)).flatten(1))
            logits = self.fc(torch.cat(vec, dim=1))
            return logits.view(-1, self.num_branches, self.num_keypoints)
        fused = self.convs[0](x)
        for conv in self.convs[1:]:
            fused = fused + conv(x)
        z = self.fc(fused.mean(dim=(2, 3)))
        return torch.stack([fc(z) for fc in self.fcs], dim=1)

    def compute_weights(self, feature: Tensor) -> Tensor:
        """Branch weights ``(B, T, K)`` in float32, softmax over the branch axis ``T``."""
        return self.compute_logits(feature).float().softmax(dim=1)

    @staticmethod
    def aggregate(branch_outputs: Sequence[Tensor], weights: Tensor) -> Tensor:
        """Weighted sum ``sum_t weights[:, t, :, ...] * branch_outputs[t]`` of per-keypoint
        outputs ``(B, K, ...)``: heatmaps ``(B, K, H, W)``, or SimCC vectors ``(B, K, W)``.

        The result has the promoted dtype of outputs and weights (float32 weights keep the
        ensemble in float32 under mixed precision).
        """
        stacked = torch.stack(list(branch_outputs), dim=1)  # (B, T, K, ...)
        return (stacked * weights.reshape(weights.shape + (1, ) * (stacked.dim() - 3))).sum(1)

    def forward(self, feature: Tensor,
                branch_heatmaps: Union[Sequence[Tensor], Tensor]) -> Tuple[Tensor, Tensor]:
        """Ensemble the branches' final heatmaps.

        Args:
            feature (Tensor): ``(B, in_channels, H', W')`` feature the weights are computed from.
            branch_heatmaps (list[Tensor] | Tensor): ``num_branches`` final heatmaps
                ``(B, K, H, W)`` (one per branch, in branch order), or one stacked
                ``(B, T, K, H, W)`` tensor.

        Returns:
            tuple[Tensor, Tensor]: ``ensemble`` ``(B, K, H, W)`` and ``weights`` ``(B, T, K)``.
        """
        heatmaps = self._check_heatmaps(branch_heatmaps)
        self._check_feature(feature)
        if feature.shape[0] != heatmaps[0].shape[0]:
            raise ValueError(
                f'FeatureAggregationUnit: feature batch size {feature.shape[0]} does not match '
                f'the branch heatmaps batch size {heatmaps[0].shape[0]}')
        weights = self.compute_weights(feature)
        return self.aggregate(heatmaps, weights), weights

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, in_channels={self.in_channels}, '
                f'num_branches={self.num_branches}, num_keypoints={self.num_keypoints}, '
                f'kernel_sizes={self.kernel_sizes}, reduce_channels={self.reduce_channels}')
