"""The prepared GPU check: every step of ours that must work on CUDA, in one run, one summary.

:func:`run_gpu_check` (``tools/gpu_check.py``, after ``tools/gpu_check.sh`` installed the
stack) runs the steps of :mod:`okdhp_mm.apis.gpu_check_steps` in a worker process
(``python -m okdhp_mm.apis.gpu_check_steps SPEC``) and watches them: a step past its time
limit is killed with the worker's process group, a worker that dies costs the step in flight
only (a new one runs the steps left), and ``OUT/gpu_check.json`` and ``OUT/gpu_check.md`` are
written after every step. docs/benchmarks.md ("GPU figures") says what each step checks.

This module imports the standard library only, not even ``okdhp_mm`` (whose ``__init__``
imports torch): the command line loads it by path, so that a Python without the stack still
writes the summary of an install that failed.
"""
import datetime
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ['SCHEMA', 'SIZES', 'STEP_LIMITS', 'markdown', 'run_gpu_check', 'step_limits']

SCHEMA = 'okdhp_mm.gpu_check/1'
WORKER = 'okdhp_mm.apis.gpu_check_steps'
# Step name: time limit (s) on a GPU, a cap: the steps take about 5 minutes on one GPU.
STEP_LIMITS = dict(environment=120, data=120, cuda_tests=300, benchmark_okdhp_res18=240,
                   benchmark_okdhp_rtmpose_t=240, train_teachers=240, train_okdhp=180,
                   train_hhd=180, train_odkd=180, train_okdhp_rtmpose=180)
# A --cpu run at the real sizes: a bf16 training iteration at batch 32 takes 4-8 s on 2 cores.
CPU_LIMIT_SCALE = 10
SIZES = dict(
    # --tiny: the test suite's dry run (about a minute on 2 CPU cores).
    tiny=dict(train_images=24, val_images=2, image_size=(128, 128), iters=2, teacher_iters=2,
              batch=4, workers=0, predict_images=2,
              bench=dict(quick=True, batch_sizes=(1, 2), repeats=2)),
    # The GPU check: sized for about 5 minutes of steps on one GPU.
    full=dict(train_images=256, val_images=16, image_size=(256, 256), iters=100,
              teacher_iters=50, batch=32, workers=min(8, os.cpu_count() or 1), predict_images=8,
              bench=dict(batch_sizes=(1, 32), time_cap_s=20, max_repeats=200)))
Step = Dict[str, Any]


def step_limits(device: str, tiny: bool) -> Dict[str, float]:
    """Each step's time limit in seconds (x ``CPU_LIMIT_SCALE`` for a full-size CPU run)."""
    scale = CPU_LIMIT_SCALE if device == 'cpu' and not tiny else 1
    return {name: limit * scale for name, limit in STEP_LIMITS.items()}


def run_gpu_check(out_dir: str, work_dir: str, config_root: str, tests_dir: str,
                  device: str = 'cuda', tiny: bool = False, python: str = sys.executable,
                  install: Optional[Dict[str, Any]] = None,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run every step (``device='cpu'``: the dry run, CUDA hidden) and return the summary.

    ``config_root`` is the repository's ``configs`` folder, ``tests_dir`` its ``tests``;
    ``python`` runs the worker (the stack's); ``install`` is what ``tools/gpu_check.sh``
    reports (``ok``, ``seconds``, ``route``): when not ok, no step runs. ``work_dir`` is
    emptied first.
    """
    install = install or dict(ok=True, seconds=None, route='not run')
    out_dir, work_dir = osp.abspath(out_dir), osp.abspath(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(osp.join(work_dir, 'results'))
    os.makedirs(out_dir, exist_ok=True)
    size = 'tiny' if tiny else 'full'
    summary = dict(schema=SCHEMA, device=device, dry_run=device == 'cpu', tiny=tiny,
                   started=datetime.datetime.now().isoformat(timespec='seconds'),
                   install_seconds=install['seconds'], install_route=install['route'],
                   sizes=SIZES[size], steps=[_install_step(install, out_dir)])
    t0 = time.time()

    def record(step: Step) -> None:
        summary['steps'].append(step)
        d = step['details']
        log(f'[gpu-check] {step["name"]}: {"ok" if step["ok"] else "FAILED"} '
            f'({step["seconds"]} s) {d.get("summary") or d.get("error", "")}')
        write_summary(out_dir, summary, time.time() - t0)

    if install['ok']:
        spec = dict(device=device, size=size, out=out_dir, work=work_dir,
                    config_root=osp.abspath(config_root), tests_dir=osp.abspath(tests_dir))
        _run_steps(spec, python, step_limits(device, tiny), record)
    else:
        for name in STEP_LIMITS:
            record(dict(name=name, ok=False, seconds=0.0,
                        details=dict(error='not run: the install failed')))
    write_summary(out_dir, summary, time.time() - t0)
    log(f'[gpu-check] wrote {osp.join(out_dir, "gpu_check.json")} and gpu_check.md '
        f'({"all steps ok" if summary["ok"] else "FAILED: " + ", ".join(summary["failed"])})')
    return summary


def _install_step(install: Dict[str, Any], out_dir: str) -> Step:
    details = dict(route=install['route'], summary=install['route'])
    log = osp.join(out_dir, 'install.log')
    if not install['ok']:
        details.update(error='the install failed: see install.log',
                       log_tail=_tail(log) if osp.exists(log) else None)
    return dict(name='install', ok=bool(install['ok']), seconds=install['seconds'],
                details=details)


def _run_steps(spec: Dict[str, Any], python: str, limits: Dict[str, float],
               record: Callable[[Step], None]) -> None:
    pending = list(STEP_LIMITS)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    if spec['device'] == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''  # the dry run: CUDA replaced by the CPU
    log_path = osp.join(spec['out'], 'gpu_check.log')
    with open(log_path, 'w') as log:
        while pending:  # a worker for the steps left; a new one when one dies or hangs
            spec_path = osp.join(spec['work'], f'spec-{len(STEP_LIMITS) - len(pending)}.json')
            with open(spec_path, 'w') as f:
                json.dump(dict(spec, steps=pending), f)
            # Its own process group: a killed worker takes its children (pytest, data loaders).
            worker = subprocess.Popen([python, '-m', WORKER, spec_path], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            since, alive = time.time(), True
            while pending and alive:
                step, alive = _wait_for(worker, spec['work'], pending[0],
                                        limits[pending[0]], since, log_path)
                record(step)
                pending.pop(0)
            _stop(worker)


def _wait_for(worker: subprocess.Popen, work: str, name: str, limit: float, since: float,
              log_path: str) -> Tuple[Step, bool]:
    """The step's result and whether its worker still runs; a failed step of its own when the
    worker ended or passed the step's time limit (then it is killed) in it."""
    while _result(work, name) is None and worker.poll() is None and \
            _age(work, name, since) <= limit:
        time.sleep(0.5)
    hung = worker.poll() is None and _result(work, name) is None
    if hung:
        _stop(worker)
    step = _result(work, name)  # also one written just before the worker ended
    if step is not None:
        return step, worker.poll() is None
    why = (f'passed the step\'s time limit ({limit:.0f} s) and was killed' if hung else
           f'ended (exit status {worker.returncode})')
    return dict(name=name, ok=False, seconds=_age(work, name, since),
                details=dict(error=f'the worker process {why} in this step; see gpu_check.log',
                             log_tail=_tail(log_path))), False


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:  # still the leader of its group: the group is its own
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def _result(work: str, name: str) -> Optional[Step]:
    path = osp.join(work, 'results', name + '.json')  # the worker writes it atomically
    if not osp.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _age(work: str, name: str, since: float) -> float:
    """Seconds since the worker started the step (since ``since`` if it has not yet)."""
    started = osp.join(work, 'results', name + '.started')
    return round(time.time() - (osp.getmtime(started) if osp.exists(started) else since), 1)


def _tail(path: str, n: int = 3000) -> str:
    with open(path, errors='replace') as f:
        return f.read()[-n:]


def write_summary(out_dir: str, summary: Dict[str, Any], wall: float) -> None:
    """Complete ``summary`` (the environment's versions, failed steps, ok) and write
    ``gpu_check.json`` and ``gpu_check.md``."""
    env = next((s['details'] for s in summary['steps'] if s['name'] == 'environment'), {})
    for key in ('device_name', 'torch', 'cuda', 'cudnn', 'cuda_available', 'python', 'mmcv',
                'mmengine', 'mmpose', 'message'):
        summary[key] = env.get(key)
    summary['failed'] = [s['name'] for s in summary['steps'] if not s['ok']]
    summary['ok'] = not summary['failed'] and len(summary['steps']) == len(STEP_LIMITS) + 1
    summary['wall_seconds'] = round(wall, 1)
    with open(osp.join(out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    with open(osp.join(out_dir, 'gpu_check.md'), 'w') as f:
        f.write(markdown(summary))


def _row(cells: List[Any]) -> str:
    return '| ' + ' | '.join(str(c).replace('|', '\\|') for c in cells) + ' |'


def markdown(s: Dict[str, Any]) -> str:
    """The summary as tables: the steps, the benchmarks' figures, the AMP trainings'."""
    kind = 'dry run, CUDA replaced by the CPU' if s['dry_run'] else 'CUDA'
    install = s['install_route'] + ('' if s['install_seconds'] is None else
                                    f', {s["install_seconds"]:.0f} s')
    lines = [f'# GPU check ({kind}{", tiny sizes" if s["tiny"] else ""})', '',
             f'{s["started"]}; device: **{s.get("device_name")}**; torch {s.get("torch")}, CUDA '
             f'{s.get("cuda")}, cuDNN {s.get("cudnn")}, Python {s.get("python")}, mmcv '
             f'{s.get("mmcv")}, mmpose {s.get("mmpose")}; install: {install}; steps '
             f'{s["wall_seconds"]:.0f} s.', '']
    if s.get('message'):
        lines += [f'**{s["message"]}**', '']
    lines += ['| step | ok | seconds | details |', '| --- | --- | --- | --- |']
    lines += [_row([st['name'], 'yes' if st['ok'] else '**no**', st['seconds'],
                    st['details'].get('summary') or st['details'].get('error') or ''])
              for st in s['steps']]
    bench = [st for st in s['steps'] if 'ratios' in st['details']]
    if bench:
        names = list(bench[0]['details']['ratios'])
        header = ['benchmark', 'timer', *names, 'latency ms (student, plain, ensemble)',
                  'train step ms (3-branch, baseline)']
        lines += ['', _row(header), '| --- ' * len(header) + '|']
        for st in bench:
            d = st['details']
            latency = '; '.join(f'b{b}: ' + ', '.join(f'{v[m]:.2f}' for m in
                                                      ('student', 'plain', 'ensemble'))
                                for b, v in d['latency_ms'].items())
            lines.append(_row([st['name'][len('benchmark_'):], d['timer'],
                               *(d['ratios'].get(n, '') for n in names), latency,
                               d['train_step_ms']]))
    train = [st for st in s['steps'] if 'max_px_diff' in st['details']]
    if train:
        lines += ['', '| training (AMP) | iterations | loss first -> last | AMP | loss scale | '
                  'max abs px, CPU vs device |', '| --- ' * 6 + '|']
        lines += [_row([st['name'][len('train_'):], d['iters'],
                        f'{d["loss_first"]:.4g} -> {d["loss_last"]:.4g}', d['amp'],
                        d['loss_scale'], f'{d["max_px_diff"]:.2e} ({d["compared"]})'])
                  for st in train for d in [st['details']]]
    return '\n'.join(lines) + '\n'
