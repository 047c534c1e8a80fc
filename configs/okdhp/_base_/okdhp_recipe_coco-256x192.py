# The released OKDHP recipe (reference/okdhp.md section 4) on COCO 256x192, on top of MMPose's
# hourglass COCO config: Adam 2.5e-4, 150 epochs, x0.1 at 90 and 120, batch 16, sigma 2,
# scale +-25 %, rotation 30 (p 0.6), flip, half-body; flip test with 1-px shift.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hourglass52_8xb32-210e_coco-256x256.py',
    '../../_base_/okdhp_mm_runtime.py',
    '../../_base_/topdown_frame.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)
default_hooks = dict(checkpoint=_base_.checkpoint_hook)  # atomic writes (okdhp_mm)

# Resumes mid-epoch where an iteration checkpoint left off (MMEngine's EpochBasedTrainLoop
# restarts the interrupted epoch from its first batch).
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop', max_epochs=150,
                 val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2.5e-4))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=150, milestones=[90, 120], gamma=0.1, by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=16)

# The released JointsMSELoss is 0.5 x MMPose's KeypointMSELoss (same mean, times 0.5): with
# loss_weight=0.5 on every ground-truth term the objective, and so the KD : GT balance of
# lambda_kd = 2, equals the released one (docs/okdhp.md). Every model piece uses gt_loss.
gt_loss = dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.5)

# No network here: MMPose's hourglass config lends its data, runtime and the estimator's
# frame (data preprocessor, flip test); the model pieces beside this file (hourglass-mmpose,
# stacked_hourglass, simple_baseline, okdhp_multi_output) set backbone and head, so none of
# them inherits a network it throws away.
model = dict(_base_.topdown_frame, _delete_=True)

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', shift_prob=0, scale_factor=(0.75, 1.25), rotate_factor=60,
         rotate_prob=0.6),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
