"""OKDHP's multi-branch head: per-branch MMPose heatmap heads, FAU ensemble, online KD losses."""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.models.heads import CPMHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from ..backbones.multi_branch_base import MultiBranchFeatures
from ..utils import heatmap_pck_accuracy
from .multi_branch_base import ENSEMBLE, MultiBranchHeadBase, kd_ramp_weight

__all__ = ['ENSEMBLE', 'MultiBranchHead', 'kd_ramp_weight']


def _as_list(x: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
    return [x] if isinstance(x, Tensor) else list(x)


@MODELS.register_module()
class MultiBranchHead(MultiBranchHeadBase):
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
        self.shared_head_cfg = copy.deepcopy(dict(shared_head)) if shared_head else None
        super().__init__(branches, fau, num_branches, fau_in_index, kd_loss, kd_ramp_epochs,
                         detach_ensemble, decoder, init_cfg,
                         extra_keypoint_cfgs=[self.shared_head_cfg] if shared_head else [])
        self.shared_head = MODELS.build(self.shared_head_cfg) if shared_head else None
        self.ensemble_loss = MODELS.build(ensemble_loss)
        self._build_shared_parts()

    # ------------------------------------------------------------------ forward
    def branch_outputs(self, feats, index: int) -> List[Tensor]:
        """Every supervised heatmap of branch ``index`` (one per stage), last = final."""
        return _as_list(self.branch_heads[index].forward(self._branch_feats(feats, index)))

    def branch_final(self, feats, index: int) -> Tensor:
        return self.branch_outputs(feats, index)[-1]

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
        visible = weights > 0

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
            # In torch (no host synchronisation): MMPose's pose_pck_accuracy, same numbers.
            losses[f'acc_pose_b{t}'] = heatmap_pck_accuracy(maps[-1], gt, visible)
        losses['loss_gt_ens'] = self.ensemble_loss(ens, gt, weights)
        losses['acc_pose_ens'] = heatmap_pck_accuracy(ens, gt, visible)
        # torch.full, not torch.tensor: no host-to-device copy (a stream sync on CUDA).
        losses['kd_weight'] = torch.full((), kd_w, dtype=torch.float32, device=gt.device)
        return losses

    # ------------------------------------------------------------------ predict
    def final_heatmaps(self, feats, which: Sequence[Union[int, str]]) -> Dict:
        """Final heatmaps of the requested outputs, computing only what they need."""
        return self.final_outputs(feats, which)

    def flip_back(self, flipped: Tensor, flip_indices: Sequence[int], test_cfg: dict) -> Tensor:
        return flip_heatmaps(flipped, flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                             flip_indices=flip_indices,
                             shift_heatmap=test_cfg.get('shift_heatmap', False))

    def predict(self, feats, batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Union[List[InstanceData], Tuple]:
        chosen, heatmaps, decoded = self.predict_outputs(feats, batch_data_samples, test_cfg)
        preds = decoded[chosen]
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps[chosen].detach()]
        return preds

    # ------------------------------------------------------------------ export
    def export_branch(self, index: int) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """Config and state dict of branch ``index`` as one plain MMPose head.

        With a shared head (hourglass trunk), the shared stages and the branch's stages become
        one ``CPMHead`` with ``num_stages`` = shared + branch stages.
        """
        cfg, branch_state = super().export_branch(index)
        if self.shared_head is None:
            return cfg, branch_state
        index = self.resolve_output(index, 'branch')
        if not (isinstance(self.shared_head, CPMHead)
                and isinstance(self.branch_heads[index], CPMHead)):
            raise ValueError('a shared head can only be merged into a plain model when both it '
                             f'and the branches are CPMHeads (got '
                             f'{self.shared_head_cfg.get("type")} and {cfg.get("type")})')
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
