# MobileNetV2 SimpleBaseline (MobilePose setting) with the OKDHP recipe: the baseline of the
# OKDHP config beside this file and the architecture its student exports to.
_base_ = ['../_base_/simple_baseline_mpii-256x256.py']

model = dict(
    backbone=dict(type='MobileNetV2', widen_factor=1., out_indices=(7, ),
                  init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    head=dict(in_channels=1280))
