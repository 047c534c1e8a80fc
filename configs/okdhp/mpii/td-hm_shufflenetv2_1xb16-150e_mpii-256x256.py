# ShuffleNetV2 SimpleBaseline (MobilePose setting) with the OKDHP recipe: the baseline of the
# OKDHP config beside this file and the architecture its student exports to.
_base_ = ['../_base_/simple_baseline_mpii-256x256.py']

model = dict(
    backbone=dict(type='ShuffleNetV2', widen_factor=1.0,
                  init_cfg=dict(type='Pretrained', checkpoint='mmcls://shufflenet_v2')),
    head=dict(in_channels=1024))
