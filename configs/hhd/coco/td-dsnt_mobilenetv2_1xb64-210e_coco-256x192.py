# MobileNetV2 + DSNT integral head on COCO 256x192 (trained alone): MMPose's MobileNetV2 COCO
# heatmap config (ImageNet-pretrained backbone, 3 deconvolutions, its data pipeline) with the head
# swapped for DSNTHead(beta=10) on the 48x64 map and the HHD integral recipe of
# td-dsnt_litehrnet-18_1xb64-210e_coco-256x192.py. Written as that config with MobileNetV2's
# encoder, head sizes and box augmentation: MMPose's two COCO heatmap configs differ only there.
_base_ = ['./td-dsnt_litehrnet-18_1xb64-210e_coco-256x192.py']

model = dict(backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1., out_indices=(7, ),
                           init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
             head=dict(in_channels=1280, in_featuremap_size=(6, 8),  # (w, h) of the 1/32 map
                       deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4)))
# MMPose's MobileNetV2 recipe keeps RandomBBoxTransform's defaults (Lite-HRNet's narrows them).
train_pipeline = [dict(type='RandomBBoxTransform') if step.type == 'RandomBBoxTransform' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
