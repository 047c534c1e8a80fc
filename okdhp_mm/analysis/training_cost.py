"""Training cost of one-stage (OKDHP) against two-stage (FPD) distillation: forward
multiply-accumulates per training image, as the OKDHP paper's TrainCost column counts them.

A training image costs the forward of every network that runs on it in every stage: the
student alone its own forward; OKDHP the multi-branch network (trunk once, every branch, the
FAU ensemble); two-stage KD the teacher's own training, then the student with the frozen
teacher's forward (``teacher_epochs / epochs`` weighs the first stage when the teacher trains
longer than the student). Backward passes cost about twice their forward in every row alike,
so the ratios between rows are those of the full training.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

__all__ = ['PAPER_ROWS', 'training_forward_macs', 'paper_cost_rows', 'evidence_cost_rows']

_CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
_MPII = osp.join(_CONFIGS, 'okdhp', 'mpii')
# (row, paper TrainCost GFLOPs, student alone / OKDHP config, two-stage teacher config)
PAPER_ROWS = (
    ('student alone (4-stack hourglass)', 14, 'td-hm_hourglass4-paper_1xb16-150e_mpii-256x256.py',
     None),
    ('two-stage KD (FPD: 8-stack teacher, then the 4-stack student)', 66,
     'td-hm_hourglass4-paper_1xb16-150e_mpii-256x256.py',
     'td-hm_hourglass8-paper_1xb16-150e_mpii-256x256.py'),
    ('OKDHP balanced (2 shared + 3 x 2 stacks)', 47,
     'okdhp_hourglass4-2s-3x2b_1xb16-150e_mpii-256x256.py', None),
    ('OKDHP unbalanced (2 shared + 2 / 4 / 6 stacks)', 64,
     'okdhp_hourglass4-2s-2x4x6b-unbalanced_1xb16-150e_mpii-256x256.py', None),
)


def training_forward_macs(config: str) -> int:
    """Multiply-accumulates of one training forward of ``config``'s model on one image at its
    codec's input size: all branches and the FAU ensemble of a multi-branch model, the
    student only of a distiller, else the model."""
    from mmengine.config import Config
    from mmpose.registry import MODELS

    import okdhp_mm  # noqa: F401  (registers our modules)
    from okdhp_mm.analysis.benchmark.complexity import _FlatOutputs, count_flops

    cfg = Config.fromfile(config)
    w, h = cfg.codec['input_size']
    model_cfg = cfg.model
    if model_cfg.get('type') == 'TeacherStudentDistiller':
        model_cfg = model_cfg['student']
    model = MODELS.build(model_cfg).eval()
    x = torch.zeros(1, 3, h, w)
    with torch.no_grad():
        if hasattr(model.head, 'ensemble'):  # OKDHP: trunk, every branch, the FAU
            return count_flops(_FlatOutputs(model, lambda m, i: m.head.forward(
                m.extract_feat(i))), (x, ))
        return count_flops(model, (x, None))


def _cost(student: int, teacher: Optional[int], teacher_epochs_ratio: float) -> int:
    if teacher is None:
        return student
    return int(teacher_epochs_ratio * teacher + student + teacher)


def paper_cost_rows() -> List[Dict[str, Any]]:
    """The paper's rows (MPII 256x256, its hourglasses) counted here, beside its TrainCost."""
    macs: Dict[str, int] = {}
    rows = []
    for name, paper, config, teacher in PAPER_ROWS:
        for c in (config, teacher):
            if c is not None and c not in macs:
                macs[c] = training_forward_macs(osp.join(_MPII, c))
        cost = _cost(macs[config], macs.get(teacher), 1.0)
        rows.append(dict(row=name, paper_gflops=paper, gmacs=cost / 1e9))
    return rows


def evidence_cost_rows(summary: Mapping[str, Any], configs: Mapping[str, str],
                       teacher_epochs_ratio: float) -> List[Dict[str, Any]]:
    """The same accounting for an evidence run's rows, with their measured wall times.

    ``configs``: ``alone`` (OKDHP's student alone), ``okdhp``, ``fpd_student`` and
    ``fpd_teacher`` config paths; ``summary``: the evidence summary (``methods`` rows with
    ``train_seconds``).
    """
    macs = {k: training_forward_macs(v) for k, v in configs.items()}
    methods = summary['methods']
    rows = []

    def wall(name: str, side: str) -> Optional[float]:
        if name not in methods:
            return None
        times = methods[name]['train_seconds'][side]
        return sum(times) / len(times)

    rows.append(dict(row='slim ResNet-18 alone', gmacs=macs['alone'] / 1e9,
                     seconds=wall('okdhp', 'alone')))
    rows.append(dict(row='OKDHP (3 branches; the slim ResNet-18 student)',
                     gmacs=macs['okdhp'] / 1e9, seconds=wall('okdhp', 'method')))
    rows.append(dict(row='half-width ResNet-18 alone', gmacs=macs['fpd_student'] / 1e9,
                     seconds=wall('fpd', 'alone')))
    rows.append(dict(row='two-stage KD (FPD: slim ResNet-18 teacher, then the half-width '
                     'student), teacher training included',
                     gmacs=_cost(macs['fpd_student'], macs['fpd_teacher'],
                                 teacher_epochs_ratio) / 1e9,
                     seconds=wall('fpd', 'method')))
    return rows


def cost_markdown(paper: Sequence[Mapping[str, Any]],
                  evidence: Sequence[Mapping[str, Any]] = ()) -> str:
    """The two tables of ``docs/results.md``'s training-cost section."""
    base = paper[0]['gmacs']
    lines = ['| training | paper TrainCost (GFLOPs) | here: forward GMACs per training image '
             '| relative to the student alone (paper / here) |', '| --- | --- | --- | --- |']
    for r in paper:
        lines.append(f"| {r['row']} | {r['paper_gflops']} | {r['gmacs']:.1f} | "
                     f"{r['paper_gflops'] / paper[0]['paper_gflops']:.2f} / "
                     f"{r['gmacs'] / base:.2f} |")
    if evidence:
        lines += ['', '| built-in data (evidence runs) | forward GMACs per training image '
                  '| wall time to the reported student (s, mean over seeds) |',
                  '| --- | --- | --- |']
        for r in evidence:
            t = '-' if r.get('seconds') is None else f"{r['seconds']:.0f}"
            lines.append(f"| {r['row']} | {r['gmacs']:.3f} | {t} |")
    return '\n'.join(lines)
