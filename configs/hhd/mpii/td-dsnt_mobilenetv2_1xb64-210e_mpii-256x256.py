# MobileNetV2 + DSNT integral head on MPII 256x256 (the side experiment of ducongju/HHD,
# td-dsnt_mobilenetv2_8xb64-210e_mpii-256x192.py, which really uses 256x256): MMPose's
# MobileNetV2 heatmap config with its ImageNet-pretrained backbone and 3 deconvolutions, the head
# swapped for DSNTHead (beta=10 as in the HHD Lite-HRNet students; the side experiment's value is
# not known) and the HHD integral recipe of td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py.
# Written as that config with MobileNetV2's encoder and head sizes: MMPose's two MPII heatmap
# configs differ only there (same data pipeline).
_base_ = ['./td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py']

model = dict(backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1., out_indices=(7, ),
                           init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
             head=dict(in_channels=1280, in_featuremap_size=(8, 8),  # the 1/32 feature map
                       deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4)))
