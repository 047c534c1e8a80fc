"""What every OKDHP multi-branch backbone shares: its output, its layout check, its export.

A multi-branch backbone runs a shared trunk, then one branch per entry of ``branch_stacks``;
branch ``t`` together with the trunk is exactly one plain (single-branch) backbone, which
:meth:`MultiBranchBackbone.export_branch` hands back as a config and a state dict.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor

from ..utils import check_branch_index

__all__ = ['MultiBranchBackbone', 'MultiBranchFeatures', 'check_branch_layout']


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


def check_branch_layout(num_shared_stacks: int, branch_stacks: Sequence[int]
                        ) -> Tuple[int, Tuple[int, ...]]:
    """(n0, per-branch stack counts) after checking both are positive."""
    if int(num_shared_stacks) < 1:
        raise ValueError(f'num_shared_stacks={num_shared_stacks}: at least one stack must '
                         'be shared (the FAU and the exported students need the stem)')
    if len(branch_stacks) < 1 or any(int(n) < 1 for n in branch_stacks):
        raise ValueError(f'branch_stacks={tuple(branch_stacks)}: give one positive stack '
                         'count per branch, e.g. (2, 2, 2) or (2, 4, 6)')
    return int(num_shared_stacks), tuple(int(n) for n in branch_stacks)


class MultiBranchBackbone(BaseModule):
    """Base of the multi-branch backbones: ``num_branches``, ``fau_channels`` and the export
    of one branch as the plain backbone ``plain_cfg`` with ``num_stacks = n0 + n_t``.

    Subclasses set ``num_shared_stacks``, ``branch_stacks``, ``plain_cfg`` (a config of the
    plain backbone without ``num_stacks``) and implement :meth:`plain_key` (the plain
    backbone's name of one of their state-dict keys for a branch, or None for keys of
    other branches).
    """

    num_shared_stacks: int
    branch_stacks: Tuple[int, ...]
    plain_cfg: dict

    @property
    def num_branches(self) -> int:
        return len(self.branch_stacks)

    @property
    def fau_channels(self) -> int:
        """Channels of ``MultiBranchFeatures.fau_input`` (what the FAU's ``in_channels`` must
        be)."""
        raise NotImplementedError

    def plain_key(self, key: str, index: int) -> Optional[str]:
        raise NotImplementedError

    def branch_config(self, index: int) -> dict:
        """Config of the plain backbone that branch ``index`` (with the trunk) is."""
        index = check_branch_index(index, self.num_branches)
        return dict(self.plain_cfg, num_stacks=self.num_shared_stacks + self.branch_stacks[index])

    def export_branch(self, index: int) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """Config and state dict of branch ``index`` as the plain backbone."""
        cfg = self.branch_config(index)
        mapping: Dict[str, str] = {}
        for key in self.state_dict().keys():
            plain = self.plain_key(key, index)
            if plain is not None:
                mapping[plain] = key
        with torch.device('meta'):  # only the names: allocate nothing
            plain_keys = MODELS.build(dict(cfg)).state_dict().keys()
        own = self.state_dict()
        state = OrderedDict()
        for key in plain_keys:
            if key not in mapping:
                raise KeyError(f'plain {cfg["type"]} key {key!r} has no counterpart in branch '
                               f'{index}: the multi-branch layout no longer matches the plain '
                               'backbone')
            state[key] = own[mapping[key]].detach().clone()
        if len(state) != len(mapping):
            extra = sorted(set(mapping) - set(state))
            raise KeyError(f'branch {index} has weights the plain {cfg["type"]} lacks: '
                           f'{extra[:5]}')
        return cfg, state
