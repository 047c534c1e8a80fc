"""results.json / results.md / results.png of an evidence run."""
from __future__ import annotations

import json
import math
from typing import Any, Dict, Mapping, Sequence

import numpy as np
from scipy import stats

from .plan import Method, Preset

__all__ = ['method_result', 'paired_gain', 'summarise', 'write_json', 'write_markdown']

AP = 'coco/AP'


def paired_gain(alone: Sequence[float], method: Sequence[float]) -> Dict[str, Any]:
    """Per-seed gains ``method - alone`` (a seed: the same initial weights and data order),
    their mean, sample standard deviation, standard error and whether mean > 2 SEM."""
    if len(alone) != len(method) or not alone:
        raise ValueError(f'paired_gain needs as many method values as alone values (>= 1), '
                         f'got {len(alone)} and {len(method)}')
    gains = np.asarray(method, float) - np.asarray(alone, float)
    mean, many = float(gains.mean()), len(gains) > 1
    std, sem = (float(np.std(gains, ddof=1)), float(stats.sem(gains))) if many else (0., math.nan)
    return dict(gains=gains.tolist(), gain_mean=mean, gain_std=std, gain_sem=sem,
                significant=bool(many and mean > 2 * sem))


def _ap(result: Mapping, split: str, key: str = AP) -> float:
    return float(result['metrics'][split][key])


def method_result(m: Method, preset: Preset, results: Mapping[str, dict], variant: str,
                  split: str = 'report') -> Dict[str, Any]:
    """One row: per-seed AP alone and with the method on ``split`` (multi-branch: branch 0,
    the exported student paired with the alone run), the paired gain, KD / GT gradient ratio
    and wall times (teachers included)."""
    seeds = m.seeds_of(preset)
    alone = [m.alone(preset, s).key for s in seeds]
    runs = [m.key(variant, s) for s in seeds]
    key = f'branch0/{AP}' if m.branches else AP
    row: Dict[str, Any] = dict(seeds=seeds, variant=variant or None, split=split,
                               alone_ap=[_ap(results[k], split) for k in alone],
                               method_ap=[_ap(results[k], split, key) for k in runs])
    if m.branches:
        row['branches'] = [dict(branch_ap=[v for k, v in sorted(results[r]['metrics'][split]
                                                                   .items())
                                           if k.startswith('branch') and k.endswith('/' + AP)],
                                ensemble_ap=_ap(results[r], split, f'ensemble/{AP}'))
                           for r in runs]
    row.update(paired_gain(row['alone_ap'], row['method_ap']))
    for side in ('alone', 'method'):
        row[f'{side}_mean'] = float(np.mean(row[f'{side}_ap']))
        row[f'{side}_std'] = float(np.std(row[f'{side}_ap'], ddof=1)) if len(seeds) > 1 else 0.
    ratios = [results[r].get('kd_gt_ratio') for r in runs]
    row['kd_gt_ratio'] = float(np.mean(ratios)) if None not in ratios else None

    def seconds(keys):
        return float(sum(results[k]['train_seconds'] for k in keys))
    row['train_seconds'] = dict(
        alone=[seconds((a, ) + m.alone_extra_time(preset, s)) for a, s in zip(alone, seeds)],
        method=[seconds((r, ) + m.extra_time(preset, s)) for r, s in zip(runs, seeds)])
    return row


def summarise(methods: Sequence[Method], preset: Preset, results: Mapping[str, dict],
              meta: Mapping[str, Any], tuned: Mapping[str, Sequence[str]] = {}
              ) -> Dict[str, Any]:
    """The whole ``results.json``: every method's default recipe on the report split, every
    tried variant on the tune split, and OKDHP against OKDHP without KD."""
    out: Dict[str, Any] = dict(meta=dict(meta), methods={}, tuning={})
    for m in methods:
        out['methods'][m.name] = dict(method_result(m, preset, results, m.default), what=m.what)
        tried = [v for v in tuned.get(m.name, ())
                 if all(m.key(v, s) in results for s in m.seeds_of(preset))]
        if len(tried) > 1:
            out['tuning'][m.name] = {v or 'default': method_result(m, preset, results, v, 'tune')
                                     for v in tried}
    rows = out['methods']
    for a, b in (('okdhp_nokd', 'okdhp'), ('okdhp_rtmpose_nokd', 'okdhp_rtmpose')):
        if a in rows and b in rows:
            out.setdefault('distillation', {})[b] = dict(
                paired_gain(rows[a]['method_ap'], rows[b]['method_ap']), against=a)
    return out


def _pm(values: Sequence[float]) -> str:  # mean ± sample standard deviation
    return f'{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}'


def _gain(row: Mapping[str, Any]) -> str:
    sem = row['gain_sem']
    return f"{row['gain_mean']:+.3f}" + (f' ± {sem:.3f}' if sem == sem else ' (one seed)')


def write_markdown(summary: Mapping[str, Any], path: str) -> str:
    meta = summary['meta']
    total = meta.get('train_seconds_total', 0) / 60
    lines = ['# Evidence: every method against the same student trained alone', '',
             f"Built-in synthetic data ({meta['data']['train_images']} training images; "
             f"reported on {meta['data']['report_images']} validation images; recipes chosen "
             f"on a separate tune split of {meta['data']['tune_images']} images); seeds "
             f"{meta['seeds']} (a seed: the student's initial weights and the data order, the "
             'same for the student alone and with the method). CocoMetric AP, ground-truth '
             f"boxes, flip test. {meta['machine']}; this call took "
             f"{meta['wall_seconds'] / 60:.0f} min, the trainings it reports add up to "
             f'{total:.0f} min ({meta["jobs"]} at a time; finished runs are reused).', '',
             '| method | student alone AP | with the method AP | paired gain ± SEM | > 2 SEM '
             '| KD / GT gradient norm | wall time, alone / method (s, teachers included) |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for name, row in summary['methods'].items():
        t, r = row['train_seconds'], row.get('kd_gt_ratio')
        lines.append(f"| {name}{' (' + row['variant'] + ')' if row['variant'] else ''} | "
                     f"{_pm(row['alone_ap'])} | {_pm(row['method_ap'])} | {_gain(row)} | "
                     f"{'yes' if row['significant'] else 'no'} | "
                     f"{'-' if r is None else f'{r:.3g}'} | {np.mean(t['alone']):.0f} / "
                     f"{np.mean(t['method']):.0f} |")
    for name, d in summary.get('distillation', {}).items():
        lines += ['', f"{name} against {d['against']} (same network, recipe and seeds, KD "
                  f"weight 0): {_gain(d)} AP, {'more' if d['significant'] else 'not more'} "
                  'than 2 standard errors of the paired difference.']
    lines += ['', 'Per seed (alone -> method):', '']
    for name, row in summary['methods'].items():
        lines.append(f'* {name}: ' + ', '.join(f'{a:.3f} -> {b:.3f}' for a, b in
                                                zip(row['alone_ap'], row['method_ap'])))
        for s, b in zip(row['seeds'], row.get('branches', [])):
            lines.append(f"  * seed {s}: branches {', '.join(f'{v:.3f}' for v in b['branch_ap'])}"
                         f", ensemble {b['ensemble_ap']:.3f} (branch 0 is exported)")
    if summary['tuning']:
        lines += ['', '## Recipes on the tune split', '', '| method | recipe | alone AP | '
                  'method AP | gain ± SEM | KD / GT gradient norm |', '| --- | --- | --- | --- '
                  '| --- | --- |']
        for name, variants in summary['tuning'].items():
            for v, row in variants.items():
                r = row.get('kd_gt_ratio')
                lines.append(f"| {name} | {v} | {_pm(row['alone_ap'])} | {_pm(row['method_ap'])}"
                             f" | {_gain(row)} | {'-' if r is None else f'{r:.3g}'} |")
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def write_json(summary: Mapping[str, Any], path: str) -> str:
    """Strict JSON: NaN (the standard error of one seed) as null."""
    strict = json.loads(json.dumps(summary), parse_constant=lambda nan: None)
    with open(path, 'w') as f:
        json.dump(strict, f, indent=1, allow_nan=False)
    return path
