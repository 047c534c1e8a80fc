"""The main job (``make demo``): OKDHP, HHD, ODKD and OKDHP for RTMPose on the built-in data,
each against the same student trained alone, from data to plain-MMPose students and a report.

:func:`run_demo` trains with the evidence tool (the ``demo`` preset: one seed, two runs at a
time, each run's epoch reported while it trains), exports each method's student as a plain
MMPose model, checks every export with plain MMPose in a process where ``okdhp_mm`` cannot be
imported, benchmarks OKDHP and writes ``summary.md`` with the pictures beside it.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Optional, Sequence

__all__ = ['DEMO_METHODS', 'run_demo', 'verify_export']

DEMO_METHODS = ('okdhp', 'hhd', 'odkd', 'okdhp_rtmpose')


def verify_export(info: Dict[str, Any], trained: Dict[str, str], ann_file: str, img_dir: str,
                  out_dir: str, options: Sequence[str] = ()) -> float:
    """Max |plain MMPose student - the trained model| in pixels over the persons of
    ``ann_file``; the plain side runs in a process where ``okdhp_mm`` cannot be imported."""
    import numpy as np

    import okdhp_mm.export
    script = osp.join(osp.dirname(okdhp_mm.export.__file__), 'verify_student.py')
    common = ['--ann', ann_file, '--img-dir', img_dir]
    runs = (([info['config'], info['checkpoint'], '--forbid', 'okdhp_mm'], 'plain.npz'),
            ([trained['config'], trained['checkpoint']] +
             (['--cfg-options', *options] if options else []), 'ours.npz'))
    for args, name in runs:  # -P: the script's folder (okdhp_mm/export) is not on sys.path
        subprocess.run([sys.executable, '-P', script, *args, *common, '--out',
                        osp.join(out_dir, name)], check=True, stdout=subprocess.DEVNULL)
    a, b = (np.load(osp.join(out_dir, n)) for n in ('plain.npz', 'ours.npz'))
    return float(np.abs(a['keypoints'] - b['keypoints']).max())


def run_demo(config_root: str, methods: Sequence[str] = DEMO_METHODS, quick: bool = False,
             out_dir: Optional[str] = None, data_dir: Optional[str] = None,
             work_dir: Optional[str] = None, jobs: int = 2, benchmark: bool = True,
             log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train, export, check and report ``methods`` (a subset of :data:`DEMO_METHODS`).
    ``out_dir``, ``data_dir`` and ``work_dir`` default to ``reports/``, ``data/`` and
    ``work_dirs/`` folders (in the working directory) named ``demo`` or ``demo-quick``."""
    from okdhp_mm.analysis.evidence import METHODS, PRESETS, RETAIN_FREED_MEMORY, run_evidence
    from okdhp_mm.visualization.training_report import draw_prediction_rows, plot_training_curves
    from okdhp_mm.export import export_student

    if not methods or any(m not in DEMO_METHODS for m in methods):
        raise ValueError(f'--methods {",".join(methods)!r}: choose from '
                         f'{",".join(DEMO_METHODS)}')
    t0, name = time.time(), 'demo-quick' if quick else 'demo'
    preset = PRESETS[name]
    data_dir, work_dir, out_dir = (d or osp.join(top, name) for d, top in (
        (data_dir, 'data'), (work_dir, 'work_dirs'), (out_dir, 'reports')))
    os.makedirs(out_dir, exist_ok=True)
    log(f'[demo] training {", ".join(methods)} and their student alone ({preset.epochs} '
        f'epochs, {preset.data.train_images} images, {jobs} runs at a time)')
    summary = run_evidence(list(methods), preset, out_dir, work_dir, data_dir, config_root,
                           jobs=jobs, log=log, worker_env=RETAIN_FREED_MEMORY)
    train_seconds = time.time() - t0
    split = osp.join(osp.abspath(data_dir), f'synthetic_coco_{preset.data.train_images}-'
                                            f'{preset.data.report_images}')
    with open(osp.join(split, 'annotations', 'person_keypoints_val.json')) as f:
        coco = json.load(f)
    coco['images'] = coco['images'][:4]  # the export check's persons: the first 4 images'
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] in {im['id'] for im in coco['images']}]
    ann, img_dir = osp.join(out_dir, 'verify_ann.json'), osp.join(split, 'val')
    with open(ann, 'w') as f:
        json.dump(coco, f)

    def run_of(key):
        with open(osp.join(work_dir, key, 'result.json')) as f:
            return dict(json.load(f), config=osp.join(work_dir, key, 'run_config.py'))
    exports, seed = {}, preset.seeds[0]
    for m in methods:
        method = METHODS[m]
        alone, trained = run_of(method.alone(preset, seed).key), run_of(method.key(
            method.default, seed))
        log(f'[demo {time.time() - t0:5.0f}s] {m}: export the student, check it with plain '
            'MMPose, draw')
        folder = osp.join(out_dir, f'{m}_student')
        info = export_student(trained['config'], trained['checkpoint'], folder,
                              branch=0 if method.branches else None,
                              name=f'{m}_student' + ('-branch0' if method.branches else ''))
        info['max_diff_px'] = verify_export(
            info, trained, ann, img_dir, folder,
            ['model.test_cfg.branch=0', 'model.test_cfg.output_all=False']
            if method.branches else [])
        exports[m] = info
        log(f'  {info["checkpoint"]}: plain MMPose reproduces it to {info["max_diff_px"]:.1e} px')
        plot_training_curves({f'{m} student': osp.dirname(trained['config']),
                              'student alone': osp.dirname(alone['config'])},
                             osp.join(out_dir, f'{m}_training.png'))
        draw_prediction_rows([('student alone', alone['config'], alone['checkpoint']),
                              (f'{m} student (exported)', info['config'], info['checkpoint'])],
                             ann, img_dir, osp.join(out_dir, f'{m}_predictions.png'))
    bench = None
    if benchmark and 'okdhp' in methods:
        from okdhp_mm.analysis.benchmark import run_benchmark

        log(f'[demo {time.time() - t0:5.0f}s] benchmark OKDHP')
        trained = run_of(METHODS['okdhp'].key(METHODS['okdhp'].default, seed))
        # CPU time: steady on a shared machine; capped repeats (alone, the benchmark repeats
        # until every interval is +-1 %).
        bench = run_benchmark(trained['config'], checkpoint=trained['checkpoint'],
                              quick=quick, out_dir=out_dir, threads=1, timer='cpu',
                              max_repeats=None if quick else 30,
                              time_cap_s=None if quick else 15.0)
    total = time.time() - t0
    path = _write_summary(exports, bench, out_dir, name, train_seconds, total)
    log(f'[demo] done in {total:.0f} s; report: {path}')
    return dict(summary=summary, exports=exports, benchmark=bench, seconds=total, out_dir=out_dir)


def _write_summary(exports: Dict[str, Dict[str, Any]], bench: Optional[Dict[str, Any]],
                   out_dir: str, name: str, train_seconds: float, total: float) -> str:
    with open(osp.join(out_dir, 'results.md')) as f:
        results = f.read().split('\n', 1)[1].strip()  # without its title
    lines = [f'# okdhp-mm {name}', '', f'Trained and evaluated in {train_seconds / 60:.1f} min; '
             f'the whole demo took {total / 60:.1f} min. One seed: `make evidence` '
             '(docs/results.md) has the same comparison over five seeds.', '', results, '',
             '## Exported students', '', '| method | plain MMPose student | params (M) | '
             'GFLOPs | plain MMPose vs trained model (max px) | pictures |',
             '| --- | --- | --- | --- | --- | --- |']
    lines += [f"| {m} | `{osp.relpath(i['checkpoint'], out_dir)}` | {i['params'] / 1e6:.2f} | "
              f"{i['flops'] / 1e9:.3f} | {i['max_diff_px']:.1e} | `{m}_predictions.png`, "
              f"`{m}_training.png` |" for m, i in exports.items()]
    lines += ['', 'Each student was checked with plain MMPose in a process where `okdhp_mm` '
              'cannot be imported (`tools/verify_student.py --forbid okdhp_mm`).']
    if bench is not None:
        lines += ['', '## Benchmark (OKDHP; `benchmark.png`, `benchmark.json`)', '',
                  '| ratio | value | 95 % interval | verdict |', '| --- | --- | --- | --- |']
        lines += [f"| {k} | {r['value']:.3f} | " + (f"[{r['low']:.3f}, {r['high']:.3f}]"
                                                   if r['low'] is not None else 'too few repeats')
                  + f" | {r['verdict']} |" for k, r in bench['ratios_ci'].items()]
    lines += ['', 'Also here: `results.png` (every method against its student alone), '
              '`results.json`.']
    path = osp.join(out_dir, 'summary.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path
