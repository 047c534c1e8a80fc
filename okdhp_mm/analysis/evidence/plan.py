"""Which runs prove what: a :class:`Method` names, per seed, its student's runs alone and with
the method and what both need; :func:`build_plan` lists each :class:`RunSpec` once. Config
paths are relative to the config folder the caller passes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ['CHECKPOINT_OF', 'METHODS', 'EvidenceData', 'Method', 'PRESETS', 'Preset', 'RunSpec',
           'build_plan', 'checkpoint_of', 'placeholder', 'run_key', 'schedule']

CHECKPOINT_OF = '{checkpoint:'  # '{checkpoint:KEY}' / '{checkpoint:KEY@EPOCH}' in options


def placeholder(value: Any) -> Optional[Tuple[str, Optional[int]]]:
    """``'{checkpoint:KEY[@EPOCH]}'`` -> (KEY, EPOCH or None)."""
    if not (isinstance(value, str) and value.startswith(CHECKPOINT_OF) and value[-1] == '}'):
        return None
    key, _, epoch = value[len(CHECKPOINT_OF):-1].partition('@')
    return key, (int(epoch) if epoch else None)


def checkpoint_of(key: str, epoch: Optional[int] = None) -> str:
    return f'{CHECKPOINT_OF}{key}' + (f'@{epoch}' if epoch is not None else '') + '}'


@dataclass(frozen=True)
class RunSpec:
    """One run: ``config`` with ``options`` merged in, seeded with ``seed``, one thread;
    ``kind='init'`` only saves the initial weights (a seed's paired start); ``init_from =
    {checkpoint, map, prefix}`` starts from them (``okdhp_mm.export.student_state_into``);
    ``kd_ratio``: log the KD / GT gradient ratio after training."""
    key: str
    config: str
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)
    init_from: Optional[Mapping[str, str]] = None
    kind: str = 'train'
    kd_ratio: bool = False

    @property
    def needs(self) -> Tuple[str, ...]:
        values = list(self.options.values()) + list((self.init_from or {}).values())
        return tuple(dict.fromkeys(p[0] for p in map(placeholder, values) if p))


@dataclass(frozen=True)
class EvidenceData:  # images of the three splits: training, report (its validation), tune
    train_images: int
    report_images: int
    tune_images: int


@dataclass(frozen=True)
class Preset:
    data: EvidenceData
    epochs: int
    teacher_epochs: int
    finetune_epochs: int
    seeds: Tuple[int, ...] = (0, 1, 2, 3, 4)


PRESETS = {
    'full': Preset(EvidenceData(600, 300, 150), epochs=16, teacher_epochs=32, finetune_epochs=8),
    'quick': Preset(EvidenceData(48, 40, 30), 1, 2, 1, seeds=(0, 1)),
    'demo': Preset(EvidenceData(300, 150, 60), 12, 12, 6, seeds=(0, )),  # < 15 min on 2 cores
    'demo-quick': Preset(EvidenceData(48, 40, 30), 1, 1, 1, seeds=(0, )),
}


def schedule(epochs: int, flat: float = 0.0) -> Dict[str, object]:
    """``epochs`` epochs: a 100-iteration warm-up, the learning rate flat for the first
    ``flat`` share of the epochs (RTMPose's recipe: half), then cosine; one checkpoint."""
    begin = int(round(flat * epochs))
    return {'train_cfg.max_epochs': epochs, 'default_hooks.checkpoint.interval': epochs,
            'default_hooks.checkpoint.max_keep_ckpts': 1, 'param_scheduler': [
                dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
                dict(type='CosineAnnealingLR', T_max=epochs - begin, eta_min=1e-5,
                     by_epoch=True, begin=begin, end=epochs)]}


@dataclass(frozen=True)
class Method:
    """A method against its student alone; ``variants`` are compared on the tune split,
    ``default`` is reported; ``extra_time`` / ``alone_extra_time`` name the runs whose training
    counts in a row's wall time; ``branches``: branch 0 is the exported, paired student."""
    name: str
    what: str
    alone: Callable[[Preset, int], RunSpec]
    method: Callable[[Preset, int, str], RunSpec]
    prerequisites: Callable[[Preset], List[RunSpec]] = lambda preset: []
    variants: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: {'': {}})
    default: str = ''
    extra_time: Callable[[Preset, int], Tuple[str, ...]] = lambda preset, seed: ()
    alone_extra_time: Callable[[Preset, int], Tuple[str, ...]] = lambda preset, seed: ()
    seeds: int = 5
    branches: bool = False

    def seeds_of(self, preset: Preset) -> List[int]:
        return list(preset.seeds[:self.seeds])

    def key(self, variant: str, seed: int) -> str:
        """The key of ``method(preset, seed, variant)``."""
        return run_key(self.name, variant, seed)


def run_key(name: str, variant: str, seed: int) -> str:
    return f'{name}{"-" + variant if variant else ""}/seed{seed}'


METHODS: Dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def build_plan(methods: Sequence[Method], preset: Preset,
               variants: str = 'default') -> List[RunSpec]:
    """Every run the methods need, each once (``variants='all'``: every candidate recipe)."""
    specs: Dict[str, RunSpec] = {}
    for m in methods:
        seeds = m.seeds_of(preset)
        for run in m.prerequisites(preset) + [m.alone(preset, s) for s in seeds] + [
                m.method(preset, s, v) for s in seeds
                for v in (m.variants if variants == 'all' else [m.default])]:
            specs.setdefault(run.key, run)
    return list(specs.values())
