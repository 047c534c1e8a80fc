# Tiny ODKD senior teacher on the synthetic set: the slim ResNet-18 baseline with the person-mask
# output (MaskAwareHeatmapHead, BCE on the synthetic figures' segmentation rasterised on the
# 24x32 heatmap grid by TopdownGenerateMask).
_base_ = ['../../baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(head=dict(type='MaskAwareHeatmapHead', mask_loss_weight=1.0))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', scale_factor=(0.8, 1.2), rotate_factor=20),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='TopdownGenerateMask', heatmap_size={{_base_.codec.heatmap_size}}),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
