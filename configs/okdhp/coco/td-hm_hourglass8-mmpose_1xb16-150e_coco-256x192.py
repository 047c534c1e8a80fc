# Single-branch 8-stack hourglass built from MMPose's HourglassNet (3x3 BasicBlock residuals of
# 256 channels, depth 4): a plain-MMPose stand-in for the paper's network, about 5x its size (the
# paper's released hourglass is td-hm_hourglass8-paper beside this file). The baseline of the
# okdhp_hourglass8-mmpose-* config and the architecture its student exports to.
_base_ = ['../_base_/hourglass-mmpose_coco-256x192.py']

model = dict(backbone=dict(num_stacks=8), head=dict(num_stages=8))
