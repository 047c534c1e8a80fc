"""results.json / results.md / results.png of an evidence run."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Dict, List, Mapping, Sequence

from .plan import Method, Preset, _variant_key
from .stats import mean, paired_gain, sample_std

__all__ = ['method_result', 'plot_results', 'summarise', 'write_markdown']

AP = 'coco/AP'


def _ap(result: Mapping, split: str, key: str = AP) -> float:
    return float(result['metrics'][split][key])


def _okdhp_pick(result: Mapping, split: str = 'report') -> Dict[str, Any]:
    """The branch a user would export: the best one on the tune split, scored on ``split``."""
    tune = result['metrics']['tune']
    branches = sorted(int(k[len('branch'):-len('/' + AP)]) for k in tune
                      if k.startswith('branch') and k.endswith('/' + AP))
    best = max(branches, key=lambda t: tune[f'branch{t}/{AP}'])
    chosen = result['metrics'][split]
    return dict(branch=best, ap=float(chosen[f'branch{best}/{AP}']),
                branch_ap=[float(chosen[f'branch{t}/{AP}']) for t in branches],
                ensemble_ap=float(chosen[f'ensemble/{AP}']))


def _seconds(results: Mapping, keys: Sequence[str]) -> float:
    return float(sum(results[k]['train_seconds'] for k in keys))


def method_result(m: Method, preset: Preset, results: Mapping[str, dict], variant: str,
                  split: str = 'report') -> Dict[str, Any]:
    """One row: per-seed AP of the student alone and with the method (on ``split``), the
    paired gain and the wall times."""
    seeds = list(preset.seeds)
    alone_keys = [m.alone(preset, s).key for s in seeds]
    method_keys = [_variant_key(m.name, variant, s) for s in seeds]
    alone_ap = [_ap(results[k], split) for k in alone_keys]
    row: Dict[str, Any] = dict(seeds=seeds, variant=variant or None, split=split)
    if m.name.startswith('okdhp'):  # OKDHP rows: the exported branch, chosen on tune
        picks = [_okdhp_pick(results[k], split) for k in method_keys]
        method_ap = [p['ap'] for p in picks]
        row['branches'] = picks
    else:
        method_ap = [_ap(results[k], split) for k in method_keys]
    gain = paired_gain(alone_ap, method_ap)
    row.update(alone_ap=alone_ap, method_ap=method_ap, gain_mean=gain['gain_mean'],
               gain_sem=gain['gain_sem'], gain_std=gain['gain_std'], gains=gain['gains'],
               significant=gain['significant'],
               alone_mean=mean(alone_ap), alone_std=sample_std(alone_ap),
               method_mean=mean(method_ap), method_std=sample_std(method_ap))
    row['train_seconds'] = dict(
        alone=[_seconds(results, (a, ) + m.alone_extra_time(preset, s))
               for a, s in zip(alone_keys, seeds)],
        method=[_seconds(results, (k, ) + m.method_extra_time(preset, s))
                for k, s in zip(method_keys, seeds)],
        parts={k: float(results[k]['train_seconds']) for s in seeds
               for k in (m.method_extra_time(preset, s) + m.alone_extra_time(preset, s))})
    return row


def summarise(methods: Sequence[Method], preset: Preset, results: Mapping[str, dict],
              meta: Mapping[str, Any], tuned: Mapping[str, Sequence[str]] = {}
              ) -> Dict[str, Any]:
    """The whole ``results.json``: every method's default recipe on the report split, every
    tried variant on the tune split, and the ablations."""
    out: Dict[str, Any] = dict(meta=dict(meta), methods={}, tuning={}, ablations={})
    for m in methods:
        out['methods'][m.name] = method_result(m, preset, results, m.default, 'report')
        out['methods'][m.name]['what'] = m.what
        tried = [v for v in tuned.get(m.name, ()) if
                 all(_variant_key(m.name, v, s) in results for s in preset.seeds)]
        if tried:
            out['tuning'][m.name] = {v or 'default': method_result(m, preset, results, v, 'tune')
                                     for v in tried}
        abl = {}
        for spec in m.ablations(preset):
            if spec.key in results:
                r = results[spec.key]
                abl[spec.key.split('/')[0]] = dict(report_ap=_ap(r, 'report'),
                                                   tune_ap=_ap(r, 'tune'), seed=spec.seed)
        if abl:
            out['ablations'][m.name] = abl
    return out


def _pm(values: Sequence[float]) -> str:
    return f'{mean(values):.3f} ± {sample_std(values):.3f}'


def _gain(row: Mapping[str, Any]) -> str:
    """``+g ± sem``; one seed has no standard error."""
    sem = row['gain_sem']
    return f"{row['gain_mean']:+.3f}" + (f' ± {sem:.3f}' if sem == sem else ' (one seed)')


def _run_time(meta: Mapping[str, Any]) -> str:
    """The wall time of the call that wrote the report and, where it reused runs trained
    before, the training time of every run it reports (summed over parallel runs)."""
    wall, jobs = meta['wall_seconds'], max(1, meta.get('jobs', 1))
    total = meta.get('train_seconds_total')
    text = f'the run took {wall / 60:.0f} min'
    # More training than ``jobs`` runs at a time could do in the wall time: some was reused.
    if total is not None and total > wall * jobs:
        text += (f' (it reused runs trained before with the same settings; the trainings it '
                 f'reports add up to {total / 60:.0f} min, {jobs} at a time)')
    return text


def write_markdown(summary: Mapping[str, Any], path: str) -> str:
    meta = summary['meta']
    lines = ['# Evidence: every method against the same student trained alone', '',
             f"Built-in synthetic data ({meta['data']['train_images']} training images; "
             f"reported on {meta['data']['report_images']} validation images, recipes and "
             f"OKDHP's exported branch chosen on a separate tune split of "
             f"{meta['data']['tune_images']} images); seeds {meta['seeds']} (a seed changes "
             'initialisation and data order, not the data). CocoMetric AP with ground-truth '
             f"boxes and flip test. {meta['machine']}; {_run_time(meta)}." + (
                 ' The heatmap teacher (of FPD and HHD, and ODKD\'s primary teacher) is the '
                 'slim student trained alone; the senior teacher is it fine-tuned with a '
                 'mask output.' if meta.get('teacher') == 'alone' else ''), '',
             '| method | student alone AP | with the method AP | paired gain ± SEM | '
             '> 2 SEM | wall time, alone / method (s, teachers included) |',
             '| --- | --- | --- | --- | --- | --- |']
    for name, row in summary['methods'].items():
        t = row['train_seconds']
        lines.append(
            f"| {name}{' (' + row['variant'] + ')' if row['variant'] else ''} | "
            f"{_pm(row['alone_ap'])} | {_pm(row['method_ap'])} | "
            f"{_gain(row)} | {'yes' if row['significant'] else 'no'} | "
            f"{mean(t['alone']):.0f} / {mean(t['method']):.0f} |")
    lines += ['', 'Per seed (alone -> method):', '']
    for name, row in summary['methods'].items():
        pairs = ', '.join(f'{a:.3f} -> {b:.3f}' for a, b in zip(row['alone_ap'],
                                                               row['method_ap']))
        lines.append(f'* {name}: {pairs}')
        if 'branches' in row:
            for s, pick in zip(row['seeds'], row['branches']):
                lines.append(f"  * seed {s}: branches {', '.join(f'{v:.3f}' for v in pick['branch_ap'])}"
                             f", ensemble {pick['ensemble_ap']:.3f}; exported branch "
                             f"{pick['branch']} (best on the tune split)")
    if summary['tuning']:
        lines += ['', '## Recipes on the tune split (the reported rows use the recipe named '
                  'in the table; other variants appear when this run has them for every seed: '
                  '`--variants all`)', '',
                  '| method | recipe | alone AP | method AP | gain ± SEM |', '| --- | --- | --- | --- | --- |']
        for name, variants in summary['tuning'].items():
            for v, row in variants.items():
                lines.append(f"| {name} | {v} | {_pm(row['alone_ap'])} | "
                             f"{_pm(row['method_ap'])} | {_gain(row)} |")
    if summary['ablations']:
        lines += ['', '## Ablations (one seed)', '', '| run | report AP | tune AP |',
                  '| --- | --- | --- |']
        for name, abl in summary['ablations'].items():
            for k, v in abl.items():
                lines.append(f"| {k} | {v['report_ap']:.3f} | {v['tune_ap']:.3f} |")
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def plot_results(summary: Mapping[str, Any], path: str) -> str:
    """Per method: the seeds' alone -> method APs (lines), mean ± std, and the paired gain
    with two standard errors."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(summary['methods'])
    fig, (ax_ap, ax_gain) = plt.subplots(1, 2, figsize=(max(8, 3 * len(names)), 4.5))
    for i, name in enumerate(names):
        row = summary['methods'][name]
        for a, b in zip(row['alone_ap'], row['method_ap']):
            ax_ap.plot([i - 0.15, i + 0.15], [a, b], color='0.6', lw=1, marker='o', ms=3)
        for x, vals, color in ((i - 0.15, row['alone_ap'], 'tab:blue'),
                               (i + 0.15, row['method_ap'], 'tab:orange')):
            ax_ap.errorbar(x, mean(vals), yerr=sample_std(vals), fmt='s', color=color,
                           capsize=4)
        sem = row['gain_sem'] if row['gain_sem'] == row['gain_sem'] else 0.0
        ax_gain.bar(i, row['gain_mean'], yerr=2 * sem, capsize=5,
                    color='tab:green' if row['significant'] else 'tab:gray')
    for ax in (ax_ap, ax_gain):
        ax.set_xticks(range(len(names)), names)
    ax_ap.set_ylabel('AP (report split)')
    ax_ap.set_title('student alone (blue) -> with the method (orange), per seed')
    ax_gain.axhline(0, color='k', lw=0.8)
    ax_gain.set_ylabel('paired gain (AP), bar: ± 2 SEM')
    ax_gain.set_title('gain over the student alone')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _finite(x: Any) -> Any:
    """NaN (the standard error of one seed) as JSON null: strict JSON has no NaN."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, Mapping):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def write_json(summary: Mapping[str, Any], path: str) -> str:
    with open(path, 'w') as f:
        json.dump(_finite(summary), f, indent=1, allow_nan=False)
    return path
