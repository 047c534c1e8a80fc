# OKDHP in the MobilePose setting: the whole MobileNetV2 encoder is shared, each of the 3
# branches is a full deconvolution decoder (an MMPose HeatmapHead); the FAU reads the encoder
# output. A branch exports as the MobileNetV2 SimpleBaseline beside this file.
_base_ = ['./td-hm_mobilenetv2_1xb16-150e_mpii-256x256.py']

model = dict(
    type='MultiBranchPoseEstimator',
    head=dict(
        _delete_=True,
        type='MultiBranchHead',
        branches=dict(type='HeatmapHead', in_channels=1280, out_channels=16,
                      loss=dict(type='KeypointMSELoss', use_target_weight=True),
                      decoder={{_base_.codec}}),
        num_branches=3,
        # The released FAU is 256 channels wide: a 1x1 reduction keeps it so on wider encoders.
        fau=dict(type='FeatureAggregationUnit', in_channels=1280, mode='official',
                 reduce_channels=256),
        kd_ramp_epochs=90),
    test_cfg=dict(branch=0, output_all=True))

val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric', metric=dict(type='MpiiPCKAccuracy'),
    output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
test_evaluator = val_evaluator
