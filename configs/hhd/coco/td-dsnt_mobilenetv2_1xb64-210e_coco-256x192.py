# MobileNetV2 + DSNT integral head on COCO 256x192 (trained alone): MMPose's MobileNetV2 COCO
# heatmap config (ImageNet-pretrained backbone, 3 deconvolutions, its data pipeline) with the head
# swapped for DSNTHead(beta=10) on the 48x64 map and the HHD integral recipe of
# td-dsnt_litehrnet-18_1xb64-210e_coco-256x192.py.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py'
]
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

train_cfg = dict(max_epochs=210, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=50, save_best='coco/AP', rule='greater'))

codec = dict(type='IntegralRegressionLabel', input_size=(192, 256), heatmap_size=(48, 64),
             sigma=2.0, normalize=True)
model = dict(
    head=dict(
        _delete_=True,
        type='DSNTHead',
        in_channels=1280,
        in_featuremap_size=(6, 8),  # (w, h) of the 1/32 feature map
        num_joints=17,
        beta=10.,
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='MultipleLossWrapper', losses=[
            dict(type='SmoothL1Loss', use_target_weight=True),
            dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.)]),
        decoder=codec),
    test_cfg=dict(_delete_=True, flip_test=True, shift_coords=True, shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
