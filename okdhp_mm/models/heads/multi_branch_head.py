"""OKDHP's multi-branch head: per-branch MMPose heatmap heads, FAU ensemble, online KD losses."""
from __future__ import annotations

from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.models.heads import CPMHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from ..utils import heatmap_pck_accuracy
from .multi_branch_base import MultiBranchHeadBase, as_list

__all__ = ['MultiBranchHead']


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
        super().__init__(branches, fau, num_branches, fau_in_index, ensemble_loss, kd_loss,
                         kd_ramp_epochs, detach_ensemble, decoder, init_cfg,
                         shared_head=shared_head)

    # ------------------------------------------------------------------ outputs
    def targets(self, batch_data_samples: OptSampleList) -> Tuple[Tensor, Tensor]:
        gt = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        return gt, weights

    def branch_outputs(self, feats, index: int) -> List[Tensor]:
        """Every supervised heatmap of branch ``index`` (one per stage), last = final."""
        # Called, not .forward(): forward hooks (profilers, recorders) see the branch head.
        return as_list(self.branch_heads[index](self._branch_feats(feats, index)))

    def ensemble(self, feats, finals: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """FAU ensemble of the branches' final heatmaps: (heatmaps, weights (B, T, K))."""
        return self.fau(self._fau_input(feats), list(finals))

    def shape_error(self, name: str, output: Tensor, gt: Tensor) -> Optional[str]:
        if output.shape == gt.shape:
            return None
        return (f'{name} predicts heatmaps of shape {tuple(output.shape)} but the codec '
                f'targets are {tuple(gt.shape)}: set the head\'s deconvs/out_channels to match '
                'the codec heatmap_size')

    def accuracy(self, output: Tensor, gt: Tensor, visible: Tensor) -> Tensor:
        # In torch (no host synchronisation): MMPose's pose_pck_accuracy, same numbers.
        return heatmap_pck_accuracy(output, gt, visible)

    # ------------------------------------------------------------------ predict
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
