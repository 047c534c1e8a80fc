"""Top-down estimator for multi-branch (OKDHP) networks: every output in one pass, export."""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Optional, Tuple

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import InstanceList, OptConfigType, PixelDataList, SampleList
from torch import Tensor

from ..backbones.multi_branch_base import MultiBranchBackbone
from ..utils import ExportableStudent, ExportsBranch, check_branch_index

# test_cfg keys that only make sense for the multi-branch model.
_MULTI_BRANCH_TEST_KEYS = ('branch', 'output_all')


@MODELS.register_module()
class MultiBranchPoseEstimator(TopdownPoseEstimator, ExportableStudent):
    """``TopdownPoseEstimator`` whose head has several outputs (branches and an ensemble).

    Training and prediction are MMPose's; in addition, every output's keypoints
    (``output_keypoints`` from ``test_cfg.output_all``) are mapped to image space like the main
    ones, and :meth:`export_student` turns one branch into a plain MMPose model.
    """

    def __init__(self, backbone: dict, neck: OptConfigType = None, head: OptConfigType = None,
                 train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg=None,
                 metainfo: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        self._cfgs = dict(backbone=copy.deepcopy(backbone), neck=copy.deepcopy(neck),
                          data_preprocessor=copy.deepcopy(data_preprocessor))
        # Configuration errors that would otherwise surface at the first forward (FAU) or
        # the first validation (branch): fail while building, naming the value and the fix.
        if 'branch' in self.test_cfg:
            self.head.resolve_output(self.test_cfg['branch'])
        self._check_fau_channels()

    def _check_fau_channels(self) -> None:
        """``head.fau.in_channels`` must be the width of the feature the FAU reads."""
        fau = getattr(self.head, 'fau', None)
        if fau is None:
            return
        if isinstance(self.backbone, MultiBranchBackbone):
            # MultiBranchFeatures.fau_input: the stem feature of the hourglass backbones.
            expected = self.backbone.fau_channels
            what = 'the hourglass stem feature'
        else:
            # Shared encoder: the FAU reads feats[fau_in_index]; with the default -1 that is
            # the feature every branch head reads (feats[-1]), of the heads' in_channels.
            widths = {getattr(h, 'in_channels', None) for h in self.head.branch_heads}
            if self.head.fau_in_index != -1 or len(widths) != 1:
                return
            expected = widths.pop()
            if not isinstance(expected, int):
                return
            what = 'the feature the branch heads read (their in_channels)'
        if fau.in_channels != expected:
            raise ValueError(
                f'head.fau.in_channels={fau.in_channels} but the FAU reads {what}, which has '
                f'{expected} channels: set fau=dict(..., in_channels={expected})')

    def add_pred_to_datasample(self, batch_pred_instances: InstanceList,
                               batch_pred_fields: Optional[PixelDataList],
                               batch_data_samples: SampleList) -> SampleList:
        for inst, sample in zip(batch_pred_instances, batch_data_samples):
            if 'output_keypoints' in inst:
                # Same crop -> image mapping that the parent applies to `keypoints`.
                meta = sample.metainfo
                kpts = inst.output_keypoints
                kpts[..., :2] = (kpts[..., :2] / meta['input_size'] * meta['input_scale'] +
                                 meta['input_center'] - 0.5 * meta['input_scale'])
        return super().add_pred_to_datasample(batch_pred_instances, batch_pred_fields,
                                              batch_data_samples)

    @property
    def num_students(self) -> int:
        return self.head.num_branches

    def export_student(self, index: int = 0) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """(plain MMPose model config, state dict) of branch ``index``.

        The config uses MMPose's own types only (``TopdownPoseEstimator`` + the branch's
        backbone and head), so the student loads without this package.
        """
        index = check_branch_index(index, self.num_students)
        state = OrderedDict()
        if isinstance(self.backbone, ExportsBranch):
            backbone_cfg, backbone_sd = self.backbone.export_branch(index)
        else:
            backbone_cfg, backbone_sd = copy.deepcopy(self._cfgs['backbone']), \
                self.backbone.state_dict()
        # Weights come from the checkpoint: never point the student at a download.
        backbone_cfg['init_cfg'] = None
        head_cfg, head_sd = self.head.export_branch(index)
        head_cfg.pop('init_cfg', None)
        cfg = dict(type='TopdownPoseEstimator',
                   data_preprocessor=copy.deepcopy(self._cfgs['data_preprocessor']),
                   backbone=backbone_cfg, head=head_cfg,
                   test_cfg={k: v for k, v in copy.deepcopy(dict(self.test_cfg)).items()
                             if k not in _MULTI_BRANCH_TEST_KEYS})
        state.update(('backbone.' + k, v.detach().clone()) for k, v in backbone_sd.items())
        if self.with_neck:
            cfg['neck'] = copy.deepcopy(self._cfgs['neck'])
            state.update(('neck.' + k, v.detach().clone())
                         for k, v in self.neck.state_dict().items())
        state.update(('head.' + k, v) for k, v in head_sd.items())
        return cfg, state
