"""What every OKDHP multi-branch head shares, whatever its branches predict.

A multi-branch head holds one MMPose head per branch, a Feature Aggregation Unit that weighs
the branches' final outputs into an ensemble, a distillation loss from the ensemble to every
output with the released ramp, and the prediction logic: one chosen output (a branch or the
ensemble), or every output at once for validation (``test_cfg.output_all``), with MMPose's
flip test. Subclasses say what an output is (heatmaps: :class:`MultiBranchHead`; SimCC x/y
vectors: :class:`MultiBranchRTMCCHead`) and how its loss, flip and decoding work.
"""
from __future__ import annotations

import copy
import math
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import ModuleList
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from ..backbones.multi_branch_base import MultiBranchFeatures
from ..utils import check_branch_index

__all__ = ['ENSEMBLE', 'MultiBranchHeadBase', 'kd_ramp_weight']

ENSEMBLE = 'ensemble'


def kd_ramp_weight(epoch: float, length: float) -> float:
    """The released ramp-up: exp(-5 (1 - min(e, L) / L)^2); 1 when ``length`` <= 0."""
    if length <= 0:
        return 1.0
    progress = min(max(float(epoch), 0.0), float(length)) / float(length)
    return math.exp(-5.0 * (1.0 - progress) ** 2)


class MultiBranchHeadBase(BaseHead):
    """Branch heads, FAU, KD loss and ramp, branch choice, prediction and export.

    Args:
        branches (dict | list[dict]): one MMPose head config per branch; a single dict is
            repeated ``num_branches`` times. Branches may differ (the unbalanced scheme) but
            must predict the same keypoints.
        fau (dict): ``FeatureAggregationUnit`` config (``num_branches`` and ``num_keypoints``
            are filled in).
        num_branches (int, optional): used when ``branches`` is a single dict.
        fau_in_index (int): which backbone feature the FAU reads when the backbone returns a
            plain tuple (a shared encoder); multi-branch backbones hand theirs over.
        kd_loss (dict): distillation loss, ``loss_weight`` = lambda_kd.
        kd_ramp_epochs (int): L of the ramp ``exp(-5 (1 - min(e, L) / L)^2)``.
        detach_ensemble (bool): stop KD gradients into the ensemble (released: False).
        decoder (dict, optional): codec of the ensemble's outputs; defaults to branch 0's.
        extra_keypoint_cfgs (list[dict]): other head configs whose ``out_channels`` must agree
            (a shared head).
    """

    def __init__(self, branches: Union[ConfigType, Sequence[ConfigType]], fau: ConfigType,
                 num_branches: Optional[int], fau_in_index: int, kd_loss: ConfigType,
                 kd_ramp_epochs: int, detach_ensemble: bool, decoder: OptConfigType,
                 init_cfg: OptConfigType, extra_keypoint_cfgs: Sequence[dict] = ()):
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
        keypoints = [b.get('out_channels') for b in self.branch_cfgs] + [
            c.get('out_channels') for c in extra_keypoint_cfgs]
        if len(set(keypoints)) != 1:
            raise ValueError(f'branch heads predict different keypoint counts {keypoints} '
                             '(out_channels, last one the shared head if any): every branch '
                             'must predict the same keypoints')
        self.num_keypoints = int(keypoints[0])
        # MMEngine's ModuleList, so init_weights reaches every branch head's own init_cfg.
        self.branch_heads = ModuleList([MODELS.build(b) for b in self.branch_cfgs])
        self._fau_cfg = dict(fau, num_branches=len(branches), num_keypoints=self.num_keypoints)
        self.fau_in_index = fau_in_index
        self._kd_loss_cfg = kd_loss
        self.kd_ramp_epochs = kd_ramp_epochs
        self.detach_ensemble = detach_ensemble
        self._decoder_cfg = decoder

    def _build_shared_parts(self) -> None:
        """FAU, losses and decoder, built after the subclass's own modules (the order keeps
        the random initialisation of earlier releases)."""
        self.fau = MODELS.build(self._fau_cfg)
        self.kd_loss = MODELS.build(self._kd_loss_cfg)
        self.decoder = KEYPOINT_CODECS.build(self._decoder_cfg) \
            if self._decoder_cfg is not None else self.branch_heads[0].decoder

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
    def branch_final(self, feats, index: int) -> Any:
        """The final output of branch ``index`` (what enters the ensemble)."""
        raise NotImplementedError

    def ensemble(self, feats, finals: Sequence[Any]) -> Tuple[Any, Tensor]:
        """(ensemble output, FAU weights ``(B, T, K)``) of the branches' final outputs."""
        raise NotImplementedError

    def flip_back(self, flipped: Any, flip_indices: Sequence[int], test_cfg: dict) -> Any:
        """An output of the flipped image, mapped back onto the original."""
        raise NotImplementedError

    @staticmethod
    def average(a: Any, b: Any) -> Any:
        if isinstance(a, tuple):
            return tuple((x + y) * 0.5 for x, y in zip(a, b))
        return (a + b) * 0.5

    # ------------------------------------------------------------------ loss
    def current_kd_weight(self) -> float:
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return kd_ramp_weight(epoch, self.kd_ramp_epochs)

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
        if isinstance(output, tuple):
            return tuple(o.float() for o in output)
        return output.float()

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
