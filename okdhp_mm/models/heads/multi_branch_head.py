"""OKDHP's multi-branch head: per-branch MMPose heatmap heads, FAU ensemble, online KD losses."""
from __future__ import annotations

import copy
import math
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import ModuleList
from mmengine.structures import InstanceData, PixelData
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads import CPMHead
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from ..backbones.multi_branch_base import MultiBranchFeatures
from ..utils import check_branch_index

ENSEMBLE = 'ensemble'


def kd_ramp_weight(epoch: float, length: float) -> float:
    """The released ramp-up: exp(-5 (1 - min(e, L) / L)^2); 1 when ``length`` <= 0."""
    if length <= 0:
        return 1.0
    progress = min(max(float(epoch), 0.0), float(length)) / float(length)
    return math.exp(-5.0 * (1.0 - progress) ** 2)


def _as_list(x: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
    return [x] if isinstance(x, Tensor) else list(x)


@MODELS.register_module()
class MultiBranchHead(BaseHead):
    """OKDHP head: one MMPose heatmap head per branch, a FAU ensemble, online distillation.

    Loss = Σ over every supervised output o of GT(o) + ensemble_loss(ens, GT)
    + w(e) · Σ_o kd_loss(o ‖ ens), with w(e) = exp(-5 (1 - min(e, L)/L)^2) (``kd_ramp_epochs``
    = L) and ens = Σ_t a_t ⊙ m_t over the branches' *final* heatmaps m_t (the released code
    mixed in branch 2's intermediate map and left branch 0's final map out).

    Args:
        branches (dict | list[dict]): heatmap head config per branch (``HeatmapHead``,
            ``CPMHead``, ... from MMPose); a single dict is repeated ``num_branches`` times.
            Branches may differ (the unbalanced scheme) but must predict the same keypoints.
        num_branches (int, optional): used when ``branches`` is a single dict.
        shared_head (dict, optional): a ``CPMHead`` for the shared trunk stacks of a
            :class:`MultiBranchHourglassNet`; its stages are supervised once (not per branch).
        fau (dict): ``FeatureAggregationUnit`` config; ``num_branches`` and ``num_keypoints``
            are filled in.
        fau_in_index (int): which backbone feature the FAU reads when the backbone returns a
            plain tuple (shared encoder, per-branch decoders). Hourglass backbones hand the
            stem feature over themselves.
        ensemble_loss (dict): GT loss of the ensemble; its ``loss_weight`` is 0.5 λ_ens (λ_ens = 1
            released; MMPose's ``KeypointMSELoss`` lacks the released ``JointsMSELoss``'s 0.5,
            so the branch heads' GT losses should have ``loss_weight=0.5`` too: then the total
            is the released objective).
        kd_loss (dict): distillation loss; its ``loss_weight`` is λ_kd (2).
        kd_ramp_epochs (int): L of the ramp (90).
        detach_ensemble (bool): stop KD gradients into the ensemble (released: False).
        decoder (dict, optional): codec for the ensemble's heatmaps; defaults to branch 0's.

    ``test_cfg`` keys besides MMPose's flip options: ``branch`` (index or ``'ensemble'``,
    default 0) chooses what ``predict`` returns; ``output_all=True`` adds every branch and
    the ensemble as ``output_keypoints`` / ``output_keypoint_scores`` (validation of all
    outputs in one pass, see ``MultiOutputMetric``).
    """

    def __init__(self,
                 branches: Union[ConfigType, Sequence[ConfigType]],
                 fau: ConfigType,
                 num_branches: Optional[int] = None,
                 shared_head: OptConfigType = None,
                 fau_in_index: int = -1,
                 ensemble_loss: ConfigType = dict(
                     type='KeypointMSELoss', use_target_weight=True, loss_weight=0.5),
                 kd_loss: ConfigType = dict(
                     type='PixelKLDivLoss', use_target_weight=True, loss_weight=2.0),
                 kd_ramp_epochs: int = 90,
                 detach_ensemble: bool = False,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None):
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
        keypoints = [b.get('out_channels') for b in self.branch_cfgs]
        if self.shared_head_cfg is not None:
            keypoints.append(self.shared_head_cfg.get('out_channels'))
        if len(set(keypoints)) != 1:
            raise ValueError(f'branch heads predict different keypoint counts {keypoints} '
                             '(out_channels, last one the shared head if any): every branch '
                             'must predict the same keypoints')
        self.num_keypoints = int(keypoints[0])
        # MMEngine's ModuleList, so init_weights reaches every branch head's own init_cfg.
        self.branch_heads = ModuleList([MODELS.build(b) for b in self.branch_cfgs])
        self.shared_head = MODELS.build(self.shared_head_cfg) if shared_head else None
        fau = dict(fau, num_branches=len(branches), num_keypoints=self.num_keypoints)
        self.fau = MODELS.build(fau)
        self.fau_in_index = fau_in_index
        self.ensemble_loss = MODELS.build(ensemble_loss)
        self.kd_loss = MODELS.build(kd_loss)
        self.kd_ramp_epochs = kd_ramp_epochs
        self.detach_ensemble = detach_ensemble
        if decoder is not None:
            from mmpose.registry import KEYPOINT_CODECS
            self.decoder = KEYPOINT_CODECS.build(decoder)
        else:
            self.decoder = self.branch_heads[0].decoder

    @property
    def num_branches(self) -> int:
        return len(self.branch_heads)

    # ------------------------------------------------------------------ forward
    def _branch_feats(self, feats, index: int):
        if isinstance(feats, MultiBranchFeatures):
            return feats.branch(index)
        return feats

    def _fau_input(self, feats) -> Tensor:
        if isinstance(feats, MultiBranchFeatures):
            return feats.fau_input
        return feats[self.fau_in_index]

    def branch_outputs(self, feats, index: int) -> List[Tensor]:
        """Every supervised heatmap of branch ``index`` (one per stage), last = final."""
        return _as_list(self.branch_heads[index].forward(self._branch_feats(feats, index)))

    def shared_outputs(self, feats) -> List[Tensor]:
        if self.shared_head is None or not isinstance(feats, MultiBranchFeatures):
            return []
        return _as_list(self.shared_head.forward(feats.shared))

    def ensemble(self, feats, finals: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """FAU ensemble of the branches' final heatmaps: (heatmaps, weights (B, T, K))."""
        return self.fau(self._fau_input(feats), list(finals))

    def forward(self, feats) -> Dict[str, List[Tensor]]:
        """All outputs: ``{'shared': [...], 'branch0': [...], ..., 'ensemble': [ens]}``."""
        outputs: Dict[str, List[Tensor]] = OrderedDict(shared=self.shared_outputs(feats))
        finals = []
        for t in range(self.num_branches):
            outputs[f'branch{t}'] = self.branch_outputs(feats, t)
            finals.append(outputs[f'branch{t}'][-1])
        outputs[ENSEMBLE] = [self.ensemble(feats, finals)[0]]
        return outputs

    # ------------------------------------------------------------------ loss
    def current_kd_weight(self) -> float:
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return kd_ramp_weight(epoch, self.kd_ramp_epochs)

    @staticmethod
    def _loss_fn(head: nn.Module, stage: int) -> nn.Module:
        loss_module = head.loss_module
        return loss_module[stage] if isinstance(loss_module, nn.ModuleList) else loss_module

    def loss(self, feats, batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        gt = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        shared = self.shared_outputs(feats)
        per_branch = [self.branch_outputs(feats, t) for t in range(self.num_branches)]
        for name, maps in [('shared', shared)] + [(f'branch{t}', m)
                                                  for t, m in enumerate(per_branch)]:
            for m in maps:
                if m.shape != gt.shape:
                    raise ValueError(f'{name} predicts heatmaps of shape {tuple(m.shape)} but '
                                     f'the codec targets are {tuple(gt.shape)}: set the head\'s '
                                     'deconvs/out_channels to match the codec heatmap_size')
        ens, fau_weights = self.ensemble(feats, [m[-1] for m in per_branch])
        target = ens.detach() if self.detach_ensemble else ens
        kd_w = self.current_kd_weight()

        losses = dict()
        if shared:
            losses['loss_gt_shared'] = sum(
                self._loss_fn(self.shared_head, i)(m, gt, weights) for i, m in enumerate(shared))
            losses['loss_kd_shared'] = kd_w * sum(self.kd_loss(m, target, weights)
                                                  for m in shared)
        for t, maps in enumerate(per_branch):
            head = self.branch_heads[t]
            losses[f'loss_gt_b{t}'] = sum(
                self._loss_fn(head, i)(m, gt, weights) for i, m in enumerate(maps))
            losses[f'loss_kd_b{t}'] = kd_w * sum(self.kd_loss(m, target, weights) for m in maps)
            # .float(): numpy has no bfloat16 (bf16 autocast / AmpOptimWrapper(dtype=bf16))
            _, acc, _ = pose_pck_accuracy(output=to_numpy(maps[-1].float()),
                                          target=to_numpy(gt.float()),
                                          mask=to_numpy(weights) > 0)
            losses[f'acc_pose_b{t}'] = torch.tensor(acc, device=gt.device)
        losses['loss_gt_ens'] = self.ensemble_loss(ens, gt, weights)
        _, acc, _ = pose_pck_accuracy(output=to_numpy(ens.float()),
                                      target=to_numpy(gt.float()), mask=to_numpy(weights) > 0)
        losses['acc_pose_ens'] = torch.tensor(acc, device=gt.device)
        losses['kd_weight'] = torch.tensor(kd_w, device=gt.device)
        return losses

    # ------------------------------------------------------------------ predict
    def resolve_output(self, choice, name: str = 'test_cfg.branch') -> Union[int, str]:
        """A branch index or ``'ensemble'``; an error naming ``name`` for anything else."""
        return check_branch_index(choice, self.num_branches, name, named=(ENSEMBLE, ))

    def final_heatmaps(self, feats, which: Sequence[Union[int, str]]) -> Dict:
        """Final heatmaps of the requested outputs, computing only what they need."""
        out = {}
        if ENSEMBLE in which:
            finals = [self.branch_outputs(feats, t)[-1] for t in range(self.num_branches)]
            out.update(enumerate(finals))
            out[ENSEMBLE] = self.ensemble(feats, finals)[0]
        for w in which:
            if w not in out:
                out[w] = self.branch_outputs(feats, w)[-1]
        return {w: out[w] for w in which}

    def _decoder_of(self, output: Union[int, str]):
        return self.decoder if output == ENSEMBLE else self.branch_heads[output].decoder

    def predict(self, feats, batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Union[List[InstanceData], Tuple]:
        chosen = self.resolve_output(test_cfg.get('branch', 0))
        which = [chosen]
        if test_cfg.get('output_all', False):
            which = list(range(self.num_branches)) + [ENSEMBLE]
        if test_cfg.get('flip_test', False):
            assert isinstance(feats, list) and len(feats) == 2
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            plain, flipped = (self.final_heatmaps(f, which) for f in feats)
            heatmaps = {
                w: (plain[w] + flip_heatmaps(
                    flipped[w], flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                    flip_indices=flip_indices,
                    shift_heatmap=test_cfg.get('shift_heatmap', False))) * 0.5
                for w in which
            }
        else:
            heatmaps = self.final_heatmaps(feats, which)

        decoded = {}
        for w in which:
            # MMPose's decoders go through numpy, which has no bfloat16
            decoded[w] = self._decode_with(self._decoder_of(w), heatmaps[w].float())
        preds = decoded[chosen]
        if test_cfg.get('output_all', False):
            for i, inst in enumerate(preds):
                inst.output_keypoints = torch.stack(
                    [torch.as_tensor(decoded[w][i].keypoints) for w in which], dim=1).numpy()
                inst.output_keypoint_scores = torch.stack(
                    [torch.as_tensor(decoded[w][i].keypoint_scores) for w in which],
                    dim=1).numpy()
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps[chosen].detach()]
        return preds

    def _decode_with(self, decoder, heatmaps: Tensor) -> List[InstanceData]:
        # BaseHead.decode reads self.decoder; swap it in for outputs with their own codec.
        saved = self.decoder
        self.decoder = decoder
        try:
            return self.decode(heatmaps)
        finally:
            self.decoder = saved

    # ------------------------------------------------------------------ export
    def export_branch(self, index: int) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """Config and state dict of branch ``index`` as one plain MMPose head.

        With a shared head (hourglass trunk), the shared stages and the branch's stages become
        one ``CPMHead`` with ``num_stages`` = shared + branch stages.
        """
        index = self.resolve_output(index, 'branch')
        if index == ENSEMBLE:
            raise ValueError('the ensemble is a training-time teacher and has no plain MMPose '
                             'head: export a branch index instead')
        cfg = copy.deepcopy(self.branch_cfgs[index])
        branch_state = self.branch_heads[index].state_dict()
        if self.shared_head is None:
            return cfg, OrderedDict((k, v.detach().clone()) for k, v in branch_state.items())
        if not (isinstance(self.shared_head, CPMHead)
                and isinstance(self.branch_heads[index], CPMHead)):
            raise ValueError('a shared head can only be merged into a plain model when both it '
                             f'and the branches are CPMHeads (got {self.shared_head_cfg.get("type")} '
                             f'and {cfg.get("type")})')
        n_shared = self.shared_head.num_stages
        cfg['num_stages'] = n_shared + self.branch_heads[index].num_stages
        state = OrderedDict()
        for sd, offset in ((self.shared_head.state_dict(), 0), (branch_state, n_shared)):
            for key, value in sd.items():
                parts = key.split('.')
                if parts[0] in ('multi_deconv_layers', 'multi_final_layers'):
                    parts[1] = str(int(parts[1]) + offset)
                elif offset and parts[0] == 'loss_module':
                    continue
                state['.'.join(parts)] = value.detach().clone()
        return cfg, state
