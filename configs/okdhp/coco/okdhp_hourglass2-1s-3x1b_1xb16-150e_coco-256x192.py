# OKDHP, balanced, on the released hourglass: stem + 1 shared + 3 branches x 1 stacks.
# Every branch is the 2-stack hourglass td-hm_hourglass2-paper beside this file.
_base_ = ['../_base_/multi_branch_stacked_hourglass_coco-256x192.py']

model = dict(
    backbone=dict(num_shared_stacks=1, branch_stacks=(1, 1, 1)),
    head=dict(shared_head=dict(num_stages=1), branches=dict(num_stages=1)))
