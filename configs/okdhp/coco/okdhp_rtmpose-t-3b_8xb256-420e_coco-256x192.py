# OKDHP for RTMPose-t (ours, beyond the papers): RTMPose's own COCO recipe, the CSPNeXt-t shared
# up to stage 3 and each of the 3 branches its own stage 4 (MultiBranchCSPNeXt) and RTMPose-t's
# RTMCCHead; a light FAU on the shared stage-3 feature weighs the branches' SimCC x/y logits per
# keypoint into an ensemble that teaches every branch by SimCC KL (MMPose's KLDiscretLoss,
# beta 10: the GT loss's own form and scale), ramped in over 60 % of the schedule as in OKDHP.
# A branch exports as plain RTMPose-t (TopdownPoseEstimator + CSPNeXt + RTMCCHead).
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    type='MultiBranchPoseEstimator',
    backbone=dict(_scope_='mmpose', type='MultiBranchCSPNeXt', num_branches=3, shared_stages=3),
    head=dict(
        _delete_=True, type='MultiBranchRTMCCHead', branches=_base_.model.head, num_branches=3,
        fau=dict(type='FeatureAggregationUnit', in_channels=_base_.model.head.in_channels // 2,
                 mode='light'),
        kd_loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
        kd_ramp_epochs=int(0.6 * _base_.max_epochs)),
    test_cfg=dict(branch=0, output_all=True))
val_evaluator = dict(_delete_=True, type='MultiOutputMetric', metric=_base_.val_evaluator)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, save_best='best_branch/coco/AP'))
