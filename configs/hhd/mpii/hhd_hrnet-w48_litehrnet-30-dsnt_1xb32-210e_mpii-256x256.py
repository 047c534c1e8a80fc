# HHD on MPII 256x256 into the Lite-HRNet-30 DSNT student of
# td-dsnt_litehrnet-30_1xb32-210e_mpii-256x256.py: teacher, loss and wiring of
# hhd_hrnet-w48_litehrnet-18-dsnt_1xb64-210e_mpii-256x256.py (see there), with the student, batch
# size and checkpoint interval changed as that student config changes them. As released in
# ducongju/HHD (mmrazor/configs/lzy_configs/mmpose/HHD-lite/lite30.py).
_base_ = ['./hhd_hrnet-w48_litehrnet-18-dsnt_1xb64-210e_mpii-256x256.py']

# The student of td-dsnt_litehrnet-30_1xb32-210e_mpii-256x256.py: Lite-HRNet-18 but for these.
default_hooks = dict(checkpoint=dict(interval=20))
model = dict(student=dict(backbone=dict(extra=dict(stages_spec=dict(num_modules=(3, 8, 3))))))
train_dataloader = dict(batch_size=32)
