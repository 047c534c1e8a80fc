# OKDHP for RTMPose-t (ours, beyond the papers): RTMPose's own COCO recipe, the CSPNeXt-t backbone
# shared by 3 branches, each branch RTMPose-t's RTMCCHead; a light FAU on the backbone output
# weighs the branches' SimCC x/y logits per keypoint into an ensemble that teaches every branch
# by SimCC KL (DWPose's logit KD, beta 10), ramped in over 60 % of the schedule as in OKDHP.
# A branch exports as plain RTMPose-t (TopdownPoseEstimator + CSPNeXt + RTMCCHead).
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    type='MultiBranchPoseEstimator',
    head=dict(
        _delete_=True, type='MultiBranchRTMCCHead', branches=_base_.model.head, num_branches=3,
        fau=dict(type='FeatureAggregationUnit', in_channels=_base_.model.head.in_channels,
                 mode='light'),
        kd_ramp_epochs=int(0.6 * _base_.max_epochs)),
    test_cfg=dict(branch=0, output_all=True))
val_evaluator = dict(_delete_=True, type='MultiOutputMetric', metric=_base_.val_evaluator)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, save_best='best_branch/coco/AP'))
