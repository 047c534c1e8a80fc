# OKDHP, unbalanced: stem + 2 shared stacks + branches of 2, 4 and 6 stacks (a 4-stack target
# branch, 6- and 8-stack auxiliary branches). Branch 0 exports as the 4-stack baseline beside.
_base_ = ['./td-hm_hourglass4-paper_1xb16-150e_coco-256x192.py']

model = dict(
    type='MultiBranchPoseEstimator',
    backbone=dict(
        _delete_=True, type='MultiBranchHourglassNet', num_shared_stacks=2,
        branch_stacks=(2, 4, 6), downsample_times=4, stage_channels=(256, ) * 5, stage_blocks=(1, ) * 5),
    head=dict(
        _delete_=True,
        type='MultiBranchHead',
        shared_head=dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=2,
                         deconv_out_channels=None),
        branches=[
            dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=2, deconv_out_channels=None, decoder={{_base_.codec}}),
            dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=4, deconv_out_channels=None, decoder={{_base_.codec}}),
            dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=6, deconv_out_channels=None, decoder={{_base_.codec}})
        ],
        fau=dict(type='FeatureAggregationUnit', in_channels=256, mode='official'),
        kd_ramp_epochs=90),
    test_cfg=dict(branch=0, output_all=True))

val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric', metric=dict(type='CocoMetric', ann_file='data/coco/annotations/person_keypoints_val2017.json'),
    output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
test_evaluator = val_evaluator
