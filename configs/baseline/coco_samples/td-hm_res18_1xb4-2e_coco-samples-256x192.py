# SimpleBaseline ResNet-18 on the real COCO samples (shared/data/mmpose_samples/coco): a smoke
# config for `mim train` / `mim test`, far too little data to measure accuracy. MMPose's
# SimpleBaseline head (3 deconvolutions, here 128 channels) on a ResNet-18.
_base_ = ['../../_base_/coco_samples_smoke.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(type='ResNet', depth=18, init_cfg=None),  # no download: trained from scratch
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17,
              deconv_out_channels=(128, 128, 128),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
                           sigma=2)))
