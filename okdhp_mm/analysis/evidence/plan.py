"""Which runs prove what: every method against the same student trained alone, per seed.

A *method* (:class:`Method`) names the run of its student trained alone and the run of the
student trained with the method, both per seed, plus the teacher runs it needs (trained once,
seed-independent). :func:`build_plan` turns the chosen methods and seeds into the
:class:`~okdhp_mm.analysis.evidence.scheduler.RunSpec` list; runs shared by several methods
(the student alone, the teachers) appear once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .data import EvidenceData
from .scheduler import CHECKPOINT_OF, RunSpec

__all__ = ['METHODS', 'Method', 'Preset', 'PRESETS', 'build_plan', 'schedule',
           'teacher_checkpoint']

TEACHER_SEED = 1000  # teachers: one training, independent of the students' seeds

BASELINE = 'configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py'
SMALL = 'configs/odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py'
OKDHP = 'configs/okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py'
FPD = 'configs/fpd/synthetic/fpd_res18_res18-16_1xb32-20e_synthetic-128x96.py'
DSNT = 'configs/hhd/synthetic/td-dsnt_res18-16_1xb32-20e_synthetic-128x96.py'
HHD = 'configs/hhd/synthetic/hhd_res18-hm_res18-16-dsnt_1xb32-20e_synthetic-128x96.py'
SENIOR = 'configs/odkd/synthetic/td-hm-mask_res18_1xb32-20e_synthetic-128x96.py'
ODKD = 'configs/odkd/synthetic/odkd_res18-res18mask_res18-16_1xb32-20e_synthetic-128x96.py'
RTMPOSE = 'configs/baseline/synthetic/rtmpose-t_1xb32-20e_synthetic-128x96.py'
OKDHP_RTMPOSE = 'configs/okdhp/synthetic/okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py'


@dataclass(frozen=True)
class Preset:
    """Data sizes and schedule lengths (epochs) of an evidence run."""

    data: EvidenceData
    epochs: int           # every student
    teacher_epochs: int   # the heatmap teacher (its mid checkpoint is ODKD's primary)
    finetune_epochs: int  # the senior teacher's mask fine-tune; the DSNT fine-tune
    seeds: Tuple[int, ...] = (0, 1, 2)
    # 'separate': the heatmap teacher is a run of its own, ``teacher_epochs`` long, and its
    # half-way checkpoint is ODKD's weaker primary teacher. 'alone': the slim student trained
    # alone with the first seed (OKDHP's comparison) is the heatmap teacher and ODKD's primary
    # (the demo: one training fewer).
    teacher: str = 'separate'


PRESETS = {
    'full': Preset(EvidenceData(600, 300, 150), epochs=16, teacher_epochs=32, finetune_epochs=8),
    'quick': Preset(EvidenceData(48, 40, 30), epochs=1, teacher_epochs=2, finetune_epochs=1,
                    seeds=(0, 1)),
    # make demo: every method once (seed 0), sized for 15 minutes on 2 cores.
    'demo': Preset(EvidenceData(400, 150, 60), epochs=12, teacher_epochs=12, finetune_epochs=6,
                   seeds=(0, ), teacher='alone'),
    'demo-quick': Preset(EvidenceData(48, 40, 30), epochs=1, teacher_epochs=1,
                         finetune_epochs=1, seeds=(0, ), teacher='alone'),
}


def schedule(epochs: int, checkpoints: int = 1) -> Dict[str, object]:
    """Options giving a config ``epochs`` epochs of the synthetic recipe (warm-up, cosine) and
    ``checkpoints`` evenly spaced checkpoints (the last one at the end)."""
    return {
        'train_cfg.max_epochs': epochs,
        'param_scheduler': [
            dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
            dict(type='CosineAnnealingLR', T_max=epochs, eta_min=1e-5, by_epoch=True, begin=0,
                 end=epochs)],
        'default_hooks.checkpoint.interval': max(1, epochs // checkpoints),
        'default_hooks.checkpoint.max_keep_ckpts': checkpoints,
    }


def checkpoint_of(key: str, epoch: Optional[int] = None) -> str:
    """Placeholder for run ``key``'s final (or epoch-``epoch``) checkpoint."""
    return f'{CHECKPOINT_OF}{key}' + (f'@{epoch}' if epoch is not None else '') + '}'


@dataclass(frozen=True)
class Method:
    """A method against its student trained alone.

    ``alone(preset, seed)`` / ``method(preset, seed, variant)`` give the two runs of a seed;
    ``prerequisites(preset)`` the runs both may need (teachers, pre-trained students).
    ``variants`` are recipe candidates (options merged into the method run), compared on the
    tune split; ``default`` is the one reported. ``method_extra_time(preset, seed)`` names the
    runs besides the method's own that its student's wall time includes (teachers,
    pre-training), ``alone_extra_time`` those of the alone row.
    """

    name: str
    what: str
    alone: Callable[[Preset, int], RunSpec]
    method: Callable[[Preset, int, str], RunSpec]
    prerequisites: Callable[[Preset], List[RunSpec]] = lambda preset: []
    variants: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: {'': {}})
    default: str = ''
    ablations: Callable[[Preset], List[RunSpec]] = lambda preset: []
    method_extra_time: Callable[[Preset, int], Tuple[str, ...]] = lambda preset, seed: ()
    alone_extra_time: Callable[[Preset, int], Tuple[str, ...]] = lambda preset, seed: ()


def _teacher(p: Preset) -> RunSpec:
    """The heatmap teacher: the slim ResNet-18 baseline, as its own run with a checkpoint at
    half its schedule (ODKD's weaker primary teacher), or (``p.teacher == 'alone'``) the
    slim student trained alone with the first seed."""
    if p.teacher == 'alone':
        return _alone('alone/res18', BASELINE)(p, p.seeds[0])
    if p.teacher != 'separate':
        raise ValueError(f"Preset.teacher must be 'separate' or 'alone', got {p.teacher!r}")
    return RunSpec('teacher/heatmap', BASELINE, TEACHER_SEED,
                   schedule(p.teacher_epochs, checkpoints=2))


def teacher_checkpoint(p: Preset, primary: bool = False) -> str:
    """Placeholder for the heatmap teacher's checkpoint; ``primary=True``: ODKD's primary
    teacher (the separate teacher's half-way checkpoint)."""
    key = _teacher(p).key
    if primary and p.teacher == 'separate':
        return checkpoint_of(key, p.teacher_epochs // 2)
    return checkpoint_of(key)


def _alone(key: str, config: str) -> Callable[[Preset, int], RunSpec]:
    return lambda p, s: RunSpec(f'{key}/seed{s}', config, s, schedule(p.epochs))


def _variant_key(name: str, variant: str, seed: int) -> str:
    return f'{name}{"-" + variant if variant else ""}/seed{seed}'


def build_plan(methods: Sequence[Method], preset: Preset, variants: str = 'default',
               with_ablations: bool = True) -> List[RunSpec]:
    """Every run the chosen methods need, each once, prerequisites first.

    ``variants='default'`` runs each method's default recipe, ``'all'`` every candidate.
    """
    specs: Dict[str, RunSpec] = {}
    for m in methods:
        names = list(m.variants) if variants == 'all' else [m.default]
        runs = m.prerequisites(preset) + [m.alone(preset, s) for s in preset.seeds] + [
            m.method(preset, s, v) for s in preset.seeds for v in names]
        if with_ablations:
            runs += m.ablations(preset)
        for run in runs:
            specs.setdefault(run.key, run)
    return list(specs.values())


METHODS: Dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method
