# Run-time settings of okdhp_mm that the configs which train a model of ours share. A config
# lists this piece beside the MMPose config it builds on:
#
#     _base_ = ['mmpose::...', '../../_base_/okdhp_mm_runtime.py']
#     default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, interval=..., save_best=...))
#
# checkpoint_hook: okdhp_mm's AtomicCheckpointHook, MMEngine's CheckpointHook (same arguments)
# with atomic writes (temporary file, fsync, rename; `last_checkpoint` after), so a kill
# mid-save leaves the previous checkpoint intact and --resume falls back to the newest
# readable one. Each config adds only the options it changes (interval, save_best, rule).
#
# This piece cannot set `default_hooks` itself: MMEngine refuses a key that two bases of one
# config both set, and the MMPose config beside it sets `default_hooks`.
checkpoint_hook = dict(type='AtomicCheckpointHook')
