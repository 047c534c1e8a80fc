# ODKD senior teacher (our design): MMPose's HRNet-W48 COCO 256x192 heatmap model with a
# person-mask output (MaskAwareHeatmapHead: one extra 1x1 conv beside final_layer, class-balanced
# BCE + Dice against the instance's COCO segmentation rasterised on the 48x64 heatmap grid by
# TopdownGenerateMask). mask_loss_weight=1e-3: the mask loss is ~0.7-1.7 and MMPose's heatmap
# MSE ~1e-3; at weight 1 the mask term wipes out the keypoints (measured on the synthetic set,
# see configs/odkd/synthetic/td-hm-mask_res18_1xb32-20e_synthetic-128x96.py). A short
# fine-tune, not a full schedule: from MMPose's HRNet-W48 COCO checkpoint (load_from below; only
# the mask layer starts from scratch), 20 epochs at a fifth of the base learning rate, on COCO
# train2017 keypoints + segmentation (the person annotations carry both). Validation
# (ground-truth boxes): keypoint AP and the mask IoU; predict / flip test are HeatmapHead's.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w48_8xb32-210e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)
default_hooks = dict(checkpoint=_base_.checkpoint_hook)  # atomic writes (okdhp_mm)

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(head=dict(type='MaskAwareHeatmapHead', mask_loss_weight=1e-3,
                       mask_key='person_mask', mask_mode='soft'))
load_from = ('https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/'
             'td-hm_hrnet-w48_8xb32-210e_coco-256x192-0e67c616_20220913.pth')

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='TopdownGenerateMask', heatmap_size=codec['heatmap_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='TopdownGenerateMask', heatmap_size=codec['heatmap_size']),
    dict(type='PackPoseInputs')
]
# Ground-truth boxes: the mask target needs each annotation's segmentation (detections have
# none), so keypoint AP here is the gt-box AP, not the model zoo's detected-box AP.
val_dataloader = dict(dataset=dict(pipeline=val_pipeline, bbox_file=None))
test_dataloader = val_dataloader
val_evaluator = [{{_base_.val_evaluator}}, dict(type='MaskIoUMetric')]
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=20, val_interval=5)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=20, milestones=[15], gamma=0.1, by_epoch=True)]
