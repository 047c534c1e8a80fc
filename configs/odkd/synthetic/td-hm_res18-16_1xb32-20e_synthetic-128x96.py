# Tiny ODKD student on the built-in synthetic set: the slim ResNet-18 SimpleBaseline of
# configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py at half width (16 base
# channels, 32-channel deconvolutions). Plain MMPose modules.
_base_ = ['../../baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(base_channels=16, stem_channels=16),
    head=dict(in_channels=128, deconv_out_channels=(32, 32, 32)))
