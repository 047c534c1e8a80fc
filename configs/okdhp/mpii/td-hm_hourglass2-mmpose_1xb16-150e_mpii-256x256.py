# Single-branch 2-stack hourglass built from MMPose's HourglassNet (3x3 BasicBlock residuals of
# 256 channels, depth 4): a plain-MMPose stand-in for the paper's network, about 5x its size (the
# paper's released hourglass is td-hm_hourglass2-paper beside this file). The baseline of the
# okdhp_hourglass2-mmpose-* config and the architecture its student exports to.
_base_ = ['../_base_/hourglass-mmpose_mpii-256x256.py']

model = dict(backbone=dict(num_stacks=2), head=dict(num_stages=2))
