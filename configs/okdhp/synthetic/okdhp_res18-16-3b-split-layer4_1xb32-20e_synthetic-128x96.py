# OKDHP for the evidence's shared heatmap student, the half-width ResNet-18 SimpleBaseline of
# configs/odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py (16 base channels,
# 32-channel deconvolutions): its stem and layers 1-3 shared, every one of the 3 branches its
# own layer 4 and deconvolution decoder (MultiBranchResNet); the FAU reads the shared layer-3
# feature (64 channels). Each branch exports as that student.
_base_ = ['./okdhp_res18-3b-split-layer4_1xb32-20e_synthetic-128x96.py']

model = dict(
    backbone=dict(base_channels=16, stem_channels=16),
    head=dict(branches=dict(in_channels=128, deconv_out_channels=(32, 32, 32)),
              fau=dict(in_channels=64)))
