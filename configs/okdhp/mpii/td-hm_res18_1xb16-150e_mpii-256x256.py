# ResNet-18 SimpleBaseline (MobilePose setting) with the OKDHP recipe: the baseline of the
# OKDHP config beside this file and the architecture its student exports to.
_base_ = ['./_recipe_okdhp_mpii-256x256.py']

model = dict(
    backbone=dict(
        _delete_=True,
        **dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))),
    head=dict(_delete_=True, type='HeatmapHead', in_channels=512, out_channels=16,
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder={{_base_.codec}}))
