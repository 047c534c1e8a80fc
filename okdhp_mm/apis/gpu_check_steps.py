"""The GPU check's steps, run in order by its worker process, ``python -m
okdhp_mm.apis.gpu_check_steps SPEC.json`` (:func:`okdhp_mm.apis.gpu_check.run_gpu_check` starts
it and enforces the time limits). Each step returns ``(ok, details)``, ``details['summary']``
its line in the summary's table; the worker writes it to ``WORK/results/NAME.json``.
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp
import platform
import subprocess
import sys
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch

from okdhp_mm.analysis.benchmark import run_benchmark
from okdhp_mm.datasets.synthetic import generate_synthetic_coco
from okdhp_mm.export import export_student
from okdhp_mm.utils.config import load_config
from .gpu_check import SIZES

__all__ = ['CONFIGS', 'STEPS', 'TOLERANCE_PX', 'run_worker']

TOLERANCE_PX = 1e-3  # max |CPU - device| keypoint difference of an exported student
CONFIGS = dict(  # relative to the repository's configs folder
    okdhp='okdhp/synthetic/okdhp_res18-16-3b-split-layer4_1xb32-20e_synthetic-128x96.py',
    okdhp_res18='okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py',
    okdhp_rtmpose='okdhp/synthetic/okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py',
    hhd='hhd/synthetic/hhd_res18-hm_res18-16-dsnt_1xb32-20e_synthetic-128x96.py',
    odkd='odkd/synthetic/odkd_res18-res34mask_res18-16_1xb32-20e_synthetic-128x96.py',
    teacher='baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py',
    senior='odkd/synthetic/td-hm-mask_res34_1xb32-20e_synthetic-128x96.py')
Context = Dict[str, Any]  # the spec, with ``sizes`` and ``data`` (the synthetic set's folder)
Result = Tuple[bool, Dict[str, Any]]


def step_environment(ctx: Context) -> Result:
    import mmcv
    import mmengine
    import mmpose

    cuda = torch.cuda.is_available()
    d = dict(torch=torch.__version__, cuda=torch.version.cuda,
             cudnn=torch.backends.cudnn.version() if cuda else None, cuda_available=cuda,
             python=platform.python_version(), mmcv=mmcv.__version__,
             mmengine=mmengine.__version__, mmpose=mmpose.__version__,
             device_name=torch.cuda.get_device_name(0) if cuda else
             f'CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)')
    try:  # the driver's view, also when torch does not see the GPU
        d['nvidia_smi'] = subprocess.run(
            ['nvidia-smi', '--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as err:
        d['nvidia_smi'] = f'not available ({type(err).__name__})'
    if ctx['device'] == 'cpu':
        d['summary'] = f'dry run on {d["device_name"]}; torch {d["torch"]}'
        return True, d
    if not cuda:
        d['message'] = d['summary'] = (
            f'torch {torch.__version__} (built for CUDA {torch.version.cuda}) does not see a GPU '
            f'(nvidia-smi: {d["nvidia_smi"]!r}): check that this torch build matches the driver; '
            'every later step is skipped')
        return False, d
    x = torch.randn(256, 256, device='cuda')
    d['summary'] = (f'{d["device_name"]}; torch {d["torch"]}, CUDA {d["cuda"]}; a matmul ran: '
                    f'{float((x @ x).abs().sum()) > 0}')
    return True, d


def step_data(ctx: Context) -> Result:
    sz = ctx['sizes']
    info = generate_synthetic_coco(ctx['data'], num_train_images=sz['train_images'],
                                   num_val_images=sz['val_images'],
                                   image_size=tuple(sz['image_size']), seed=0)
    n = {k: info[k]['num_instances'] for k in ('train', 'val')}
    return True, dict(root=ctx['data'], instances=n, summary=f'{sz["train_images"]} train / '
                      f'{sz["val_images"]} val images, {n["train"]} / {n["val"]} persons')


def step_cuda_tests(ctx: Context) -> Result:
    xml = osp.join(ctx['work'], 'cuda_tests.xml')
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-m', 'cuda', ctx['tests_dir'], '-q',
                           '-p', 'no:cacheprovider', f'--junitxml={xml}'],
                          cwd=osp.dirname(ctx['tests_dir']), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    print(proc.stdout, flush=True)
    suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    n = {k: int(suite.get(k, 0)) for k in ('tests', 'skipped', 'failures', 'errors')}
    # On CUDA a skipped test is a failure of the check: every skip reason is "no GPU".
    ok = proc.returncode == 0 and (ctx['device'] == 'cpu' or n['skipped'] == 0)
    lines = proc.stdout.strip().splitlines()
    summary = (f'{n["tests"]} collected, {n["skipped"]} skipped (no GPU: the dry run)'
               if ctx['device'] == 'cpu' else lines[-1] if lines else '')
    return ok, dict(n, exit_status=proc.returncode, summary=summary,
                    failed=[ln for ln in lines if ln.startswith(('FAILED', 'ERROR'))][:20])


def _benchmark(ctx: Context, name: str, key: str) -> Result:
    options = dict(ctx['sizes']['bench'])
    if ctx['device'] == 'cpu':
        options.update(threads=1, timer='cpu')  # steadier on a shared CPU
    r = run_benchmark(osp.join(ctx['config_root'], CONFIGS[key]), device=ctx['device'],
                      **options)
    with open(osp.join(ctx['out'], f'{name}.json'), 'w') as f:
        json.dump(r, f, indent=1)

    def text(e):
        ci = '' if e['low'] is None else f' [{e["low"]:.3f}, {e["high"]:.3f}]'
        return f'{e["value"]:.3f}{ci} {e["verdict"]}'
    ratios = {k: text(e) for k, e in r['ratios_ci'].items()}
    d = dict(config=CONFIGS[key], options=options, device_name=r['device_name'],
             timer=r['timer'], wall_s=round(r['wall_s'], 1), ratios=ratios,
             latency_ms={str(b): {m: r['models'][m][f'latency_ms_b{b}'] for m in
                                  ('student', 'plain', 'ensemble')} for b in r['batch_sizes']},
             train_step_ms=f'{r["train"]["multi_branch"]["step_ms"]:.1f}, '
                           f'{r["train"]["baseline"]["step_ms"]:.1f}',
             summary=f'{r["device_name"]}, timer {r["timer"]}; ' + ', '.join(
                 f'{k} {v}' for k, v in ratios.items()))
    return r['timer'] == ctx['device'], d  # CUDA events on CUDA, process CPU time on a CPU


def _config(ctx: Context, key: str, options: Optional[dict] = None):
    cfg = load_config(osp.join(ctx['config_root'], CONFIGS[key]))
    cfg.merge_from_dict(options or {})
    return cfg


def _train(ctx: Context, name: str, key: str, iters: int, options: Optional[dict] = None,
           amp: bool = True) -> Result:
    """Train a config for ``iters`` iterations on the synthetic set, as MMPose's
    ``tools/train.py --amp`` would (``amp``); ok: losses finite, weights on the device, our
    AMP wrapper."""
    from mmengine.runner import Runner

    sz, cfg = ctx['sizes'], _config(ctx, key, options)
    cfg.work_dir = osp.join(ctx['work'], name)
    # A fresh logger and message hub (MMEngine keeps one per experiment name) and visualizer.
    cfg.experiment_name = f'{name.replace("/", "-")}-{uuid.uuid4().hex[:8]}'
    cfg.visualizer.name = f'visualizer-{uuid.uuid4().hex}'
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10 ** 9)
    for part in ('val_cfg', 'val_dataloader', 'val_evaluator', 'test_cfg', 'test_dataloader',
                 'test_evaluator'):
        cfg[part] = None
    cfg.param_scheduler = None  # a short run: the config's optimizer at its base rate
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'  # what MMPose's tools/train.py --amp sets
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, iters // 5))
    cfg.log_level, cfg.randomness = 'WARNING', dict(seed=0)
    loader = cfg.train_dataloader
    loader.update(batch_size=sz['batch'], num_workers=sz['workers'], persistent_workers=False)
    loader.dataset.update(data_root=ctx['data'] + '/', data_prefix=dict(img='train/'),
                          ann_file='annotations/person_keypoints_train.json')
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    losses = {k[len('train/'):]: [float(v) for v in hub.get_scalar(k).data[0]]
              for k in hub.log_scalars if k.startswith('train/loss')}
    finite = all(math.isfinite(v) for vs in losses.values() for v in vs)
    wrapper = runner.optim_wrapper
    scaler = getattr(wrapper, 'loss_scaler', None)
    dtype = str(getattr(wrapper, 'cast_dtype', None) or torch.float16) if amp else 'off'
    device = str(next(runner.model.parameters()).device)
    ok = (finite and len(losses.get('loss', [])) == iters and device.startswith(ctx['device'])
          and type(wrapper).__name__ == ('CPUAwareAmpOptimWrapper' if amp else 'OptimWrapper'))
    return ok, dict(config=CONFIGS[key], iters=iters, batch=sz['batch'], param_device=device,
                    amp=dtype.replace('torch.', ''), optim_wrapper=type(wrapper).__name__,
                    loss_scale=float(scaler.get_scale()) if scaler is not None else None,
                    finite_losses=finite, loss_first=losses['loss'][0],
                    loss_last=losses['loss'][-1], losses={k: v[-1] for k, v in losses.items()},
                    checkpoint=osp.join(cfg.work_dir, f'iter_{iters}.pth'))


def _predict_on_both(ctx: Context, student: Dict[str, Any]) -> Tuple[float, int]:
    """Max |CPU - device| of the exported student's keypoints (plain MMPose, TF32 off) on the
    persons of the first validation images, and how many persons."""
    from mmpose.apis import inference_topdown, init_model

    with open(osp.join(ctx['data'], 'annotations', 'person_keypoints_val.json')) as f:
        coco = json.load(f)
    images = coco['images'][:ctx['sizes']['predict_images']]
    boxes = {im['id']: [a['bbox'] for a in coco['annotations'] if a['image_id'] == im['id']]
             for im in images}
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        keypoints = []
        for device in ('cpu', ctx['device']):
            model = init_model(student['config'], student['checkpoint'], device=device)
            keypoints.append(np.concatenate([p.pred_instances.keypoints for im in images
                                             for p in inference_topdown(
                model, osp.join(ctx['data'], 'val', im['file_name']),
                np.array(boxes[im['id']], dtype=np.float32).reshape(-1, 4), 'xywh')]))
    finally:  # the benchmarks' CUDA timings are with torch's defaults
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    return float(np.abs(keypoints[0] - keypoints[1]).max()), len(keypoints[0])


def _method(ctx: Context, name: str, key: str, options: Optional[dict] = None) -> Result:
    """A short AMP training, the student exported (branch 0 / the distiller's student) and
    predicting on the device what it predicts on the CPU."""
    ok, d = _train(ctx, name, key, ctx['sizes']['iters'], options)
    student = export_student(_config(ctx, key, options), d['checkpoint'],
                             osp.join(ctx['work'], name, 'student'), branch=0,
                             name=f'{name}_student')
    d.update(student=student['checkpoint'], compared=f'cpu vs {ctx["device"]}')
    d['max_px_diff'], d['persons'] = _predict_on_both(ctx, student)
    d['summary'] = (f'{d["iters"]} it, loss {d["loss_first"]:.4g} -> {d["loss_last"]:.4g} '
                    f'(finite: {d["finite_losses"]}), {d["amp"]} on {d["param_device"]}, '
                    f'loss scale {d["loss_scale"]}; exported student, max |cpu - '
                    f'{ctx["device"]}| {d["max_px_diff"]:.2e} px on {d["persons"]} persons')
    return ok and d['max_px_diff'] <= TOLERANCE_PX, d


def step_train_teachers(ctx: Context) -> Result:
    iters, d = ctx['sizes']['teacher_iters'], {}
    for key in ('teacher', 'senior'):
        # Under CPU bf16 autocast MMPose's own HeatmapHead (the plain teacher) fails computing
        # its accuracy in numpy, which has no bfloat16: that one trains without AMP on a CPU.
        amp = ctx['device'] == 'cuda' or key == 'senior'
        d[key + '_ok'], d[key] = _train(ctx, f'train_teachers/{key}', key, iters, amp=amp)
    t, s = d['teacher'], d['senior']
    d['summary'] = (f'{iters} iterations each from scratch (code paths, not trained teachers): '
                    f'ResNet-18 heatmap teacher (HHD, ODKD primary), AMP {t["amp"]}, mask-aware '
                    f'ResNet-34 senior (ODKD), AMP {s["amp"]}; losses finite: '
                    f'{t["finite_losses"] and s["finite_losses"]}')
    return d['teacher_ok'] and d['senior_ok'], d


def _teacher(ctx: Context, key: str) -> str:
    """A checkpoint of step train_teachers (on disk: it may have run in an earlier worker)."""
    path = osp.join(ctx['work'], 'train_teachers', key, f'iter_{ctx["sizes"]["teacher_iters"]}.pth')
    if not osp.exists(path):
        raise RuntimeError(f'no teacher checkpoint {path}: step train_teachers failed')
    return path


def step_train_hhd(ctx: Context) -> Result:
    return _method(ctx, 'train_hhd', 'hhd', {'model.teacher_checkpoint': _teacher(ctx, 'teacher')})


def step_train_odkd(ctx: Context) -> Result:
    # Both teachers at once (OrderlyTeacherHook, dropped, hands over at epoch 10: never reached).
    return _method(ctx, 'train_odkd', 'odkd', {
        'model.teachers.primary.checkpoint': _teacher(ctx, 'teacher'),
        'model.teachers.senior.checkpoint': _teacher(ctx, 'senior'),
        'model.distill_losses.loss_primary.loss_weight': 0.5,
        'model.distill_losses.loss_senior.loss_weight': 0.5, 'custom_hooks': []})


STEPS: Dict[str, Callable[[Context], Result]] = dict(
    environment=step_environment, data=step_data, cuda_tests=step_cuda_tests,
    benchmark_okdhp_res18=lambda ctx: _benchmark(ctx, 'benchmark_okdhp_res18', 'okdhp_res18'),
    benchmark_okdhp_rtmpose_t=lambda ctx: _benchmark(ctx, 'benchmark_okdhp_rtmpose_t',
                                                     'okdhp_rtmpose'),
    train_teachers=step_train_teachers,
    train_okdhp=lambda ctx: _method(ctx, 'train_okdhp', 'okdhp'),
    train_hhd=step_train_hhd, train_odkd=step_train_odkd,
    train_okdhp_rtmpose=lambda ctx: _method(ctx, 'train_okdhp_rtmpose', 'okdhp_rtmpose'))


def run_worker(spec_path: str) -> int:
    """Run the spec's steps in order; a failing step is recorded and the others still run;
    after a failed ``environment`` (on CUDA: torch sees no GPU) the rest are not run."""
    with open(spec_path) as f:
        spec = json.load(f)
    ctx = dict(spec, sizes=SIZES[spec['size']], data=osp.join(spec['work'], 'synthetic_coco'))
    if spec['device'] == 'cpu':
        torch.set_num_threads(1)  # steadier on a shared CPU
    results, skip = osp.join(spec['work'], 'results'), None
    for name in spec['steps']:
        open(osp.join(results, name + '.started'), 'w').close()
        t0 = time.time()
        if skip:
            ok, details = False, dict(error=f'not run: {skip}')
        else:
            print(f'\n===== {name} =====', flush=True)
            try:
                ok, details = STEPS[name](ctx)
            except Exception as err:  # recorded; the other steps still run
                traceback.print_exc()
                ok, details = False, dict(error=f'{type(err).__name__}: {err}'[:500])
            if name == 'environment' and not ok:
                skip = 'the environment step failed'
        with open(osp.join(results, name + '.tmp'), 'w') as f:
            json.dump(dict(name=name, ok=bool(ok), seconds=round(time.time() - t0, 1),
                           details=details), f, default=str)
        os.replace(f.name, osp.join(results, name + '.json'))  # whole, for the watcher
    return 0


if __name__ == '__main__':
    sys.exit(run_worker(sys.argv[1]))
