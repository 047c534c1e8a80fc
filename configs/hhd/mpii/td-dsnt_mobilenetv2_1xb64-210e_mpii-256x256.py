# MobileNetV2 + DSNT integral head on MPII 256x256 (the side experiment of ducongju/HHD,
# td-dsnt_mobilenetv2_8xb64-210e_mpii-256x192.py, which really uses 256x256): MMPose's
# MobileNetV2 heatmap config with its ImageNet-pretrained backbone and 3 deconvolutions, the head
# swapped for DSNTHead (beta=10 as in the HHD Lite-HRNet students; the side experiment's value is
# not known) and the HHD integral recipe of td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
    'td-hm_mobilenetv2_8xb64-210e_mpii-256x256.py'
]
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

train_cfg = dict(max_epochs=210, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=50, save_best='PCK', rule='greater'))

codec = dict(type='IntegralRegressionLabel', input_size=(256, 256), heatmap_size=(64, 64),
             sigma=2.0, normalize=True)
model = dict(
    head=dict(
        _delete_=True,
        type='DSNTHead',
        in_channels=1280,
        in_featuremap_size=(8, 8),
        num_joints=16,
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
    dict(type='RandomBBoxTransform', shift_prob=0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
