# ResNet-18 SimpleBaseline (MobilePose setting) with the OKDHP recipe: the baseline of the
# OKDHP config beside this file and the architecture its student exports to.
_base_ = ['../_base_/simple_baseline_coco-256x192.py']

model = dict(
    backbone=dict(type='ResNet', depth=18,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    head=dict(in_channels=512))
