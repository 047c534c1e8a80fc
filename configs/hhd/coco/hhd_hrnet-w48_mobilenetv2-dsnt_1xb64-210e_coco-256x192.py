# HHD on COCO 256x192 into the MobileNetV2 DSNT student of
# td-dsnt_mobilenetv2_1xb64-210e_coco-256x192.py: teacher, loss and wiring of
# hhd_hrnet-w48_litehrnet-18-dsnt_1xb64-210e_coco-256x192.py (see there), with the student's
# encoder and head sizes and box augmentation changed as that student config changes them.
_base_ = ['./hhd_hrnet-w48_litehrnet-18-dsnt_1xb64-210e_coco-256x192.py']

model = dict(student=dict(
    backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1., out_indices=(7, ),
                  init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    head=dict(in_channels=1280, in_featuremap_size=(6, 8),  # (w, h) of the 1/32 map
              deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4))))
# MMPose's MobileNetV2 recipe keeps RandomBBoxTransform's defaults (Lite-HRNet's narrows them).
train_pipeline = [dict(type='RandomBBoxTransform') if step.type == 'RandomBBoxTransform' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
