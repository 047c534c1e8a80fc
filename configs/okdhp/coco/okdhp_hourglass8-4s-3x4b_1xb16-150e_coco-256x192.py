# OKDHP, balanced, on the released hourglass: stem + 4 shared + 3 branches x 4 stacks.
# Every branch is the 8-stack hourglass td-hm_hourglass8-paper beside this file.
_base_ = ['../_base_/multi_branch_stacked_hourglass_coco-256x192.py']

model = dict(
    backbone=dict(num_shared_stacks=4, branch_stacks=(4, 4, 4)),
    head=dict(shared_head=dict(num_stages=4), branches=dict(num_stages=4)))
