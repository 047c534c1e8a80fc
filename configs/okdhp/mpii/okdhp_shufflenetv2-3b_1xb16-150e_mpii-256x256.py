# OKDHP in the MobilePose setting: the whole ShuffleNetV2 encoder is shared, each of the 3
# branches is a full deconvolution decoder (an MMPose HeatmapHead); the FAU reads the encoder
# output. A branch exports as the ShuffleNetV2 SimpleBaseline beside this file.
_base_ = ['../_base_/multi_branch_encoder_mpii-256x256.py']

model = dict(
    backbone=dict(type='ShuffleNetV2', widen_factor=1.0,
                  init_cfg=dict(type='Pretrained', checkpoint='mmcls://shufflenet_v2')),
    head=dict(branches=dict(in_channels=1024), fau=dict(in_channels=1024)))
