"""Evidence runs as worker processes, each after the runs it needs (``graphlib``), a few at a
time (a ``concurrent.futures`` thread per process). A run whose ``result.json`` was written for
the same training (the fingerprint in ``spec.json`` beside it) is reused: an interrupted run
continues, a split asked for later is only evaluated. A training run reports its epoch."""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from graphlib import TopologicalSorter
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ...utils.process import RETAIN_FREED_MEMORY
from .plan import RunSpec, placeholder

__all__ = ['RETAIN_FREED_MEMORY', 'fingerprint', 'run_all']

# Config.fromfile of an mmpose:: base asks pkg_resources, which is not thread-safe.
_CONFIG_LOCK = threading.Lock()
_EPOCH = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')


def _resolve(options: Mapping[str, Any], results: Mapping[str, dict]) -> Dict[str, Any]:
    """Checkpoint placeholders replaced by the paths of the finished runs they name."""
    out = {}
    for k, v in options.items():
        ref = placeholder(v)
        if ref is not None:
            final = results[ref[0]]['checkpoint']
            v = final if ref[1] is None else osp.join(osp.dirname(final), f'epoch_{ref[1]}.pth')
        out[k] = v
    return out


def _previous(work_dir: str, fingerprint: str) -> Optional[dict]:
    """The result of an earlier run of the same training, if its checkpoint is still there."""
    try:
        with open(osp.join(work_dir, 'spec.json')) as f, \
                open(osp.join(work_dir, 'result.json')) as g:
            same, result = json.load(f).get('fingerprint') == fingerprint, json.load(g)
    except (OSError, ValueError):
        return None
    return result if same and osp.isfile(result.get('checkpoint', '')) else None


def fingerprint(config: str, options: Mapping[str, Any], init: Any, spec: RunSpec,
                train_split: Mapping[str, Any]) -> Tuple[str, Any]:
    """(fingerprint, config with the options merged): what determines the trained weights,
    the resolved config (a changed base counts too), options, start, seed, kind and data."""
    from mmengine.config import Config

    cfg = Config.fromfile(config)
    blob = json.dumps([cfg.pretty_text, dict(options), init, spec.seed, spec.kind,
                       dict(train_split)], sort_keys=True, default=str)
    cfg.merge_from_dict(dict(options))
    return hashlib.sha256(blob.encode()).hexdigest()[:16], cfg


def _progress(log_path: str, max_epochs: int) -> str:
    with open(log_path, errors='replace') as f:
        found = _EPOCH.findall(f.read()[-20000:])
    return 'starting' if not found else f'epoch {found[-1][0]}/{max_epochs} (iteration ' \
        f'{found[-1][1]}/{found[-1][2]})'


def run_all(specs: Sequence[RunSpec], train_split: Mapping[str, Any],
            eval_splits: Mapping[str, Any], work_root: str, config_root: str, jobs: int = 2,
            log: Callable[[str], None] = print, worker_env: Optional[Mapping[str, str]] = None,
            progress_s: float = 60.0) -> Dict[str, dict]:
    """Run (or reuse) every spec, evaluated on every split of ``eval_splits``: ``{key: result}``;
    ``worker_env`` joins the workers' environment. Raises the first failure (a run's
    RuntimeError names its log; no run starts after it) or a needed run missing in ``specs``."""
    by_key = {s.key: s for s in specs}
    for s in specs:
        missing = [k for k in s.needs if k not in by_key]
        if missing:
            raise RuntimeError(f'run {s.key!r} needs {missing}, which no run provides')
    results, procs, start = {}, {}, time.time()  # key -> result / worker process

    def say(msg: str) -> None:
        log(f'[evidence {time.time() - start:6.0f}s] {msg}')

    failures, start_lock = [], threading.Lock()  # after a failure: kill the runs, start none

    def run(spec: RunSpec) -> dict:
        try:
            return train_or_reuse(spec)
        except BaseException as err:
            with start_lock:
                failures.append(err)
                for proc in (p for p in procs.values() if p.poll() is None):
                    proc.kill()
            raise

    def train_or_reuse(spec: RunSpec) -> dict:
        work_dir = osp.join(work_root, spec.key)
        options = _resolve(spec.options, results)
        init = _resolve(spec.init_from, results) if spec.init_from else None
        config = osp.join(config_root, spec.config)
        with _CONFIG_LOCK:
            key, cfg = fingerprint(config, options, init, spec, train_split)
        previous = _previous(work_dir, key)
        todo = {} if spec.kind == 'init' else {k: v for k, v in eval_splits.items() if
                                               k not in (previous or {}).get('metrics', {})}
        if previous is not None and not todo:
            say(f'reuse {spec.key}')
            return previous
        worker = dict(config=config, work_dir=work_dir, seed=spec.seed, kind=spec.kind,
                      train=dict(train_split), splits=todo, options=options, init_from=init,
                      kd_ratio=spec.kd_ratio, evaluate_only=previous is not None)
        log_path = osp.join(work_dir, 'worker.log')
        # A pool thread takes the next queued run at once: after a failure (run() has killed
        # the running ones) refuse it, before it writes or starts anything.
        with start_lock:
            if failures:
                raise RuntimeError(f'run {spec.key!r} not started: another run failed')
            os.makedirs(work_dir, exist_ok=True)
            with open(osp.join(work_dir, 'spec.json'), 'w') as f:
                json.dump(dict(worker, fingerprint=key), f, indent=1)
            say(('evaluate ' if previous is not None else spec.kind + ' ') + spec.key)
            with open(log_path, 'a') as log_file:  # the worker keeps its own copy
                proc = procs[spec.key] = subprocess.Popen(
                    [sys.executable, '-m', 'okdhp_mm.analysis.evidence.worker',
                     osp.join(work_dir, 'spec.json')], stdout=log_file,
                    stderr=subprocess.STDOUT, env=dict(
                        os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                        PYTHONUNBUFFERED='1', **dict(worker_env or {})))
        epochs, t0 = cfg.train_cfg.get('max_epochs', 0), time.time()
        while True:
            try:
                proc.wait(timeout=progress_s)
                break
            except subprocess.TimeoutExpired:
                say(f'{spec.key}: {_progress(log_path, epochs)}, {time.time() - t0:.0f} s')
        if proc.returncode != 0:
            raise RuntimeError(f'run {spec.key!r} failed (exit {proc.returncode}); see {log_path}')
        with open(osp.join(work_dir, 'result.json')) as f:
            result = json.load(f)
        say(f'done  {spec.key} ({time.time() - t0:.0f} s)')
        return result

    sorter = TopologicalSorter({s.key: s.needs for s in specs})
    sorter.prepare()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        running: Dict[Any, str] = {}
        while sorter.is_active():
            for key in sorter.get_ready():
                running[pool.submit(run, by_key[key])] = key
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                try:
                    results[key] = future.result()
                except BaseException as err:
                    raise (failures or [err])[0]  # the first failure, not a refused run's
                sorter.done(key)
    return results
