# SimpleBaseline with a slim ResNet-18 (32 base channels, 64-channel deconvolutions; 3x cheaper
# than the standard one), from scratch, on the built-in synthetic COCO-format set
# (tools/make_synthetic_coco.py -> data/synthetic_coco). Learns in a few CPU minutes; the demo's
# baseline and the student architecture of the synthetic OKDHP config. Plain MMPose modules.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

data_root = '{{ fileDirname }}/../../../data/synthetic_coco/'

train_cfg = dict(max_epochs=20, val_interval=5)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=20, eta_min=1e-5, by_epoch=True, begin=0, end=20)
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(
    _base_.checkpoint_hook, interval=5, max_keep_ckpts=1))

codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)
model = dict(
    # no download: trained from scratch
    backbone=dict(depth=18, base_channels=32, stem_channels=32, init_cfg=None),
    # KeypointMSELoss x 0.5: the released JointsMSELoss, so the OKDHP config built on this one
    # has the released KD : GT balance (docs/okdhp.md).
    head=dict(in_channels=256, deconv_out_channels=(64, 64, 64), decoder=codec,
              loss=dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.5)),
    test_cfg=dict(flip_test=True, shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', scale_factor=(0.8, 1.2), rotate_factor=20),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, ann_file='annotations/person_keypoints_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
val_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, ann_file='annotations/person_keypoints_val.json',
                 data_prefix=dict(img='val/'), bbox_file=None,  # ground-truth boxes
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator
