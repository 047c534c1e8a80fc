# OKDHP on MMPose's HourglassNet, balanced: stem + 1 shared + 3 branches x 1 stacks. Every
# branch is the 2-stack MMPose-hourglass baseline beside this file; the FAU ensembles the
# branches' final heatmaps (official FAU on the stem feature) and teaches every stack through
# pixel-wise KL.
_base_ = ['../_base_/multi_branch_hourglass-mmpose_mpii-256x256.py']

model = dict(
    backbone=dict(num_shared_stacks=1, branch_stacks=(1, 1, 1)),
    head=dict(shared_head=dict(num_stages=1), branches=dict(num_stages=1)))
