# RTMPose-t for the built-in data's 128x96 crops, departing from RTMPose-t in one place: its
# CSPNeXt-t ends after stage 3 (stride 16: a 6x8 feature map, 192 channels) instead of stage 4
# (stride 32: 3x4 = 12 numbers per keypoint for the RTMCCHead, too few to locate it at this
# input size; RTMPose-t sees 256x192 crops, a 6x8 map at stride 32). Everything else is
# rtmpose-t_1xb32-20e_synthetic-128x96.py beside this file: RTMCCHead, SimCC codec, data.
_base_ = ['./rtmpose-t_1xb32-20e_synthetic-128x96.py']

model = dict(
    backbone=dict(out_indices=(3, ), arch_ovewrite=[[64, 128, 3, True, False],
                                                    [128, 256, 6, True, False],
                                                    [256, 512, 6, True, False]]),
    head=dict(in_channels=192, in_featuremap_size=(6, 8)))
