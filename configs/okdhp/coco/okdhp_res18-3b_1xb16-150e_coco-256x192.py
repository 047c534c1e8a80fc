# OKDHP in the MobilePose setting: the whole ResNet-18 encoder is shared, each of the 3
# branches is a full deconvolution decoder (an MMPose HeatmapHead); the FAU reads the encoder
# output. A branch exports as the ResNet-18 SimpleBaseline beside this file.
_base_ = ['../_base_/multi_branch_encoder_coco-256x192.py']

model = dict(
    backbone=dict(type='ResNet', depth=18,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    head=dict(branches=dict(in_channels=512), fau=dict(in_channels=512)))
