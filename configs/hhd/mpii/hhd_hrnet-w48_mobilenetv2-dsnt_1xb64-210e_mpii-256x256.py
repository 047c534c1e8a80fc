# HHD on MPII 256x256 into the MobileNetV2 DSNT student of
# td-dsnt_mobilenetv2_1xb64-210e_mpii-256x256.py: teacher, loss and wiring of
# hhd_hrnet-w48_litehrnet-18-dsnt_1xb64-210e_mpii-256x256.py (see there), with the student's
# encoder and head sizes changed as that student config changes them. HHD released no MobileNetV2
# distillation config; the wiring is that of its Lite-HRNet configs (HHD-lite/lite18.py).
_base_ = ['./hhd_hrnet-w48_litehrnet-18-dsnt_1xb64-210e_mpii-256x256.py']

model = dict(student=dict(
    backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1., out_indices=(7, ),
                  init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    head=dict(in_channels=1280, in_featuremap_size=(8, 8),  # the 1/32 feature map
              deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4))))
