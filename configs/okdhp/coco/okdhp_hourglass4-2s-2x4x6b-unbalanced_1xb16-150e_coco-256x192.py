# OKDHP, unbalanced, on the released hourglass: stem + 2 shared stacks + branches of 2, 4 and 6
# stacks (the 4-stack target branch, 6- and 8-stack auxiliary branches; paper only, the release
# has no unbalanced network). Branch 0 exports as td-hm_hourglass4-paper beside this file.
_base_ = ['../_base_/multi_branch_stacked_hourglass_coco-256x192.py']

model = dict(
    backbone=dict(num_shared_stacks=2, branch_stacks=(2, 4, 6)),
    head=dict(shared_head=dict(num_stages=2), num_branches=None, branches=[
        dict(_base_.model.head.branches, num_stages=stages) for stages in (2, 4, 6)]))
