# OKDHP on MMPose's HourglassNet, balanced: stem + 4 shared + 3 branches x 4 stacks. Every
# branch is the 8-stack MMPose-hourglass baseline beside this file; the FAU ensembles the
# branches' final heatmaps (official FAU on the stem feature) and teaches every stack through
# pixel-wise KL.
_base_ = ['../_base_/multi_branch_hourglass-mmpose_mpii-256x256.py']

model = dict(
    backbone=dict(num_shared_stacks=4, branch_stacks=(4, 4, 4)),
    head=dict(shared_head=dict(num_stages=4), branches=dict(num_stages=4)))
