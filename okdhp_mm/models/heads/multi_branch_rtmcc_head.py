"""OKDHP for RTMPose: per-branch ``RTMCCHead``s, a FAU ensemble of SimCC logits, online KD.

Beyond the papers (ours): OKDHP's one-stage distillation applied to RTMPose's SimCC students.
Each branch is one MMPose ``RTMCCHead`` (on a shared CSPNeXt, or on per-branch later stages of
:class:`~okdhp_mm.models.backbones.MultiBranchCSPNeXt`); the Feature Aggregation Unit weighs
the branches' x and y logits per keypoint (the same weights for x and y, from the shared
feature); every branch learns from the ground truth with its own ``KLDiscretLoss`` and from
the ensemble by ``kd_loss`` (our configs: MMPose's ``KLDiscretLoss`` on the GT loss's scale;
:class:`~okdhp_mm.models.losses.SimCCKLDivLoss`, DWPose's logit KD, by default), ramped in as
in OKDHP. A branch exports as a plain RTMPose model.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.codecs.utils import get_simcc_normalized
from mmpose.models.utils.tta import flip_vectors
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from ..utils import simcc_pck_accuracy
from .multi_branch_base import MultiBranchHeadBase

__all__ = ['MultiBranchRTMCCHead']

SimCC = Tuple[Tensor, Tensor]


@MODELS.register_module()
class MultiBranchRTMCCHead(MultiBranchHeadBase):
    """One ``RTMCCHead`` per branch, FAU ensemble of SimCC logits, online SimCC KL.

    Loss = sum_t KLDiscret(branch_t, GT) + ensemble_loss(ens, GT)
    + lambda_kd w(e) sum_t kd_loss(branch_t || ens), ens = (sum_t a_t x_t, sum_t a_t y_t).

    Args:
        branches (dict | list[dict]): ``RTMCCHead`` config(s); branches may differ (e.g. in
            ``gau_cfg.hidden_dims``: the unbalanced form) but predict the same keypoints.
        fau (dict): ``FeatureAggregationUnit`` config; it reads the shared feature
            (``fau_in_index`` of a shared backbone's outputs, or the multi-branch backbone's).
        ensemble_loss (dict): GT loss of the ensemble (RTMPose's ``KLDiscretLoss``).
        kd_loss (dict): ``SimCCKLDivLoss`` (beta 10 as RTMPose's GT loss) or MMPose's
            ``KLDiscretLoss`` (the GT loss's form and scale).
        kd_loss_weight (float): lambda_kd, multiplying ``kd_loss`` (MMPose's
            ``KLDiscretLoss`` has no ``loss_weight``); 0 trains the same network without KD.
        Others as :class:`MultiBranchHeadBase`.

    ``test_cfg``: ``branch``, ``output_all`` as ``MultiBranchHead``; MMPose's ``flip_test``.
    """

    def __init__(self,
                 branches: Union[ConfigType, Sequence[ConfigType]],
                 fau: ConfigType,
                 num_branches: Optional[int] = None,
                 fau_in_index: int = -1,
                 ensemble_loss: ConfigType = dict(type='KLDiscretLoss', use_target_weight=True,
                                                  beta=10., label_softmax=True),
                 kd_loss: ConfigType = dict(type='SimCCKLDivLoss', beta=10., loss_weight=1.0),
                 kd_ramp_epochs: int = 250,
                 detach_ensemble: bool = False,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 kd_loss_weight: float = 1.0):
        if kd_loss_weight < 0:
            raise ValueError(f'kd_loss_weight must be >= 0 (0: no KD), got {kd_loss_weight}')
        super().__init__(branches, fau, num_branches, fau_in_index, ensemble_loss, kd_loss,
                         kd_ramp_epochs, detach_ensemble, decoder, init_cfg)
        self.kd_loss_weight = float(kd_loss_weight)
        self.simcc_split_ratio = float(self.branch_heads[0].simcc_split_ratio)

    def current_kd_weight(self) -> float:
        """lambda_kd times the ramp: what multiplies every ``loss_kd_*`` (logged as
        ``kd_weight``)."""
        return self.kd_loss_weight * super().current_kd_weight()

    # ------------------------------------------------------------------ outputs
    def targets(self, batch_data_samples: OptSampleList) -> Tuple[SimCC, Tensor]:
        gt = tuple(torch.cat([getattr(d.gt_instance_labels, f'keypoint_{a}_labels')
                              for d in batch_data_samples]) for a in 'xy')
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        return gt, weights

    def branch_outputs(self, feats, index: int) -> List[SimCC]:
        """Branch ``index``'s one supervised output, ``[(x, y)]``: an ``RTMCCHead`` has one
        stage."""
        # Called, not .forward(): forward hooks (profilers, recorders) see the branch head.
        return [tuple(self.branch_heads[index](self._branch_feats(feats, index)))]

    def ensemble(self, feats, finals: Sequence[SimCC]) -> Tuple[SimCC, Tensor]:
        """FAU ensemble of the branches' (x, y) logits: ((ens_x, ens_y), weights (B, T, K))."""
        weights = self.fau.compute_weights(self._fau_input(feats))
        ens = tuple(self.fau.aggregate([f[i] for f in finals], weights) for i in (0, 1))
        return ens, weights

    def shape_error(self, name: str, output: SimCC, gt: SimCC) -> Optional[str]:
        (x, y), (gt_x, gt_y) = output, gt
        if x.shape == gt_x.shape and y.shape == gt_y.shape:
            return None
        return (f'{name} predicts SimCC vectors {tuple(x.shape)} / {tuple(y.shape)} but the '
                f'codec targets are {tuple(gt_x.shape)} / {tuple(gt_y.shape)}: the heads\' '
                'input_size and simcc_split_ratio must match the codec')

    def accuracy(self, output: SimCC, gt: SimCC, visible: Tensor) -> Tensor:
        return simcc_pck_accuracy(output, gt, self.simcc_split_ratio, visible)

    def pack_outputs(self, outputs: Dict[str, List[Any]]) -> Dict[str, SimCC]:
        """``{'branch0': (x, y), ..., 'ensemble': (x, y)}``: one output each, no shared head."""
        return {name: outs[-1] for name, outs in outputs.items() if name != 'shared'}

    # ------------------------------------------------------------------ predict
    def flip_back(self, flipped: SimCC, flip_indices: Sequence[int], test_cfg: dict) -> SimCC:
        return flip_vectors(flipped[0], flipped[1], flip_indices=flip_indices)

    def predict(self, feats, batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Union[List[InstanceData], Tuple]:
        chosen, outputs, decoded = self.predict_outputs(feats, batch_data_samples, test_cfg)
        preds = decoded[chosen]
        if not test_cfg.get('output_heatmaps', False):
            return preds
        # As RTMCCHead: the outer product of the normalised 1-D distributions, for display.
        x, y = (get_simcc_normalized(v.float()) for v in outputs[chosen])
        maps = torch.matmul(y.unsqueeze(-1), x.unsqueeze(-2))
        return preds, [PixelData(heatmaps=hm) for hm in maps.detach()]
