#!/usr/bin/env python
"""The main job: OKDHP on the built-in synthetic data, from data to a model-zoo student.

    python tools/demo.py [--quick] [--out reports/demo]

1. generate the synthetic COCO-format set (skipped when already there),
2. train OKDHP (shared ResNet-18 encoder, 3 branches) and, for the same iterations, the same
   student alone (the SimpleBaseline every branch exports to),
3. evaluate every branch and the ensemble with CocoMetric (in the training's validation),
4. export the best branch as a plain MMPose model,
5. check the export with plain MMPose in a process where okdhp_mm cannot be imported,
6. benchmark, and
7. write a report folder: curves, predicted skeletons, benchmark chart, summary table.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
OKDHP_CFG = osp.join(REPO, 'configs/okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py')
BASE_CFG = osp.join(REPO, 'configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py')

# (train images, val images, epochs, kd ramp epochs); quick keeps the run under 3 minutes.
PRESETS = dict(full=(600, 120, 16, 10), quick=(120, 40, 1, 1))

_T0 = time.time()


def step(n: int, total: int, text: str) -> None:
    print(f'\n[demo {time.time() - _T0:6.0f}s] ({n}/{total}) {text}', flush=True)


def train(cfg_path: str, work_dir: str, data_root: str, epochs: int, ramp: int = None) -> str:
    """Train through `mim train mmpose` as a user would; return the last checkpoint."""
    from mmengine.config import Config

    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    for split, prefix in (('train', 'train/'), ('val', 'val/')):
        loader = cfg[f'{split}_dataloader']
        loader.dataset.data_root = data_root
        loader.dataset.ann_file = f'annotations/person_keypoints_{split}.json'
        loader.dataset.data_prefix = dict(img=prefix)
    ann = osp.join(data_root, 'annotations/person_keypoints_val.json')
    evaluator = cfg.val_evaluator
    (evaluator.metric if evaluator.type == 'MultiOutputMetric' else evaluator).ann_file = ann
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = max(1, epochs // 4)
    cfg.param_scheduler[-1].update(T_max=epochs, end=epochs)
    cfg.default_hooks.checkpoint.update(interval=epochs, max_keep_ckpts=1, save_best=None)
    cfg.default_hooks.logger.interval = 10
    cfg.randomness = dict(seed=0)
    if ramp is not None:
        cfg.model.head.kd_ramp_epochs = ramp
    os.makedirs(work_dir, exist_ok=True)
    run_cfg = osp.join(work_dir, 'run_config.py')
    cfg.dump(run_cfg)
    # A process per run: MMEngine's visualizer and logger are per-process singletons.
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    subprocess.run([mim, 'train', 'mmpose', run_cfg, '--work-dir', work_dir], check=True)
    return osp.join(work_dir, f'epoch_{epochs}.pth')


def last_val(work_dir: str) -> dict:
    from okdhp_mm.analysis.training_report import read_scalars

    return read_scalars(work_dir)['val'][-1]


def verify_export(info: dict, ckpt: str, data_root: str, out_dir: str) -> float:
    """Max |plain MMPose student − branch k of the multi-branch model| in pixels."""
    import numpy as np

    ann = osp.join(data_root, 'annotations/person_keypoints_val.json')
    with open(ann) as f:
        coco = json.load(f)
    few = dict(coco, images=coco['images'][:4])
    ids = {im['id'] for im in few['images']}
    few['annotations'] = [a for a in coco['annotations'] if a['image_id'] in ids]
    small = osp.join(out_dir, 'verify_ann.json')
    with open(small, 'w') as f:
        json.dump(few, f)
    common = ['--ann', small, '--img-dir', osp.join(data_root, 'val')]
    plain, ours = osp.join(out_dir, 'plain.npz'), osp.join(out_dir, 'ours.npz')
    tool = osp.join(REPO, 'tools/verify_student.py')
    subprocess.run([sys.executable, tool, info['config'], info['checkpoint'], *common, '--out',
                    plain, '--forbid', 'okdhp_mm'], check=True)
    subprocess.run([sys.executable, tool, OKDHP_CFG, ckpt, *common, '--out', ours,
                    '--cfg-options', f'model.test_cfg.branch={info["branch"]}',
                    'model.test_cfg.output_all=False'], check=True)
    a, b = np.load(plain), np.load(ours)
    return float(np.abs(a['keypoints'] - b['keypoints']).max())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='tiny run (< 3 minutes): smoke test')
    p.add_argument('--out', default=osp.join(REPO, 'reports', 'demo'), help='report folder')
    p.add_argument('--data', default=None, help='synthetic data folder (default: data/...)')
    p.add_argument('--work-dir', default=None, help='training folder (default: work_dirs/...)')
    args = p.parse_args(argv)
    preset = 'quick' if args.quick else 'full'
    n_train, n_val, epochs, ramp = PRESETS[preset]
    data_root = args.data or osp.join(REPO, 'data', f'synthetic_coco_{preset}')
    work = args.work_dir or osp.join(REPO, 'work_dirs', f'demo_{preset}')
    out = args.out
    os.makedirs(out, exist_ok=True)
    total = 7

    import okdhp_mm  # noqa: F401  (registers our modules, safe checkpoint loading)
    from okdhp_mm.datasets.synthetic import generate_synthetic_coco
    from okdhp_mm.export import export_student
    from okdhp_mm.analysis.training_report import (draw_predictions, markdown_table,
                                                   plot_training_curves)

    step(1, total, f'synthetic data: {n_train} train / {n_val} val images -> {data_root}')
    if osp.isfile(osp.join(data_root, 'annotations/person_keypoints_val.json')):
        print('already there, reusing it')
    else:
        generate_synthetic_coco(data_root, num_train_images=n_train, num_val_images=n_val,
                                seed=0)

    step(2, total, f'train OKDHP (3 branches) for {epochs} epochs')
    t = time.time()
    okdhp_ckpt = train(OKDHP_CFG, osp.join(work, 'okdhp'), data_root, epochs, ramp)
    okdhp_time = time.time() - t
    step(2, total, f'train the same student alone for {epochs} epochs (baseline)')
    t = time.time()
    train(BASE_CFG, osp.join(work, 'baseline'), data_root, epochs)
    base_time = time.time() - t

    step(3, total, 'evaluation of every branch and the ensemble (CocoMetric, last epoch)')
    okdhp_val, base_val = last_val(osp.join(work, 'okdhp')), last_val(osp.join(work, 'baseline'))
    outputs = ['branch0', 'branch1', 'branch2', 'ensemble']
    for name in outputs:
        print(f'  {name:9s} AP {okdhp_val[f"{name}/coco/AP"]:.3f}')
    print(f'  baseline  AP {base_val["coco/AP"]:.3f}')

    # Best by the final validation above (the last checkpoint is written before it).
    best_branch = max(range(3), key=lambda t: okdhp_val[f'branch{t}/coco/AP'])
    step(4, total, f'export the best branch ({best_branch}) as a plain MMPose model')
    info = export_student(OKDHP_CFG, okdhp_ckpt, osp.join(out, 'student'), branch=best_branch)
    print(json.dumps(info, indent=2))

    step(5, total, 'check the export with plain MMPose (okdhp_mm not importable there)')
    max_diff = verify_export(info, okdhp_ckpt, data_root, out)
    print(f'max |plain student - branch {info["branch"]}| = {max_diff:.2e} px')

    step(6, total, 'benchmark')
    bench = None
    try:
        from okdhp_mm.analysis.benchmark import run_benchmark
    except ImportError as err:  # pragma: no cover
        print(f'benchmark unavailable: {err}')
    else:
        bench = run_benchmark(OKDHP_CFG, checkpoint=okdhp_ckpt, device='cpu',
                              batch_sizes=(1, 8) if args.quick else (1, 32),
                              repeats=3 if args.quick else 10, out_dir=out,
                              threads=1, timer='cpu')  # CPU time: stable on a shared machine

    step(7, total, f'report -> {out}')
    plot_training_curves({'OKDHP': osp.join(work, 'okdhp'),
                          'baseline': osp.join(work, 'baseline')},
                         osp.join(out, 'training_curves.png'))
    draw_predictions(info['config'], info['checkpoint'],
                     osp.join(data_root, 'annotations/person_keypoints_val.json'),
                     osp.join(data_root, 'val'), osp.join(out, 'student_predictions.png'))
    rows = [dict(model=f'OKDHP {name}', AP=okdhp_val[f'{name}/coco/AP'],
                 **{'AP50': okdhp_val[f'{name}/coco/AP .5']}) for name in outputs]
    rows.append(dict(model='student alone (baseline)', AP=base_val['coco/AP'],
                     AP50=base_val['coco/AP .5']))
    best = okdhp_val[f'branch{info["branch"]}/coco/AP']
    summary = [
        f'# okdhp-mm demo ({preset})', '',
        f'Synthetic COCO-format data: {n_train} train / {n_val} val images; {epochs} epochs; '
        f'OKDHP trained in {okdhp_time:.0f} s, the student alone in {base_time:.0f} s (CPU).', '',
        markdown_table(rows, ['model', 'AP', 'AP50']), '',
        f'Exported student: branch {info["branch"]} (AP {best:.3f}, '
        f'{best - base_val["coco/AP"]:+.3f} AP over the student trained alone), '
        f'{info["params"] / 1e6:.2f} M params, {info["flops"] / 1e9:.2f} GFLOPs; '
        f'plain MMPose reproduces it to {max_diff:.1e} px.', '',
    ]
    if bench is not None:
        ratios = bench.get('ratios', {})
        summary += ['Benchmark ratios (see benchmark.png / benchmark.json):', '',
                    '```', json.dumps(ratios, indent=2), '```', '']
    summary += ['Files: training_curves.png, student_predictions.png, benchmark.png, '
                'student/ (config, checkpoint, metafile).']
    with open(osp.join(out, 'summary.md'), 'w') as f:
        f.write('\n'.join(summary) + '\n')
    print('\n'.join(summary))
    print(f'\n[demo] done in {time.time() - _T0:.0f} s; report in {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
