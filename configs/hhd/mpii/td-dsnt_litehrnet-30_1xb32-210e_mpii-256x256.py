# Lite-HRNet-30 + DSNT integral head on MPII 256x256 (ducongju/HHD dsnt_lite30.py, trained
# alone): identical to td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py except
# num_modules=(3, 8, 3), batch 32 and a checkpoint every 20 epochs, as released.
_base_ = ['./td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

default_hooks = dict(checkpoint=dict(interval=20))
model = dict(backbone=dict(extra=dict(stages_spec=dict(num_modules=(3, 8, 3)))))
train_dataloader = dict(batch_size=32)
