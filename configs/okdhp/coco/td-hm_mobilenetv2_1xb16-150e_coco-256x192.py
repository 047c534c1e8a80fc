# MobileNetV2 SimpleBaseline (MobilePose setting) with the OKDHP recipe: the baseline of the
# OKDHP config beside this file and the architecture its student exports to.
_base_ = ['./_recipe_okdhp_coco-256x192.py']

model = dict(
    backbone=dict(
        _delete_=True,
        **dict(type='MobileNetV2', widen_factor=1., out_indices=(7, ), init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2'))),
    head=dict(_delete_=True, type='HeatmapHead', in_channels=1280, out_channels=17,
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder={{_base_.codec}}))
