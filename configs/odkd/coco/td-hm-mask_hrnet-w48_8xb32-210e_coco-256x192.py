# ODKD senior teacher (our design): MMPose's HRNet-W48 COCO 256x192 heatmap model with a
# person-mask output (MaskAwareHeatmapHead: one extra 1x1 conv beside final_layer, BCE against
# the instance's COCO segmentation rasterised on the 48x64 heatmap grid by TopdownGenerateMask,
# mask_loss_weight=1.0). Trained on COCO train2017 keypoints + segmentation (the person
# annotations carry both). Initialise from MMPose's HRNet-W48 COCO checkpoint (load_from below)
# so only the mask layer starts from scratch; predict/flip test are HeatmapHead's.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w48_8xb32-210e_coco-256x192.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)
# Checkpoints written atomically, --resume past a truncated newest one (okdhp_mm's hook).
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(head=dict(type='MaskAwareHeatmapHead', mask_loss_weight=1.0,
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
