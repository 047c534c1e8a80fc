# OKDHP in the MobilePose setting: the whole MobileNetV2 encoder is shared, each of the 3
# branches is a full deconvolution decoder (an MMPose HeatmapHead); the FAU reads the encoder
# output. A branch exports as the MobileNetV2 SimpleBaseline beside this file.
_base_ = ['../_base_/multi_branch_encoder_coco-256x192.py']

model = dict(
    backbone=dict(type='MobileNetV2', widen_factor=1., out_indices=(7, ),
                  init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    head=dict(branches=dict(in_channels=1280), fau=dict(in_channels=1280)))
