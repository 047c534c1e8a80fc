# ODKD's senior teacher on the built-in synthetic set: a ResNet-34 SimpleBaseline of the slim
# width (32 base channels), a stronger network than the slim ResNet-18 primary teacher, with
# the person-mask output of td-hm-mask_res18_1xb32-20e_synthetic-128x96.py. Trained from
# scratch by the evidence tool (tools/evidence.py).
_base_ = ['./td-hm-mask_res18_1xb32-20e_synthetic-128x96.py']

model = dict(backbone=dict(depth=34))
