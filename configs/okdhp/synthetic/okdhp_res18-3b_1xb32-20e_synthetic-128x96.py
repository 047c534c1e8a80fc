# OKDHP on the built-in synthetic set: shared slim ResNet-18 encoder, 3 deconvolution decoders
# (branches), light FAU on the encoder output, pixel-wise KL from the ensemble. Each branch exports
# as the SimpleBaseline of configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py,
# which is also the baseline trained alone for comparison. Used by `make demo` and the tests.
_base_ = ['../../baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py']

data_root = '{{ fileDirname }}/../../../data/synthetic_coco/'
codec = {{_base_.codec}}
model = dict(
    type='MultiBranchPoseEstimator',
    head=dict(
        _delete_=True, type='MultiBranchHead', branches=dict(_base_.model.head, decoder=codec),
        num_branches=3, fau=dict(type='FeatureAggregationUnit', in_channels=256, mode='light'),
        kd_loss=dict(type='PixelKLDivLoss', use_target_weight=True, loss_weight=2.0),
        # The released ramp spans 90 of 150 epochs (60 %); keep that share of this schedule.
        kd_ramp_epochs=12),
    test_cfg=dict(branch=0, output_all=True))

val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric',
    metric=dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json'))
test_evaluator = val_evaluator
