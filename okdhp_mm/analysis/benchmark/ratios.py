"""The headline ratios of the benchmark, their targets and the pass/fail checks."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

__all__ = ['TARGETS', 'compute_ratios']

# name -> (description, kind, bound(s)); kind 'band' = |value - 1| <= tol, 'max' = value <= bound
TARGETS = {
    'student_vs_plain': ('exported student / plain MMPose latency', 'band', (1.0, 0.03)),
    'branch_vs_student': ('branch k of multi-branch / exported student k latency', 'max', 1.05),
    'train_step_vs_ideal': ('multi-branch train step / FLOP-proportional ideal', 'max', 1.05),
    'fau_kl_share': ('share of the multi-branch train step in FAU + KL', 'max', 0.05),
}


def _check(name: str, value: float, label: Optional[str] = None) -> Dict[str, Any]:
    desc, kind, bound = TARGETS[name]
    if kind == 'band':
        centre, tol = bound
        ok = abs(value - centre) <= tol
        target = f'{centre:.2f} +/- {tol:.2f}'
    else:
        ok = value <= bound
        target = f'<= {bound:.0%}' if name == 'fau_kl_share' else f'<= {bound:.2f}'
    return dict(name=label or name, value=float(value), target=target,
                passed=bool(ok and math.isfinite(value)), description=desc)


def compute_ratios(latency: Dict[int, Dict[str, float]], models_info: Dict[str, Dict],
                   student_of: Dict[int, int], student_branch: int,
                   train: Dict[str, Any]) -> Tuple[Dict, Dict, List]:
    """``(ratios, ratios_by_batch, checks)`` of the result (see the package docstring)."""
    def student_name(k):
        j = student_of[k]
        return 'student' if j == student_branch else f'student{j}'

    by_batch = {}
    for bs, lat in latency.items():
        by_batch[str(bs)] = dict(
            student_vs_plain=lat['student'] / lat['plain'],
            branch_vs_student={str(k): lat[f'branch{k}'] / lat[student_name(k)]
                               for k in sorted(student_of)})
    svp = max((v['student_vs_plain'] for v in by_batch.values()), key=lambda r: abs(r - 1))
    bvs = {str(k): max(v['branch_vs_student'][str(k)] for v in by_batch.values())
           for k in sorted(student_of)}
    ratios = dict(student_vs_plain=svp, branch_vs_student=bvs,
                  train_step_vs_ideal=train['multi_branch']['step_ms'] / train['ideal_step_ms'],
                  fau_kl_share=train['fau_kl']['ms'] / train['multi_branch']['step_ms'])
    checks = [_check('student_vs_plain', svp)]
    checks += [_check('branch_vs_student', v, f'branch_vs_student[{k}]') for k, v in bvs.items()]
    checks += [_check('train_step_vs_ideal', ratios['train_step_vs_ideal']),
               _check('fau_kl_share', ratios['fau_kl_share'])]
    return ratios, by_batch, checks
