# Lite-HRNet-30 + DSNT integral head on COCO 256x192 (trained alone): identical to
# td-dsnt_litehrnet-18_1xb64-210e_coco-256x192.py except num_modules=(3, 8, 3), batch 32 and a
# checkpoint every 20 epochs, as in HHD's released MPII Lite-HRNet-30 config.
_base_ = ['./td-dsnt_litehrnet-18_1xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

default_hooks = dict(checkpoint=dict(interval=20))
model = dict(backbone=dict(extra=dict(stages_spec=dict(num_modules=(3, 8, 3)))))
train_dataloader = dict(batch_size=32)
