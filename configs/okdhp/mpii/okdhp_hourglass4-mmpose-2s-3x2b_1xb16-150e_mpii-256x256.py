# OKDHP on MMPose's HourglassNet, balanced: stem + 2 shared + 3 branches x 2 stacks. Every
# branch is the 4-stack MMPose-hourglass baseline beside this file; the FAU ensembles the
# branches' final heatmaps (official FAU on the stem feature) and teaches every stack through
# pixel-wise KL.
_base_ = ['../_base_/multi_branch_hourglass-mmpose_mpii-256x256.py']

model = dict(
    backbone=dict(num_shared_stacks=2, branch_stacks=(2, 2, 2)),
    head=dict(shared_head=dict(num_stages=2), branches=dict(num_stages=2)))
