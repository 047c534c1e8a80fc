# OKDHP in the MobilePose setting: the whole ResNet-18 encoder is shared, each of the 3
# branches is a full deconvolution decoder (an MMPose HeatmapHead); the FAU reads the encoder
# output. A branch exports as the ResNet-18 SimpleBaseline beside this file.
_base_ = ['./td-hm_res18_1xb16-150e_coco-256x192.py']

model = dict(
    type='MultiBranchPoseEstimator',
    head=dict(
        _delete_=True,
        type='MultiBranchHead',
        branches=dict(type='HeatmapHead', in_channels=512, out_channels=17,
                      loss=dict(type='KeypointMSELoss', use_target_weight=True),
                      decoder={{_base_.codec}}),
        num_branches=3,
        # The released FAU is 256 channels wide: a 1x1 reduction keeps it so on wider encoders.
        fau=dict(type='FeatureAggregationUnit', in_channels=512, mode='official',
                 reduce_channels=256),
        kd_ramp_epochs=90),
    test_cfg=dict(branch=0, output_all=True))

val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric', metric=dict(type='CocoMetric', ann_file='data/coco/annotations/person_keypoints_val2017.json'),
    output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
test_evaluator = val_evaluator
