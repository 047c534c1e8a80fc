# OKDHP on the built-in synthetic set, branches sharing less: the slim ResNet-18's stem and
# layers 1-3 are shared, every branch has its own layer 4 and deconvolution decoder
# (MultiBranchResNet), as OKDHP's hourglass shares only the first half of its stacks; the FAU
# reads the shared layer-3 feature. A branch still exports as the SimpleBaseline of
# configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py.
_base_ = ['./okdhp_res18-3b_1xb32-20e_synthetic-128x96.py']

model = dict(
    backbone=dict(type='MultiBranchResNet', num_branches=3, shared_stages=3),
    head=dict(fau=dict(in_channels=128)))
