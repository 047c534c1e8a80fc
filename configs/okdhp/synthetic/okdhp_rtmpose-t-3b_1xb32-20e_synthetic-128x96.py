# OKDHP for RTMPose-t on the built-in synthetic set (ours): the CSPNeXt-t of
# configs/baseline/synthetic/rtmpose-t_1xb32-20e_synthetic-128x96.py (whose data, schedule and
# student this config inherits) shared up to stage 3, each of the 3 branches its own stage 4
# (MultiBranchCSPNeXt) and RTMCCHead; a light FAU on the shared stage-3 feature; SimCC KL from
# the ensemble with MMPose's own KLDiscretLoss, the GT loss's form and scale. Each branch
# exports as that RTMPose-t. The evidence's RTMPose rows use the stride-16 form beside it.
_base_ = ['../../baseline/synthetic/rtmpose-t_1xb32-20e_synthetic-128x96.py']

data_root = '{{ fileDirname }}/../../../data/synthetic_coco/'
model = dict(
    type='MultiBranchPoseEstimator',
    backbone=dict(_scope_='mmpose', type='MultiBranchCSPNeXt', num_branches=3, shared_stages=3),
    head=dict(_delete_=True, type='MultiBranchRTMCCHead', branches=_base_.model.head,
              num_branches=3, kd_ramp_epochs=12,
              kd_loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                           label_softmax=True),
              fau=dict(type='FeatureAggregationUnit', in_channels=192, mode='light')),
    test_cfg=dict(branch=0, output_all=True))
val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric',
    metric=dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json'))
test_evaluator = val_evaluator
