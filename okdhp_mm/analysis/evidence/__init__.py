"""Does each method teach? Every method against the same student trained alone, over seeds.

:func:`run_evidence` trains (as separate processes, a few at a time, reusing what was trained
before) the students alone, the teachers and the students with each method on the built-in
synthetic data, scores them with ``CocoMetric`` and writes ``results.json``, ``results.md``
and ``results.png``. ``tools/evidence.py`` is its command line.
"""
from __future__ import annotations

import os
import os.path as osp
import platform
import time
from typing import Any, Dict, Optional, Sequence

from . import methods as _methods  # noqa: F401  (registers the rows)
from .data import EvidenceData, prepare_data
from .plan import METHODS, PRESETS, Preset, build_plan
from .report import plot_results, summarise, write_json, write_markdown
from .scheduler import RunSpec, run_all

__all__ = ['METHODS', 'PRESETS', 'EvidenceData', 'Preset', 'RunSpec', 'run_all',
           'run_evidence']


def _machine() -> str:
    return f'{platform.machine()} {os.cpu_count()} cores, {platform.python_implementation()} ' \
           f'{platform.python_version()}, no GPU'


def run_evidence(methods: Sequence[str], preset: Preset, out_dir: str, work_dir: str,
                 data_dir: str, jobs: int = 2, split: str = 'report',
                 variants: str = 'default', ablations: Optional[bool] = None,
                 log=print, worker_env: Optional[Dict[str, str]] = None
                 ) -> Optional[Dict[str, Any]]:
    """Train and score every run of ``methods``; write the results into ``out_dir``.

    ``split='tune'`` evaluates on the tune split only (to compare recipe candidates,
    ``variants='all'``) and writes no report: the report split stays unseen until a recipe is
    fixed. ``ablations`` (default: with the report split) adds the methods' ablation runs;
    ``worker_env`` goes into the training processes' environment.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f'unknown method(s) {unknown}; choose from {sorted(METHODS)}')
    if split not in ('report', 'tune'):
        raise ValueError(f"split must be 'report' or 'tune', got {split!r}")
    chosen = [METHODS[m] for m in methods]
    start = time.time()
    splits = prepare_data(data_dir, preset.data, log=log)
    if ablations is None:
        ablations = split == 'report'
    specs = build_plan(chosen, preset, variants=variants, with_ablations=ablations)
    evaluate = {'tune': splits['tune']}
    if split == 'report':
        evaluate['report'] = splits['report']
    results = run_all(specs, splits['train'], evaluate, work_dir, jobs=jobs, log=log,
                      worker_env=worker_env)
    if split == 'tune':
        from .report import method_result
        for m in chosen:
            for v in (m.variants if variants == 'all' else [m.default]):
                row = method_result(m, preset, results, v, 'tune')
                log(f'[evidence] tune split: {m.name} {v or "default"}: alone '
                    f'{row["alone_mean"]:.3f}, method {row["method_mean"]:.3f}, gain '
                    f'{row["gain_mean"]:+.3f} ± {row["gain_sem"]:.3f} (SEM)')
        return None
    tuned = {m.name: list(m.variants) for m in chosen}
    # Runs trained before with the same settings are reused, so the wall time of this call can
    # be far below the training it reports: record both.
    train_total = sum(r.get('train_seconds', 0.0) for r in results.values())
    meta = dict(machine=_machine(), wall_seconds=time.time() - start,
                train_seconds_total=train_total, seeds=list(preset.seeds),
                teacher=preset.teacher,
                epochs=preset.epochs, teacher_epochs=preset.teacher_epochs,
                finetune_epochs=preset.finetune_epochs, data=vars(preset.data), jobs=jobs,
                worker_env=dict(worker_env or {}),
                date=time.strftime('%Y-%m-%d'))
    summary = summarise(chosen, preset, results, meta, tuned)
    os.makedirs(out_dir, exist_ok=True)
    write_json(summary, osp.join(out_dir, 'results.json'))
    write_markdown(summary, osp.join(out_dir, 'results.md'))
    plot_results(summary, osp.join(out_dir, 'results.png'))
    return summary
