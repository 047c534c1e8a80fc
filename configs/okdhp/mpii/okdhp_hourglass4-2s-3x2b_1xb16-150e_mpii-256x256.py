# OKDHP, balanced: stem + 2 shared stacks + 3 branches x 2 stacks. Every branch is the
# 4-stack hourglass of the baseline beside this file; the FAU ensembles the branches' final
# heatmaps (official FAU on the stem feature) and teaches every stack through pixel-wise KL.
_base_ = ['./td-hm_hourglass4-paper_1xb16-150e_mpii-256x256.py']

model = dict(
    type='MultiBranchPoseEstimator',
    backbone=dict(
        _delete_=True, type='MultiBranchHourglassNet', num_shared_stacks=2,
        branch_stacks=(2, 2, 2), downsample_times=4, stage_channels=(256, ) * 5, stage_blocks=(1, ) * 5),
    head=dict(
        _delete_=True,
        type='MultiBranchHead',
        shared_head=dict(type='CPMHead', in_channels=256, out_channels=16, num_stages=2,
                         deconv_out_channels=None,
                         loss=dict(type='KeypointMSELoss', use_target_weight=True)),
        branches=dict(type='CPMHead', in_channels=256, out_channels=16, num_stages=2,
                      deconv_out_channels=None,
                      loss=dict(type='KeypointMSELoss', use_target_weight=True),
                      decoder={{_base_.codec}}),
        num_branches=3,
        fau=dict(type='FeatureAggregationUnit', in_channels=256, mode='official'),
        ensemble_loss=dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=1.0),
        kd_loss=dict(type='PixelKLDivLoss', use_target_weight=True, loss_weight=2.0),
        kd_ramp_epochs=90),
    test_cfg=dict(branch=0, output_all=True))

val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric', metric=dict(type='MpiiPCKAccuracy'),
    output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
test_evaluator = val_evaluator
