# OKDHP for the stride-16 RTMPose-t of the built-in data
# (configs/baseline/synthetic/rtmpose-t-s16_1xb32-20e_synthetic-128x96.py): its CSPNeXt-t,
# ending after stage 3, shared up to stage 2, each of the 3 branches its own stage 3 and
# RTMCCHead, the FAU on the shared stage-2 feature (96 channels); otherwise
# okdhp_rtmpose-t-3b beside this file. The evidence's OKDHP-RTMPose row; each branch exports
# as that RTMPose-t.
_base_ = ['./okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py']

model = dict(
    backbone=dict(shared_stages=2, out_indices=(3, ), arch_ovewrite=[
        [64, 128, 3, True, False], [128, 256, 6, True, False], [256, 512, 6, True, False]]),
    head=dict(branches=dict(in_channels=192, in_featuremap_size=(6, 8)),
              fau=dict(in_channels=96)))
