# ODKD student: HRNet-W16 (MMPose's HRNet with 16-channel widths; stage channels (16, 32),
# (16, 32, 64), (16, 32, 64, 128)) + HeatmapHead, COCO 256x192, MMPose's HRNet-W32 recipe
# (data, schedule, evaluation) otherwise. No ImageNet HRNet-W16 checkpoint is published by
# OpenMMLab, so the backbone starts from scratch (init_cfg=None). Plain MMPose modules: trained
# alone it is the ODKD baseline; configs/odkd/coco/odkd_*.py distils into it.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py',
          '../../_base_/okdhp_mm_runtime.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)
default_hooks = dict(checkpoint=_base_.checkpoint_hook)  # atomic writes (okdhp_mm)

model = dict(
    backbone=dict(
        extra=dict(
            stage2=dict(num_channels=(16, 32)),
            stage3=dict(num_channels=(16, 32, 64)),
            stage4=dict(num_channels=(16, 32, 64, 128))),
        init_cfg=None),
    head=dict(in_channels=16))
