# OKDHP for RTMPose-t on the built-in synthetic set (ours): the CSPNeXt-t of
# configs/baseline/synthetic/rtmpose-t_1xb32-20e_synthetic-128x96.py (whose data, schedule and
# student this config inherits) shared by 3 RTMCCHead branches, a light FAU on its output, SimCC
# KL from the ensemble. Each branch exports as that RTMPose-t. Used by tools/evidence.py.
_base_ = ['../../baseline/synthetic/rtmpose-t_1xb32-20e_synthetic-128x96.py']

data_root = '{{ fileDirname }}/../../../data/synthetic_coco/'
model = dict(
    type='MultiBranchPoseEstimator',
    head=dict(_delete_=True, type='MultiBranchRTMCCHead', branches=_base_.model.head,
              num_branches=3, kd_ramp_epochs=12,
              fau=dict(type='FeatureAggregationUnit', in_channels=384, mode='light')),
    test_cfg=dict(branch=0, output_all=True))
val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric',
    metric=dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json'))
test_evaluator = val_evaluator
