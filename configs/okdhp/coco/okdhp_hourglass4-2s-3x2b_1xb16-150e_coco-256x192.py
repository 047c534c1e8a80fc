# OKDHP, balanced, on the released hourglass: stem + 2 shared + 3 branches x 2 stacks.
# Every branch is the 4-stack hourglass td-hm_hourglass4-paper beside this file.
_base_ = ['../_base_/multi_branch_stacked_hourglass_coco-256x192.py']

model = dict(
    backbone=dict(num_shared_stacks=2, branch_stacks=(2, 2, 2)),
    head=dict(shared_head=dict(num_stages=2), branches=dict(num_stages=2)))
