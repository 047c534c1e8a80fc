# OKDHP for RTMPose-t, unbalanced (ours): as okdhp_rtmpose-t-3b, but the auxiliary branches are
# wider than the target: RTMCC hidden sizes 256 (branch 0, plain RTMPose-t), 384 and 512.
_base_ = ['./okdhp_rtmpose-t-3b_8xb256-420e_coco-256x192.py']

model = dict(head=dict(num_branches=None, branches=[
    dict(_base_.model.head.branches,
         gau_cfg=dict(_base_.model.head.branches.gau_cfg, hidden_dims=hidden))
    for hidden in (256, 384, 512)]))
