"""Does each method teach? Every method against the same student trained alone, over seeds:
:func:`run_evidence` trains (separate processes, a few at a time, reusing finished runs) on the
built-in data, scores with ``CocoMetric`` and writes ``results.json``, ``results.md`` and
``results.png``; ``tools/evidence.py`` is its command line."""
from __future__ import annotations

import os
import os.path as osp
import platform
import time
from typing import Any, Dict, Optional, Sequence

from . import methods as _methods  # noqa: F401  (registers the rows)
from .plan import METHODS, PRESETS, Preset, RunSpec, build_plan
from .report import method_result, summarise, write_json, write_markdown
from .runner import RETAIN_FREED_MEMORY, run_all

__all__ = ['METHODS', 'PRESETS', 'Preset', 'RETAIN_FREED_MEMORY', 'RunSpec', 'run_all',
           'run_evidence']


def run_evidence(methods: Sequence[str], preset: Preset, out_dir: str, work_dir: str,
                 data_dir: str, config_root: str, jobs: int = 2, split: str = 'report',
                 variants: str = 'default', log=print,
                 worker_env: Optional[Dict[str, str]] = None) -> Optional[Dict[str, Any]]:
    """Train and score every run of ``methods`` (configs under ``config_root``) and report in
    ``out_dir``; ``split='tune'`` (with ``variants='all'``: compare recipes) evaluates on the
    tune split only and writes no report: the report split stays unseen until a recipe is
    fixed."""
    from okdhp_mm.datasets.synthetic import prepare_splits
    from okdhp_mm.visualization.measurements import plot_results

    if [m for m in methods if m not in METHODS] or split not in ('report', 'tune'):
        raise ValueError(f'methods {list(methods)}, split {split!r}: choose methods from '
                         f"{sorted(METHODS)} and the split 'report' or 'tune'")
    chosen, start = [METHODS[m] for m in methods], time.time()
    splits = prepare_splits(data_dir, **vars(preset.data), log=log)
    evaluate = {k: splits[k] for k in ('tune', 'report')[:2 if split == 'report' else 1]}
    results = run_all(build_plan(chosen, preset, variants), splits['train'], evaluate, work_dir,
                      config_root, jobs=jobs, log=log, worker_env=worker_env)
    if split == 'tune':
        for m, v in ((m, v) for m in chosen for v in (m.variants if variants == 'all'
                                                        else [m.default])):
            r = method_result(m, preset, results, v, 'tune')
            log(f"[evidence] tune split: {m.name} {v or 'default'}: alone {r['alone_mean']:.3f}, "
                f"method {r['method_mean']:.3f}, gain {r['gain_mean']:+.3f} ± "
                f"{r['gain_sem']:.3f}, KD / GT gradient {r['kd_gt_ratio']}")
        return None
    meta = dict(vars(preset), machine=f'{platform.machine()} {os.cpu_count()} cores, Python '
                f'{platform.python_version()}, no GPU', wall_seconds=time.time() - start,
                train_seconds_total=sum(r.get('train_seconds', 0.) for r in results.values()),
                seeds=list(preset.seeds), data=vars(preset.data), jobs=jobs,
                worker_env=dict(worker_env or {}), date=time.strftime('%Y-%m-%d'))
    summary = summarise(chosen, preset, results, meta, {m.name: list(m.variants)
                                                         for m in chosen})
    os.makedirs(out_dir, exist_ok=True)
    write_json(summary, osp.join(out_dir, 'results.json'))
    write_markdown(summary, osp.join(out_dir, 'results.md'))
    plot_results(summary, osp.join(out_dir, 'results.png'))
    return summary
