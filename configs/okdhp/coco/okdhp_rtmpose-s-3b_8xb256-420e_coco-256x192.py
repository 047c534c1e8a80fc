# OKDHP for RTMPose-s (ours, beyond the papers): RTMPose-s's own COCO recipe with the changes of
# okdhp_rtmpose-t-3b beside this file (CSPNeXt-s shared up to stage 3, each of 3 branches its
# own stage 4 and RTMCCHead, light FAU on the shared stage-3 feature, SimCC KL from the
# ensemble on the GT loss's scale, OKDHP's ramp). A branch exports as RTMPose-s.
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    type='MultiBranchPoseEstimator',
    backbone=dict(_scope_='mmpose', type='MultiBranchCSPNeXt', num_branches=3, shared_stages=3),
    head=dict(_delete_=True, type='MultiBranchRTMCCHead', branches=_base_.model.head,
              num_branches=3, kd_ramp_epochs=int(0.6 * _base_.max_epochs),
              kd_loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                           label_softmax=True),
              fau=dict(type='FeatureAggregationUnit', mode='light',
                       in_channels=_base_.model.head.in_channels // 2)),
    test_cfg=dict(branch=0, output_all=True))
test_evaluator = val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric', metric=_base_.val_evaluator)
default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, save_best='best_branch/coco/AP'))
