"""The evidence rows (docs/results.md says what each compares). Heatmap rows share one
student, the half-width ResNet-18, and its alone row; for a seed each starts that student
(OKDHP: its trunk and branch 0) from the seed's initial weights ``init/res18-16/seed<s>``."""
from __future__ import annotations

from functools import partial
from typing import Callable, List

from .plan import Method, Preset, RunSpec, checkpoint_of, register, run_key, schedule

__all__ = ['OKDHP_VARIANTS', 'okdhp_config']

TEACHER_SEED = 1000  # teachers: one training each, independent of the students' seeds
SMALL = 'odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py'
TEACHER = 'baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py'
SENIOR = 'odkd/synthetic/td-hm-mask_res34_1xb32-20e_synthetic-128x96.py'
OKDHP = 'okdhp/synthetic/okdhp_res18-16-3b-split-layer4_1xb32-20e_synthetic-128x96.py'
FPD = 'fpd/synthetic/fpd_res18_res18-16_1xb32-20e_synthetic-128x96.py'
ODKD = 'odkd/synthetic/odkd_res18-res34mask_res18-16_1xb32-20e_synthetic-128x96.py'
DSNT = 'hhd/synthetic/td-dsnt_res18-16_1xb32-20e_synthetic-128x96.py'
HHD = 'hhd/synthetic/hhd_res18-hm_res18-16-dsnt_1xb32-20e_synthetic-128x96.py'
RTMPOSE = 'baseline/synthetic/rtmpose-t-s16_1xb32-20e_synthetic-128x96.py'
RTMPOSE_TEACHER = 'baseline/synthetic/rtmpose-s-s16_1xb32-20e_synthetic-128x96.py'
OKDHP_RTMPOSE = 'okdhp/synthetic/okdhp_rtmpose-t-s16-3b_1xb32-20e_synthetic-128x96.py'
DWPOSE = 'dwpose/synthetic/dwpose_rtmpose-s-s16_rtmpose-t-s16_1xb32-20e_synthetic-128x96.py'
NO_KD = {'model.head.kd_loss.loss_weight': 0.0}


def _inits(name: str, config: str, count: int = 5) -> Callable[[Preset], List[RunSpec]]:
    """The seeds' initial weights of a student: what its alone and method runs start from."""
    return lambda p: [RunSpec(f'init/{name}/seed{s}', config, s, kind='init')
                      for s in p.seeds[:count]]


def _paired(name: str, seed: int, how: str = 'same', prefix: str = '') -> dict:
    return dict(checkpoint=checkpoint_of(f'init/{name}/seed{seed}'), map=how, prefix=prefix)


def _ramp(epochs: int) -> int:  # the released KD ramp spans 90 of 150 epochs: that share
    return max(1, round(0.6 * epochs))


def _teacher(p: Preset, key: str = 'heatmap', config: str = TEACHER, flat: float = 0.
             ) -> RunSpec:  # trained once; flat: RTMPose's schedule (DWPose's teacher)
    return RunSpec(f'teacher/{key}', config, TEACHER_SEED, schedule(p.teacher_epochs, flat))


def _senior(p: Preset) -> RunSpec:
    return _teacher(p, 'senior', SENIOR)


def alone_small(p: Preset, s: int) -> RunSpec:
    return RunSpec(f'alone/res18-16/seed{s}', SMALL, s, schedule(p.epochs),
                   init_from=_paired('res18-16', s))


OKDHP_VARIANTS = {
    # The released loss: KL at T = 1 between pixel softmaxes of the [0, 1] heatmaps.
    'released': {},
    # KL between softmax(h / tau), tau = 0.1; the weight undoes tau^2 so that the sharper
    # target pulls harder at the same lambda_kd = 2.
    'tau0.1': {'model.head.kd_loss': dict(type='PixelKLDivLoss', use_target_weight=True,
                                          temperature=0.1, loss_weight=2.0 / 0.1 ** 2)},
    # MSE to the ensemble's heatmaps (FPD's KD loss, at the GT loss's weight 0.5).
    'mse': {'model.head.kd_loss': dict(type='KeypointMSELoss', use_target_weight=True,
                                       loss_weight=0.5)},
    # The released KL, the ensemble a fixed target (no KD gradient into the FAU). The default:
    # best on the tune split (seeds 0, 1: released +0.010 +- 0.001, tau0.1 -0.058 +- 0.003,
    # mse +0.013 +- 0.007, detached +0.015 +- 0.003 AP).
    'detached': {'model.head.detach_ensemble': True},
}
OKDHP_DEFAULT = 'detached'


def okdhp_config(variant: str) -> str:
    if variant not in OKDHP_VARIANTS:
        raise KeyError(f'unknown OKDHP variant {variant!r}; choose from {sorted(OKDHP_VARIANTS)}')
    return OKDHP


def _okdhp(name: str, extra: dict) -> Callable[[Preset, int, str], RunSpec]:
    return lambda p, s, v: RunSpec(
        run_key(name, v, s), okdhp_config(v), s, {
            **schedule(p.epochs), 'model.head.kd_ramp_epochs': _ramp(p.epochs),
            **OKDHP_VARIANTS[v], **extra},
        init_from=_paired('res18-16', s, 'branch'), kd_ratio=True)


for _name, _extra in (('okdhp', {}), ('okdhp_nokd', NO_KD)):
    register(Method(
        name=_name, what='OKDHP, 3 branches (branch 0, paired with the alone run, exported)' + (
            ', the KD weight at 0: multi-branch training alone' if _extra else ''),
        alone=alone_small, method=_okdhp(_name, _extra), default=OKDHP_DEFAULT, branches=True,
        variants={OKDHP_DEFAULT: OKDHP_VARIANTS[OKDHP_DEFAULT]} if _extra else OKDHP_VARIANTS,
        prerequisites=_inits('res18-16', SMALL)))


def _distiller(name: str, config: str, options: Callable[[Preset], dict]
               ) -> Callable[[Preset, int, str], RunSpec]:
    return lambda p, s, v: RunSpec(run_key(name, v, s), config, s, {**schedule(p.epochs),
                                                                  **options(p)},
                                   init_from=_paired('res18-16', s, 'prefix', 'student.'),
                                   kd_ratio=True)


register(Method(
    name='fpd', what='two-stage KD (FPD: the slim ResNet-18 trained first, MSE to its heatmaps)',
    alone=alone_small, method=_distiller('fpd', FPD, lambda p: {
        'model.teacher_checkpoint': checkpoint_of(_teacher(p).key)}),
    prerequisites=lambda p: [_teacher(p)] + _inits('res18-16', SMALL)(p),
    extra_time=lambda p, s: (_teacher(p).key, )))
register(Method(
    name='odkd', what='ODKD (the slim ResNet-18 primary, then the mask-aware ResNet-34 senior)',
    alone=alone_small, method=_distiller('odkd', ODKD, lambda p: {
        'model.teachers.primary.checkpoint': checkpoint_of(_teacher(p).key),
        'model.teachers.senior.checkpoint': checkpoint_of(_senior(p).key),
        'custom_hooks': [dict(type='OrderlyTeacherHook', switch_epoch=p.epochs // 2)]}),
    prerequisites=lambda p: [_teacher(p), _senior(p)] + _inits('res18-16', SMALL)(p),
    extra_time=lambda p, s: (_teacher(p).key, _senior(p).key)))


def _dsnt_init(s: int, prefix: str = '') -> dict:
    return dict(checkpoint=checkpoint_of(f'alone/res18-16/seed{s}'), map='integral', prefix=prefix)


HHD_LOSS = 'model.distill_losses.loss_hhd'
# The released CropbiasLoss at the weight that brings it to the task loss's scale: at the
# released 0.5 it is 100-400x the task loss, and every variant lost AP on the tune split.
HHD_VARIANTS = {'released-w0.005': {f'{HHD_LOSS}.loss_weight': 0.005}, 'released': {}}
register(Method(
    name='hhd', what='HHD (slim ResNet-18 heatmap teacher -> half-width DSNT student)',
    alone=lambda p, s: RunSpec(f'alone/dsnt-res18-16/seed{s}', DSNT, s,
                               schedule(p.finetune_epochs), init_from=_dsnt_init(s)),
    method=lambda p, s, v: RunSpec(run_key('hhd', v, s), HHD, s, {
        **schedule(p.finetune_epochs), 'model.teacher_checkpoint': checkpoint_of(
            _teacher(p).key), **HHD_VARIANTS[v]}, init_from=_dsnt_init(s, 'student.'),
        kd_ratio=True),
    variants=HHD_VARIANTS, default='released-w0.005', seeds=3,
    prerequisites=lambda p: [_teacher(p)] + _inits('res18-16', SMALL, 3)(p) + [
        alone_small(p, s) for s in p.seeds[:3]],
    extra_time=lambda p, s: (_teacher(p).key, f'alone/res18-16/seed{s}'),
    alone_extra_time=lambda p, s: (f'alone/res18-16/seed{s}', )))


def _rtm_alone(p: Preset, s: int) -> RunSpec:
    return RunSpec(f'alone/rtmpose-t/seed{s}', RTMPOSE, s, schedule(p.epochs, flat=0.5),
                   init_from=_paired('rtmpose-t', s))


# Tune split, seeds 0-1 (gain over alone): live +0.020 +- 0.002, detached +0.018 +- 0.000.
RTMPOSE_VARIANTS = {'live': {}, 'detached': {'model.head.detach_ensemble': True}}
RTMPOSE_NO_KD = {'model.head.kd_loss_weight': 0.0}  # MMPose's KLDiscretLoss: no loss_weight
for _name, _extra in (('okdhp_rtmpose', {}), ('okdhp_rtmpose_nokd', RTMPOSE_NO_KD)):
    register(Method(
        name=_name, what='OKDHP for RTMPose-t (SimCC KL from the FAU ensemble)' + (
            ', the KD weight at 0' if _extra else ''), alone=_rtm_alone,
        method=lambda p, s, v, n=_name, e=_extra: RunSpec(
            run_key(n, v, s), OKDHP_RTMPOSE, s, {**schedule(p.epochs, flat=0.5),
                                                 'model.head.kd_ramp_epochs': _ramp(p.epochs),
                                                 **RTMPOSE_VARIANTS[v], **e},
            init_from=_paired('rtmpose-t', s, 'branch'), kd_ratio=True),
        variants={'live': {}} if _extra else RTMPOSE_VARIANTS, default='live',
        prerequisites=_inits('rtmpose-t', RTMPOSE), branches=True))


_rtm_teacher = partial(_teacher, key='rtmpose-s', config=RTMPOSE_TEACHER, flat=0.5)  # DWPose's
register(Method(
    name='dwpose', what="DWPose's first stage (MMPose's DWPoseDistiller: RTMPose-s -> RTMPose-t)",
    alone=_rtm_alone, method=lambda p, s, v: RunSpec(
        run_key('dwpose', v, s), DWPOSE, s, {
            **schedule(p.epochs, flat=0.5),
            'model.teacher_pretrained': checkpoint_of(_rtm_teacher(p).key)},
        init_from=_paired('rtmpose-t', s, 'prefix', 'student.'), kd_ratio=True),
    prerequisites=lambda p: [_rtm_teacher(p)] + _inits('rtmpose-t', RTMPOSE)(p),
    extra_time=lambda p, s: (_rtm_teacher(p).key, )))
