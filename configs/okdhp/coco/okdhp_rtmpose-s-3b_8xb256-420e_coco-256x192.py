# OKDHP for RTMPose-s (ours, beyond the papers): RTMPose-s's own COCO recipe with the changes of
# okdhp_rtmpose-t-3b beside this file (shared CSPNeXt-s, 3 RTMCCHead branches, light FAU on the
# backbone output, SimCC KL from the ensemble, OKDHP's ramp). A branch exports as RTMPose-s.
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    type='MultiBranchPoseEstimator',
    head=dict(_delete_=True, type='MultiBranchRTMCCHead', branches=_base_.model.head,
              num_branches=3, kd_ramp_epochs=int(0.6 * _base_.max_epochs),
              fau=dict(type='FeatureAggregationUnit', mode='light',
                       in_channels=_base_.model.head.in_channels)),
    test_cfg=dict(branch=0, output_all=True))
test_evaluator = val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric', metric=_base_.val_evaluator)
default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, save_best='best_branch/coco/AP'))
