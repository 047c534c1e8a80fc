# A tiny OKDHP hourglass (1 shared + 3 x 1 stacks, depth 2) on the real COCO samples: a smoke
# config for `mim train` / `mim test` and the export round trip. Far too little data to learn.
_base_ = ['../../_base_/coco_samples_smoke.py']
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop', max_epochs=2,
                 val_interval=1)

data_root = '{{ fileDirname }}/../../../../shared/data/mmpose_samples/coco/'
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1)
hourglass = dict(downsample_times=2, stage_channels=(256, 128, 128), stage_blocks=(1, 1, 1),
                 feat_channel=64)
model = dict(
    type='MultiBranchPoseEstimator',
    backbone=dict(type='MultiBranchHourglassNet', num_shared_stacks=1, branch_stacks=(1, 1, 1),
                  **hourglass),
    head=dict(
        type='MultiBranchHead',
        shared_head=dict(type='CPMHead', in_channels=64, out_channels=17, num_stages=1,
                         deconv_out_channels=None),
        branches=dict(type='CPMHead', in_channels=64, out_channels=17, num_stages=1,
                      deconv_out_channels=None, decoder=codec),
        num_branches=3,
        fau=dict(type='FeatureAggregationUnit', in_channels=256, mode='light'),
        kd_ramp_epochs=2),
    test_cfg=dict(flip_test=True, branch=0, output_all=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric',
    metric=dict(type='CocoMetric', ann_file=data_root + 'test_coco.json'))
test_evaluator = val_evaluator
