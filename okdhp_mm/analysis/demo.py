"""The main job (``make demo``): OKDHP, HHD and ODKD on the built-in data, each against its
student trained alone, from data to plain-MMPose students and one report.

:func:`run_demo` trains with the evidence tool's runs and scheduler (the ``demo`` preset: one
seed, two runs at a time; the slim student trained alone for OKDHP's comparison is also HHD's
heatmap teacher and ODKD's primary teacher), exports each method's student as a plain MMPose
model, checks every export with plain MMPose in a process where ``okdhp_mm`` cannot be
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

DEMO_METHODS = ('okdhp', 'hhd', 'odkd')
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_VERIFY = osp.join(_REPO, 'tools', 'verify_student.py')


def _result(work_dir: str, key: str) -> Dict[str, Any]:
    with open(osp.join(work_dir, key, 'result.json')) as f:
        return dict(json.load(f), config=osp.join(work_dir, key, 'run_config.py'))


def _few_images(ann_file: str, out_path: str, count: int = 4) -> str:
    """A copy of ``ann_file`` with its first ``count`` images (the export check's input)."""
    with open(ann_file) as f:
        coco = json.load(f)
    few = dict(coco, images=coco['images'][:count])
    ids = {im['id'] for im in few['images']}
    few['annotations'] = [a for a in coco['annotations'] if a['image_id'] in ids]
    with open(out_path, 'w') as f:
        json.dump(few, f)
    return out_path


def verify_export(info: Dict[str, Any], trained_config: str, checkpoint: str, ann_file: str,
                  img_dir: str, out_dir: str,
                  options: Sequence[str] = ('model.test_cfg.output_all=False', )) -> float:
    """Max |plain MMPose student - the trained model| in pixels over the persons of
    ``ann_file``; the plain side runs with ``okdhp_mm`` unimportable."""
    import numpy as np

    common = ['--ann', ann_file, '--img-dir', img_dir]
    plain, ours = osp.join(out_dir, 'plain.npz'), osp.join(out_dir, 'ours.npz')
    subprocess.run([sys.executable, _VERIFY, info['config'], info['checkpoint'], *common,
                    '--out', plain, '--forbid', 'okdhp_mm'], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, _VERIFY, trained_config, checkpoint, *common, '--out', ours]
                   + (['--cfg-options', *options] if options else []), check=True,
                   stdout=subprocess.DEVNULL)
    a, b = np.load(plain), np.load(ours)
    return float(np.abs(a['keypoints'] - b['keypoints']).max())


def _export(name: str, row: Dict[str, Any], method_run: Dict[str, Any], config: str, out: str,
            ann: str, img_dir: str) -> Dict[str, Any]:
    """Export the run's student (OKDHP: the branch chosen on the tune split), named after the
    method's config, and check it with plain MMPose."""
    from okdhp_mm.export import export_student

    branch = row['branches'][0]['branch'] if 'branches' in row else None
    stem = osp.splitext(osp.basename(config))[0] + '_student' + (
        f'-branch{branch}' if branch is not None else '')
    info = export_student(method_run['config'], method_run['checkpoint'],
                          osp.join(out, f'{name}_student'), branch=branch, name=stem)
    options = ([f'model.test_cfg.branch={branch}', 'model.test_cfg.output_all=False']
               if branch is not None else [])
    info['max_diff_px'] = verify_export(info, method_run['config'], method_run['checkpoint'],
                                        ann, img_dir, osp.join(out, f'{name}_student'), options)
    return info


def run_demo(methods: Sequence[str] = DEMO_METHODS, quick: bool = False,
             out_dir: Optional[str] = None, data_dir: Optional[str] = None,
             work_dir: Optional[str] = None, jobs: int = 2, benchmark: bool = True,
             log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train, export, check and report ``methods`` (a subset of :data:`DEMO_METHODS`).

    ``out_dir``, ``data_dir`` and ``work_dir`` default to ``reports/``, ``data/`` and
    ``work_dirs/`` folders named ``demo`` or ``demo-quick``, so a quick run keeps a full one's.
    """
    from okdhp_mm.analysis.evidence import PRESETS, run_evidence
    from okdhp_mm.analysis.evidence.plan import METHODS
    from okdhp_mm.analysis.evidence.scheduler import RETAIN_FREED_MEMORY
    from okdhp_mm.analysis.training_report import draw_prediction_rows, plot_training_curves

    unknown = [m for m in methods if m not in DEMO_METHODS]
    if unknown or not methods:
        raise ValueError(f'--methods {",".join(methods)!r}: choose from '
                         f'{",".join(DEMO_METHODS)}')
    t0 = time.time()
    name = 'demo-quick' if quick else 'demo'
    preset = PRESETS[name]
    data_dir = data_dir or osp.join(_REPO, 'data', name)
    work_dir = work_dir or osp.join(_REPO, 'work_dirs', name)
    out_dir = out_dir or osp.join(_REPO, 'reports', name)
    os.makedirs(out_dir, exist_ok=True)

    log(f'[demo] training {", ".join(methods)} and their students alone ({preset.epochs} '
        f'epochs, {preset.data.train_images} images, {jobs} runs at a time)')
    summary = run_evidence(list(methods), preset, out_dir, work_dir, data_dir, jobs=jobs,
                           ablations=False, log=log, worker_env=RETAIN_FREED_MEMORY)
    train_seconds = time.time() - t0
    report_split = osp.join(data_dir, f'synthetic_coco_{preset.data.train_images}-'
                                      f'{preset.data.report_images}')
    ann = osp.join(report_split, 'annotations', 'person_keypoints_val.json')
    img_dir = osp.join(report_split, 'val')
    few = _few_images(ann, osp.join(out_dir, 'verify_ann.json'))

    exports: Dict[str, Dict[str, Any]] = {}
    for m in methods:
        method = METHODS[m]
        seed = preset.seeds[0]
        alone_run = _result(work_dir, method.alone(preset, seed).key)
        spec = method.method(preset, seed, method.default)
        method_run = _result(work_dir, spec.key)
        log(f'[demo {time.time() - t0:5.0f}s] {m}: export the student, check it with plain '
            'MMPose, draw')
        info = _export(m, summary['methods'][m], method_run, spec.config, out_dir, few, img_dir)
        exports[m] = info
        log(f'  {info["checkpoint"]}: plain MMPose reproduces it to {info["max_diff_px"]:.1e} px')
        plot_training_curves({f'{m} student': osp.dirname(method_run['config']),
                              'student alone': osp.dirname(alone_run['config'])},
                             osp.join(out_dir, f'{m}_training.png'))
        draw_prediction_rows([('student alone', alone_run['config'], alone_run['checkpoint']),
                              (f'{m} student (exported)', info['config'], info['checkpoint'])],
                             ann, img_dir, osp.join(out_dir, f'{m}_predictions.png'))

    bench = None
    if benchmark and 'okdhp' in methods:
        from okdhp_mm.analysis.benchmark import run_benchmark

        log(f'[demo {time.time() - t0:5.0f}s] benchmark OKDHP')
        okdhp_run = _result(work_dir, METHODS['okdhp'].method(preset, preset.seeds[0],
                                                              METHODS['okdhp'].default).key)
        # CPU time: stable on a shared machine; a capped number of repeats (the benchmark
        # alone repeats until every interval is +-1 %).
        bench = run_benchmark(okdhp_run['config'], checkpoint=okdhp_run['checkpoint'],
                              device='cpu', quick=quick, out_dir=out_dir, threads=1,
                              timer='cpu', max_repeats=None if quick else 30,
                              time_cap_s=None if quick else 15.0)
    total = time.time() - t0
    path = _write_summary(summary, exports, bench, out_dir, name, train_seconds, total)
    log(f'[demo] done in {total:.0f} s; report: {path}')
    return dict(summary=summary, exports=exports, benchmark=bench, seconds=total, out_dir=out_dir)


def _write_summary(summary: Dict[str, Any], exports: Dict[str, Dict[str, Any]],
                   bench: Optional[Dict[str, Any]], out_dir: str, name: str,
                   train_seconds: float, total: float) -> str:
    with open(osp.join(out_dir, 'results.md')) as f:
        results = f.read().split('\n', 1)[1].strip()  # without its title
    lines = [f'# okdhp-mm {name}', '',
             f'Trained and evaluated in {train_seconds / 60:.1f} min; the whole demo took '
             f'{total / 60:.1f} min. One seed: `make evidence` (docs/results.md) has the same '
             'comparison over three seeds.', '', results, '', '## Exported students', '',
             '| method | plain MMPose student | params (M) | GFLOPs | plain MMPose vs trained '
             'model (max px) | pictures |', '| --- | --- | --- | --- | --- | --- |']
    for m, info in exports.items():
        lines.append(f"| {m} | `{osp.relpath(info['checkpoint'], out_dir)}` | "
                     f"{info['params'] / 1e6:.2f} | {info['flops'] / 1e9:.3f} | "
                     f"{info['max_diff_px']:.1e} | `{m}_predictions.png`, `{m}_training.png` |")
    lines += ['', 'Each student was checked with plain MMPose in a process where `okdhp_mm` '
              'cannot be imported (`tools/verify_student.py --forbid okdhp_mm`).']
    if bench is not None:
        lines += ['', '## Benchmark (OKDHP; `benchmark.png`, `benchmark.json`)', '',
                  '| ratio | value | 95 % interval | verdict |', '| --- | --- | --- | --- |']
        for key, r in bench.get('ratios_ci', {}).items():
            ci = (f"[{r['low']:.3f}, {r['high']:.3f}]" if r.get('low') is not None
                  else 'too few repeats')
            lines.append(f"| {key} | {r['value']:.3f} | {ci} | {r['verdict']} |")
    lines += ['', 'Also here: `results.png` (every method against its student alone), '
              '`results.json`.']
    path = osp.join(out_dir, 'summary.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path
