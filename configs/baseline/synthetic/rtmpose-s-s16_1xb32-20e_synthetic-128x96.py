# RTMPose-s on the built-in synthetic set, the stride-16 form of rtmpose-t-s16 beside this file
# (CSPNeXt-s, deepen 0.33 / widen 0.5, ending after stage 3: 256 channels at 6x8): the larger
# RTMPose that DWPose's first stage distils into RTMPose-t (configs/dwpose/synthetic/).
_base_ = ['./rtmpose-t-s16_1xb32-20e_synthetic-128x96.py']

model = dict(backbone=dict(deepen_factor=0.33, widen_factor=0.5), head=dict(in_channels=256))
