"""What every OKDHP multi-branch head shares, whatever its branches predict.

A multi-branch head holds one MMPose head per branch (and optionally a shared head for a
shared trunk's stages), a Feature Aggregation Unit that weighs the branches' final outputs
into an ensemble, and the one training objective of OKDHP, :meth:`MultiBranchHeadBase.loss`:

    sum over every supervised output o (each stage of each branch, of the shared head) of
    GT(o) + w(e) kd_loss(o || ens)  +  ensemble_loss(ens, GT),

with the released ramp w(e); plus :meth:`~MultiBranchHeadBase.forward`, the prediction logic
(one chosen output, a branch or the ensemble, or every output at once for validation:
``test_cfg.output_all``, with MMPose's flip test) and the export of a branch. Subclasses only
say what an output is (heatmaps: :class:`MultiBranchHead`; SimCC x/y vectors:
:class:`MultiBranchRTMCCHead`): :meth:`~MultiBranchHeadBase.targets`,
:meth:`~MultiBranchHeadBase.branch_outputs`, :meth:`~MultiBranchHeadBase.ensemble`,
:meth:`~MultiBranchHeadBase.shape_error`, :meth:`~MultiBranchHeadBase.accuracy`,
:meth:`~MultiBranchHeadBase.flip_back` and ``predict``.
"""
from __future__ import annotations

import copy
import math
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import ModuleList
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from ..backbones.multi_branch_base import MultiBranchFeatures
from ..utils import ENSEMBLE, check_branch_index

__all__ = ['MultiBranchHeadBase', 'kd_ramp_weight']


def kd_ramp_weight(epoch: float, length: float) -> float:
    """The released ramp-up: exp(-5 (1 - min(e, L) / L)^2); 1 when ``length`` <= 0."""
    if length <= 0:
        return 1.0
    progress = min(max(float(epoch), 0.0), float(length)) / float(length)
    return math.exp(-5.0 * (1.0 - progress) ** 2)


def as_list(x: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
    """A head's output as a list of stages (one tensor: one stage)."""
    return [x] if isinstance(x, Tensor) else list(x)


def _each(fn: Callable[[Tensor], Tensor], output: Any) -> Any:
    """``fn`` on an output: a tensor, or each tensor of a tuple (SimCC's (x, y))."""
    return tuple(fn(o) for o in output) if isinstance(output, tuple) else fn(output)


def _total(terms: List[Tensor]) -> Tensor:
    """The sum of loss terms; one term is returned as it is (no ``0 + term``)."""
    return terms[0] if len(terms) == 1 else sum(terms)


class MultiBranchHeadBase(BaseHead):
    """Branch heads, FAU, the OKDHP loss and ramp, branch choice, prediction and export.

    Args:
        branches (dict | list[dict]): one MMPose head config per branch; a single dict is
            repeated ``num_branches`` times. Branches may differ (the unbalanced scheme) but
            must predict the same keypoints.
        fau (dict): ``FeatureAggregationUnit`` config (``num_branches`` and ``num_keypoints``
            are filled in).
        num_branches (int, optional): used when ``branches`` is a single dict.
        fau_in_index (int): which backbone feature the FAU reads when the backbone returns a
            plain tuple (a shared encoder); multi-branch backbones hand theirs over.
        ensemble_loss (dict): GT loss of the ensemble.
        kd_loss (dict): distillation loss, ``loss_weight`` = lambda_kd.
        kd_ramp_epochs (int): L of the ramp ``exp(-5 (1 - min(e, L) / L)^2)``.
        detach_ensemble (bool): stop KD gradients into the ensemble (released: False).
        decoder (dict, optional): codec of the ensemble's outputs; defaults to branch 0's.
        shared_head (dict, optional): a head on the shared trunk stacks of a multi-branch
            backbone (``MultiBranchFeatures.shared``); its outputs are supervised once, by
            GT and KD, not per branch. It must predict the branches' keypoints.
    """

    def __init__(self, branches: Union[ConfigType, Sequence[ConfigType]], fau: ConfigType,
                 num_branches: Optional[int], fau_in_index: int, ensemble_loss: ConfigType,
                 kd_loss: ConfigType, kd_ramp_epochs: int, detach_ensemble: bool,
                 decoder: OptConfigType, init_cfg: OptConfigType,
                 shared_head: OptConfigType = None):
        super().__init__(init_cfg)
        if isinstance(branches, dict):
            if num_branches is None or num_branches < 2:
                raise ValueError(f'num_branches={num_branches}: with a single branch config, '
                                 'give num_branches >= 2 (OKDHP needs several branches)')
            branches = [copy.deepcopy(branches) for _ in range(num_branches)]
        branches = list(branches)
        if num_branches is not None and num_branches != len(branches):
            raise ValueError(f'num_branches={num_branches} but {len(branches)} branch configs '
                             'were given; drop num_branches or make them agree')
        if len(branches) < 2:
            raise ValueError(f'{len(branches)} branch given: OKDHP needs at least 2 branches')
        self.branch_cfgs = [copy.deepcopy(dict(b)) for b in branches]
        self.shared_head_cfg = copy.deepcopy(dict(shared_head)) if shared_head else None
        keypoints = [b.get('out_channels') for b in self.branch_cfgs] + (
            [self.shared_head_cfg.get('out_channels')] if self.shared_head_cfg else [])
        if len(set(keypoints)) != 1:
            raise ValueError(f'branch heads predict different keypoint counts {keypoints} '
                             '(out_channels, last one the shared head if any): every branch '
                             'must predict the same keypoints')
        self.num_keypoints = int(keypoints[0])
        # Built in this order (branch heads, shared head, losses, FAU): the random
        # initialisation for a given seed stays that of earlier releases.
        # MMEngine's ModuleList, so init_weights reaches every branch head's own init_cfg.
        self.branch_heads = ModuleList([MODELS.build(b) for b in self.branch_cfgs])
        self.shared_head = MODELS.build(self.shared_head_cfg) if self.shared_head_cfg else None
        self.ensemble_loss = MODELS.build(ensemble_loss)
        self.fau = MODELS.build(dict(fau, num_branches=len(branches),
                                     num_keypoints=self.num_keypoints))
        self.kd_loss = MODELS.build(kd_loss)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None \
            else self.branch_heads[0].decoder
        self.fau_in_index = fau_in_index
        self.kd_ramp_epochs = kd_ramp_epochs
        self.detach_ensemble = detach_ensemble

    @property
    def num_branches(self) -> int:
        return len(self.branch_heads)

    # ------------------------------------------------------------------ features
    def _branch_feats(self, feats, index: int):
        if isinstance(feats, MultiBranchFeatures):
            return feats.branch(index)
        return feats

    def _fau_input(self, feats) -> Tensor:
        if isinstance(feats, MultiBranchFeatures):
            return feats.fau_input
        return feats[self.fau_in_index]

    # ------------------------------------------------------------------ subclass API
    def targets(self, batch_data_samples: OptSampleList) -> Tuple[Any, Tensor]:
        """(GT of the batch as the outputs are shaped, keypoint weights ``(B, K)``)."""
        raise NotImplementedError

    def branch_outputs(self, feats, index: int) -> List[Any]:
        """Every supervised output of branch ``index`` (one per stage), the last the final."""
        raise NotImplementedError

    def ensemble(self, feats, finals: Sequence[Any]) -> Tuple[Any, Tensor]:
        """(ensemble output, FAU weights ``(B, T, K)``) of the branches' final outputs."""
        raise NotImplementedError

    def shape_error(self, name: str, output: Any, gt: Any) -> Optional[str]:
        """Why output ``name`` cannot be compared with the targets ``gt`` (None: it can)."""
        raise NotImplementedError

    def accuracy(self, output: Any, gt: Any, visible: Tensor) -> Tensor:
        """The logged accuracy of one output (a tensor: no host synchronisation)."""
        raise NotImplementedError

    def flip_back(self, flipped: Any, flip_indices: Sequence[int], test_cfg: dict) -> Any:
        """An output of the flipped image, mapped back onto the original."""
        raise NotImplementedError

    def pack_outputs(self, outputs: Dict[str, List[Any]]) -> Dict[str, Any]:
        """What :meth:`forward` returns of ``{'shared': [...], 'branch0': [...], ...,
        'ensemble': [ens]}``; by default that dict."""
        return outputs

    @staticmethod
    def gt_loss(head: nn.Module, stage: int, output: Any, gt: Any, weights: Tensor) -> Tensor:
        """GT loss of stage ``stage`` of ``head`` (a branch or the shared head): the head's own
        loss module, one per stage where it has several (``CPMHead`` with a list of losses)."""
        loss_module = head.loss_module
        if isinstance(loss_module, nn.ModuleList):
            loss_module = loss_module[stage]
        return loss_module(output, gt, weights)

    @staticmethod
    def average(a: Any, b: Any) -> Any:
        if isinstance(a, tuple):
            return tuple((x + y) * 0.5 for x, y in zip(a, b))
        return (a + b) * 0.5

    # ------------------------------------------------------------------ forward
    def branch_final(self, feats, index: int) -> Any:
        """The final output of branch ``index`` (what enters the ensemble)."""
        return self.branch_outputs(feats, index)[-1]

    def shared_outputs(self, feats) -> List[Any]:
        """Every output of the shared head (none without one, or on a plain feature tuple)."""
        if self.shared_head is None or not isinstance(feats, MultiBranchFeatures):
            return []
        # Called, not .forward(): forward hooks (profilers, recorders) see the head.
        return as_list(self.shared_head(feats.shared))

    def forward(self, feats) -> Dict[str, Any]:
        """Every output, packed by :meth:`pack_outputs` from ``{'shared': [...], 'branch0':
        [...], ..., 'ensemble': [ens]}`` (each branch's stages, the last the final)."""
        outputs: Dict[str, List[Any]] = OrderedDict(shared=self.shared_outputs(feats))
        for t in range(self.num_branches):
            outputs[f'branch{t}'] = self.branch_outputs(feats, t)
        finals = [outputs[f'branch{t}'][-1] for t in range(self.num_branches)]
        outputs[ENSEMBLE] = [self.ensemble(feats, finals)[0]]
        return self.pack_outputs(outputs)

    # ------------------------------------------------------------------ loss
    def current_kd_weight(self) -> float:
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return kd_ramp_weight(epoch, self.kd_ramp_epochs)

    def loss(self, feats, batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """``loss_gt_*``, ``loss_kd_*`` of the shared head (if any) and of every branch
        (``b0``, ...), ``acc_pose_b*``, ``loss_gt_ens``, ``acc_pose_ens`` and ``kd_weight``."""
        gt, weights = self.targets(batch_data_samples)
        shared = self.shared_outputs(feats)
        per_branch = [self.branch_outputs(feats, t) for t in range(self.num_branches)]
        named = [('shared', shared)] + [(f'branch{t}', o) for t, o in enumerate(per_branch)]
        for name, outputs in named:
            for output in outputs:
                error = self.shape_error(name, output, gt)
                if error:
                    raise ValueError(error)
        ens, _ = self.ensemble(feats, [outputs[-1] for outputs in per_branch])
        target = _each(Tensor.detach, ens) if self.detach_ensemble else ens
        kd_w = self.current_kd_weight()
        visible = weights > 0

        supervised = [('shared', self.shared_head, shared)] if shared else []
        supervised += [(f'b{t}', self.branch_heads[t], outputs)
                       for t, outputs in enumerate(per_branch)]
        losses = dict()
        for name, head, outputs in supervised:
            losses[f'loss_gt_{name}'] = _total([self.gt_loss(head, i, o, gt, weights)
                                                for i, o in enumerate(outputs)])
            losses[f'loss_kd_{name}'] = kd_w * _total([self.kd_loss(o, target, weights)
                                                       for o in outputs])
            if name != 'shared':  # the shared stages are a trunk, not a model to score
                losses[f'acc_pose_{name}'] = self.accuracy(outputs[-1], gt, visible)
        losses['loss_gt_ens'] = self.ensemble_loss(ens, gt, weights)
        losses['acc_pose_ens'] = self.accuracy(ens, gt, visible)
        # torch.full, not torch.tensor: no host-to-device copy (a stream sync on CUDA).
        losses['kd_weight'] = torch.full((), kd_w, dtype=torch.float32, device=weights.device)
        return losses

    # ------------------------------------------------------------------ predict
    def resolve_output(self, choice, name: str = 'test_cfg.branch') -> Union[int, str]:
        """A branch index or ``'ensemble'``; an error naming ``name`` for anything else."""
        return check_branch_index(choice, self.num_branches, name, named=(ENSEMBLE, ))

    def final_outputs(self, feats, which: Sequence[Union[int, str]]) -> Dict:
        """Final outputs of the requested branches / ensemble, computing only what they need
        (one branch: the trunk and that branch)."""
        out = {}
        if ENSEMBLE in which:
            finals = [self.branch_final(feats, t) for t in range(self.num_branches)]
            out.update(enumerate(finals))
            out[ENSEMBLE] = self.ensemble(feats, finals)[0]
        for w in which:
            if w not in out:
                out[w] = self.branch_final(feats, w)
        return {w: out[w] for w in which}

    def _decoder_of(self, output: Union[int, str]):
        return self.decoder if output == ENSEMBLE else self.branch_heads[output].decoder

    def _decode_with(self, decoder, outputs) -> List[InstanceData]:
        # BaseHead.decode reads self.decoder; swap it in for outputs with their own codec.
        saved = self.decoder
        self.decoder = decoder
        try:
            return self.decode(outputs)
        finally:
            self.decoder = saved

    @staticmethod
    def _decodable(output):
        """MMPose's decoders go through numpy, which has no bfloat16."""
        return _each(Tensor.float, output)

    def predict_outputs(self, feats, batch_data_samples: OptSampleList,
                        test_cfg: ConfigType = {}) -> Tuple[Union[int, str], Dict, Dict]:
        """(chosen output, {output: final output (flip-averaged)}, {output: instances})."""
        chosen = self.resolve_output(test_cfg.get('branch', 0))
        which = [chosen]
        if test_cfg.get('output_all', False):
            which = list(range(self.num_branches)) + [ENSEMBLE]
        if test_cfg.get('flip_test', False):
            assert isinstance(feats, list) and len(feats) == 2
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            plain, flipped = (self.final_outputs(f, which) for f in feats)
            outputs = {w: self.average(plain[w], self.flip_back(flipped[w], flip_indices,
                                                                 test_cfg))
                       for w in which}
        else:
            outputs = self.final_outputs(feats, which)
        decoded = {w: self._decode_with(self._decoder_of(w), self._decodable(outputs[w]))
                   for w in which}
        if test_cfg.get('output_all', False):
            for i, inst in enumerate(decoded[chosen]):
                inst.output_keypoints = torch.stack(
                    [torch.as_tensor(decoded[w][i].keypoints) for w in which], dim=1).numpy()
                inst.output_keypoint_scores = torch.stack(
                    [torch.as_tensor(decoded[w][i].keypoint_scores) for w in which],
                    dim=1).numpy()
        return chosen, outputs, decoded

    # ------------------------------------------------------------------ export
    def export_branch(self, index: int) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """Config and state dict of branch ``index`` as one plain MMPose head."""
        index = self.resolve_output(index, 'branch')
        if index == ENSEMBLE:
            raise ValueError('the ensemble is a training-time teacher and has no plain MMPose '
                             'head: export a branch index instead')
        cfg = copy.deepcopy(self.branch_cfgs[index])
        state = self.branch_heads[index].state_dict()
        return cfg, OrderedDict((k, v.detach().clone()) for k, v in state.items())
