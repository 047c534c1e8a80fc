# The paper's 4-stack hourglass (released StackedHourglassNet): the OKDHP baseline and the
# architecture of the okdhp_hourglass4-* students. Exported students import okdhp_mm.
_base_ = ['../_base_/stacked_hourglass_coco-256x192.py']

model = dict(backbone=dict(num_stacks=4), head=dict(num_stages=4))
